#!/bin/bash
# MOUNT/.any: calls queued at the initiator, each handed to the first VM
# with room, so a fast VM takes more of them than a slow one; a call runs
# only where its function is; .any/calls/N has vm (where it ran) besides
# the usual files; cancel and rmdir work before and after it is sent;
# .done names it .any/N, once.
TEST_TIMEOUT=120
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"

mount_local 2
expect_ls "$M/.any" calls
[ -f "$M/.any/calls/new" ] || fail ".any/calls/new missing"

# Output, streams and files of one call.
id=$(fork .any "exec sh -c 'echo out; echo err >&2'") || fail "fork on .any"
expect_eq "result" out "$(result .any "$id")"
expect_eq "stderr" err "$(cat "$M/.any/calls/$id/stderr")"
expect_eq "status" done "$(status .any "$id")"
expect_match "vm" '^local[01]$' "$(cat "$M/.any/calls/$id/vm")"
expect_eq "args" "exec sh -c 'echo out; echo err >&2'" "$(cat "$M/.any/calls/$id/args")"
expect_ls "$M/.any/calls/$id" args attempts ctl result status stderr stdout vm
vm=$(cat "$M/.any/calls/$id/vm")
# It is the VM's call too, under its own number there.
[ "$(ls "$M/$vm/calls" | grep -cv new)" = 1 ] || fail "$vm/calls does not list the call"

# A failure is the VM's failure; result gives EIO.
id=$(fork .any "exec sh -c 'exit 3'") || fail "fork exit 3"
result_fails .any "$id"
expect_eq "status of exit 3" "failed exit 3" "$(status .any "$id")"

# A slow VM and a fast one: the fast one takes most of the calls.
call local0 "setenv DELAY 0.3" >/dev/null || fail "setenv on local0"
call local1 "setenv DELAY 0.01" >/dev/null || fail "setenv on local1"
exec 3<>"$M/.any/calls/new" || fail "open .any/calls/new"
ids=()
for i in $(seq 40); do
	printf '%s\n' "exec sh -c 'sleep \$DELAY; echo $i'" >&3
	read -r id <&3 || fail "no id for call $i"
	ids+=("$id")
done
exec 3>&-
slow=0 fast=0
for i in $(seq 40); do
	id=${ids[$((i - 1))]}
	expect_eq "output of call $i" "$i" "$(result .any "$id")"
	case $(cat "$M/.any/calls/$id/vm") in
	local0) slow=$((slow + 1)) ;;
	local1) fast=$((fast + 1)) ;;
	*) fail "call $i ran on '$(cat "$M/.any/calls/$id/vm")'" ;;
	esac
done
echo "slow VM ran $slow calls, fast VM $fast"
[ "$slow" -ge 1 ] || fail "the slow VM got no calls"
[ $((slow * 3)) -lt "$fast" ] || fail "slow VM ran $slow calls, fast $fast: not balanced by speed"

# Injected code: a call goes only to VMs that have its function.
inject local1 "$BASIC_SO"
for i in 1 2 3 4 5 6; do
	id=$(fork .any "foo $i") || fail "fork foo $i"
	expect_eq "foo $i" $((2 * i)) "$(result .any "$id")"
	expect_eq "VM of foo $i" local1 "$(cat "$M/.any/calls/$id/vm")"
done
# A function no VM has fails at once, named, and .done says so as
# .any/calls/N.
exec 4<"$M/.done" || fail "open .done"
id=$(fork .any "nosuchfunc 1") || fail "fork nosuchfunc"
expect_eq "status of an unknown function" "failed no VM has function nosuchfunc" "$(status .any "$id")"
read -r -t 10 line <&4 || fail "no .done line for nosuchfunc"
expect_eq ".done line" ".any/calls/$id failed no VM has function nosuchfunc" "$line"
id=$(fork .any "foo 21") || fail "fork foo 21"
read -r -t 10 line <&4 || fail "no .done line for foo 21"
expect_eq ".done names a .any call once, as .any/calls/N" ".any/calls/$id done" "$line"
timeout 1 cat <&4 >"$T/more"
expect_eq "no second .done line for it" "" "$(cat "$T/more")"
exec 4<&-

# Cancel: two calls per VM fill the window, the fifth waits here.
long=()
for i in 1 2 3 4 5; do
	id=$(fork .any "sleep 30") || fail "fork sleep $i"
	long+=("$id")
done
queued=${long[4]}
expect_eq "status of the fifth" queued "$(status .any "$queued")"
expect_eq "vm of a call not yet sent" "" "$(cat "$M/.any/calls/$queued/vm")"
write_to "$M/.any/calls/$queued/ctl" cancel >/dev/null || fail "cancel the queued call"
expect_eq "cancelled here" cancelled "$(status .any "$queued")"
for id in "${long[@]:0:4}"; do
	write_to "$M/.any/calls/$id/ctl" cancel >/dev/null || fail "cancel .any/$id"
done
for id in "${long[@]:0:4}"; do
	wait_for eval '[ "$(status .any '"$id"')" = cancelled ]' ||
		fail ".any/$id: $(status .any "$id") after cancel"
done

# rmdir forgets the call, here and on its VM.
id=$(fork .any "echo bye") || fail "fork echo bye"
expect_eq "echo bye" bye "$(result .any "$id")"
vm=$(cat "$M/.any/calls/$id/vm")
before=$(ls "$M/$vm/calls" | wc -l)
rmdir "$M/.any/calls/$id" || fail "rmdir .any/calls/$id"
[ ! -e "$M/.any/calls/$id" ] || fail ".any/calls/$id still there"
expect_eq "the VM's calls after rmdir" $((before - 1)) "$(ls "$M/$vm/calls" | wc -l)"
rmdir "$M/.any/calls/$queued" || fail "rmdir of a call cancelled before it was sent"

# A line with no function fails at once, and the mount lives on.
id=$(fork .any "FOO=1") || fail "fork FOO=1"
expect_eq "a line of NAME=VALUE only" "failed no function in the line" "$(status .any "$id")"
expect_eq "still there" hi "$(call .any "echo hi")"

# The node dies with calls sent and one still waiting here: a new node
# adopts the session, the calls that were cut off run again there, the
# waiting one runs once; each ends done, none fails.
long=()
for i in 1 2 3 4 5; do
	id=$(fork .any "sleep 5") || fail "fork sleep $i (node about to die)"
	long+=("$id")
done
expect_eq "the fifth waits here" queued "$(status .any "${long[4]}")"
note_nodes
node=$(our_nodes | while read -r e; do [ "$(ppid_of "${e%%:*}")" = "$FS_PID" ] && echo "${e%%:*}"; done)
[ -n "$node" ] || fail "no node process below tricklefs"
kill -KILL "$node"
for id in "${long[@]}"; do
	expect_eq ".any/$id after the node died" "" "$(result .any "$id")"
	expect_eq ".any/$id status" done "$(status .any "$id")"
done
expect_match "a sent call's first run" '^1 .* lost: ' "$(head -1 "$M/.any/calls/${long[0]}/attempts")"
expect_eq "the waiting call's runs" 1 "$(wc -l <"$M/.any/calls/${long[4]}/attempts")"
unmount
expect_no_nodes
