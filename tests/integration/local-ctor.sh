#!/bin/bash
# The trial load of an injected library (node/vet/checkload.c): a
# constructor that exits the process, even with status 0, or crashes is
# refused (cp fails with ENOEXEC, the log says why) and never reaches the
# VM; one that forks a child holding the loader's output open is taken,
# and the node lives on.  The last is the regression test for a
# use-after-free in checkload.c that ASan caught every time with one VM
# (the exit was handled before the end of the output, and the output's
# watch fired on the freed check): run it under an ASan build.
. "$(dirname "$0")/lib.sh"
need_var CTOR_EXIT_SO ctor-exit.so
need_var CTOR_FORK_SO ctor-fork.so
need_var CTOR_SEGV_SO ctor-segv.so

mount_local 1
inject local0 "$BASIC_SO"
node=$(our_nodes | while read -r e; do
	[ "$(ppid_of "${e%%:*}")" = "$FS_PID" ] && echo "$e"
done)
[ -n "$node" ] || fail "no trickle-node below tricklefs $FS_PID"

# Forking constructor: accepted, again and again; the node stays.
for i in 1 2 3; do
	expect_errno "cp ctor-fork.so ($i)" OK cp "$CTOR_FORK_SO" "$M/local0/inject/ctor-fork.so"
	sleep 0.3	# the orphaned watch fired about now
	alive "$node" || fail "trickle-node ${node%%:*} died after inject $i of ctor-fork.so"
done
expect_eq "function of ctor-fork.so" loaded "$(call local0 forked_ctor)"
# (Each replacement restarted the VM: its counter starts over.)
expect_eq "counter" 1 "$(call local0 counter)"

refused() {	# NAME REASON
	expect_errno "cp $1" ENOEXEC cp "$T/$1" "$M/local0/inject/$1"
	wait_for grep -qF "refusing $1: cannot be loaded: $2" "$LOG" ||
		fail "no '$2' for $1 in the log"
	[ -e "$M/local0/inject/$1" ] && fail "$1 in inject/ after refusal"
	return 0
}
cp "$CTOR_EXIT_SO" "$CTOR_SEGV_SO" "$T/"
refused ctor-exit.so "the library's constructor exited the process (status 0)"
refused ctor-segv.so "loading it crashed (signal 11)"
expect_ls "$M/local0/inject" basic.so ctor-fork.so

# The VM never loaded them: same process, state kept.
expect_eq "counter after the refusals" 2 "$(call local0 counter)"
alive "$node" || fail "trickle-node ${node%%:*} died"
! grep -q AddressSanitizer "$LOG" "$ERR" || fail "ASan report: $(grep -h -A5 AddressSanitizer "$LOG" "$ERR" | head -n 20)"
unmount
expect_no_nodes
