#!/bin/bash
# tests/bench/nodes.sh - a mount of many SSH nodes: how long until the
# mount returns and until every node's VM is up, for 8, 64 (and more)
# nodes, and the same with one dead node among them (a port that accepts
# the connection and never says a word), so that one can see whether
# handshakes run in parallel and whether one dead node holds the others.
#
#	sudo tests/bench/nodes.sh [COUNTS...]	# default: 8 64
#
# The nodes are loopback addresses 127.0.0.1, .2, ... all served by
# private sshds (sshd listens on at most 16 addresses, so one sshd per 16
# nodes), one port, one host key; the dead node is 127.0.0.250 on the
# same port, a listening socket nobody accepts on.  Prints, per run: the
# wall time of the mount command, the time until .ctl lists every VM up,
# and the CPU time of the tricklefs daemon.  No timed assertion.
. "$(dirname "$0")/lib.sh"

bench_init
COUNTS=("$@")
[ ${#COUNTS[@]} -gt 0 ] || COUNTS=(8 64)
MAXN=0
for n in "${COUNTS[@]}"; do [ "$n" -gt "$MAXN" ] && MAXN=$n; done
[ "$MAXN" -le 240 ] || die "at most 240 nodes (127.0.0.1-240)"

S=$T/sshd
mkdir -p "$S"
ssh-keygen -q -t ed25519 -N '' -f "$S/host_ed25519" || die "ssh-keygen"
ssh-keygen -q -t ed25519 -N '' -f "$S/user" || die "ssh-keygen"
cp "$S/user.pub" "$S/authorized_keys"
PORT=$((20000 + RANDOM % 40000))
mkdir -p /run/sshd
SSHD_PIDS=()
stop_sshds() {
	local p
	for p in "${SSHD_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "${HOLE_PID:-}" ] && kill "$HOLE_PID" 2>/dev/null
	# NODES_LOGS=DIR keeps the mounts' logs there.
	[ -n "${NODES_LOGS:-}" ] && mkdir -p "$NODES_LOGS" &&
	    cp "$T"/*.log "$NODES_LOGS/" 2>/dev/null
	return 0
}
CLEANUP_HOOKS+=(stop_sshds)
for ((first = 1; first <= MAXN; first += 16)); do
	cfg=$S/sshd_config.$first
	{
		for ((a = first; a < first + 16 && a <= MAXN; a++)); do
			echo "ListenAddress 127.0.0.$a"
		done
		cat <<EOF
Port $PORT
HostKey $S/host_ed25519
PidFile $S/sshd.$first.pid
AuthorizedKeysFile $S/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin yes
UseDNS no
PrintMotd no
PrintLastLog no
MaxStartups 1000:30:2000
LogLevel ERROR
EOF
	} >"$cfg"
	/usr/sbin/sshd -f "$cfg" -E "$S/sshd.$first.log" || die "sshd: $(cat "$S/sshd.$first.log")"
	for i in $(seq 1 100); do [ -s "$S/sshd.$first.pid" ] && break; sleep 0.05; done
	SSHD_PIDS+=("$(cat "$S/sshd.$first.pid")")
done
key=$(cut -d' ' -f1-2 "$S/host_ed25519.pub")
for ((a = 1; a <= MAXN; a++)); do
	echo "[127.0.0.$a]:$PORT $key"
done >"$S/known_hosts"
echo "[127.0.0.250]:$PORT $key" >>"$S/known_hosts"

# The dead node: listens, never accepts, never answers.
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.250", int(sys.argv[1]))); s.listen(16)
time.sleep(3600)' "$PORT" &
HOLE_PID=$!

# run NAME N [DEAD]: mount N nodes (and the dead one), print the figures.
run() {
	local name=$1 n=$2 dead=${3:-} mp=$T/$1 t0 t1 t2 up want cpu hosts
	hosts="127.0.0.[1-$n]"
	want=$n
	[ -n "$dead" ] && hosts="$hosts 127.0.0.250"
	mkdir -p "$mp"
	MOUNTS+=("$mp")
	t0=$(date +%s%N)
	# shellcheck disable=SC2086
	"$TRICKLEFS" -o "identity=$S/user,known_hosts=$S/known_hosts,port=$PORT,node_command=$TRICKLE_NODE --dir $NT/node,logfile=$T/$name.log" \
	    $hosts "$mp" 2>"$T/mount.err" ||
	    die "mount of $n nodes failed: $(cat "$T/mount.err")"
	t1=$(date +%s%N)
	FS_PID=$(_fs_pid_of "$mp") || die "no tricklefs for $mp"
	KILL_PIDS+=("$FS_PID:$(starttime_of "$FS_PID")")
	for i in $(seq 1 6000); do
		up=$(grep -c ' up ' "$mp/.ctl" 2>/dev/null)
		[ "${up:-0}" -ge "$want" ] && break
		sleep 0.01
	done
	t2=$(date +%s%N)
	cpu=$(awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$FS_PID/stat")
	printf '%-5s nodes=%-4s dead=%-3s mount_returned=%6.2fs all_up=%6.2fs daemon_cpu=%ss dead_state=%s\n' \
	    "$name" "$n" "${dead:-0}" "$(calc "($t1 - $t0) / 1e9")" \
	    "$(calc "($t2 - $t0) / 1e9")" "$cpu" \
	    "$([ -n "$dead" ] && awk '$1 ~ /^127\.0\.0\.250/ { print $3 }' "$mp/.ctl")"
	bench_unmount "$name"
}

echo "# tricklefs nodes.sh: $(nproc) CPUs, load at start $LOAD_START"
for n in "${COUNTS[@]}"; do
	run "n$n" "$n"
	run "d$n" "$n" 1
done
