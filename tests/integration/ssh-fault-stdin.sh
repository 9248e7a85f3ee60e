#!/bin/bash
# A call's stdin survives its node: kill -9 of the trickle-node running a
# call that was given 20 MiB of stdin (on its VM, then through .any): the
# run is lost, and the call is sent again with its stdin whole, from the
# copy at the mount; the killed run's own child process dies with it.  Ground truth outside tricklefs: each run appends to
# a file on start and on end.
TEST_TIMEOUT=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault-lib.sh"
start_sshd
start_sshd2

mount_ssh a=127.0.0.1:$SSHD_PORT b=127.0.0.1:$SSHD2_PORT -o ServerAliveInterval=1
head -c 20971520 /dev/urandom >"$T/big"
want=$(md5sum <"$T/big")

# stdin_call VMDIR TAG: fork a stdin call on VMDIR (its runs logged in
# $T/TAG.runs), write the 20 MiB to it; its id.
stdin_call() {
	local dir=$1 tag=$2 id
	# The first run waits long enough to be killed; the next does not.
	# Its sleep, a child of the call's program, is recorded: the kill
	# must take it too.
	id=$(fork "$dir" "TRICKLE_STDIN=1 exec sh -c 'f=$T/$tag.runs; [ -e \$f ] && w=0 || w=60; sleep \$w & echo \$! >>\$f.sleep; echo start >>\$f; wait; md5sum; echo end >>\$f'") ||
		fail "fork on $dir"
	cat "$T/big" >"$M/$dir/calls/$id/stdin" || fail "write the stdin of $dir/$id"
	echo "$id"
}

# On b, a VM's own call: sent again to b once it is back.
id=$(stdin_call b b) || exit 1
wait_for -t 60 eval '[ "$(grep -c start "$T/b.runs" 2>/dev/null)" = 1 ]' || fail "b's call did not start"
pid=$(node_of_sshd "$SSHD_PID")
[ -n "$pid" ] && [ "$(echo "$pid" | wc -l)" = 1 ] || fail "cannot tell b's node: '$pid'"
kill -KILL "$pid"
wait_for -t 10 eval '! kill -0 "$(head -1 "$T/b.runs.sleep")" 2>/dev/null' ||
	fail "b: the killed run's child process lives on"
expect_eq "b: the result after the kill" "$want" "$(timeout 120 cat "$M/b/calls/$id/result")"
expect_eq "b: runs started" 2 "$(grep -c start "$T/b.runs")"
expect_eq "b: runs ended" 1 "$(grep -c end "$T/b.runs")"
expect_eq "b: attempts" 2 "$(wc -l <"$M/b/calls/$id/attempts")"
expect_match "b: the first run" " lost: " "$(head -1 "$M/b/calls/$id/attempts")"

# Through .any: run again wherever there is room.
id=$(stdin_call .any any) || exit 1
wait_for -t 60 eval '[ "$(grep -c start "$T/any.runs" 2>/dev/null)" = 1 ]' || fail ".any's call did not start"
vm=$(cat "$M/.any/calls/$id/vm")
case $vm in
a*) sshd=$SSHD1_PID ;;
b*) sshd=$SSHD_PID ;;
*) fail ".any's call is on '$vm'" ;;
esac
pid=$(node_of_sshd "$sshd")
[ -n "$pid" ] && [ "$(echo "$pid" | wc -l)" = 1 ] || fail "cannot tell $vm's node: '$pid'"
echo ".any's call runs on $vm; killing trickle-node $pid"
kill -KILL "$pid"
wait_for -t 10 eval '! kill -0 "$(head -1 "$T/any.runs.sleep")" 2>/dev/null' ||
	fail ".any: the killed run's child process lives on"
expect_eq ".any: the result after the kill" "$want" "$(timeout 120 cat "$M/.any/calls/$id/result")"
expect_eq ".any: runs started" 2 "$(grep -c start "$T/any.runs")"
expect_eq ".any: runs ended" 1 "$(grep -c end "$T/any.runs")"
expect_match ".any: the first run" " lost: " "$(head -1 "$M/.any/calls/$id/attempts")"
unmount
expect_no_nodes
