#!/bin/bash
# rm VM/inject/X uninstalls X: its functions (or program) are then "not
# found"; the VM works on, and X can be injected again.
. "$(dirname "$0")/lib.sh"

printf '#!/bin/sh\necho hi "$@"\n' >"$T/hi"
chmod +x "$T/hi"

mount_local 1
inject local0 "$BASIC_SO"
inject local0 "$T/hi"
expect_eq "foo" 2 "$(call local0 "foo 1")"
expect_eq "hi" "hi there" "$(call local0 "hi there")"

rm "$M/local0/inject/basic.so" || fail "rm inject/basic.so failed"
expect_ls "$M/local0/inject" hi
[ -e "$M/local0/inject/basic.so" ] && fail "basic.so still exists after rm"
id=$(fork local0 "foo 1") || fail "fork foo after rm"
result_fails local0 "$id"
expect_eq "status" "failed function not found: foo" "$(status local0 "$id")"
expect_eq "hi after rm of basic.so" "hi" "$(call local0 hi)"

rm "$M/local0/inject/hi" || fail "rm inject/hi failed"
expect_ls "$M/local0/inject"
id=$(fork local0 "hi") || fail "fork hi after rm"
result_fails local0 "$id"
expect_eq "status" "failed function not found: hi" "$(status local0 "$id")"
expect_errno "rm of a missing file" ENOENT unlink "$M/local0/inject/hi"

# Injected again: works again.
inject local0 "$BASIC_SO"
expect_eq "foo after re-inject" 6 "$(call local0 "foo 3")"
expect_ls "$M/local0/inject" basic.so
