#!/bin/bash
# echo "migrate NODE" > VM/ctl between two SSH nodes (two private sshd)
# during a pile of .any work (examples/ckpt/counter.so, each call a tick
# of its VM's counter, logged by the library): a moves to b's node with
# its state; no call is lost or run twice (the library's log has one
# tick per call, each call's attempts file one run), each VM's ticks are
# 1, 2, ... with no gap or repeat (a's counter goes on on the new node),
# a's directory and its old calls stay, and a runs on b's node after.
TEST_TIMEOUT=180
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"
need_var COUNTER_SO counter.so
start_sshd
start_sshd2

CLOG=$T/counter.log
: >"$CLOG"
mount_ssh a=127.0.0.1:$SSHD_PORT b=127.0.0.1:$SSHD2_PORT -o reply_timeout=20
cp "$COUNTER_SO" "$M/.all/inject/" || fail "cp counter.so .all/inject/"
for v in a b; do
	expect_eq "setenv on $v" "" "$(call $v "setenv CKPT_LOG $CLOG")"
done
expect_eq "a tick before" 1 "$(call a tick)"
before=$(fork a "tick") || fail "fork"
expect_eq "a tick before" 2 "$(result a "$before")"
node_a=$(sed -n 's/^host: //p' "$M/a/info")

N=40
exec 3<>"$M/.any/calls/new" || fail "open .any/calls/new"
ids=()
for i in $(seq $N); do
	printf 'tick 0.1\n' >&3
	read -r id <&3 || fail "no id for .any call $i"
	ids+=("$id")
done
exec 3>&-
# Some of the pile has run when a moves.
wait_for eval '[ "$(grep -c "^tick" "$CLOG")" -ge 10 ]' || fail "the pile does not run"
write_to "$M/a/ctl" "migrate b" >/dev/null || fail "migrate a to b's node: $(tail -5 "$LOG")"
node_now=$(sed -n 's/^host: //p' "$M/a/info")
[ "$node_now" != "$node_a" ] || fail "a is still on $node_a"
expect_eq "a's node now" "$(sed -n 's/^host: //p' "$M/b/info")" "$node_now"

for id in "${ids[@]}"; do
	result .any "$id" >/dev/null || fail ".any/calls/$id failed: $(status .any "$id")"
	runs=$(wc -l <"$M/.any/calls/$id/attempts")
	[ "$runs" -eq 1 ] || fail ".any/calls/$id ran $runs times: $(cat "$M/.any/calls/$id/attempts")"
done
ticks=$(grep -c '^tick ' "$CLOG")
expect_eq "ticks logged (2 on a before, $N in the pile)" $((N + 2)) "$ticks"
on_a=0
for v in a b; do
	got=$(for id in "${ids[@]}"; do
		[ "$(cat "$M/.any/calls/$id/vm")" = $v ] && cat "$M/.any/calls/$id/result"
	done | sort -n | tr '\n' ' ')
	n=$(echo $got | wc -w)
	[ $v = a ] && on_a=$n
	first=$([ $v = a ] && echo 3 || echo 1)
	want=$( [ "$n" -gt 0 ] && seq "$first" $((first + n - 1)) | tr '\n' ' ')
	expect_eq "$v's ticks in the pile" "$want" "$got"
done
echo "a ran $on_a of the $N calls"
# Some of them before the move, on a's first node, and some after, on
# b's: the attempts file names the node of each run.
port2=":$SSHD2_PORT"
after=0 before_move=0
for id in "${ids[@]}"; do
	[ "$(cat "$M/.any/calls/$id/vm")" = a ] || continue
	if grep -q -- "$port2" "$M/.any/calls/$id/attempts"; then
		after=$((after + 1))
	else
		before_move=$((before_move + 1))
	fi
done
echo "a: $before_move calls before the move, $after after"
[ "$before_move" -gt 0 ] && [ "$after" -gt 0 ] ||
	fail "a ran $before_move calls before the move and $after after"
expect_eq "a goes on after the move" $((on_a + 3)) "$(call a tick)"
expect_eq "a's call from before the move" 2 "$(result a "$before")"
expect_eq "a restored once" 1 "$(grep -c '^restore ' "$CLOG")"
# Refusals change nothing: a's own node, a node the mount does not have.
expect_eq "migrate to its own node" EEXIST "$(write_to "$M/a/ctl" "migrate b")"
expect_eq "migrate to an unknown node" ENOENT "$(write_to "$M/a/ctl" "migrate nosuch.example:22")"
expect_eq "a still goes on" $((on_a + 4)) "$(call a tick)"
echo ok
