#!/bin/bash
# Read-ahead across a dropped link (issue 12): a reader stops half-way
# through a large ended call's stdout, with reads of the next MiBs asked
# of the node ahead of it, and the node's SSH connection is killed then.
# The node is stopped first (SIGSTOP), so that the reader, let go,
# uses up the pieces answered and waits on pieces asked but not answered
# when the link drops.  The reader goes on: it gets the exact bytes (pieces answered before the
# drop, the rest read again from the node back), or an error; never
# fewer bytes or other bytes.  After the node is back, a new read gets
# them all.
TEST_TIMEOUT=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault-lib.sh"
start_sshd

mount_ssh a=127.0.0.1:$SSHD_PORT -o ServerAliveInterval=1
MIB=32
id=$(fork a "exec sh -c 'head -c $((MIB * 1048576)) /dev/urandom | tee $T/want'") ||
	fail "fork"
timeout 60 cat "$M/a/calls/$id/result" >/dev/null || fail "the call failed"
expect_eq "status" done "$(cat "$M/a/calls/$id/status")"
want=$(sha256sum <"$T/want" | cut -d' ' -f1)

node=$(node_of_sshd "$SSHD_PID")
[ -n "$node" ] || fail "cannot tell a's node"
conn=$(ppid_of "$node")
[ "$conn" != "$SSHD_PID" ] && descends_from "$conn" "$SSHD_PID" ||
	fail "a's node $node is not below a connection of sshd $SSHD_PID"

# dd reads 1 MiB at a time; the consumer takes 8 MiB and stops until
# $T/go, so dd blocks on its pipe with the read-ahead out.
{
	dd if="$M/a/calls/$id/stdout" bs=1M status=none
	echo $? >"$T/dd.rc"
} | {
	head -c $((8 * 1048576)) >"$T/part1"
	touch "$T/paused"
	while [ ! -e "$T/go" ]; do sleep 0.1; done
	cat >"$T/part2"
} &
reader=$!
wait_for -t 30 [ -e "$T/paused" ] || fail "the reader did not get 8 MiB"
kill -STOP "$node"
touch "$T/go"
# The reader takes what was answered, then waits on the stopped node.
sleep 2
[ ! -e "$T/dd.rc" ] || { kill -CONT "$node"; fail "dd ended before the drop"; }
kill -KILL "$conn"
kill -CONT "$node"
echo "dropped a's connection (sshd $conn) with the reader waiting on its node"
wait "$reader"
wait_for -t 30 eval 'grep -q "trickle-node back" "$LOG"' ||
	fail "a did not come back: $(tail -5 "$LOG")"
rc=$(cat "$T/dd.rc")
got=$(cat "$T/part1" "$T/part2" | sha256sum | cut -d' ' -f1)
size=$(cat "$T/part1" "$T/part2" | wc -c)
echo "the reader: dd exit $rc, $size bytes"
if [ "$rc" = 0 ]; then
	expect_eq "bytes read across the drop" $((MIB * 1048576)) "$size"
	expect_eq "sha256 read across the drop" "$want" "$got"
else
	# An error, and what came before it is the stream's beginning.
	[ "$size" -lt $((MIB * 1048576)) ] || fail "dd failed after all bytes"
	expect_eq "the bytes before the error" \
		"$(head -c "$size" "$T/want" | sha256sum | cut -d' ' -f1)" "$got"
fi
expect_eq "sha256 read after the drop" "$want" \
	"$(timeout 60 cat "$M/a/calls/$id/stdout" | sha256sum | cut -d' ' -f1)"
unmount
