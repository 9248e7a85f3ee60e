#!/bin/bash
# Every call directory has a read-only attempts file: a line per run,
# "N VM NODE START END OUTCOME".  A call that ran once has one line, done;
# one that failed says how; a running one says running; a .any call's
# file (and its VM half's) names the VM it ran on.  ls -l gives its size.
. "$(dirname "$0")/lib.sh"

mount_local 2
cp "$BASIC_SO" "$M/.all/inject/" || fail "cp basic.so .all/inject/"
TIME='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}'

# attempts PATH: its text, checked against ls -l's size.
attempts() {
	local text size
	text=$(timeout 10 cat "$1/attempts") || fail "cat $1/attempts"
	size=$(stat -c %s "$1/attempts") || fail "stat $1/attempts"
	expect_eq "size of $1/attempts" "$(timeout 10 cat "$1/attempts" | wc -c)" "$size"
	printf '%s\n' "$text"
}

id=$(fork local0 "foo 10") || fail "fork foo 10"
expect_eq "result" 20 "$(result local0 "$id")"
expect_ls "$M/local0/calls/$id" args attempts ctl result status stderr stdout
a=$(attempts "$M/local0/calls/$id") || exit 1
expect_eq "lines of a call that ran once" 1 "$(wc -l <<<"$a")"
expect_match "its run" "^1 local0 local $TIME $TIME done\$" "$a"
expect_match "mode" '^-r--r--r--' "$(ls -l "$M/local0/calls/$id/attempts")"
expect_errno "writing attempts" EACCES write "$M/local0/calls/$id/attempts" x

id=$(fork local1 "fail 3") || fail "fork fail 3"
result_fails local1 "$id"
a=$(attempts "$M/local1/calls/$id") || exit 1
expect_eq "lines of a failed call" 1 "$(wc -l <<<"$a")"
expect_match "its run" "^1 local1 local $TIME $TIME failed exit 3\$" "$a"

id=$(fork local0 "sleeper 2") || fail "fork sleeper"
wait_for eval '[ "$(status local0 "$id")" = running ]' || fail "sleeper not running"
expect_match "a running call's run" "^1 local0 local $TIME - running\$" \
	"$(attempts "$M/local0/calls/$id")"
expect_eq "sleeper" "slept 2" "$(result local0 "$id")"
expect_match "then done" "^1 local0 local $TIME $TIME done\$" \
	"$(attempts "$M/local0/calls/$id")"

# .any: the run names the VM it went to, and that VM's call shows the same.
id=$(fork .any "foo 21") || fail "fork .any foo 21"
expect_eq ".any result" 42 "$(timeout 30 cat "$M/.any/calls/$id/result")"
expect_ls "$M/.any/calls/$id" args attempts ctl result status stderr stdout vm
vm=$(cat "$M/.any/calls/$id/vm")
a=$(attempts "$M/.any/calls/$id") || exit 1
expect_eq "lines of a .any call" 1 "$(wc -l <<<"$a")"
expect_match ".any run" "^1 $vm local $TIME $TIME done\$" "$a"
half=$(grep -lx "foo 21" "$M/$vm"/calls/*/args) || fail "no call of $vm runs foo 21"
expect_eq "the VM half's attempts" "$a" "$(attempts "${half%/args}")"
