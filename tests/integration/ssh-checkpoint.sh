#!/bin/bash
# Checkpoints over SSH between two nodes (two private sshd): a VM's
# state moved by hand.  Node a ticks counter.so to 5 and keeps a Tally,
# is checkpointed; the checkpoint is copied out through the mount
# (fetched from a's node in chunks) and into b's checkpoints/ (sent to
# b's node, checked there); "restore 1" on b gives b a's counter, Tally
# and data/; a goes on from its own state.  A copy that lost its end is
# refused by the mount before it is sent.
TEST_TIMEOUT=150
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"
need_var COUNTER_SO counter.so
start_sshd
start_sshd2

mount_ssh a=127.0.0.1:$SSHD_PORT b=127.0.0.1:$SSHD2_PORT
inject a "$COUNTER_SO"
for i in 1 2 3 4 5; do
	expect_eq "tick $i on a" "$i" "$(call a tick)"
done
expect_eq "tally_new on a" @1 "$(call a tally_new)"
expect_eq "tally_add on a" 7 "$(call a "tally_add @1 7")"
# A data file larger than one chunk of the wire (256 KiB).
head -c 700000 /dev/urandom >"$T/big"
cp "$T/big" "$M/a/data/big" || fail "cp big to a/data"
write_to "$M/a/ctl" checkpoint >/dev/null || fail "checkpoint a"
expect_ls "$M/a/checkpoints" 1
cp "$M/a/checkpoints/1" "$T/a1" || fail "cp a/checkpoints/1 out"
expect_eq "size of the copy" "$(stat -c %s "$M/a/checkpoints/1")" "$(stat -c %s "$T/a1")"
[ "$(stat -c %s "$T/a1")" -gt 700000 ] || fail "the checkpoint lacks data/big"

head -c 5000 "$T/a1" >"$T/torn"
cp "$T/torn" "$M/b/checkpoints/" 2>/dev/null && fail "a torn copy was imported"
expect_ls "$M/b/checkpoints"
cp "$T/a1" "$M/b/checkpoints/" || fail "import into b"
expect_ls "$M/b/checkpoints" 1
write_to "$M/b/ctl" "restore 1" >/dev/null || fail "restore 1 on b"
expect_eq "tick on b goes on from a's" 6 "$(call b tick)"
expect_eq "a's Tally on b" 8 "$(call b "tally_add @1 1")"
cmp -s "$T/big" "$M/b/data/big" || fail "b/data/big differs from a's"
expect_ls "$M/b/inject" counter.so
expect_eq "a keeps its own" 6 "$(call a tick)"
expect_eq "a's Tally unchanged" 8 "$(call a "tally_add @1 1")"
echo ok
