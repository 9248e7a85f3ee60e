#!/bin/bash
# poll(2) on calls/N/result (tests/tools/poll-read on several at once):
# not readable while the call runs, readable once it ends; with calls that
# end in a known order, each poll reports the next one to end first, and
# its result reads back.  A failed call's result is readable too (the
# read then fails with EIO).  An ended call's result polls readable at
# once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"
need_var POLL_READ poll-read

mount_local 3
cp "$BASIC_SO" "$M/.all/inject/" || fail "cp basic.so .all/inject/ failed"
a=$(fork local0 "sleeper 3") || fail "fork"
b=$(fork local1 "sleeper 1") || fail "fork"
c=$(fork local2 "fail 4") || fail "fork"
d=$(fork local2 "sleeper 2") || fail "fork"

timeout 30 "$POLL_READ" "$M"/local0/calls/$a/result "$M"/local1/calls/$b/result \
	"$M"/local2/calls/$d/result "$M"/local2/calls/$c/result >"$T/poll.raw" 2>&1 ||
	fail "poll-read failed: $(cat "$T/poll.raw")"
sed "s|^$M/||" "$T/poll.raw" >"$T/poll.out"
cat "$T/poll.out"
expect_eq "order of ends" "local2/calls/$c/result local1/calls/$b/result local2/calls/$d/result local0/calls/$a/result" \
	"$(cut -d' ' -f1 "$T/poll.out" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "what was read" "error EIO|slept 1|slept 2|slept 3" \
	"$(cut -d' ' -f3- "$T/poll.out" | tr '\n' '|' | sed 's/|$//')"
# Each was reported when it ended, not all at the end.
t1=$(sed -n 2p "$T/poll.out" | cut -d' ' -f2)
t3=$(sed -n 4p "$T/poll.out" | cut -d' ' -f2)
awk -v a="$t1" -v b="$t3" 'BEGIN { exit !(a >= 0.5 && a < 2.5 && b >= 2.5 && b < 5) }' ||
	fail "times of the poll reports: sleeper 1 at $t1 s, sleeper 3 at $t3 s"

# Ended calls poll readable at once.
out=$(timeout 10 "$POLL_READ" --once 0 "$M/local1/calls/$b/result") || fail "poll of an ended call"
expect_eq "poll of an ended call" POLLIN "$out"
# A running call's result does not poll readable.
e=$(fork local0 "sleeper 2") || fail "fork sleeper 2"
wait_running local0 "$e"
out=$(timeout 10 "$POLL_READ" --once 200 "$M/local0/calls/$e/result") || fail "poll of a running call"
expect_eq "poll of a running call" none "$out"
