#!/bin/bash
# tests/bench/inject.sh - cp into inject/: one VM (local, and over SSH
# against scp on the same private sshd) and .all/inject/ to N VMs of one
# node (a small .so and a 1 MiB one), with the bytes the mount sent.
# Node files on disk ($TMPDIR or /tmp, the default of a node reached over
# SSH) unless --tmpfs.  Prints figures; asserts nothing about time.  See
# README.md, "inject".
#
#	sudo tests/bench/inject.sh [-f MIB] [--sizes "64 1000"] [--tmpfs]
#	    [--before BUILD] [--perf DIR]
#
#   -f MIB	  the file cp'd into one VM's inject/ (256)
#   --sizes L	  VM counts for .all/inject/, each a mount of its own
#		  (-o local=N: N VMs of one node) ("64 1000")
#   --tmpfs	  the nodes' files on /dev/shm instead of the disk
#   --before B	  also every figure with the build in B (e.g. main's), in
#		  the same run, before this one's
#   --perf DIR	  perf record -g our processes during each cp:
#		  DIR/inject-{local,ssh,allN,all1mN}[-before].data
. "$(dirname "$0")/lib.sh"

FILE_MIB=256
SIZES="64 1000"
BEFORE=
NODE_TMP=${TMPDIR:-/tmp}
while [ $# -gt 0 ]; do
	case $1 in
	-f) FILE_MIB=$2; shift 2 ;;
	--sizes) SIZES=$2; shift 2 ;;
	--tmpfs) NODE_TMP=/dev/shm; shift ;;
	--before) BEFORE=$(cd "$2" && pwd) || die "no build $2"; shift 2 ;;
	--perf) PERF_DIR=$(mkdir -p "$2" && cd "$2" && pwd) || die "bad --perf dir"
		shift 2 ;;
	-h|--help) sed -n '2,19s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
[ -z "$PERF_DIR" ] || command -v perf >/dev/null || die "--perf: no perf"
[ -z "$BEFORE" ] || [ -x "$BEFORE/fs/tricklefs" ] || die "$BEFORE/fs/tricklefs not built"
bench_init
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

now_ns() { date +%s%N; }
# secs COMMAND...: elapsed seconds (its output goes nowhere)
secs() {
	local t0 t1
	t0=$(now_ns)
	"$@" >/dev/null || return 1
	t1=$(now_ns)
	calc "($t1 - $t0) / 1e9" 3
}
mbs() { calc "$1 / $2 / 1e6" 1; }

# The file for one VM: an executable #! script whose bulk is a comment
# (bulk.sh's), so that the node installs it as a program.
SRC=$T/big.sh
{
	echo '#!/bin/sh'
	head -c $((FILE_MIB * 1048576 - 40)) /dev/zero | tr '\0' '#' | fold -w 1023
	echo
	echo 'echo big'
} >"$SRC" || die "cannot write $SRC"
chmod 755 "$SRC"
FILE_BYTES=$(stat -c %s "$SRC")
# A shared object of 1 MiB and more: basic.so with bytes after its end
# (ssh-inject-once.sh's), new random bytes for each mount so that no
# node cache has them.
big_so() { { cat "$BASIC_SO"; head -c 1048576 /dev/urandom; } >"$1"; }

declare -A RES	# RES[build:metric] = seconds, or bytes for sent*
ROWS=()		# metric|label|bytes (for MB/s, or empty)
row_once() {
	local r
	for r in "${ROWS[@]}"; do [ "${r%%|*}" = "$1" ] && return; done
	ROWS+=("$1|$2|$3")
}

wait_up() {
	local mp=$1 want=$2 i up
	for i in $(seq 1 1200); do
		up=$(awk '$3 == "up"' "$mp/.ctl" 2>/dev/null | wc -l)
		[ "$up" -ge "$want" ] && return 0
		sleep 0.05
	done
	echo "$PROG: only $up of $want VMs up after a minute" >&2
	return 1
}
sent() { sed -n 's/^bytes sent: //p' "$1/info"; }
# CPU ms (user + system) process $1 has used: a figure a busy machine
# disturbs less than elapsed time.
cpu_ms() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	s=${s##*) }
	set -- $s
	echo $(( (${12} + ${13}) * 1000 / $(getconf CLK_TCK) ))
}

# one_vm B KIND VM: cp of the big script into VM/inject/, then a call of
# it (it was installed whole), then rm.
one_vm() {
	local b=$1 kind=$2 vm=$MP/$3 s id
	say "$b: $kind: cp a $FILE_MIB MiB script into inject/"
	bench_perf_start "inject-$kind$SUFFIX"
	s=$(secs cp "$SRC" "$vm/inject/big.sh") || die "cp into inject/ failed"
	bench_perf_stop
	RES[$b:cp-$kind]=$s
	row_once "cp-$kind" "cp $FILE_MIB MiB into VM/inject/, $kind" "$FILE_BYTES"
	exec 3<>"$vm/calls/new" && printf 'big.sh\n' >&3 && read -r id <&3
	exec 3>&-
	[ "$(cat "$vm/calls/$id/result")" = big ] || die "the injected script did not run"
	rm "$vm/inject/big.sh" || die "rm inject/big.sh failed"
}

# all_cp B N TAG FILE NAME LABEL: cp FILE to .all/inject/NAME, then one
# .all line (the workers' loads of it before it), with the bytes sent and
# the CPU of the daemon and of the node meanwhile.
all_cp() {
	local b=$1 n=$2 k=$3 file=$4 name=$5 label=$6 before c0 n0 s out
	bench_perf_start "inject-all$k$n$SUFFIX"
	before=$(sent "$mp/$first")
	c0=$(cpu_ms "$FS_PID")
	n0=$(cpu_ms "$node")
	s=$(secs cp "$file" "$mp/.all/inject/$name") || die "cp $name failed"
	RES[$b:all$k$n]=$s
	RES[$b:sentall$k$n]=$(( $(sent "$mp/$first") - before ))
	RES[$b:cpuall$k$n]="$(( $(cpu_ms "$FS_PID") - c0 )) / $(( $(cpu_ms "$node") - n0 ))"
	bench_perf_stop
	out=$("$CALLBENCH" fanout "$mp") || echo "$PROG: fanout after $name failed" >&2
	RES[$b:fanall$k$n]=$(kv elapsed_s "$out")
	row_once "all$k$n" "$label to .all/inject/, N=$n: s" ""
	row_once "sentall$k$n" "  bytes sent to the node" ""
	row_once "cpuall$k$n" "  CPU ms of the daemon / of the node (supervisor)" ""
	row_once "fanall$k$n" "  then one .all line, all results read: s" ""
}

# all_n B N: .all/inject/ of N local VMs of one node.
all_n() {
	local b=$1 n=$2 mp=$T/all$2 first node
	say "$b: .all/inject/ to $n VMs of one node"
	bench_mount "all$n" -o "local=$n,logfile=$T/tricklefs.log"
	wait_up "$mp" "$n" || die "$n VMs not up"
	first=$(awk 'NR == 1 { print $1 }' "$mp/.ctl")
	node=$(pgrep -P "$FS_PID" | head -n 1)
	big_so "$T/big.so"
	all_cp "$b" "$n" "" "$BASIC_SO" basic.so "cp basic.so ($(stat -c %s "$BASIC_SO") B)"
	all_cp "$b" "$n" 1m "$T/big.so" big.so "cp a 1 MiB .so ($(stat -c %s "$T/big.so") B)"
	# Every VM has it, from one cache entry.
	[ -e "$mp/$first/inject/big.so" ] || die "$first has no big.so"
	bench_unmount "all$n"
	rmdir "$mp"
}

# run B: every figure with build B ("this" or "before").
run() {
	local b=$1 n
	SUFFIX=
	if [ "$b" = before ]; then
		TRICKLEFS=$BEFORE/fs/tricklefs
		TRICKLE_NODE=$(readlink -f "$BEFORE/node/trickle-node")
		SUFFIX=-before
	else
		TRICKLEFS=$THIS_FS
		TRICKLE_NODE=$THIS_NODE
	fi
	# Each build its own node cache: nothing carried over.
	rm -rf "$NT/run" "$NT/node"
	mkdir -p "$NT/run" "$NT/node"
	bench_mount_local one 1
	MP=$T/one
	one_vm "$b" local local0
	bench_unmount one
	bench_mount_ssh ssh a
	MP=$T/ssh
	one_vm "$b" ssh a
	bench_unmount ssh
	for n in $SIZES; do all_n "$b" "$n"; done
}

THIS_FS=$TRICKLEFS
THIS_NODE=$TRICKLE_NODE
say "starting sshd on 127.0.0.1"
bench_sshd
BUILDS=this
[ -n "$BEFORE" ] && BUILDS="before this"
for b in $BUILDS; do run "$b"; done

DEST=$NT/scp
mkdir -p "$DEST"
SCP=(env SHLVL=1 scp -q -F /dev/null -i "$SSHD_KEY" -P "$SSHD_PORT"
	-o IdentitiesOnly=yes -o BatchMode=yes
	-o UserKnownHostsFile="$SSHD_KNOWN_HOSTS" -o StrictHostKeyChecking=yes
	-o ControlPath="$T/cm" -o ControlMaster=no)
say "scp: $FILE_MIB MiB up (SFTP)"
RES[this:scp]=$(secs "${SCP[@]}" "$SRC" "$SSHD_USER@127.0.0.1:$DEST/up") || die "scp failed"
RES[before:scp]=${RES[this:scp]}
ROWS+=("scp|scp (SFTP) of the same file, for reference|$FILE_BYTES")
rm -f "$DEST/up"

echo
TRICKLEFS=$THIS_FS
bench_header
echo "node files on $NODE_FS; file $FILE_MIB MiB (MB = 10^6 bytes); seconds, or bytes for 'bytes sent'"
[ -n "$BEFORE" ] && echo "before: $BEFORE"
line="| |"
for b in $BUILDS; do line="$line $b |"; done
echo "$line"
echo "|---|$(for b in $BUILDS; do printf -- '---|'; done)"
for r in "${ROWS[@]}"; do
	IFS='|' read -r m l bytes <<<"$r"
	line="| $l |"
	for b in $BUILDS; do
		v=${RES[$b:$m]:-?}
		if [ -n "$bytes" ] && [ "$v" != "?" ]; then
			v="$v s, $(mbs "$bytes" "$v") MB/s"
		fi
		line="$line $v |"
	done
	echo "$line"
done
echo
for b in $BUILDS; do
	echo "$b: cp into inject/ over ssh / scp: $(calc "${RES[this:scp]} / ${RES[$b:cp-ssh]:-0}")"
done
if [ -n "$PERF_DIR" ]; then
	echo
	echo "perf data in $PERF_DIR: perf report -i $PERF_DIR/inject-ssh.data --no-children --sort comm,dso,sym"
fi
