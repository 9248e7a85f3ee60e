#!/bin/bash
# The node's call store (node/vm/callstore.c, issue 12): a call makes no
# directory on the node unless its output passes 1 MiB; output up to it
# is in vm0/store, past it in calls/ID/ files, and both read back whole
# (sha256), also after the node is killed (-9) and a new one adopts the
# session, and after a cancel (the node, not the worker, keeps it then).
# rmdir of a call frees it; once none is left, the store is emptied.
TEST_TIMEOUT=240
. "$(dirname "$0")/lib.sh"

local_node() {
	our_nodes | while read -r e; do
		[ "$(ppid_of "${e%%:*}")" = "$FS_PID" ] && echo "${e%%:*}"
	done
}
sum() { sha256sum | cut -d' ' -f1; }
vmdir() { echo "$T"/run/trickle-node/session-*/vm0; }

seq 1 100000 >"$T/seq"			# 588,895 bytes: stored
small=$(sum <"$T/seq")
big=$( { seq 1 100000; seq 1 100000; } | sum)	# 1.1 MiB: its own files
yes abcdefghijklmnopqrstuvwxyz | tr -d '\n' | head -c 1048576 >"$T/mib"
three=$(cat "$T/mib" "$T/mib" "$T/mib" | sum)

mount_local 1 -o ServerAliveInterval=1
inject local0 "$BASIC_SO"
s=$(fork local0 "exec seq 1 100000") || fail "fork seq"
e=$(fork local0 "exec sh -c 'seq 1 100000 >&2; echo out'") || fail "fork seq >&2"
b=$(fork local0 "exec sh -c 'seq 1 100000; seq 1 100000'") || fail "fork seq seq"
wait_for -t 30 eval '[ "$(status local0 "$b")" = done ]' ||
	fail "the calls did not end: $(status local0 "$b")"
d=$(vmdir)
[ -d "$d" ] || fail "no vm0 directory on the node"
# Nobody read them: kill the node, and a new one adopts the session.
node=$(local_node)
[ -n "$node" ] || fail "no node process below tricklefs"
kill -KILL "$node"
wait_for -t 10 eval 'grep -q "adopting session" "$LOG"' ||
	fail "the session was not adopted: $(tail -5 "$LOG")"
expect_eq "stored stdout after adoption" "$small" "$(result local0 "$s" | sum)"
expect_eq "stored stderr after adoption" "$small" \
	"$(timeout 30 cat "$M/local0/calls/$e/stderr" | sum)"
expect_eq "its stdout" out "$(result local0 "$e")"
expect_eq "1.1 MiB after adoption" "$big" "$(result local0 "$b" | sum)"
expect_eq "call directories on the node" "$b" "$(ls "$d/calls")"

# 3 MiB from a built-in function (bulk), twice: the second is expected
# large and writes to its own files from the start.
b1=$(fork local0 "bulk 3") || fail "fork bulk 3"
expect_eq "bulk 3" "$three" "$(result local0 "$b1" | sum)"
b2=$(fork local0 "bulk 3") || fail "fork bulk 3 again"
expect_eq "bulk 3 again" "$three" "$(result local0 "$b2" | sum)"
expect_eq "stdout size" $((3 * 1048576)) \
	"$(stat -c %s "$M/local0/calls/$b2/stdout")"
[ -f "$d/calls/$b2/stdout" ] || fail "bulk 3 again: no calls/$b2/stdout"

# Cancelled while it runs: what it wrote is kept by the node.
c=$(fork local0 "exec sh -c 'seq 1 100000; sleep 60'") || fail "fork seq; sleep"
wait_for -t 20 eval '[ "$(stat -c %s "$M/local0/calls/$c/stdout")" = 588895 ]' ||
	fail "no live output: $(stat -c %s "$M/local0/calls/$c/stdout")"
expect_eq "cancel" OK "$(errno_of write "$M/local0/calls/$c/ctl" cancel)"
wait_for -t 20 eval '[ "$(status local0 "$c")" = cancelled ]' ||
	fail "not cancelled: $(status local0 "$c")"
expect_eq "a cancelled call's stdout" "$small" \
	"$(timeout 30 cat "$M/local0/calls/$c/stdout" | sum)"
grep -q "^$c @ " "$d/ended" || fail "the cancelled call's output is not in the store"

# rmdir frees: a call's own files go; with no call left, the store is
# empty.
for id in $(ls "$M/local0/calls" | grep -v '^new$'); do
	rmdir "$M/local0/calls/$id" || fail "rmdir calls/$id"
done
wait_for -t 20 eval '[ -z "$(ls "$d/calls")" ]' ||
	fail "call directories left: $(ls "$d/calls")"
wait_for -t 20 eval '[ "$(stat -c %s "$d/store")" = 0 ]' ||
	fail "store not emptied: $(stat -c %s "$d/store") bytes"
expect_eq "a new call" 42 "$(call local0 "foo 21")"
unmount
