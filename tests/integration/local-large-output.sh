#!/bin/bash
# 256 MiB of output (bulk 256) streams through in full and intact, while
# tricklefs's memory stays small.
TEST_TIMEOUT=180
. "$(dirname "$0")/lib.sh"

MIB=256
# The same pattern as bulk: each MiB is "abc...z" repeated, from 'a' again.
yes abcdefghijklmnopqrstuvwxyz | tr -d '\n' | head -c 1048576 >"$T/mib"
want=$(for i in $(seq 1 $MIB); do cat "$T/mib"; done | sha256sum | cut -d' ' -f1)

mount_local 1
inject local0 "$BASIC_SO"
rss0=$(awk '/^VmRSS:/ { print $2 }' "/proc/$FS_PID/status")
id=$(fork local0 "bulk $MIB") || fail "fork bulk"
start=$(now_ms)
got=$(result local0 "$id" | tee >(wc -c >"$T/size") | sha256sum | cut -d' ' -f1) ||
	fail "cat result failed: $(status local0 "$id")"
elapsed=$(($(now_ms) - start))
wait_for [ -s "$T/size" ] || fail "no size"
expect_eq "result size" $((MIB * 1048576)) "$(cat "$T/size")"
expect_eq "result sha256" "$want" "$got"
expect_eq "status" done "$(status local0 "$id")"
expect_eq "stdout size" $((MIB * 1048576)) "$(stat -c %s "$M/local0/calls/$id/stdout")"
expect_eq "stdout sha256" "$want" "$(timeout 60 cat "$M/local0/calls/$id/stdout" | sha256sum | cut -d' ' -f1)"

hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$FS_PID/status")
echo "256 MiB in $elapsed ms; tricklefs RSS $rss0 kB at start, peak $hwm kB"
[ "$hwm" -lt 65536 ] || fail "tricklefs peak RSS $hwm kB for $MIB MiB of output"
expect_eq "foo after" 2 "$(call local0 "foo 1")"
