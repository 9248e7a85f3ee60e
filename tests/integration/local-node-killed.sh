#!/bin/bash
# The local trickle-node killed while a call runs: its calls fail with
# "node down" at once, the tree still answers, and no VM worker of that
# node lives on (running the call for nobody).
. "$(dirname "$0")/lib.sh"

mount_local 2
inject local0 "$BASIC_SO"
id=$(fork local0 "sleeper 60") || fail "fork sleeper"
wait_for eval '[ "$(status local0 "$id" | cut -d" " -f1)" = running ]' || fail "sleeper not running"
note_nodes
node=$(our_nodes | while read -r e; do [ "$(ppid_of "${e%%:*}")" = "$FS_PID" ] && echo "${e%%:*}"; done)
[ -n "$node" ] || fail "no node process below tricklefs"

kill -KILL "$node"
result_fails local0 "$id"
expect_match "status" '^failed node down' "$(status local0 "$id")"
timeout 2 ls "$M" "$M/local0/calls" "$M/local1/calls" >/dev/null || fail "ls failed with the node down"
for e in "${SEEN_NODES[@]}"; do
	wait_for -t 5 eval "! alive $e" ||
		fail "trickle-node ${e%%:*} ($(tr '\0' ' ' </proc/${e%%:*}/cmdline), now a child of $(ppid_of "${e%%:*}")) outlived its node"
done
unmount
expect_no_nodes --processes-only	# a killed node cannot clean up
