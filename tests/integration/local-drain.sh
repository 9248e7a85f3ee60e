#!/bin/bash
# A VM that drains (here: .ctl disconnect) finishes the call it runs but
# starts none of the .any calls already queued on its node (any_window=2
# puts a second one there): they are taken back and run on the other VM,
# costing no retry, each item exactly once (counted by the injected code),
# and their attempts files say "taken back".
TEST_TIMEOUT=90
. "$(dirname "$0")/lib.sh"
. "$HERE/fault-lib.sh"

mount_local 2
cp "$ATTEMPTS_SO" "$M/.all/inject/" || fail "cp attempts.so .all/inject/"
start_pile 6 1500
wait_for -t 20 eval '[ "$(grep -c "^start " "$ATTEMPTS")" -ge 2 ]' ||
    fail "the two VMs did not start work"
started=$(awk '$1 == "start" { print $2 }' "$ATTEMPTS" | tr '\n' ' ')
echo "disconnect local1" >"$M/.ctl" || fail "echo disconnect local1 > .ctl failed"
wait_pile
check_pile 6 0
check_attempts
expect_eq "items local1 ran" 1 "$(ran_on local1)"
expect_eq "items local0 ran" 5 "$(ran_on local0)"
grep -q "local1: draining: 1 .any call not started there taken back" "$LOG" ||
    fail "the log does not say a call was taken back: $(grep local1 "$LOG" | tail -3)"
back=$(cat "$M"/.any/calls/*/attempts | grep -c ' taken back: ') || true
expect_eq "attempts taken back" 1 "$back"
echo "started before the drain: $started"
unmount
expect_no_nodes
echo "PASS: $TEST_NAME"
