#!/bin/bash
# The tree of a mount with several VMs: local0..local3, each with calls/
# (holding "new") and inject/; every VM is its own.
. "$(dirname "$0")/lib.sh"

mount_local 4
expect_ls "$M" .all .any .ctl .done .log local0 local1 local2 local3
for vm in local0 local1 local2 local3; do
	expect_ls "$M/$vm" calls checkpoints ctl data functions info inject objects
	expect_ls "$M/$vm/calls" new
	expect_ls "$M/$vm/inject"
	[ -d "$M/$vm/calls" ] && [ -d "$M/$vm/inject" ] && [ -f "$M/$vm/calls/new" ] ||
		fail "$vm: wrong file types"
done
[ -e "$M/local4" ] && fail "local4 exists"
expect_errno "mkdir in the root" EPERM mkdir "$M/local4"

# Injecting into one VM does not show in another.
inject local2 "$BASIC_SO"
expect_ls "$M/local2/inject" basic.so
expect_ls "$M/local1/inject"
expect_eq "local2 foo" 6 "$(call local2 "foo 3")"
id=$(fork local1 "foo 3") || fail "fork on local1"
result_fails local1 "$id"
expect_ls "$M/local1/calls" "$id" new
