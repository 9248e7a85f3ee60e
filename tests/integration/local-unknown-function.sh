#!/bin/bash
# Calling a function that is not there: "failed function not found: bar",
# with and without anything injected; the VM goes on working.
. "$(dirname "$0")/lib.sh"

mount_local 1
id=$(fork local0 "foo 1") || fail "fork foo 1 (nothing injected)"
result_fails local0 "$id"
expect_eq "status" "failed function not found: foo" "$(status local0 "$id")"

inject local0 "$BASIC_SO"
id=$(fork local0 "bar 1 2") || fail "fork bar"
result_fails local0 "$id"
expect_eq "status" "failed function not found: bar" "$(status local0 "$id")"
expect_eq "args" "bar 1 2" "$(cat "$M/local0/calls/$id/args")"
expect_eq "foo after" 2 "$(call local0 "foo 1")"
