#!/bin/bash
# Run the Trickle paper's Examples 1-6 (examples/paper/[1-6]-*.sh).
#
#	examples/paper/run-all.sh [MOUNTPOINT]
#
# With a mount point (or $TRICKLE_MOUNT), runs them there: it needs at
# least one VM and uses the first two.  Without, mounts two local VMs
# (tricklefs -o local=2) on a temporary directory, runs them, and
# unmounts.  TRICKLEFS names tricklefs (default: on PATH, else build/ of
# this checkout); TRICKLEFS_OPTS adds -o options to that mount.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
srcroot=$(cd "$here/../.." && pwd)

case ${1:-} in -h|--help)
	sed -n '2,/^set/{/^#/s/^# \{0,1\}//p}' "$0"
	exit 0 ;;
esac

mnt=${1:-${TRICKLE_MOUNT:-}}
if [ -z "$mnt" ]; then
	tfs=${TRICKLEFS:-$(command -v tricklefs || echo "${BUILD:-$srcroot/build}/fs/tricklefs")}
	mnt=$(mktemp -d "${TMPDIR:-/tmp}/trickle-paper-mnt.XXXXXX")
	unmount() {
		fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null || true
		rmdir "$mnt" 2>/dev/null || true
	}
	trap unmount EXIT
	echo "\$ tricklefs -o local=2 $mnt"
	"$tfs" -o "local=2${TRICKLEFS_OPTS:+,$TRICKLEFS_OPTS}" "$mnt"
fi

for ex in "$here"/[1-6]-*.sh; do
	bash "$ex" "$mnt"
	echo
done
