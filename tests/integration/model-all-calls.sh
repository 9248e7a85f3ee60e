#!/bin/bash
# .all/calls/new: a line forks on every VM and reads back VM/calls/N (the
# call's path from the mount) for each, in VM order; "@VM line" forks on
# that VM only (a batch of them is the paper's fork(vmlist, funclist,
# arglist)); a bad @VM (no such VM, or nothing after it) fails the write
# with EINVAL and forks nothing of it.  model-ids.sh uses the paths.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"

mount_local 2
cp "$BASIC_SO" "$M/.all/inject/" || fail "cp basic.so .all/inject/ failed"
expect_ls "$M/.all/calls" new

out=$(fork_all "foo 21") || fail "fork foo 21 on .all"
expect_eq "ids of 'foo 21' on .all" "local0/calls/1
local1/calls/1" "$out"
expect_eq "local0 result" 42 "$(result local0 1)"
expect_eq "local1 result" 42 "$(result local1 1)"
expect_eq "local1 args" "foo 21" "$(cat "$M/local1/calls/1/args")"

# Several lines in one write; then @VM lines.
out=$(fork_all "counter
add 1 2") || fail "fork two lines on .all"
expect_eq "ids of two lines" "local0/calls/2
local1/calls/2
local0/calls/3
local1/calls/3" "$out"
expect_eq "add on local1" 3 "$(result local1 3)"
out=$(fork_all "@local1 foo 5
@local0 add 2 3
@local1 counter") || fail "fork @VM lines"
expect_eq "ids of @VM lines" "local1/calls/4
local0/calls/4
local1/calls/5" "$out"
expect_eq "@local1 foo 5" 10 "$(result local1 4)"
expect_eq "@local0 add 2 3" 5 "$(result local0 4)"
expect_eq "@local1 counter: the second on local1" 2 "$(result local1 5)"
expect_eq "args of an @VM line (without @VM)" "add 2 3" "$(cat "$M/local0/calls/4/args")"
expect_ls "$M/local0/calls" new 1 2 3 4
expect_ls "$M/local1/calls" new 1 2 3 4 5
# Quoting and NAME=VALUE words after @VM.
out=$(fork_all "@local0 FOO='a b' exec printenv FOO") || fail "fork @local0 with env"
expect_eq "id" "local0/calls/5" "$out"
expect_eq "env after @VM" "a b" "$(result local0 5)"

# Bad @VM lines fail the write (EINVAL) and fork nothing of it, on no VM.
for bad in "@nosuchvm foo 1" "@local0" "foo 1
@nosuchvm foo 2" "@local0 foo 1
@ foo 2" "foo 'unterminated"; do
	err=$(write_to "$M/.all/calls/new" "$bad") && fail "writing '$bad' to .all/calls/new succeeded"
	expect_eq "error of '$bad'" EINVAL "$err"
done
expect_ls "$M/local0/calls" new 1 2 3 4 5
expect_ls "$M/local1/calls" new 1 2 3 4 5
# The VMs are fine, and a good write on the same open file after a bad one
# still forks.
exec 3<>"$M/.all/calls/new"
expect_errno "a bad @VM write on an open .all/calls/new" EINVAL writefd 3 '@nosuchvm foo 1'
expect_errno "a good write after a bad one" OK writefd 3 '@local1 foo 8'
read -r h <&3
exec 3>&-
expect_eq "id after a bad write" local1/calls/6 "$h"
expect_eq "result after a bad write" 16 "$(result local1 6)"

# .all has no calls of its own to list, and @VM is not for a VM's own
# calls/new: there it is just a (missing) function name.
id=$(fork local0 "@local1 foo 1") || fail "fork @local1 on local0"
result_fails local0 "$id"
expect_match "status of @local1 on local0" '^failed function not found' "$(status local0 "$id")"
