#!/bin/bash
# A malformed line (unterminated quote) makes its write fail with EINVAL;
# no call is made, and the VM and calls/new go on working.
. "$(dirname "$0")/lib.sh"

mount_local 1
inject local0 "$BASIC_SO"

exec 3<>"$M/local0/calls/new" || fail "open calls/new"
expect_errno "writing an unterminated quote" EINVAL writefd 3 "foo 'unterminated"
exec 3>&-
expect_errno "writing an unterminated double quote" EINVAL \
	write "$M/local0/calls/new" 'foo "also unterminated'
expect_ls "$M/local0/calls" new
expect_eq "foo after" 8 "$(call local0 "foo 4")"
