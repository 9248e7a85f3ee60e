#!/bin/bash
# trickle-run --all (every VM, lines labelled "VM: " as pdsh; -b gathers
# identical output as clush -b; exit status the largest), --vm VM and
# --vm .all, --workdir, a timeout as 124, standard input that would be
# forwarded (to every VM with --all; not with -n), and --version and
# the help of the three tools.
TEST_TIMEOUT=150
. "$(dirname "$0")/lib.sh"

need_var TRICKLE_RUN trickle-run
need_var TRICKLE_MAP trickle-map
need_var TRICKLE_JOIN trickle-join
RUN=$TRICKLE_RUN

mount_local 2
export TRICKLE_MOUNT=$M
# The calls tell their VM by its index on the node, $TRICKLE_VM_INDEX.

# run ARG... [< INPUT]: stdout in OUT, stderr in ERR, exit status in RC.
run() {
	timeout 30 "$RUN" "$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}

# ---------------------------------------------------------------- --all

run --all echo hello </dev/null
expect_eq "--all: status" 0 $RC
expect_eq "--all: output" "local0: hello
local1: hello" "$(sort <<<"$OUT")"
# Each VM's lines together, stderr labelled too, a last line without a
# newline ended.
run --all exec sh -c 'echo "one $TRICKLE_VM_INDEX"; echo "two $TRICKLE_VM_INDEX"; printf "e" >&2' </dev/null
expect_eq "--all: lines" "local0: one 0
local0: two 0
local1: one 1
local1: two 1" "$(sort <<<"$OUT")"
expect_eq "--all: stderr" "local0: e
local1: e" "$(sort <<<"$ERR")"
# The exit status is the largest; each failure is said.
run --all exec sh -c 'exit $(($TRICKLE_VM_INDEX * 3 + 1))' </dev/null
expect_eq "--all: largest status" 4 $RC
expect_eq "--all: failures" "trickle-run: local0: failed exit 1
trickle-run: local1: failed exit 4" "$(sort <<<"$ERR")"
# -b: the same output once, under the folded VM names.
run --all -b exec sh -c 'echo same; echo "vm $(($TRICKLE_VM_INDEX / 2))"' </dev/null
expect_eq "-b: status" 0 $RC
expect_eq "-b: same output" "---------------
local[0-1] (2)
---------------
same
vm 0" "$OUT"
run -ab exec sh -c 'echo "vm $TRICKLE_VM_INDEX"' </dev/null
expect_eq "-b: different output" "---------------
local0 (1)
---------------
vm 0
---------------
local1 (1)
---------------
vm 1" "$OUT"
# --vm .all is --all; --vm .any the default.
run --vm .all echo x </dev/null
expect_eq "--vm .all" "local0: x
local1: x" "$(sort <<<"$OUT")"
run --vm .any echo y </dev/null
expect_eq "--vm .any" "y" "$OUT"
run -b echo x </dev/null
expect_eq "-b without --all: status" 255 $RC
run --all --vm local0 echo x </dev/null
expect_eq "--all with --vm: status" 255 $RC

# --vm VM: that VM, which must exist.
run --vm local1 exec sh -c 'echo $TRICKLE_VM_INDEX' </dev/null
expect_eq "--vm local1" 1 "$OUT"
run --vm nosuch echo x </dev/null
expect_eq "--vm nosuch: status" 255 $RC
expect_match "--vm nosuch: message" 'no VM nosuch' "$ERR"

# SIGINT during --all: every call cancelled, 130, nothing left.
set -m
"$RUN" --all sleep 30 </dev/null >/dev/null 2>&1 &
pid=$!
set +m
BG_PIDS+=($pid)
wait_for eval '[ "$(ls "$M/local0/calls" "$M/local1/calls" | grep -c "^[0-9]")" = 2 ]' ||
	fail "no call on each VM"
sleep 0.3
kill -INT $pid
wait $pid
expect_eq "--all SIGINT: status" 130 $?
BG_PIDS=()
wait_for eval '[ "$(ls "$M/local0/calls" "$M/local1/calls" | grep -c "^[0-9]")" = 0 ]' ||
	fail "calls left after SIGINT: $(ls "$M/local0/calls" "$M/local1/calls")"

# ---------------------------------------------------------------- --workdir

mkdir "$T/wd"
echo "in wd" >"$T/wd/f"
(cd "$T/wd" && timeout 30 "$RUN" --workdir . exec cat f </dev/null) >"$T/out" 2>&1
expect_eq "--workdir .: status" 0 $?
expect_eq "--workdir ." "in wd" "$(cat "$T/out")"
run --workdir "$T/wd" exec cat f </dev/null
expect_eq "--workdir DIR" "in wd" "$OUT"
run --all --workdir "$T/wd" exec cat f </dev/null
expect_eq "--all --workdir" "local0: in wd
local1: in wd" "$(sort <<<"$OUT")"
# Functions run there too (TRICKLE_WORKDIR).
run --workdir "$T/wd" echo x </dev/null
expect_eq "--workdir with a function" "0 x" "$RC $OUT"
run --workdir "$T/nowhere" exec true </dev/null
expect_eq "--workdir missing: status" 255 $RC
expect_match "--workdir missing: message" "cannot enter the working directory $T/nowhere" "$ERR"
# TRICKLE_VM is the VM's name; its index on the node is TRICKLE_VM_INDEX.
run --vm local1 exec sh -c 'echo "$TRICKLE_VM $TRICKLE_VM_INDEX"' </dev/null
expect_eq "TRICKLE_VM" "local1 1" "$OUT"
# Without it, relative paths are in the VM's data/.
echo "in data" >"$M/local0/data/f"
run --vm local0 exec cat f </dev/null
expect_eq "no --workdir: data/" "in data" "$OUT"

# ---------------------------------------------------------------- timeout

run TRICKLE_TIMEOUT=0.5 sleep 20 </dev/null
expect_eq "timeout: status" 124 $RC
expect_eq "timeout: stderr" "trickle-run: failed timeout" "$ERR"

# ---------------------------------------------------------------- stdin

calls_now() { ls "$M/.any/calls" "$M/local0/calls" "$M/local1/calls" | grep -c '^[0-9]'; }
# A pipe, a file (as a recipe's "< $<" gives), data that comes late: the
# call's stdin, as with ssh.
out=$(printf 'b\na\n' | timeout 30 "$RUN" exec sort)
expect_eq "piped stdin" "0 a
b" "$? $out"
printf 'x\n' >"$T/in"
run --vm local1 exec cat <"$T/in"
expect_eq "file stdin" "0 x" "$RC $OUT"
out=$( (sleep 1; echo late) | timeout 30 "$RUN" exec cat)
expect_eq "late stdin" "0 late" "$? $out"
# 10 MiB arrive whole.
head -c 10485760 /dev/urandom >"$T/big"
want=$(md5sum <"$T/big")
out=$(timeout 60 "$RUN" exec md5sum <"$T/big")
expect_eq "10 MiB through stdin" "0 $want" "$? $out"
# A signal while stdin still comes: the call is cancelled before its
# stdin is closed, so it never runs on part of it; the same with --all.
for all in "" --all; do
	yes | timeout 30 "$RUN" $all exec sh -c "wc -c; touch $T/ran-partial" >/dev/null 2>&1 &
	pid=$!
	sleep 1
	kill -TERM "$pid"
	wait "$pid"
	expect_eq "SIGTERM while forwarding${all:+ with $all}: status" 143 $?
	sleep 0.5
	[ ! -e "$T/ran-partial" ] || fail "a call ran on part of its stdin${all:+ ($all)}"
	wait_for eval '[ "$(calls_now)" = 0 ]' ||
		fail "SIGTERM while forwarding${all:+ with $all}: calls left: $(calls_now)"
done
# --all: every VM gets it, as with clush.
out=$(printf 'b\na\n' | timeout 30 "$RUN" --all -b exec sort)
expect_eq "--all with stdin" "0 ---------------
local[0-1] (2)
---------------
a
b" "$? $out"
out=$(timeout 60 "$RUN" --all exec md5sum <"$T/big")
expect_eq "--all with 10 MiB" "0 local0: $want
local1: $want" "$? $(sort <<<"$out")"
# No data: /dev/null, an empty file, a pipe that ends empty.
run echo ok </dev/null
expect_eq "/dev/null stdin" "0 ok" "$RC $OUT"
: >"$T/empty"
run exec wc -c <"$T/empty"
expect_eq "empty file stdin" "0 0" "$RC $OUT"
out=$(sleep 0.3 | timeout 30 "$RUN" exec wc -c)
expect_eq "empty pipe stdin" "0 0" "$? $out"
# -n, --no-stdin: not forwarded, as ssh -n.
out=$(printf 'b\na\n' | timeout 30 "$RUN" -n exec wc -c)
expect_eq "-n" "0 0" "$? $out"
out=$(printf 'b\na\n' | timeout 30 "$RUN" --no-stdin echo ignored)
expect_eq "--no-stdin" "0 ignored" "$? $out"
expect_eq "stdin: no call left" 0 "$(calls_now)"

# ---------------------------------------------------------------- version, help

for tool in "$TRICKLE_RUN" "$TRICKLE_MAP" "$TRICKLE_JOIN"; do
	name=$(basename "$tool")
	out=$("$tool" --version) || fail "$name --version failed"
	expect_match "$name --version" "^$name \\(tricklefs\\) [0-9]+\\.[0-9]+" "$out"
	out=$("$tool" --help) || fail "$name --help failed"
	expect_match "$name --help: usage line" "^usage: $name \\[OPTION\\]\\.\\.\\. " "$(head -n 1 <<<"$out")"
	expect_match "$name --help: options" '  -h, --help             this help, then exit' "$out"
	expect_match "$name --help: version" '      --version          the version, then exit' "$out"
	expect_eq "$name --help: last line" "See $name(1)" "$(tail -n 1 <<<"$out" | grep -o "See $name(1)")"
	err=$("$tool" --bogus 2>&1 >/dev/null </dev/null)
	expect_match "$name --bogus" "Try '$name --help' for more." "$err"
done

expect_ls "$M/local0/calls" new
expect_ls "$M/local1/calls" new
unmount
