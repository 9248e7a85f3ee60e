#!/bin/bash
# The main job on the embedded default: mount two local VMs (no SSH set-up),
# inject the example functions, fork calls on both VMs, join them, print
# the results; then a pile of work through .any with trickle-map and
# trickle-run; unmount.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh >/dev/null
build=$PWD/${BUILD:-build}

mnt=$(mktemp -d /tmp/tricklefs-demo.XXXXXX)
cleanup() {
	fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null || true
	rmdir "$mnt" 2>/dev/null || true
}
trap cleanup EXIT

"$build/fs/tricklefs" -o local=2 "$mnt"
echo "\$ ls $mnt"; ls "$mnt"

for vm in local0 local1; do
	cp "$build/examples/basic.so" "$mnt/$vm/inject/"
done
echo "\$ ls $mnt/local0/inject"; ls "$mnt/local0/inject"

# Fork: one line per call on each VM; read back the ids (the clone idiom).
declare -A ids
for vm in local0 local1; do
	exec 3<>"$mnt/$vm/calls/new"
	for n in 1 2 3 4 5; do
		echo "foo $n" >&3
	done
	ids[$vm]=$(head -n 5 <&3 2>/dev/null | tr '\n' ' ')
	exec 3>&-
done

# Join: each read of result blocks until its call is done.
for vm in local0 local1; do
	for id in ${ids[$vm]}; do
		printf '%s/calls/%s: %-8s -> %s\n' "$vm" "$id" \
			"$(cat "$mnt/$vm/calls/$id/args")" \
			"$(cat "$mnt/$vm/calls/$id/result")"
	done
done

# VM state persists between calls; a crash restarts only that VM.
echo counter > "$mnt/local0/calls/new"; echo counter > "$mnt/local0/calls/new"
echo "counter, counter on local0: $(cat "$mnt"/local0/calls/{6,7}/result | tr '\n' ' ')"
echo crash > "$mnt/local1/calls/new"
cat "$mnt/local1/calls/6/result" 2>/dev/null || echo "crash on local1: $(cat "$mnt/local1/calls/6/status")"
echo "foo 21" > "$mnt/local1/calls/new"
echo "foo 21 on local1 after the crash: $(cat "$mnt/local1/calls/7/result")"

# Farming out a pile of work: 20 items, 4 to a call, each call on
# whichever VM is free first (MOUNT/.any), output in input order.
echo "\$ seq 20 | trickle-map -C $mnt -n 4 --ordered add"
seq 20 | "$build/utils/trickle-map" -C "$mnt" -n 4 --ordered add
echo "\$ trickle-run -C $mnt foo 50"
"$build/utils/trickle-run" -C "$mnt" foo 50
# Standard input goes to the call, as with ssh.
echo "\$ printf 'pear\\napple\\n' | trickle-run -C $mnt exec sort"
printf 'pear\napple\n' | "$build/utils/trickle-run" -C "$mnt" exec sort
