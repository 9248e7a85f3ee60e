#!/bin/bash
# A done call's small result (and stdout) is final once it has ended: the
# kernel may keep its size and bytes and answer the reader's last read
# itself.  What that must never cost: a reader whose kernel saw the file
# while the call ran (size 0) gets the whole result, through .any too;
# a failed call's result is still an error, not an empty file; the
# result read twice, by cat and by mmap, reads the same bytes; and
# -o keep_calls still reaps a call once its result has been read, and
# the result is not stat'ed from the kernel's cache for long after.
. "$(dirname "$0")/lib.sh"

mount_local 2 -o keep_calls=1

# wait_ended VM ID: until the call's status is no longer queued/running.
wait_ended() {
	WE_VM=$1 WE_ID=$2
	wait_for eval '! status "$WE_VM" "$WE_ID" | grep -Eq "^(queued|running)"' ||
		fail "$1/calls/$2 did not end: $(status "$1" "$2")"
}

# Seen while running: the kernel's size is 0, its attributes short-lived.
id=$(fork local0 "exec sh -c 'sleep 0.5; echo hello there'") || fail "fork"
D=$M/local0/calls/$id
expect_eq "result's size while running" 0 "$(stat -c %s "$D/result")"
expect_eq "stdout's size while running" 0 "$(stat -c %s "$D/stdout")"
wait_ended local0 "$id"
expect_eq "result after the end" "hello there" "$(cat "$D/result")"
expect_eq "stdout after the end" "hello there" "$(cat "$D/stdout")"
expect_eq "result's size after the end" 12 "$(stat -c %s "$D/result")"
# Twice, and through mmap (the page cache's own path).
expect_eq "result read again" "hello there" "$(cat "$D/result")"
expect_eq "result through mmap" "hello there" \
	"$(python3 -c 'import mmap, sys
f = open(sys.argv[1], "rb")
sys.stdout.write(mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)[:].decode())' "$D/result")"

# The same through .any, opened before its end (a join in progress).
id=$(fork .any "exec sh -c 'sleep 0.5; printf abc'") || fail "fork .any"
A=$M/.any/calls/$id
expect_eq ".any result's size while running" 0 "$(stat -c %s "$A/result")"
expect_eq ".any join" abc "$(result .any "$id")"
expect_eq ".any result again" abc "$(cat "$A/result")"
expect_eq ".any result's size" 3 "$(stat -c %s "$A/result")"

# A failed call printed something: its result is an error, its stdout
# the bytes.
id=$(fork local1 "exec sh -c 'echo partial; exit 3'") || fail "fork exit 3"
wait_ended local1 "$id"
result_fails local1 "$id"
result_fails local1 "$id"
expect_eq "failed call's stdout" partial "$(cat "$M/local1/calls/$id/stdout")"

# keep_calls=1: a call whose result was read goes once a newer one ended.
# (Each result is looked up after its call ended, so while final.)
old=$(fork local1 "echo first") || fail "fork first"
wait_ended local1 "$old"
expect_eq "first" first "$(result local1 "$old")"
new=$(fork local1 "echo second") || fail "fork second"
wait_ended local1 "$new"
expect_eq "second" second "$(result local1 "$new")"
wait_for eval '! ls "$M/local1/calls" | grep -qx "$old"' ||
	fail "keep_calls=1 kept calls/$old after its result was read: $(ls "$M/local1/calls")"
# Its result, looked up while final, stats no more once its call is
# gone: the kernel keeps a final result's attributes for a second only.
wait_for -t 5 eval '! stat "$M/local1/calls/$old/result" >/dev/null 2>&1' ||
	fail "calls/$old/result still stats after its call was reaped"
echo "PASS: $TEST_NAME"
