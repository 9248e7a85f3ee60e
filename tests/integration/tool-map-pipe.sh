#!/bin/bash
# trickle-map --pipe (GNU parallel's): standard input is cut into blocks
# of --block bytes, each ended at the first newline at or past that size
# (the last at the end of the input), and each block is one call's stdin;
# -k gives the outputs back in input order, so the input comes out whole;
# binary input, a function in the VM, the joblog's Send; the options that
# do not go with it are refused.
TEST_TIMEOUT=150
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/map-lib.sh"

mount_local 2
export TRICKLE_MOUNT=$M
cp "$BASIC_SO" "$M/.all/inject/" || fail "cp basic.so .all/inject/"

seq 1 100000 >"$T/nums"
size=$(stat -c %s "$T/nums")
map --pipe --block 100k -k --joblog "$T/jl" exec cat <"$T/nums"
expect_eq "cat: status" 0 $RC
expect_eq "cat: the input whole, in order" "$(md5sum <"$T/nums")" "$(md5sum <"$T/out")"
jobs=$(($(wc -l <"$T/jl") - 1))
[ "$jobs" -ge 5 ] && [ "$jobs" -le 6 ] || fail "$size bytes in 100k blocks: $jobs jobs"
# Every block but the last is 100 KiB and the rest of the line it ends in.
sends=$(joblog_col "$T/jl" 5)
expect_eq "bytes sent in all" "$size" "$(($(tr ' ' '+' <<<"$sends")))"
for s in $(head -n -1 <<<"$(tr ' ' '\n' <<<"$sends")"); do
	[ "$s" -ge 102400 ] && [ "$s" -le 102406 ] || fail "a block of $s bytes"
done
# Each block ends with a whole line: the counts add up.
map --pipe --block 100k exec wc -l <"$T/nums"
expect_eq "wc -l: status" 0 "$RC"
expect_eq "wc -l per block, summed" 100000 "$(awk '{ s += $1 } END { print s }' <<<"$OUT")"
# Binary, through a pipe.
head -c 3000000 /dev/urandom >"$T/bin"
out=$(timeout 60 "$MAP" --pipe --block 256k -k exec cat <"$T/bin" | md5sum)
expect_eq "binary through a pipe" "$(md5sum <"$T/bin")" "$out"
# A function in the VM reads it too.
printf 'a\nb\n' >"$T/ab"
map --pipe upper <"$T/ab"
expect_eq "a function" "0 A
B" "$RC $OUT"
# An empty input runs nothing.
map --pipe exec cat </dev/null
expect_eq "empty input" "0 " "$RC $OUT"
# Refused.
map --pipe exec cat ::: a
expect_eq "--pipe with :::" 255 "$RC"
expect_match "--pipe with ::: says" "with --pipe the input is standard input" "$ERR"
map --pipe --block 0 exec cat </dev/null
expect_match "--block 0" "expected a size" "$ERR"
map --pipe --block 2G exec cat </dev/null
expect_match "--block 2G" "expected a size" "$ERR"
map --pipepart exec cat </dev/null
expect_match "--pipepart" "not built" "$ERR"
unmount
expect_no_nodes
