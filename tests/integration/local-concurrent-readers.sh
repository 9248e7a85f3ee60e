#!/bin/bash
# 300 cats blocked on a running call's result all complete when it ends,
# without tricklefs growing a thread per blocked read.  (The call is long:
# on a loaded machine, starting 300 cats and checking each takes seconds.)
TEST_TIMEOUT=120
. "$(dirname "$0")/lib.sh"

N=300
mount_local 1
inject local0 "$BASIC_SO"
id=$(fork local0 "sleeper 20") || fail "fork sleeper"
start=$(now_ms)
for i in $(seq 1 $N); do
	cat "$M/local0/calls/$id/result" >"$T/out.$i" 2>&1 &
	BG_PIDS+=($!)
done
expect_eq "status with $N readers" running "$(status local0 "$id" | cut -d' ' -f1)"
# Every reader is in: the daemon holds $N pending reads.
wait_for -t 18 eval '[ $(blocked_in_fuse "${BG_PIDS[@]}") -ge $N ]' ||
	fail "only $(blocked_in_fuse "${BG_PIDS[@]}") of $N readers blocked in a FUSE read (wchan of the first: $(cat /proc/${BG_PIDS[0]}/wchan 2>&1), out: $(cat $T/out.1))"
threads=$(awk '/^Threads:/ { print $2 }' "/proc/$FS_PID/status")
[ "$threads" -le 16 ] || fail "tricklefs has $threads threads with $N blocked readers"
echo "tricklefs threads with $N blocked readers: $threads"

rcs=0
for p in "${BG_PIDS[@]}"; do wait "$p" || rcs=$((rcs + 1)); done
BG_PIDS=()
elapsed=$(($(now_ms) - start))
[ $rcs = 0 ] || fail "$rcs of $N cats failed"
bad=$(for i in $(seq 1 $N); do [ "$(cat "$T/out.$i")" = "slept 20" ] || echo $i; done)
[ -z "$bad" ] || fail "wrong output from readers: $(echo $bad | head -c 200): '$(cat "$T/out.$(echo $bad | cut -d' ' -f1)")'"
[ $elapsed -lt 40000 ] || fail "readers took $elapsed ms for a 20 s call"
echo "$N readers done in $elapsed ms"
expect_eq "foo after" 2 "$(call local0 "foo 1")"
