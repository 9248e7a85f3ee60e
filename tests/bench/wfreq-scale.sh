#!/bin/bash
# tests/bench/wfreq-scale.sh - the paper's word-frequency experiment on 1,
# 2, 4 and 8 slow machines.  Each "machine" is a private sshd on 127.0.0.1
# put in its own cgroup (v1 cpu controller) with a quarter of a CPU, so 8
# of them make up this 2-core machine.  Times tricklefs and GNU parallel
# --sshlogin over the same nodes, and, with no cgroups, tricklefs
# -o local=2 against the best single-machine C count and GNU parallel with
# 2 jobs.  Every table is checked against the single-process count.
# Prints figures and ratios; asserts nothing about time.  See README.md.
#
#	sudo tests/bench/wfreq-scale.sh [--quick] [--scale F] [--nodes LIST]
#	    [--repeat N] [--corpus DIR] [--quota US] [--period US]
#	    [--any-window N] [-j N] [--no-parallel] [--parallel-nodes L]
#	    [--perf DIR]
#
#   --quick	scale 0.1, nodes "1 2 8", each measurement once
#   --scale F	corpus scale (1: 63,362 files, ~284 MB)
#   --nodes L	node counts, e.g. "1 2 4 8" (the default)
#   --repeat N	runs of each tricklefs and C measurement, the best kept (2)
#   --corpus D	the corpus (made there if incomplete); default
#		$BUILD/wfreq-corpus-F, which examples/wfreq/run.sh shares
#   --quota US	CPU time per period for each node; by default the largest
#		node count gets all CPUs but one (the initiator's), at most
#		period / 4 each: 12500 for 8 nodes on 2 cores
#   --period US	the cgroups' CFS period (100000)
#   --any-window N	tricklefs -o any_window=N (its default: 2)
#   -j N	trickle-map -j N (its default: 4 per VM, at least 8)
#   --no-parallel	no GNU parallel at all (the slow part)
#   --parallel-nodes L	GNU parallel on these confined node counts only
#		(default: all of --nodes; at 1 node it takes minutes)
#   --perf DIR	perf record -g during the first tricklefs run on each
#		node count: DIR/wfreq-N.data (slows those runs)
. "$(dirname "$0")/lib.sh"

SCALE=1
COUNTS="1 2 4 8"
REPEAT=2
CORPUS=
QUOTA=
PERIOD=100000
ANY_WINDOW=
JOBS=
PARALLEL=1
PAR_COUNTS=
while [ $# -gt 0 ]; do
	case $1 in
	--quick) SCALE=0.1; COUNTS="1 2 8"; REPEAT=1; shift ;;
	--scale) SCALE=$2; shift 2 ;;
	--nodes) COUNTS=$2; shift 2 ;;
	--repeat) REPEAT=$2; shift 2 ;;
	--corpus) CORPUS=$2; shift 2 ;;
	--quota) QUOTA=$2; shift 2 ;;
	--period) PERIOD=$2; shift 2 ;;
	--any-window) ANY_WINDOW=$2; shift 2 ;;
	-j) JOBS=$2; shift 2 ;;
	--no-parallel) PARALLEL=; shift ;;
	--parallel-nodes) PAR_COUNTS=$2; shift 2 ;;
	--perf) PERF_DIR=$(mkdir -p "$2" && cd "$2" && pwd) || die "bad --perf dir"
		shift 2 ;;
	-h|--help) sed -n '2,30s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
NMAX=2	# at least 2 nodes: the unconfined runs use nodes 1 and 2
NLARGEST=1	# the largest node count measured
for n in $COUNTS; do
	case $n in ''|*[!0-9]*|0) die "bad node count '$n'" ;; esac
	[ "$n" -gt "$NMAX" ] && NMAX=$n
	[ "$n" -gt "$NLARGEST" ] && NLARGEST=$n
done
NCPU=$(nproc)
# The default quota leaves the initiator (tricklefs daemon, trickle-map,
# wfreq-merge, FUSE and loopback TCP) a CPU of its own, as the paper's
# initiator had its own machine: the largest node count gets NCPU - 1 CPUs
# between them, at most a quarter of a CPU each.  On 2 cores and 8 nodes:
# 12500 us per 100000, an eighth of a CPU.  Every node count runs at the
# same quota, so T(1) and T(N) are measured alike.
if [ -z "$QUOTA" ]; then
	if [ "$NCPU" -gt 1 ]; then
		QUOTA=$((PERIOD * (NCPU - 1) / NLARGEST))
	else
		QUOTA=$((PERIOD / 2 / NLARGEST))
	fi
	[ "$QUOTA" -gt $((PERIOD / 4)) ] && QUOTA=$((PERIOD / 4))
fi
case $QUOTA in ''|*[!0-9]*) die "bad --quota '$QUOTA'" ;; esac
[ "$QUOTA" -ge 1000 ] || die "quota $QUOTA us: the kernel wants at least 1000"
case $REPEAT in ''|*[!0-9]*|0) die "bad --repeat '$REPEAT'" ;; esac
[ -z "$PERF_DIR" ] || command -v perf >/dev/null || die "--perf: no perf"

WF=$BUILD/examples/wfreq
GEN=$WF/gen-corpus
MERGE=$WF/wfreq-merge
DRIVER=$(readlink -f "$WF/wfreq-driver")
WC_SO=$(readlink -f "$WF/wordcount.so")
TRICKLE_MAP=$BUILD/utils/trickle-map
for _f in "$GEN" "$MERGE" "$DRIVER" "$WC_SO" "$TRICKLE_MAP"; do
	[ -e "$_f" ] || die "$_f not built: ninja -C $BUILD"
done
CG_CPU=/sys/fs/cgroup/cpu
CG_ACCT=/sys/fs/cgroup/cpuacct
[ -w "$CG_CPU/cgroup.procs" ] && [ -e "$CG_CPU/cpu.cfs_quota_us" ] ||
	die "no cgroup v1 cpu controller at $CG_CPU"
[ -e "$CG_ACCT/cpuacct.usage" ] || CG_ACCT=	# node CPU use is then not shown
export LC_ALL=C
bench_need parallel
bench_init

now_ns() { date +%s%N; }
# secs_since T0_NS: seconds since then, 3 decimals.
secs_since() { calc "($(now_ns) - $1) / 1e9" 3; }
# min A B
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a + 0 < b + 0) ? a : b }'; }

# check FILE WHAT: FILE must equal the single-process count.
check() {
	cmp -s "$T/reference" "$1" && return 0
	diff "$T/reference" "$1" | head -n 5 >&2
	die "$2: the table differs from the single-process count"
}

# ---- the corpus, warm in the page cache for every run alike
CORPUS=${CORPUS:-$BUILD/wfreq-corpus-$SCALE}
if [ ! -f "$CORPUS/.complete" ]; then
	say "generating the corpus (scale $SCALE) in $CORPUS"
	rm -rf "$CORPUS"
	"$GEN" --scale "$SCALE" -o "$CORPUS" >/dev/null || die "gen-corpus failed"
	touch "$CORPUS/.complete"
fi
CORPUS=$(cd "$CORPUS" && pwd)
find "$CORPUS" -type f -name '*.txt' | sort >"$T/files"
NFILES=$(wc -l <"$T/files")
[ "$NFILES" -gt 0 ] || die "no files in $CORPUS"
MBYTES=$(du -sm --apparent-size "$CORPUS" | cut -f1)
xargs cat <"$T/files" >/dev/null
CORPUS_FS=$(findmnt -n -o FSTYPE -T "$CORPUS" 2>/dev/null | head -n 1)

# ---- single-machine C: one process, and two processes + merge
say "C: single-process count, $REPEAT run(s)"
C1=
for r in $(seq "$REPEAT"); do
	t0=$(now_ns)
	(cd "$CORPUS" && exec "$DRIVER" "$WC_SO" wordcount */*.txt) \
	    >"$T/reference" || die "wfreq-driver failed"
	t=$(secs_since "$t0")
	echo "  C 1 process: $t s" >&2
	C1=$(min "$t" "$C1")
done
sed "s|^$CORPUS/||" "$T/files" >"$T/rel"
split -n l/2 "$T/rel" "$T/half."
c_half() {
	cd "$CORPUS" && mapfile -t f <"$1" && exec "$DRIVER" "$WC_SO" wordcount "${f[@]}"
}
say "C: two processes + wfreq-merge, $REPEAT run(s)"
C2=
for r in $(seq "$REPEAT"); do
	t0=$(now_ns)
	(c_half "$T/half.aa") >"$T/c2.a" &
	p1=$!
	(c_half "$T/half.ab") >"$T/c2.b" &
	p2=$!
	wait "$p1" && wait "$p2" || die "wfreq-driver failed"
	"$MERGE" "$T/c2.a" "$T/c2.b" >"$T/result" || die "wfreq-merge failed"
	t=$(secs_since "$t0")
	check "$T/result" "C 2 processes"
	echo "  C 2 processes + merge: $t s" >&2
	C2=$(min "$t" "$C2")
done
CBEST=$(min "$C1" "$C2")

# ---- tricklefs
MOUNT_OPTS="logfile=$T/tricklefs.log${ANY_WINDOW:+,any_window=$ANY_WINDOW}"

# cpu_of PID: user + system CPU time of a process, in clock ticks.
cpu_of() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	s=${s##*) }
	set -- $s
	echo $((${12} + ${13}))
}
HZ=$(getconf CLK_TCK)
# cpu_ticks: "BUSY STEAL", the CPU ticks the whole machine spent busy
# (not idle, iowait or steal), and stolen by the hypervisor.
cpu_ticks() {
	local _cpu u n sy i w rest
	read -r _cpu u n sy i w rest </proc/stat
	set -- $rest
	echo "$((u + n + sy + ${1:-0} + ${2:-0})) ${3:-0}"
}

# tfs_count MP N: count the corpus on mount MP with its N VMs, as
# examples/wfreq/run.sh does: trickle-map ... wc_add, wc_dump_unsorted on
# .all, wfreq-merge of the N `result` files, read at once and merged as
# they arrive.  SECS = the time, checked against the reference; MAPSECS,
# DUMPSECS = the part until trickle-map ended, and until the last table
# was in (merged as it came: wfreq-merge --times), the rest being the sort
# and the output; MAPCPU = trickle-map's CPU time; SPREAD = from the first
# VM to the last ending its last call.
tfs_count() {
	local mp=$1 n=$2 t0 t1 i id res=() TIMEFORMAT='%U %S'
	t0=$(now_ns)
	{ time "$TRICKLE_MAP" -C "$mp" -n 100 ${JOBS:+-j "$JOBS"} \
	    --joblog "$T/joblog.tfs" wc_add \
	    <"$T/files" >"$T/map.out" 2>"$T/map.err"; } 2>"$T/map.time" ||
	    die "trickle-map failed: $(tail -n 5 "$T/map.err")"
	MAPSECS=$(secs_since "$t0")
	exec 3<>"$mp/.all/calls/new"
	echo wc_dump_unsorted >&3
	for i in $(seq "$n"); do
		read -r id <&3 || die "no id from .all/calls/new"
		res+=("$mp/$id/result")
	done
	exec 3>&-
	t1=$(now_ns)
	"$MERGE" --times "${res[@]}" >"$T/result" 2>"$T/merge.err" ||
	    die "wc_dump_unsorted or wfreq-merge failed: $(cat "$T/merge.err")"
	SECS=$(secs_since "$t0")
	# "wfreq-merge: N table(s) in after X s, output written after Y s"
	DUMPSECS=$(awk -v a="$(calc "($t1 - $t0) / 1e9" 3)" \
	    '/table\(s\) in after/ { printf "%.3f", a + $6 }' "$T/merge.err")
	check "$T/result" "tricklefs on $n VMs"
	MAPCPU=$(awk '{ printf "%.2f", $1 + $2 }' "$T/map.time")
	# How far apart the VMs ended their last wc_add (the joblog's Host,
	# Starttime and JobRuntime): the imbalance at the end of the map.
	SPREAD=$(awk -F'\t' 'NR > 1 { e = $3 + $4; if (e > last[$2]) last[$2] = e }
	    END { for (h in last) { if (lo == "" || last[h] < lo) lo = last[h]
		if (last[h] > hi) hi = last[h] }
		printf "%.3f", hi - lo }' "$T/joblog.tfs")
}

# Per-node CPU (cpuacct.usage, ns) summed over nodes 1..$1 (none: 0).
node_cpu_ns() {
	local i s=0 u
	[ -n "$CG_ACCT" ] && [ "$1" -gt 0 ] || { echo 0; return; }
	for i in $(seq "$1"); do
		read -r u <"$CG_ACCT/tfs-bench-$$-$i/cpuacct.usage" || u=0
		s=$((s + u))
	done
	echo "$s"
}

# wait_up MP N: wait (up to 300 s) until MP/.ctl shows N VMs "up".  A
# node may still be starting when the mount is done: at a quarter CPU or
# less on a busy machine, starting trickle-node over SSH took up to 17 s,
# and .all/inject/ refuses a VM whose node is not up.
wait_up() {
	local r
	for r in $(seq 3000); do
		[ "$(awk '$3 == "up"' "$1/.ctl" 2>/dev/null | wc -l)" -ge "$2" ] &&
		    return 0
		sleep 0.1
	done
	die "the VMs of $1 not up after 300 s: $(cat "$1/.ctl")"
}

# tfs_bench KEY LABEL N NODES PERF RUNS MOUNT-ARG...: RUNS times, mount
# with N VMs, NODES of them on our sshds, inject wordcount.so, count.
# TFS[KEY] = the best time so far; TFS_STATS[KEY] = "daemon CPU|nodes'
# CPU|MAPSECS|machine busy %|DUMPSECS|stolen %|MAPCPU|SPREAD" of that run
# (seconds, or CPU-seconds).  PERF: perf record the first run as that.
declare -A TFS TFS_STATS PAR
tfs_bench() {
	local key=$1 label=$2 n=$3 nodes=$4 perf=$5 runs=$6 r d0 c0 b0
	shift 6
	for r in $(seq "$runs"); do
		bench_mount wf "$@"
		wait_up "$T/wf" "$n"
		cp "$WC_SO" "$T/wf/.all/inject/" || die "cp into .all/inject/ failed"
		[ -n "$perf" ] && [ "$r" = 1 ] && bench_perf_start "$perf"
		d0=$(cpu_of "$FS_PID")
		c0=$(node_cpu_ns "$nodes")
		b0=($(cpu_ticks))
		tfs_count "$T/wf" "$n"
		[ -n "$perf" ] && bench_perf_stop
		local dcpu ncpu busy steal b1
		dcpu=$(calc "($(cpu_of "$FS_PID") - $d0) / $HZ" 2)
		ncpu=$(calc "($(node_cpu_ns "$nodes") - $c0) / 1e9" 2)
		b1=($(cpu_ticks))
		busy=$(calc "100 * (${b1[0]} - ${b0[0]}) / $HZ / $NCPU / $SECS" 0)
		steal=$(calc "100 * (${b1[1]} - ${b0[1]}) / $HZ / $NCPU / $SECS" 0)
		bench_unmount wf
		echo "  $label: $SECS s (trickle-map $MAPSECS s, VMs' last calls ended within $SPREAD s, last table in after $DUMPSECS s; CPU-s: tricklefs daemon ${dcpu}, trickle-map $MAPCPU, nodes ${ncpu}, machine ${busy}% busy, ${steal}% stolen)" >&2
		if [ -z "${TFS[$key]:-}" ] || awk "BEGIN { exit !($SECS < ${TFS[$key]}) }"; then
			TFS[$key]=$SECS
			TFS_STATS[$key]="$dcpu|$ncpu|$MAPSECS|$busy|$DUMPSECS|$steal|$MAPCPU|$SPREAD"
		fi
	done
}

say "tricklefs -o local=2, $REPEAT run(s)"
tfs_bench local2 "tricklefs local=2" 2 0 "" "$REPEAT" -o "local=2,$MOUNT_OPTS"
LOCAL2=${TFS[local2]}

# ---- the nodes: NMAX sshds, each in its own cgroup before any session
. "$SRCROOT/tests/sshd.sh"
S_PID=() S_DIR=() S_WD=() S_PORT=() CM_PIDS=() CGROUPS=()
wfs_cleanup() {
	local i p d try
	for p in "${CM_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for i in "${!S_PID[@]}"; do
		SSHD_PID=${S_PID[$i]} SSHD_DIR=${S_DIR[$i]} _SSHD_WATCHDOG=${S_WD[$i]}
		sshd_stop
	done
	# Empty now, unless something escaped sshd's tree: move it back.
	for d in "${CGROUPS[@]}"; do
		for try in $(seq 1 50); do
			rmdir "$d" 2>/dev/null && break
			while read -r p; do
				echo "$p" >"${d%/*}/cgroup.procs"
			done <"$d/cgroup.procs" 2>/dev/null
			sleep 0.1
		done
		[ -d "$d" ] && echo "$PROG: cannot remove cgroup $d" >&2
	done
}
CLEANUP_HOOKS+=(wfs_cleanup)

# cg_quota I QUOTA: node I's CPU time per period (-1: no limit).
cg_quota() {
	echo "$2" >"$CG_CPU/tfs-bench-$$-$1/cpu.cfs_quota_us" ||
	    die "cannot set the quota of node $1"
}

say "starting $NMAX sshds, each with $QUOTA us of CPU per $PERIOD us"
: >"$T/known_hosts"
for i in $(seq "$NMAX"); do
	for d in "$CG_CPU" ${CG_ACCT:+"$CG_ACCT"}; do
		mkdir "$d/tfs-bench-$$-$i" || die "cannot make cgroup $d/tfs-bench-$$-$i"
		CGROUPS+=("$d/tfs-bench-$$-$i")
	done
	echo "$PERIOD" >"$CG_CPU/tfs-bench-$$-$i/cpu.cfs_period_us" ||
	    die "cannot set the CFS period to $PERIOD"
	cg_quota "$i" "$QUOTA"
	SSHD_EXTRA_CONFIG="AcceptEnv SHLVL" TEST_TMPDIR=$T sshd_start ||
	    die "sshd_start failed"
	S_PID[$i]=$SSHD_PID S_DIR[$i]=$SSHD_DIR S_WD[$i]=$_SSHD_WATCHDOG
	S_PORT[$i]=$SSHD_PORT
	# Before any session: everything sshd forks from now on is confined.
	for d in "$CG_CPU" ${CG_ACCT:+"$CG_ACCT"}; do
		echo "$SSHD_PID" >"$d/tfs-bench-$$-$i/cgroup.procs" ||
		    die "cannot move sshd $SSHD_PID into $d/tfs-bench-$$-$i"
	done
	cat "$SSHD_KNOWN_HOSTS" >>"$T/known_hosts"
	if [ "$i" = 1 ]; then
		KEY=$SSHD_KEY
	else
		cat "$KEY.pub" >>"$SSHD_DIR/authorized_keys"
	fi
done
BENCH_ROOT_PIDS="${S_PID[*]}"

# One OpenSSH ControlMaster per node, so that parallel's jobs do not pay
# for connection set-up.  SHLVL=1 spares each command root's ~/.bashrc
# (see calls.sh).
SSH_BASE=(ssh -F /dev/null -i "$KEY" -o IdentitiesOnly=yes -o BatchMode=yes
	-o UserKnownHostsFile="$T/known_hosts" -o StrictHostKeyChecking=yes
	-o SendEnv=SHLVL)
ssh_to() {	# ssh_to I: the ssh command line for node I, through its master
	echo "${SSH_BASE[*]} -p ${S_PORT[$1]} -o ControlPath=$T/cm.$1 -o ControlMaster=no"
}
for i in $(seq "$NMAX"); do
	env SHLVL=1 "${SSH_BASE[@]}" -p "${S_PORT[$i]}" -o ControlPath="$T/cm.$i" \
	    -o ControlMaster=yes -N "$SSHD_USER@127.0.0.1" </dev/null 2>"$T/cm.$i.err" &
	CM_PIDS+=($!)
done
for i in $(seq "$NMAX"); do
	for r in $(seq 1 200); do
		$(ssh_to "$i") -O check "$SSHD_USER@127.0.0.1" 2>/dev/null && break
		kill -0 "${CM_PIDS[$((i - 1))]}" 2>/dev/null ||
		    die "ssh ControlMaster $i died: $(cat "$T/cm.$i.err")"
		sleep 0.1
	done
done
[ "$(env SHLVL=1 $(ssh_to 1) "$SSHD_USER@127.0.0.1" 'echo $SHLVL')" = 2 ] ||
	echo "$PROG: warning: SHLVL did not reach the remote shell" >&2
grep -q "^[0-9]*:cpu:/tfs-bench-$$-1\$" "/proc/${S_PID[1]}/cgroup" ||
	die "sshd 1 is not in its cgroup"

# ssh_nodes N: the NODE arguments for nodes 1..N, one VM each.
ssh_nodes() {
	local i
	for i in $(seq "$1"); do
		echo "n$i=$SSHD_USER@127.0.0.1:${S_PORT[$i]}"
	done
}
SSH_OPTS="identity=$KEY,known_hosts=$T/known_hosts,node_command=$TRICKLE_NODE --dir $NT/node,$MOUNT_OPTS"

# par_count N: GNU parallel, one job slot on each of nodes 1..N, 100 files
# a job running wfreq-driver there; the jobs' tables merged here.  SECS.
par_count() {
	local n=$1 i t0 sl=()
	for i in $(seq "$n"); do
		sl+=(-S "1/$(ssh_to "$i") $SSHD_USER@127.0.0.1")
	done
	t0=$(now_ns)
	env SHLVL=1 TMPDIR="$T" parallel -n 100 "${sl[@]}" --joblog "$T/joblog" \
	    "$DRIVER $WC_SO wordcount" <"$T/files" >"$T/par.out" 2>"$T/par.err" ||
	    die "parallel on $n nodes: $? jobs failed: $(tail -n 5 "$T/par.err")"
	"$MERGE" "$T/par.out" >"$T/result" || die "wfreq-merge failed"
	SECS=$(secs_since "$t0")
	check "$T/result" "parallel on $n nodes"
	echo "  parallel, $n node(s): $SECS s, $(($(wc -l <"$T/joblog") - 1)) jobs" >&2
}

# ---- no cgroup limit: nodes 1 and 2 as whole machines
cg_quota 1 -1
cg_quota 2 -1
PAR_FREE=
if [ -n "$PARALLEL" ]; then
	say "unconfined: GNU parallel, 1 job on each of 2 nodes"
	par_count 2
	PAR_FREE=$SECS
fi
say "unconfined: tricklefs on 2 nodes over SSH, $REPEAT run(s)"
tfs_bench ssh2 "tricklefs ssh 2 nodes, unconfined" 2 2 "" "$REPEAT" \
    -o "$SSH_OPTS" $(ssh_nodes 2)
SSH_FREE=${TFS[ssh2]}
cg_quota 1 "$QUOTA"
cg_quota 2 "$QUOTA"

# ---- 1, 2, 4, 8 confined nodes.  In rounds (1 2 4 8, 1 2 4 8, ...), so
# that a spell when this shared machine is slow does not fall on one node
# count alone; the best run of each counts.
for r in $(seq "$REPEAT"); do
	for n in $COUNTS; do
		say "tricklefs on $n confined node(s), round $r of $REPEAT"
		p=
		[ "$r" = 1 ] && p=${PERF_DIR:+wfreq-$n}
		tfs_bench "$n" "tricklefs $n node(s)" "$n" "$n" "$p" 1 \
		    -o "$SSH_OPTS" $(ssh_nodes "$n")
	done
done
if [ -n "$PARALLEL" ]; then
	for n in ${PAR_COUNTS:-$COUNTS}; do
		say "GNU parallel on $n confined node(s)"
		par_count "$n"
		PAR[$n]=$SECS
	done
fi

# ---- the table
declare -A PAPER=([1]=72.3 [2]=43.5 [4]=25.8 [8]=19.3)
# eff T1 TN N [N1]: efficiency in %, TN on N nodes against T1 on N1 (1).
eff() { calc "100 * $1 * ${4:-1} / $2 / $3" 0; }
f2() { [ -n "$1" ] && printf '%.2f%s' "$1" "${2:-}"; }
echo
bench_header
echo "corpus: $NFILES files, $MBYTES MB, on $CORPUS_FS (page cache warm); chunks of 100 files"
echo "nodes: sshds on 127.0.0.1, each in a cgroup with cpu.cfs_quota_us=$QUOTA, cfs_period_us=$PERIOD; one VM each; $NLARGEST nodes claim $(calc "$NLARGEST * $QUOTA / $PERIOD") of $NCPU CPUs"
echo "tricklefs: trickle-map -n 100${JOBS:+ -j $JOBS} wc_add, wc_dump_unsorted on .all, wfreq-merge of the results as they come${ANY_WINDOW:+; any_window=$ANY_WINDOW}; best of $REPEAT"
echo "parallel: -S 1/NODE per node, -n 100, wfreq-driver per job, wfreq-merge here; 1 run"
echo
N1=${COUNTS%% *}
T1=${TFS[$N1]}
P1=${PAR[$N1]:-}
printf '%5s | %9s %7s %5s | %9s %7s %5s %7s | %6s %7s %5s\n' \
    nodes tricklefs speedup eff parallel speedup eff par/tfs paper speedup eff
for n in $COUNTS; do
	t=${TFS[$n]}
	p=${PAR[$n]:-}
	pp=${PAPER[$n]:-}
	printf '%5s | %9s %7s %5s | %9s %7s %5s %7s | %6s %7s %5s\n' \
	    "$n" "$(f2 "$t" s)" "$(calc "$T1 / $t")x" "$(eff "$T1" "$t" "$n" "$N1")%" \
	    "$(f2 "$p" s)" "${P1:+${p:+$(calc "$P1 / $p")x}}" \
	    "${P1:+${p:+$(eff "$P1" "$p" "$n" "$N1")%}}" "${p:+$(calc "$p / $t")x}" \
	    "${pp:+${pp}s}" "${pp:+$(calc "72.3 / $pp")x}" \
	    "${pp:+$(eff 72.3 "$pp" "$n")%}"
done
[ "$N1" = 1 ] || echo "(speedup and efficiency relative to $N1 nodes)"

# Where tricklefs's time goes: the trickle-map part, then the end: until
# the last VM's table was in (wc_dump_unsorted, each table merged as it
# came), then the sort and the output of the merged table; how far apart the VMs ended their last call; the CPU the
# nodes' cgroups used (cpuacct), and as a share of what their quotas
# allowed in that time; the CPU of the initiator (tricklefs daemon,
# trickle-map), which shares the 2 cores with the nodes; how busy the
# whole machine was (all CPUs, anyone's processes) and what the hypervisor
# took (steal).
echo
echo "tricklefs runs, best of each: time split (s), CPU (CPU-s)"
printf '%5s | %6s %6s %7s %6s %7s | %7s %6s | %6s %6s | %5s %6s\n' \
    nodes total map dump sort spread nodes quota daemon t-map busy stolen
for n in $COUNTS; do
	t=${TFS[$n]}
	IFS='|' read -r dcpu ncpu mapt busy dumpt steal mcpu spread <<<"${TFS_STATS[$n]}"
	printf '%5s | %6s %6s %7s %6s %7s | %7s %5s%% | %6s %6s | %4s%% %5s%%\n' \
	    "$n" "$(f2 "$t")" "$(f2 "$mapt")" "$(f2 "$(calc "$dumpt - $mapt" 3)")" \
	    "$(f2 "$(calc "$t - $dumpt" 3)")" "$(f2 "$spread")" \
	    "$([ -n "$CG_ACCT" ] && f2 "$ncpu")" \
	    "$([ -n "$CG_ACCT" ] && calc "100 * $ncpu * $PERIOD / ($n * $QUOTA * $t)" 0)" \
	    "$(f2 "$dcpu")" "$(f2 "$mcpu")" "$busy" "$steal"
done
echo
echo "unconfined (2 cores, no cgroup limit)"
IFS='|' read -r dcpu ncpu _ _ _ _ mcpu _ <<<"${TFS_STATS[local2]}"
printf '  %-48s %7.2fs\n' \
    "C, 1 process" "$C1" \
    "C, 2 processes + wfreq-merge" "$C2"
printf '  %-48s %7.2fs  (CPU-s: daemon %s, trickle-map %s)\n' \
    "tricklefs -o local=2" "$LOCAL2" "$dcpu" "$mcpu"
IFS='|' read -r dcpu ncpu _ _ _ _ mcpu _ <<<"${TFS_STATS[ssh2]}"
printf '  %-48s %7.2fs  (CPU-s: daemon %s, trickle-map %s, nodes %s)\n' \
    "tricklefs, 2 nodes over SSH" "$SSH_FREE" "$dcpu" "$mcpu" "$ncpu"
[ -n "$PAR_FREE" ] &&
    printf '  %-48s %7.2fs\n' "GNU parallel --sshlogin, 1 job on each of 2 nodes" "$PAR_FREE"

verdict() { awk "BEGIN { exit !($1) }" && echo met || echo MISSED; }
N8=
for n in $COUNTS; do N8=$n; done
E8=$(eff "$T1" "${TFS[$N8]}" "$N8" "$N1")
echo
echo "targets (issue 4)"
printf '  %-62s %s\n' \
    "local=2 within 2x of the best C ($CBEST s): $(calc "$LOCAL2 / $CBEST")x" \
    "$(verdict "$LOCAL2 <= 2 * $CBEST")"
[ -n "$PAR_FREE" ] && printf '  %-62s %s\n' \
    "local=2 >= 5x faster than parallel over ssh: $(calc "$PAR_FREE / $LOCAL2")x" \
    "$(verdict "$PAR_FREE >= 5 * $LOCAL2")" \
    "(2 nodes over SSH vs parallel over ssh: $(calc "$PAR_FREE / $SSH_FREE")x)" ""
printf '  %-62s %s\n' \
    "efficiency >= 90% at $N8 confined nodes: $E8%${PAPER[$N8]:+ (paper: $(eff 72.3 "${PAPER[$N8]}" "$N8")%)}" \
    "$(verdict "$E8 >= 90")"
if [ -n "${PAR[$N8]:-}" ]; then
	echo
	echo "targets (issue 12)"
	printf '  %-62s %s\n' \
	    "efficiency >= 90% at $N8 confined nodes: $E8%" "$(verdict "$E8 >= 90")" \
	    ">= 5x faster than parallel on $N8 nodes: $(calc "${PAR[$N8]} / ${TFS[$N8]}")x" \
	    "$(verdict "${PAR[$N8]} >= 5 * ${TFS[$N8]}")"
fi
echo
echo "this run took $SECONDS s"
if [ -n "$PERF_DIR" ]; then
	echo "perf data in $PERF_DIR: perf report -i $PERF_DIR/wfreq-$N8.data --no-children --sort comm,dso"
fi
