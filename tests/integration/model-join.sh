#!/bin/bash
# trickle-join CALLDIR...: waits for every call and prints their results in
# argument order (not the order they end); exit 1 if one failed, with its
# status on stderr (the others' results still printed).  --any: the first
# call to end, its path on a line, then its result.  Usage errors and
# missing calls: exit 2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"

J=$TRICKLE_JOIN
mount_local 2
cp "$BASIC_SO" "$M/.all/inject/" || fail "cp basic.so .all/inject/ failed"

# All, in argument order: the first to end is listed last.
a=$(fork local0 "sleeper 2") || fail "fork"
b=$(fork local1 "foo 21") || fail "fork"
c=$(fork local1 "add 1 2 3") || fail "fork"
start=$(now_ms)
out=$(timeout 30 "$J" "$M/local0/calls/$a" "$M/local1/calls/$b" "$M/local1/calls/$c" 2>"$T/err")
rc=$?
elapsed=$(($(now_ms) - start))
expect_eq "trickle-join status" 0 $rc
expect_eq "trickle-join output" "slept 2
42
6" "$out"
expect_eq "trickle-join stderr" "" "$(cat "$T/err")"
[ $elapsed -ge 1000 ] || fail "trickle-join returned after $elapsed ms, before the sleeper ended"

# --any: the first to end.
a=$(fork local0 "sleeper 3") || fail "fork"
b=$(fork local1 "sleeper 1") || fail "fork"
out=$(timeout 30 "$J" --any "$M/local0/calls/$a" "$M/local1/calls/$b" 2>"$T/err")
expect_eq "trickle-join --any status" 0 $?
expect_eq "trickle-join --any output" "$M/local1/calls/$b
slept 1" "$out"
expect_eq "status of the other after --any" running "$(status local0 "$a")"
out=$(timeout 30 "$J" -a "$M/local0/calls/$a" 2>"$T/err")
expect_eq "trickle-join -a of one" "$M/local0/calls/$a
slept 3" "$out"
# Of calls that have all ended: one of them, at once.
out=$(timeout 5 "$J" --any "$M/local0/calls/$a" "$M/local1/calls/$b")
expect_eq "--any of ended calls status" 0 $?
expect_match "--any of ended calls" "^$M/local[01]/calls/[0-9]+
slept [13]\$" "$out"

# A failed call: exit 1, its status on stderr, the others still joined.
a=$(fork local0 "fail 3") || fail "fork"
b=$(fork local1 "foo 2") || fail "fork"
out=$(timeout 30 "$J" "$M/local0/calls/$a" "$M/local1/calls/$b" 2>"$T/err")
expect_eq "trickle-join status with a failure" 1 $?
expect_eq "output with a failure" 4 "$out"
expect_eq "stderr with a failure" "trickle-join: $M/local0/calls/$a: failed exit 3" "$(cat "$T/err")"
# --any whose first is a failure.
a=$(fork local0 crash) || fail "fork"
b=$(fork local1 "sleeper 2") || fail "fork"
out=$(timeout 30 "$J" --any "$M/local0/calls/$a" "$M/local1/calls/$b" 2>"$T/err")
expect_eq "--any status with a failure first" 1 $?
expect_eq "--any output with a failure first" "$M/local0/calls/$a" "$out"
expect_eq "--any stderr" "trickle-join: $M/local0/calls/$a: failed signal 11 (SIGSEGV)" "$(cat "$T/err")"

# Usage and missing calls.
"$J" >/dev/null 2>&1
expect_eq "no arguments" 2 $?
"$J" --bogus "$M/local1/calls/$b" >/dev/null 2>&1
expect_eq "unknown option" 2 $?
out=$(LC_ALL=C timeout 10 "$J" "$M/local1/calls/999" 2>"$T/err")
expect_eq "a missing call" 2 $?
expect_eq "a missing call's message" "trickle-join: $M/local1/calls/999: $(LC_ALL=C strerror ENOENT)" "$(cat "$T/err")"
expect_errno "the missing call" ENOENT stat "$M/local1/calls/999"
out=$(timeout 10 "$J" --any "$M/local1/calls/$b" "$M/local1/calls/999" 2>"$T/err")
expect_eq "--any with a missing call" 2 $?
expect_eq "--any with a missing call: output" "" "$out"
"$J" --help | grep -q -- --any || fail "--help does not mention --any"
