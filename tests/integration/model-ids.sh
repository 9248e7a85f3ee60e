#!/bin/bash
# Call ids that cross directories are paths from the mount (trickle(7),
# CALL IDS): .all/calls/new answers VM/calls/N, one per VM, and .done names
# calls VM/calls/N and .any/calls/N; each works as it is in
# cat MOUNT/ID/result and trickle-join MOUNT/ID (and from inside the
# mount, relative).  A VM's own calls/new and .any/calls/new answer the
# bare N: the id is relative to the directory that was opened.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"

J=$TRICKLE_JOIN
mount_local 3
cp "$BASIC_SO" "$M/.all/inject/" || fail "cp basic.so .all/inject/ failed"

# joins_as ID WANT: MOUNT/ID/result and trickle-join MOUNT/ID both give
# WANT.
joins_as() {
	expect_eq "cat \$M/$1/result" "$2" "$(timeout 30 cat "$M/$1/result")"
	expect_eq "trickle-join \$M/$1" "$2" "$(timeout 30 "$J" "$M/$1")"
}

# The clone idiom: bare numbers.
id=$(fork local1 "foo 1") || fail "fork on local1"
expect_match "local1/calls/new answers" '^[0-9]+$' "$id"
joins_as "local1/calls/$id" 2
id=$(fork .any "foo 2") || fail "fork on .any"
expect_match ".any/calls/new answers" '^[0-9]+$' "$id"
joins_as ".any/calls/$id" 4

# .all/calls/new: one path per VM, in VM order, each a call directory.
out=$(fork_all "foo 21") || fail "fork foo 21 on .all"
mapfile -t ids <<<"$out"
expect_eq "ids from .all: one per VM" 3 "${#ids[@]}"
expect_eq "the VMs of the ids" "local0 local1 local2" \
	"$(for id in "${ids[@]}"; do printf '%s ' "${id%%/*}"; done | sed 's/ $//')"
for id in "${ids[@]}"; do
	expect_match ".all id $id" '^local[0-2]/calls/[1-9][0-9]*$' "$id"
	[ -d "$M/$id" ] || fail "$M/$id is not a directory"
	expect_eq "args of $id" "foo 21" "$(cat "$M/$id/args")"
	joins_as "$id" 42
done
# All of them in one trickle-join, and relative to the mount as the
# examples use them.
expect_eq "trickle-join of every .all id" "42
42
42" "$(timeout 30 "$J" "${ids[@]/#/$M/}")"
expect_eq "trickle-join inside the mount" "42
42
42" "$(cd "$M" && timeout 30 "$J" $out)"
# An @VM line answers that VM's call's path.
out=$(fork_all "@local2 add 2 3") || fail "fork @local2 on .all"
expect_match "@local2 id" '^local2/calls/[0-9]+$' "$out"
joins_as "$out" 5

# .done: per-VM and .any calls, named by their paths; a failed one is
# joined as failed, with its path in trickle-join's message.
exec 4<"$M/.done" || fail "open .done"
a=$(fork local0 "sleeper 1") || fail "fork sleeper 1"
out=$(fork_all "@local2 fail 3") || fail "fork fail 3 on .all"
n=$(fork .any "foo 8") || fail "fork foo 8 on .any"
lines=()
for i in 1 2 3; do
	read -r -t 20 line <&4 || fail "read $i of .done: nothing in 20 s (got: ${lines[*]})"
	lines+=("$line")
done
exec 4<&-
printf '%s\n' "${lines[@]}" | sort >"$T/done.txt"
expect_eq ".done lines" "$(printf '%s\n' ".any/calls/$n done" \
	"local0/calls/$a done" "$out failed exit 3" | sort)" "$(cat "$T/done.txt")"
for line in "${lines[@]}"; do
	id=${line%% *}
	[ -d "$M/$id" ] || fail ".done's $id is not a directory of the mount"
	case $id in
	.any/*) joins_as "$id" 16 ;;
	local0/*) joins_as "$id" "slept 1" ;;
	local2/*)
		err=$(errno_of read "$M/$id/result")
		expect_eq "read of \$M/$id/result" EIO "$err"
		timeout 30 "$J" "$M/$id" >"$T/out" 2>"$T/err"
		expect_eq "trickle-join of a failed call: status" 1 $?
		expect_eq "trickle-join of a failed call: stderr" \
			"trickle-join: $M/$id: failed exit 3" "$(cat "$T/err")"
		;;
	*) fail "unexpected .done line: $line" ;;
	esac
done
