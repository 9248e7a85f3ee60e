#!/bin/bash
# The local trickle-node killed (-9) while a call runs.  By default the
# mount starts a new one that adopts the session: a call that had ended
# keeps its result, the call cut off runs again (its attempts file says
# so), the queued one runs once, and no worker of the dead node lives on.
# With -o noreconnect the node stays down and its calls fail, named.
. "$(dirname "$0")/lib.sh"

# The node process below our tricklefs.
local_node() {
	our_nodes | while read -r e; do
		[ "$(ppid_of "${e%%:*}")" = "$FS_PID" ] && echo "${e%%:*}"
	done
}

mount_local 2 -o ServerAliveInterval=1
inject local0 "$BASIC_SO"
done_id=$(fork local0 "foo 21") || fail "fork foo"
expect_eq "foo 21" 42 "$(result local0 "$done_id")"
id=$(fork local0 "sleeper 6") || fail "fork sleeper"
queued=$(fork local0 "foo 4") || fail "fork queued foo"
wait_for eval '[ "$(status local0 "$id" | cut -d" " -f1)" = running ]' || fail "sleeper not running"
note_nodes
node=$(local_node)
[ -n "$node" ] || fail "no node process below tricklefs"
workers=("${SEEN_NODES[@]}")

kill -KILL "$node"
timeout 2 ls "$M" "$M/local0/calls" "$M/local1/calls" >/dev/null || fail "ls failed with the node down"
wait_for -t 10 eval 'grep -q "trickle-node back" "$LOG"' || fail "no new node: $(tail -5 "$LOG")"
grep -q "adopting session" "$LOG" || fail "the session was not adopted: $(tail -5 "$LOG")"
expect_eq "the ended call's result" 42 "$(result local0 "$done_id")"
expect_eq "the cut-off call, run again" "slept 6" "$(result local0 "$id")"
expect_eq "the queued call" 8 "$(result local0 "$queued")"
expect_eq "the cut-off call's status" done "$(status local0 "$id")"
expect_eq "attempts of the cut-off call" 2 "$(wc -l <"$M/local0/calls/$id/attempts")"
expect_match "its first attempt" '^1 local0 local .* lost: ' "$(head -1 "$M/local0/calls/$id/attempts")"
expect_match "its second attempt" '^2 local0 local .* done$' "$(tail -1 "$M/local0/calls/$id/attempts")"
for e in "${workers[@]}"; do
	[ "${e%%:*}" = "$node" ] && continue
	wait_for -t 5 eval "! alive $e" ||
		fail "worker ${e%%:*} ($(tr '\0' ' ' </proc/${e%%:*}/cmdline), now a child of $(ppid_of "${e%%:*}")) outlived its node"
done
expect_eq "a new call" 6 "$(call local0 "foo 3")"
unmount
expect_no_nodes

# -o noreconnect: the node stays down, its calls fail and say why.
mount_local 1 -o noreconnect
inject local0 "$BASIC_SO"
id=$(fork local0 "sleeper 60") || fail "fork sleeper"
wait_for eval '[ "$(status local0 "$id" | cut -d" " -f1)" = running ]' || fail "sleeper not running"
node=$(local_node)
kill -KILL "$node"
result_fails local0 "$id"
expect_match "status" '^failed lost: node down: ' "$(status local0 "$id")"
id=$(fork .any "echo late") || fail "fork on .any after the node died"
expect_eq "a .any call with no VM up" "failed no VM is up to run echo" "$(status .any "$id")"
timeout 2 ls "$M" "$M/local0/calls" >/dev/null || fail "ls failed with the node down"
unmount
expect_no_nodes --processes-only	# a killed node cannot clean up
