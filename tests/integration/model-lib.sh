# shellcheck shell=bash
# tests/integration/model-lib.sh - more helpers for the model-*.sh tests
# (trickle(7): .all, .done, built-ins, functions/, objects/, info, ctl...).
# Not a test itself; source it after lib.sh:
#
#	. "$(dirname "$0")/lib.sh"
#	. "$(dirname "$0")/model-lib.sh"
#
# Variables: STACK_SO (examples/stack), TRICKLE_JOIN (utils/trickle-join),
# PAPER_SO (examples/paper; may be unset: the examples build it then).
# meson passes them; by hand they default to the build/ tree.

STACK_SO=${STACK_SO:-$SRCROOT/build/examples/stack.so}
TRICKLE_JOIN=${TRICKLE_JOIN:-$SRCROOT/build/utils/trickle-join}
for _f in "$STACK_SO" "$TRICKLE_JOIN"; do
	[ -e "$_f" ] || { echo "ERROR: $_f not built" >&2; exit 99; }
done

# fork_all LINES: write LINES (in one write) to .all/calls/new; prints what
# reads back (VM/N lines).  Fails when the write fails.
fork_all() {
	printf '%s\n' "$1" >"$T/fork_all.txt"
	exec 3<>"$M/.all/calls/new" || return 1
	cat "$T/fork_all.txt" >&3 || { exec 3>&-; return 1; }
	cat <&3
	exec 3>&-
}

# write_to FILE TEXT: TEXT and a newline to FILE in one write(2) (bash's
# printf writes a line at a time; cat a whole file at once); prints the
# error of the write, if any ("Invalid argument"), and returns its status.
write_to() {
	local err rc
	printf '%s\n' "$2" >"$T/write_to.txt"
	err=$( { cat "$T/write_to.txt" >"$1"; } 2>&1 )
	rc=$?
	[ -n "$err" ] && echo "${err##*: }"
	return $rc
}

# result_fails VM ID: the result read fails with EIO (the call did not
# succeed), or the test fails.
result_fails() {
	local err
	err=$(timeout 30 cat "$M/$1/calls/$2/result" 2>&1 >/dev/null) &&
		fail "cat $1/calls/$2/result succeeded ($(status "$1" "$2"))"
	expect_match "cat $1/calls/$2/result" 'Input/output error' "$err"
}

# state_is VM ID WORD: the status's first word is WORD (for wait_for).
state_is() {
	[ "$(status "$1" "$2" 2>/dev/null | cut -d' ' -f1)" = "$3" ]
}

# wait_running VM ID: until the call runs, or fail.
wait_running() {
	wait_for state_is "$1" "$2" running ||
		fail "call $1/$2 not running: $(status "$1" "$2")"
}

# info_key VM KEY: the value of "KEY: value" in VM/info.
info_key() {
	timeout 10 cat "$M/$1/info" | sed -n "s/^$2: //p"
}
