#!/bin/bash
# SIGINT to a cat blocked on a running call's result ends the cat at once;
# the call keeps running (status still running, later done with its result).
. "$(dirname "$0")/lib.sh"

mount_local 1
inject local0 "$BASIC_SO"
id=$(fork local0 "sleeper 6") || fail "fork sleeper"
wait_for eval '[ "$(status local0 "$id" | cut -d" " -f1)" = running ]' ||
	fail "sleeper not running: $(status local0 "$id")"

# Job control on, or bash starts background jobs with SIGINT ignored.
set -m
cat "$M/local0/calls/$id/result" >"$T/cat.out" 2>&1 &
catpid=$!
set +m
BG_PIDS+=($catpid)
wait_for eval '[ $(blocked_in_fuse $catpid) = 1 ]' || fail "cat is not blocked in a FUSE read"
sleep 0.5
start=$(now_ms)
kill -INT $catpid
wait $catpid
rc=$?
elapsed=$(($(now_ms) - start))
BG_PIDS=()
[ $elapsed -lt 1000 ] || fail "cat took $elapsed ms to end after SIGINT"
[ $rc = $((128 + 2)) ] || fail "cat ended with status $rc, expected death by SIGINT (130): $(cat "$T/cat.out")"
expect_eq "cat output" "" "$(cat "$T/cat.out")"

expect_eq "status after the interrupted read" running "$(status local0 "$id" | cut -d' ' -f1)"
expect_eq "result after all" "slept 6" "$(result local0 "$id")"
expect_eq "status" done "$(status local0 "$id")"

# An interrupted read of a queued call too.
a=$(fork local0 "sleeper 2") || fail "fork sleeper 2"
b=$(fork local0 "foo 21") || fail "fork foo 21"
timeout -s INT 1 cat "$M/local0/calls/$b/result" >/dev/null 2>&1
rc=$?
[ $rc = 124 ] || fail "cat of a queued call's result did not block (status $rc)"
expect_eq "queued call's result" 42 "$(result local0 "$b")"
