#!/bin/bash
# A node's SSH connection dropped mid-run (its sshd session process killed,
# as when sshd is restarted with its sessions, or a NAT forgets the
# connection): the trickle-node lives on without its client, the mount
# reconnects through a new SSH connection, and the new trickle-node hands
# the connection to the live one.  Nothing is lost and nothing runs
# twice: the calls running there went on and their results are read.
TEST_TIMEOUT=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault-lib.sh"
start_sshd
start_sshd2

mount_ssh a=127.0.0.1:$SSHD_PORT b=127.0.0.1:$SSHD2_PORT -o ServerAliveInterval=1
cp "$ATTEMPTS_SO" "$M/.all/inject/" || fail "cp attempts.so .all/inject/"

node=$(node_of_sshd "$SSHD_PID")
[ -n "$node" ] || fail "cannot tell b's node"
# The sshd process of b's connection: the node's parent.
conn=$(ppid_of "$node")
[ "$conn" != "$SSHD_PID" ] && descends_from "$conn" "$SSHD_PID" ||
	fail "b's node $node is not below a connection of sshd $SSHD_PID"
start_pile 100 100
wait_for -t 60 eval '[ "$(ended_items)" -ge 30 ]' || fail "the pile did not get going"
kill -KILL "$conn"
fault_in_time 100
echo "dropped b's connection (sshd $conn) after $(ended_items) items"
wait_for -t 20 eval 'grep -q "127.0.0.1:$SSHD2_PORT: trickle-node back" "$LOG"' ||
	fail "b did not come back: $(tail -5 "$LOG")"
alive "$node:$(starttime_of "$node")" || fail "b's trickle-node $node died with its connection"

wait_pile
check_pile 100 0
check_attempts
grep -q "session resumed" "$LOG" || fail "the session was not resumed: $(tail -5 "$LOG")"
unmount
expect_no_nodes
