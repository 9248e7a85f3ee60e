#!/bin/sh
# Build the libFuzzer target for utils/proto/wire.c, and a standalone replayer
# that also writes the seed corpus.
#
#   tests/fuzz/build.sh OUTDIR
#   G_SLICE=always-malloc OUTDIR/fuzz-wire -max_total_time=240 \
#       OUTDIR/corpus tests/fuzz/corpus
#
# OUTDIR/corpus starts out with the generated seeds; libFuzzer adds the
# inputs it finds there.  Replay a crash with OUTDIR/fuzz-wire CRASHFILE
# (or OUTDIR/fuzz-wire-standalone CRASHFILE, under gdb).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${1:?usage: $0 OUTDIR}
CC=${CC:-clang-14}

mkdir -p "$out"
glib_cflags=$(pkg-config --cflags glib-2.0)
glib_libs=$(pkg-config --libs glib-2.0)
common="-std=gnu11 -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -I$top/utils/proto -I$top/utils/lib"
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"

# shellcheck disable=SC2086
$CC $common $san -fsanitize=fuzzer $glib_cflags \
	"$top/utils/proto/wire.c" "$here/fuzz-wire.c" $glib_libs \
	-o "$out/fuzz-wire"
# shellcheck disable=SC2086
$CC $common $san -DSTANDALONE $glib_cflags \
	"$top/utils/proto/wire.c" "$here/fuzz-wire.c" $glib_libs \
	-o "$out/fuzz-wire-standalone"

"$out/fuzz-wire-standalone" --make-corpus "$out/corpus"
"$out/fuzz-wire-standalone" "$out/corpus" "$here/corpus"
echo "built $out/fuzz-wire; seeds in $out/corpus"

# The discovery datagrams and the client's table: OUT/fuzz-beacon
# OUT/corpus-beacon (seeds are generated, none are kept in the tree).
beacon_src="$top/utils/proto/beacon.c $top/utils/lib/discover.c $here/fuzz-beacon.c"
# shellcheck disable=SC2086
$CC $common $san -fsanitize=fuzzer $glib_cflags $beacon_src $glib_libs \
	-o "$out/fuzz-beacon"
# shellcheck disable=SC2086
$CC $common $san -DSTANDALONE $glib_cflags $beacon_src $glib_libs \
	-o "$out/fuzz-beacon-standalone"
"$out/fuzz-beacon-standalone" --make-corpus "$out/corpus-beacon"
"$out/fuzz-beacon-standalone" "$out/corpus-beacon"
echo "built $out/fuzz-beacon; seeds in $out/corpus-beacon"
