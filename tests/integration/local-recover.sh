#!/bin/bash
# The initiator killed with local VMs: remounted within the lease, the
# node (which kept running its calls) is found again and the calls come
# back; abandoned past the lease, the node ends the session by itself and
# leaves nothing behind.  A second mount of a state in use is refused.
. "$(dirname "$0")/lib.sh"

mount_local 2 -o ServerAliveInterval=1,lease=4
first=$(fork local0 "echo first") || fail "fork"
expect_eq "first" first "$(result local0 "$first")"
long=$(fork local1 "sleep 2") || fail "fork sleep"
mkdir -p "$T/m2"
tfs_mount -o "local=1,logfile=$LOG,name=$M" "$T/m2" 2>/dev/null &&
	fail "a second mount naming the same state succeeded"
expect_match "the refusal" "state .* is in use" "$(cat "$ERR")"
kill -KILL "$FS_PID"
fusermount3 -uz "$M" || fail "fusermount3 -uz"
mount_local 2 -o ServerAliveInterval=1,lease=4
expect_eq "first, after the remount" first "$(result local0 "$first")"
expect_eq "the running call, joined after the remount" "" "$(result local1 "$long")"
expect_eq "its status" done "$(status local1 "$long")"
expect_eq "its runs" 1 "$(wc -l <"$M/local1/calls/$long/attempts" 2>/dev/null || echo 1)"
id=$(fork local0 "echo new") || fail "fork after the remount"
[ "$id" -gt "$first" ] || fail "new id $id reuses an old one"

# Abandoned: the node ends its session after the lease.
note_nodes
kill -KILL "$FS_PID"
fusermount3 -uz "$M" || fail "fusermount3 -uz"
wait_for -t 15 eval '[ -z "$("$TRICKLE_NODE" --list-sessions | tail -n +2)" ]' ||
	fail "the session outlived its lease: $("$TRICKLE_NODE" --list-sessions)"
for e in "${SEEN_NODES[@]}"; do
	wait_for -t 5 eval "! alive $e" || fail "trickle-node ${e%%:*} outlived its lease"
done
# (The node's cache of injected files stays, for the next mount.)
left=$(find "$T/run" -mindepth 2 -not -path '*/cache' -not -path '*/cache/*' 2>/dev/null | head)
[ -z "$left" ] || fail "files left by the abandoned session: $left"
# Its state is still there, for whoever mounts it again.
[ -s "$(ls -d "$T/state/tricklefs/"*)/journal" ] || fail "the state went with the daemon"
