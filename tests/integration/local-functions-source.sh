#!/bin/bash
# functions/NAME says which file a name comes from (source: FILE, or
# built-in), that file's SHA-256 (as sha256sum prints it) and what it
# shadows.  The rule: an injected program, then the shared object
# injected last, then the built-in; a shadowed name is logged.
. "$(dirname "$0")/lib.sh"

sum() { sha256sum <"$1" | cut -d' ' -f1; }

# Two objects that both define echo, and a program named echo.
for v in one two; do
	cat >"$T/$v.c" <<C
#include <stdio.h>
int echo(int argc, char **argv) { printf("$v\n"); return 0; }
C
	cc -shared -fPIC -o "$T/$v.so" "$T/$v.c" || fail "cc $v.so"
done
printf '#!/bin/sh\necho program\n' >"$T/echo"
chmod +x "$T/echo"

mount_local 1
F=$M/local0/functions
expect_eq "built-in echo" "source: built-in" "$(grep '^source:' "$F/echo")"
grep -q '^sha256:' "$F/echo" && fail "a built-in has a sha256 line"
grep -q '^shadows:' "$F/echo" && fail "the built-in echo shadows something"

inject local0 "$BASIC_SO"
expect_eq "foo source" "source: basic.so" "$(grep '^source:' "$F/foo")"
expect_eq "foo sha256" "sha256: $(sum "$BASIC_SO")" "$(grep '^sha256:' "$F/foo")"

inject local0 "$T/one.so"
expect_eq "echo from one.so" "one" "$(call local0 echo)"
expect_eq "echo source (one.so)" "source: one.so" "$(grep '^source:' "$F/echo")"
expect_eq "echo sha256 (one.so)" "sha256: $(sum "$T/one.so")" "$(grep '^sha256:' "$F/echo")"
expect_eq "one.so shadows" "shadows: built-in" "$(grep '^shadows:' "$F/echo")"
wait_for grep -q "echo: a call runs the one in one.so, which shadows built-in" "$LOG" ||
	fail "no log line for one.so's echo shadowing the built-in"

# The object injected last wins.
inject local0 "$T/two.so"
expect_eq "echo from two.so" "two" "$(call local0 echo)"
expect_eq "echo source (two.so)" "source: two.so" "$(grep '^source:' "$F/echo")"
expect_eq "two.so shadows" "shadows: one.so, built-in" "$(grep '^shadows:' "$F/echo")"

# A program beats every object.
inject local0 "$T/echo"
expect_eq "echo, the program" "program" "$(call local0 echo)"
expect_eq "echo source (program)" "source: echo" "$(grep '^source:' "$F/echo")"
expect_eq "program sha256" "sha256: $(sum "$T/echo")" "$(grep '^sha256:' "$F/echo")"
expect_eq "program shadows" "shadows: two.so, one.so, built-in" "$(grep '^shadows:' "$F/echo")"
wait_for grep -q "echo: a call runs the one in echo, which shadows two.so, one.so, built-in" "$LOG" ||
	fail "no log line for the program echo"

# Gone again, one by one: the next in the rule answers.
rm "$M/local0/inject/echo" || fail "rm inject/echo"
wait_for sh -c "grep -q '^source: two.so' '$F/echo'" || fail "echo not back to two.so"
expect_eq "echo back to two.so" "two" "$(call local0 echo)"
rm "$M/local0/inject/two.so" || fail "rm two.so"
wait_for sh -c "grep -q '^source: one.so' '$F/echo'" || fail "echo not back to one.so"
expect_eq "echo back to one.so" "one" "$(call local0 echo)"
