#!/bin/bash
# .all/inject/ to the VMs of one node is one request and one answer
# (INJECT_CACHED_VMS), with a verdict for each VM that refused: a VM
# whose inject/ cannot take the file (a directory of that name, put
# there on the node) fails the cp and is named, and the other VMs have
# the file and run it.  What the file shadows is logged once for VMs
# that see the same, not once per VM.
. "$(dirname "$0")/lib.sh"

cat >"$T/echo1.c" <<'C'
#include <stdio.h>
int echo(int argc, char **argv) { printf("mine\n"); return 0; }
C
cc -shared -fPIC -o "$T/echo1.so" "$T/echo1.c" || fail "cc echo1.so"

mount_local 4
# One VM's inject/ holds a directory where the file would go.
vmdir=$(ls -d "$T"/run/trickle-node/session-*/vm2 2>/dev/null | head -n 1)
[ -d "$vmdir" ] || fail "no vm2 on the node: $(ls -R "$T/run" | head)"
# (inject/ is made when something is first injected.)
mkdir -p "$vmdir/inject/basic.so"
expect_errno "cp basic.so .all/inject/ with vm2's place taken" EISDIR \
	cp "$BASIC_SO" "$M/.all/inject/basic.so"
wait_for grep -q "local2: refusing inject/basic.so: .*[Ii]s a directory" "$LOG" ||
	fail "local2's refusal not logged: $(grep -i 'refus' "$LOG" | tail -n 5)"
for v in local0 local1 local3; do
	grep -q "$v: refusing inject/basic.so" "$LOG" && fail "$v refused basic.so too"
	[ -e "$M/$v/inject/basic.so" ] || fail "$v/inject has no basic.so"
	expect_eq "foo 4 on $v" 8 "$(call "$v" "foo 4")"
done
[ -e "$M/local2/inject/basic.so" ] && fail "local2/inject has basic.so"
rmdir "$vmdir/inject/basic.so"

# Shadowing, logged once for the four VMs.
cp "$T/echo1.so" "$M/.all/inject/" || fail "cp echo1.so .all/inject/ failed"
for v in local0 local1 local2 local3; do
	expect_eq "echo on $v" mine "$(call "$v" echo)"
done
wait_for grep -q "echo1.so shadows the same on 3 more VMs" "$LOG" ||
	fail "no summary of the shadowing: $(grep 'shadow' "$LOG" | tail -n 5)"
n=$(grep -c "echo: a call runs the one in echo1.so, which shadows built-in" "$LOG")
expect_eq "shadowing lines for 4 VMs" 1 "$n"
unmount
