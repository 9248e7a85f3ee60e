#!/bin/bash
# MOUNT/.log: the mount's recent messages where the user looks.  It is
# listed, readable by the owner only (0400), has the reason after a
# refused inject and a failed call, `tail -f` sees a new line appear,
# its size only grows, and it keeps a bounded number of lines (the
# oldest go).
. "$(dirname "$0")/lib.sh"

mount_local 1
L=$M/.log
ls -A "$M" | grep -qx .log || fail ".log is not listed in $M"
expect_eq ".log mode" "-r--------" "$(stat -c %A "$L")"
cat "$L" >"$T/log0" || fail "cannot read .log"
grep -q "mounted 1 VMs on" "$T/log0" || fail ".log lacks the mount message: $(cat "$T/log0")"
# Every line: date, time with milliseconds, a level.
bad=$(grep -Evc '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}\.[0-9]{3} (info|warning|error|debug): ' "$T/log0")
expect_eq "lines not in the log's format" 0 "$bad"

# A refused inject and a failed call leave their reason.
echo "just text" >"$T/notes.txt"
expect_errno "cp notes.txt into inject/" ENOEXEC cp "$T/notes.txt" "$M/local0/inject/notes.txt"
grep -q "refusing inject/notes.txt: not an ELF" "$L" || fail "no reason for the refused inject in .log: $(tail -n 3 "$L")"
id=$(fork local0 "nosuch 1")
result_fails local0 "$id"
grep -Eq "local0: calls/[0-9]+ failed: .*nosuch" "$L" || fail "no reason for the failed call in .log: $(tail -n 3 "$L")"
# The VM's info has it as its last error.
expect_match "info's last error" "^last error: [0-9-]+ [0-9:]+ calls/[0-9]+ failed: .*nosuch" \
	"$(grep '^last error:' "$M/local0/info")"

# tail -f sees a line that comes after it started.
tail -n 0 -f "$L" >"$T/tail.out" 2>"$T/tail.err" &
TAIL=$!
BG_PIDS+=("$TAIL")
wait_for eval "ls -l /proc/$TAIL/fd 2>/dev/null | grep -q '$L'" || fail "tail -f did not open .log"
size0=$(stat -c %s "$L")
echo "bogus-for-tail" >"$M/.ctl" 2>/dev/null && fail "a bogus .ctl command was taken"
wait_for grep -q 'unknown command "bogus-for-tail"' "$T/tail.out" ||
	fail "tail -f did not see the new line: $(cat "$T/tail.out" "$T/tail.err")"
kill "$TAIL"; wait "$TAIL" 2>/dev/null
size1=$(stat -c %s "$L")
[ "$size1" -gt "$size0" ] || fail ".log did not grow: $size0 -> $size1"
echo "tail -f saw: $(cat "$T/tail.out")"

# The ring is bounded: 1200 messages later the oldest are gone, the
# newest kept, whole lines, and the size (an offset) still grew.
for i in $(seq 1 1200); do echo "bogus$i" >"$M/.ctl" 2>/dev/null; done
cat "$L" >"$T/log1"
n=$(wc -l <"$T/log1")
[ "$n" -le 1000 ] || fail ".log holds $n lines, more than 1000"
[ "$n" -ge 500 ] || fail ".log holds only $n lines"
grep -q 'mounted 1 VMs on' "$T/log1" && fail "the oldest line is still in .log after 1200 more"
tail -n 1 "$T/log1" | grep -q '"bogus1200"' || fail "the newest line is not last: $(tail -n 1 "$T/log1")"
head -n 1 "$T/log1" | grep -Eq '^[0-9]{4}-' || fail "the ring does not start with a whole line: $(head -c 80 "$T/log1")"
size2=$(stat -c %s "$L")
[ "$size2" -gt "$(stat -c %s "$T/log1")" ] || fail "the size is not the log's end offset: $size2"
[ "$size2" -gt "$size1" ] || fail ".log's size went back: $size1 -> $size2"
# tail (no -f) reads the end of it by offset.
tail -n 1 "$L" | grep -q '"bogus1200"' || fail "tail .log: $(tail -n 1 "$L")"
echo ".log: $n lines kept, size $size2"

unmount
expect_no_nodes
