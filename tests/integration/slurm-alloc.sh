#!/bin/bash
# tricklefs -o slurm inside a real allocation (slurm-lib.sh: slurmctld and
# three slurmd on this machine): salloc -N2 --exclusive gives two nodes of
# two CPUs, and the mount (with salloc's own environment) has a VM per CPU,
# each node's trickle-node a step of the job that connected back.  The
# paper's wfreq example runs on it (examples/wfreq/run.sh --mount slurm),
# word for word equal to a single-process count; info names the job and
# node; the srun stdio link works as well; unmount ends the steps; a
# connection without the secret is refused; the end of the allocation
# drains and removes the nodes.
TEST_TIMEOUT=200
. "$(dirname "$0")/lib.sh"
. "$HERE/slurm-lib.sh"
. "$HERE/example-lib.sh"
need_example_build TRICKLEFS=tricklefs:fs/tricklefs \
	TRICKLE_RUN=trickle-run:utils/trickle-run \
	TRICKLE_MAP=trickle-map:utils/trickle-map \
	WORDCOUNT_SO=wordcount.so:examples/wfreq/wordcount.so \
	WFREQ_GEN_CORPUS=gen-corpus:examples/wfreq/gen-corpus \
	WFREQ_MERGE=wfreq-merge:examples/wfreq/wfreq-merge \
	WFREQ_DRIVER=wfreq-driver:examples/wfreq/wfreq-driver

[ -n "${SLURM_TRACE:-}" ] && { exec 7>>"$SLURM_TRACE"; BASH_XTRACEFD=7; set -x; }
slurm_up 3
mkdir -p "$NODE_DIR"
NODE_CMD="$TRICKLE_NODE --dir $NODE_DIR"

# An allocation as a user gets it: salloc's environment, kept for the
# mounts below while salloc holds the nodes.
slurm_salloc -N2 --exclusive -J tfs-alloc
expect_eq "the allocation's CPUs" "2(x2)" "$SLURM_JOB_CPUS_PER_NODE"
JOB=$SLURM_JOB_ID
read -r -a NODES <<<"$(slurm_exec scontrol show hostnames "$SLURM_JOB_NODELIST" | tr '\n' ' ')"
[ ${#NODES[@]} = 2 ] || fail "salloc -N2 gave ${NODES[*]}"

# expect_vms NAME...: these VM directories, and as many VMs.
expect_vms() {
	local v
	for v in "$@"; do
		[ -d "$M/$v" ] || fail "no VM $v: $(ls "$M" | tr '\n' ' ')"
	done
	expect_eq "VMs in $M" $# "$(ls "$M" | wc -l)"
}

# steps: the job's steps now running (squeue -s), one a line.
steps() { slurm_exec squeue -h -s -j "$JOB" -o %i 2>/dev/null; }

# ---- the paper's wfreq on the allocation's 4 VMs (2 nodes x 2 CPUs)
out=$(slurm_exec env TMPDIR="$T" "$SRCROOT/examples/wfreq/run.sh" \
	--scale 0.01 --vms 4 --corpus "$T/corpus" \
	--mount "slurm,node_command=$NODE_CMD" 2>&1) ||
    fail "examples/wfreq/run.sh --mount slurm failed: $out"
echo "$out"
expect_match "run.sh output" 'equals the single-process count' "$out"
wait_for -t 15 eval '[ -z "$(steps)" ]' ||
    fail "steps left after run.sh's unmount: $(steps)"

# ---- a mount of our own: VMs, info, calls, timing
start=$(now_ms)
slurm_exec "$TRICKLEFS" -o "slurm,logfile=$LOG,node_command=$NODE_CMD" "$M" 2>"$ERR" ||
    fail "mounting -o slurm failed: $(cat "$ERR")"
MOUNTS+=("$M")
up_ms=$(($(now_ms) - start))
FS_PID=$(_fs_pid_of "$M") || fail "no tricklefs process for $M"
FS_PIDS+=("$FS_PID:$(starttime_of "$FS_PID")")
echo "mount to all ${#NODES[@]} nodes up: $up_ms ms"
n0=${NODES[0]} n1=${NODES[1]}
expect_vms "$n0.0" "$n0.1" "$n1.0" "$n1.1"
info=$(cat "$M/$n1.1/info") || fail "cat info failed"
expect_match "info" "^slurm job: $JOB\$" "$info"
expect_match "info" "^slurm node: $n1\$" "$info"
grep -q "connected back as" "$LOG" || fail "no node connected back"
[ "$(steps | wc -l)" = 2 ] || fail "steps while mounted: $(steps)"
inject "$n0.0" "$BASIC_SO"
expect_eq "a call on $n0.0" 7 "$(call "$n0.0" "add 3 4")"
cp "$BASIC_SO" "$M/.all/inject/" || fail "cp to .all/inject failed"
expect_eq "a call on $n1.1" "hi" "$(call "$n1.1" "echo hi")"
# Each node runs where Slurm put it: its step's environment says so.
expect_eq "SLURMD_NODENAME on $n1.0" "$n1" \
    "$(call "$n1.0" "exec printenv SLURMD_NODENAME")"

# No one without the secret: a connection that answers the greeting
# with a made-up proof is refused, and the mount still serves.
where=$(sed -n 's/.*connect-back: listening on //p' "$LOG" | tail -n 1)
[ -n "$where" ] || fail "the log names no listening address"
nonce=$(printf '%064d' 0)
slurm_exec bash -c "exec 3<>/dev/tcp/${where%:*}/${where##*:} || exit 1
	read -r -t 5 hello <&3; echo \"\$hello\"
	echo 's0 $nonce $nonce' >&3
	read -r -t 5 answer <&3 && echo \"answered: \$answer\"
	exit 0" >"$T/intruder.out" 2>&1
grep -q '^TRICKLE-CALLBACK 1 ' "$T/intruder.out" ||
    fail "no greeting from $where: $(cat "$T/intruder.out")"
[ "$(wc -l <"$T/intruder.out")" = 1 ] ||
    fail "an intruder was answered: $(cat "$T/intruder.out")"
wait_for grep -q "connect-back: refused .*wrong proof" "$LOG" ||
    fail "the intruder was not refused in the log"
expect_eq "a call after the intruder" 9 "$(call "$n0.1" "add 4 5")"

unmount "$M"
wait_for -t 15 eval '[ -z "$(steps)" ]' ||
    fail "steps left after unmount: $(steps)"

# ---- the fallback: srun's stdin/stdout as the link
slurm_exec "$TRICKLEFS" -o "slurm,slurm_link=stdio,vms_per_node=1,logfile=$LOG.stdio,node_command=$NODE_CMD" "$M" 2>"$ERR" ||
    fail "mounting -o slurm,slurm_link=stdio failed: $(cat "$ERR")"
FS_PID=$(_fs_pid_of "$M") || fail "no tricklefs process for $M"
FS_PIDS+=("$FS_PID:$(starttime_of "$FS_PID")")
expect_vms "$n0" "$n1"
inject "$n1" "$BASIC_SO"
expect_eq "a call over srun's stdio" 5 "$(call "$n1" "add 2 3")"
grep -q "connect-back" "$LOG.stdio" && fail "slurm_link=stdio listened"
unmount "$M"
wait_for -t 15 eval '[ -z "$(steps)" ]' ||
    fail "steps left after the stdio mount: $(steps)"

# ---- the end of the allocation drains and removes the nodes
slurm_exec "$TRICKLEFS" -o "slurm,logfile=$LOG.end,node_command=$NODE_CMD" "$M" 2>"$ERR" ||
    fail "mounting -o slurm again failed: $(cat "$ERR")"
FS_PID=$(_fs_pid_of "$M") || fail "no tricklefs process for $M"
FS_PIDS+=("$FS_PID:$(starttime_of "$FS_PID")")
expect_vms "$n0.0" "$n0.1" "$n1.0" "$n1.1"
slurm_exec scancel "$JOB" || fail "scancel $JOB failed"
wait_for -t 30 eval '[ -z "$(ls "$M")" ]' ||
    fail "VMs left 30 s after the allocation ended: $(ls "$M")"
grep -q "slurm job $JOB ended" "$LOG.end" ||
    fail "the log does not say the job ended"
expect_eq ".ctl after the end" "" "$(cat "$M/.ctl")"
unmount "$M"
slurm_salloc_end
echo "PASS: $TEST_NAME"
