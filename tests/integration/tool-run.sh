#!/bin/bash
# trickle-run FUNC ARG...: one call on .any (or --vm VM); its stdout to
# stdout, stderr to stderr, exit code: done 0, "failed exit N" N, a signal
# 128+N, a timeout 124, anything else 255 with the status on stderr.  Arguments arrive
# intact; TRICKLE_MOUNT is the default mount; the call is forgotten
# afterwards; SIGINT while waiting cancels the call and exits 130.
TEST_TIMEOUT=120
. "$(dirname "$0")/lib.sh"

need_var TRICKLE_RUN trickle-run
RUN=$TRICKLE_RUN

mount_local 2
cp "$BASIC_SO" "$M/.all/inject/" || fail "cp basic.so .all/inject/ failed"
[ -d "$M/.any/calls" ] || fail "the mount has no .any/calls"

# run ARG...: trickle-run -C $M ARG..., stdout in OUT, stderr in ERR, RC.
run() {
	timeout 30 "$RUN" -C "$M" "$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}

run echo hello world
expect_eq "echo: status" 0 $RC
expect_eq "echo: stdout" "hello world" "$OUT"
expect_eq "echo: stderr" "" "$ERR"

run foo 21
expect_eq "foo: status" 0 $RC
expect_eq "foo: stdout" 42 "$OUT"

# stdout and stderr apart, the exit status passed on.
run exec sh -c 'echo out; echo err >&2; exit 3'
expect_eq "exit 3: status" 3 $RC
expect_eq "exit 3: stdout" out "$OUT"
expect_eq "exit 3: stderr" err "$ERR"
run fail 7
expect_eq "fail 7: status" 7 $RC
expect_eq "fail 7: stdout" "some output" "$OUT"
expect_eq "fail 7: stderr" "failing with 7" "$ERR"

# A crash: 128 + the signal, its status on stderr.
run crash
expect_eq "crash: status" $((128 + 11)) $RC
expect_eq "crash: stderr" "trickle-run: failed signal 11 (SIGSEGV)" "$ERR"

# Any other failure: 255.
run no_such_function 1 2
expect_eq "unknown function: status" 255 $RC
expect_match "unknown function: stderr" '^trickle-run: failed ' "$ERR"
# A timeout: 124, as timeout(1).
run TRICKLE_TIMEOUT=1 sleep 20
expect_eq "timeout: status" 124 $RC
expect_eq "timeout: stderr" "trickle-run: failed timeout" "$ERR"

# Arguments with spaces, quotes and shell characters arrive as they are.
run exec printf '[%s]\n' 'a b' "it's" 'say "hi"' '' '$HOME' '*' '  x  ' 'back\slash' ';|&'
expect_eq "quoting: status" 0 $RC
expect_eq "quoting: stdout" "[a b]
[it's]
[say \"hi\"]
[]
[\$HOME]
[*]
[  x  ]
[back\\slash]
[;|&]" "$OUT"
# Arguments that look like options belong to the function.
run echo -C --vm -n
expect_eq "option-like arguments" "-C --vm -n" "$OUT"
# Leading NAME=VALUE words set the call's environment.
run GREETING='hi there' exec sh -c 'echo "$GREETING"'
expect_eq "environment word: stdout" "hi there" "$OUT"
# A newline cannot be in a call line.
run echo "two
lines"
expect_eq "newline in an argument: status" 255 $RC
expect_match "newline in an argument: stderr" 'newline' "$ERR"

# Large output streams through.
timeout 60 "$RUN" -C "$M" bulk 24 >"$T/bulk" || fail "bulk 24 failed"
expect_eq "bulk 24: size" $((24 << 20)) "$(stat -c %s "$T/bulk")"
expect_eq "bulk 24: content" "$(head -c 26 "$T/bulk")" abcdefghijklmnopqrstuvwxyz

# The mount from TRICKLE_MOUNT; an error without either.
out=$(TRICKLE_MOUNT=$M timeout 30 "$RUN" echo via env) || fail "TRICKLE_MOUNT run failed"
expect_eq "TRICKLE_MOUNT" "via env" "$out"
out=$(TRICKLE_MOUNT=/nonexistent timeout 30 "$RUN" -C "$M" echo via -C) ||
	fail "-C over TRICKLE_MOUNT failed"
expect_eq "-C wins over TRICKLE_MOUNT" "via -C" "$out"
err=$(env -u TRICKLE_MOUNT timeout 30 "$RUN" echo x 2>&1 >/dev/null)
expect_eq "no mount: status" 255 $?
expect_match "no mount: message" 'TRICKLE_MOUNT' "$err"
err=$(timeout 30 "$RUN" -C "$T/nowhere" echo x 2>&1 >/dev/null)
expect_eq "missing mount: status" 255 $?
expect_match "missing mount: message" "$T/nowhere: not a tricklefs mount" "$err"
err=$(timeout 30 "$RUN" -C "$M" 2>&1 >/dev/null)
expect_eq "no function: status" 255 $?
expect_match "no function: usage" '^usage: ' "$err"

# --vm: the call runs on that VM (setenv state is per VM).
run --vm local1 setenv WHO one
expect_eq "setenv on local1" 0 $RC
run --vm local1 exec sh -c 'echo "<$WHO>"'
expect_eq "--vm local1" "<one>" "$OUT"
run --vm local0 exec sh -c 'echo "<$WHO>"'
expect_eq "--vm local0" "<>" "$OUT"
run --vm local1 fail 5
expect_eq "--vm: exit code" 5 $RC
run --vm nosuch echo x
expect_eq "--vm nosuch: status" 255 $RC
expect_match "--vm nosuch: message" 'no VM nosuch' "$ERR"

# Every call was forgotten.
expect_ls "$M/.any/calls" new
expect_ls "$M/local1/calls" new

# SIGINT while waiting: the call is cancelled, the tool exits 130 at once,
# and the call is forgotten.
exec 4<"$M/.done" || fail "open .done"
cat <&4 >"$T/done.txt" &
catpid=$!
BG_PIDS+=($catpid)
exec 4<&-
set -m		# or bash starts background jobs with SIGINT ignored
"$RUN" -C "$M" sleep 30 </dev/null >"$T/out" 2>"$T/err" &
pid=$!
set +m
BG_PIDS+=($pid)
wait_for eval '[ -n "$(ls "$M/.any/calls" | grep -v new)" ]' || fail "no call in .any/calls"
id=$(ls "$M/.any/calls" | grep -v new)
wait_for eval '[ "$(cat "$M/.any/calls/$id/status" 2>/dev/null)" = running ]' ||
	fail "sleep 30 not running: $(cat "$M/.any/calls/$id/status")"
wait_for eval '[ $(blocked_in_fuse $pid) = 1 ]' || fail "trickle-run is not waiting in a FUSE read"
start=$(now_ms)
kill -INT $pid
wait $pid
rc=$?
elapsed=$(($(now_ms) - start))
expect_eq "SIGINT: status" 130 $rc
[ $elapsed -lt 2000 ] || fail "trickle-run took $elapsed ms to end after SIGINT"
wait_for grep -qx "\.any/calls/$id cancelled" "$T/done.txt" ||
	fail "no '.any/calls/$id cancelled' in .done: $(cat "$T/done.txt")"
wait_for eval '[ ! -e "$M/.any/calls/$id" ]' || fail "the cancelled call was not forgotten"

# SIGTERM too: 143.
"$RUN" -C "$M" --vm local0 sleep 30 </dev/null >/dev/null 2>&1 &
pid=$!
BG_PIDS+=($pid)
wait_for eval '[ -n "$(ls "$M/local0/calls" | grep -v new)" ]' || fail "no call in local0/calls"
id=$(ls "$M/local0/calls" | grep -v new)
wait_for eval '[ "$(cat "$M/local0/calls/$id/status" 2>/dev/null)" = running ]' ||
	fail "sleep 30 on local0 not running"
kill -TERM $pid
wait $pid
expect_eq "SIGTERM: status" 143 $?
wait_for grep -qx "local0/calls/$id cancelled" "$T/done.txt" ||
	fail "no 'local0/calls/$id cancelled' in .done: $(cat "$T/done.txt")"

# The VMs work on.
run echo still here
expect_eq "after the cancels" "still here" "$OUT"
kill $catpid
wait $catpid 2>/dev/null
BG_PIDS=()
unmount
