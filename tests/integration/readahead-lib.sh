# readahead-lib.sh - sourced by the read-ahead tests (ssh-readahead-drop,
# ssh-data-readahead), after lib.sh and fault-lib.sh, with one VM "a" on
# the test sshd mounted.
# shellcheck shell=bash

# read_across_drop FILE WANT: a reader of FILE (dd, 1 MiB reads) stops
# after 8 MiB, with the next MiBs asked of the node ahead of it; a's node
# is stopped (SIGSTOP), the reader let go (it uses up the pieces answered
# and waits on pieces asked), and a's SSH connection killed.  The reader
# must get WANT's exact bytes, or an error after an exact prefix of them,
# never other bytes; once a is back, a new read gets them all.
read_across_drop() {
	local file=$1 want=$2 bytes sum node conn reader rc size got
	bytes=$(stat -c %s "$want")
	sum=$(sha256sum <"$want" | cut -d' ' -f1)
	node=$(node_of_sshd "$SSHD_PID")
	[ -n "$node" ] || fail "cannot tell a's node"
	conn=$(ppid_of "$node")
	[ "$conn" != "$SSHD_PID" ] && descends_from "$conn" "$SSHD_PID" ||
		fail "a's node $node is not below a connection of sshd $SSHD_PID"
	rm -f "$T/dd.rc" "$T/paused" "$T/go"
	{
		dd if="$file" bs=1M status=none
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
		expect_eq "bytes read across the drop" "$bytes" "$size"
		expect_eq "sha256 read across the drop" "$sum" "$got"
	else
		# An error, and what came before it is the file's beginning.
		[ "$size" -lt "$bytes" ] || fail "dd failed after all bytes"
		expect_eq "the bytes before the error" \
			"$(head -c "$size" "$want" | sha256sum | cut -d' ' -f1)" "$got"
	fi
	expect_eq "sha256 read after the drop" "$sum" \
		"$(timeout 60 cat "$file" | sha256sum | cut -d' ' -f1)"
}
