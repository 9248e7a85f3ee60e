#!/bin/bash
# examples/make/run.sh - the Makefile of this directory run twice on the
# same corpus: with plain `make -j` on this machine (each step a process
# that loads wordcount.so), and with `make -j` whose steps run through
# trickle-run on a tricklefs mount; checks both give the same table and
# prints the times.
#
#	examples/make/run.sh [--scale F] [--vms N] [--jobs J] [--mount MOUNT]
#
# Without --mount it mounts -o local=N (default 2) for the run; with
# --mount it uses that mount (e.g. SSH nodes: the corpus must be at the
# same path on them) and injects wordcount.so through its .all/inject/.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD:-$root/build}
bin=$build/examples/wfreq
scale=0.1 vms=2 jobs= mount=

while [ $# -gt 0 ]; do
	case $1 in
	--scale) scale=$2; shift 2 ;;
	--vms) vms=$2; shift 2 ;;
	--jobs) jobs=$2; shift 2 ;;
	--mount) mount=$2; shift 2 ;;
	-h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
done
export PATH=$build/fs:$build/utils:$PATH
for f in "$bin/gen-corpus" "$bin/wordcount.so" "$build/fs/tricklefs" "$build/utils/trickle-run"; do
	[ -e "$f" ] || { echo "run.sh: $f not built: run scripts/build.sh" >&2; exit 1; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/make-example.XXXXXX")
cleanup() {
	if [ -z "$mount" ] && grep -qs " $T/mnt " /proc/mounts; then
		fusermount3 -u "$T/mnt" 2>/dev/null || fusermount3 -uz "$T/mnt"
		# The daemon ends its nodes after the unmount, and they remove
		# their session directories under $T: let them, for 20 s.
		for _ in $(seq 200); do
			pgrep -f "tricklefs .*$T/mnt" >/dev/null || break
			sleep 0.1
		done
	fi
	rm -rf "$T"
}
trap cleanup EXIT
export XDG_RUNTIME_DIR=$T
ms() { echo $(($(date +%s%N) / 1000000)); }

"$bin/gen-corpus" --scale "$scale" -o "$T/corpus" >/dev/null
ndirs=$(ls -d "$T/corpus"/d* | wc -l)
if [ -z "$mount" ]; then
	mkdir "$T/mnt"
	tricklefs -o "local=$vms,logfile=$T/tricklefs.log" "$T/mnt"
	M=$T/mnt
else
	M=$mount
	vms=$(ls "$M" | wc -l)
fi
cp "$bin/wordcount.so" "$M/.all/inject/"
jobs=${jobs:-$((4 * vms))}
mk() { make -s -f "$here/Makefile" CORPUS="$T/corpus" BIN="$bin" "$@"; }

t0=$(ms)
mk -j"$(nproc)" OUT="$T/plain" RUN="$bin/wfreq-driver $bin/wordcount.so"
plain=$(($(ms) - t0))
t0=$(ms)
mk -j"$jobs" OUT="$T/trickle" MOUNT="$M"
trickle=$(($(ms) - t0))

cmp -s "$T/plain/total.txt" "$T/trickle/total.txt" || {
	echo "run.sh: the two builds' tables differ" >&2
	exit 1
}
echo "$ndirs steps + a merge, the same table ($(wc -l <"$T/plain/total.txt") words) both ways:"
printf '  plain make -j%s on this machine:        %6d ms\n' "$(nproc)" "$plain"
printf '  make -j%s through trickle-run (%s VMs): %6d ms  (%s)\n' "$jobs" "$vms" "$trickle" \
	"$(awk -v a="$plain" -v b="$trickle" 'BEGIN { printf "%.2fx the speed of plain make", a / b }')"
