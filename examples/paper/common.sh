# shellcheck shell=bash
# examples/paper/common.sh - sourced by the example scripts (bash).
#
#	. "$(dirname "$0")/common.sh" "$@"
#
# Takes the mount point from the first argument or $TRICKLE_MOUNT, checks
# that it is a tricklefs mount, changes into it (every command the
# examples show is relative to the mount), and names its first two VMs A
# and B (B is A again on a one-VM mount).
#
# Finds what the examples need, each overridable from the environment:
#	PAPER_SO	paper.so: $BUILD/examples/paper/paper.so, else built
#			from paper.c with cc
#	STACK_SO	stack.so: $BUILD/examples/stack.so, else built
#	TRICKLE_JOIN	trickle-join: on PATH, else $BUILD/utils/trickle-join,
#			else built
#	BUILD		the meson build directory (default: build/ of this
#			checkout)
#	CC		the compiler for the fall-backs (default: cc)

set -euo pipefail

PAPER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCROOT=$(cd "$PAPER_DIR/../.." && pwd)
BUILD=${BUILD:-$SRCROOT/build}

usage() {
	echo "usage: $0 [MOUNTPOINT]   (or set TRICKLE_MOUNT)" >&2
	exit 2
}

case ${1:-} in -h|--help) usage ;; esac
MOUNT=${1:-${TRICKLE_MOUNT:-}}
[ -n "$MOUNT" ] || usage
MOUNT=$(cd "$MOUNT" && pwd) || exit 2
if [ ! -d "$MOUNT/.all" ] || [ ! -e "$MOUNT/.done" ]; then
	echo "$0: $MOUNT is not a tricklefs mount (no .all/ or .done)" >&2
	exit 2
fi
cd "$MOUNT"
VMS=()
for _vm in *; do
	[ -d "$_vm/calls" ] && VMS+=("$_vm")
done
[ ${#VMS[@]} -gt 0 ] || { echo "$0: no VMs under $MOUNT" >&2; exit 2; }
A=${VMS[0]}
B=${VMS[1]:-$A}

# Scratch space for the fall-back builds, removed on exit.
_WORK=
_cleanup_work() { [ -n "$_WORK" ] && rm -rf "$_WORK"; return 0; }
trap _cleanup_work EXIT
_mkwork() {
	[ -n "$_WORK" ] || _WORK=$(mktemp -d "${TMPDIR:-/tmp}/trickle-paper.XXXXXX")
}

# _build OUT SOURCE CFLAGS...: compile SOURCE into OUT with cc.
_build() {
	local out=$1 src=$2
	shift 2
	${CC:-cc} -O2 -I"$SRCROOT/include" "$@" -o "$out" "$src" || {
		echo "$0: could not build $out from $src" >&2
		exit 1
	}
}

need_paper_so() {
	if [ -z "${PAPER_SO:-}" ]; then
		PAPER_SO=$BUILD/examples/paper/paper.so
		[ -f "$PAPER_SO" ] || {
			_mkwork
			PAPER_SO=$_WORK/paper.so
			_build "$PAPER_SO" "$PAPER_DIR/paper.c" -shared -fPIC
		}
	fi
}

need_stack_so() {
	if [ -z "${STACK_SO:-}" ]; then
		STACK_SO=$BUILD/examples/stack.so
		[ -f "$STACK_SO" ] || {
			_mkwork
			STACK_SO=$_WORK/stack.so
			_build "$STACK_SO" "$SRCROOT/examples/stack/stack.c" -shared -fPIC
		}
	fi
}

need_trickle_join() {
	if [ -z "${TRICKLE_JOIN:-}" ]; then
		TRICKLE_JOIN=$(command -v trickle-join || true)
		[ -n "$TRICKLE_JOIN" ] || TRICKLE_JOIN=$BUILD/utils/trickle-join
		[ -x "$TRICKLE_JOIN" ] || {
			_mkwork
			TRICKLE_JOIN=$_WORK/trickle-join
			_build "$TRICKLE_JOIN" "$SRCROOT/utils/tools/trickle-join.c"
		}
	fi
}
# So that the examples read as a user would type them.
trickle-join() { "$TRICKLE_JOIN" "$@"; }

# ---------------------------------------------------------------- printing

# title TEXT: the example's heading.
title() {
	printf '== %s ==\n' "$*"
}

# note TEXT...: a comment line.
note() {
	printf '# %s\n' "$*"
}

# py LINE [OUTPUT]: a line of the paper's Python, and what it prints.
py() {
	printf '# >>> %s\n' "$1"
	[ $# -lt 2 ] || printf '# %s\n' "$2"
}

# run 'COMMAND': show the command, then run it in this shell (so that it
# can set variables, such as an id, for the commands after it).  Write it
# in single quotes: what is shown is what a user would type after
#	cd MOUNT; A=VM B=VM
run() {
	printf '$ %s\n' "$*"
	eval "$*"
}

# start: the example's common opening lines.
start() {
	title "$1"
	printf '$ cd %s; A=%s B=%s\n' "$MOUNT" "$A" "$B"
}

# ---------------------------------------------------------------- calls

# call VM LINE: a synchronous call, as in the paper's vm.f(x): fork the
# line on VM (the clone idiom: write the line, read the new call's id
# back from the same open file), then join it (cat its result, which
# blocks until the call ends).  Leaves the id in $id.
call() {
	exec 3<>"$1/calls/new"
	printf '%s\n' "$2" >&3
	read -r id <&3
	exec 3>&-
	cat "$1/calls/$id/result"
}
