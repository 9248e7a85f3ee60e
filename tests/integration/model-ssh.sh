#!/bin/bash
# The Trickle paper's examples (examples/paper/run-all.sh) against two VMs
# on two SSH hosts (two private sshds on 127.0.0.1): the same output as
# locally (model-paper.expected), then .all, .done (their ids as paths),
# trickle-join --any, objects and info across the two hosts.
TEST_TIMEOUT=150
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"
start_sshd
start_sshd2

PAPER=$SRCROOT/examples/paper
EXPECTED=$HERE/model-paper.expected
need_var PAPER_SO paper.so
export STACK_SO TRICKLE_JOIN PAPER_SO TMPDIR=$T
EIO_TEXT=$(strerror EIO)

mount_ssh alpha=127.0.0.1:$SSHD_PORT beta=root@127.0.0.1:$SSHD2_PORT
expect_ls "$M" .all .any .ctl .done .log alpha beta
timeout 120 bash "$PAPER/run-all.sh" "$M" >"$T/out" 2>&1 ||
	fail "run-all.sh $M failed: $(tail -n 20 "$T/out")"
sed "s|$M|MOUNT|g; s/\\balpha\\b/@A@/g; s/\\bbeta\\b/@B@/g; s|^\\(cat: .*\\): $EIO_TEXT\$|\\1: @EIO@|" "$T/out" >"$T/out.norm"
diff -u "$EXPECTED" "$T/out.norm" >"$T/out.diff" ||
	fail "the examples' output over SSH differs from model-paper.expected:
$(cat "$T/out.diff")"

# Each VM is on its own host: its own node process and data directory.
expect_eq "alpha's names" "Greg
Alex
Mike" "$(cat "$M/alpha/data/names")"
expect_eq "beta's names" "Greg
Alexey" "$(cat "$M/beta/data/names")"
pa=$(info_key alpha 'node pid')
pb=$(info_key beta 'node pid')
[ -n "$pa" ] && [ -n "$pb" ] && [ "$pa" != "$pb" ] || fail "node pids: alpha '$pa', beta '$pb'"
descends_from "$pa" "$SSHD1_PID" || fail "alpha's node $pa is not below the first sshd"
descends_from "$pb" "$SSHD_PID" || fail "beta's node $pb is not below the second sshd"

# .all and .done across the hosts.
exec 4<"$M/.done"
out=$(fork_all "@alpha slowfoo 1 5
@beta foo 6") || fail "fork_all"
expect_eq "ids" "alpha/calls/26
beta/calls/6" "$out"
read -r -t 20 l1 <&4 || fail "no first .done line"
read -r -t 20 l2 <&4 || fail "no second .done line"
exec 4<&-
expect_eq ".done over SSH" "beta/calls/6 done|alpha/calls/26 done" "$l1|$l2"
# Those ids are paths from the mount, for cat and trickle-join as they are;
# a .any call's .done line names it .any/calls/N.
for pair in alpha/calls/26:10 beta/calls/6:12; do
	id=${pair%:*} want=${pair#*:}
	expect_eq "cat \$M/$id/result" "$want" "$(timeout 30 cat "$M/$id/result")"
	expect_eq "trickle-join \$M/$id" "$want" "$(timeout 30 "$TRICKLE_JOIN" "$M/$id")"
done
exec 4<"$M/.done"
n=$(fork .any "foo 9") || fail "fork on .any"
read -r -t 20 l1 <&4 || fail "no .done line for the .any call"
exec 4<&-
expect_eq ".done of a .any call over SSH" ".any/calls/$n done" "$l1"
expect_eq "trickle-join of its path" 18 "$(timeout 30 "$TRICKLE_JOIN" "$M/${l1%% *}")"
a=$(fork alpha "slowfoo 2 1") || fail "fork"
b=$(fork beta "slowfoo 0 2") || fail "fork"
out=$(timeout 30 "$TRICKLE_JOIN" --any "$M/alpha/calls/$a" "$M/beta/calls/$b")
expect_eq "trickle-join --any over SSH" "$M/beta/calls/$b
4" "$out"
expect_eq "trickle-join over SSH" "2
4" "$(timeout 30 "$TRICKLE_JOIN" "$M/alpha/calls/$a" "$M/beta/calls/$b")"

# Objects, cancel and restart over SSH.
expect_eq "stack_new on beta" @1 "$(call beta "stack_new p q")"
expect_eq "objects/1 on beta" "[p q]" "$(cat "$M/beta/objects/1")"
c=$(fork beta "slowfoo 30 1") || fail "fork"
wait_running beta "$c"
write_to "$M/beta/calls/$c/ctl" cancel >/dev/null || fail "cancel over SSH"
expect_eq "cancelled over SSH" cancelled "$(status beta "$c")"
result_fails beta "$c"
# Cancelling a running call restarts its VM: the objects die with it.
wait_for eval '[ -z "$(ls "$M/beta/objects")" ]' || fail "objects after a cancel: $(ls "$M/beta/objects")"
write_to "$M/alpha/ctl" restart >/dev/null || fail "restart over SSH"
expect_eq "alpha after a restart" 2 "$(call alpha "foo 1")"

unmount
expect_no_nodes
