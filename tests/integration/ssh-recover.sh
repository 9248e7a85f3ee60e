#!/bin/bash
# The initiator crashes: kill -9 of the daemon while 200 .any calls run on
# two SSH nodes (most of them still queued in the daemon), fusermount3
# -uz, and the same mount again on the same state.  Every id is back,
# every finished result reads as it did, nothing that had finished runs
# again, the running calls finish and are joined, the queued ones run:
# 200 results, each item run exactly once (counted by the injected code).
# Then: a state whose nodes are all gone says so and fails its calls with
# the reason; a session abandoned past its lease goes from its node.
TEST_TIMEOUT=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault-lib.sh"
start_sshd
start_sshd2

NODES=(a=127.0.0.1:$SSHD_PORT b=127.0.0.1:$SSHD2_PORT)
mount_ssh "${NODES[@]}" -o ServerAliveInterval=1
cp "$ATTEMPTS_SO" "$M/.all/inject/" || fail "cp attempts.so .all/inject/"
: >"$ATTEMPTS"
exec 3<>"$M/.any/calls/new" || fail "open .any/calls/new"
for i in $(seq 200); do
	printf 'work %s 50 %s\n' "$ATTEMPTS" "$i" >&3
	read -r id <&3 || fail "no id for item $i"
	[ "$id" = "$i" ] || fail "item $i got id $id"
done
exec 3>&-
wait_for -t 60 eval '[ "$(ended_items)" -ge 40 ]' || fail "the calls did not get going"
# A few finished results, as they read before the crash.
declare -A before
for id in 1 2 3 5 8 13; do
	before[$id]=$(result .any "$id") || fail "result of $id"
done
ended=$(ended_items)
kill -KILL "$FS_PID"
echo "killed the daemon after $ended of 200 items"
wait_for -t 5 eval "! alive $FS_PID:$(starttime_of "$FS_PID" 2>/dev/null || echo 0)"
fusermount3 -uz "$M" || fail "fusermount3 -uz"
sleep 0.5
mount_ssh "${NODES[@]}" -o ServerAliveInterval=1
grep -q "calls recovered" "$LOG" || fail "nothing recovered: $(tail -5 "$LOG")"
expect_eq "ids after the remount" "$(seq 200)" "$(ls "$M/.any/calls" | grep -v "^new$" | sort -n)"
for id in "${!before[@]}"; do
	expect_eq "result of $id after the remount" "${before[$id]}" "$(result .any "$id")"
done
for id in $(seq 200); do
	expect_eq "result of $id" "$id ok" "$(timeout 60 cat "$M/.any/calls/$id/result")"
done
expect_eq "items ended on the nodes" 200 \
	"$(awk '$1 == "end" { print $2 }' "$ATTEMPTS" | sort -u | wc -l)"
expect_eq "items run more than once" "" \
	"$(awk '$1 == "start" { print $2 }' "$ATTEMPTS" | sort | uniq -d | head -5)"
# A new call gets a new id, never an old one.
id=$(fork .any "work $ATTEMPTS 0 201") || fail "fork after the remount"
[ "$id" -gt 200 ] || fail "a new call got id $id, not a new one"
expect_eq "the new call" "201 ok" "$(result .any "$id")"
unmount
expect_no_nodes

# The nodes all gone while the mount was dead: the calls fail, named,
# once the lease (5 s here) is out: until then the node might still be
# running them.
mount_ssh a=127.0.0.1:$SSHD_PORT -o ServerAliveInterval=1,lease=5,state=$T/lonely
cp "$ATTEMPTS_SO" "$M/a/inject/" || fail "cp attempts.so a/inject/"
id=$(fork a "work $ATTEMPTS 30000 lonely") || fail "fork on a"
wait_for eval '[ "$(status a "$id")" = running ]' || fail "not running: $(status a "$id")"
note_nodes
node=$(our_nodes | while read -r e; do
	p=${e%%:*}
	tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- --worker || echo "$p"
done)
kill -KILL "$FS_PID"
fusermount3 -uz "$M"
for p in $node; do kill -KILL "$p" 2>/dev/null; done
rm -rf "$NODE_DIR"
sshd_stop	# b's; a's too:
_stop_sshd1
mount_ssh a=127.0.0.1:$SSHD_PORT -o ServerAliveInterval=1,lease=5,state=$T/lonely,min=0,connect_timeout=2
wait_for -t 30 eval 'status a "$id" | grep -q "^failed lost: node unreachable for 5 s"' ||
	fail "a call whose node is gone: $(status a "$id")"
result_fails a "$id"
unmount
