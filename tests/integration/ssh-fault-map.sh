#!/bin/bash
# kill -9 of one node's trickle-node during a `trickle-map --retries 2`
# pile of 200 items on .any over two nodes (two private sshd): every
# item's output appears exactly once, trickle-map exits 0, and its joblog
# has 200 lines, each with Exitval 0.  The runs are counted outside
# tricklefs (attempts.so's log): the kill came mid-pile, every item ended
# on a node exactly once, and only the items that were running on the
# killed node started twice.
TEST_TIMEOUT=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault-lib.sh"
need_var TRICKLE_MAP trickle-map
start_sshd
start_sshd2

mount_ssh a=127.0.0.1:$SSHD_PORT b=127.0.0.1:$SSHD2_PORT -o ServerAliveInterval=1
cp "$ATTEMPTS_SO" "$M/.all/inject/" || fail "cp attempts.so .all/inject/"
pid=$(node_of_sshd "$SSHD_PID")
[ -n "$pid" ] && [ "$(echo "$pid" | wc -l)" = 1 ] || fail "cannot tell b's node: '$pid'"

: >"$ATTEMPTS"
timeout 200 "$TRICKLE_MAP" -C "$M" --retries 2 --joblog "$T/joblog" \
	work "$ATTEMPTS" 60 {} ::: $(seq 200) >"$T/pile.out" 2>"$T/map.err" &
MAP_PID=$!
BG_PIDS+=("$MAP_PID")
wait_for -t 60 eval '[ "$(ended_items)" -ge 60 ]' ||
	fail "the pile did not get going: $(cat "$T/map.err")"
kill -KILL "$pid"
fault_in_time 200
echo "killed b's trickle-node $pid after $(ended_items) items"

rc=0
wait "$MAP_PID" || rc=$?
[ $rc = 0 ] || fail "trickle-map exited $rc: $(tail -5 "$T/map.err")"

# The joblog: a line per item (Seq 1..200), every Exitval 0.
expect_eq "joblog lines" 200 "$(tail -n +2 "$T/joblog" | wc -l)"
expect_eq "joblog Seq" "$(seq 200)" "$(tail -n +2 "$T/joblog" | cut -f 1 | sort -n)"
expect_eq "joblog Exitval not 0" "" \
	"$(tail -n +2 "$T/joblog" | awk -F'\t' '$7 != 0' | head -5)"
expect_eq "trickle-map's stderr" "" "$(cat "$T/map.err")"
# Every item's output exactly once (its "ITEM ok" line), and the ground
# truth: each item ended once on a node, at most the 2 calls that were
# on b (running, or sent and not yet started) started twice.
expect_eq "output lines" 200 "$(wc -l <"$T/pile.out")"
check_pile 200 2
# The kill cost runs: the calls on b were lost and run again; only those
# started twice.
lost=$(grep -c '\.any/[0-9]*: lost: ' "$LOG") || true
echo "${lost:-0} runs lost"
[ "${lost:-0}" -ge 1 ] || fail "no call was lost with b: nothing was run again, nothing tested"
[ "$TWICE" -le "$lost" ] || fail "$TWICE items started twice, but only $lost runs were lost"
# trickle-map forgot every call.
expect_eq "calls left in .any/calls" "new" "$(ls "$M/.any/calls")"
unmount
expect_no_nodes
