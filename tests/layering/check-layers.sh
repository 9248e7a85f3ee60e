#!/bin/bash
# tests/layering/check-layers.sh - the source tree keeps its layers.
#
#	check-layers.sh [--layers FILE] [--long-files FILE] [SRCROOT]
#	check-layers.sh --self-test
#
# Reads the folders and their order from tests/layering/layers (see the
# comments there) and scans the .c and .h files of its "scan" folders.
# Fails (exit 1), printing each violation as FILE:LINE: REASON, when
#   - a file includes a project header from a folder that is not below
#     its own (above it, or unordered with it), or from a folder the
#     layers file does not name;
#   - the include graph between folders has a cycle;
#   - a file under a fuse-free folder includes a FUSE header (fuse.h,
#     fuse_lowlevel.h, fuse_*.h, fuse3/...), directly or through project
#     headers (resolved transitively);
#   - a .c or .h file under a max-lines folder is longer than that,
#     unless tests/layering/long-files lists it with a reason (an entry
#     without a reason, or for a file no longer long, fails too).
# `#include "x.h"` and `#include <x.h>` resolve to the scanned file named
# x.h (header names are unique in the project); names found nowhere in
# the scanned folders are system headers.  Exit 2: a broken layers file,
# or nothing to check.
#
# --self-test runs the check on small trees made to break each rule (and
# on one that keeps them all), and on copies of this tree with a
# violation added, so that the check cannot pass by checking nothing.

set -u
set -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROG=check-layers

# check ROOT LAYERS LONGFILES: the check itself; prints violations (sorted)
# and a summary; exit 0, 1 (violations) or 2.
check() {
	local root=$1 layers=$2 long=$3 scan files
	[ -r "$layers" ] || { echo "$PROG: cannot read $layers" >&2; return 2; }
	[ -r "$long" ] || { echo "$PROG: cannot read $long" >&2; return 2; }
	scan=$(awk '$1 == "scan" { for (i = 2; i <= NF; i++) print $i }' "$layers")
	[ -n "$scan" ] || { echo "$PROG: $layers: no scan line" >&2; return 2; }
	files=$(cd "$root" && for d in $scan; do
		[ -d "$d" ] || { echo "$PROG: $root/$d: no such folder (scan line of $layers)" >&2; exit 2; }
		find "$d" -type f \( -name '*.c' -o -name '*.h' \)
	done | LC_ALL=C sort -u) || return 2
	[ -n "$files" ] || { echo "$PROG: no .c or .h file under: $scan" >&2; return 2; }
	{
		awk -v OFS='\t' '{ print "L", NR, $0 }' "$layers"
		awk -v OFS='\t' '{ print "G", NR, $0 }' "$long"
		(cd "$root" && wc -l $files) | awk -v OFS='\t' '$2 != "total" { print "F", $2, $1 }'
		(cd "$root" && grep -n -H -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"][^">]+[">]' $files) |
		    sed -E 's/^([^:]*):([0-9]+):[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^">]+)[">].*/I\t\1\t\2\t\3/'
	} | awk -F'\t' -v layers_name="$layers" -v long_name="$long" -f "$HERE/check-layers.awk" |
	    { LC_ALL=C sort -t: -k1,1 -k2,2n; }
	# The awk program's status, through the pipe.
	return "${PIPESTATUS[1]}"
}

# ---------------------------------------------------------------- self-test

ST_FAILS=0
ST_RUNS=0

# expect STATUS REGEX... -- ROOT LAYERS LONGFILES: the check exits STATUS
# and its output matches every REGEX (grep -E).
st_expect() {
	local want=$1 what=$2 out rc re
	shift 2
	local res=()
	while [ "$1" != -- ]; do res+=("$1"); shift; done
	shift
	out=$(check "$@" 2>&1)
	rc=$?
	ST_RUNS=$((ST_RUNS + 1))
	if [ "$rc" != "$want" ]; then
		echo "self-test FAIL: $what: exit $rc, expected $want; output:" >&2
		sed 's/^/    /' <<<"$out" >&2
		ST_FAILS=$((ST_FAILS + 1))
		return
	fi
	for re in "${res[@]}"; do
		if ! grep -Eq -- "$re" <<<"$out"; then
			echo "self-test FAIL: $what: no /$re/ in:" >&2
			sed 's/^/    /' <<<"$out" >&2
			ST_FAILS=$((ST_FAILS + 1))
			return
		fi
	done
	echo "self-test ok: $what"
}

# A small tree that keeps every rule of the real layers file.
st_good_tree() {
	local t=$1
	mkdir -p "$t"/{include,utils/proto,utils/lib,utils/tools,fs/transport,fs/cluster,fs/tree,node/vet,node/worker,node/vm,node/announce}
	echo '/* api */' >"$t/include/api.h"
	printf '#include <glib.h>\n' >"$t/utils/proto/p.h"
	printf '#include "p.h"\n' >"$t/utils/proto/p.c"
	printf '#include "p.h"\n' >"$t/utils/lib/l.h"
	printf '#include "l.h"\n#include <stdio.h>\n' >"$t/utils/lib/l.c"
	printf '#include "l.h"\n' >"$t/utils/tools/tool.c"
	printf '#include "l.h"\n' >"$t/fs/transport/t.h"
	printf '#include "t.h"\n' >"$t/fs/transport/t.c"
	printf '#include "t.h"\n#include "p.h"\n' >"$t/fs/cluster/c.h"
	printf '#include "c.h"\n' >"$t/fs/cluster/c.c"
	printf '#include <fuse_lowlevel.h>\n#include "c.h"\n' >"$t/fs/tree/tr.h"
	printf '#include "tr.h"\n' >"$t/fs/tree/tr.c"
	printf '#include "tr.h"\n#include "c.h"\n' >"$t/fs/main.c"
	printf '#include <glib.h>\n' >"$t/node/vet/v.h"
	printf '#include "api.h"\n#include "l.h"\n' >"$t/node/worker/w.h"
	printf '#include "v.h"\n#include "w.h"\n' >"$t/node/vm/vm.h"
	printf '#include "l.h"\n' >"$t/node/announce/a.h"
	printf '#include "vm.h"\n#include "a.h"\n' >"$t/node/main.c"
	cp "$HERE/layers" "$t/layers"
	printf '# none\n' >"$t/long-files"
}

# lines N: N lines of C.
st_lines() { seq "$1" | sed 's/.*/int x&;/'; }

self_test() {
	local t
	ST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/check-layers.XXXXXX") || exit 2
	trap 'rm -rf "$ST_TMP"' EXIT
	local tmp=$ST_TMP
	fresh() { t=$tmp/$1; st_good_tree "$t"; }

	fresh good
	st_expect 0 "a tree that keeps the layers" 'OK: 1[0-9] files' -- "$t" "$t/layers" "$t/long-files"

	fresh up
	printf '#include "c.h"\n' >>"$t/fs/transport/t.c"
	st_expect 1 "fs/transport includes from fs/cluster" \
	    '^fs/transport/t\.c:2: includes fs/cluster/c\.h: fs/cluster is above fs/transport' \
	    'cycle' -- "$t" "$t/layers" "$t/long-files"

	fresh up2
	printf '\n\n#include "tr.h"\n' >>"$t/utils/lib/l.c"
	st_expect 1 "utils/lib includes from fs/tree" \
	    '^utils/lib/l\.c:5: includes fs/tree/tr\.h: fs/tree is above utils/lib' \
	    -- "$t" "$t/layers" "$t/long-files"

	fresh sideways
	printf '#include "c.h"\n' >>"$t/node/main.c"
	st_expect 1 "node includes from fs/cluster (unordered)" \
	    '^node/main\.c:3: includes fs/cluster/c\.h: fs/cluster is not below node' \
	    -- "$t" "$t/layers" "$t/long-files"

	fresh vet
	printf '#include "p.h"\n' >>"$t/node/vet/v.h"
	st_expect 1 "node/vet includes from utils/proto (GLib only)" \
	    '^node/vet/v\.h:2: includes utils/proto/p\.h: utils/proto is not below node/vet' \
	    -- "$t" "$t/layers" "$t/long-files"

	fresh cycle
	printf '#include "w.h"\n' >>"$t/node/vet/v.h"
	printf '#include "v.h"\n' >>"$t/node/worker/w.h"
	st_expect 1 "a cycle between two unordered folders" \
	    'includes node/worker/w\.h: node/worker is not below node/vet' \
	    'include cycle between folders: node/(vet|worker) -> node/(worker|vet) -> node/(vet|worker)' \
	    -- "$t" "$t/layers" "$t/long-files"

	fresh fuse
	printf '#include <fuse.h>\n' >>"$t/fs/cluster/c.c"
	st_expect 1 "fs/cluster includes fuse.h" \
	    '^fs/cluster/c\.c:2: includes FUSE header fuse\.h .*fs/cluster is fuse-free' \
	    -- "$t" "$t/layers" "$t/long-files"

	fresh fuse2
	printf '#include <fuse3/fuse_lowlevel.h>\n' >"$t/utils/lib/shim.h"
	printf '#include "shim.h"\n' >>"$t/fs/transport/t.h"
	st_expect 1 "fs/cluster reaches a FUSE header through project headers" \
	    '^fs/cluster/c\.c:1: includes c\.h, which reaches FUSE header fuse3/fuse_lowlevel\.h \(c\.h -> t\.h -> shim\.h -> fuse3/fuse_lowlevel\.h;' \
	    '^fs/transport/t\.h:2: includes shim\.h, which reaches FUSE header' \
	    -- "$t" "$t/layers" "$t/long-files"

	fresh long
	st_lines 801 >"$t/utils/lib/big.c"
	st_lines 800 >"$t/node/ok.c"
	st_expect 1 "an 801-line file" \
	    '^utils/lib/big\.c:801: 801 lines, over 800' -- "$t" "$t/layers" "$t/long-files"
	printf 'utils/lib/big.c  generated tables\n' >"$t/long-files"
	st_expect 0 "an 801-line file listed with a reason" 'OK' -- "$t" "$t/layers" "$t/long-files"
	printf 'utils/lib/big.c\n' >"$t/long-files"
	st_expect 1 "a long-files entry without a reason" \
	    'long-files:1: utils/lib/big\.c: no reason given' -- "$t" "$t/layers" "$t/long-files"
	printf 'utils/lib/big.c  tables\nnode/ok.c  was long\nfs/gone.c  gone\n' >"$t/long-files"
	st_expect 1 "stale long-files entries" \
	    'long-files:2: node/ok\.c has 800 lines, not over 800' \
	    'long-files:3: fs/gone\.c: no such file' -- "$t" "$t/layers" "$t/long-files"

	fresh unknown
	mkdir -p "$t/fs/extra"
	printf '#include "c.h"\n' >"$t/fs/extra/x.c"
	st_expect 1 "a folder the layers file does not name" \
	    '^fs/extra/x\.c:1: folder fs/extra is not in .*layers' \
	    -- "$t" "$t/layers" "$t/long-files"

	fresh dup
	printf '/* another */\n' >"$t/fs/tree/p.h"
	printf '#include "p.h"\n' >>"$t/node/main.c"
	st_expect 1 "an ambiguous header name" \
	    '^node/main\.c:3: p\.h is ambiguous: fs/tree/p\.h utils/proto/p\.h' \
	    -- "$t" "$t/layers" "$t/long-files"

	fresh badorder
	printf 'order fs < fs/transport\n' >>"$t/layers"
	st_expect 2 "an order with a cycle" 'the order has a cycle' -- "$t" "$t/layers" "$t/long-files"

	fresh empty
	printf '#include "nothing.h"\n' >"$t/fs/main.c"
	find "$t/fs" "$t/node" "$t/utils/tools" -type f ! -path "$t/fs/main.c" -delete
	: >"$t/utils/lib/l.h"
	: >"$t/utils/lib/l.c"
	: >"$t/utils/proto/p.c"
	st_expect 2 "a tree with no project include" 'no project include' \
	    -- "$t" "$t/layers" "$t/long-files"

	# Copies of this tree with a violation added (each to a fresh copy).
	local root scan d f h
	root=$(cd "$HERE/../.." && pwd)
	scan=$(awk '$1 == "scan" { for (i = 2; i <= NF; i++) print $i }' "$HERE/layers")
	copy() {
		t=$tmp/$1
		mkdir -p "$t/tests/layering"
		for d in $scan; do cp -a "$root/$d" "$t/$d"; done
		cp "$HERE/layers" "$HERE/long-files" "$t/tests/layering/"
	}
	copy real
	if check "$t" "$t/tests/layering/layers" "$t/tests/layering/long-files" >/dev/null 2>&1; then
		echo "self-test ok: a copy of this tree passes"
	else
		echo "self-test note: this tree has violations (the check of the tree itself reports them)"
	fi
	f=$(cd "$root" && ls fs/transport/*.c 2>/dev/null | head -n 1)
	h=$(cd "$root" && ls fs/tree/*.h fs/cluster/*.h 2>/dev/null | head -n 1)
	if [ -z "$f" ] || [ -z "$h" ]; then
		echo "self-test FAIL: no fs/transport/*.c or fs/tree|cluster/*.h to break" >&2
		ST_FAILS=$((ST_FAILS + 1))
	else
		copy real-up
		printf '#include "%s"\n' "${h##*/}" >>"$t/$f"
		st_expect 1 "this tree with $f including ${h##*/}" \
		    "^$f:[0-9]+: includes $h: ${h%/*} is above fs/transport" \
		    -- "$t" "$t/tests/layering/layers" "$t/tests/layering/long-files"
	fi
	# An fs/transport header that some fs/cluster file includes.
	h= f=
	for d in $(cd "$root" && ls fs/transport/*.h 2>/dev/null); do
		f=$(cd "$root" && grep -l "#include \"${d##*/}\"" fs/cluster/*.[ch] 2>/dev/null | head -n 1)
		[ -n "$f" ] && { h=$d; break; }
	done
	if [ -z "$h" ] || [ -z "$f" ]; then
		echo "self-test FAIL: no fs/cluster file includes an fs/transport header" >&2
		ST_FAILS=$((ST_FAILS + 1))
	else
		copy real-fuse
		printf '#include <fuse_lowlevel.h>\n' >>"$t/$h"
		st_expect 1 "this tree with ${h##*/} including fuse_lowlevel.h" \
		    "^$h:[0-9]+: includes FUSE header fuse_lowlevel\.h" \
		    "^$f:[0-9]+: includes [^ ]+, which reaches FUSE header fuse_lowlevel\.h" \
		    -- "$t" "$t/tests/layering/layers" "$t/tests/layering/long-files"
	fi
	copy real-long
	st_lines 900 >"$t/node/huge.c"
	st_expect 1 "this tree with a 900-line node/huge.c" \
	    '^node/huge\.c:801: 900 lines, over 800' \
	    -- "$t" "$t/tests/layering/layers" "$t/tests/layering/long-files"

	echo "self-test: $ST_RUNS checks, $ST_FAILS failed"
	[ "$ST_FAILS" = 0 ]
}

# ---------------------------------------------------------------- main

LAYERS= LONG= ROOT=
while [ $# -gt 0 ]; do
	case $1 in
	--self-test) self_test; exit $? ;;
	--layers) LAYERS=$2; shift 2 ;;
	--long-files) LONG=$2; shift 2 ;;
	-h|--help) sed -n '2,25s/^# \{0,1\}//p' "$0"; exit 0 ;;
	-*) echo "$PROG: unknown option $1" >&2; exit 2 ;;
	*) ROOT=$1; shift ;;
	esac
done
ROOT=${ROOT:-$(cd "$HERE/../.." && pwd)}
check "$ROOT" "${LAYERS:-$ROOT/tests/layering/layers}" "${LONG:-$ROOT/tests/layering/long-files}"
