# tests/integration/netns-lib.sh - a private network of namespaces for
# tests (bash).  Source it after lib.sh:
#
#	. "$(dirname "$0")/lib.sh"
#	. "$HERE/netns-lib.sh"
#	netns_up 3			# hosts node1 node2 node3, and init
#	netns_sshd_start node1		# an sshd on node1's address
#	netns_announce_start node1	# trickle-node --announce on node1
#	netns_exec init "$TRICKLE_DISCOVER" --timeout 2
#
# netns_up N makes a "switch" namespace holding a bridge, and hosts
# node1..nodeN plus init (where the client runs), each a namespace with lo
# and an eth0 on the bridge, an address in $NETNS_SUBNET.0/24 and a route
# for multicast (224.0.0.0/4) on eth0.  Nothing is made in the calling
# namespace: the veth pairs run from the switch to each host.  Namespaces
# are named $NETNS_PREFIX (tfs-PID-RANDOM-) and the host's name.
#
# Commands enter a host with nsenter --net, not ip netns exec: only the
# network namespace changes, so what they mount (tricklefs in init) is
# mounted for the test too, and $! of "nsenter ... &" is the command.
#
# Functions:
#	netns_up N			switch, node1..nodeN, init
#	netns_host_add NAME		one more host on the bridge
#	netns_exec NAME CMD...		run CMD in NAME's namespace
#	netns_bg NAME CMD...		the same in the background; its PID
#					in NETNS_BG_PID (not $!: netns_exec
#					CMD & would give a subshell's)
#	netns_ns NAME			the namespace's name, for ip -n
#	netns_sshd_start NAME [--impostor]
#					sshd on NAME's address, port $NETNS_SSH_PORT;
#					--impostor: it serves NETNS_IMPOSTOR_KEY
#					(and an ecdsa key of its own) while
#					known_hosts and NETNS_HOSTKEYS get the
#					keys made for NAME, as for a host taken
#					over by someone without its keys
#	netns_ssh FROM TO CMD...	OpenSSH from host FROM to TO's sshd
#	netns_announce_start NAME [ARG...]
#					trickle-node --announce --name NAME
#					with NAME's sshd's host keys (none if
#					an ARG is --host-key) and port
#	netns_announce_stop NAME	SIGTERM it, wait; its exit status
#	netns_cleanup			(an EXIT hook) kill every process in
#					our namespaces, delete them
#
# Variables:
#	NETNS_ADDR[NAME]		the host's address
#	NETNS_HOSTS			the hosts' names, in order made
#	NETNS_SSH_PORT			sshd's port (22 unless set before)
#	NETNS_USER_KEY			ed25519 key authorized on every sshd
#	NETNS_KNOWN_HOSTS		known_hosts with every sshd's host keys
#					("ADDR ssh-ed25519 ..." and ecdsa)
#	NETNS_IMPOSTOR_KEY		an ed25519 key no sshd has (.pub too)
#	NETNS_HOSTKEYS[NAME]		NAME's host keys' .pub files, ed25519 first
#	NETNS_HOSTKEY_FPS[NAME]		their SHA256 fingerprints, comma-separated
#	NETNS_SSHD_PID[NAME] NETNS_SSHD_LOG[NAME]
#	NETNS_ANNOUNCE_PID[NAME] NETNS_ANNOUNCE_LOG[NAME]
#
# Skips the test (exit 77) when namespaces, veth pairs or a bridge cannot
# be made (not root, no ip, no kernel support), or sshd is missing.  The
# cleanup runs from lib.sh's EXIT trap (CLEANUP_HOOKS), and a watchdog does
# it should the test shell die without it.

NETNS_SUBNET=${NETNS_SUBNET:-10.84.76}
NETNS_SSH_PORT=${NETNS_SSH_PORT:-22}
NETNS_PREFIX=tfs-$$-$(printf %04x $((RANDOM)))-
NETNS_DIR=$T/netns
NETNS_RUN=/run/netns		# where ip netns keeps them
NETNS_HOSTS=()
NETNS_USER_KEY=
NETNS_KNOWN_HOSTS=$NETNS_DIR/known_hosts
NETNS_IMPOSTOR_KEY=
declare -gA NETNS_ADDR=() NETNS_HOSTKEYS=() NETNS_HOSTKEY_FPS=() \
    NETNS_SSHD_PID=() NETNS_SSHD_LOG=() NETNS_ANNOUNCE_PID=() \
    NETNS_ANNOUNCE_LOG=() _NETNS_ANNOUNCE_ID=()
_NETNS_NEXT=1
_NETNS_WATCHDOG=
_NETNS_UP=

netns_ns() { echo "$NETNS_PREFIX$1"; }

netns_exec() {
	local name=$1
	shift
	nsenter --net="$NETNS_RUN/$NETNS_PREFIX$name" "$@"
}

netns_bg() {
	local name=$1
	shift
	nsenter --net="$NETNS_RUN/$NETNS_PREFIX$name" "$@" &
	NETNS_BG_PID=$!
}

# Our namespaces, as ip netns list has them.
_netns_ours() {
	ip netns list 2>/dev/null | awk -v p="$NETNS_PREFIX" \
	    'index($1, p) == 1 { print $1 }'
}

# Kill every process in our namespaces (they can only be ours), then
# delete the namespaces: the veth pairs and the bridge go with them.
_netns_teardown() {
	local ns pids i left
	for i in $(seq 1 50); do
		pids=
		for ns in $(_netns_ours); do
			pids="$pids $(ip netns pids "$ns" 2>/dev/null)"
		done
		[ -z "${pids// /}" ] && break
		# SIGTERM first (an announcer says goodbye), SIGKILL after 3 s.
		if [ "$i" -le 30 ]; then
			[ "$i" = 1 ] && kill -CONT $pids 2>/dev/null
			[ "$i" = 1 ] && kill $pids 2>/dev/null
		else
			kill -KILL $pids 2>/dev/null
		fi
		sleep 0.1
	done
	for ns in $(_netns_ours); do
		ip netns del "$ns" 2>/dev/null ||
		    echo "netns: cannot delete namespace $ns" >&2
	done
	left=$(_netns_ours)
	[ -z "$left" ] || echo "netns: left behind: $left" >&2
	return 0
}

# Tear down should the test shell die without its EXIT trap.
_netns_watchdog() {
	local shell=$1
	exec </dev/null >/dev/null 2>&1
	trap 'exit 0' TERM
	while kill -0 "$shell"; do
		sleep 1
	done
	_netns_teardown
}

netns_cleanup() {
	local rc=$? name pid
	if [ -n "$_NETNS_WATCHDOG" ]; then
		kill "$_NETNS_WATCHDOG" 2>/dev/null
		wait "$_NETNS_WATCHDOG" 2>/dev/null
		_NETNS_WATCHDOG=
	fi
	[ -n "$_NETNS_UP" ] && _netns_teardown
	_NETNS_UP=
	# Reap our background jobs that lived in the namespaces.
	for pid in "${NETNS_ANNOUNCE_PID[@]}" "${NETNS_SSHD_PID[@]}"; do
		[ -n "$pid" ] && wait "$pid" 2>/dev/null
	done
	return $rc
}

_netns_require() {
	[ "$(id -u)" = 0 ] || skip "network namespaces need root"
	need_cmd ip iproute2
	need_cmd nsenter util-linux
	ip netns list >"$NETNS_DIR.err" 2>&1 ||
		skip "ip netns does not work: $(cat "$NETNS_DIR.err")"
}

# netns_host_add NAME: a namespace on the bridge, address .N.
netns_host_add() {
	local name=$1 ns=$NETNS_PREFIX$1 i=$_NETNS_NEXT sw=${NETNS_PREFIX}sw
	[ -z "${NETNS_ADDR[$name]:-}" ] || fail "netns: host $name exists"
	[ "$i" -lt 250 ] || fail "netns: too many hosts"
	_NETNS_NEXT=$((i + 1))
	ip netns add "$ns" || fail "netns: ip netns add $ns failed"
	ip -n "$sw" link add "v$i" type veth peer name eth0 netns "$ns" ||
	    skip "cannot make a veth pair"
	ip -n "$sw" link set "v$i" master br0 up &&
	ip -n "$ns" link set lo up &&
	ip -n "$ns" addr add "$NETNS_SUBNET.$i/24" dev eth0 &&
	ip -n "$ns" link set eth0 up &&
	ip -n "$ns" route add 224.0.0.0/4 dev eth0 ||
	    fail "netns: setting up $name failed"
	NETNS_ADDR[$name]=$NETNS_SUBNET.$i
	NETNS_HOSTS+=("$name")
	mkdir -p "$NETNS_DIR/$name"
}

# netns_up N: the switch, node1..nodeN and init.
netns_up() {
	local n=$1 i sw=${NETNS_PREFIX}sw
	_netns_require
	mkdir -p "$NETNS_DIR" || fail "mkdir $NETNS_DIR"
	: >"$NETNS_KNOWN_HOSTS"
	CLEANUP_HOOKS+=(netns_cleanup)
	_NETNS_UP=1
	_netns_watchdog "$MAIN_PID" &
	_NETNS_WATCHDOG=$!
	ip netns add "$sw" 2>"$NETNS_DIR/err" ||
	    skip "cannot make a network namespace: $(cat "$NETNS_DIR/err")"
	ip -n "$sw" link add br0 type bridge 2>"$NETNS_DIR/err" ||
	    skip "cannot make a bridge: $(cat "$NETNS_DIR/err")"
	# No IGMP snooping: without a querier it could drop the group's
	# traffic; the bridge floods it to every port instead.
	ip -n "$sw" link set br0 type bridge mcast_snooping 0 &&
	ip -n "$sw" link set br0 up || fail "netns: setting up the bridge failed"
	for i in $(seq 1 "$n"); do
		netns_host_add "node$i"
	done
	netns_host_add init
}

# Is TCP port $3 open at $2, seen from host $1?
_netns_port_open() {
	netns_exec "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null
}

# netns_sshd_start NAME [--impostor]: sshd on NAME's address (tests/sshd.sh's
# config), with an ed25519 and an ecdsa host key; NETNS_USER_KEY may log in.
# With --impostor the keys made for NAME go to known_hosts but the sshd
# serves others: NETNS_IMPOSTOR_KEY and an ecdsa key of its own.
netns_sshd_start() {
	local name=$1 addr=${NETNS_ADDR[$1]:-} dir=$NETNS_DIR/$1/sshd pid i
	local host fp fps= keys
	[ -n "$addr" ] || fail "netns: no host $name"
	. "$SRCROOT/tests/sshd.sh" || skip "tests/sshd.sh missing"
	sshd_require
	mkdir -p "$dir" && dir=$(cd "$dir" && pwd -P) || fail "mkdir $dir"
	if [ -z "$NETNS_USER_KEY" ]; then
		NETNS_USER_KEY=$NETNS_DIR/id_ed25519
		NETNS_IMPOSTOR_KEY=$NETNS_DIR/impostor_ed25519
		ssh-keygen -q -t ed25519 -N '' -C tricklefs-test-user \
		    -f "$NETNS_USER_KEY" &&
		ssh-keygen -q -t ed25519 -N '' -C tricklefs-test-impostor \
		    -f "$NETNS_IMPOSTOR_KEY" || fail "ssh-keygen failed"
	fi
	# keys: the host's keys, those known_hosts gets.
	keys=$dir
	[ "${2:-}" = --impostor ] && keys=$dir/genuine && mkdir -p "$keys"
	ssh-keygen -q -t ed25519 -N '' -C "tricklefs-test-$name" \
	    -f "$keys/host_ed25519" &&
	ssh-keygen -q -t ecdsa -b 256 -N '' -C "tricklefs-test-$name" \
	    -f "$keys/host_ecdsa" || fail "ssh-keygen failed"
	if [ "$keys" != "$dir" ]; then
		cp "$NETNS_IMPOSTOR_KEY" "$dir/host_ed25519" &&
		cp "$NETNS_IMPOSTOR_KEY.pub" "$dir/host_ed25519.pub" &&
		ssh-keygen -q -t ecdsa -b 256 -N '' -C tricklefs-test-impostor \
		    -f "$dir/host_ecdsa" || fail "netns: impostor keys for $name"
	fi
	cp "$NETNS_USER_KEY.pub" "$dir/authorized_keys" || fail "cp"
	mkdir -p /run/sshd 2>/dev/null || true
	# tests/sshd.sh's configuration, on our address and port as well.
	SSHD_DIR=$dir SSHD_CONFIG=$dir/sshd_config SSHD_PORT=$NETNS_SSH_PORT \
	    SSHD_EXTRA_CONFIG="ListenAddress $addr" _sshd_write_config ||
	    fail "netns: writing the sshd configuration failed"
	NETNS_SSHD_LOG[$name]=$dir/sshd.log
	: >"$dir/sshd.log"
	# nsenter execs sshd: $! is the sshd, which -D keeps in front.
	nsenter --net="$NETNS_RUN/$NETNS_PREFIX$name" "$SSHD_BIN" -D -f "$dir/sshd_config" \
	    -E "$dir/sshd.log" </dev/null >>"$dir/sshd.log" 2>&1 &
	pid=$!
	NETNS_SSHD_PID[$name]=$pid
	for i in $(seq 1 200); do
		kill -0 "$pid" 2>/dev/null || break
		_netns_port_open "$name" "$addr" "$NETNS_SSH_PORT" && break
		sleep 0.05
	done
	if ! _netns_port_open "$name" "$addr" "$NETNS_SSH_PORT"; then
		sed 's/^/  sshd: /' "$dir/sshd.log" >&2
		fail "netns: sshd on $name did not start"
	fi
	if [ "$NETNS_SSH_PORT" = 22 ]; then host=$addr; else host="[$addr]:$NETNS_SSH_PORT"; fi
	NETNS_HOSTKEYS[$name]="$keys/host_ed25519.pub $keys/host_ecdsa.pub"
	for i in host_ed25519 host_ecdsa; do
		echo "$host $(cut -d' ' -f1,2 "$keys/$i.pub")" >>"$NETNS_KNOWN_HOSTS"
		fp=$(ssh-keygen -l -E sha256 -f "$keys/$i.pub" | cut -d' ' -f2)
		fps=${fps:+$fps,}$fp
	done
	NETNS_HOSTKEY_FPS[$name]=$fps
}

# netns_ssh FROM TO CMD...: OpenSSH from host FROM to TO's sshd.
netns_ssh() {
	local from=$1 to=$2
	shift 2
	netns_exec "$from" ssh -q -F /dev/null -i "$NETNS_USER_KEY" \
	    -p "$NETNS_SSH_PORT" -o IdentitiesOnly=yes -o BatchMode=yes \
	    -o ConnectTimeout=10 -o UserKnownHostsFile="$NETNS_KNOWN_HOSTS" \
	    -o StrictHostKeyChecking=yes "$(id -un)@${NETNS_ADDR[$to]}" "$@"
}

# netns_announce_start NAME [ARG...]: trickle-node --announce on NAME,
# with its sshd's host keys and port if it has one; returns once it has
# its socket.  ARGs come last and so override the defaults; --host-key
# among them replaces the sshd's keys (repeated, it would add to them).
netns_announce_start() {
	local name=$1 log=$NETNS_DIR/$1/announce.log pid k i args=() own=
	shift
	[ -n "${NETNS_ADDR[$name]:-}" ] || fail "netns: no host $name"
	[ -z "${NETNS_ANNOUNCE_PID[$name]:-}" ] ||
	    fail "netns: an announcer already runs on $name"
	for k in "$@"; do
		case $k in --host-key|--host-key=*) own=1 ;; esac
	done
	if [ -z "$own" ]; then
		for k in ${NETNS_HOSTKEYS[$name]:-}; do
			args+=(--host-key "$k")
		done
	fi
	[ -n "${NETNS_SSHD_PID[$name]:-}" ] && args+=(--ssh-port "$NETNS_SSH_PORT")
	: >"$log"
	NETNS_ANNOUNCE_LOG[$name]=$log
	nsenter --net="$NETNS_RUN/$NETNS_PREFIX$name" "$TRICKLE_NODE" --announce \
	    --name "$name" "${args[@]}" "$@" </dev/null >>"$log" 2>&1 &
	pid=$!
	NETNS_ANNOUNCE_PID[$name]=$pid
	_NETNS_ANNOUNCE_ID[$name]=$pid:$(starttime_of "$pid")
	for i in $(seq 1 200); do
		grep -q '^announcing ' "$log" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	sed 's/^/  announce: /' "$log" >&2
	fail "netns: the announcer on $name did not start"
}

# netns_announce_stop NAME: SIGTERM, then its exit status (SIGKILL and 124
# if it is still there after 10 s).  The PID is checked with its start
# time (lib.sh's alive): once reaped, it may be another process's.
netns_announce_stop() {
	local name=$1 pid=${NETNS_ANNOUNCE_PID[$1]:-} i rc id
	[ -n "$pid" ] || fail "netns: no announcer on $name"
	id=${_NETNS_ANNOUNCE_ID[$name]}
	alive "$id" && kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 200); do
		alive "$id" || break
		sleep 0.05
	done
	if alive "$id"; then
		echo "netns: the announcer on $name ($pid) ignored SIGTERM:" \
		    "$(cat "/proc/$pid/stat" "/proc/$pid/wchan" 2>&1)" >&2
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		NETNS_ANNOUNCE_PID[$name]=
		return 124
	fi
	wait "$pid"
	rc=$?
	NETNS_ANNOUNCE_PID[$name]=
	return $rc
}
