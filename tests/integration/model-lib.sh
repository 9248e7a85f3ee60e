# shellcheck shell=bash
# tests/integration/model-lib.sh - more helpers for the model-*.sh tests
# (trickle(7): .all, .done, built-ins, functions/, objects/, info, ctl...).
# Not a test itself; source it after lib.sh:
#
#	. "$(dirname "$0")/lib.sh"
#	. "$(dirname "$0")/model-lib.sh"
#
# Variables: STACK_SO (examples/stack), TRICKLE_JOIN (utils/trickle-join),
# as lib.sh's need_var finds them.

need_var STACK_SO stack.so
need_var TRICKLE_JOIN trickle-join

# fork_all LINES: write LINES (in one write) to .all/calls/new; prints what
# reads back (VM/calls/N lines).  Fails when the write fails.
fork_all() {
	printf '%s\n' "$1" >"$T/fork_all.txt"
	exec 3<>"$M/.all/calls/new" || return 1
	cat "$T/fork_all.txt" >&3 || { exec 3>&-; return 1; }
	cat <&3
	exec 3>&-
}

# write_to FILE TEXT: TEXT and a newline to FILE in one write(2) (bash's
# printf writes a line at a time); prints the errno name if it fails
# (EINVAL; nothing if it works), and returns 1 then.
write_to() {
	local err
	err=$(errno_of write "$1" "$2") && return 0
	echo "$err"
	return 1
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
