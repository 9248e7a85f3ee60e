#!/bin/bash
# -o keep_calls=N: a VM (and .any) keeps its N newest ended calls; older
# ones go, here and on the node, as with rmdir, once their result (or
# stdout) has been read.  A call nobody read stays until it is read,
# unless -o reap_unread.  The journal agrees: a remount brings back what
# was kept and nothing that was reaped, and rewrites the journal without
# the reaped calls' records.
TEST_TIMEOUT=240
. "$(dirname "$0")/lib.sh"

# calls_of VM: its call ids, sorted.
calls_of() { ls "$M/$1/calls" | grep -v '^new$' | sort -n | tr '\n' ' '; }
# node_calls VM-INDEX: the ended calls the node keeps, sorted: those its
# log of ended calls (vmN/ended, node/vm/callstore.c) ends as ended
# (state 2 and up: not sent again, not forgotten); "ID @ ..." lines say
# where an output is.
node_calls() {
	cat "$T"/run/trickle-node/session-*/vm"$1"/ended 2>/dev/null |
		awk '$2 != "@" { s[$1] = $2 }
		     END { for (i in s) if (s[i] >= 2) print i }' |
		sort -n | tr '\n' ' '
}
# listed WANT VM: wait until VM/calls lists WANT (reaping is a round trip).
listed() {
	L_WANT=$1 L_VM=$2
	wait_for -t 20 eval '[ "$(calls_of "$L_VM")" = "$L_WANT" ]' ||
		fail "$2/calls: want '$1', have '$(calls_of "$2")'"
}
done_status() { [ "$(status "$1" "$2")" = done ]; }
# fork_many VM WORD N: N calls "echo WORDi" in one write; ids in IDS.
fork_many() {
	local i
	IDS=()
	exec 3<>"$M/$1/calls/new" || fail "open $1/calls/new"
	for i in $(seq 1 "$3"); do echo "echo $2$i"; done >&3
	for i in $(seq 1 "$3"); do
		read -r -t 30 IDS[$((i - 1))] <&3 || fail "$1: no id for call $i"
	done
	exec 3>&-
}
# read_all VM WORD ID...: read each result (a call's number i is its place).
read_all() {
	local vm=$1 word=$2 i=0 id got
	shift 2
	for id in "$@"; do
		i=$((i + 1))
		[ "$id" = - ] && continue
		got=$(timeout 30 cat "$M/$vm/calls/$id/result") ||
			fail "$vm/calls/$id/result"
		[ "$got" = "$word$i" ] || fail "$vm/calls/$id: '$got', not '$word$i'"
	done
}

mount_local 1 -o keep_calls=5,ServerAliveInterval=1,lease=10
fork_many local0 "" 50
ids=("${IDS[@]}")
# Three calls nobody reads (their status is no read of the result).
unread=("${ids[9]}" "${ids[19]}" "${ids[29]}")
wait_for -t 60 done_status local0 "${ids[49]}" || fail "the calls did not end"
skip=("${ids[@]}")
skip[9]=- skip[19]=- skip[29]=-
read_all local0 "" "${skip[@]}"
want="${unread[*]} ${ids[*]:45:5} "
listed "$want" local0
expect_eq "calls kept on the node" "$want" "$(node_calls 0)"
expect_eq "an unread call's result" 20 "$(result local0 "${unread[1]}")"
# Read now, and older than the 5 newest: it goes.
want="${unread[0]} ${unread[2]} ${ids[*]:45:5} "
listed "$want" local0
expect_eq "calls kept on the node after a late read" "$want" \
	"$(node_calls 0)"

echo "$SECONDS s: .any"
# .any: its own 5 newest; the VM's half of a reaped .any call goes with
# it, and the VM's own calls are not pushed out by .any's.
fork_many .any any 12
anys=("${IDS[@]}")
read_all .any any "${anys[@]}"
listed "${anys[*]:7:5} " .any
expect_eq "local0's calls: its own 5 newest, 2 unread, 5 .any halves" 12 \
	"$(calls_of local0 | wc -w)"
expect_eq "calls kept on the node" "$(calls_of local0)" "$(node_calls 0)"

# The journal agrees: remounted (keep), the same calls come back.
before=$(calls_of local0)
echo "$SECONDS s: The daemon killed"
# The daemon killed: the journal is all the next mount has.
kill -KILL "$FS_PID"
fusermount3 -uz "$M" || fail "fusermount3 -uz"
mount_local 1 -o keep_calls=5,ServerAliveInterval=1,lease=10
expect_eq "local0's calls after a remount" "$before" "$(calls_of local0)"
expect_eq ".any's calls after a remount" "${anys[*]:7:5} " "$(calls_of .any)"
echo "$SECONDS s: The journal was rewritten"
# The journal was rewritten as it was opened: no record of a reaped call.
journal=$(ls "$T"/state/tricklefs/*/journal)
grep -q "^F" "$journal" && fail "F records left in the rewritten journal"
grep -qP "^[CLESXD]\tlocal0\t${ids[0]}(\t|\$)" "$journal" &&
	fail "records of reaped call ${ids[0]} left in the journal"
grep -qP "^[CLESXD]\tlocal0\t${ids[49]}(\t|\$)" "$journal" ||
	fail "no records of kept call ${ids[49]} in the journal"
# ... and a mount of the rewritten journal finds the same calls.
kill -KILL "$FS_PID"
fusermount3 -uz "$M" || fail "fusermount3 -uz"
mount_local 1 -o keep_calls=5,ServerAliveInterval=1,lease=10
expect_eq "local0's calls after a second remount" "$before" "$(calls_of local0)"
expect_eq ".any's calls after a second remount" "${anys[*]:7:5} " "$(calls_of .any)"
echo "$SECONDS s: What was kept is still read"
# What was kept is still read, and new calls push the oldest out.
expect_eq "a kept result after the remount" 50 "$(result local0 "${ids[49]}")"
fork_many local0 new 5
new=("${IDS[@]}")
read_all local0 new "${new[@]}"
wait_for -t 20 eval '[ "$(calls_of .any | wc -w)" = 5 ]' ||
	fail ".any/calls after new calls: $(calls_of .any)"
wait_for -t 20 eval '[ "$(calls_of local0 | wc -w)" = 12 ]' ||
	fail "local0/calls after new calls: $(calls_of local0)"
for id in "${new[@]}"; do
	[ -d "$M/local0/calls/$id" ] || fail "new call $id reaped"
done
for id in "${ids[@]:45:5}"; do
	[ -d "$M/local0/calls/$id" ] && fail "old call $id kept past 5 newer"
done
expect_eq "calls kept on the node" "$(calls_of local0)" "$(node_calls 0)"
unmount
expect_no_nodes

echo "$SECONDS s: reap_unread"
# reap_unread: nobody needs to read them.
mount_local 1 -o keep_calls=2,reap_unread
fork_many local0 "" 10
ids=("${IDS[@]}")
wait_for -t 60 done_status local0 "${ids[9]}" || fail "the calls did not end"
listed "${ids[*]:8:2} " local0
expect_eq "calls kept on the node (reap_unread)" "${ids[*]:8:2} " \
	"$(node_calls 0)"
unmount
expect_no_nodes
