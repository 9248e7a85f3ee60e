#!/bin/bash
# The remote trickle-node killed (by PID) while a call runs, with
# -o noreconnect (ssh-fault-kill has the default, reconnecting): ls/stat
# keep answering at once, the node's calls fail as lost with the node
# down (cat result fails instead of hanging), new calls fail, and no VM
# process outlives it.
TEST_TIMEOUT=120
. "$(dirname "$0")/lib.sh"
start_sshd

# The node itself (not a VM worker): the one run with --dir.
main_node() {
	local e
	for e in $(our_nodes); do
		grep -q -- "--dir $NODE_DIR" <<<"$(tr '\0' ' ' <"/proc/${e%%:*}/cmdline")" && echo "${e%%:*}"
	done
}

# quick MAXMS CMD...: CMD succeeds within MAXMS milliseconds.
quick() {
	local max=$1 start rc
	shift
	start=$(now_ms)
	timeout 10 "$@" >/dev/null
	rc=$?
	[ $rc = 0 ] || fail "'$*' failed ($rc) with the node down"
	[ $(($(now_ms) - start)) -lt $max ] || fail "'$*' took $(($(now_ms) - start)) ms with the node down"
}

mount_ssh a=127.0.0.1:$SSHD_PORT b=127.0.0.1:$SSHD_PORT -o noreconnect
inject a "$BASIC_SO"
done_id=$(fork a "foo 5") || fail "fork"
expect_eq "foo 5" 10 "$(result a "$done_id")"
running=$(fork a "sleeper 60") || fail "fork sleeper"
queued=$(fork a "foo 3") || fail "fork foo 3"
wait_for eval '[ "$(status a "$running" | cut -d" " -f1)" = running ]' || fail "sleeper not running"
note_nodes
pid=$(main_node)
[ -n "$pid" ] && [ $(echo "$pid" | wc -l) = 1 ] || fail "cannot tell the node process: '$pid'"

kill -KILL "$pid"
start=$(now_ms)
# The tree still answers, quickly.
quick 1000 ls "$M"
quick 1000 ls "$M/a" "$M/b" "$M/a/calls" "$M/a/inject"
quick 1000 stat "$M/a/calls/$running/status" "$M/b/calls/new"
expect_eq "finished call's status" done "$(status a "$done_id")"

# The running call fails within seconds, not when the 60 s sleeper ends.
result_fails a "$running"
[ $(($(now_ms) - start)) -lt 15000 ] || fail "cat result of the running call took $(($(now_ms) - start)) ms to fail after the node was killed"
expect_match "running call's status" '^failed lost: node down' "$(status a "$running")"
expect_match "queued call's status" '^failed lost: node down' "$(status a "$queued")"
result_fails a "$queued"
echo "status: $(status a "$running")"

# New calls fail too (the write, or the call) rather than hang.
if id=$(fork a "foo 4" 2>/dev/null); then
	result_fails a "$id"
	expect_match "new call's status" '^failed node down' "$(status a "$id")"
	echo "a new call on the dead node: forked, then $(status a "$id")"
else
	echo "a new call on the dead node: the fork itself failed"
fi
quick 1000 ls "$M/a/calls"

# No VM worker of the dead node lives on (running the call for nobody).
for e in "${SEEN_NODES[@]}"; do
	wait_for -t 5 eval "! alive $e" ||
		fail "trickle-node ${e%%:*} ($(tr '\0' ' ' </proc/${e%%:*}/cmdline)) outlived its node"
done
unmount
expect_no_nodes --processes-only	# a killed node cannot clean up
