#!/bin/bash
# The node forks its VMs' workers from a zygote (node/worker/zygote.c).
# Killed -9 while calls run and while VMs restart, it takes no worker and
# no call with it: every work item runs exactly once (attempts.so's log
# and each call's attempts file), crashed VMs come back (spawned without
# it meanwhile), and the next worker to start brings a new zygote.
# Frozen (SIGSTOP), it is killed after 2 s of silence and holds nothing.
TEST_TIMEOUT=150
. "$(dirname "$0")/lib.sh"

# The node's children by what they run: --zygote or --worker.  (pgrep -P
# from our tricklefs down, not our_nodes: other mounts on this machine
# may run thousands of trickle-node processes.)
children_running() {
	local node p
	for node in $(pgrep -P "$FS_PID"); do
		for p in $(pgrep -P "$node"); do
			tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null |
				grep -q -- "$1" && echo "$p"
		done
	done | sort
	return 0
}
zygote() { children_running --zygote; }
workers() { children_running --worker; }

VMS=4
mount_local $VMS
cp "$ATTEMPTS_SO" "$M/.all/inject/" || fail "cp attempts.so .all/inject/"
cp "$BASIC_SO" "$M/.all/inject/" || fail "cp basic.so .all/inject/"
z=$(zygote)
[ -n "$z" ] || fail "no zygote below the node"
expect_eq "workers" $VMS "$(workers | wc -l)"
before=$(workers)

LOG_W=$T/work.log
: >"$LOG_W"
ids=()
fork_round() {	# fork_round R: one item per VM
	local v id
	for v in $(seq 0 $((VMS - 1))); do
		id=$(fork "local$v" "work $LOG_W 300 r$1-v$v") || fail "fork r$1 on local$v"
		ids+=("local$v:$id:r$1-v$v")
	done
}

# crash_vms V...: crash local$V each (at once), and see each call fail.
crash_vms() {
	local v id crashed=() c
	for v in "$@"; do
		id=$(fork "local$v" crash) || fail "fork crash on local$v"
		crashed+=("local$v:$id")
	done
	for c in "${crashed[@]}"; do result_fails "${c%%:*}" "${c#*:}"; done
}

# 1. Killed while calls run: the workers and their calls go on.
fork_round 1
wait_for eval '[ "$(grep -c "^start r1-" "$LOG_W")" -ge 1 ]' || fail "no work started"
kill -KILL "$z"
wait_for eval '! kill -0 '"$z"' 2>/dev/null' || fail "zygote $z still there"
fork_round 2
expect_eq "workers after the zygote's death" "$before" "$(workers)"

# 2. Killed, then VMs crash: they restart without it (a new zygote).
z=$(zygote)
[ -n "$z" ] && { kill -KILL "$z"; wait_for eval '! kill -0 '"$z"' 2>/dev/null'; }
crash_vms 1 3
fork_round 3
# and once more during the restarts themselves
id=$(fork local2 crash) || fail "fork crash on local2"
z=$(zygote)
[ -n "$z" ] && kill -KILL "$z"
result_fails local2 "$id"
fork_round 4

# 3. Frozen (SIGSTOP) while VMs restart: the node does not wait with it.
# Once it has answered nothing for 2 s it is killed, and the workers it
# owed come from the next one; calls elsewhere go on meanwhile.
# (A zygote is started when a worker is needed: a crash brings one.)
crash_vms 1
expect_eq "foo on local1" 4 "$(call local1 "foo 2")"
wait_for eval '[ -n "$(zygote)" ]' || fail "no zygote before the freeze"
z=$(zygote)
kill -STOP "$z"
crash_vms 1 3
expect_eq "foo on local0, the zygote frozen" 4 "$(call local0 "foo 2")"
fork_round 5
wait_for eval '! kill -0 '"$z"' 2>/dev/null' || fail "frozen zygote $z still there"
grep -q "zygote $z answered nothing" "$LOG" || fail "the node did not log the frozen zygote: $(tail -5 "$LOG")"

for c in "${ids[@]}"; do
	vm=${c%%:*} rest=${c#*:}
	id=${rest%%:*} item=${rest#*:}
	expect_eq "result of $item" "$item ok" "$(result "$vm" "$id")"
	expect_eq "runs of $item" 1 "$(wc -l <"$M/$vm/calls/$id/attempts")"
	expect_eq "starts of $item in the log" 1 "$(grep -c "^start $item " "$LOG_W")"
done
expect_eq "items started" ${#ids[@]} "$(grep -c '^start ' "$LOG_W")"
expect_eq "items ended" ${#ids[@]} "$(grep -c '^end ' "$LOG_W")"

# The next worker to start (local0's, crashed now) brings a new zygote.
id=$(fork local0 crash) || fail "fork crash on local0"
result_fails local0 "$id"
expect_eq "foo on local0" 4 "$(call local0 "foo 2")"
wait_for eval '[ -n "$(zygote)" ]' || fail "no new zygote after the restarts"
grep -q "zygote .* ended" "$LOG" || fail "the node did not log the zygote's end: $(tail -5 "$LOG")"
# Crashed VMs are back with their code, each with a new worker.
for v in 1 2 3; do
	expect_eq "foo on local$v" 4 "$(call "local$v" "foo 2")"
done
after=$(workers)
expect_eq "workers now" $VMS "$(echo "$after" | wc -l)"
expect_eq "workers kept" 0 "$(comm -12 <(echo "$before") <(echo "$after") | wc -l)"

unmount
expect_no_nodes
