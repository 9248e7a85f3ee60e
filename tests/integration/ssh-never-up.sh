#!/bin/bash
# A node that does not come up while mounting (its sshd frozen with
# SIGSTOP: the handshake times out, as on a machine under heavy load) is
# tried again with back-off, as a node that was up and dropped would be:
# once its sshd runs again, its VM comes up and takes calls.  (A node
# that refuses our key is not retried: ssh-unknown-host, ssh-errors.)
TEST_TIMEOUT=120
. "$(dirname "$0")/lib.sh"
start_sshd
start_sshd2
SSHD2_PID=$SSHD_PID
kill -STOP "$SSHD2_PID" || fail "kill -STOP sshd2"
CLEANUP_HOOKS=("kill -CONT $SSHD2_PID" "${CLEANUP_HOOKS[@]}")

mount_ssh a=127.0.0.1:$SSHD_PORT b=127.0.0.1:$SSHD2_PORT -o connect_timeout=3
expect_match "a in .ctl" "^a .* up " "$(grep '^a ' "$M/.ctl")"
# The mount returns once b has been silent for a while (a is up); b's
# own time-out comes then or soon after.
wait_for -t 10 eval 'grep -q "^b .* unreachable " "$M/.ctl"' ||
    fail "b not unreachable after its time-out: $(grep '^b ' "$M/.ctl")"
wait_for -t 10 grep -q "127.0.0.1:$SSHD2_PORT: reconnecting" "$LOG" || fail "b is not being tried again: $(tail -3 "$LOG")"
kill -CONT "$SSHD2_PID" || fail "kill -CONT sshd2"
wait_for -t 60 eval 'grep -q "^b .* up " "$M/.ctl"' ||
    fail "b not up 60 s after its sshd runs again: $(grep '^b ' "$M/.ctl")"
inject b "$BASIC_SO"
expect_eq "a call on b" 7 "$(call b "add 3 4")"
expect_eq "a call on a" 7 "$(inject a "$BASIC_SO"; call a "add 3 4")"
unmount
expect_no_nodes
echo "PASS: $TEST_NAME"
