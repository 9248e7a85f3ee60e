#!/bin/bash
# VM/info: "key: value" lines from the mount (vm, host, state, pid, call
# counts, bytes) and from the node (cores, load, memory, uptime...).
# VM/ctl: "restart" gives a fresh VM: a new process, state lost (counter
# starts over), objects gone, injected code loaded again, the running call
# failed with "restarted", queued calls run after; anything else: EINVAL.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"

mount_local 2
V=local0
inject $V "$BASIC_SO"
inject $V "$STACK_SO"

timeout 10 cat "$M/$V/info" >"$T/info" || fail "cat info"
cat "$T/info"
keys=$(sed -n 's/^\([^:]*\): .*/\1/p' "$T/info")
for k in vm host state pid "calls queued" "calls running" "calls done" \
	 "calls failed" "calls cancelled" "bytes sent" "bytes received" \
	 cores loadavg "memory total" "memory available" "node uptime"; do
	grep -qx "$k" <<<"$keys" || fail "info has no '$k:' line"
done
while IFS= read -r line; do
	expect_match "info line" '^[a-z][a-z ]*: .' "$line"
done <"$T/info"
expect_eq "info vm" $V "$(info_key $V vm)"
expect_eq "info vm of local1" local1 "$(info_key local1 vm)"
expect_eq "info state" up "$(info_key $V state)"
expect_eq "info cores" "$(nproc)" "$(info_key $V cores)"
expect_match "info loadavg" '^[0-9.]+ [0-9.]+ [0-9.]+$' "$(info_key $V loadavg)"
expect_match "info memory total" '^[0-9]+ MiB$' "$(info_key $V 'memory total')"
pid=$(info_key $V pid)
expect_match "info pid" '^[0-9]+$' "$pid"
[ "$(readlink -f /proc/$pid/exe)" = "$TRICKLE_NODE" ] || fail "info pid $pid is not a trickle-node"
[ "$(info_key local1 pid)" != "$pid" ] || fail "local0 and local1 have the same pid"
for k in "calls queued" "calls running" "calls done" "calls failed" "calls cancelled"; do
	expect_eq "info $k at first" 0 "$(info_key $V "$k")"
done

# Counts follow the calls.
expect_eq "counter" 1 "$(call $V counter)"
expect_eq "counter" 2 "$(call $V counter)"
id=$(fork $V "fail 1") || fail "fork"
result_fails $V "$id"
expect_eq "stack_new" @1 "$(call $V stack_new)"
expect_ls "$M/$V/objects" 1
a=$(fork $V "sleeper 30") || fail "fork"
b=$(fork $V counter) || fail "fork"
wait_running $V "$a"
expect_eq "info calls done" 3 "$(info_key $V 'calls done')"
expect_eq "info calls failed" 1 "$(info_key $V 'calls failed')"
expect_eq "info calls running" 1 "$(info_key $V 'calls running')"
expect_eq "info calls queued" 1 "$(info_key $V 'calls queued')"
sent=$(info_key $V 'bytes sent')
received=$(info_key $V 'bytes received')
[ "$sent" -gt 0 ] && [ "$received" -gt 0 ] || fail "bytes sent $sent, received $received"

# Restart, with a call running and one queued.
s=$(fork $V "stack_new x") || fail "fork stack_new"
c=$(fork $V "foo 2") || fail "fork"
write_to "$M/$V/ctl" restart >/dev/null || fail "restart"
result_fails $V "$a"
expect_eq "the running call" "failed restarted" "$(status $V "$a")"
expect_eq "the queued call runs after the restart, counter starts over" 1 "$(result $V "$b")"
# Handles are not reused: the old @1 cannot name the new stack.
expect_eq "stack_new queued before the restart" @2 "$(result $V "$s")"
expect_eq "the last one queued" 4 "$(result $V "$c")"
expect_ls "$M/$V/objects" 2
expect_eq "the new object" "[x]" "$(cat "$M/$V/objects/2")"
id=$(fork $V "size @1") || fail "fork size @1"
result_fails $V "$id"
wait_for eval '[ "$(info_key $V state)" = up ]' || fail "state after restart: $(info_key $V state)"
pid2=$(info_key $V pid)
[ "$pid2" != "$pid" ] || fail "pid unchanged by restart"
wait_for -t 5 eval '[ "$(readlink -f /proc/$pid/exe 2>/dev/null)" != "$TRICKLE_NODE" ]' ||
	fail "the old VM process $pid still runs"
expect_eq "injected code after restart" 10 "$(call $V "foo 5")"
expect_ls "$M/$V/inject" basic.so stack.so
expect_eq "counter after restart" 2 "$(call $V counter)"
expect_eq "info calls failed after restart (fail, the restarted call, size @1)" 3 "$(info_key $V 'calls failed')"
expect_eq "local1 untouched" "$(info_key local1 state)" up

# An idle restart: state lost again.
write_to "$M/$V/ctl" restart >/dev/null || fail "idle restart"
expect_eq "counter after an idle restart" 1 "$(call $V counter)"
expect_ls "$M/$V/objects"

# ctl knows only restart.
for bad in cancel reboot ""; do
	err=$(write_to "$M/$V/ctl" "$bad") && fail "'$bad' to ctl succeeded"
	expect_eq "'$bad' to ctl" EINVAL "$err"
done
expect_eq "counter after bad commands" 2 "$(call $V counter)"
# .all has neither info nor ctl.
[ -e "$M/.all/info" ] && fail ".all/info exists"
[ -e "$M/.all/ctl" ] && fail ".all/ctl exists"
true
