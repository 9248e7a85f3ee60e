# tests/integration/netns-fault-lib.sh - network faults for the
# netns-fault-* tests (bash): two nodes, each an sshd in a network
# namespace of its own, and the mount's client in a third, so that one
# node's link can be cut or made lossy without touching the machine's
# network.  Source it after lib.sh and fault-lib.sh:
#
#	. "$(dirname "$0")/lib.sh"
#	. "$HERE/fault-lib.sh"
#	. "$HERE/netns-fault-lib.sh"
#	nf_up				# node1, node2, init (netns-lib.sh)
#	nf_mount -o ServerAliveInterval=1	# VMs node1, node2; tricklefs runs in init
#	nf_link_down node1 ... nf_link_up node1
#	nf_loss_start node1 20 ... nf_loss_stop node1
#
# It adds to netns-lib.sh and changes none of its behaviour: the
# namespaces, bridge, sshds and their cleanup are netns-lib.sh's.
#
# Functions:
#	nf_up				netns_up 2, an sshd on node1 and node2
#	nf_mount [-o OPTS]		mount $M with VMs node1=ADDR1 and
#					node2=ADDR2 (tricklefs run in the
#					init namespace: only its network
#					changes, the mount is the test's)
#	nf_link_down NAME		the switch's end of NAME's veth pair
#					down: NAME is cut off (a partition)
#	nf_link_up NAME			and up again
#	nf_loss_start NAME PCT		nftables table in NAME's namespace
#					dropping PCT% of the packets eth0
#					receives and PCT% of those it sends
#					(numgen random; this kernel has no
#					netem); skips if nft cannot
#	nf_loss_counts NAME		"dropped IN OUT passed IN OUT" packets
#	nf_loss_stop NAME		delete that table
#	nf_ctl				cat $M/.ctl (bounded)
#	nf_vm_state VM			VM's state word in .ctl
#	nf_elapsed_ms START_NS		ms since START_NS (date +%s%N)
#	nf_label NAME			a regex of NAME's label in the log
#
# Variables: NF_TABLE (the nftables table's name).

. "$HERE/netns-lib.sh"

NF_TABLE=tfs_loss_$$
declare -gA _NF_LOSS_ON=()

nf_up() {
	netns_up 2
	netns_sshd_start node1
	netns_sshd_start node2
	# The nodes run below these sshds: lib.sh's our_nodes() (note_nodes,
	# expect_no_nodes, the cleanup) looks there.
	EXTRA_SSHD_PIDS="${NETNS_SSHD_PID[*]}"
	SSHD_LOG=${NETNS_SSHD_LOG[node1]}	# for lib.sh's diagnostics
	# Before netns_cleanup deletes the namespaces (hooks run in order;
	# a table in a deleted namespace goes with it anyway).
	CLEANUP_HOOKS=(_nf_cleanup "${CLEANUP_HOOKS[@]}")
}

# nf_mount [-o OPTS]: tricklefs in the init namespace, VMs node1, node2.
nf_mount() {
	local env= rc
	_split_args "$@"
	[ -n "${ASAN_OPTIONS:-}" ] && env="env ASAN_OPTIONS=$ASAN_OPTIONS "
	MOUNTS+=("$M")
	netns_exec init "$TRICKLEFS" -o "identity=$NETNS_USER_KEY,known_hosts=$NETNS_KNOWN_HOSTS,node_command=$env$TRICKLE_NODE --dir $NODE_DIR,logfile=$LOG,connect_timeout=10${OPTS:+,$OPTS}" \
	    "node1=${NETNS_ADDR[node1]}" "node2=${NETNS_ADDR[node2]}" "$M" 2>"$ERR"
	rc=$?
	[ $rc = 0 ] || fail "mounting node1, node2 failed ($rc): $(cat "$ERR")"
	is_mounted "$M" || fail "tricklefs exited 0 but $M is not mounted"
	FS_PID=$(_fs_pid_of "$M") || fail "no tricklefs process for $M"
	FS_PIDS+=("$FS_PID:$(starttime_of "$FS_PID")")
	note_nodes
}

# The switch's end of NAME's veth pair (netns-lib.sh: vN for .N).
_nf_veth() {
	local addr=${NETNS_ADDR[$1]:-}
	[ -n "$addr" ] || fail "netns: no host $1"
	echo "v${addr##*.}"
}

nf_link_down() {
	ip -n "$(netns_ns sw)" link set "$(_nf_veth "$1")" down ||
		fail "ip link set $(_nf_veth "$1") down failed"
}

nf_link_up() {
	ip -n "$(netns_ns sw)" link set "$(_nf_veth "$1")" up ||
		fail "ip link set $(_nf_veth "$1") up failed"
}

# nf_loss_start NAME PCT
nf_loss_start() {
	local name=$1 pct=$2 out
	need_cmd nft nftables
	out=$(netns_exec "$name" nft -f - 2>&1 <<EOF
table inet $NF_TABLE {
	chain in {
		type filter hook input priority -100; policy accept;
		iifname "eth0" numgen random mod 100 < $pct counter drop
		iifname "eth0" counter
	}
	chain out {
		type filter hook output priority -100; policy accept;
		oifname "eth0" numgen random mod 100 < $pct counter drop
		oifname "eth0" counter
	}
}
EOF
	) || missing_dep "nft cannot make a table in a namespace: $out"
	_NF_LOSS_ON[$name]=1
}

# nf_loss_counts NAME: "dropped IN OUT passed IN OUT" (packets).
nf_loss_counts() {
	netns_exec "$1" nft list table inet "$NF_TABLE" 2>/dev/null |
	    awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") c[n++] = $(i + 1) }
		 END { printf "dropped %d %d passed %d %d\n", c[0], c[2], c[1], c[3] }'
}

nf_loss_stop() {
	[ -n "${_NF_LOSS_ON[$1]:-}" ] || return 0
	netns_exec "$1" nft delete table inet "$NF_TABLE" ||
		fail "nft delete table inet $NF_TABLE in $1 failed"
	_NF_LOSS_ON[$1]=
}

_nf_cleanup() {
	local rc=$? name
	for name in "${!_NF_LOSS_ON[@]}"; do
		[ -n "${_NF_LOSS_ON[$name]}" ] || continue
		netns_exec "$name" nft delete table inet "$NF_TABLE" 2>/dev/null
		_NF_LOSS_ON[$name]=
	done
	return $rc
}

nf_ctl() { timeout 10 cat "$M/.ctl"; }

nf_vm_state() { nf_ctl | awk -v v="$1" '$1 == v { print $3 }'; }

nf_elapsed_ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

# nf_label NAME: a regex for NAME's host label in the log ("ADDR" or
# "ADDR:PORT").
nf_label() {
	local a=${NETNS_ADDR[$1]}
	echo "${a//./\\.}(:$NETNS_SSH_PORT)?"
}
