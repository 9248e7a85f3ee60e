#!/bin/bash
# The Trickle paper's examples (examples/paper) on two local VMs: run-all.sh
# against a mount prints exactly model-paper.expected (the mount point
# shown as MOUNT, the VMs as @A@ and @B@); without a mount point it mounts
# two local VMs itself, prints the same, and unmounts; one example runs by
# itself with TRICKLE_MOUNT; a directory that is not a mount is refused.
TEST_TIMEOUT=120
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"

PAPER=$SRCROOT/examples/paper
EXPECTED=$HERE/model-paper.expected
# What the scripts need, from the build (they would build paper.so,
# stack.so and trickle-join with cc otherwise: not here).
need_var PAPER_SO paper.so
export STACK_SO TRICKLE_JOIN PAPER_SO TMPDIR=$T

# check_transcript FILE MOUNT A B: FILE, with MOUNT and the VM names A and
# B replaced (and cat's message for EIO, whatever the C library's text),
# is model-paper.expected.
EIO_TEXT=$(strerror EIO)
check_transcript() {
	sed "s|$2|MOUNT|g; s/\\b$3\\b/@A@/g; s/\\b$4\\b/@B@/g; s|^\\(cat: .*\\): $EIO_TEXT\$|\\1: @EIO@|" "$1" >"$1.norm"
	diff -u "$EXPECTED" "$1.norm" >"$1.diff" ||
		fail "the examples' output differs from model-paper.expected:
$(cat "$1.diff")"
}

mount_local 2
timeout 90 bash "$PAPER/run-all.sh" "$M" >"$T/out" 2>&1 ||
	fail "run-all.sh $M failed: $(tail -n 20 "$T/out")"
check_transcript "$T/out" "$M" local0 local1
# What the examples left behind is what they say.
expect_eq "data/names on local0" "Greg
Alex
Mike" "$(cat "$M/local0/data/names")"
expect_ls "$M/local1/inject" paper.so stack.so
expect_ls "$M/local0/objects"

# One example by itself, with TRICKLE_MOUNT.
TRICKLE_MOUNT=$M timeout 30 bash "$PAPER/4-builtins.sh" >"$T/ex4" 2>&1 ||
	fail "4-builtins.sh failed: $(cat "$T/ex4")"
sed "s|$M|MOUNT|g; s/\\blocal0\\b/@A@/g; s/\\blocal1\\b/@B@/g; s|^\\(cat: .*\\): $EIO_TEXT\$|\\1: @EIO@|" "$T/ex4" >"$T/ex4.norm"
sed -n '/^== Example 4/,/^$/p' "$EXPECTED" | sed '$d' >"$T/ex4.want"
diff -u "$T/ex4.want" "$T/ex4.norm" || fail "4-builtins.sh by itself differs"
unmount

# Refusals: no mount point, not a mount.
bash "$PAPER/2-call.sh" >/dev/null 2>"$T/err"
expect_eq "no mount point" 2 $?
expect_match "usage" '^usage: ' "$(cat "$T/err")"
mkdir -p "$T/plain"
bash "$PAPER/2-call.sh" "$T/plain" >/dev/null 2>"$T/err"
expect_eq "not a mount" 2 $?
expect_match "not a mount" 'is not a tricklefs mount' "$(cat "$T/err")"

# run-all.sh with no mount: it mounts two local VMs under $TMPDIR itself.
unmount_ours() {
	local mp
	for mp in $(awk -v t="$T/" 'index($2, t) == 1 { print $2 }' /proc/self/mounts); do
		fusermount3 -u "$mp" 2>/dev/null || fusermount3 -uz "$mp"
	done
}
CLEANUP_HOOKS+=(unmount_ours)
TRICKLEFS=$TRICKLEFS TRICKLEFS_OPTS=logfile=$T/self.log \
	timeout 90 bash "$PAPER/run-all.sh" >"$T/self" 2>&1 ||
	fail "run-all.sh with no mount failed: $(tail -n 20 "$T/self")"
first=$(head -n 1 "$T/self")
expect_match "first line" "^\\\$ tricklefs -o local=2 $T/trickle-paper-mnt\\.[A-Za-z0-9]+\$" "$first"
mp=${first##* }
tail -n +2 "$T/self" >"$T/self.rest"
check_transcript "$T/self.rest" "$mp" local0 local1
is_mounted "$mp" && fail "run-all.sh left $mp mounted"
[ -e "$mp" ] && fail "run-all.sh left $mp behind"
wait_for eval '! pgrep -f -- " $mp\$" >/dev/null' || fail "the tricklefs of $mp still runs"
# And it cleaned up its scratch space (the paper.so it may have built).
left=$(find "$T" -maxdepth 1 -name 'trickle-paper*')
[ -z "$left" ] || fail "left behind in TMPDIR: $left"
