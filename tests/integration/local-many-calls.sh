#!/bin/bash
# 200 calls forked by ONE write of 200 lines: the same fd reads back 200
# ids, one per line, in order; every call ran with its own line.
. "$(dirname "$0")/lib.sh"

mount_local 1
inject local0 "$BASIC_SO"
for i in $(seq 1 200); do echo "add $i $((i * 1000))"; done >"$T/lines"
size=$(stat -c %s "$T/lines")

exec 3<>"$M/local0/calls/new" || fail "open calls/new"
# dd reads the whole file in one read and writes it with one write(2)
# to its stdout, our fd 3.
dd if="$T/lines" bs=1M count=1 status=none >&3 || fail "the write of 200 lines failed"
ids=()
for i in $(seq 1 200); do
	read -r -t 20 id <&3 || fail "only $((i - 1)) ids read back"
	ids+=("$id")
done
exec 3>&-
expect_eq "distinct ids" 200 "$(printf '%s\n' "${ids[@]}" | sort -u | wc -l)"
expect_eq "ids in order" "$(printf '%s\n' "${ids[@]}" | sort -n)" "$(printf '%s\n' "${ids[@]}")"
expect_ls "$M/local0/calls" "${ids[@]}" new

for i in $(seq 1 200); do
	id=${ids[$((i - 1))]}
	expect_eq "result of call $id" $((i * 1001)) "$(result local0 "$id")"
	expect_eq "args of call $id" "add $i $((i * 1000))" "$(cat "$M/local0/calls/$id/args")"
done
echo "200 calls from one write of $size bytes"
