# tests/integration/slurm-lib.sh - a real Slurm cluster on this one
# machine, for the slurm-* tests (bash).  Source it after lib.sh:
#
#	. "$(dirname "$0")/lib.sh"
#	. "$HERE/slurm-lib.sh"
#	slurm_up 4			# slurmctld, slurmd n1..n4, idle
#	slurm_exec salloc -N2 --no-shell ...
#	slurm_exec "$TRICKLEFS" -o slurm_jobs=2 ... "$M"
#
# What it makes, all of it under $T/slurm and stopped by PID at the end
# (lib.sh's EXIT trap, CLEANUP_HOOKS):
# - a network namespace of its own holding lo and a veth pair (both ends
#   inside, SLURM_ADDR on one of them): Slurm cannot bind with loopback
#   alone (getaddrinfo's AI_ADDRCONFIG ignores lo);
# - munged with a throw-away key and a private socket (AuthInfo=socket=);
# - slurmctld and one slurmd -N NAME per node, each on its own port, with
#   SlurmdParameters=config_overrides so the fake nodes claim the CPUs the
#   configuration gives them (SLURM_CPUS each, 2 unless set).
# Commands that speak to Slurm, and everything Slurm starts, must run in
# that namespace: slurm_exec CMD... (nsenter --net only, so a FUSE mount
# made there is the test's too, and $! of "slurm_exec CMD &" is CMD).
# SLURM_CONF is exported, so clients and daemons read our configuration.
#
# Skips (exit 77) when namespaces or veth pairs cannot be made, or when
# Slurm or munge is not installed (missing_dep: CI must have them) or its
# daemons cannot start at all (the logs say why).
#
# Variables: SLURM_DIR, SLURM_NS, SLURM_ADDR, SLURM_NODES (n1 n2 ...),
# SLURM_CONF, SLURM_CTLD_PID, SLURM_MUNGE_PID, SLURMD_PID[NAME].

SLURM_DIR=$T/slurm
SLURM_NS=tfs-slurm-$$-$(printf %04x $((RANDOM)))
SLURM_SUBNET=${SLURM_SUBNET:-10.86.$((RANDOM % 250 + 1))}
SLURM_ADDR=$SLURM_SUBNET.1
SLURM_CPUS=${SLURM_CPUS:-2}
SLURM_NODES=
SLURM_CTLD_PID=
SLURM_MUNGE_PID=
declare -gA SLURMD_PID=()
_SLURM_UP=
_SLURM_WATCHDOG=

slurm_exec() {
	nsenter --net="/run/netns/$SLURM_NS" "$@"
}

_slurm_require() {
	[ "$(id -u)" = 0 ] || skip "a Slurm cluster here needs root"
	need_cmd ip iproute2
	need_cmd nsenter util-linux
	need_cmd slurmctld slurm-wlm
	need_cmd slurmd slurm-wlm
	need_cmd srun slurm-wlm
	need_cmd munged munge
}

# Stop what we started, by PID, then the namespace.
_slurm_down() {
	local pid i left
	for pid in "${SLURMD_PID[@]}" $SLURM_CTLD_PID; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${SLURMD_PID[@]}" $SLURM_CTLD_PID; do
		for i in $(seq 1 60); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	# Job steps slurmd left (slurmstepd, what they ran) live in the
	# namespace: they can only be ours.
	for i in $(seq 1 40); do
		left=$(ip netns pids "$SLURM_NS" 2>/dev/null | grep -vx "$SLURM_MUNGE_PID")
		[ -z "$left" ] && break
		[ "$i" -gt 20 ] && kill -KILL $left 2>/dev/null
		[ "$i" = 1 ] && kill -TERM $left 2>/dev/null
		sleep 0.05
	done
	if [ -n "$SLURM_MUNGE_PID" ]; then
		kill -TERM "$SLURM_MUNGE_PID" 2>/dev/null
		wait "$SLURM_MUNGE_PID" 2>/dev/null
	fi
	ip netns del "$SLURM_NS" 2>/dev/null
	return 0
}

# Tear down should the test shell die without its EXIT trap.
_slurm_watchdog() {
	local shell=$1
	exec </dev/null >/dev/null 2>&1
	trap 'exit 0' TERM
	while kill -0 "$shell"; do
		sleep 1
	done
	# Our daemons are children of the dead shell: find them by the
	# namespace, the only place they run.
	kill -KILL $(ip netns pids "$SLURM_NS" 2>/dev/null) 2>/dev/null
	ip netns del "$SLURM_NS" 2>/dev/null
}

slurm_cleanup() {
	local rc=$?
	if [ -n "$_SLURM_WATCHDOG" ]; then
		kill "$_SLURM_WATCHDOG" 2>/dev/null
		wait "$_SLURM_WATCHDOG" 2>/dev/null
		_SLURM_WATCHDOG=
	fi
	[ -n "$_SLURM_UP" ] && _slurm_down
	_SLURM_UP=
	return $rc
}

# The daemons' logs, for a failure's diagnostics.
slurm_diagnostics() {
	local f
	for f in "$SLURM_DIR"/*.log; do
		[ -f "$f" ] || continue
		echo "---- $(basename "$f"):" >&2
		grep -v -e pmix -e 'MPI: ' -e 'differs from hardware' "$f" |
		    tail -n 10 | sed 's/^/  slurm: /' >&2
	done
}

_slurm_write_conf() {
	local d=$SLURM_DIR i=0 n
	cat >"$SLURM_CONF" <<EOF
ClusterName=tfs$$
SlurmctldHost=$(hostname -s)($SLURM_ADDR)
SlurmctldPort=$_SLURM_PORT
SlurmdPort=$((_SLURM_PORT + 1))
AuthType=auth/munge
AuthInfo=socket=$d/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool-%n
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd-%n.pid
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$d/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
MailProg=/bin/true
PlugStackConfig=$d/plugstack.conf
KillWait=2
MinJobAge=5
InactiveLimit=0
SlurmdTimeout=30
MessageTimeout=10
EOF
	for n in $SLURM_NODES; do
		i=$((i + 1))
		echo "NodeName=$n NodeAddr=$SLURM_ADDR NodeHostname=$(hostname) Port=$((_SLURM_PORT + 1 + i)) CPUs=$SLURM_CPUS State=UNKNOWN" >>"$SLURM_CONF"
	done
	echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP" >>"$SLURM_CONF"
	: >"$d/plugstack.conf"
}

# Are all N nodes idle?
_slurm_idle() {
	[ "$(slurm_exec sinfo -h -N -t idle -o %N 2>/dev/null | sort -u | wc -l)" = "$1" ]
}

# slurm_up N: the namespace, munged, slurmctld and slurmd n1..nN; returns
# once every node is idle.
slurm_up() {
	local n=$1 i d=$SLURM_DIR err
	_slurm_require
	mkdir -p "$d/state" && d=$(cd "$d" && pwd -P) && SLURM_DIR=$d ||
	    fail "mkdir $d"
	err=$d/setup.err
	CLEANUP_HOOKS+=(slurm_cleanup)
	_SLURM_UP=1
	_slurm_watchdog "$MAIN_PID" &
	_SLURM_WATCHDOG=$!
	ip netns add "$SLURM_NS" 2>"$err" ||
	    skip "cannot make a network namespace: $(cat "$err")"
	ip -n "$SLURM_NS" link add s0 type veth peer name s1 2>"$err" ||
	    skip "cannot make a veth pair: $(cat "$err")"
	ip -n "$SLURM_NS" link set lo up &&
	ip -n "$SLURM_NS" addr add "$SLURM_ADDR/24" dev s0 &&
	ip -n "$SLURM_NS" addr add "$SLURM_SUBNET.2/24" dev s1 &&
	ip -n "$SLURM_NS" link set s0 up &&
	ip -n "$SLURM_NS" link set s1 up || fail "slurm: setting up $SLURM_NS failed"

	# munge: a throw-away key, its own socket.
	head -c 1024 /dev/urandom >"$d/munge.key" && chmod 400 "$d/munge.key" ||
	    fail "slurm: writing a munge key failed"
	slurm_exec munged -F --force --key-file="$d/munge.key" \
	    --socket="$d/munge.sock" --pid-file="$d/munged.pid" \
	    --log-file="$d/munged.log" --seed-file="$d/munged.seed" \
	    </dev/null >>"$d/munged.log" 2>&1 &
	SLURM_MUNGE_PID=$!
	for i in $(seq 1 100); do
		[ -S "$d/munge.sock" ] && break
		kill -0 "$SLURM_MUNGE_PID" 2>/dev/null || break
		sleep 0.05
	done
	[ -S "$d/munge.sock" ] ||
	    skip "munged does not start: $(tail -n 3 "$d/munged.log")"

	# Ports: a free block above 20000 (in our own namespace every port
	# is free; the ranges only keep the logs readable).
	_SLURM_PORT=$((20000 + (RANDOM % 400) * 100))
	SLURM_NODES=$(seq -f "n%g" 1 "$n" | tr '\n' ' ')
	SLURM_NODES=${SLURM_NODES% }
	export SLURM_CONF=$d/slurm.conf
	_slurm_write_conf
	slurm_exec slurmctld -D -i -f "$SLURM_CONF" </dev/null \
	    >>"$d/slurmctld.out" 2>&1 &
	SLURM_CTLD_PID=$!
	for i in $SLURM_NODES; do
		mkdir -p "$d/spool-$i" || fail "mkdir $d/spool-$i"
		slurm_exec slurmd -D -N "$i" -f "$SLURM_CONF" </dev/null \
		    >>"$d/slurmd-$i.out" 2>&1 &
		SLURMD_PID[$i]=$!
	done
	CLEANUP_HOOKS=(slurm_dump_on_failure "${CLEANUP_HOOKS[@]}")
	for i in $(seq 1 300); do
		_slurm_idle "$n" && break
		kill -0 "$SLURM_CTLD_PID" 2>/dev/null || break
		sleep 0.05
	done
	if ! _slurm_idle "$n"; then
		slurm_diagnostics
		kill -0 "$SLURM_CTLD_PID" 2>/dev/null ||
		    skip "slurmctld does not start here (its log above)"
		fail "slurm: $n nodes not idle 15 s after start"
	fi
}

# On a failing test, the daemons' logs as well.
slurm_dump_on_failure() {
	[ "${rc:-0}" = 0 ] || [ "${rc:-0}" = 77 ] || slurm_diagnostics
}

# slurm_salloc SALLOC-OPTION...: an allocation as a user gets it, held
# by salloc in the background; its SLURM_* environment is exported into
# this shell.  SALLOC_PID, SALLOC_E (PID:STARTTIME).  salloc runs in a
# session of its own, so nothing it signals reaches the test shell.  Its
# command is a sleep that slurm_salloc_end ends (salloc does not end it
# when the allocation is revoked; it waits for it); cleanup ends it too.
slurm_salloc() {
	slurm_exec setsid salloc "$@" bash -c \
	    "echo \$\$ >$T/alloc.cmd.pid; export -p | grep ' SLURM_' >$T/alloc.env.new && mv $T/alloc.env.new $T/alloc.env; exec sleep 3600" \
	    </dev/null >"$T/salloc.out" 2>&1 &
	SALLOC_PID=$!
	SALLOC_E=$SALLOC_PID:$(starttime_of "$SALLOC_PID")
	BG_PIDS+=("$SALLOC_PID")
	CLEANUP_HOOKS=(_slurm_salloc_cmd_end "${CLEANUP_HOOKS[@]}")
	wait_for -t 20 test -s "$T/alloc.env" ||
	    fail "no allocation: $(cat "$T/salloc.out")"
	# export -p writes "declare -x": global here, not the function's.
	. <(sed 's/^declare -x /declare -gx /' "$T/alloc.env")
}

_slurm_salloc_cmd_end() {
	[ -s "$T/alloc.cmd.pid" ] && kill "$(cat "$T/alloc.cmd.pid")" 2>/dev/null
	return 0
}

# slurm_salloc_end: end salloc's command, and wait (20 s at most) for
# salloc to end.
slurm_salloc_end() {
	_slurm_salloc_cmd_end
	wait_for -t 20 eval '! alive "$SALLOC_E"' || fail "salloc did not end"
}

# slurm_job_state ID: PENDING, RUNNING, ... or nothing once forgotten.
slurm_job_state() {
	slurm_exec squeue -h -j "$1" -o %T 2>/dev/null
}
