#!/bin/bash
# Pipelined writes into VM/data/ over SSH (issue 12): a FUSE write is
# answered when it is sent, the node's answer comes later, so a write the
# node fails must still reach the writer: at its next write, at close
# (flush) or at fsync.  Injected failures:
#   1. the VM's data directory is a 2 MiB tmpfs and cp puts 3 MiB there:
#      every write fits in the link's queue and is answered at once, so
#      the node's ENOSPC comes after cp's last write; cp must fail (its
#      close reports it), and so must dd conv=fsync;
#   2. the node is stopped (SIGSTOP) in the middle of a 64 MiB cp, so that
#      cp waits on the link's flow control, then killed (kill -9): cp must
#      fail, not end with a short file and exit 0.
# And what succeeds is whole: a cp that fits reads back the same bytes.
TEST_TIMEOUT=180
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault-lib.sh"
need_cmd mount mount
start_sshd

SMALL=
# The small data/ by its path, and at the end whatever is still mounted
# under the node's directory (a session removed while the test failed
# moves it to session-ID.trash, where the path no longer finds it).
umount_small() {
	[ -n "$SMALL" ] && mountpoint -q "$SMALL" && umount "$SMALL"
	SMALL=
}
umount_left() {
	local mp
	umount_small
	awk -v d="$NODE_DIR/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts |
	while read -r mp; do umount -l "$mp"; done
}
CLEANUP_HOOKS+=(umount_left)

mount_ssh a=127.0.0.1:$SSHD_PORT -o ServerAliveInterval=1
D=$M/a/data
echo x >"$D/probe" || fail "write data/probe"
dir=$(find "$NODE_DIR" -name probe -path '*/data/probe' -printf '%h\n')
[ -n "$dir" ] && [ -d "$dir" ] || fail "cannot find a's data directory under $NODE_DIR"
rm "$D/probe" || fail "rm data/probe"

# 1. ENOSPC on the node, after cp's last write.
mount -t tmpfs -o size=2m tmpfs "$dir" || skip "cannot mount a tmpfs here"
SMALL=$dir
head -c 3M /dev/urandom >"$T/three"
if cp "$T/three" "$D/three" 2>"$T/cp.err"; then
	fail "cp of 3 MiB into a 2 MiB data/ succeeded ($(stat -c %s "$dir/three") bytes there)"
fi
echo "cp: $(cat "$T/cp.err")"
expect_match "cp's error" 'No space left on device' "$(cat "$T/cp.err")"
grep -q "data/three: write failed" "$LOG" || fail "no 'write failed' in the log"
rm -f "$D/three"

if dd if="$T/three" of="$D/dd" bs=1M conv=fsync status=none 2>"$T/dd.err"; then
	fail "dd conv=fsync of 3 MiB into a 2 MiB data/ succeeded"
fi
echo "dd: $(cat "$T/dd.err")"
rm -f "$D/dd"

# What fits is written whole.
head -c 1M /dev/urandom >"$T/one"
cp "$T/one" "$D/one" || fail "cp of 1 MiB into the 2 MiB data/"
cmp "$T/one" "$dir/one" || fail "data/one on the node differs"
cmp "$T/one" "$D/one" || fail "data/one read back differs"
rm "$D/one" || fail "rm data/one"
umount_small

# 2. The node killed in the middle of a cp.
node=$(node_of_sshd "$SSHD_PID")
[ -n "$node" ] || fail "cannot tell a's node"
head -c 64M /dev/urandom >"$T/big"
{
	cp "$T/big" "$D/big" 2>"$T/cp2.err"
	echo $? >"$T/cp2.rc"
} &
BG_PIDS+=($!)
wait_for -t 60 eval '[ "$(stat -c %s "$dir/big" 2>/dev/null || echo 0)" -ge 1048576 ]' ||
	fail "cp did not start writing"
kill -STOP "$node"
# cp goes on until the link's queue is full, then waits on it.
sleep 1
[ ! -e "$T/cp2.rc" ] || { kill -CONT "$node"; fail "cp ended before the kill ($(cat "$T/cp2.rc"))"; }
kill -KILL "$node"
kill -CONT "$node" 2>/dev/null
echo "killed a's node $node in the middle of cp"
wait_for -t 60 [ -e "$T/cp2.rc" ] || fail "cp did not end after its node was killed"
echo "cp: exit $(cat "$T/cp2.rc"): $(cat "$T/cp2.err")"
[ "$(cat "$T/cp2.rc")" != 0 ] || fail "cp succeeded though its node was killed"
wait_for -t 30 eval 'grep -q "trickle-node \(back\|up\)" "$LOG"' || true
unmount
