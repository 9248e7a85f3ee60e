#!/bin/bash
# Executables become programs callable by their file name: a #! script and
# an ELF executable (a copy of /bin/echo).  Arguments follow shell quoting.
. "$(dirname "$0")/lib.sh"

printf '#!/bin/sh\nprintf "[%%s]\\n" "$0" "$@"\necho "to stderr" >&2\nexit 0\n' >"$T/showargs"
chmod 755 "$T/showargs"
cp /bin/echo "$T/myecho"
chmod 755 "$T/myecho"

mount_local 1
inject local0 "$T/showargs"
inject local0 "$T/myecho"
expect_ls "$M/local0/inject" showargs myecho

expect_eq "myecho" "hello world" "$(call local0 "myecho hello world")"
id=$(fork local0 "showargs 'a b' \"c  d\" e\\ f '' g") || fail "fork showargs"
out=$(result local0 "$id") || fail "showargs failed: $(status local0 "$id")"
expect_eq "showargs argv[1..]" "[a b]
[c  d]
[e f]
[]
[g]" "$(echo "$out" | tail -n +2)"
expect_match "showargs argv[0]" 'showargs\]$' "$(echo "$out" | head -n 1)"
expect_eq "showargs stderr" "to stderr" "$(cat "$M/local0/calls/$id/stderr")"
expect_eq "status" done "$(status local0 "$id")"

# A program's exit status is the call's.
printf '#!/bin/sh\necho partial\nexit 5\n' >"$T/five"
chmod +x "$T/five"
inject local0 "$T/five"
id=$(fork local0 five) || fail "fork five"
result_fails local0 "$id"
expect_eq "status" "failed exit 5" "$(status local0 "$id")"
expect_eq "stdout" partial "$(cat "$M/local0/calls/$id/stdout")"

# Programs and shared objects side by side.
inject local0 "$BASIC_SO"
expect_eq "foo" 2 "$(call local0 "foo 1")"
expect_eq "myecho" "x" "$(call local0 "myecho x")"
