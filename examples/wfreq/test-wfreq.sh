#!/bin/sh
# test-wfreq.sh GEN-CORPUS WFREQ-MERGE WFREQ-DRIVER WORDCOUNT.SO
#
# Generates a tiny corpus, counts it with a shell reference (tr, sort,
# uniq) and with wordcount.so's functions called through wfreq-driver (no
# mount), and checks, word for word, that
#   - the corpus is the same for the same seed and scale, and differs for
#     another seed;
#   - wordcount over all files equals the reference;
#   - wc_add over two halves on two "VMs" (processes), wc_dump on each,
#     merged by wfreq-merge, equals the reference (and wc_reset empties a
#     table, wc_add of a missing file fails and adds nothing);
#   - wfreq-merge reads stdin and rejects a malformed line.
set -eu
[ $# -eq 4 ] || { echo "usage: $0 GEN-CORPUS WFREQ-MERGE WFREQ-DRIVER WORDCOUNT.SO" >&2; exit 2; }
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
GEN=$(abs "$1") MERGE=$(abs "$2") DRIVER=$(abs "$3") SO=$(abs "$4")
export LC_ALL=C

T=$(mktemp -d "${TMPDIR:-/tmp}/test-wfreq.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"

fail() { echo "FAIL: $*" >&2; exit 1; }
same() {	# same A B WHAT: A and B byte-identical, else fail with a diff
	cmp -s "$1" "$2" || { diff "$1" "$2" | head -20 >&2; fail "$3"; }
}

"$GEN" --scale 0.0005 --seed 7 -o c >/dev/null
"$GEN" --scale 0.0005 --seed 7 -o c2 >/dev/null
"$GEN" --scale 0.0005 --seed 8 -o c3 >/dev/null
diff -r c c2 >/dev/null || fail "same seed and scale gave different corpora"
if diff -r c c3 >/dev/null; then fail "another seed gave the same corpus"; fi

find c -type f | sort >files
n=$(wc -l <files)
[ "$n" -eq 32 ] || fail "expected 32 files at scale 0.0005, got $n"
grep -q '[A-Z]' c/*/* || fail "corpus has no capitals: lowercasing untested"
grep -q '[^A-Za-z]' c/*/* || fail "corpus has no separators"

# The reference: maximal runs of ASCII letters, lowercased (ASCII on purpose).
# shellcheck disable=SC2018,SC2019
xargs cat <files | tr -cs 'A-Za-z' '\n' | tr 'A-Z' 'a-z' | sed '/^$/d' |
	sort | uniq -c | awk '{ print $2, $1 }' >ref
[ "$(wc -l <ref)" -ge 500 ] || fail "reference has too few words ($(wc -l <ref))"

# wordcount over all files, in one call.
# shellcheck disable=SC2046
"$DRIVER" "$SO" wordcount $(cat files) >wc.out
same ref wc.out "wordcount over all files differs from the reference"

# wc_add on two VMs: the first half in two calls on one (state persists),
# the second half on the other after a wc_reset of what it held.
half=$((n / 2))
head -n "$half" files >h1
tail -n +"$((half + 1))" files >h2
head -n 5 h1 >h1a
tail -n +6 h1 >h1b
# shellcheck disable=SC2046
"$DRIVER" "$SO" wc_add $(cat h1a) -- wc_add $(cat h1b) -- wc_dump >d1
# shellcheck disable=SC2046
"$DRIVER" "$SO" wc_add $(cat h1) -- wc_reset -- wc_dump >empty
[ ! -s empty ] || fail "wc_dump after wc_reset is not empty"
# shellcheck disable=SC2046
"$DRIVER" "$SO" wc_add $(cat h1) -- wc_reset -- \
	wc_add $(cat h2) -- wc_dump >d2
"$MERGE" d1 d2 >merged
same ref merged "wc_add in halves + wc_dump, merged, differs from the reference"
cat d1 d2 | "$MERGE" >merged2
same ref merged2 "wfreq-merge from stdin differs"

# A failing wc_add fails, names the file, and leaves the table as it was.
# shellcheck disable=SC2046
if "$DRIVER" "$SO" wc_add $(cat h1a) -- wc_add "$(head -n 1 h2)" missing-file -- \
	wc_add $(cat h1b) -- wc_dump >d1x 2>err; then
	fail "wc_add of a missing file succeeded"
fi
grep -q 'missing-file' err || fail "wc_add's error does not name the file"
same d1 d1x "a failed wc_add changed the table"

# The checks can fail: a table off by one is caught.
awk 'NR == 1 { $2 = $2 + 1 } { print }' d1 >d1bad
"$MERGE" d1bad d2 >mergedbad
if cmp -s ref mergedbad; then fail "an off-by-one table went unnoticed"; fi
printf 'foo 1\nBar 2\n' >bad
if "$MERGE" bad >/dev/null 2>&1; then fail "wfreq-merge took a malformed line"; fi

echo "ok: $n files, $(wc -l <ref) distinct words, $(awk '{ s += $2 } END { print s }' ref) words"
