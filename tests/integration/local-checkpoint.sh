#!/bin/bash
# Checkpoints (issue 16) on a local mount, with examples/ckpt/counter.so
# (a global counter and remote Tally objects, with trickle_save and
# trickle_restore).  A checkpoint after 5 ticks, 3 more, a restore: the
# next tick says 6, the Tally has its value of then under its old id, a
# file made in data/ after the checkpoint is gone and one from before is
# back as it was, the environment too.  checkpoints/N lists, copies out
# (mode 0600 at the mount and on the node), imports (cp into
# checkpoints/) and removes (rm).  A library without hooks (basic.so)
# fails checkpoint with EOPNOTSUPP, named in info's last error and the
# log; a running call makes it EBUSY past the bound.  With
# -o restore_on_crash, kill -9 of the worker brings it back with its
# checkpointed state (the library's log counts its restores);
# -o checkpoint_every=N takes them on a schedule.
TEST_TIMEOUT=180
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"
need_var COUNTER_SO counter.so

CLOG=$T/counter.log
: >"$CLOG"
mount_local 2 reply_timeout=4,restore_on_crash
V=local0
inject $V "$COUNTER_SO"
expect_eq "setenv" "" "$(call $V "setenv CKPT_LOG $CLOG")"
expect_eq "setenv GREETING" "" "$(call $V "setenv GREETING before")"
[ -d "$M/$V/checkpoints" ] || fail "no checkpoints/ directory"
expect_ls "$M/$V/checkpoints"
for i in 1 2 3 4 5; do
	expect_eq "tick $i" "$i" "$(call $V tick)"
done
expect_eq "tally_new" @1 "$(call $V tally_new)"
expect_eq "tally_add" 42 "$(call $V "tally_add @1 42")"
echo before >"$M/$V/data/old.txt" || fail "write data/old.txt"
mkdir "$M/$V/data/sub" && echo deep >"$M/$V/data/sub/f" || fail "data/sub/f"

write_to "$M/$V/ctl" checkpoint >/dev/null || fail "checkpoint"
expect_ls "$M/$V/checkpoints" 1
grep -qx 'checkpoints: 1 (last 1)' "$M/$V/info" || fail "info: $(cat "$M/$V/info")"
size=$(stat -c %s "$M/$V/checkpoints/1")
[ "$size" -gt 0 ] || fail "checkpoints/1 has size $size"
expect_eq "mode of checkpoints/1" 600 "$(stat -c %a "$M/$V/checkpoints/1")"
node_file=$(find "$XDG_RUNTIME_DIR" "$HOME/.cache/trickle-node" -path "*/vm0/checkpoints/1" 2>/dev/null | head -n 1)
[ -n "$node_file" ] || fail "no checkpoint file on the node"
expect_eq "mode on the node" 600 "$(stat -c %a "$node_file")"
cp "$M/$V/checkpoints/1" "$T/ck1" || fail "cp checkpoints/1 out"
expect_eq "copied size" "$size" "$(stat -c %s "$T/ck1")"
cmp -s "$T/ck1" "$node_file" || fail "the copy differs from the node's file"

# Three more calls and changes after it.
for i in 6 7 8; do
	expect_eq "tick $i" "$i" "$(call $V tick)"
done
expect_eq "tally_add after" 50 "$(call $V "tally_add @1 8")"
expect_eq "tally_new after" @2 "$(call $V tally_new)"
echo after >"$M/$V/data/old.txt"
echo new >"$M/$V/data/new.txt"
expect_eq "setenv GREETING after" "" "$(call $V "setenv GREETING after")"
cp "$BASIC_SO" "$M/$V/inject/" || fail "inject basic.so"
old=$(result $V "$(fork $V "sleep 0")") || fail "a call before the restore"

# The restore waits for the running call; a call queued behind it runs
# after the restore, on the restored state.
slow=$(fork $V "sleep 1") || fail "fork sleep"
queued=$(fork $V tick) || fail "fork a tick to queue"
write_to "$M/$V/ctl" "restore 1" >/dev/null || fail "restore 1"
expect_eq "the call running during the restore" done "$(status $V "$slow")"
expect_eq "the tick queued behind the restore" 6 "$(result $V "$queued")"
expect_eq "tick after restore" 7 "$(call $V tick)"
expect_eq "Tally @1 as it was" 43 "$(call $V "tally_add @1 1")"
expect_ls "$M/$V/objects" 1
id=$(fork $V "tally_add @2 1") || fail "fork"
result_fails $V "$id"
expect_eq "data/old.txt back" before "$(cat "$M/$V/data/old.txt")"
expect_eq "data/sub/f back" deep "$(cat "$M/$V/data/sub/f")"
[ -e "$M/$V/data/new.txt" ] && fail "data/new.txt outlived the restore"
expect_eq "the environment" before "$(call $V "exec printenv GREETING")"
expect_ls "$M/$V/inject" counter.so
[ -e "$M/$V/functions/crash" ] && fail "basic.so's functions outlived the restore"
# Calls from before stay readable.
expect_eq "old call's status" done "$(status $V 1)"
expect_eq "restores logged" 1 "$(grep -c '^restore 5 ' "$CLOG")"
tick_next=$(call $V tick)
expect_eq "a new object gets a fresh id" @3 "$(call $V tally_new)"

# Import the copy: it becomes checkpoint 2, and restores like 1.
cp "$T/ck1" "$M/$V/checkpoints/" || fail "import by cp"
expect_ls "$M/$V/checkpoints" 1 2
write_to "$M/$V/ctl" "restore 2" >/dev/null || fail "restore 2"
expect_eq "tick after restore of the import" 6 "$(call $V tick)"
# A file that is not a checkpoint is refused, leaving nothing.
head -c 1000 "$T/ck1" >"$T/torn"
cp "$T/torn" "$M/$V/checkpoints/" 2>/dev/null && fail "a torn checkpoint was imported"
expect_ls "$M/$V/checkpoints" 1 2
# restore of no such one.
expect_eq "restore 9" ENOENT "$(write_to "$M/$V/ctl" "restore 9")"
expect_eq "restore x" EINVAL "$(write_to "$M/$V/ctl" "restore x")"
rm "$M/$V/checkpoints/2" || fail "rm checkpoints/2"
expect_ls "$M/$V/checkpoints" 1
expect_errno "rm of a removed checkpoint" ENOENT unlink "$M/$V/checkpoints/2"

# restore_on_crash: checkpoint at 6 (after the tick of the restore),
# tick to 8, kill -9 the worker: it comes back at 6.
expect_eq "tick" 7 "$(call $V tick)"
write_to "$M/$V/ctl" checkpoint >/dev/null || fail "checkpoint 3"
expect_ls "$M/$V/checkpoints" 1 3
expect_eq "tick" 8 "$(call $V tick)"
pid=$(sed -n 's/^pid: //p' "$M/$V/info")
[ -n "$pid" ] && [ "$pid" -gt 0 ] || fail "no worker pid in info"
restores=$(grep -c '^restore ' "$CLOG")
kill -9 "$pid"
wait_for eval '[ "$(grep -c "^restore " "$CLOG")" -gt '"$restores"' ]' ||
	fail "no restore after kill -9: $(cat "$CLOG")"
expect_eq "the restore after the crash" "restore 7" "$(tail -n 1 "$CLOG" | cut -d' ' -f1,2)"
expect_eq "tick after the crash" 8 "$(call $V tick)"

# A running call: EBUSY once half of reply_timeout (2 s) has passed.
id=$(fork $V "sleep 6") || fail "fork sleep"
wait_for eval '[ "$(status $V '"$id"')" = running ]' || fail "sleep not running"
expect_eq "checkpoint during a call" EBUSY "$(write_to "$M/$V/ctl" checkpoint)"
result $V "$id" >/dev/null || fail "the sleep failed"

# A library without hooks: EOPNOTSUPP, and the reason names it.
V=local1
inject $V "$BASIC_SO"
expect_eq "checkpoint of basic.so" EOPNOTSUPP "$(write_to "$M/$V/ctl" checkpoint)"
grep -q '^last error: .*basic.so has no trickle_save' "$M/$V/info" ||
	fail "info does not name basic.so: $(cat "$M/$V/info")"
grep -q 'basic.so has no trickle_save' "$LOG" || fail "the log does not name basic.so"
expect_ls "$M/$V/checkpoints"

# The copies fetched into the state directory go with a clean unmount.
[ -n "$(find "$XDG_STATE_HOME" -path '*/checkpoints/local0/1')" ] ||
	fail "no copy of checkpoints/1 in the state directory"
unmount
[ -z "$(find "$XDG_STATE_HOME" -name checkpoints)" ] ||
	fail "copies left after unmount: $(find "$XDG_STATE_HOME")"

# On a schedule: -o checkpoint_every=2 takes one after each 2 calls.
mount_local 1 checkpoint_every=2
V=local0
inject $V "$COUNTER_SO"
expect_eq "tick" 1 "$(call $V tick)"
expect_eq "tick" 2 "$(call $V tick)"
wait_for test -e "$M/$V/checkpoints/1" || fail "no checkpoint after 2 calls"
expect_eq "tick" 3 "$(call $V tick)"
expect_eq "tick" 4 "$(call $V tick)"
wait_for test -e "$M/$V/checkpoints/2" || fail "no checkpoint after 4 calls"
write_to "$M/$V/ctl" "restore 1" >/dev/null || fail "restore 1 (scheduled)"
expect_eq "tick after restoring the scheduled one" 3 "$(call $V tick)"
echo "ok"
