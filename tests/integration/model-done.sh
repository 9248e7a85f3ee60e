#!/bin/bash
# MOUNT/.done: each open is a stream of the calls that end after it was
# opened ("VM/calls/N done", "VM/calls/N failed exit 3", "VM/calls/N
# cancelled": the call's path from the mount and its status), in the
# order they end, on every VM; calls that ended before the open are not
# in it; a read with nothing new blocks, and SIGINT ends it at once; two
# opens each get every line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"

mount_local 2
cp "$BASIC_SO" "$M/.all/inject/" || fail "cp basic.so .all/inject/ failed"
expect_eq "a call before the open" 2 "$(call local0 "foo 1")"

exec 4<"$M/.done" || fail "open .done"
exec 5<"$M/.done" || fail "open .done a second time"
# Nothing has ended since the open: a read blocks.
timeout 1 cat <&4 >"$T/early" 2>&1
expect_eq "read of .done with nothing new" 124 $?
expect_eq "output of that read" "" "$(cat "$T/early")"

# Calls end in a known order: fail on local1 at once, foo on local0 after
# a sleeper, a sleeper on local1.
a=$(fork local0 "sleeper 1") || fail "fork sleeper 1"
b=$(fork local0 "foo 3") || fail "fork foo 3"
c=$(fork local1 "fail 3") || fail "fork fail 3"
d=$(fork local1 "sleeper 2") || fail "fork sleeper 2"
lines=
for i in 1 2 3 4; do
	read -r -t 20 line <&4 || fail "read $i of .done: nothing in 20 s (got: $lines)"
	lines+="$line;"
done
expect_eq ".done lines" "local1/calls/$c failed exit 3;local0/calls/$a done;local0/calls/$b done;local1/calls/$d done;" "$lines"
# The second open saw the same.
lines=
for i in 1 2 3 4; do
	read -r -t 5 line <&5 || fail "read $i of the second .done"
	lines+="$line;"
done
expect_eq ".done lines, second open" "local1/calls/$c failed exit 3;local0/calls/$a done;local0/calls/$b done;local1/calls/$d done;" "$lines"
exec 5<&-

# A cancelled call and a crashed one are reported too.
e=$(fork local0 "sleeper 30") || fail "fork sleeper 30"
wait_running local0 "$e"
write_to "$M/local0/calls/$e/ctl" cancel >/dev/null || fail "cancel"
read -r -t 10 line <&4 || fail "no .done line for the cancelled call"
expect_eq ".done line of a cancel" "local0/calls/$e cancelled" "$line"
f=$(fork local1 crash) || fail "fork crash"
read -r -t 10 line <&4 || fail "no .done line for the crash"
expect_eq ".done line of a crash" "local1/calls/$f failed signal 11 (SIGSEGV)" "$line"
exec 4<&-

# A fresh open does not see what ended before it.
exec 4<"$M/.done"
timeout 1 cat <&4 >"$T/fresh" 2>&1
expect_eq "fresh open, nothing new" 124 $?
expect_eq "output" "" "$(cat "$T/fresh")"
g=$(fork local0 "foo 4") || fail "fork foo 4"
read -r -t 10 line <&4 || fail "no .done line for foo 4"
expect_eq ".done after a fresh open" "local0/calls/$g done" "$line"
exec 4<&-

# SIGINT ends a blocked read of .done at once.
set -m
cat "$M/.done" >"$T/cat.out" 2>&1 &
catpid=$!
set +m
BG_PIDS+=("$catpid")
wait_for eval '[ $(blocked_in_fuse $catpid) = 1 ]' || fail "cat .done is not blocked in a FUSE read"
start=$(now_ms)
kill -INT $catpid
wait $catpid
rc=$?
elapsed=$(($(now_ms) - start))
BG_PIDS=()
[ $elapsed -lt 1000 ] || fail "cat .done took $elapsed ms to end after SIGINT"
expect_eq "cat .done status after SIGINT" 130 $rc
expect_eq "cat .done output" "" "$(cat "$T/cat.out")"
# The mount is fine afterwards.
exec 4<"$M/.done"
h=$(fork local1 "foo 5") || fail "fork foo 5"
read -r -t 10 line <&4 || fail "no .done line after the interrupted read"
expect_eq ".done after SIGINT" "local1/calls/$h done" "$line"
exec 4<&-
expect_eq "foo 5" 10 "$(result local1 "$h")"
