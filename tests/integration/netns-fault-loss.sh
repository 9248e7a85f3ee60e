#!/bin/bash
# 20% packet loss on node1's link (nftables numgen random drops in node1's
# namespace, on what its eth0 receives and what it sends; this kernel has
# no netem) while 100 .any calls of 100 ms run on node1 and node2: every
# item ends exactly once and runs exactly once (counted by the injected
# code).  Should the loss silence node1 past the detection bound, the
# mount reconnects and resumes its session (lease 60 s): still nothing
# runs twice.  Only a loss of the link for longer than the lease could
# make an item run twice; the test says so if it happens.
TEST_TIMEOUT=300
. "$(dirname "$0")/lib.sh"
. "$HERE/fault-lib.sh"
. "$HERE/netns-fault-lib.sh"

LOSS=20			# percent, each way

need_cmd nft nftables
nf_up
nf_mount -o ServerAliveInterval=1
N1LABEL=$(nf_label node1)
cp "$ATTEMPTS_SO" "$M/.all/inject/" || fail "cp attempts.so .all/inject/"

nf_loss_start node1 "$LOSS"
t0=$(date +%s%N)
start_pile 100 100
wait_pile
ms=$(nf_elapsed_ms "$t0")
counts=$(nf_loss_counts node1)
nf_loss_stop node1
echo "pile of 100 done in $ms ms under $LOSS% loss on node1's link ($counts packets in/out)"
set -- $counts
[ "$(($2 + $3))" -gt 0 ] || fail "no packet was dropped on node1's link: $counts"

losses=$(grep -cE "$N1LABEL: unreachable" "$LOG")
echo "node1 unreachable $losses times; reconnects: $(grep -cE "$N1LABEL: session resumed" "$LOG") resumed"
grep -E "$N1LABEL: (unreachable|reconnect|session|trickle-node back)|its calls are lost" "$LOG" |
    sed 's/^/  log: /'
grep -qE "$N1LABEL: .*its calls are lost" "$LOG" &&
	echo "NOTE: the loss kept node1 unreachable past the lease: its calls were lost and may have run twice" >&2
check_pile 100 0
check_attempts
on1=$(ran_on node1)
echo "node1 ran $on1 of 100"
[ "$on1" -gt 0 ] || fail "node1 ran none of the pile: the loss was never tested"
wait_for -t 45 eval '[ "$(nf_vm_state node1)" = up ]' || fail "node1 not up after the loss: $(nf_ctl)"
unmount
expect_no_nodes
