#!/bin/bash
# tests/bench/slurm.sh - calls on the nodes of a Slurm allocation: the
# mount's own connection (the node connects back) against srun's stdio as
# the link, and against Slurm's own way to run a command on a node (srun
# --overlap true), in one run on the single-machine Slurm cluster of the
# tests (tests/integration/slurm-lib.sh: namespace, munge, slurmctld, two
# slurmd).  Node files on disk (the default).  Prints figures and ratios;
# asserts nothing about time.  See README.md.
#
#	sudo tests/bench/slurm.sh [-n SYNC]
#
#   -n SYNC	synchronous round trips per contender (500; srun: SYNC/10)
TEST_TIMEOUT=900
SYNC=${SYNC:-500}
while [ $# -gt 0 ]; do
	case $1 in
	-n) SYNC=$2; shift 2 ;;
	-h|--help) sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "slurm.sh: unknown argument $1 (see --help)" >&2; exit 1 ;;
	esac
done
export SYNC
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
export BUILD=${BUILD:-$(cd "$BENCH_DIR/../.." && pwd)/build}
CALLBENCH=${CALLBENCH:-$BUILD/tests/bench/callbench}
[ -x "$CALLBENCH" ] || { echo "slurm.sh: no $CALLBENCH (build first)" >&2; exit 1; }
. "$BENCH_DIR/../integration/lib.sh"
. "$HERE/slurm-lib.sh"

slurm_up 2
mkdir -p "$NODE_DIR"
NODE_CMD="$TRICKLE_NODE --dir $NODE_DIR"
slurm_salloc -N2 --exclusive -J tfs-bench

# kv KEY LINE: a field of callbench's output.
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
declare -A P50 P99
run() {
	local label=$1 out
	shift
	out=$("$@") || fail "$label: $out"
	P50[$label]=$(kv p50_us "$out")
	P99[$label]=$(kv p99_us "$out")
	echo "== $label: $out" >&2
}

# mount_slurm OPTS: a mount of the allocation, the first VM in $VM.
mount_slurm() {
	local start
	start=$(now_ms)
	slurm_exec "$TRICKLEFS" -o "slurm,vms_per_node=1,logfile=$LOG,node_command=$NODE_CMD$1" "$M" 2>"$ERR" ||
	    fail "mounting -o slurm$1 failed: $(cat "$ERR")"
	MOUNTS+=("$M")
	FS_PID=$(_fs_pid_of "$M") || fail "no tricklefs process for $M"
	FS_PIDS+=("$FS_PID:$(starttime_of "$FS_PID")")
	UP_MS=$(($(now_ms) - start))
	VM=$(ls "$M" | head -n 1)
	cp "$BASIC_SO" "$M/$VM/inject/" || fail "inject"
}

mount_slurm ""
UP_CONNECT=$UP_MS
run "connect-back" "$CALLBENCH" sync -n "$SYNC" -w 20 "$M/$VM"
unmount "$M"
mount_slurm ",slurm_link=stdio"
UP_STDIO=$UP_MS
run "srun stdio" "$CALLBENCH" sync -n "$SYNC" -w 20 "$M/$VM"
unmount "$M"
node=${VM%%.*}
run "srun --overlap true" env SHLVL=1 "$CALLBENCH" cmd -n $((SYNC / 10)) -w 2 -- \
	nsenter --net="/run/netns/$SLURM_NS" srun --overlap -N1 -n1 \
	--jobid="$SLURM_JOB_ID" -w "$node" true

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
load=$(cut -d' ' -f1-3 /proc/loadavg)
printf '\nSynchronous no-op calls (echo) on a node of a Slurm allocation,\n'
printf 'node files on disk; %s round trips; load %s\n\n' "$SYNC" "$load"
printf '%-22s %10s %10s %14s\n' "" "p50 (ms)" "p99 (ms)" "x connect-back"
for l in "connect-back" "srun stdio" "srun --overlap true"; do
	printf '%-22s %10.2f %10.2f %14s\n' "$l" \
	    "$(awk -v v="${P50[$l]}" 'BEGIN { print v / 1000 }')" \
	    "$(awk -v v="${P99[$l]}" 'BEGIN { print v / 1000 }')" \
	    "$(ratio "${P50[$l]}" "${P50[connect-back]}")"
done
printf '\nmount to all nodes up: connect-back %s ms, srun stdio %s ms\n' \
	"$UP_CONNECT" "$UP_STDIO"
