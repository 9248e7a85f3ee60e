#!/bin/bash
# ls -l and stat give the real sizes of the tree's text files: VM/info
# (built at stat and kept briefly, so that a cat after it reads the same
# bytes) and MOUNT/.ctl; a call's status, args and attempts.
. "$(dirname "$0")/lib.sh"

mount_local 2
inject local0 "$BASIC_SO"
id=$(fork local0 "foo 4") || fail "fork"
expect_eq "foo 4" 8 "$(result local0 "$id")"

# same_size FILE: stat's size is what cat reads.  info's text changes
# with time (bytes sent, seconds mounted): it is kept for two seconds
# after a stat, so allow a retry on a slow machine.
same_size() {
	local s n try
	for try in 1 2 3; do
		s=$(timeout 10 stat -c %s "$1") || fail "stat $1"
		n=$(timeout 10 cat "$1" | wc -c) || fail "cat $1"
		[ "$s" = "$n" ] && [ "$s" -gt 0 ] && return 0
	done
	fail "$1: stat says $s bytes, cat reads $n"
}

same_size "$M/local0/info"
same_size "$M/local1/info"
same_size "$M/.ctl"
same_size "$M/local0/calls/$id/status"
same_size "$M/local0/calls/$id/args"
same_size "$M/local0/calls/$id/attempts"

# ls -l shows info with its size, not 0.
size=$(timeout 10 ls -l "$M/local0" | awk '$NF == "info" { print $5 }')
[ -n "$size" ] && [ "$size" -gt 0 ] || fail "ls -l: info is '$size' bytes"
true
