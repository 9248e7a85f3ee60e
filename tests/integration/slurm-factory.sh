#!/bin/bash
# -o slurm_jobs=N from outside any allocation (slurm-lib.sh: slurmctld and
# four slurmd of two CPUs on this machine): the mount submits worker jobs
# with sbatch, and each node joins as its job starts and connects back.
# scale N grows the pool (a job Slurm cannot start yet shows in .ctl as
# pending) and shrinks it (the pending job cancelled, a running one
# drained: its job ends on its own).  A job cancelled in the middle of a
# pile of .any work costs no item: what ran there runs again elsewhere,
# counted by the injected code.  A job near its walltime (shortened with
# scontrol) is drained: its running calls end, it gets no new ones, and
# its job ends before Slurm would kill it.  Unmount cancels the rest.
TEST_TIMEOUT=240
. "$(dirname "$0")/lib.sh"
. "$HERE/slurm-lib.sh"
. "$HERE/fault-lib.sh"

[ -n "${SLURM_TRACE:-}" ] && { exec 7>>"$SLURM_TRACE"; BASH_XTRACEFD=7; set -x; }
slurm_up 4
mkdir -p "$NODE_DIR"
NODE_CMD="$TRICKLE_NODE --dir $NODE_DIR"

# jobs_of_mount: our worker jobs Slurm knows, "ID STATE NODE" a line.
jobs_of_mount() {
	slurm_exec squeue -h -n trickle-node -o '%i %T %N' 2>/dev/null | sort -n
}
running_jobs() { jobs_of_mount | awk '$2 == "RUNNING"' | wc -l; }
vm_count() { ls "$M" | wc -l; }
# listed VM: is VM in the mount's listing?  (A name looked up stays
# known to the kernel for a second, as any VM's.)
listed() { ls "$M" | grep -qx "$1"; }
# job_of_vm VM: the Slurm job its info names.
job_of_vm() { sed -n 's/^slurm job: //p' "$M/$1/info"; }

# ---- three jobs, each a whole node: six VMs as they start
slurm_exec "$TRICKLEFS" -o "slurm_jobs=3,slurm_margin=115,logfile=$LOG,node_command=$NODE_CMD" \
	-o "slurm_args=-N1 --exclusive --output=$T/job-%j.out" "$M" 2>"$ERR" ||
    fail "mounting -o slurm_jobs=3 failed: $(cat "$ERR")"
MOUNTS+=("$M")
FS_PID=$(_fs_pid_of "$M") || fail "no tricklefs process for $M"
FS_PIDS+=("$FS_PID:$(starttime_of "$FS_PID")")
expect_eq "jobs submitted at mount" 3 "$(grep -c 'slurm: submitted job' "$LOG")"
wait_for -t 30 eval '[ "$(vm_count)" = 6 ]' ||
    fail "not 6 VMs 30 s after mount: $(ls "$M" | tr '\n' ' '); .ctl: $(cat "$M/.ctl")"
expect_eq "running jobs" 3 "$(running_jobs)"
for vm in $(ls "$M"); do
	j=$(job_of_vm "$vm")
	n=$(sed -n 's/^slurm node: //p' "$M/$vm/info")
	jobs_of_mount | grep -q "^$j RUNNING $n\$" ||
	    fail "$vm's info (job $j, node $n) is not in squeue: $(jobs_of_mount)"
	expect_eq "$vm's name" "$n" "${vm%.*}"
done
cp "$ATTEMPTS_SO" "$M/.all/inject/" || fail "cp attempts.so .all/inject/"
cp "$BASIC_SO" "$M/.all/inject/" || fail "cp basic.so .all/inject/"
first=$(ls "$M" | head -n 1)
expect_eq "a call on $first" 7 "$(call "$first" "add 3 4")"

# ---- scale 5: a fourth node joins, the fifth job waits (4 nodes only)
echo "scale 5" >"$M/.ctl" || fail "echo scale 5 > .ctl failed"
wait_for -t 30 eval '[ "$(vm_count)" = 8 ] && grep -q " pending " "$M/.ctl"' ||
    fail "no 4th node and pending job after scale 5: $(cat "$M/.ctl")"
pending=$(awk '$3 == "pending" { print $1 }' "$M/.ctl")
[ "$(echo "$pending" | wc -l)" = 1 ] || fail "pending: $pending"
expect_eq "pending job's line" "$pending slurm:${pending#job} pending 0 0 0 0 0 -" \
	"$(grep "^$pending " "$M/.ctl")"
expect_eq "its state in Slurm" PENDING \
	"$(slurm_job_state "${pending#job}")"
newest=$(jobs_of_mount | awk '$2 == "RUNNING" { print $1 }' | tail -n 1)
drained_vms=$(for vm in $(ls "$M"); do [ "$(job_of_vm "$vm")" = "$newest" ] && echo "$vm"; done)
[ "$(echo "$drained_vms" | wc -l)" = 2 ] || fail "job $newest's VMs: $drained_vms"

# ---- scale 3: the pending job is cancelled, the newest running drained
echo "scale 3" >"$M/.ctl" || fail "echo scale 3 > .ctl failed"
wait_for -t 30 eval '[ "$(vm_count)" = 6 ] && [ "$(jobs_of_mount | grep -c -e PENDING -e RUNNING)" = 3 ]' ||
    fail "not back to 3 jobs: $(jobs_of_mount); .ctl: $(cat "$M/.ctl")"
for vm in $drained_vms; do
	listed "$vm" && fail "$vm (job $newest) is still there"
done
# .ctl says "cancelled" until the next poll of squeue, then nothing.
wait_for -t 10 eval '! grep -q "^${pending} " "$M/.ctl"' ||
    fail ".ctl still lists $pending: $(grep "^${pending} " "$M/.ctl")"
wait_for -t 15 eval 'grep -q "slurm job $newest ended" "$LOG"' ||
    fail "job $newest did not end after its node drained"
grep -q "slurm job $newest ended (CANCELLED" "$LOG" &&
    fail "job $newest was cancelled, not drained"

# ---- a job cancelled in the middle of a pile of .any work
start_pile 60 400
wait_for -t 60 eval '[ "$(ended_items)" -ge 12 ]' || fail "the pile did not get going"
victim=$(job_of_vm "$(ls "$M" | sed -n 3p)")
slurm_exec scancel "$victim" || fail "scancel $victim failed"
fault_in_time 60
echo "cancelled job $victim after $(ended_items) items"
wait_pile
check_pile 60 2
check_attempts
wait_for -t 15 eval 'grep -q "slurm job $victim ended" "$LOG"' ||
    fail "the log does not say job $victim ended"
wait_for -t 15 eval '[ "$(vm_count)" = 4 ]' ||
    fail "the cancelled job's VMs are still there: $(ls "$M" | tr '\n' ' ')"
lost=$(grep -c '\.any/[0-9]*: lost: ' "$LOG") || true
[ "$TWICE" -le "${lost:-0}" ] || fail "$TWICE items started twice, but only ${lost:-0} runs were lost"

# ---- a job near its walltime is drained, its running calls end
read -r short other < <(for vm in $(ls "$M"); do job_of_vm "$vm"; done | sort -u | tr '\n' ' ')
[ -n "$short" ] && [ -n "$other" ] || fail "two jobs left? $(jobs_of_mount)"
short_vms=$(for vm in $(ls "$M"); do [ "$(job_of_vm "$vm")" = "$short" ] && echo "$vm"; done)
start_pile 8 3000
wait_for -t 20 eval '[ "$(grep -c "^start " "$ATTEMPTS")" -ge 4 ]' ||
    fail "the 4 VMs did not all start work"
slurm_exec scontrol update JobId="$short" TimeLimit=2 ||
    fail "scontrol update TimeLimit failed"
wait_for -t 15 eval 'grep -q "slurm job $short ends in .*draining" "$LOG"' ||
    fail "job $short was not drained before its walltime: $(grep slurm "$LOG" | tail -3)"
drained_at=$(now_ms)
started_before=" $(awk '$1 == "start" { print $2 }' "$ATTEMPTS" | tr '\n' ' ')"
wait_pile
check_pile 8 0
check_attempts
# What ran on the drained node had started there before the drain: it
# took no new call, and what it ran ended with its result.
on_short=0
while read -r id; do
	vm=$(cat "$M/.any/calls/$id/vm")
	grep -qx "$vm" <<<"$short_vms" || continue
	item=$(awk '{ print $NF }' "$M/.any/calls/$id/args")
	[[ "$started_before" == *" $item "* ]] ||
	    fail "item $item started on $vm after job $short was drained"
	on_short=$((on_short + 1))
done <"$T/pile.ids"
[ "$on_short" -ge 1 ] || fail "nothing ran on the drained node: nothing tested"
wait_for -t 20 eval '! grep -q " RUNNING " <<<"$(jobs_of_mount | grep "^$short ")"' ||
    fail "job $short still runs after its node drained"
for vm in $short_vms; do
	listed "$vm" && fail "drained $vm is still there"
done
wait_for -t 10 grep -q "slurm job $short ended" "$LOG" ||
    fail "the mount did not see job $short end"
grep -q "slurm job $short ended (TIMEOUT" "$LOG" && fail "job $short ran into its walltime"
echo "job $short drained and ended $(( ($(now_ms) - drained_at) / 1000 )) s after the drain"

# ---- unmount cancels what is left
unmount "$M"
wait_for -t 15 eval '[ -z "$(jobs_of_mount | grep -e PENDING -e RUNNING)" ]' ||
    fail "jobs left after unmount: $(jobs_of_mount)"
grep -q "slurm: cancelling 1 job" "$LOG" || fail "unmount cancelled nothing"
echo "PASS: $TEST_NAME"
