#!/bin/bash
# tests/bench/calls.sh - call round trips and pipelined calls through
# tricklefs, against OpenSSH (ControlMaster) and GNU parallel --sshlogin on
# the same private sshd, in the same run.  Prints figures and ratios; it
# asserts nothing about time.  See README.md.
#
#	sudo tests/bench/calls.sh [--quick] [-n SYNC] [-p PIPELINED]
#	    [-b BATCH] [--disk] [--perf DIR]
#
#   --quick	a short smoke run (100 synchronous, 1,000 pipelined calls)
#   -n SYNC	synchronous round trips per contender (1,000)
#   -p N	pipelined calls per run (10,000)
#   -b BATCH	lines per write to calls/new when pipelining (100)
#   --disk	keep the nodes' call files in $TMPDIR or /tmp, not /dev/shm
#   --perf DIR	perf record -g the tricklefs daemon, nodes, sshd during
#		the tricklefs runs (which it slows): DIR/{local,ssh}-{sync,pipe-result,pipe-done}.data
. "$(dirname "$0")/lib.sh"

SYNC=1000
PIPE=10000
BATCH=100
while [ $# -gt 0 ]; do
	case $1 in
	--quick) SYNC=100; PIPE=1000; shift ;;
	--disk) NODE_TMP=${TMPDIR:-/tmp}; shift ;;
	-n) SYNC=$2; shift 2 ;;
	-p) PIPE=$2; shift 2 ;;
	-b) BATCH=$2; shift 2 ;;
	--perf) PERF_DIR=$(mkdir -p "$2" && cd "$2" && pwd) || die "bad --perf dir"
		shift 2 ;;
	-h|--help) sed -n '2,17s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
bench_need parallel
bench_init
[ -z "$PERF_DIR" ] || command -v perf >/dev/null || die "--perf: no perf"

# Rows of the table: label|n|p50_us|p99_us|per_s|daemon|node|sshd, the
# last three in CPU-us per call (pipelined tricklefs runs only, else -).
ROWS=()
row() {
	ROWS+=("$1|$(kv n "$2")|$(kv p50_us "$2")|$(kv p99_us "$2")|$(kv per_s "$2")|-|-|-")
	echo "  $1: $2" >&2
}
prow() {
	ROWS+=("$1|$(kv n "$2")|-|-|$(kv per_s "$2")|${3:--|-|-}")
	echo "  $1: $2${3:+ (CPU-us per call: daemon|node|sshd $3)}" >&2
}

# cpu_split: "DAEMON NODE SSHD", the CPU time (user + system, clock
# ticks) of our processes (lib.sh's our_pids): the tricklefs daemon
# (FS_PID; its threads too), the node (everything below the daemon or
# below our sshd that is not sshd: trickle-node's supervisor, zygote and
# VM workers), and our sshd's own processes.  Children that ended and were
# reaped count in their parent (cutime, cstime).
cpu_split() {
	local p st comm f d=0 n=0 s=0
	for p in $(our_pids | tr , ' '); do
		st=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		comm=${st#*(}
		comm=${comm%%)*}
		f=(${st##*) })
		# f[11..14]: utime stime cutime cstime
		if [ "$p" = "$FS_PID" ]; then
			d=$((d + f[11] + f[12]))
			n=$((n + f[13] + f[14]))
		elif [ "$comm" = sshd ]; then
			s=$((s + f[11] + f[12] + f[13] + f[14]))
		else
			n=$((n + f[11] + f[12] + f[13] + f[14]))
		fi
	done
	echo "$d $n $s"
}
HZ=$(getconf CLK_TCK)
# cpu_per_call "BEFORE" "AFTER" N: "DAEMON|NODE|SSHD" in CPU-us per call.
cpu_per_call() {
	local b=($1) a=($2)
	echo "$(calc "(${a[0]} - ${b[0]}) * 1e6 / $HZ / $3" 1)|$(calc "(${a[1]} - ${b[1]}) * 1e6 / $HZ / $3" 1)|$(calc "(${a[2]} - ${b[2]}) * 1e6 / $HZ / $3" 1)"
}
# pipe_row LABEL CALLBENCH-ARG...: a pipelined run, with the CPU per call.
pipe_row() {
	local label=$1 out c0 c1
	shift
	c0=$(cpu_split)
	out=$("$CALLBENCH" pipe "$@") || die "$label failed"
	c1=$(cpu_split)
	prow "$label" "$out" "$(cpu_per_call "$c0" "$c1" "$(kv n "$out")")"
}
# get LABEL FIELD(2=n 3=p50 4=p99 5=per_s)
get() {
	local r
	for r in "${ROWS[@]}"; do
		[ "${r%%|*}" = "$1" ] && { echo "$r" | cut -d'|' -f"$2"; return; }
	done
	echo "?"
}

# The tricklefs runs: synchronous round trips on the first VM, then
# pipelined calls joined by reading every result or through .done, on
# one VM and on two VMs of the same node.
bench_tricklefs() {
	local kind=$1 a=$2 b=$3 out
	say "$kind: $SYNC synchronous calls (echo)"
	bench_perf_start "$kind-sync"
	out=$("$CALLBENCH" sync -n "$SYNC" "$MP/$a") || die "$kind sync failed"
	bench_perf_stop
	row "tricklefs $kind sync" "$out"
	out=$("$CALLBENCH" sync -r -n "$SYNC" "$MP/$a") || die "$kind sync -r failed"
	row "tricklefs $kind sync+rmdir" "$out"
	say "$kind: $PIPE pipelined calls, $BATCH per write"
	bench_perf_start "$kind-pipe-result"
	pipe_row "tricklefs $kind pipe 1 VM, join result" \
	    -n "$PIPE" -b "$BATCH" "$MP/$a"
	bench_perf_stop
	bench_perf_start "$kind-pipe-done"
	pipe_row "tricklefs $kind pipe 1 VM, join .done" \
	    -n "$PIPE" -b "$BATCH" -j "done" "$MP/$a"
	bench_perf_stop
	pipe_row "tricklefs $kind pipe 2 VMs, join result" \
	    -n "$PIPE" -b "$BATCH" "$MP/$a" "$MP/$b"
	pipe_row "tricklefs $kind pipe 2 VMs, result per VM" \
	    -n "$PIPE" -b "$BATCH" -P "$MP/$a" "$MP/$b"
	pipe_row "tricklefs $kind pipe 2 VMs, join .done" \
	    -n "$PIPE" -b "$BATCH" -j "done" "$MP/$a" "$MP/$b"
}

# ---- tricklefs, -o local=2 (one local node)
say "mounting -o local=2"
bench_mount_local local 2
MP=$T/local
bench_tricklefs local local0 local1
bench_unmount local

# ---- tricklefs over SSH: VMs a and b on one trickle-node
say "starting sshd on 127.0.0.1"
bench_sshd
say "mounting a, b over SSH (port $SSHD_PORT)"
bench_mount_ssh ssh a b
MP=$T/ssh
bench_tricklefs ssh a b
bench_unmount ssh

# ---- OpenSSH through the ControlMaster
say "ssh: $SYNC x 'ssh host true' through a ControlMaster"
out=$(env SHLVL=1 "$CALLBENCH" cmd -n "$SYNC" -- "${SSH[@]}" true) || die "ssh failed"
row "ssh ControlMaster true" "$out"
say "ssh: 10 x 'ssh host true' with the login shell's start-up files"
out=$(env -u SHLVL "$CALLBENCH" cmd -n 10 -w 1 -- "${SSH[@]}" true) || die "ssh failed"
row "ssh ControlMaster true, start-up files" "$out"

# ---- GNU parallel --sshlogin through the same ControlMaster.  parallel
# wraps each job in its own ssh command (ssh HOST -- exec perl -e ...);
# --ssh makes that ssh go through our master.  -N0: run "true" without
# appending the input line.  Runtimes per job come from --joblog.
PAR_SSH=$(printf '%q ' "${SSH_BASE[@]}" -o ControlMaster=no)
parallel_run() {
	local slots=$1 n=$2 t0 t1 log=$T/joblog.$1
	t0=$(date +%s%N)
	seq "$n" | env SHLVL=1 parallel -N0 --ssh "$PAR_SSH" \
	    -S "$slots/$SSHD_USER@127.0.0.1" --joblog "$log" true \
	    >/dev/null 2>"$T/parallel.err" ||
	    die "parallel failed: $(tail -n 5 "$T/parallel.err")"
	t1=$(date +%s%N)
	# joblog: Seq Host Starttime JobRuntime Send Receive Exitval ...
	tail -n +2 "$log" | awk '$7 != 0 { bad++ } END { exit bad > 0 }' ||
	    { echo "failed jobs in $log"; return 1; }
	tail -n +2 "$log" | awk '{ print $4 * 1e6 }' | sort -g |
	    awk -v n="$n" -v el="$(((t1 - t0) / 1000))" '
	    { rt[NR] = $1 }
	    END {
		if (NR != n) { print NR " jobs logged of " n; exit 1 }
		printf "n=%d p50_us=%.1f p99_us=%.1f elapsed_s=%.3f per_s=%.1f\n",
		    n, rt[int((n + 1) / 2)], rt[int(n * 0.99 + 0.999)],
		    el / 1e6, n / (el / 1e6)
	    }'
}
say "parallel: $SYNC jobs, 1 slot (-S 1/host)"
out=$(parallel_run 1 "$SYNC") || die "parallel: $out"
row "parallel -S 1/host true" "$out"
say "parallel: $SYNC jobs, 8 slots (-S 8/host)"
out=$(parallel_run 8 "$SYNC") || die "parallel: $out"
prow "parallel -S 8/host true" "$out"

# ---- the table
ms() { [ "$1" = - ] || [ "$1" = "?" ] && echo "$1" || calc "$1 / 1000" 3; }
echo
bench_header
echo "node call files on $NODE_FS; sync: $SYNC calls (echo); pipelined: $PIPE calls, $BATCH lines per write"
echo "CPU-us per call: of the tricklefs daemon, the node (trickle-node's supervisor, zygote, workers) and sshd, over each pipelined run"
printf '%-42s %6s %9s %9s %10s | %7s %7s %7s\n' "" n "p50 ms" "p99 ms" "calls/s" \
    daemon node sshd
for r in "${ROWS[@]}"; do
	IFS='|' read -r l n p50 p99 ps dc nc sc <<<"$r"
	printf '%-42s %6s %9s %9s %10s | %7s %7s %7s\n' "$l" "$n" "$(ms "$p50")" \
	    "$(ms "$p99")" "$ps" "$dc" "$nc" "$sc"
done

ssh_p50=$(get "tricklefs ssh sync" 3)
loc_p50=$(get "tricklefs local sync" 3)
ssh_rate=$(get "tricklefs ssh sync" 5)
loc_rate=$(get "tricklefs local sync" 5)
cm_p50=$(get "ssh ControlMaster true" 3)
cm_rate=$(get "ssh ControlMaster true" 5)
par_p50=$(get "parallel -S 1/host true" 3)
par_rate=$(get "parallel -S 1/host true" 5)
par8_rate=$(get "parallel -S 8/host true" 5)
best_pipe() {	# the best pipelined rate of kind $1, and its label
	local r best=0 lbl=
	for r in "${ROWS[@]}"; do
		case ${r%%|*} in "tricklefs $1 pipe"*) ;; *) continue ;; esac
		ps=$(echo "$r" | cut -d'|' -f5)
		awk "BEGIN { exit !($ps > $best) }" && { best=$ps; lbl=${r%%|*}; }
	done
	echo "$best|$lbl"
}
ssh_pipe=$(best_pipe ssh)
loc_pipe=$(best_pipe local)
ssh_pipe1=$(get "tricklefs ssh pipe 1 VM, join result" 5)

echo
echo "ratios (>1: tricklefs is better)"
printf '  %-58s %8s\n' \
    "ssh-ControlMaster p50 / tricklefs-ssh sync p50" "$(calc "$cm_p50 / $ssh_p50")" \
    "parallel -S 1/ p50 / tricklefs-ssh sync p50" "$(calc "$par_p50 / $ssh_p50")" \
    "tricklefs-ssh sync calls/s / ssh-ControlMaster calls/s" "$(calc "$ssh_rate / $cm_rate")" \
    "tricklefs-ssh sync calls/s / parallel -S 1/ jobs/s" "$(calc "$ssh_rate / $par_rate")" \
    "tricklefs-ssh pipe (1 VM, result) / parallel -S 8/ jobs/s" "$(calc "$ssh_pipe1 / $par8_rate")" \
    "tricklefs-ssh best pipe / parallel -S 8/ jobs/s" "$(calc "${ssh_pipe%%|*} / $par8_rate")" \
    "tricklefs-ssh sync p50 / tricklefs-local sync p50 (cost of SSH)" "$(calc "$ssh_p50 / $loc_p50")"

verdict() { awk "BEGIN { exit !($1) }" && echo met || echo MISSED; }
echo
echo "targets (issue 4)"
printf '  %-58s %s\n' \
    "sync p50 <= 1 ms: ssh $(ms "$ssh_p50") ms" "$(verdict "$ssh_p50 <= 1000")" \
    "sync p50 <= 1 ms: local $(ms "$loc_p50") ms" "$(verdict "$loc_p50 <= 1000")" \
    ">= 1,000 sync calls/s: ssh $ssh_rate" "$(verdict "$ssh_rate >= 1000")" \
    ">= 1,000 sync calls/s: local $loc_rate" "$(verdict "$loc_rate >= 1000")" \
    ">= 5,000 pipelined/s per node: ssh ${ssh_pipe%%|*} (${ssh_pipe#*|})" "$(verdict "${ssh_pipe%%|*} >= 5000")" \
    ">= 5,000 pipelined/s per node: local ${loc_pipe%%|*} (${loc_pipe#*|})" "$(verdict "${loc_pipe%%|*} >= 5000")"
# Issue 12's, over SSH to 2 VMs of one node: joined by .done, and by
# reading every result (one reader, or one per VM side by side).
ssh_done=$(get "tricklefs ssh pipe 2 VMs, join .done" 5)
ssh_res=$(get "tricklefs ssh pipe 2 VMs, join result" 5)
ssh_res_p=$(get "tricklefs ssh pipe 2 VMs, result per VM" 5)
echo
echo "targets (issue 12: ssh, 2 VMs of one node, node files on $NODE_FS)"
printf '  %-58s %s\n' \
    "sync p50 <= 0.5 ms: $(ms "$ssh_p50") ms" "$(verdict "$ssh_p50 <= 500")" \
    "sync >= 10x faster than ssh true (ControlMaster): $(calc "$cm_p50 / $ssh_p50")x" "$(verdict "$cm_p50 >= 10 * $ssh_p50")" \
    ">= 10,000 pipelined/s joined by .done: $ssh_done" "$(verdict "$ssh_done >= 10000")" \
    ">= 5,000/s reading every result, one reader: $ssh_res" "$(verdict "$ssh_res >= 5000")" \
    ">= 5,000/s reading every result, a reader per VM: $ssh_res_p" "$(verdict "$ssh_res_p >= 5000")"
if [ -n "$PERF_DIR" ]; then
	echo
	echo "perf data in $PERF_DIR: perf report -i $PERF_DIR/ssh-pipe-done.data --no-children --sort comm,dso,sym"
fi
