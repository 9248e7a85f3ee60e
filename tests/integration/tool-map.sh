#!/bin/bash
# trickle-map FUNC ARG... < WORK: a call per CHUNK lines of stdin on .any,
# each call's output in one piece (in input order with --ordered), a
# joblog line per call, exit status the number of failed calls (at most
# 101), --halt soon|now,fail=N, items with spaces intact, empty input
# forks nothing, SIGINT cancels what is outstanding; every call forgotten.
TEST_TIMEOUT=150
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/map-lib.sh"

mount_local 2
cp "$BASIC_SO" "$M/.all/inject/" || fail "cp basic.so .all/inject/ failed"
[ -d "$M/.any/calls" ] || fail "the mount has no .any/calls"
export TRICKLE_MOUNT=$M

# Chunks: -n 3 over 10 items is 4 calls, the last one short.
map -n 3 --joblog "$T/jl" echo x < <(seq 10)
expect_eq "-n 3: status" 0 $RC
expect_eq "-n 3: output" "x 1 2 3
x 10
x 4 5 6
x 7 8 9" "$(sort <<<"$OUT")"
expect_eq "-n 3: joblog header" "Seq	Host	Starttime	JobRuntime	Send	Receive	Exitval	Signal	Command" \
	"$(head -n 1 "$T/jl")"
expect_eq "-n 3: joblog Seq" "1 2 3 4" "$(joblog_col "$T/jl" 1)"
expect_eq "-n 3: joblog Command" "'echo' 'x' '1' '2' '3'
'echo' 'x' '4' '5' '6'
'echo' 'x' '7' '8' '9'
'echo' 'x' '10'" "$(tail -n +2 "$T/jl" | sort -n | cut -f 9)"
# Send: the line and its newline; Receive: the stdout bytes.
bad=$(tail -n +2 "$T/jl" | awk -F'\t' '$5 != length($9) + 1')
[ -z "$bad" ] || fail "-n 3: joblog Send is not the line's length + 1: $bad"
expect_eq "-n 3: joblog Receive" "8 8 8 5" "$(joblog_col "$T/jl" 6)"
for h in $(joblog_col "$T/jl" 2); do
	expect_match "-n 3: joblog Host" '^local[01]$' "$h"
done
for f in 3 4; do
	for v in $(joblog_col "$T/jl" $f); do
		expect_match "-n 3: joblog column $f" '^[0-9]+\.[0-9]{3}$' "$v"
	done
done

# Items with spaces, quotes and shell characters are single arguments.
map exec printf '<%s>\n' < <(printf '%s\n' 'a b' "it's" 'say "hi"' '$HOME' '  lead' '*')
expect_eq "quoting: status" 0 $RC
expect_eq "quoting: output" "<  lead>
<\$HOME>
<*>
<a b>
<it's>
<say \"hi\">" "$(LC_ALL=C sort <<<"$OUT")"

# --ordered: input order although the first call ends last.
in=$'2\n0\n0.3\n0.1\n0\n0.2'
job='sleep $0; echo "start $0"; sleep 0.05; echo "end $0"'
map --ordered exec sh -c "$job" <<<"$in"
expect_eq "--ordered: status" 0 $RC
expect_eq "--ordered: output" "$(for i in $in; do printf 'start %s\nend %s\n' $i $i; done)" "$OUT"
# Without it, the order calls end in; still each call's lines together.
map exec sh -c "$job" <<<"$in"
expect_eq "unordered: status" 0 $RC
expect_eq "unordered: all there" "$(for i in $in; do printf 'start %s\nend %s\n' $i $i; done | sort)" \
	"$(sort <<<"$OUT")"
[ "$(head -n 1 <<<"$OUT")" != "start 2" ] || fail "unordered: the slow first call came first: $OUT"

# Never interleaved: calls that write several lines over time, stdout
# and stderr.
map -j 8 exec sh -c 'for i in 1 2 3 4 5; do echo "$0.$i"; echo "e$0.$i" >&2; sleep 0.02; done' < <(seq 24)
expect_eq "interleave: status" 0 $RC
expect_eq "interleave: stdout lines" 120 "$(wc -l <<<"$OUT")"
bad=$(awk -F. '{ n = NR % 5; if (n == 0) n = 5; if ($2 != n || (n > 1 && $1 != prev)) print NR ": " $0; prev = $1 }' <<<"$OUT")
[ -z "$bad" ] || fail "interleaved stdout: $bad"
bad=$(awk -F. '{ n = NR % 5; if (n == 0) n = 5; if ($2 != n || (n > 1 && $1 != prev)) print NR ": " $0; prev = $1 }' <<<"$ERR")
[ -z "$bad" ] || fail "interleaved stderr: $bad"
expect_eq "interleave: every call" "$(seq 24)" "$(cut -d. -f1 <<<"$OUT" | sort -n | uniq)"

# Failures: the exit status counts them; the joblog has their Exitval and
# Signal; a crash's status goes to stderr.
map --joblog "$T/jl" exec sh -c 'echo $0; exit $(($0 % 3))' < <(seq 0 5)
expect_eq "failures: status" 4 $RC
expect_eq "failures: all output" "$(seq 0 5)" "$(sort -n <<<"$OUT")"
expect_eq "failures: joblog lines" 7 "$(wc -l <"$T/jl")"
expect_eq "failures: joblog Exitval" "0 1 2 0 1 2" "$(joblog_col "$T/jl" 7)"
expect_eq "failures: joblog Signal" "0 0 0 0 0 0" "$(joblog_col "$T/jl" 8)"
map --joblog "$T/jl" crash < <(printf 'x\n')
expect_eq "crash: status" 1 $RC
expect_eq "crash: joblog Exitval Signal" "139	11" "$(joblog_col "$T/jl" 7-8)"
expect_eq "crash: stderr" "trickle-map: item 1 failed (signal 11 (SIGSEGV)): 'crash' 'x'" "$ERR"
# At most 101.
map -j 16 fail < <(seq 105)
expect_eq "105 failures: status" 101 $RC

# --halt soon,fail=1: no more forks after the first failure; the running
# calls end.
map -j 2 --halt soon,fail=1 --joblog "$T/jl" exec sh -c 'sleep 0.2; echo $0; exit $(($0 == 3))' < <(seq 50)
expect_eq "--halt soon: status" 1 $RC
n=$(($(wc -l <"$T/jl") - 1))
[ $n -ge 3 ] && [ $n -le 5 ] || fail "--halt soon,fail=1 -j 2: $n calls in the joblog"
expect_eq "--halt soon: outputs" $n "$(wc -l <<<"$OUT")"
# --halt now,fail=1: the running calls are cancelled.
start=$(now_ms)
map -j 3 --halt now,fail=1 exec sh -c 'if [ $0 = fail ]; then sleep 0.5; exit 9; fi; sleep $0' < <(printf '%s\n' fail 30 30)
elapsed=$(($(now_ms) - start))
# With fail=1 the status is the failed call's, as GNU parallel's.
expect_eq "--halt now: status" 9 $RC
[ $elapsed -lt 10000 ] || fail "--halt now,fail=1 took $elapsed ms"
expect_ls "$M/.any/calls" new

# Empty input forks nothing.
ended() { cat "$M/local0/info" "$M/local1/info" | grep -E '^calls (done|failed|cancelled):'; }
before=$(ended)
map --joblog "$T/jl" echo </dev/null
expect_eq "empty input: status" 0 $RC
expect_eq "empty input: output" "" "$OUT$ERR"
expect_eq "empty input: joblog" 1 "$(wc -l <"$T/jl")"
expect_eq "empty input: calls ended on the VMs" "$before" "$(ended)"

# --ordered output that waits for its turn is spilled to a file past some
# MiB and comes out whole: (sleep, MiB, letter) per call with -n 3.
printf '%s\n' 2 1 a 0 20 b 0 20 c | timeout 60 "$MAP" --ordered -n 3 exec sh -c \
	'sleep $0; head -c $(($1 * 1048576)) /dev/zero | tr "\0" "$2"' >"$T/out"
expect_eq "spill: status" 0 $?
expect_eq "spill: output" "$( (head -c 1048576 /dev/zero | tr '\0' a
	head -c $((20 << 20)) /dev/zero | tr '\0' b
	head -c $((20 << 20)) /dev/zero | tr '\0' c) | md5sum)" "$(md5sum <"$T/out")"

# --vm: every call on that VM.
map --vm local1 --joblog "$T/jl" echo < <(seq 4)
expect_eq "--vm: status" 0 $RC
expect_eq "--vm: output" "$(seq 4)" "$(sort -n <<<"$OUT")"
expect_eq "--vm: hosts" "local1 local1 local1 local1" "$(joblog_col "$T/jl" 2)"

# --bar draws on stderr and clears itself at the end.
map --bar echo < <(seq 3)
expect_eq "--bar: status" 0 $RC
expect_match "--bar: drawn" 'trickle-map: [0-9]+/[0-9?]+ calls' "$(tr '\r' '\n' <"$T/err")"
[ "$(tail -c 4 "$T/err" | od -An -c | tr -d ' ')" = '\r033[K' ] ||
	fail "--bar: not cleared at the end: $(od -c "$T/err" | tail -n 3)"

# Bad options.
map -n 0 echo </dev/null
expect_eq "-n 0: status" 255 $RC
map --halt later echo </dev/null
expect_eq "--halt later: status" 255 $RC
env -u TRICKLE_MOUNT timeout 30 "$MAP" echo </dev/null >/dev/null 2>"$T/err"
expect_eq "no mount: status" 255 $?
expect_match "no mount: message" TRICKLE_MOUNT "$(cat "$T/err")"

# SIGINT: outstanding calls cancelled, exit 130 at once, nothing left.
exec 4<"$M/.done" || fail "open .done"
cat <&4 >"$T/done.txt" &
catpid=$!
BG_PIDS+=($catpid)
exec 4<&-
set -m		# or bash starts background jobs with SIGINT ignored
yes 30 | head -n 100 | "$MAP" -j 4 sleep >/dev/null 2>&1 &
pid=$!
set +m
BG_PIDS+=($pid)
wait_for eval '[ "$(ls "$M/.any/calls" | grep -vc new)" = 4 ]' ||
	fail "not 4 calls in .any/calls: $(ls "$M/.any/calls")"
sleep 0.3
start=$(now_ms)
kill -INT $pid
wait $pid
rc=$?
elapsed=$(($(now_ms) - start))
expect_eq "SIGINT: status" 130 $rc
[ $elapsed -lt 3000 ] || fail "trickle-map took $elapsed ms to end after SIGINT"
wait_for eval '[ "$(grep -c "^\.any/calls/[0-9]* cancelled$" "$T/done.txt")" = 4 ]' ||
	fail "not 4 cancelled calls in .done: $(cat "$T/done.txt")"
wait_for eval '[ -z "$(ls "$M/.any/calls" | grep -v new)" ]' ||
	fail "calls left after SIGINT: $(ls "$M/.any/calls")"
kill $catpid
wait $catpid 2>/dev/null
BG_PIDS=()

# Every call was forgotten.
expect_ls "$M/.any/calls" new
expect_ls "$M/local1/calls" new
unmount
