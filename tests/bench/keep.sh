#!/bin/bash
# tests/bench/keep.sh - what finished calls cost a long-lived mount, and
# what -o keep_calls gives back: N no-op calls forked through .any of two
# local VMs (pipelined, every result read), in rounds; after each round
# the RSS of the tricklefs daemon and of the node's supervisor, the
# node's session directory (bytes, inodes) and the journal's size.  Once
# keeping every call, once with -o keep_calls=K.  Prints figures and the
# cost per call (and per million calls); asserts nothing.  See README.md.
#
#	sudo tests/bench/keep.sh [-n N] [-r ROUNDS] [-k K] [--disk]
#
#   -n N	calls per run (100,000)
#   -r ROUNDS	rounds per run, a line of figures after each (5)
#   -k K	keep_calls of the second run (100)
#   --disk	keep the node's files in $TMPDIR or /tmp, not /dev/shm
. "$(dirname "$0")/lib.sh"

N=100000
ROUNDS=5
KEEP=100
while [ $# -gt 0 ]; do
	case $1 in
	-n) N=$2; shift 2 ;;
	-r) ROUNDS=$2; shift 2 ;;
	-k) KEEP=$2; shift 2 ;;
	--disk) NODE_TMP=${TMPDIR:-/tmp}; shift ;;
	-h|--help) sed -n '2,15s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
bench_init
export XDG_STATE_HOME=$T/state

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# The node's supervisor: the trickle-node child of the daemon that is not
# a VM's worker.
node_pid() {
	local p
	for p in $(pgrep -P "$FS_PID"); do
		grep -qa -- --worker "/proc/$p/cmdline" && continue
		[ "$(readlink -f "/proc/$p/exe")" = "$TRICKLE_NODE" ] &&
		    { echo "$p"; return 0; }
	done
	echo 0
}
session_kib() { du -sk "$NT"/run/trickle-node/session-* 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }
session_inodes() { find "$NT"/run/trickle-node/session-* 2>/dev/null | wc -l; }
journal_kib() { du -sk "$T"/state/tricklefs/*/journal 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }

# run LABEL OPTS: one mount, N calls in ROUNDS rounds; prints a line a
# round and sets PER_* (per call, bytes) from the whole run.
run() {
	local label=$1 opts=$2 r per=$((N / ROUNDS)) np fs0 nd0 fs1 nd1 out t0 t1
	local dk0 in0 jn0 n0=0
	rm -rf "$T/state"
	bench_mount "$label" -o "local=2,logfile=$T/tricklefs.log${opts:+,$opts}"
	np=$(node_pid)
	# A first round's worth of warm-up is not counted: the heaps and
	# tables of an idle mount.
	"$CALLBENCH" pipe -n 1000 -b 100 -l "echo" "$T/$label/.any" >/dev/null ||
	    die "$label: warm-up failed"
	sleep 1.5
	fs0=$(rss_kib "$FS_PID") nd0=$(rss_kib "$np")
	dk0=$(session_kib) in0=$(session_inodes) jn0=$(journal_kib)
	printf '%-22s %9s %10s %10s %10s %8s %9s %7s\n' "$label" calls \
	    "mount KiB" "node KiB" "disk KiB" inodes "journal" "per_s" >&2
	for r in $(seq 1 "$ROUNDS"); do
		t0=$(date +%s%N)
		out=$("$CALLBENCH" pipe -n "$per" -b 100 -l "echo" "$T/$label/.any") ||
		    die "$label: round $r failed"
		t1=$(date +%s%N)
		sleep 1.5	# reaps answered, memory trimmed
		printf '%-22s %9d %10d %10d %10d %8d %8dK %7s\n' "" $((r * per)) \
		    "$(rss_kib "$FS_PID")" "$(rss_kib "$np")" "$(session_kib)" \
		    "$(session_inodes)" "$(journal_kib)" "$(kv per_s "$out")" >&2
		# The growth is counted from the end of the first round (with
		# keep_calls the N kept are there by then), unless there is
		# only one.
		if [ "$r" = 1 ] && [ "$ROUNDS" -gt 1 ]; then
			fs0=$(rss_kib "$FS_PID") nd0=$(rss_kib "$np")
			dk0=$(session_kib) in0=$(session_inodes)
			jn0=$(journal_kib) n0=$per
		fi
	done
	fs1=$(rss_kib "$FS_PID") nd1=$(rss_kib "$np")
	n0=$((ROUNDS * per - n0))
	PER_FS=$(calc "($fs1 - $fs0) * 1024 / $n0" 0)
	PER_ND=$(calc "($nd1 - $nd0) * 1024 / $n0" 0)
	PER_DISK=$(calc "($(session_kib) - $dk0) * 1024 / $n0" 0)
	PER_INODES=$(calc "($(session_inodes) - $in0) / $n0" 2)
	PER_JOURNAL=$(calc "($(journal_kib) - $jn0) * 1024 / $n0" 0)
	bench_unmount "$label"
	echo "$label|$PER_FS|$PER_ND|$PER_DISK|$PER_INODES|$PER_JOURNAL"
}

say "$N calls through .any of local=2, node files on $NODE_FS"
A=$(run keep-all "")
B=$(run "keep_calls=$KEEP" "keep_calls=$KEEP")
echo
echo "Growth per call, from the end of the first round to the last:"
printf '%-22s %14s %14s %14s %12s %14s\n' "bytes per call" mount node "node disk" inodes journal
for l in "$A" "$B"; do
	IFS='|' read -r name fs nd disk ino jn <<<"$l"
	printf '%-22s %14s %14s %14s %12s %14s\n' "$name" "$fs" "$nd" "$disk" "$ino" "$jn"
done
echo
echo "... so a million calls more cost:"
printf '%-22s %14s %14s %14s %12s %14s\n' "a million calls" "mount MiB" "node MiB" "disk MiB" inodes "journal MiB"
for l in "$A" "$B"; do
	IFS='|' read -r name fs nd disk ino jn <<<"$l"
	printf '%-22s %14s %14s %14s %12s %14s\n' "$name" "$(calc "$fs * 1e6 / 1048576" 0)" \
	    "$(calc "$nd * 1e6 / 1048576" 0)" "$(calc "$disk * 1e6 / 1048576" 0)" \
	    "$(calc "$ino * 1e6" 0)" "$(calc "$jn * 1e6 / 1048576" 0)"
done
