#!/bin/bash
# A refused line forks nothing, not even its tail: a line longer than
# calls/new takes, written in 64 KiB pieces by a writer that carries on
# after E2BIG (as a program ignoring errors does), is skipped up to its
# newline, and the line after it is forked.  So for a long line refused
# at its newline, a bad quote and a NUL byte; and through .all/calls/new
# and .any/calls/new.  The injected work function appends to a log on the
# node: the ground truth of what ran.
. "$(dirname "$0")/lib.sh"
need_var ATTEMPTS_SO attempts.so
need_cmd python3 python3

mount_local 2
cp "$ATTEMPTS_SO" "$M/.all/inject/" || fail "cp attempts.so .all/inject/"
RAN=$T/ran.log

# The writer: each argument a write (python escapes: \n, \0, and
# "<LETTER*N>" for N bytes of LETTER); prints how each ended (ok or the
# errno's name), then the ids read back.
cat >"$T/writer.py" <<'PY'
import errno, os, re, sys

fd = os.open(sys.argv[1], os.O_RDWR)
for arg in sys.argv[2:]:
    data = re.sub(r"<(.)\*(\d+)>", lambda m: m.group(1) * int(m.group(2)),
                  arg).encode().decode("unicode_escape").encode("latin-1")
    try:
        n = os.write(fd, data)
        print("ok" if n == len(data) else "short %d" % n)
    except OSError as e:
        print(errno.errorcode[e.errno])
ids = b""
while True:
    chunk = os.read(fd, 4096)
    if not chunk:
        break
    ids += chunk
os.close(fd)
print("ids", " ".join(ids.decode().split()))
PY

# writes DIR EXPECTED ARG...: the writes' outcomes, space-separated, are
# EXPECTED; prints the ids.
writes() {
	local dir=$1 want=$2 out
	shift 2
	out=$(timeout 20 python3 "$T/writer.py" "$M/$dir/calls/new" "$@") ||
		fail "writer on $dir/calls/new: status $?: $out"
	expect_eq "$dir: the writes" "$want" "$(grep -v '^ids' <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
	sed -n 's/^ids //p' <<<"$out"
}

# 64 KiB pieces: the first two fit (128 KiB), the third makes the line too
# long; the rest of the line, up to its newline, must not be forked.
P1="echo <x*65531>"
P="<x*65536>"
ids=$(writes local0 "ok ok E2BIG E2BIG ok ok ok E2BIG E2BIG ok ok E2BIG ok ok EINVAL ok ok EINVAL EINVAL ok" \
	"$P1" "$P" "$P" "work $RAN 0 stray1\n" "work $RAN 0 good1\n" \
	"$P1" "$P" "$P" "$P" "tail\nwork $RAN 0 good2\n" \
	"echo <y*100000>" "<y*40000>\n" "work $RAN 0 good3\n" \
	"work $RAN 0 'a" "b\n" "work $RAN 0 good4\n" \
	"work $RAN 0 nul" "x\0y" " stray5\n" "work $RAN 0 good5\n") || exit 1
set -- $ids
expect_eq "ids read back" 5 $#
for id in "$@"; do
	expect_match "result of $id" '^good[1-5] ok$' "$(result local0 "$id")"
done
expect_ls "$M/local0/calls" new "$@"

# .all and .any share calls/new's code.
ids=$(writes .all "ok ok E2BIG E2BIG ok" \
	"$P1" "$P" "$P" "work $RAN 0 stray-all\n" "work $RAN 0 good-all\n") || exit 1
expect_eq ".all: ids read back" "local0/calls/6 local1/calls/1" "$ids"
expect_eq ".all: result on local1" "good-all ok" "$(result local1 1)"
expect_eq ".all: result on local0" "good-all ok" "$(result local0 6)"
ids=$(writes .any "ok ok E2BIG E2BIG ok" \
	"$P1" "$P" "$P" "work $RAN 0 stray-any\n" "work $RAN 0 good-any\n") || exit 1
expect_eq ".any: ids read back" 1 "$ids"
expect_eq ".any: result" "good-any ok" "$(timeout 30 cat "$M/.any/calls/1/result")"
expect_ls "$M/.any/calls" new 1

# The ground truth: what ran, each once.
expect_eq "what ran" "good-all good-all good-any good1 good2 good3 good4 good5" \
	"$(awk '$1 == "start" { print $2 }' "$RAN" | sort | tr '\n' ' ' | sed 's/ $//')"
# local1 has the .all call, and the .any call's half if .any chose it.
any_vm=$(cat "$M/.any/calls/1/vm")
want=1
[ "$any_vm" = local1 ] && want=2
expect_eq "the calls of local1 (.any ran on $any_vm)" "$want" \
	"$(ls "$M/local1/calls" | grep -c '^[0-9]')"
grep -q "calls/new: a line of more than" "$LOG" || fail "no log of the refused line"
