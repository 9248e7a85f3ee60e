#!/bin/bash
# Built-ins every VM has with nothing injected: echo, sleep, exec, setenv
# (which survives `echo restart > VM/ctl` and crashes); NAME=VALUE words in
# front of a line set the environment of that call only.  functions/ lists
# the built-ins, then what is injected; cat functions/NAME says where it
# comes from and its TRICKLE_DOC doc; an injected name shadows a built-in.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"

mount_local 1
V=local0
expect_ls "$M/$V/functions" echo exec setenv sleep
expect_eq "functions/echo" "echo: built-in: echo ARG...: print the arguments, separated by spaces" "$(head -n 1 "$M/$V/functions/echo")"
for f in exec setenv sleep; do
	expect_match "functions/$f" "^$f: built-in: $f [A-Z]" "$(head -n 1 "$M/$V/functions/$f")"
done

# echo
expect_eq "echo" "hello  world x" "$(call $V "echo hello 'hello  world' x" | cut -d' ' -f2-)"
expect_eq "echo with no arguments" "" "$(call $V echo)"
id=$(fork $V "echo a b") || fail "fork echo"
expect_eq "echo's stdout" "a b" "$(result $V "$id")"
expect_eq "echo's status" "done" "$(status $V "$id")"

# sleep: takes its time, fractions allowed; bad arguments fail.
start=$(now_ms)
expect_eq "sleep 1.5" "" "$(call $V "sleep 1.5")"
elapsed=$(($(now_ms) - start))
[ $elapsed -ge 1400 ] && [ $elapsed -lt 5000 ] || fail "sleep 1.5 took $elapsed ms"
for bad in "sleep" "sleep x"; do
	id=$(fork $V "$bad") || fail "fork $bad"
	result_fails $V "$id"
	expect_eq "status of '$bad'" "failed exit 2" "$(status $V "$id")"
	expect_match "stderr of '$bad'" '^usage: sleep' "$(cat "$M/$V/calls/$id/stderr")"
done

# exec: programs of the node, by PATH or path; their status is the call's.
expect_eq "exec uname" "$(uname -s)" "$(call $V "exec uname -s")"
expect_eq "exec /bin/echo" "x y" "$(call $V "exec /bin/echo x y")"
expect_eq "exec sh -c" "3" "$(call $V "exec sh -c 'echo \$((1 + 2))'")"
id=$(fork $V "exec sh -c 'echo out; echo err >&2; exit 4'") || fail "fork exec sh"
result_fails $V "$id"
expect_eq "exec's status" "failed exit 4" "$(status $V "$id")"
expect_eq "exec's stdout" out "$(cat "$M/$V/calls/$id/stdout")"
expect_eq "exec's stderr" err "$(cat "$M/$V/calls/$id/stderr")"
id=$(fork $V "exec no-such-program-here") || fail "fork exec missing"
result_fails $V "$id"
expect_eq "exec of a missing program" "failed exit 127" "$(status $V "$id")"
expect_match "its stderr" 'no-such-program-here' "$(cat "$M/$V/calls/$id/stderr")"
id=$(fork $V exec) || fail "fork exec"
result_fails $V "$id"
expect_eq "exec with nothing" "failed exit 2" "$(status $V "$id")"
# Calls run in the VM's data directory.
expect_eq "exec pwd is data/" "" "$(call $V "exec sh -c 'echo hi > here.txt'")"
expect_eq "a file written by exec" hi "$(cat "$M/$V/data/here.txt")"

# Per-call environment.
id=$(fork $V "FOO=bar exec printenv FOO") || fail "fork FOO=bar"
expect_eq "FOO=bar exec printenv FOO" bar "$(result $V "$id")"
expect_eq "args keep the NAME=VALUE words" "FOO=bar exec printenv FOO" "$(cat "$M/$V/calls/$id/args")"
expect_eq "two variables, quoted" "1 x y" "$(call $V "FOO=1 BAR='x y' exec sh -c 'echo \$FOO \$BAR'")"
id=$(fork $V "exec printenv FOO") || fail "fork printenv"
result_fails $V "$id"
expect_eq "FOO is for that call only" "failed exit 1" "$(status $V "$id")"
id=$(fork $V "FOO=1") || fail "fork FOO=1"
result_fails $V "$id"

# setenv: for the VM's later calls, overridden by a per-call value, and
# surviving restarts and crashes.
expect_eq "setenv" "" "$(call $V "setenv GREETING hello")"
expect_eq "printenv after setenv" hello "$(call $V "exec printenv GREETING")"
expect_eq "per-call value wins" bye "$(call $V "GREETING=bye exec printenv GREETING")"
expect_eq "and does not stick" hello "$(call $V "exec printenv GREETING")"
for bad in "setenv" "setenv 1X y" "setenv 'A=B' y"; do
	id=$(fork $V "$bad") || fail "fork $bad"
	result_fails $V "$id"
	expect_eq "status of '$bad'" "failed exit 2" "$(status $V "$id")"
done
pid=$(info_key $V pid)
write_to "$M/$V/ctl" restart >/dev/null || fail "restart"
wait_for eval '[ "$(info_key $V state)" = up ]' || fail "VM not up after restart: $(info_key $V state)"
[ "$(info_key $V pid)" != "$pid" ] || fail "pid $pid unchanged by the restart"
expect_eq "setenv after a restart" hello "$(call $V "exec printenv GREETING")"
inject $V "$BASIC_SO"
id=$(fork $V crash) || fail "fork crash"
result_fails $V "$id"
expect_eq "setenv after a crash" hello "$(call $V "exec printenv GREETING")"
expect_eq "setenv again replaces" "" "$(call $V "setenv GREETING hi")"
expect_eq "printenv after the second setenv" hi "$(call $V "exec printenv GREETING")"

# functions/ with basic.so and a program injected: built-ins and theirs.
printf '#!/bin/sh\necho "hi $*"\n' >"$T/hi"
chmod +x "$T/hi"
inject $V "$T/hi"
expect_ls "$M/$V/functions" echo exec setenv sleep add bulk counter crash fail foo sleeper upper hi
expect_eq "functions/foo (TRICKLE_DOC)" "foo: basic.so: foo N: twice N" "$(head -n 1 "$M/$V/functions/foo")"
expect_eq "functions/counter (no doc)" "counter: basic.so" "$(head -n 1 "$M/$V/functions/counter")"
expect_eq "functions/hi (a program)" "hi: program" "$(head -n 1 "$M/$V/functions/hi")"
[ -e "$M/$V/functions/nosuch" ] && fail "functions/nosuch exists"
# Functions of the libraries an object uses are not the VM's.
[ -e "$M/$V/functions/printf" ] && fail "functions/printf listed"
rm "$M/$V/inject/hi" || fail "rm hi"
expect_ls "$M/$V/functions" echo exec setenv sleep add bulk counter crash fail foo sleeper upper

# An injected echo shadows the built-in one.
cat >"$T/myecho.c" <<'C'
#include <stdio.h>
const char trickle_doc_echo[] = "echo ARG...: the injected echo";
int echo(int argc, char **argv)
{
	printf("mine:");
	for (int i = 1; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");
	return 0;
}
C
cc -shared -fPIC -o "$T/myecho.so" "$T/myecho.c" || fail "cc myecho.so"
inject $V "$T/myecho.so"
expect_eq "injected echo wins" "mine: a b" "$(call $V "echo a b")"
expect_eq "functions/echo now" "echo: myecho.so: echo ARG...: the injected echo" "$(head -n 1 "$M/$V/functions/echo")"
# ... and says so: which file, its checksum, what it hides.
expect_eq "functions/echo source" "source: myecho.so" "$(grep '^source:' "$M/$V/functions/echo")"
expect_eq "functions/echo sha256" "sha256: $(sha256sum <"$T/myecho.so" | cut -d' ' -f1)" "$(grep '^sha256:' "$M/$V/functions/echo")"
expect_eq "functions/echo shadows" "shadows: built-in" "$(grep '^shadows:' "$M/$V/functions/echo")"
rm "$M/$V/inject/myecho.so" || fail "rm myecho.so"
expect_eq "built-in echo back" "a b" "$(call $V "echo a b")"
expect_match "functions/echo back" '^echo: built-in: ' "$(head -n 1 "$M/$V/functions/echo")"
