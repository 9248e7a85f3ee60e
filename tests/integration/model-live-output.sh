#!/bin/bash
# A running call's stdout and stderr grow as it writes: stat (ls -l) sizes
# go up while it runs and never down, cat gives what is there so far, and
# tail -f follows the lines as they come (each once, in order).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"

mount_local 1
V=local0
id=$(fork $V "exec sh -c 'for i in 1 2 3 4 5 6; do echo line \$i; echo err \$i >&2; sleep 0.7; done'") ||
	fail "fork"
D=$M/$V/calls/$id
tail -s 0.2 -f "$D/stdout" >"$T/tail.out" 2>"$T/tail.err" &
tailpid=$!
BG_PIDS+=("$tailpid")

# Sample sizes and contents while it runs.
sizes=()
while state_is $V "$id" running || state_is $V "$id" queued; do
	s=$(stat -c %s "$D/stdout") || fail "stat stdout"
	e=$(stat -c %s "$D/stderr") || fail "stat stderr"
	if state_is $V "$id" running; then
		sizes+=("$s/$e")
		# What cat gives is what the size says, and a prefix of the end.
		out=$(cat "$D/stdout")
		n=$(grep -c . <<<"$out")
		[ -z "$out" ] && n=0
		[ "$out" = "$(seq 1 $n | sed 's/^/line /')" ] || fail "stdout while running: '$out'"
	fi
	# tail -f sees a line before the call ends.
	if [ -z "${early:-}" ] && grep -q 'line 1' "$T/tail.out" && state_is $V "$id" running; then
		early=$(wc -l <"$T/tail.out")
	fi
	sleep 0.15
done
expect_eq "status" "done" "$(status $V "$id")"
echo "sizes while running: ${sizes[*]}"
prev_s=0 prev_e=0 distinct=0
for x in "${sizes[@]}"; do
	s=${x%/*} e=${x#*/}
	[ "$s" -ge "$prev_s" ] && [ "$e" -ge "$prev_e" ] || fail "a size went down: ${sizes[*]}"
	[ "$s" != "$prev_s" ] && distinct=$((distinct + 1))
	prev_s=$s prev_e=$e
done
[ $distinct -ge 3 ] || fail "stdout's size took only $distinct values while running: ${sizes[*]}"
[ -n "${early:-}" ] || fail "tail -f showed nothing while the call ran"
[ "$early" -lt 6 ] || fail "tail -f had all 6 lines before the call ended"
expect_eq "final stdout size" 42 "$(stat -c %s "$D/stdout")"
expect_eq "final stderr size" 36 "$(stat -c %s "$D/stderr")"
expect_eq "ls -l stdout size" 42 "$(ls -l "$D/stdout" | awk '{print $5}')"

wait_for grep -q 'line 6' "$T/tail.out" || fail "tail -f never got line 6: $(cat "$T/tail.out")"
sleep 0.5
kill $tailpid
wait $tailpid 2>/dev/null
BG_PIDS=()
expect_eq "tail -f output" "$(seq 1 6 | sed 's/^/line /')" "$(cat "$T/tail.out")"
expect_eq "tail -f stderr" "" "$(cat "$T/tail.err")"
expect_eq "stderr" "$(seq 1 6 | sed 's/^/err /')" "$(cat "$D/stderr")"
expect_eq "result" "$(seq 1 6 | sed 's/^/line /')" "$(result $V "$id")"

# tail -f of stderr, started mid-call, from the start of the file.
id=$(fork $V "exec sh -c 'for i in 1 2 3; do echo e\$i >&2; sleep 0.7; done'") || fail "fork"
wait_for grep -q e1 "$M/$V/calls/$id/stderr" || fail "no e1 in stderr"
tail -s 0.2 -n +1 -f "$M/$V/calls/$id/stderr" >"$T/tail2.out" 2>&1 &
tailpid=$!
BG_PIDS+=("$tailpid")
expect_eq "result (empty)" "" "$(result $V "$id")"
wait_for grep -q e3 "$T/tail2.out" || fail "tail -f of stderr never got e3: $(cat "$T/tail2.out")"
sleep 0.5
kill $tailpid
wait $tailpid 2>/dev/null
BG_PIDS=()
expect_eq "tail -f of stderr" "e1
e2
e3" "$(cat "$T/tail2.out")"
