#!/bin/bash
# rmdir VM/calls/N forgets an ended call and its output: gone from ls, its
# files gone (ENOENT).  A queued or running call cannot be removed
# (EBUSY); a missing one: ENOENT.  rm of one of its files does not
# remove output (rm -rf: model-rm-rf.sh).  Ids are not reused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"

mount_local 1
V=local0
inject $V "$BASIC_SO"
a=$(fork $V "foo 1") || fail "fork"
b=$(fork $V "fail 2") || fail "fork"
expect_eq "a" 2 "$(result $V "$a")"
result_fails $V "$b"
expect_ls "$M/$V/calls" new "$a" "$b"

# The node keeps each ended call (its log of ended calls, vm0/ended: the
# last line of an id with a state of 2 and up; node/vm/callstore.c).
node_ended=$(find "$T/run" -type f -path '*/vm0/ended' | head -n 1)
node_keeps() {
	awk -v id="$1" '$1 == id && $2 != "@" { s = $2 } END { exit !(s >= 2) }' \
		"$node_ended"
}
node_keeps "$a" || fail "the node does not keep call $a"
rmdir "$M/$V/calls/$a" || fail "rmdir of a done call failed"
node_keeps "$a" && fail "the node still keeps call $a: $(grep "^$a " "$node_ended")"
node_keeps "$b" || fail "call $b's output on the node is gone too"
expect_ls "$M/$V/calls" new "$b"
[ -e "$M/$V/calls/$a" ] && fail "calls/$a still exists"
expect_errno "cat of a removed call" ENOENT read "$M/$V/calls/$a/result"
rmdir "$M/$V/calls/$b" || fail "rmdir of a failed call failed"
expect_ls "$M/$V/calls" new
expect_errno "second rmdir" ENOENT rmdir "$M/$V/calls/$b"
expect_errno "rmdir of a missing call" ENOENT rmdir "$M/$V/calls/999"

# Running and queued calls: EBUSY, and they go on.
c=$(fork $V "sleeper 2") || fail "fork"
d=$(fork $V "foo 3") || fail "fork"
wait_running $V "$c"
expect_errno "rmdir of a running call" EBUSY rmdir "$M/$V/calls/$c"
expect_errno "rmdir of a queued call" EBUSY rmdir "$M/$V/calls/$d"
expect_ls "$M/$V/calls" new "$c" "$d"
expect_eq "the running call" "slept 2" "$(result $V "$c")"
expect_eq "the queued call" 6 "$(result $V "$d")"
rmdir "$M/$V/calls/$c" "$M/$V/calls/$d" || fail "rmdir after they ended failed"
expect_ls "$M/$V/calls" new

# A call's files are not removed one by one: rm of an ended call's result
# is accepted and does nothing (rm -rf: model-rm-rf.sh).
e=$(fork $V "foo 4") || fail "fork"
expect_eq "e" 8 "$(result $V "$e")"
rm -f "$M/$V/calls/$e/result" || fail "rm of an ended call's result"
expect_ls "$M/$V/calls/$e" args attempts ctl result status stderr stdout
expect_eq "result after rm" 8 "$(result $V "$e")"
expect_errno "rmdir calls/new" ENOTDIR rmdir "$M/$V/calls/new"
[ -e "$M/$V/calls/new" ] || fail "calls/new is gone"

# Ids are not reused after a removal.
f=$(fork $V "foo 5") || fail "fork"
[ "$f" -gt "$e" ] || fail "id $f after removing calls up to $e"
expect_eq "f" 10 "$(result $V "$f")"
