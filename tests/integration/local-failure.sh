#!/bin/bash
# A call that exits non-zero: status "failed exit 3", reading result fails
# (EIO), stdout and stderr are still there; a later call works.
. "$(dirname "$0")/lib.sh"

mount_local 1
inject local0 "$BASIC_SO"

id=$(fork local0 "fail 3") || fail "fork fail 3"
expect_errno "reading the result of 'fail 3'" EIO read "$M/local0/calls/$id/result"
expect_eq "status" "failed exit 3" "$(status local0 "$id")"
expect_eq "stdout" "some output" "$(cat "$M/local0/calls/$id/stdout")"
expect_eq "stderr" "failing with 3" "$(cat "$M/local0/calls/$id/stderr")"
expect_eq "args" "fail 3" "$(cat "$M/local0/calls/$id/args")"

# Other exit codes are reported as such; success afterwards.
id=$(fork local0 "fail 42") || fail "fork fail 42"
result_fails local0 "$id"
expect_eq "status" "failed exit 42" "$(status local0 "$id")"
expect_eq "foo after failures" 14 "$(call local0 "foo 7")"
