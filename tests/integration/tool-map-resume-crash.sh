#!/bin/bash
# trickle-map killed outright (kill -9) while its calls run: the calls go
# on at the mount, and `--resume` joins them (FILE.calls beside the
# joblog says which call each job was) instead of forking them again.
# Ground truth from the injected code: no item started twice, every item
# ended once, and every item's result was printed.
TEST_TIMEOUT=120
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/map-lib.sh"
need_var ATTEMPTS_SO tests/tools/attempts.so
ATTEMPTS=$T/attempts.log
: >"$ATTEMPTS"

mount_local 2
cp "$ATTEMPTS_SO" "$M/.all/inject/" || fail "cp attempts.so .all/inject/"
export TRICKLE_MOUNT=$M
starts() { grep -c '^start ' "$ATTEMPTS" || true; }
ends() { grep -c '^end ' "$ATTEMPTS" || true; }

"$MAP" -j 4 --joblog "$T/jl" work "$ATTEMPTS" 700 {} < <(seq 20) >"$T/run1" 2>"$T/run1.err" &
pid=$!
BG_PIDS+=($pid)
wait_for -t 30 eval '[ "$(ends)" -ge 4 ] && [ "$(starts)" -gt "$(ends)" ]' ||
    fail "the first run did not get going: $(starts) started, $(ends) ended"
kill -KILL $pid
wait $pid 2>/dev/null
BG_PIDS=()
running=$(( $(starts) - $(ends) ))
[ -s "$T/jl.calls" ] || fail "no $T/jl.calls beside the joblog"
echo "killed trickle-map with $(ends) items ended, $running running"
[ "$running" -ge 1 ] || fail "nothing was running at the kill: nothing tested"

map -j 4 --resume --joblog "$T/jl" work "$ATTEMPTS" 700 {} < <(seq 20)
expect_eq "--resume: status" 0 $RC
expect_eq "no item started twice" "" \
	"$(awk '$1 == "start" { print $2 }' "$ATTEMPTS" | sort | uniq -d | tr '\n' ' ')"
expect_eq "items ended" 20 "$(awk '$1 == "end" { print $2 }' "$ATTEMPTS" | sort -u | wc -l)"
expect_eq "every item's result printed" "$(seq 20 | sed 's/$/ ok/')" \
	"$(cat "$T/run1" "$T/out" | sort -n -u)"
expect_eq "joblog: every Seq" 20 "$(tail -n +2 "$T/jl" | cut -f 1 | sort -nu | wc -l)"
unmount
echo "PASS: $TEST_NAME"
