#!/bin/bash
# A node frozen (its trickle-node and workers stopped, as a hung machine)
# for longer than the lease: its .any calls run again on the other node
# once the lease is out, a call forked on its own VM fails as lost, and
# when it wakes it ends the session instead of resuming calls that were
# given up (they never end there: each item ends exactly once).  Its VM
# then comes back with a new session, and .all/inject/ gives it back
# what it had installed.
TEST_TIMEOUT=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault-lib.sh"
start_sshd
start_sshd2

mount_ssh a=127.0.0.1:$SSHD_PORT b=127.0.0.1:$SSHD2_PORT -o ServerAliveInterval=1,lease=5
cp "$ATTEMPTS_SO" "$M/.all/inject/" || fail "cp attempts.so .all/inject/"

node=$(node_of_sshd "$SSHD_PID")
[ -n "$node" ] || fail "cannot tell b's node"
frozen=("$node")
for e in $(our_nodes); do
	[ "$(ppid_of "${e%%:*}")" = "$node" ] && frozen+=("${e%%:*}")
done
start_pile 40 200
wait_for -t 60 eval '[ "$(ended_items)" -ge 8 ]' || fail "the pile did not get going"
pinned=$(fork b "work $T/b.log 8000 pinned") || fail "fork on b"
wait_for -t 20 grep -q "^start pinned " "$T/b.log" || fail "b's own call did not start"
kill -STOP "${frozen[@]}"
fault_in_time 40
echo "froze b's node $node and workers ${frozen[*]:1} after $(ended_items) items"
start=$(now_ms)
wait_for -t 10 eval 'grep -q "^b .* unreachable " "$M/.ctl"' || fail "b not unreachable: $(cat "$M/.ctl")"
echo "b unreachable after $(($(now_ms) - start)) ms"
# The lease (5 s) plus the detection: b's own call fails as lost.
wait_for -t 20 eval 'status b "$pinned" | grep -q "^failed lost: node unreachable for 5 s"' ||
	fail "b's own call: $(status b "$pinned")"
echo "b's own call failed after $(($(now_ms) - start)) ms: $(status b "$pinned")"
sleep 4
# Only the node wakes: it ends the session and its workers with it, so
# nothing it was running can end after its lease.
kill -CONT "$node"
for p in "${frozen[@]:1}"; do
	wait_for -t 10 eval "! kill -0 $p 2>/dev/null" || fail "worker $p outlived its expired session"
done
wait_pile
check_pile 40 2
check_attempts
wait_for -t 40 eval 'grep -q "^b .* up " "$M/.ctl"' || fail "b not back: $(cat "$M/.ctl")"
grep -q "127.0.0.1:$SSHD2_PORT: session lost: started anew" "$LOG" ||
	fail "b's session was not started anew: $(grep "$SSHD2_PORT" "$LOG" | tail -5)"
wait_for -t 20 eval '[ "$(ls "$M/b/inject")" = attempts.so ]' ||
	fail "b was not given attempts.so again: $(ls "$M/b/inject")"
expect_eq "a call on b after" "after ok" "$(call b "work $T/b.log 0 after")"
unmount
expect_no_nodes
