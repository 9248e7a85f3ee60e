#!/bin/bash
# A line split across two writes is one call; two lines in one write are
# two calls, and a partial last line waits for the rest (when no read
# of the ids ends it first).
. "$(dirname "$0")/lib.sh"

mount_local 1
inject local0 "$BASIC_SO"

exec 3<>"$M/local0/calls/new" || fail "open calls/new"
printf 'add 1' >&3 || fail "first half"
# Nothing forked yet: no call listed.  (A read of the ids here would end
# the line and fork it: local-clone-idiom.sh.)
expect_ls "$M/local0/calls" new
printf '0 5\n' >&3 || fail "second half"
read -r -t 10 id <&3 || fail "no id after the second half"

# Two lines and the start of a third in one write, the rest in another.
printf "add 1 1\nadd 2 2\nadd '3' " >&3 || fail "two lines and a half"
printf '3\n' >&3 || fail "end of the third line"
read -r -t 10 id2 <&3 || fail "no id for the second call"
read -r -t 10 id3 <&3 || fail "no id for the third call"
read -r -t 10 id4 <&3 || fail "no id for the fourth call"
exec 3>&-

expect_eq "split line" 15 "$(result local0 "$id")"
expect_eq "args" "add 10 5" "$(cat "$M/local0/calls/$id/args")"
expect_eq "second" 2 "$(result local0 "$id2")"
expect_eq "third" 4 "$(result local0 "$id3")"
expect_eq "fourth (split)" 6 "$(result local0 "$id4")"
expect_ls "$M/local0/calls" "$id" "$id2" "$id3" "$id4" new
