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
#   - wc_dump_unsorted gives the same lines as wc_dump in some order, and
#     merged they equal the reference;
#   - wfreq-merge reads stdin, reads more inputs than it has threads, and
#     rejects a malformed line, a count too large and a missing file.
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

# wc_dump_unsorted: wc_dump's lines (sort orders "word count" lines by
# word, as a space sorts before a letter), merged equal to the reference.
# shellcheck disable=SC2046
"$DRIVER" "$SO" wc_add $(cat h1a) -- wc_add $(cat h1b) -- wc_dump_unsorted >u1
# shellcheck disable=SC2046
"$DRIVER" "$SO" wc_add $(cat h2) -- wc_dump_unsorted -- wc_reset -- \
	wc_dump_unsorted >u2
[ "$(wc -l <u1)" -eq "$(wc -l <d1)" ] || fail "wc_dump_unsorted has not wc_dump's lines"
sort u1 >u1s
same d1 u1s "wc_dump_unsorted, sorted, differs from wc_dump"
"$MERGE" u1 u2 >merged3
same ref merged3 "wc_dump_unsorted tables, merged, differ from the reference"

# More inputs than wfreq-merge has threads (16), "-" among them, and the
# same output.
split -n l/20 u1 piece.
# shellcheck disable=SC2046
"$MERGE" $(ls piece.*) - <u2 >merged4
same ref merged4 "wfreq-merge of 21 inputs differs from the reference"
"$MERGE" --times u1 u2 >merged5 2>times
same ref merged5 "wfreq-merge --times changed the table"
grep -q 'table(s) in after' times || fail "wfreq-merge --times said nothing"

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
# shellcheck disable=SC2046
if "$MERGE" $(ls piece.*) bad >out 2>err; then fail "wfreq-merge took a malformed line among 21 inputs"; fi
grep -q '^wfreq-merge: bad:2: ' err || fail "wfreq-merge did not name bad:2: $(cat err)"
[ ! -s out ] || fail "wfreq-merge printed a table despite a bad input"
printf 'foo 18446744073709551615\n' >max
printf 'foo 18446744073709551616\n' >over
"$MERGE" max >/dev/null || fail "wfreq-merge refused the largest count"
if "$MERGE" over >/dev/null 2>&1; then fail "wfreq-merge took a count too large"; fi
if "$MERGE" u1 missing-table >/dev/null 2>err; then fail "wfreq-merge took a missing file"; fi
grep -q 'missing-table' err || fail "wfreq-merge's error does not name the missing file"

echo "ok: $n files, $(wc -l <ref) distinct words, $(awk '{ s += $2 } END { print s }' ref) words"
