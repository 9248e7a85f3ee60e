#!/bin/bash
# MOUNT/.ctl over SSH: reading lists the VMs; "connect NODE" adds one
# while .any work runs (it gets what .all/inject/ installed, then takes
# .any calls); a connect that cannot succeed fails the write and leaves
# nothing; "disconnect VM" drains (new calls fail, running ones finish)
# and then the VM and its node go, losing no call.
TEST_TIMEOUT=150
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"
start_sshd

mount_ssh a=127.0.0.1:$SSHD_PORT
cp "$BASIC_SO" "$M/.all/inject/" || fail "cp basic.so .all/inject/"
expect_match ".ctl" "^a 127.0.0.1:$SSHD_PORT (starting|up) 0 0 0 0 [0-9]+ ([0-9]+/[0-9]+|-|unshared)\$" "$(cat "$M/.ctl")"

# .any work under way on a alone.
exec 3<>"$M/.any/calls/new" || fail "open .any/calls/new"
ids=()
for i in $(seq 12); do
	printf 'sleeper 1\n' >&3
	read -r id <&3 || fail "no id for .any call $i"
	ids+=("$id")
done

write_to "$M/.ctl" "connect b=$SSHD_USER@127.0.0.1:$SSHD_PORT" >/dev/null ||
	fail "connect b failed: $(tail -3 "$LOG")"
expect_ls "$M" .all .any .ctl .done .log a b
wait_for -t 20 eval '[ "$(ls "$M/b/inject")" = basic.so ]' ||
	fail "b was not given .all/inject/basic.so: $(ls "$M/b/inject")"
wait_for -t 20 eval '[ -e "$M/b/functions/sleeper" ]' || fail "b has no sleeper"
for id in "${ids[@]}"; do
	expect_eq ".any/$id" "slept 1" "$(result .any "$id")"
done
on_b=$(for id in "${ids[@]}"; do cat "$M/.any/calls/$id/vm"; done | grep -c '^b$')
echo "b ran $on_b of 12 calls"
[ "$on_b" -ge 1 ] || fail "b, connected during the run, took no .any call"
expect_eq "foo on b" 8 "$(call b "foo 4")"

# A connect that cannot work fails the write and adds nothing.
err=$(write_to "$M/.ctl" "connect c=$SSHD_USER@127.0.0.1:1") &&
	fail "connect to a closed port succeeded"
expect_eq "connect to a closed port" ECONNREFUSED "$err"
expect_ls "$M" .all .any .ctl .done .log a b
err=$(write_to "$M/.ctl" "connect b=$SSHD_USER@127.0.0.1:$SSHD_PORT") &&
	fail "connect of a second b succeeded"
expect_eq "connect, name taken" EEXIST "$err"
expect_errno "an unknown command to .ctl" EINVAL write "$M/.ctl" "frobnicate a"
expect_errno "disconnect of no VM" ENOENT write "$M/.ctl" "disconnect zz"

# Drain a while a call runs on it.
note_nodes
long=$(fork a "sleeper 2") || fail "fork sleeper 2 on a"
wait_running a "$long"
write_to "$M/.ctl" "disconnect a" >/dev/null || fail "disconnect a"
expect_match ".ctl while draining" "^a .* draining 0 1 " "$(cat "$M/.ctl")"
late=$(fork a "foo 1") || fail "fork on a draining VM"
expect_eq "a call to a draining VM" "failed VM leaving: takes no new calls" "$(status a "$late")"
expect_eq "foo 5 on .any while a drains" 10 "$(call .any "foo 5")"
wait_for -t 20 eval '[ ! -e "$M/a" ]' || fail "a still there after its call ended"
expect_ls "$M" .all .any .ctl .done .log b
expect_match ".ctl after a left" "^b " "$(cat "$M/.ctl")"
[ "$(wc -l <"$M/.ctl")" = 1 ] || fail ".ctl lists more than b: $(cat "$M/.ctl")"
# The .all fan-out reaches only the VMs still there.
exec 4<>"$M/.all/calls/new" || fail "open .all/calls/new"
echo "echo hi" >&4
read -r line <&4 || fail "no id from .all"
expect_match ".all after a left" '^b/calls/[0-9]+$' "$line"
exec 4>&- 3>&-
expect_eq "b still works" 6 "$(call b "add 1 2 3")"

unmount
expect_no_nodes
