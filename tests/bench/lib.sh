# tests/bench/lib.sh - shared by the benchmark scripts (bash); see README.md.
# shellcheck shell=bash
#
#	. "$(dirname "$0")/lib.sh"
#	bench_need parallel openssh-client	# apt-get install what is missing
#	bench_sshd				# private sshd, ControlMaster
#	bench_mount_local NAME 2		# $T/NAME, local0 local1
#	bench_mount_ssh NAME a b		# $T/NAME, VMs a and b on one node
#	x=$(kv p50_us "$line")			# a field of callbench's output
#	CLEANUP_HOOKS+=(my_cleanup)		# more for the EXIT trap to do
#
# Everything lives under $T (mktemp -d); the EXIT trap unmounts what was
# mounted (fusermount3 -u, -uz if stuck), kills by PID what was started
# (tricklefs daemons, the ssh ControlMaster, perf), stops sshd and removes
# $T.  Never a timed assertion: the scripts print figures and ratios.

set -u
set -o pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCROOT=$(cd "$BENCH_DIR/../.." && pwd)
BUILD=${BUILD:-$SRCROOT/build}
TRICKLEFS=${TRICKLEFS:-$BUILD/fs/tricklefs}
TRICKLE_NODE=${TRICKLE_NODE:-$BUILD/node/trickle-node}
CALLBENCH=${CALLBENCH:-$BUILD/tests/bench/callbench}
BASIC_SO=${BASIC_SO:-$BUILD/examples/basic.so}
PROG=$(basename "$0")

die() {
	echo "$PROG: $*" >&2
	exit 1
}

say() {
	echo "== $*" >&2
}

# bench_need PACKAGE...: install the Debian packages that are missing, as
# scripts/deps.sh does.
bench_need() {
	local p missing=
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
		    grep -q 'ok installed' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	[ "$(id -u)" = 0 ] || die "not root: install$missing yourself"
	say "installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >&2 &&
	    apt-get install -y -q --no-install-recommends $missing >&2 ||
	    die "apt-get install$missing failed"
}

[ "$(id -u)" = 0 ] || [ -u "$(command -v fusermount3 2>/dev/null)" ] ||
	die "run as root (sudo $0): FUSE mounts and sshd need it"
[ -c /dev/fuse ] || die "no /dev/fuse"
bench_need fuse3 openssh-client openssh-server procps

for _f in "$TRICKLEFS" "$TRICKLE_NODE" "$BASIC_SO"; do
	[ -x "$_f" ] || [ -f "$_f" ] || die "$_f not built: ninja -C $BUILD"
done
if [ ! -x "$CALLBENCH" ]; then
	ninja -C "$BUILD" tests/bench/callbench >&2 ||
	    die "cannot build $CALLBENCH (meson setup $BUILD first)"
fi
TRICKLE_NODE=$(readlink -f "$TRICKLE_NODE")

# bench_init: make the temp dirs and set the EXIT trap.  Everything goes
# under T (mktemp -d in $TMPDIR), except the nodes' own files (each call's
# directory with args, stdout, stderr): those go under NT, on tmpfs
# (/dev/shm) unless NODE_TMP names another place.  A node's default,
# $XDG_RUNTIME_DIR, is a tmpfs on most machines; on a disk file system
# the per-call files cost more than the rest of a call (see README.md).
bench_init() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/tricklefs-bench.XXXXXX") || exit 1
	trap bench_cleanup EXIT
	trap 'echo "$PROG: interrupted" >&2; exit 130' INT TERM HUP
	NT=$(mktemp -d "${NODE_TMP:-/dev/shm}/tricklefs-bench.XXXXXX") ||
	    die "cannot make a directory in ${NODE_TMP:-/dev/shm}"
	mkdir -p "$NT/run" "$NT/node"
	export XDG_RUNTIME_DIR=$NT/run	# local nodes keep their files here
	LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
	awk '{ exit !($1 >= 0.5) }' /proc/loadavg &&
	    echo "$PROG: warning: load average $LOAD_START: something else runs here, figures will be low" >&2
	NODE_FS=$(findmnt -n -o FSTYPE -T "$NT" 2>/dev/null | head -n 1 ||
	    stat -f -c %T "$NT")
}

T=
NT=
MOUNTS=()	# mount points
KILL_PIDS=()	# PID:STARTTIME of what we started (daemons, ssh master)
CM_PID=
SSHD_STARTED=
CLEANUP_HOOKS=()	# functions the EXIT trap calls once daemons are gone
BENCH_ROOT_PIDS=	# more roots for our_pids (e.g. several sshds)

starttime_of() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	set -- $s
	echo "${20}"
}

# Is PID:STARTTIME still that process?
same_process() {
	[ "$(starttime_of "${1%%:*}")" = "${1#*:}" ]
}

bench_cleanup() {
	local rc=$? mp e i
	trap - EXIT INT TERM HUP
	set +e
	for mp in "${MOUNTS[@]}"; do
		mountpoint -q "$mp" || continue
		fusermount3 -u "$mp" 2>/dev/null || fusermount3 -uz "$mp"
	done
	for e in "${KILL_PIDS[@]}"; do
		for i in $(seq 1 100); do
			same_process "$e" || break
			[ $i = 40 ] && kill "${e%%:*}" 2>/dev/null
			sleep 0.05
		done
		same_process "$e" && kill -KILL "${e%%:*}" 2>/dev/null
	done
	[ -n "$CM_PID" ] && { kill "$CM_PID" 2>/dev/null; wait "$CM_PID" 2>/dev/null; }
	for e in "${CLEANUP_HOOKS[@]}"; do
		"$e"
	done
	[ -n "$SSHD_STARTED" ] && sshd_stop
	for mp in "${MOUNTS[@]}"; do
		mountpoint -q "$mp" && { echo "$PROG: $mp still mounted, keeping $T" >&2; exit 1; }
	done
	rm -rf "$T" "${NT:-}"
	exit $rc
}

# kv KEY LINE: the value of KEY=VALUE in callbench's output line.
kv() {
	local w
	for w in $2; do
		[ "${w%%=*}" = "$1" ] && { echo "${w#*=}"; return 0; }
	done
	echo "?"
}

# calc EXPR: floating point arithmetic with awk, 2 decimals by default.
calc() {
	awk "BEGIN { printf \"%.${2:-2}f\", $1 }" 2>/dev/null || echo "?"
}

# The tricklefs daemon serving mount point $1.
_fs_pid_of() {
	local p exe
	exe=$(readlink -f "$TRICKLEFS")
	for p in $(pgrep -f -- " $1\$"); do
		[ "$(readlink -f "/proc/$p/exe" 2>/dev/null)" = "$exe" ] &&
		    { echo "$p"; return 0; }
	done
	return 1
}

# bench_mount NAME ARG...: tricklefs ARG... $T/NAME; sets FS_PID.
bench_mount() {
	local mp=$T/$1
	shift
	mkdir -p "$mp"
	MOUNTS+=("$mp")
	"$TRICKLEFS" "$@" "$mp" 2>"$T/mount.err" ||
	    die "tricklefs $* $mp failed: $(cat "$T/mount.err"; tail -n 5 "$T/tricklefs.log" 2>/dev/null)"
	FS_PID=$(_fs_pid_of "$mp") || die "no tricklefs process for $mp"
	KILL_PIDS+=("$FS_PID:$(starttime_of "$FS_PID")")
}

# bench_mount_local NAME N: N local VMs, local0...
bench_mount_local() {
	bench_mount "$1" -o "local=$2,logfile=$T/tricklefs.log"
}

# bench_mount_ssh NAME VM...: the VMs on the private sshd, one node.
bench_mount_ssh() {
	local name=$1 vm nodes=()
	shift
	for vm in "$@"; do
		nodes+=("$vm=$SSHD_USER@127.0.0.1:$SSHD_PORT")
	done
	bench_mount "$name" -o "identity=$SSHD_KEY,known_hosts=$SSHD_KNOWN_HOSTS,node_command=$TRICKLE_NODE --dir $NT/node,logfile=$T/tricklefs.log" "${nodes[@]}"
}

# bench_unmount NAME: unmount and wait for the daemon to go.
bench_unmount() {
	local mp=$T/$1 i
	fusermount3 -u "$mp" || fusermount3 -uz "$mp" || die "cannot unmount $mp"
	for i in $(seq 1 200); do
		kill -0 "$FS_PID" 2>/dev/null || break
		sleep 0.05
	done
}

# bench_sshd: start the private sshd (tests/sshd.sh) and an OpenSSH
# ControlMaster to it; SSH=(ssh ... USER@127.0.0.1) runs a command through
# the master.
#
# Root's login shell on some images sources a slow ~/.bashrc (pyenv: ~80 ms
# per command); Debian's bash reads it for commands run by sshd unless
# SHLVL shows a parent shell.  So the client sends SHLVL=1 (SendEnv on the
# master, AcceptEnv in sshd): the baseline is OpenSSH at its fastest, not
# the image's start-up files; `env -u SHLVL` keeps them, for reference.
# Run the client as `env SHLVL=1 ...`: with a bare `SHLVL=1 cmd`, bash
# lowers SHLVL to 0 when it execs the last command of a $(...).
bench_sshd() {
	local i
	bench_need openssh-server openssh-client
	. "$SRCROOT/tests/sshd.sh"
	# sftp for scp (bulk.sh): OpenSSH 9's scp speaks SFTP by default.
	SSHD_EXTRA_CONFIG="AcceptEnv SHLVL
Subsystem sftp internal-sftp" TEST_TMPDIR=$T sshd_start ||
	    die "sshd_start failed"
	SSHD_STARTED=1
	SSH_BASE=(ssh -F /dev/null -i "$SSHD_KEY" -p "$SSHD_PORT"
		-o IdentitiesOnly=yes -o BatchMode=yes
		-o UserKnownHostsFile="$SSHD_KNOWN_HOSTS"
		-o StrictHostKeyChecking=yes -o ControlPath="$T/cm"
		-o SendEnv=SHLVL)
	env SHLVL=1 "${SSH_BASE[@]}" -o ControlMaster=yes -N "$SSHD_USER@127.0.0.1" \
	    </dev/null 2>"$T/cm.err" &
	CM_PID=$!
	for i in $(seq 1 100); do
		"${SSH_BASE[@]}" -O check "$SSHD_USER@127.0.0.1" 2>/dev/null && break
		kill -0 "$CM_PID" 2>/dev/null || die "ssh ControlMaster died: $(cat "$T/cm.err")"
		sleep 0.1
	done
	SSH=("${SSH_BASE[@]}" -o ControlMaster=no "$SSHD_USER@127.0.0.1")
	# A command run through it must not pay for the start-up files.
	[ "$(env SHLVL=1 "${SSH[@]}" 'echo $SHLVL')" = 2 ] ||
	    echo "$PROG: warning: SHLVL did not reach the remote shell" >&2
	return 0
}

# The header of a results table: when, where, how busy.
bench_header() {
	local what=
	# The source tree's commit describes the build only if it is its own.
	case $(readlink -f "$BUILD") in
	"$SRCROOT"/*)
		what=", commit $(git -C "$SRCROOT" rev-parse --short HEAD 2>/dev/null || echo ?)"
		git -C "$SRCROOT" diff --quiet HEAD -- fs node utils 2>/dev/null ||
		    what="$what+changes" ;;
	esac
	echo "$PROG $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')$what"
	echo "load average at start $LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg); build $BUILD"
	# What a process costs here (a VM is one): a paravirtualised guest
	# can charge ten times what hardware paging does.
	echo "fork + exit + wait of a small process: $("$CALLBENCH" forkcost -n 300 | sed 's/.*fork_us=//') µs; with 30 pages copied on write: $("$CALLBENCH" forkcost -n 300 -w 30 | sed 's/.*fork_us=//') µs"
}

# Our processes: the tricklefs daemon ($FS_PID), and everything below it
# (local nodes and their VM workers) and below our sshd (its sessions,
# SSH nodes, their workers), or below each of $BENCH_ROOT_PIDS.  Other
# people's trickle-node processes on this machine are left out.
our_pids() {
	ps -e -o pid= -o ppid= | awk -v roots="$FS_PID ${SSHD_PID:-} $BENCH_ROOT_PIDS" '
	    { parent[$1] = $2 }
	    END {
		n = split(roots, r, " ")
		for (i = 1; i <= n; i++) if (r[i] != "") mine[r[i]] = 1
		do {
			more = 0
			for (p in parent)
				if (!(p in mine) && (parent[p] in mine)) { mine[p] = 1; more = 1 }
		} while (more)
		for (p in mine) print p
	    }' | paste -sd, -
}

# perf: bench_perf_start NAME records our processes (our_pids; perf
# record -g: the tricklefs daemon, trickle-node and its workers, sshd and
# the kernel work done for them) into $PERF_DIR/NAME.data until
# bench_perf_stop.  Nothing without --perf.
PERF_DIR=
PERF_PID=
bench_perf_start() {
	[ -n "$PERF_DIR" ] || return 0
	perf record -q -g -p "$(our_pids)" -o "$PERF_DIR/$1.data" \
	    >"$PERF_DIR/$1.log" 2>&1 &
	PERF_PID=$!
	KILL_PIDS+=("$PERF_PID:$(starttime_of "$PERF_PID")")
	sleep 0.5	# let it attach
}
bench_perf_stop() {
	[ -n "$PERF_PID" ] || return 0
	kill -INT "$PERF_PID" 2>/dev/null
	wait "$PERF_PID" 2>/dev/null
	PERF_PID=
}
