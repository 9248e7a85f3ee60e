#!/bin/bash
# rm -rf VM/calls/N removes an ended call (its files are unlinked as a
# no-op, then the directory goes as with rmdir); a running one is refused
# (EBUSY) with a message in the log that says to cancel it first, and is
# left whole; nothing else is lost.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"

mount_local 1
V=local0
inject $V "$BASIC_SO"
a=$(fork $V "foo 1") || fail "fork"
b=$(fork $V "foo 2") || fail "fork"
expect_eq "a" 2 "$(result $V "$a")"
expect_eq "b" 4 "$(result $V "$b")"

# An ended call: rm -rf works, and its neighbour and inject/ stay.
rm -rf "$M/$V/calls/$a" || fail "rm -rf of an ended call failed"
[ -e "$M/$V/calls/$a" ] && fail "calls/$a still there after rm -rf"
expect_ls "$M/$V/calls" new "$b"
expect_eq "b after a's rm -rf" 4 "$(result $V "$b")"
# rm of one file of an ended call is accepted; the file is still there
# until the call goes.
rm -f "$M/$V/calls/$b/stdout" || fail "rm of an ended call's stdout"
expect_eq "b's result after rm of its stdout" 4 "$(result $V "$b")"

# A running call: refused, with the reason and the fix in the log.
c=$(fork $V "sleeper 3") || fail "fork"
wait_running $V "$c"
out=$(rm -rf "$M/$V/calls/$c" 2>&1) && fail "rm -rf of a running call worked"
echo "$out" | grep -q "Device or resource busy" ||
	fail "rm -rf of a running call: '$out'"
wait_for grep -q "call $c is running: cancel it first (echo cancel > calls/$c/ctl)" "$LOG" ||
	fail "no message for rm -rf of a running call: $(tail -n 5 "$LOG")"
expect_ls "$M/$V/calls/$c" args attempts ctl result status stderr stdout
expect_eq "the running call" "slept 3" "$(result $V "$c")"
rm -rf "$M/$V/calls/$c" || fail "rm -rf once it ended"
expect_ls "$M/$V/calls" new "$b"

# rm -rf of a call's whole calls/ leaves new (and refuses it).
rm -rf "$M/$V/calls" 2>/dev/null && fail "rm -rf of calls/ worked"
expect_ls "$M/$V/calls" new
expect_eq "a call after all that" 10 "$(call $V "foo 5")"
true
