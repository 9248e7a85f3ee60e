#!/bin/bash
# Every read that waits on a node ends at once on a signal: with the node
# frozen (SIGSTOP, not yet found unreachable), reads of info, of a data/
# file, of a data/ listing, of a data/ name, and of a finished call's
# stdout and result each end within a second of SIGINT to the reader.
# The node's late answers, once it runs again, are dropped: the mount goes
# on working and unmounts cleanly.
. "$(dirname "$0")/lib.sh"

# Found unreachable only after 3 x 10 s: the reads below must end by the
# signal, not because the node was given up.
mount_local 1 -o ServerAliveInterval=10
inject local0 "$BASIC_SO"
echo hello >"$M/local0/data/f" || fail "write data/f"
mkdir "$M/local0/data/d" || fail "mkdir data/d"
# Output past the 4 KiB a mount keeps of a result: read from the node.
id=$(fork local0 "bulk 1") || fail "fork bulk 1"
expect_eq "result size" 1048576 "$(result local0 "$id" | wc -c)"
small=$(fork local0 "foo 21") || fail "fork foo 21"
expect_eq "result" 42 "$(result local0 "$small")"

note_nodes
frozen=()
for e in $(our_nodes); do frozen+=("${e%%:*}"); done
[ ${#frozen[@]} -gt 0 ] || fail "no node process below tricklefs"
thaw() { [ ${#frozen[@]} -gt 0 ] && kill -CONT "${frozen[@]}" 2>/dev/null; frozen=(); }
CLEANUP_HOOKS=(thaw "${CLEANUP_HOOKS[@]}")
kill -STOP "${frozen[@]}"

# interrupted WHAT CMD...: CMD blocks on the frozen node until SIGINT,
# sent after 1 s, ends it; all in less than 2 s.
interrupted() {
	local what=$1 start rc elapsed
	shift
	start=$(now_ms)
	timeout -s INT 1 "$@" >/dev/null 2>&1
	rc=$?
	elapsed=$(($(now_ms) - start))
	[ $rc = 124 ] || fail "$what: ended with status $rc before the signal (did not wait on the node?)"
	[ $elapsed -lt 2000 ] || fail "$what: took $elapsed ms to end after SIGINT at 1 s"
	echo "$what: interrupted after $elapsed ms"
}
interrupted "cat info" cat "$M/local0/info"
interrupted "cat data/f" cat "$M/local0/data/f"
interrupted "ls data/" ls "$M/local0/data"
interrupted "stat data/d" stat "$M/local0/data/d"
interrupted "cat stdout of an ended call" cat "$M/local0/calls/$id/stdout"
# A small result was kept by the mount: it reads at once, node or not.
expect_eq "a kept result, with its node frozen" 42 \
	"$(timeout 2 cat "$M/local0/calls/$small/result")"
interrupted "cat result of an ended call" cat "$M/local0/calls/$id/result"
# The same read again, while the first's answer is still out.
interrupted "cat info again" cat "$M/local0/info"
# What the mount knows itself still answers at once.
timeout 2 ls "$M/local0/calls" >/dev/null || fail "ls calls/ with the node frozen"
timeout 2 cat "$M/local0/calls/$id/status" >/dev/null || fail "status with the node frozen"

thaw
# The late answers are dropped; everything answers again.
expect_eq "data/f" hello "$(timeout 10 cat "$M/local0/data/f")"
expect_eq "data/" "d f" "$(timeout 10 ls "$M/local0/data" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "result size, after" 1048576 "$(result local0 "$id" | wc -c)"
expect_eq "stdout, after" 42 "$(timeout 10 cat "$M/local0/calls/$small/stdout")"
expect_match "info" '^vm: local0' "$(timeout 10 cat "$M/local0/info")"
expect_eq "a new call" 8 "$(call local0 "foo 4")"
alive "${FS_PIDS[0]}" || fail "tricklefs died"
unmount
expect_no_nodes
