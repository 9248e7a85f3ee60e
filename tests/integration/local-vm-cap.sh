#!/bin/bash
# The per-node VM limit, stated: a mount that asks for more VMs than a
# node holds is refused with the reason (the mount's own check for
# local=1025; the node's answer when its --max-vms is lower than what the
# mount asks), and a refused start leaves no session directory on the
# node.  So is a node whose open-file limit cannot hold the VMs; one
# with room in its hard limit raises its soft one (and not its calls').
# The node's own refusal of 1,025 VMs over the wire is
# tests/unit/test-node.c's /node/refuse.
. "$(dirname "$0")/lib.sh"

sessions() {
	"$TRICKLE_NODE" --dir "$NODE_DIR" --list-sessions | tail -n +2
}

# 1,025 local VMs: the mount says why before starting anything.
"$TRICKLEFS" -o "local=1025,logfile=$LOG" "$M" 2>"$ERR" &&
	fail "local=1025 mounted"
expect_eq "local=1025" "tricklefs: local=1025: a node holds at most 1024 VMs" \
	"$(cat "$ERR")"
is_mounted "$M" && fail "$M is mounted"

# A node that holds fewer than the mount asks for refuses with its
# reason, which the mount reports; nothing is left under its --dir.
for try in 1 2; do
	"$TRICKLEFS" -o "local=8,logfile=$LOG" \
		-o "node_command=$TRICKLE_NODE --max-vms=4 --dir $NODE_DIR" \
		"$M" 2>"$ERR" && fail "8 VMs on a node of --max-vms=4 mounted"
	expect_match "try $try: the node's reason" \
		"local: down: node refuses 8 VMs: at most 4" "$(cat "$ERR")"
	expect_match "try $try: the mount's verdict" \
		"no node could be reached" "$(cat "$ERR")"
	is_mounted "$M" && fail "$M is mounted"
	expect_eq "try $try: sessions on the node" "" "$(sessions)"
	# (cache/, the node's cache of injected files, is shared by the
	# user's sessions and outlives them: not a session's.)
	left=$(find "$NODE_DIR" -mindepth 1 -path "$NODE_DIR/cache" -prune \
		-o -print 2>/dev/null | head)
	[ -z "$left" ] || fail "try $try: left under the node's --dir: $left"
done
expect_match "the node's reason in the log" \
	"node refuses 8 VMs: at most 4" "$(cat "$LOG")"

# A node whose open-file limit cannot hold the VMs (a few descriptors
# each) refuses them at once, saying so, rather than failing VMs one by
# one with EMFILE; under a low soft limit (a login's 1,024) with room
# in the hard one, it raises its own and starts them all.
"$TRICKLEFS" -o "local=400,logfile=$LOG" \
	-o "node_command=sh -c 'ulimit -n 1024; exec $TRICKLE_NODE --dir $NODE_DIR'" \
	"$M" 2>"$ERR" && fail "400 VMs on a node of ulimit -n 1024 mounted"
expect_match "the node's reason (open files)" \
	"local: down: node refuses 400 VMs: its open-file limit .1024, ulimit -Hn. allows at most 120" \
	"$(cat "$ERR")"
is_mounted "$M" && fail "$M is mounted"
expect_eq "sessions on the node (open files)" "" "$(sessions)"
if [ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 4096 ]; then
	# (40 VMs need ~250 descriptors: more than 64.)
	mount_local 40 -o "node_command=sh -c 'ulimit -Sn 64; exec $TRICKLE_NODE --dir $NODE_DIR'"
	wait_for eval '[ "$(awk '"'"'$3 == "up"'"'"' "$M/.ctl" | wc -l)" -eq 40 ]' ||
		fail "40 VMs under ulimit -Sn 64: not all up: $(awk '{print $3}' "$M/.ctl" | sort | uniq -c)"
	expect_eq "a call on each VM" 40 "$(for v in $(seq 0 39); do call "local$v" "echo hi"; done | grep -c '^hi$')"
	# The calls run with the limit they were given, not the node's.
	expect_eq "ulimit -Sn in a call" 64 "$(call local7 "exec sh -c 'ulimit -Sn'")"
	unmount
	expect_no_nodes
fi

# The limit itself is not refused: as many VMs as the node holds work.
"$TRICKLE_NODE" --max-vms=1025 --list-sessions >/dev/null 2>"$T/node.err" &&
	fail "trickle-node --max-vms=1025 was taken"
expect_eq "--max-vms=1025" "trickle-node: --max-vms=1025: must be 1-1024" \
	"$(cat "$T/node.err")"
mount_local 4 -o "node_command=$TRICKLE_NODE --max-vms=4 --dir $NODE_DIR"
expect_eq "echo on local3" hi "$(call local3 "echo hi")"
expect_eq "one live session" 1 "$(sessions | grep -c ' live ')"
unmount
expect_no_nodes
