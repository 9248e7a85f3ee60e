#!/bin/bash
# A partition of 20 s: node1 (an sshd in a network namespace) is cut off
# (its veth link down) while 100 .any calls of 100 ms run on node1 and
# node2.  The node lives on through the partition and keeps its session
# (lease 60 s), so when the link is back the mount reconnects and resumes
# it: every item ends exactly once and runs exactly once (counted by the
# injected code), the calls node1 finished meanwhile are read, not rerun.
# During the partition the mount answers (ls, .ctl within 2 s) and .ctl
# shows node1 unreachable within the detection bound; node1 is back up
# within 15 s of the heal.
TEST_TIMEOUT=240
. "$(dirname "$0")/lib.sh"
. "$HERE/fault-lib.sh"
. "$HERE/netns-fault-lib.sh"

CUT=20			# s the link is down
DETECT_MS=5000		# ServerAliveInterval=1 x CountMax 3, + 1 interval, + 1 s
ANSWER_MS=2000		# ls, .ctl during the partition
BACK_S=15		# node1 up again after the heal

nf_up
nf_mount -o ServerAliveInterval=1
N1LABEL=$(nf_label node1)
cp "$ATTEMPTS_SO" "$M/.all/inject/" || fail "cp attempts.so .all/inject/"

start_pile 100 100
wait_for -t 60 eval '[ "$(ended_items)" -ge 30 ]' || fail "the pile did not get going"
nf_link_down node1
cut_ns=$(date +%s%N)
ended=$(ended_items)
echo "node1's link down after $ended items ended"
[ "$ended" -lt 100 ] || fail "the pile had ended before the partition: nothing was tested"

# Detection: .ctl says unreachable within the bound.
detected=
until [ "$(nf_elapsed_ms "$cut_ns")" -ge $((CUT * 1000 - 2000)) ]; do
	[ "$(nf_vm_state node1)" = unreachable ] && { detected=$(nf_elapsed_ms "$cut_ns"); break; }
	sleep 0.1
done
[ -n "$detected" ] || fail "node1 not unreachable in .ctl $((CUT - 2)) s into the partition: $(nf_ctl)"
echo "node1 unreachable in .ctl after $detected ms (bound $DETECT_MS ms)"
[ "$detected" -le "$DETECT_MS" ] ||
	fail "FINDING: node1 shown unreachable only after $detected ms (bound $DETECT_MS ms)"

# The rest of the partition: the mount answers within 2 s, every time.
slow=() probes=0 worst=0
while [ "$(nf_elapsed_ms "$cut_ns")" -lt $((CUT * 1000)) ]; do
	for what in "ls $M" "ls $M/node1" "cat $M/.ctl"; do
		t0=$(date +%s%N)
		out=$(timeout -k 1 10 $what 2>&1)
		rc=$? ms=$(nf_elapsed_ms "$t0")
		probes=$((probes + 1))
		[ "$ms" -gt "$worst" ] && worst=$ms
		[ $rc = 0 ] || slow+=("$what: exit $rc after $ms ms: $out")
		[ "$ms" -le "$ANSWER_MS" ] || slow+=("$what: $ms ms")
		[ "$what" = "cat $M/.ctl" ] && [ $rc = 0 ] &&
		    ! grep -q '^node1 .* unreachable ' <<<"$out" &&
		    slow+=("$what during the partition: node1 not unreachable: $(grep '^node1 ' <<<"$out")")
	done
	sleep 0.5
done
echo "during the partition: $probes probes (ls, ls node1, .ctl), the slowest $worst ms"
[ ${#slow[@]} = 0 ] || fail "FINDING: during the partition: $(printf '%s; ' "${slow[@]}")"

nf_link_up node1
heal_ns=$(date +%s%N)
echo "node1's link up after $(nf_elapsed_ms "$cut_ns") ms; $(ended_items) items ended"
wait_for -t $((BACK_S + 30)) eval '[ "$(nf_vm_state node1)" = up ]' ||
	fail "node1 not back 45 s after the heal: $(nf_ctl)"
back=$(nf_elapsed_ms "$heal_ns")
echo "node1 up again $back ms after the heal (bound $((BACK_S * 1000)) ms)"
grep -E "$N1LABEL: (reconnect|session|trickle-node back|unreachable|warning)" "$LOG" | sed 's/^/  log: /'
[ "$back" -le $((BACK_S * 1000)) ] ||
	fail "FINDING: node1 back only $back ms after the heal (bound $((BACK_S * 1000)) ms)"

wait_pile
check_pile 100 0
check_attempts
grep -Eq "$N1LABEL: session resumed" "$LOG" ||
	fail "node1's session was not resumed: $(grep -E "$N1LABEL" "$LOG" | tail -5)"
on1=$(ran_on node1)
echo "node1 ran $on1 of 100"
unmount
expect_no_nodes
