#!/bin/bash
# A malformed line (unterminated quote) makes its write fail with EINVAL;
# no call is made, and the VM and calls/new go on working.
. "$(dirname "$0")/lib.sh"

mount_local 1
inject local0 "$BASIC_SO"

exec 3<>"$M/local0/calls/new" || fail "open calls/new"
( printf "foo 'unterminated\n" >&3 ) 2>"$T/w.err" && fail "writing an unterminated quote succeeded"
grep -q "Invalid argument" "$T/w.err" || fail "expected EINVAL, got '$(cat "$T/w.err")'"
exec 3>&-
( printf 'foo "also unterminated\n' >"$M/local0/calls/new" ) 2>"$T/w.err" &&
	fail "writing an unterminated double quote succeeded"
grep -q "Invalid argument" "$T/w.err" || fail "expected EINVAL, got '$(cat "$T/w.err")'"
expect_ls "$M/local0/calls" new
expect_eq "foo after" 8 "$(call local0 "foo 4")"
