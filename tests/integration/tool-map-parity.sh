#!/bin/bash
# trickle-map with GNU parallel's habits: replacement strings, ::: and
# :::: sources, --tag, --timeout (Exitval 124), --retries (the mount runs
# a failed call again), --resume and --resume-failed from the joblog,
# --joblog - and +FILE, --dry-run, --workdir, a message per failed item
# and when --halt fires (with N% and success=N), the failure count in the
# bar, the terminal warning, and the options it refuses with a reason.
TEST_TIMEOUT=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/map-lib.sh"

mount_local 2
cp "$BASIC_SO" "$M/.all/inject/" || fail "cp basic.so .all/inject/ failed"
export TRICKLE_MOUNT=$M

ended() { cat "$M/local0/info" "$M/local1/info" | grep -E '^calls (done|failed|cancelled):'; }

# ---------------------------------------------------------------- items

# The replacement strings, as GNU parallel 20221122 gives them.
map -k echo {} {.} {/} {//} {/.} {#} ::: /a/b.c/d.txt x.tar.gz .bashrc a/
expect_eq "replacement strings: status" 0 $RC
expect_eq "replacement strings" "/a/b.c/d.txt /a/b.c/d d.txt /a/b.c d 1
x.tar.gz x.tar x.tar.gz . x.tar 2
.bashrc  .bashrc .  3
a/ a/  .  4" "$OUT"
# -n 2: {} is every item of the chunk, each a word of its own; text
# around it joins the first and the last.
map -k -n 2 exec printf '<%s>\n' {} ::: a 'b c' d
expect_eq "-n 2 {}: output" "<a>
<b c>
<d>" "$OUT"
map -k -n 2 echo x{}y ::: a b c
expect_eq "-n 2 x{}y" "xa by
xcy" "$OUT"
# Several sources: every combination, the last varying fastest; {N} is
# the Nth value.
map -k echo ::: a b ::: 1 2
expect_eq "::: ::: combinations" "a 1
a 2
b 1
b 2" "$OUT"
map -k echo {2}{1} ::: a b ::: 1 2
expect_eq "{2}{1}" "1a
2a
1b
2b" "$OUT"
# :::: FILE and -a FILE read lines; stdin with {} and {#}; -0.
printf 'p\nq r\n' >"$T/items"
map -k exec printf '[%s]\n' :::: "$T/items"
expect_eq ":::: FILE" "[p]
[q r]" "$OUT"
map -k -a "$T/items" exec printf '[%s]\n'
expect_eq "-a FILE" "[p]
[q r]" "$OUT"
map -k echo :::: "$T/items" ::: 1 2
expect_eq ":::: FILE ::: 1 2" "p 1
p 2
q r 1
q r 2" "$OUT"
map -k echo {}-{#} < <(printf 'x\ny\n')
expect_eq "stdin with {}-{#}" "x-1
y-2" "$OUT"
map -k -0 exec printf '[%s]\n' < <(printf 'a b\0c\0')
expect_eq "-0" "[a b]
[c]" "$OUT"
# In a NAME=VALUE word too.
map -k OUT={/.} exec sh -c 'echo "$OUT"' ::: /x/y.z
expect_eq "{/.} in NAME=VALUE" "y" "$OUT"

# A terminal on stdin and no ::: : a warning, as parallel's.
(sleep 0.5; printf 'a\n\004') | timeout 20 script -qec "$MAP --dry-run echo" /dev/null >"$T/tty" 2>&1
expect_match "terminal warning" 'trickle-map: reading items from the terminal' "$(cat "$T/tty")"
expect_match "terminal item" "'echo' 'a'" "$(cat "$T/tty")"

# ---------------------------------------------------------------- output

# --tag: every line of stdout and stderr starts with the item and a tab.
map -k --tag exec sh -c 'echo one; echo two; echo err >&2' ::: a 'b c'
expect_eq "--tag: stdout" "a	one
a	two
b c	one
b c	two" "$OUT"
expect_eq "--tag: stderr" "a	err
b c	err" "$ERR"

# --dry-run: the lines, nothing forked, no mount needed.
before=$(ended)
map --dry-run --retries 3 --timeout 5 echo {#} {} ::: a 'b c'
expect_eq "--dry-run: status" 0 $RC
expect_eq "--dry-run: lines" "TRICKLE_RETRIES=2 TRICKLE_RETRIES_ON_FAILURE=1 TRICKLE_TIMEOUT=5 'echo' '1' 'a'
TRICKLE_RETRIES=2 TRICKLE_RETRIES_ON_FAILURE=1 TRICKLE_TIMEOUT=5 'echo' '2' 'b c'" "$OUT"
out=$(env -u TRICKLE_MOUNT timeout 30 "$MAP" --dry-run echo ::: z) || fail "--dry-run without a mount failed"
expect_eq "--dry-run without a mount" "'echo' 'z'" "$out"
expect_eq "--dry-run: nothing ran" "$before" "$(ended)"

# --joblog -: on stdout, with the output; +FILE appends (one header).
map --joblog - echo hi ::: a
expect_eq "--joblog -: lines" 3 "$(wc -l <<<"$OUT")"
expect_eq "--joblog -: header" "Seq	Host	Starttime	JobRuntime	Send	Receive	Exitval	Signal	Command" "$(head -n 1 <<<"$OUT")"
expect_eq "--joblog -: output" "hi a" "$(grep -v -e '^Seq' -e "	'echo'" <<<"$OUT")"
expect_eq "--joblog -: Command" "'echo' 'hi' 'a'" "$(tail -n +2 <<<"$OUT" | grep "	'echo'" | cut -f 9)"
[ ! -e ./- ] || fail "--joblog - wrote a file named -"
rm -f "$T/jl"
map --joblog "+$T/jl" echo ::: a
map --joblog "+$T/jl" echo ::: b
expect_eq "--joblog +FILE: headers" 1 "$(grep -c '^Seq' "$T/jl")"
expect_eq "--joblog +FILE: Commands" "'echo' 'a' 'echo' 'b'" "$(tail -n +2 "$T/jl" | cut -f 9 | tr '\n' ' ' | sed 's/ $//')"

# ---------------------------------------------------------------- failures

# A message per failed item; --timeout is Exitval 124.
map --timeout 0.5 --joblog "$T/jl" sleep ::: 20
expect_eq "--timeout: status" 1 $RC
expect_eq "--timeout: Exitval" 124 "$(joblog_col "$T/jl" 7)"
expect_eq "--timeout: message" "trickle-map: item 1 failed (timeout): TRICKLE_TIMEOUT=0.5 'sleep' '20'" "$ERR"

# --halt soon,fail=1 says that it fires; its status is the failed job's.
map -j 1 --halt soon,fail=1 --joblog "$T/jl" exec sh -c 'exit $0' ::: 0 3 0 0
expect_eq "--halt fail=1: status" 3 $RC
expect_eq "--halt fail=1: jobs run" "0 3" "$(joblog_col "$T/jl" 7)"
expect_eq "--halt fail=1: stderr" "trickle-map: item 2 failed (exit 3): 'exec' 'sh' '-c' 'exit \$0' '3'
trickle-map: --halt soon,fail=1: Starting no more jobs." "$ERR"
# N%: of every job; the status is the percentage that failed.
map -j 1 --halt soon,fail=50% --joblog "$T/jl" exec sh -c 'exit $0' ::: 1 1 0 0
expect_eq "--halt fail=50%: status" 50 $RC
expect_eq "--halt fail=50%: jobs run" "1 1" "$(joblog_col "$T/jl" 7)"
# success=N: stop after N succeeded, status 0.
map -j 1 --halt soon,success=2 --joblog "$T/jl" exec sh -c 'exit $0' ::: 1 0 1 0 0 0
expect_eq "--halt success=2: status" 0 $RC
expect_eq "--halt success=2: jobs run" "1 0 1 0" "$(joblog_col "$T/jl" 7)"
expect_match "--halt success=2: message" 'trickle-map: --halt soon,success=2: Starting no more jobs' "$ERR"

# The bar counts failures.
map --bar exec sh -c 'exit $0' ::: 0 1 0
expect_eq "--bar: status" 1 $RC
expect_match "--bar: failures" 'trickle-map: 3/3 calls, 1 failed' "$(tr '\r' '\n' <"$T/err")"

# --retries N: up to N runs in all (as parallel counts), the mount
# running a failed call again.  The job fails the first time per item.
mkdir "$T/marks"
job='if [ -e "$1/$0" ]; then echo "ok $0"; else : >"$1/$0"; echo "no $0" >&2; exit 7; fi'
map -k --retries 2 --joblog "$T/jl" exec sh -c "$job" {} "$T/marks" ::: a b c
expect_eq "--retries 2: status" 0 $RC
expect_eq "--retries 2: output" "ok a
ok b
ok c" "$OUT"
expect_eq "--retries 2: the failed runs' stderr is not shown" "" "$ERR"
expect_eq "--retries 2: Exitval" "0 0 0" "$(joblog_col "$T/jl" 7)"
rm -f "$T/marks"/*
map -k --retries 1 exec sh -c "$job" {} "$T/marks" ::: a b c
expect_eq "--retries 1: status" 3 $RC
expect_eq "--retries 1: failures" 3 "$(grep -c 'failed (exit 7)' <<<"$ERR")"
rm -f "$T/marks"/*
map -k exec sh -c "$job" {} "$T/marks" ::: a b c
expect_eq "no --retries: status" 3 $RC

# ---------------------------------------------------------------- resume

# --resume after a run killed halfway: only the rest runs, each item
# once over both runs.
rm -f "$T/jl"
"$MAP" -j 2 --joblog "$T/jl" exec sh -c 'sleep 0.2; echo $0' < <(seq 30) >"$T/run1" 2>"$T/run1.err" &
pid=$!
BG_PIDS+=($pid)
wait_for -t 30 eval '[ "$(wc -l <"$T/jl" 2>/dev/null || echo 0)" -ge 7 ]' || fail "no 6 jobs in the joblog"
kill -TERM $pid
wait $pid
expect_eq "killed run: status" 143 $?
BG_PIDS=()
n1=$(($(wc -l <"$T/jl") - 1))
[ $n1 -ge 6 ] && [ $n1 -lt 30 ] || fail "killed run: $n1 jobs done"
expect_eq "killed run: output lines" $n1 "$(wc -l <"$T/run1")"
map -j 2 --resume --joblog "$T/jl" exec sh -c 'sleep 0.2; echo $0' < <(seq 30)
expect_eq "--resume: status" 0 $RC
expect_eq "--resume: ran the rest" $((30 - n1)) "$(wc -l <<<"$OUT")"
expect_eq "--resume: every item once" "$(seq 30)" "$(cat "$T/run1" "$T/out" | sort -n)"
expect_eq "--resume: joblog" 30 "$(tail -n +2 "$T/jl" | cut -f 1 | sort -nu | wc -l)"
map -j 2 --resume --joblog "$T/jl" exec sh -c 'sleep 0.2; echo $0' < <(seq 30)
expect_eq "--resume when all is done" "0:" "$RC:$OUT"
# --resume-failed: the failed ones run again, and only they.
rm -f "$T/jl" "$T/fixed"
job='echo $0; [ -e "$1/fixed" ] || exit $(($0 % 2))'
map --joblog "$T/jl" exec sh -c "$job" {} "$T" ::: 1 2 3 4
expect_eq "before --resume-failed: status" 2 $RC
: >"$T/fixed"
map --resume-failed --joblog "$T/jl" exec sh -c "$job" {} "$T" ::: 1 2 3 4
expect_eq "--resume-failed: status" 0 $RC
expect_eq "--resume-failed: ran" "1 3" "$(sort -n <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')"
map --resume-failed --joblog "$T/jl" exec sh -c "$job" {} "$T" ::: 1 2 3 4
expect_eq "--resume-failed again" "0:" "$RC:$OUT"
map --resume echo ::: a
expect_eq "--resume without --joblog" 255 $RC

# ---------------------------------------------------------------- workdir

mkdir "$T/wd"
echo one >"$T/wd/f1"
echo two >"$T/wd/f2"
(cd "$T/wd" && timeout 60 "$MAP" -k --workdir . exec cat ::: f1 f2) >"$T/out" 2>"$T/err"
expect_eq "--workdir .: status" 0 $?
expect_eq "--workdir .: output" "one
two" "$(cat "$T/out")"
map -k --workdir "$T/wd" exec cat ::: f2
expect_eq "--workdir DIR" "two" "$OUT"
# Functions run there too (the node's TRICKLE_WORKDIR).
map -k --workdir "$T/wd" echo ::: x
expect_eq "--workdir with a function" "0 x" "$RC $OUT"

# ---------------------------------------------------------------- refused

refused() {
	local want=$1
	shift
	map "$@"
	expect_eq "$* : status" 255 $RC
	expect_eq "$* : message" "$want" "$ERR"
}
refused "trickle-map: --pipepart: not built: --pipe cuts stdin into blocks of whole lines (--block SIZE), a call's stdin each" \
	--pipepart wc
refused "trickle-map: -S: nodes are chosen by the mount; use -C MOUNT (--vm VM for one VM; trickle-run --all for every VM)" \
	-S host echo ::: a
refused "trickle-map: --sshlogin: nodes are chosen by the mount; use -C MOUNT (--vm VM for one VM; trickle-run --all for every VM)" \
	--sshlogin host echo ::: a
refused "trickle-map: --basefile: not built: copy files every call needs to MOUNT/.all/data/ once (--transferfile copies a call's own)" \
	--basefile x echo ::: a
refused "trickle-map: --line-buffer: a call's output comes in one piece when it ends (tail -f MOUNT/VM/calls/N/stdout follows one)" \
	--line-buffer echo ::: a
refused "trickle-map: --timeout 10%: a percentage of the median run time is not built; give seconds" \
	--timeout 10% echo ::: a
map --bogus echo
expect_eq "--bogus: status" 255 $RC
expect_match "--bogus: usage" "Try 'trickle-map --help'" "$ERR"

# Every call was forgotten.
expect_ls "$M/.any/calls" new
expect_ls "$M/local0/calls" new
expect_ls "$M/local1/calls" new
unmount
