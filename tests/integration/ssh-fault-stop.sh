#!/bin/bash
# A hung node: b's trickle-node (the supervisor; its workers run on) is
# stopped with SIGSTOP for 30 s while calls run on a and b, with
# ServerAliveInterval=1.  Within the detection bound .ctl shows b
# unreachable; from then on nothing but a join waits on b: ls of the
# mount and of each VM, stat of a call file, cat of b/info (fails with
# EHOSTUNREACH, or says unreachable), .ctl, a fork on a, cp into
# .all/inject/ (done for a, b reported) and a read of b's data/ (fails
# with EHOSTUNREACH) each answer within 2 s.  b's calls wait (not
# failed).  After SIGCONT the mount resumes b's session (lease 60 s): the
# calls that were running there finish and their results are read, and
# every item runs exactly once (counted by the injected code).
TEST_TIMEOUT=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault-lib.sh"

FREEZE=30		# s b's node is stopped
# ServerAliveInterval 1 x ServerAliveCountMax 3 = 3 s of silence, found
# by the next ping (up to 1 s later), and 1 s for our polling and load.
DETECT_MS=5000
ANSWER_MS=2000		# every operation but a join, while b is stopped
PINNED=$T/pinned.log	# the attempts log of the calls forked on a VM

start_sshd
start_sshd2
mount_ssh a=127.0.0.1:$SSHD_PORT b=127.0.0.1:$SSHD2_PORT -o ServerAliveInterval=1
BLABEL="127\.0\.0\.1:$SSHD2_PORT"
cp "$ATTEMPTS_SO" "$M/.all/inject/" || fail "cp attempts.so .all/inject/"
echo "b's data" >"$M/b/data/probe.txt" || fail "write b/data/probe.txt"
expect_eq "b/data/probe.txt" "b's data" "$(timeout 10 cat "$M/b/data/probe.txt")"

start_pile 60 300
wait_for -t 60 eval '[ "$(ended_items)" -ge 10 ]' || fail "the pile did not get going"
node=$(node_of_sshd "$SSHD_PID")
[ -n "$node" ] && [ "$(echo "$node" | wc -l)" = 1 ] || fail "cannot tell b's node: '$node'"
# Calls of their own on both VMs, running through the freeze: b is
# stopped as soon as its call has started, 10 s before it ends.
pin_a=$(fork a "work $PINNED 10000 pin-a") || fail "fork on a"
pin_b=$(fork b "work $PINNED 10000 pin-b") || fail "fork on b"
wait_for -t 20 grep -q "^start pin-b " "$PINNED" ||
	fail "b's call did not start: $(cat "$PINNED")"
kill -STOP "$node" || fail "kill -STOP $node"
fault_in_time 60
stop_ns=$(date +%s%N)
elapsed_ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
ended=$(ended_items)
echo "stopped b's trickle-node $node after $ended items ended; b/calls/$pin_b: $(status b "$pin_b")"
[ "$ended" -lt 60 ] || fail "the pile had ended before b was stopped"

# Detection.
detected=
for i in $(seq 1 150); do
	timeout 10 grep -q '^b .* unreachable ' "$M/.ctl" &&
	    { detected=$(elapsed_ms "$stop_ns"); break; }
	sleep 0.1
done
[ -n "$detected" ] || fail "b not unreachable in .ctl 15 s after SIGSTOP: $(timeout 10 cat "$M/.ctl")"
echo "b unreachable in .ctl after $detected ms (bound $DETECT_MS ms)"
FINDINGS=()
[ "$detected" -le "$DETECT_MS" ] ||
	FINDINGS+=("b shown unreachable only $detected ms after SIGSTOP (bound $DETECT_MS ms)")

# probe NAME CMD...: run CMD (bounded at 10 s), time it: P_MS, P_RC, P_OUT
# (stdout and stderr); slower than ANSWER_MS is a finding.
probe() {
	local name=$1 t0
	shift
	t0=$(date +%s%N)
	P_OUT=$(timeout -k 1 10 "$@" 2>&1)
	P_RC=$?
	P_MS=$(elapsed_ms "$t0")
	printf '  %-34s %5d ms  exit %-3d %s\n' "$name" "$P_MS" "$P_RC" \
	    "$(head -c 200 <<<"$P_OUT" | tr '\n' '|')"
	[ "$P_MS" -le "$ANSWER_MS" ] ||
	    FINDINGS+=("$name took $P_MS ms (bound $ANSWER_MS ms; exit $P_RC: $(head -c 200 <<<"$P_OUT"))")
	return 0
}
# A finding unless the last probe ended with status 0.
probe_ok() {
	[ "$P_RC" = 0 ] || FINDINGS+=("$1 failed (exit $P_RC): $(head -c 200 <<<"$P_OUT")")
}
# A finding unless the last probe failed with EHOSTUNREACH (as cat and ls
# print it).
probe_unreach() {
	[ "$P_RC" != 0 ] && grep -qF "$(strerror EHOSTUNREACH)" <<<"$P_OUT" ||
	    FINDINGS+=("$1: expected a failure with EHOSTUNREACH, got exit $P_RC: $(head -c 200 <<<"$P_OUT")")
}
# The fork idiom as a program (for timeout): FORK CALLS_NEW LINE.
FORK=(bash -c 'exec 3<>"$1" && printf "%s\n" "$2" >&3 && read -r id <&3 && echo "$id"' fork)

echo "while b is stopped (each within $ANSWER_MS ms):"
probe "ls MOUNT" ls "$M"; probe_ok "ls MOUNT"
expect_match "ls MOUNT" "(^|[[:space:]])b($|[[:space:]])" "$P_OUT"
probe "ls a" ls "$M/a"; probe_ok "ls a"
probe "ls b" ls "$M/b"; probe_ok "ls b"
probe "ls b/calls" ls "$M/b/calls"; probe_ok "ls b/calls"
probe "stat b/calls/$pin_b/result" stat "$M/b/calls/$pin_b/result"
probe_ok "stat b/calls/$pin_b/result"
probe "cat b/calls/$pin_b/status" cat "$M/b/calls/$pin_b/status"
probe_ok "cat b/calls/$pin_b/status"
[ "$P_RC" = 0 ] && [ "$P_OUT" != running ] &&
    FINDINGS+=("b's running call, status '$P_OUT' while b is stopped (calls wait)")
probe "cat b/info" cat "$M/b/info"
if [ "$P_RC" = 0 ]; then
	grep -q unreachable <<<"$P_OUT" ||
	    FINDINGS+=("cat b/info succeeded without saying unreachable: $(head -c 200 <<<"$P_OUT")")
else
	probe_unreach "cat b/info"
fi
probe "cat .ctl" cat "$M/.ctl"; probe_ok "cat .ctl"
grep -q '^b .* unreachable ' <<<"$P_OUT" || FINDINGS+=(".ctl does not show b unreachable: $P_OUT")
probe "fork on a/calls/new" "${FORK[@]}" "$M/a/calls/new" "work $PINNED 0 during-a"
probe_ok "fork on a/calls/new"
during_a=$P_OUT
cp "$BASIC_SO" "$T/extra.so" || fail "cp basic.so"
probe "cp extra.so .all/inject/" cp "$T/extra.so" "$M/.all/inject/"
cp_rc=$P_RC cp_out=$P_OUT
probe "ls a/inject" ls "$M/a/inject"; probe_ok "ls a/inject"
grep -qx extra.so <<<"$P_OUT" || FINDINGS+=("cp to .all/inject/ while b is stopped: a has no extra.so ($P_OUT)")
echo "  cp .all/inject/ while b is stopped: exit $cp_rc${cp_out:+ ($cp_out)}; log:"
grep -E "extra\.so" "$LOG" | sed 's/^/    log: /'
[ "$cp_rc" = 0 ] || grep -qF "$(strerror EHOSTUNREACH)" <<<"$cp_out" ||
    FINDINGS+=("cp to .all/inject/ failed with exit $cp_rc ($cp_out): not the reachable VM's install, nor b reported as unreachable")
grep -qE "extra\.so.*unreachable|unreachable.*extra\.so" "$LOG" || [ "$cp_rc" != 0 ] ||
    FINDINGS+=("cp to .all/inject/ succeeded and neither its status nor the log reports b as not given extra.so")
probe "cat b/data/probe.txt" cat "$M/b/data/probe.txt"; probe_unreach "cat b/data/probe.txt"
probe "ls b/data" ls "$M/b/data"; probe_unreach "ls b/data"

# b's calls wait, they are not failed; then the rest of the freeze.
left=$((FREEZE * 1000 - $(elapsed_ms "$stop_ns")))
[ "$left" -gt 0 ] && sleep "$((left / 1000)).$(printf %03d $((left % 1000)))"
st=$(status b "$pin_b")
[ "$st" = running ] || fail "b's call after ${FREEZE} s stopped: '$st' (calls wait, within the lease)"
grep -E "$BLABEL" "$LOG" | sed 's/^/  log: /'
echo "pinned calls' log: $(tr '\n' ' ' <"$PINNED")"

kill -CONT "$node"
cont_ns=$(date +%s%N)
echo "SIGCONT after $(elapsed_ms "$stop_ns") ms; $(ended_items) items ended"
wait_for -t 60 eval 'timeout 10 grep -q "^b .* up " "$M/.ctl"' ||
	fail "b not back 60 s after SIGCONT: $(timeout 10 cat "$M/.ctl")"
echo "b up again $(elapsed_ms "$cont_ns") ms after SIGCONT"
alive "$node:$(starttime_of "$node")" || fail "b's trickle-node $node did not live on"
grep -Eq "$BLABEL: session resumed" "$LOG" ||
	fail "b's session was not resumed: $(grep -E "$BLABEL" "$LOG" | tail -5)"

expect_eq "b's pinned call" "pin-b ok" "$(result b "$pin_b")"
expect_eq "a's pinned call" "pin-a ok" "$(result a "$pin_a")"
[ -n "$during_a" ] && expect_eq "a's call forked during the stop" "during-a ok" "$(result a "$during_a")"
wait_pile
check_pile 60 0
check_attempts
for item in pin-a pin-b; do
	expect_eq "$item started" 1 "$(grep -c "^start $item " "$PINNED")"
	expect_eq "$item ended" 1 "$(grep -c "^end $item " "$PINNED")"
done
echo "b ran $(ran_on b) of 60"
# The attempts file of b's call (if this build has them): one run, done.
if [ -e "$M/b/calls/$pin_b/attempts" ]; then
	att=$(cat "$M/b/calls/$pin_b/attempts")
	echo "b/calls/$pin_b/attempts: $att"
	expect_eq "b's call's attempts" 1 "$(grep -c . <<<"$att")"
	expect_match "b's call's attempt" " done\$" "$att"
else
	skip_part "no attempts file in b/calls/$pin_b (not in this build)"
fi
# What .all/inject/ installed while b was stopped reaches it once back.
wait_for -t 20 eval 'ls "$M/b/inject" | grep -qx extra.so' ||
	FINDINGS+=("b was not given extra.so (installed through .all/inject/ while it was stopped) 20 s after it came back: $(ls "$M/b/inject" | tr '\n' ' ')")

if [ ${#FINDINGS[@]} -gt 0 ]; then
	printf 'FINDING: %s\n' "${FINDINGS[@]}" >&2
	fail "${#FINDINGS[@]} finding(s) above"
fi
unmount
expect_no_nodes
