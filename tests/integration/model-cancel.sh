#!/bin/bash
# echo cancel > calls/N/ctl: a queued call never runs; a running one is
# stopped (SIGTERM, then SIGKILL after 2 s for one that ignores it, with
# its child processes); either way its status is "cancelled", cat result
# fails (EIO, a blocked one at once), and the VM works on.  Cancelling an
# ended call fails (ESRCH, and the log says why); ctl takes nothing else.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"

mount_local 1
V=local0
inject $V "$BASIC_SO"
expect_eq "counter" 1 "$(call $V counter)"

# A queued call: cancelled, never runs.
a=$(fork $V "sleeper 2") || fail "fork"
b=$(fork $V counter) || fail "fork"
wait_running $V "$a"
expect_eq "queued" queued "$(status $V "$b")"
write_to "$M/$V/calls/$b/ctl" cancel >/dev/null || fail "cancel of a queued call failed"
expect_eq "status of the cancelled queued call" cancelled "$(status $V "$b")"
result_fails $V "$b"
expect_eq "the call before it" "slept 2" "$(result $V "$a")"
expect_eq "counter: the cancelled one never ran" 2 "$(call $V counter)"

# A running call, with a blocked reader of its result.
c=$(fork $V "sleeper 30") || fail "fork"
wait_running $V "$c"
"$ERRNO_OF" read "$M/$V/calls/$c/result" >"$T/blocked.out" 2>/dev/null &
catpid=$!
BG_PIDS+=("$catpid")
wait_for eval '[ $(blocked_in_fuse $catpid) = 1 ]' || fail "the read of result is not blocked"
start=$(now_ms)
write_to "$M/$V/calls/$c/ctl" cancel >/dev/null || fail "cancel of a running call failed"
wait $catpid
rc=$?
BG_PIDS=()
elapsed=$(($(now_ms) - start))
[ $rc != 0 ] || fail "the blocked read of a cancelled call's result succeeded"
expect_eq "the blocked read" EIO "$(cat "$T/blocked.out")"
[ $elapsed -lt 3000 ] || fail "the blocked read took $elapsed ms to end after the cancel"
expect_eq "status of the cancelled running call" cancelled "$(status $V "$c")"
# The VM comes back (fresh: the call's process is gone) and works.
expect_eq "foo after a cancel" 8 "$(call $V "foo 4")"
expect_eq "counter after a cancel: a fresh VM" 1 "$(call $V counter)"

# A program that ignores SIGTERM, with a child: both gone within ~2 s.
d=$(fork $V "exec sh -c 'trap \"\" TERM; sleep 31.4159; echo survived'") || fail "fork"
wait_running $V "$d"
wait_for eval 'pgrep -f "sleep 31.4159" >/dev/null' || fail "the program's sleep is not running"
note_nodes
write_to "$M/$V/calls/$d/ctl" cancel >/dev/null || fail "cancel of the program failed"
expect_eq "status of the cancelled program" cancelled "$(status $V "$d")"
result_fails $V "$d"
wait_for -t 6 eval '! pgrep -f "sleep 31.4159" >/dev/null' ||
	fail "the cancelled program's child still runs: $(pgrep -af 'sleep 31.4159')"
expect_eq "stdout of the cancelled program" "" "$(cat "$M/$V/calls/$d/stdout")"
expect_eq "echo after that" ok "$(call $V "echo ok")"

# Ended calls cannot be cancelled; ctl knows only cancel.
err=$(write_to "$M/$V/calls/$a/ctl" cancel) && fail "cancel of a done call succeeded"
expect_eq "cancel of a done call" ESRCH "$err"
grep -q "calls/$a: cancel: the call has already ended" "$LOG" || fail "no log line for the cancel of a done call"
err=$(write_to "$M/$V/calls/$c/ctl" cancel) && fail "a second cancel succeeded"
expect_eq "second cancel" ESRCH "$err"
e=$(fork $V "sleeper 1") || fail "fork"
err=$(write_to "$M/$V/calls/$e/ctl" stop) && fail "'stop' to a call's ctl succeeded"
expect_eq "unknown command" EINVAL "$err"
err=$(write_to "$M/$V/calls/$e/ctl" restart) && fail "'restart' to a call's ctl succeeded"
expect_eq "restart to a call's ctl" EINVAL "$err"
expect_eq "the call is unharmed" "slept 1" "$(result $V "$e")"

# Cancel several queued calls, in any order, then the running one.
f=$(fork $V "sleeper 20") || fail "fork"
g=$(fork $V "foo 1") || fail "fork"
h=$(fork $V "foo 2") || fail "fork"
i=$(fork $V "foo 3") || fail "fork"
wait_running $V "$f"
write_to "$M/$V/calls/$h/ctl" cancel >/dev/null || fail "cancel h"
write_to "$M/$V/calls/$g/ctl" cancel >/dev/null || fail "cancel g"
write_to "$M/$V/calls/$f/ctl" cancel >/dev/null || fail "cancel f"
expect_eq "the one left" 6 "$(result $V "$i")"
for x in $f $g $h; do
	expect_eq "status of $x" cancelled "$(status $V "$x")"
done
expect_eq "info: calls cancelled" 6 "$(info_key $V 'calls cancelled')"
expect_eq "info: calls queued" 0 "$(info_key $V 'calls queued')"
expect_eq "info: calls running" 0 "$(info_key $V 'calls running')"
