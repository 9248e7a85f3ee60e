#!/bin/bash
# tests/bench/scale.sh - how tricklefs grows with the number of VMs: for
# each N, a mount of N VMs and the figures of issue 18, with the growth
# from one N to the next.  Prints figures; asserts nothing about time.
# See README.md, "scale".
#
#	sudo tests/bench/scale.sh [--quick] [--sizes "8 64 256 1000"]
#	    [--forks "1000 10000"] [--ssh] [--three-nodes N] [--disk] [--perf DIR]
#
#   --quick	  sizes 8 64 256, forks 1000 (~1 min)
#   --sizes L	  the VM counts, each a mount of its own (8 64 256 1000)
#   --forks L	  .any forks per run, each run a fresh queue (1000 10000)
#   --ssh	  also each N as N VMs of one node over the private sshd
#		  (tests/sshd.sh), N <= 1024
#   --three-nodes N  also one mount of 3 x N VMs on three SSH nodes
#		  (127.0.0.1-3 on the private sshd; 1024 makes 3,072)
#   -o OPTS	  more mount options for every mount (e.g. lease=300: a
#		  node slow to start 1,000 VMs on a busy machine otherwise
#		  ends the session it did not hear about for 60 s)
#   --disk	  keep the nodes' files in $TMPDIR or /tmp (a user's node over
#		  SSH keeps them on its disk), not /dev/shm
#   --perf DIR	  perf record -g our processes during the .any forks
. "$(dirname "$0")/lib.sh"

SIZES="8 64 256 1000"
FORKS="1000 10000"
SSH_TOO=
THREE=
MOPTS=
while [ $# -gt 0 ]; do
	case $1 in
	--quick) SIZES="8 64 256"; FORKS=1000; shift ;;
	--sizes) SIZES=$2; shift 2 ;;
	--forks) FORKS=$2; shift 2 ;;
	--ssh) SSH_TOO=1; shift ;;
	--three-nodes) THREE=$2; shift 2 ;;
	-o) MOPTS=,$2; shift 2 ;;
	--disk) NODE_TMP=${TMPDIR:-/tmp}; shift ;;
	--perf) PERF_DIR=$(mkdir -p "$2" && cd "$2" && pwd) || die "bad --perf dir"
		shift 2 ;;
	-h|--help) sed -n '2,20s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
bench_init
[ -z "$PERF_DIR" ] || command -v perf >/dev/null || die "--perf: no perf"
# Each VM is a process (and over SSH a channel's worth of state): let
# there be enough of everything for the largest N.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

now() { date +%s.%N; }
since() { calc "$(now) - $1" 3; }

# Seconds until MOUNT/.ctl lists want VMs, all up (or a minute passes).
# The mount command returns while a node's VMs still start, and a read of
# .ctl at 1,000 VMs costs the daemon ~10 ms: so the last VM's info (they
# come up in order) is what is watched, and .ctl is read once it is up.
wait_up() {
	local mp=$1 want=$2 t0=$3 i up=0 last st
	last=$(awk 'END { print $1 }' "$mp/.ctl" 2>/dev/null)
	for i in $(seq 1 3000); do
		st=$(sed -n 's/^state: //p' "$mp/$last/info" 2>/dev/null)
		if [ "$st" = up ] || [ -z "$last" ]; then
			up=$(awk '$3 == "up"' "$mp/.ctl" 2>/dev/null | wc -l)
			[ "$up" -ge "$want" ] && { since "$t0"; return 0; }
		fi
		sleep 0.02
	done
	echo "$PROG: only $up of $want VMs up after a minute" >&2
	echo "?"
}

# time_cmd CMD...: seconds CMD takes (its output thrown away).
time_cmd() {
	local t0
	t0=$(now)
	"$@" >/dev/null 2>"$T/cmd.err" || {
		echo "$PROG: $*: $(tail -n 2 "$T/cmd.err")" >&2
		echo "?"
		return 1
	}
	since "$t0"
}

# CPU seconds (user + system) the process has used: a figure that a busy
# machine disturbs less than elapsed time.
cpu_s() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	s=${s##*) }
	set -- $s
	calc "(${12} + ${13}) / $(getconf CLK_TCK)" 2
}

# Results: RES[kind:metric:N] = seconds
declare -A RES
METRICS=(up ls lsl fanout fanout2)
for f in $FORKS; do METRICS+=("fork$f" "any$f" "cpu$f" "lscalls$f"); done
METRICS+=(inject inject1m sent1m)
declare -A LABEL=(
	[up]="all VMs up"
	[ls]="ls MOUNT"
	[lsl]="ls -l MOUNT"
	[inject]="cp a small .so to .all/inject/"
	[inject1m]="cp a 1 MiB .so to .all/inject/"
	[sent1m]="MiB sent to the node for it"
	[fanout]="one .all/calls/new line, all results read (first)"
	[fanout2]="the same, the next line (workers warm)"
)
for f in $FORKS; do
	LABEL[fork$f]="$f .any forks: all forked"
	LABEL[any$f]="$f .any forks: all ended (.done)"
	LABEL[cpu$f]="$f .any forks: CPU s of the tricklefs daemon"
	LABEL[lscalls$f]="ls -l .any/calls ($f calls)"
done

# run_size KIND N MOUNT-ARGS...: one mount of N VMs, every figure.
run_size() {
	local kind=$1 n=$2 t0 mp out f
	shift 2
	mp=$T/$kind$n
	say "$kind: $n VMs"
	t0=$(now)
	bench_mount "$kind$n" "$@"
	RES[$kind:up:$n]=$(wait_up "$mp" "$n" "$t0")
	echo "  up: ${RES[$kind:up:$n]} s" >&2
	RES[$kind:ls:$n]=$(time_cmd ls "$mp")
	RES[$kind:lsl:$n]=$(time_cmd ls -l "$mp")
	out=$("$CALLBENCH" fanout "$mp") || echo "$PROG: fanout: calls failed" >&2
	echo "  fanout: $out" >&2
	RES[$kind:fanout:$n]=$(kv elapsed_s "$out")
	# The first line pays each worker's first call (its files, its
	# flusher thread); the next shows the steady cost.
	out=$("$CALLBENCH" fanout "$mp") || echo "$PROG: fanout: calls failed" >&2
	RES[$kind:fanout2:$n]=$(kv elapsed_s "$out")
	for f in $FORKS; do
		local c0
		c0=$(cpu_s "$FS_PID")
		bench_perf_start "$kind$n-any$f"
		out=$("$CALLBENCH" pipe -n "$f" -b 100 -j done "$mp/.any") ||
		    echo "$PROG: $f .any forks failed" >&2
		bench_perf_stop
		echo "  .any: $out" >&2
		RES[$kind:fork$f:$n]=$(kv fork_s "$out")
		RES[$kind:any$f:$n]=$(kv elapsed_s "$out")
		RES[$kind:cpu$f:$n]=$(calc "$(cpu_s "$FS_PID") - $c0" 2)
		echo "  daemon CPU: ${RES[$kind:cpu$f:$n]} s" >&2
		RES[$kind:lscalls$f:$n]=$(time_cmd ls -l "$mp/.any/calls")
		# The next run starts from an empty .any/calls.
		find "$mp/.any/calls" -mindepth 1 -maxdepth 1 -type d \
		    -exec rmdir {} + 2>"$T/cmd.err"
	done
	# Last: at 1,000 VMs an .all/inject may still cost the node its
	# link (every VM its own copy, issue 18), which would spoil the rest.
	RES[$kind:inject:$n]=$(time_cmd cp "$BASIC_SO" "$mp/.all/inject/")
	# Issue 18: 1 MiB to every VM, once per node (VM/info "bytes sent"
	# is its host's count).  A shared object of 1 MiB and more: basic.so
	# with bytes after its end (the loader reads only what its headers
	# point at), new bytes each time: a node's cache (of this user,
	# across mounts) would have one sent before.
	local b0 vm0 big=$T/big-$kind$n.so
	{ cat "$BASIC_SO"; head -c 1048576 /dev/urandom; } >"$big"
	vm0=$(ls "$mp" | grep -v '^\.' | head -n 1)
	b0=$(sed -n 's/^bytes sent: //p' "$mp/$vm0/info")
	RES[$kind:inject1m:$n]=$(time_cmd cp "$big" "$mp/.all/inject/big.so")
	RES[$kind:sent1m:$n]=$(calc "($(sed -n 's/^bytes sent: //p' "$mp/$vm0/info") - ${b0:-0}) / 1048576" 2)
	bench_unmount "$kind$n"
	rmdir "$mp"
}

# growth A B NA NB: how B/A compares with NB/NA, as the exponent k of
# t ~ N^k (1 linear, 2 quadratic); "-" when a figure is too small to say.
growth() {
	awk -v a="$1" -v b="$2" -v na="$3" -v nb="$4" 'BEGIN {
		if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || a < 0.005 || b <= 0)
			{ printf "-"; exit }
		printf "x%.1f (k=%.2f)", b / a, log(b / a) / log(nb / na) }'
}

table() {
	local kind=$1 sizes=$2 m n prev line
	echo
	echo "### $kind: seconds by number of VMs; growth from each N to the next as t ~ N^k"
	echo
	line="| |"
	for n in $sizes; do line="$line N=$n |"; done
	echo "$line growth |"
	line="|---|"
	for n in $sizes; do line="$line---|"; done
	echo "$line---|"
	for m in "${METRICS[@]}"; do
		line="| ${LABEL[$m]} |"
		for n in $sizes; do line="$line ${RES[$kind:$m:$n]:-?} |"; done
		prev=
		local g=
		for n in $sizes; do
			[ -n "$prev" ] && g="$g $(growth "${RES[$kind:$m:$prev]:-?}" "${RES[$kind:$m:$n]:-?}" "$prev" "$n")"
			prev=$n
		done
		echo "$line${g:- -} |"
	done
}

for n in $SIZES; do
	run_size local "$n" -o "local=$n,logfile=$T/tricklefs.log$MOPTS"
done

if [ -n "$SSH_TOO$THREE" ]; then
	SSHD_EXTRA_CONFIG_MORE=
	[ -n "$THREE" ] && SSHD_EXTRA_CONFIG_MORE="ListenAddress 127.0.0.2
ListenAddress 127.0.0.3"
	bench_need openssh-server openssh-client
	. "$SRCROOT/tests/sshd.sh"
	SSHD_EXTRA_CONFIG=$SSHD_EXTRA_CONFIG_MORE TEST_TMPDIR=$T sshd_start ||
	    die "sshd_start failed"
	SSHD_STARTED=1
	SSH_OPTS="identity=$SSHD_KEY,known_hosts=$SSHD_KNOWN_HOSTS,node_command=$TRICKLE_NODE --dir $NT/node,logfile=$T/tricklefs.log$MOPTS"
fi
if [ -n "$SSH_TOO" ]; then
	for n in $SIZES; do
		[ "$n" -le 1024 ] || { echo "$PROG: --ssh: $n VMs is more than one node holds" >&2; continue; }
		run_size ssh "$n" -o "$SSH_OPTS" "$n/$SSHD_USER@127.0.0.1:$SSHD_PORT"
	done
fi
if [ -n "$THREE" ]; then
	line=$(grep -m1 "^\[127.0.0.1\]:$SSHD_PORT " "$SSHD_KNOWN_HOSTS")
	for a in 2 3; do
		echo "${line/127.0.0.1/127.0.0.$a}" >>"$SSHD_KNOWN_HOSTS"
	done
	run_size three $((3 * THREE)) -o "$SSH_OPTS" \
	    "$THREE/$SSHD_USER@127.0.0.[1-3]:$SSHD_PORT"
fi

echo
bench_header
echo "node files on $NODE_FS"
table local "$SIZES"
[ -n "$SSH_TOO" ] && table ssh "$SIZES"
[ -n "$THREE" ] && table three $((3 * THREE))
exit 0
