#!/bin/bash
# examples/wfreq/run.sh - the paper's headline experiment: word frequencies
# over 63,362 files (~285 MB) with forkwork(chunksize=100), on 1, 2, 4 and 8
# VMs, beside the paper's Table 1.
#
#	examples/wfreq/run.sh [--scale F] [--vms "1 2 4 8"] [--corpus DIR]
#				[--mount OPTS]
#
# The corpus is generated into DIR (default build/wfreq-corpus-F) unless
# a complete one is there from an earlier run.
#
# Each run mounts tricklefs with -o local=N, injects wordcount.so through
# .all/inject/, and counts the corpus with
#
#	find CORPUS -type f | trickle-map -n 100 wc_add
#
# wc_add combines each chunk into its VM's table (VM state, as the paper's
# VMs keep globals), so the initiator merges one table per VM instead of
# one per chunk - the serial step that held the paper to 3.75x on 8 VMs.
# Each VM prints its table unsorted (wc_dump_unsorted on .all), and
# wfreq-merge reads every VM's result at once, adds each table as it
# comes, and sorts once.  Every run's result is compared, word
# for word, with a single-process count; the script fails if one differs.
#
# --mount OPTS mounts with -o OPTS instead of local=N (-o slurm inside
# an allocation, say), once per --vms count, which must then be the number
# of VMs those options give.
#
# Needs the build (scripts/build.sh) and FUSE (run as root, or with a
# setuid fusermount3).  --scale 0.1 gives a quick run.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD:-$root/build}
scale=1
vms="1 2 4 8"
corpus=
mount_opts=

while [ $# -gt 0 ]; do
	case $1 in
	--scale) scale=$2; shift 2 ;;
	--vms) vms=$2; shift 2 ;;
	--corpus) corpus=$2; shift 2 ;;
	--mount) mount_opts=$2; shift 2 ;;
	-h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
done

bin=$build/examples/wfreq
for f in "$bin/gen-corpus" "$bin/wfreq-merge" "$bin/wfreq-driver" \
	 "$bin/wordcount.so" "$build/fs/tricklefs" "$build/utils/trickle-map" \
	 "$build/utils/trickle-run"; do
	[ -e "$f" ] || { echo "run.sh: $f not built: run scripts/build.sh" >&2; exit 1; }
done
export PATH=$build/fs:$build/utils:$PATH
export LC_ALL=C

T=$(mktemp -d "${TMPDIR:-/tmp}/wfreq.XXXXXX")
M=$T/mnt
mkdir -p "$M"
cleanup() {
	if grep -qs " $M " /proc/mounts; then
		fusermount3 -u "$M" 2>/dev/null || fusermount3 -uz "$M"
	fi
	# The daemon ends its nodes after the unmount, and they remove
	# their session directories under $T: let them, for 20 s.
	for _ in $(seq 200); do
		pgrep -f "tricklefs .*$M" >/dev/null || break
		sleep 0.1
	done
	rm -rf "$T"
}
trap cleanup EXIT
export XDG_RUNTIME_DIR=$T

secs() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

# The corpus: generated once per scale (by default beside the build) and
# kept for the next run.
corpus=${corpus:-$build/wfreq-corpus-$scale}
if [ ! -f "$corpus/.complete" ]; then
	echo "generating the corpus (scale $scale) in $corpus ..."
	rm -rf "$corpus"
	"$bin/gen-corpus" --scale "$scale" -o "$corpus" >/dev/null
	touch "$corpus/.complete"
fi
corpus=$(cd "$corpus" && pwd)
nfiles=$(find "$corpus" -type f -name '*.txt' | wc -l)
mbytes=$(du -sm --apparent-size "$corpus" | cut -f1)
find "$corpus" -type f -name '*.txt' | sort >"$T/files"
cat "$T/files" >/dev/null	# warm the page cache for every run alike
xargs cat <"$T/files" >/dev/null

# The single-process count, the reference and the best one-machine time.
t0=$(secs)
(cd "$corpus" && "$bin/wfreq-driver" "$bin/wordcount.so" wordcount */*.txt) >"$T/reference"
single=$(elapsed "$t0" "$(secs)")

declare -A paper=([1]=72.3 [2]=43.5 [4]=25.8 [8]=19.3)
printf '%s files, %s MB, %s cores; single-process C count: %.2f s\n\n' \
	"$nfiles" "$mbytes" "$(nproc)" "$single"
printf '%4s  %10s  %8s  %10s  %8s\n' VMs "tricklefs" speedup "paper" speedup
base=
for n in $vms; do
	tricklefs -o "${mount_opts:-local=$n},logfile=$T/log.$n" "$M"
	cp "$bin/wordcount.so" "$M/.all/inject/"
	t0=$(secs)
	trickle-map -C "$M" -n 100 wc_add <"$T/files"
	exec 3<>"$M/.all/calls/new"
	echo wc_dump_unsorted >&3
	res=()
	for i in $(seq "$n"); do read -r id <&3; res+=("$M/$id/result"); done
	exec 3>&-
	"$bin/wfreq-merge" "${res[@]}" >"$T/result.$n"
	t=$(elapsed "$t0" "$(secs)")
	fusermount3 -u "$M"
	while grep -qs " $M " /proc/mounts; do sleep 0.1; done
	if ! cmp -s "$T/reference" "$T/result.$n"; then
		echo "run.sh: the count on $n VMs differs from the single-process count:" >&2
		diff "$T/reference" "$T/result.$n" | head >&2
		exit 1
	fi
	base=${base:-$t}
	p=${paper[$n]:-}
	printf '%4s  %9.2fs  %8s  %10s  %8s\n' "$n" "$t" \
		"$(ratio "$base" "$t")" "${p:+${p}s}" \
		"${p:+$(ratio 72.3 "$p")}"
done
echo
echo "every run's table equals the single-process count, word for word" \
     "($(wc -l <"$T/reference") words)"
