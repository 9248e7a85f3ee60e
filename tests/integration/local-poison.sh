#!/bin/bash
# Poison code (tests/tools/poison.c) is contained: each way a call can
# misbehave gives that call a typed failure in its status and the VM back
# within 2 s, and every process a call started ends with it, counted from
# outside by PID (a daemon in a session of its own too).  TRICKLE_MEMORY
# and TRICKLE_CPU bound a call, a queued call after one that hit its
# limit runs normally, and a bad limit is refused.
TEST_TIMEOUT=150
. "$(dirname "$0")/lib.sh"
need_var POISON_SO poison.so

# ends_typed LINE STATUS: fork LINE; it fails with exactly STATUS
# (reading its result gives EIO), and the VM answers again within 2 s.
ends_typed() {
	local id t0 took
	id=$(fork local0 "$1") || fail "fork '$1'"
	result_fails local0 "$id"
	expect_eq "status of '$1'" "$2" "$(status local0 "$id")"
	t0=$(now_ms)
	expect_eq "the VM after '$1'" alive "$(call local0 alive)"
	took=$(($(now_ms) - t0))
	[ "$took" -lt 2000 ] || fail "the VM took $took ms to answer after '$1'"
	echo "'$1': $2; VM back in $took ms"
}

# none_alive FILE: no PID listed in FILE is a live process (a zombie
# counts as alive: the call's processes must be reaped too).
none_alive() {
	local p n=0 total=0
	for p in $(cat "$1"); do
		total=$((total + 1))
		[ -e "/proc/$p" ] && n=$((n + 1))
	done
	[ "$n" = 0 ] || fail "$n of the $total processes in $1 still there: $(for p in $(cat "$1"); do [ -e /proc/$p ] && cat /proc/$p/stat; done | head -n 5)"
	echo "$total"
}

mount_local 1
inject local0 "$POISON_SO"
expect_eq "counter" 1 "$(call local0 counter)"

# Children forked by a call that returned at once: all gone when it ends,
# and the VM kept its process (the counter goes on).
id=$(fork local0 "forker 200 $T/forked") || fail "fork forker"
expect_eq "forker" "forked 200" "$(result local0 "$id")"
expect_eq "forker status" done "$(status local0 "$id")"
expect_eq "children killed" 200 "$(none_alive "$T/forked")"
expect_eq "counter after forker" 2 "$(call local0 counter)"

# A daemon: setsid() and a double fork, ignoring SIGTERM.
id=$(fork local0 "daemonize $T/daemon") || fail "fork daemonize"
expect_eq "daemonize" "daemon started" "$(result local0 "$id")"
expect_eq "daemon killed" 1 "$(none_alive "$T/daemon")"

# The same when the call does not end on its own: timeout, cancel.
ends_typed "TRICKLE_TIMEOUT=0.5 daemonize $T/daemon2 wait" "failed timeout"
expect_eq "daemon of a timed-out call killed" 1 "$(none_alive "$T/daemon2")"
id=$(fork local0 "daemonize $T/daemon3 wait") || fail "fork daemonize wait"
wait_for test -s "$T/daemon3" || fail "no daemon started"
echo cancel >"$M/local0/calls/$id/ctl" || fail "cancel"
expect_eq "cancelled status" cancelled "$(status local0 "$id")"
expect_eq "daemon of a cancelled call killed" 1 "$(none_alive "$T/daemon3")"

# Ways to end the process or to fail.
ends_typed "TRICKLE_TIMEOUT=0.5 loop" "failed timeout"
ends_typed exit0 "failed exit 0"
ends_typed abort_ "failed signal 6 (SIGABRT)"

# Limits: typed, and the VM starts over (its counter too).
expect_eq "counter" 1 "$(call local0 counter)"
ends_typed "TRICKLE_CPU=1 loop" "failed CPU limit (1 s) exceeded"
expect_eq "counter after the CPU limit" 1 "$(call local0 counter)"
if [[ "$(nm -D "$TRICKLE_NODE" 2>/dev/null)" == *__asan_init* ]]; then
	# ASan's allocator hangs once it cannot map memory (the timeout
	# ends it): its own business, not the limit's.
	ends_typed "TRICKLE_TIMEOUT=3 TRICKLE_MEMORY=64M hog" "failed timeout"
	skip_part "TRICKLE_MEMORY's typed status: an ASan build"
else
	ends_typed "TRICKLE_TIMEOUT=20 TRICKLE_MEMORY=64M hog" \
		"failed memory limit (64M) exceeded"
fi
# A program's limits are its own.
ends_typed "TRICKLE_CPU=1 exec sh -c 'while :; do :; done'" \
	"failed CPU limit (1 s) exceeded"

# A call queued behind one that hits its limit runs on the new VM.
a=$(fork local0 "TRICKLE_CPU=1 loop") || fail "fork loop"
b=$(fork local0 "counter") || fail "fork counter"
expect_eq "queued call after a limit" 1 "$(result local0 "$b")"
expect_eq "its status" done "$(status local0 "$b")"
expect_eq "the limited call" "failed CPU limit (1 s) exceeded" "$(status local0 "$a")"

# Limits are options, not the call's environment; bad ones are refused.
out=$(call local0 "TRICKLE_MEMORY=1G TRICKLE_CPU=100 exec env") || fail "exec env with limits"
grep -E '^TRICKLE_(MEMORY|CPU)=' <<<"$out" && fail "the limits are in the call's environment"
expect_eq "a limit that was not hit" alive "$(call local0 "TRICKLE_MEMORY=512M TRICKLE_CPU=30 alive")"
id=$(fork local0 "TRICKLE_MEMORY=12X alive") || fail "fork bad memory"
expect_eq "bad TRICKLE_MEMORY" "failed bad call option TRICKLE_MEMORY=12X (bytes, or a number with K, M or G wanted)" "$(status local0 "$id")"
id=$(fork local0 "TRICKLE_CPU=1.5 alive") || fail "fork bad cpu"
expect_eq "bad TRICKLE_CPU" "failed bad call option TRICKLE_CPU=1.5 (whole seconds wanted)" "$(status local0 "$id")"

# outputs_right AFTER: the next calls' output, a function's and a
# program's, is where it belongs.
outputs_right() {
	expect_eq "output after $1" alive "$(call local0 alive)"
	out=$(call local0 "exec echo program output") || fail "exec after $1"
	expect_eq "a program's output after $1" "program output" "$out"
}
# grab LABEL: one grabber call (below), which must end done.
grab() {
	id=$(fork local0 "grabber $T/grabbed") || fail "fork $1"
	result local0 "$id" >/dev/null
	expect_eq "$1 status" done "$(status local0 "$id")"
}

# Its standard descriptors closed or covered: the call ends, the next
# call's output is where it belongs.
expect_eq "closer" closing "$(call local0 closer)"
outputs_right closer
# The worker's own fds on the call's output (kept from call to call)
# closed by a call and their numbers taken by a file it keeps: the next
# calls' output is theirs, nothing of it goes into that file, and the
# worker does not close it (the second grabber writes "kept" through
# each, or notes it lost).  The grabber's own output is not looked at:
# it took the fds it was written through.
grab grabber
outputs_right grabber
grab "grabber again"
outputs_right "grabber twice"
[ -e "$T/grabbed.lost" ] && fail "the worker closed the grabber's files: $(cat "$T/grabbed.lost")"
expect_eq "only the grabber wrote its file" "kept kept" "$(cat "$T/grabbed" | tr '\n' ' ' | sed 's/ $//')"

# Junk on every descriptor, the worker's line to the node among them.
id=$(fork local0 scribble) || fail "fork scribble"
status local0 "$id" >/dev/null
t0=$(now_ms)
wait_for -t 5 eval '[ "$(status local0 "$id")" != running ]' || fail "scribble still running"
expect_match "scribble status" '^(done|failed .+)$' "$(status local0 "$id")"
expect_eq "the VM after scribble" alive "$(call local0 alive)"
[ $(($(now_ms) - t0)) -lt 2000 ] || fail "VM back after scribble in more than 2 s"
echo "scribble: $(status local0 "$id")"

unmount
expect_no_nodes
