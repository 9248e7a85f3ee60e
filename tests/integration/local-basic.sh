#!/bin/bash
# The example: inject basic.so, fork "foo 10", read 20 back.
. "$(dirname "$0")/lib.sh"

mount_local 1
expect_ls "$M/local0/inject"
inject local0 "$BASIC_SO"
expect_ls "$M/local0/inject" basic.so

id=$(fork local0 "foo 10") || fail "fork foo 10"
expect_match "call id" '^[0-9]+$' "$id"
expect_eq "foo 10" 20 "$(result local0 "$id")"
expect_eq "status" done "$(status local0 "$id")"
expect_ls "$M/local0/calls" "$id" new
