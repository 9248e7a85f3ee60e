#!/bin/bash
# .all/inject/: cp there installs on every VM (ls, functions/, calls work
# on each); a file every VM refuses fails the cp and is installed nowhere;
# rm there uninstalls from every VM; a VM that restarts (a crash, ctl
# restart) gets the code back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"

mount_local 3
expect_ls "$M/.all" calls data inject
expect_ls "$M/.all/inject"
cp "$BASIC_SO" "$M/.all/inject/" || fail "cp basic.so .all/inject/ failed"
expect_ls "$M/.all/inject" basic.so
for vm in local0 local1 local2; do
	expect_ls "$M/$vm/inject" basic.so
	[ -e "$M/$vm/functions/foo" ] || fail "$vm/functions has no foo"
done
expect_eq "foo on local0" 2 "$(call local0 "foo 1")"
expect_eq "foo on local1" 4 "$(call local1 "foo 2")"
expect_eq "foo on local2" 6 "$(call local2 "foo 3")"
# Each VM has its own state.
expect_eq "counter local0" 1 "$(call local0 counter)"
expect_eq "counter local0" 2 "$(call local0 counter)"
expect_eq "counter local2" 1 "$(call local2 counter)"

# Junk: refused by every VM, the cp fails, nothing is installed.
echo "just some text" >"$T/notes.txt"
expect_errno "cp of junk into .all/inject/" ENOEXEC cp "$T/notes.txt" "$M/.all/inject/notes.txt"
expect_ls "$M/.all/inject" basic.so
for vm in local0 local1 local2; do
	expect_ls "$M/$vm/inject" basic.so
done
expect_eq "counter local0 after the refusal" 3 "$(call local0 counter)"

# A program through .all too.
printf '#!/bin/sh\necho "hi $*"\n' >"$T/hi"
chmod +x "$T/hi"
cp "$T/hi" "$M/.all/inject/" || fail "cp hi .all/inject/ failed"
expect_ls "$M/.all/inject" basic.so hi
expect_eq "hi on local1" "hi there" "$(call local1 "hi there")"

# A VM that crashes, or is restarted, gets what .all installed back.
id=$(fork local1 crash) || fail "fork crash"
result_fails local1 "$id"
expect_eq "foo on local1 after a crash" 10 "$(call local1 "foo 5")"
expect_eq "hi on local1 after a crash" "hi again" "$(call local1 "hi again")"
write_to "$M/local2/ctl" restart >/dev/null || fail "restart local2"
expect_eq "foo on local2 after a restart" 12 "$(call local2 "foo 6")"
expect_ls "$M/local2/inject" basic.so hi

# rm from .all: gone from every VM.
rm "$M/.all/inject/basic.so" || fail "rm .all/inject/basic.so failed"
expect_ls "$M/.all/inject" hi
for vm in local0 local1 local2; do
	expect_ls "$M/$vm/inject" hi
	[ -e "$M/$vm/functions/foo" ] && fail "$vm/functions/foo still there after rm"
	id=$(fork $vm "foo 1") || fail "fork foo on $vm"
	result_fails $vm "$id"
	expect_eq "foo on $vm after rm" "failed function not found: foo" "$(status $vm "$id")"
	expect_eq "hi on $vm after rm of basic.so" "hi x" "$(call $vm "hi x")"
done
expect_errno "rm of a missing .all/inject file" ENOENT unlink "$M/.all/inject/basic.so"

# A restart after the rm does not bring it back.
write_to "$M/local0/ctl" restart >/dev/null || fail "restart local0"
id=$(fork local0 "foo 1") || fail "fork foo"
result_fails local0 "$id"
expect_ls "$M/local0/inject" hi
