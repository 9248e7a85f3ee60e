#!/bin/bash
# Remote objects (examples/stack): stack_new prints a handle @ID; push, pop,
# peek, size take it; VM/objects/ lists live objects, cat objects/ID shows
# the description ([A B], bottom first, updated after each call), rm
# objects/ID destroys it (later calls with the handle fail).  Objects are
# per VM, ids are not reused, and objects die with the VM (crash, restart,
# injecting over their code).  An object without a
# describe callback shows as <Class @ID>; a handle of another class is
# refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"

mount_local 2
V=local0
cp "$STACK_SO" "$M/.all/inject/" || fail "cp stack.so .all/inject/"
expect_ls "$M/$V/objects"
for f in stack_new push pop peek size; do
	[ -e "$M/$V/functions/$f" ] || fail "functions/$f missing"
done
expect_eq "functions/push" "push: stack.so: push @ID ITEM...: push the items onto the Stack" "$(head -n 1 "$M/$V/functions/push")"

expect_eq "stack_new" @1 "$(call $V stack_new)"
expect_ls "$M/$V/objects" 1
expect_eq "a new stack" "[]" "$(cat "$M/$V/objects/1")"
expect_eq "push" "" "$(call $V "push @1 A")"
expect_eq "push two" "" "$(call $V "push @1 B 'C D'")"
expect_eq "described after the pushes" "[A B C D]" "$(cat "$M/$V/objects/1")"
expect_eq "size" 3 "$(call $V "size @1")"
expect_eq "peek" "C D" "$(call $V "peek @1")"
expect_eq "pop" "C D" "$(call $V "pop @1")"
expect_eq "pop" B "$(call $V "pop @1")"
expect_eq "described after the pops" "[A]" "$(cat "$M/$V/objects/1")"
expect_eq "stack_new with items" @2 "$(call $V "stack_new x y")"
expect_ls "$M/$V/objects" 1 2
expect_eq "objects/2" "[x y]" "$(cat "$M/$V/objects/2")"
expect_eq "stack 1 unchanged" "[A]" "$(cat "$M/$V/objects/1")"
# A forked method, joined later.
id=$(fork $V "push @2 z") || fail "fork push"
result $V "$id" >/dev/null || fail "push @2 z failed"
expect_eq "objects/2 after a forked push" "[x y z]" "$(cat "$M/$V/objects/2")"

# Errors: an empty stack, a missing handle, not a handle.
expect_eq "pop" A "$(call $V "pop @1")"
id=$(fork $V "pop @1") || fail "fork"
result_fails $V "$id"
expect_eq "pop of an empty stack" "failed exit 1" "$(status $V "$id")"
expect_eq "its stderr" "pop: the stack is empty" "$(cat "$M/$V/calls/$id/stderr")"
for h in @99 99 "" @; do
	id=$(fork $V "size '$h'") || fail "fork"
	result_fails $V "$id"
	expect_eq "stderr of size '$h'" "size: no such Stack: $h" "$(cat "$M/$V/calls/$id/stderr")"
done

# Per VM: local1 has its own objects, with their own ids.
expect_ls "$M/local1/objects"
expect_eq "stack_new on local1" @1 "$(call local1 "stack_new other")"
expect_eq "local1/objects/1" "[other]" "$(cat "$M/local1/objects/1")"
expect_eq "local0/objects/1 unchanged" "[]" "$(cat "$M/$V/objects/1")"

# rm destroys it.
rm "$M/$V/objects/1" || fail "rm objects/1"
expect_ls "$M/$V/objects" 2
[ -e "$M/$V/objects/1" ] && fail "objects/1 still there"
id=$(fork $V "push @1 again") || fail "fork"
result_fails $V "$id"
expect_eq "push to a destroyed stack" "push: no such Stack: @1" "$(cat "$M/$V/calls/$id/stderr")"
expect_errno "second rm of objects/1" ENOENT unlink "$M/$V/objects/1"
expect_errno "rm of a missing object" ENOENT unlink "$M/$V/objects/77"
expect_eq "a new one gets a new id" @3 "$(call $V stack_new)"
expect_ls "$M/$V/objects" 2 3

# A class without describe, and one that is not a Stack.
cat >"$T/box.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include "trickle.h"
static int destroyed;
static void box_free(void *p) { destroyed++; free(p); }
static const struct trickle_class box_class = { "Box", box_free, NULL };
int box_new(int argc, char **argv)
{
	return trickle_object_return(&box_class, malloc(1));
}
int box_destroyed(int argc, char **argv)
{
	printf("%d\n", destroyed);
	return 0;
}
C
cc -shared -fPIC -I"$SRCROOT/include" -o "$T/box.so" "$T/box.c" || fail "cc box.so"
inject $V "$T/box.so"
expect_eq "box_new" @4 "$(call $V box_new)"
expect_eq "objects/4 without describe" "<Box @4>" "$(cat "$M/$V/objects/4")"
id=$(fork $V "push @4 x") || fail "fork"
result_fails $V "$id"
expect_eq "push to a Box" "push: no such Stack: @4" "$(cat "$M/$V/calls/$id/stderr")"
rm "$M/$V/objects/4" || fail "rm objects/4"
expect_eq "rm ran destroy" 1 "$(call $V box_destroyed)"

# A restart, and a crash, destroy every object of that VM only.
write_to "$M/$V/ctl" restart >/dev/null || fail "restart"
wait_for eval '[ -z "$(ls "$M/$V/objects")" ]' || fail "objects after restart: $(ls "$M/$V/objects")"
expect_ls "$M/local1/objects" 1
id=$(fork $V "size @2") || fail "fork"
result_fails $V "$id"
expect_eq "stack_new after restart" @5 "$(call $V stack_new)"
# Injecting more code keeps the objects; copying over an injected object
# restarts the VM, which loses them.
cp "$BASIC_SO" "$M/$V/inject/" || fail "inject basic.so"
expect_ls "$M/$V/objects" 5
cp "$STACK_SO" "$M/$V/inject/" || fail "inject stack.so again"
wait_for eval '[ -z "$(ls "$M/$V/objects")" ]' || fail "objects after replacing stack.so: $(ls "$M/$V/objects")"
expect_eq "stack_new after replacing stack.so" @6 "$(call $V stack_new)"
inject local1 "$BASIC_SO"
id=$(fork local1 crash) || fail "fork crash"
result_fails local1 "$id"
wait_for eval '[ -z "$(ls "$M/local1/objects")" ]' || fail "objects after a crash: $(ls "$M/local1/objects")"
