#!/bin/bash
# A node that takes the TCP connection and never answers (no SSH banner:
# a dead machine behind a live port, a partition) does not hold the mount
# command for its whole connect_timeout once the other nodes are up: the
# mount returns, the silent node is still being tried ("connecting" in
# .ctl), the others take calls, and it times out later on its own.  A
# node that answers but is slow is waited for (ssh-never-up, netns tests).
. "$(dirname "$0")/lib.sh"
start_sshd

python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
print(s.getsockname()[1], flush=True)
c = s.accept(); time.sleep(120)' >"$T/mute.port" &
BG_PIDS+=($!)
wait_for eval '[ -s "$T/mute.port" ]' || fail "the mute listener did not start"
MUTE=$(cat "$T/mute.port")

# connect_timeout=40: far longer than the test takes up to the checks.
t0=$(date +%s.%N)
mount_ssh a=127.0.0.1:$SSHD_PORT m=127.0.0.1:$MUTE -o connect_timeout=40
echo "mounted in $(echo "$(date +%s.%N) - $t0" | bc) s"
grep -q "127.0.0.1:$MUTE: timed out" "$LOG" &&
	fail "the mount waited for the silent node's time-out: $(grep "$MUTE" "$LOG")"
expect_match "a in .ctl" "^a .* up " "$(grep '^a ' "$M/.ctl")"
expect_match "m in .ctl" "^m .* starting " "$(grep '^m ' "$M/.ctl")"
# grep reads the files itself: under pipefail, a "cat | grep -q" fails
# when grep stops at the match before cat has written the second file.
grep -qs "still connecting; its VMs will appear as they come up" "$LOG" "$ERR" ||
	fail "the log does not say m is still connecting: $(tail -5 "$LOG")"
inject a "$BASIC_SO"
expect_eq "a call on a" 7 "$(call a "add 3 4")"
# .any runs on a, never waits for m.
expect_eq "a call through .any" 9 "$(call .any "add 4 5")"
t0=$(date +%s)
unmount
echo "unmounted in $(( $(date +%s) - t0 )) s"
expect_no_nodes
echo "PASS: $TEST_NAME"
