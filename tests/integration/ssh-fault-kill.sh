#!/bin/bash
# kill -9 of one node's trickle-node during 200 .any calls on two nodes
# (two private sshd): the mount reconnects and the new trickle-node adopts
# the dead one's session, so every call ends exactly once with its result;
# only the items that were running on the killed node run twice (counted
# by the injected code, outside tricklefs), and their attempts files say
# so; calls that had finished there keep their results.
TEST_TIMEOUT=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault-lib.sh"
start_sshd
start_sshd2

mount_ssh a=127.0.0.1:$SSHD_PORT b=127.0.0.1:$SSHD2_PORT -o ServerAliveInterval=1
cp "$ATTEMPTS_SO" "$M/.all/inject/" || fail "cp attempts.so .all/inject/"
# A finished call of b's own, to read after the kill.
before=$(fork b "work $T/b.log 0 before") || fail "fork on b"
expect_eq "b's call" "before ok" "$(result b "$before")"

pid=$(node_of_sshd "$SSHD_PID")
[ -n "$pid" ] && [ "$(echo "$pid" | wc -l)" = 1 ] || fail "cannot tell b's node: '$pid'"
start_pile 200 60
wait_for -t 60 eval '[ "$(ended_items)" -ge 60 ]' || fail "the pile did not get going"
kill -KILL "$pid"
fault_in_time 200
echo "killed b's trickle-node $pid after $(ended_items) items"

wait_pile
check_pile 200 2
check_attempts
# b is back under its own name, and what it had finished is still there.
wait_for -t 20 eval 'grep -q "^b .* up " "$M/.ctl"' || fail "b not back: $(cat "$M/.ctl")"
expect_eq "b's call read after the kill" "before ok" "$(result b "$before")"
expect_eq "b's call status" done "$(status b "$before")"
expect_eq "a new call on b" "after ok" "$(call b "work $T/b.log 0 after")"
grep -q "adopting session" "$LOG" || fail "no adoption in the log: $(grep -i session "$LOG" | tail -3)"
echo "b ran $(ran_on b) of 200 (last runs); $TWICE items ran twice"
# The kill cost runs (a lost one may not have started on b yet, so it
# need not have started twice).
lost=$(grep -c '\.any/[0-9]*: lost: ' "$LOG") || true
[ "${lost:-0}" -ge 1 ] || fail "no call was lost with b: nothing was run again, nothing tested"
[ "$TWICE" -le "$lost" ] || fail "$TWICE items started twice, but only $lost runs were lost"
unmount
expect_no_nodes
