#!/bin/bash
# The clone idiom with echo -n: a read of the ids ends the pending line
# (forks it) and returns its id, on a VM and on .any.  Call directories
# have nanosecond mtimes (their fork time), so ls -t lists the newest
# first; calls/last is a symlink to the last call forked there, found by
# name but not listed.
# What ls shows is what is tested here.
# shellcheck disable=SC2010,SC2012
. "$(dirname "$0")/lib.sh"

mount_local 2
inject local0 "$BASIC_SO"
inject local1 "$BASIC_SO"

# No call yet: no calls/last.
[ -e "$M/local0/calls/last" ] && fail "calls/last exists before any call"
readlink "$M/local0/calls/last" && fail "readlink of calls/last before a call"

for dir in local0 .any; do
	exec 3<>"$M/$dir/calls/new" || fail "open $dir/calls/new"
	echo -n "foo 21" >&3 || fail "echo -n to $dir/calls/new"
	read -r -t 10 id <&3 || fail "$dir: no id read back after echo -n"
	exec 3>&-
	[[ $id =~ ^[0-9]+$ ]] || fail "$dir: id '$id' is not a number"
	expect_eq "$dir: the echo -n call's result" 42 \
		"$(timeout 30 cat "$M/$dir/calls/$id/result")"
	expect_eq "$dir: args" "foo 21" "$(cat "$M/$dir/calls/$id/args")"
	expect_eq "$dir: readlink calls/last" "$id" \
		"$(readlink "$M/$dir/calls/last")"
	expect_eq "$dir: calls/last/result" 42 \
		"$(timeout 30 cat "$M/$dir/calls/last/result")"
	ls "$M/$dir/calls" | grep -qx last &&
		fail "$dir: ls calls lists last: $(ls "$M/$dir/calls" | tr '\n' ' ')"
done

# A line still pending with ids not read yet: the read gives both ids,
# in order, and each call runs its own line.
exec 3<>"$M/local1/calls/new" || fail "open local1/calls/new"
printf 'foo 1\nfoo 2' >&3 || fail "a line and a half"
read -r -t 10 a <&3 || fail "no first id"
read -r -t 10 b <&3 || fail "no id for the pending line"
exec 3>&-
expect_eq "first of two" 2 "$(result local1 "$a")"
expect_eq "pending one" 4 "$(result local1 "$b")"

# A bad pending line: the read fails (EINVAL), nothing is forked, and the
# opener goes on with the next line.
before=$(ls "$M/local1/calls" | wc -l)
exec 3<>"$M/local1/calls/new" || fail "open local1/calls/new"
echo -n "foo 'unclosed" >&3 || fail "write of a bad line"
read -r -t 10 bad <&3 && fail "a bad pending line read back '$bad'"
expect_eq "calls after a bad pending line" "$before" \
	"$(ls "$M/local1/calls" | wc -l)"
echo -n "foo 5" >&3 || fail "write after the bad line"
read -r -t 10 good <&3 || fail "no id after a bad line"
exec 3>&-
expect_eq "after a bad line" 10 "$(result local1 "$good")"

# Calls forked in quick succession: ls -t puts the last one first, and
# calls/last is it, while every one of them still runs (their state
# changes do not reorder them).
before=$(ls "$M/local0/calls" | wc -l)
ids=()
for i in 1 2 3 4 5; do
	ids+=("$(fork local0 "sleeper 1")") || fail "fork $i"
done
newest=${ids[4]}
expect_eq "ls -t calls | head -1" "$newest" \
	"$(ls -t "$M/local0/calls" | grep -v '^new$' | head -n 1)"
expect_eq "readlink calls/last" "$newest" "$(readlink "$M/local0/calls/last")"
# ns mtimes: the five are five different times.
n=$(for i in "${ids[@]}"; do stat -c %y "$M/local0/calls/$i"; done |
	sort -u | wc -l)
expect_eq "distinct mtimes of 5 calls" 5 "$n"
for i in "${ids[@]}"; do
	expect_eq "sleeper $i" "slept 1" "$(result local0 "$i")"
done
expect_eq "ls -t calls | head -1 after they ended" "$newest" \
	"$(ls -t "$M/local0/calls" | grep -v '^new$' | head -n 1)"
# ls calls counts calls (and new), not last.
expect_eq "ls calls | wc -l" $((before + ${#ids[@]})) \
	"$(ls "$M/local0/calls" | wc -l)"

# Removed, the last call leaves no calls/last.
rmdir "$M/local0/calls/$newest" || fail "rmdir of the last call"
[ -e "$M/local0/calls/last" ] && fail "calls/last after its call was removed"
true
