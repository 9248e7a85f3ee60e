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
. "$(dirname "$0")/readahead-lib.sh"
start_sshd

mount_ssh a=127.0.0.1:$SSHD_PORT -o ServerAliveInterval=1
MIB=32
id=$(fork a "exec sh -c 'head -c $((MIB * 1048576)) /dev/urandom | tee $T/want'") ||
	fail "fork"
timeout 60 cat "$M/a/calls/$id/result" >/dev/null || fail "the call failed"
expect_eq "status" done "$(cat "$M/a/calls/$id/status")"

read_across_drop "$M/a/calls/$id/stdout" "$T/want"
unmount
