#!/bin/bash
# tricklefs -o discover in a private network of namespaces: the nodes
# announcing themselves are mounted (one VM each, calls work); a node that
# starts announcing during a trickle-map run joins it (given .all/inject/,
# takes .any calls, no call lost); "disconnect" in .ctl drains a VM that
# runs a call; a goodbye drains its node; allow= and min= are obeyed;
# forged beacons (no key known, a fingerprint known_hosts does not hold,
# a known fingerprint the sshd cannot prove) never yield a VM; and after
# the unmount nothing is left.
TEST_TIMEOUT=120
. "$(dirname "$0")/lib.sh"
. "$HERE/model-lib.sh"	# write_to
. "$HERE/netns-lib.sh"

need_var TRICKLE_MAP trickle-map
MAP=$TRICKLE_MAP
need_cmd ssh-keygen openssh-client
USER_NAME=$(id -un)

netns_up 3
for n in node1 node2 node3; do
	netns_sshd_start "$n"
	netns_announce_start "$n"
done

# Nodes run below the namespaces' sshds: lib.sh's our_nodes() (and so
# note_nodes, expect_no_nodes, the cleanup) looks there.
sshds_changed() { EXTRA_SSHD_PIDS="${NETNS_SSHD_PID[*]}"; }
sshds_changed

# ---------------------------------------------------------------- helpers

# disc_mount MOUNTPOINT LOGFILE [OPTS]: tricklefs -o discover, run in the
# init namespace, one VM per node unless OPTS say --cores; stderr in $ERR;
# returns tricklefs's exit status.
disc_mount() {
	local mp=$1 log=$2 opts=${3:-} env= rc pid vms=vms_per_node=1,
	[ -n "${ASAN_OPTIONS:-}" ] && env="env ASAN_OPTIONS=$ASAN_OPTIONS "
	[ "${4:-}" = --cores ] && vms=
	mkdir -p "$mp" || fail "mkdir $mp"
	MOUNTS+=("$mp")
	netns_exec init "$TRICKLEFS" -o "discover,${vms}identity=$NETNS_USER_KEY,known_hosts=$NETNS_KNOWN_HOSTS,node_command=$env$TRICKLE_NODE --dir $NODE_DIR,logfile=$log,connect_timeout=10${opts:+,$opts}" \
	    "$mp" 2>"$ERR"
	rc=$?
	[ $rc = 0 ] || return $rc
	is_mounted "$mp" || fail "tricklefs exited 0 but $mp is not mounted"
	pid=$(_fs_pid_of "$mp") || fail "no tricklefs process for $mp"
	FS_OF[$mp]=$pid:$(starttime_of "$pid")
	FS_PIDS+=("${FS_OF[$mp]}")
	note_nodes
	return 0
}
declare -A FS_OF=()

# disc_unmount MOUNTPOINT: unmount it, wait until its daemon is gone
# (lib.sh's unmount waits for every daemon of the test).
disc_unmount() {
	local mp=$1
	fusermount3 -u "$mp" || fail "fusermount3 -u $mp failed"
	wait_for -t 15 eval "! alive ${FS_OF[$mp]}" ||
		fail "tricklefs ${FS_OF[$mp]%%:*} still running 15 s after unmounting $mp"
	is_mounted "$mp" && fail "$mp still mounted after fusermount3 -u"
	return 0
}

# ctl [MOUNT]: MOUNT/.ctl.
ctl() { timeout 10 cat "${1:-$M}/.ctl"; }

# ctl_line VM [MOUNT]: VM's line in .ctl.
ctl_line() { ctl "${2:-}" | grep "^$1 "; }

# ctl_state_is VM STATE [MOUNT] (for wait_for).
ctl_state_is() { [ "$(ctl_line "$1" "${3:-}" | cut -d' ' -f3)" = "$2" ]; }

# nodes_of HOST: the trickle-node processes below HOST's sshd.
nodes_of() { nodes_under "${NETNS_SSHD_PID[$1]}"; }
no_nodes_on() { [ -z "$(nodes_of "$1")" ]; }

state_is_running() {
	[ "$(status "$1" "$2" 2>/dev/null | cut -d' ' -f1)" = running ]
}

# logged FILE REGEX (for wait_for).
logged() { grep -Eq -- "$2" "$1"; }

# A regex matching the string $1 literally.
re() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'; }

label() { echo "$USER_NAME@${NETNS_ADDR[$1]}:$NETNS_SSH_PORT"; }

# fail_later MESSAGE: a failure that leaves the rest worth running; the
# test fails at its end with every such MESSAGE.
LATER=()
fail_later() {
	echo "FAIL (reported at the end): $*" >&2
	LATER+=("$*")
}

# ---------------------------------------------------------------- 1. mount
t0=$(now_ms)
disc_mount "$M" "$LOG" "discover_user=$USER_NAME" ||
	fail "mounting with -o discover failed (exit $?): $(cat "$ERR")"
echo "mounted the 3 discovered nodes in $(($(now_ms) - t0)) ms"
expect_ls "$M" .all .any .ctl .done .log node1 node2 node3
for n in node1 node2 node3; do
	wait_for -t 10 ctl_state_is "$n" up ||
		fail "$n is not up in .ctl: $(ctl)"
	expect_eq ".ctl line of $n" "$n $(label "$n") up 0 0 0 0" "$(ctl_line "$n" | cut -d' ' -f1-7)"
done
expect_eq ".ctl lines" 3 "$(ctl | wc -l)"
for n in node1 node2 node3; do
	expect_eq "echo on $n" "hello from $n" "$(call "$n" "echo hello from $n")"
	expect_match ".ctl of $n after a call" "^$n [^ ]+ up 0 0 1 0\$" "$(ctl_line "$n" | cut -d' ' -f1-7)"
done

# ---------------------------------------------------------------- 2. join
cp "$BASIC_SO" "$M/.all/inject/" || fail "cp basic.so .all/inject/ failed"
for n in node1 node2 node3; do
	wait_for -t 10 test -e "$M/$n/functions/sleeper" ||
		fail "$n has no functions/sleeper: $(ls "$M/$n/functions")"
done
ITEMS=40
seq "$ITEMS" | sed 's/.*/1/' >"$T/items"
# A background job's stdin is /dev/null: the items go in by bash -c.
netns_bg init bash -c 'exec timeout 60 "$@" <"$0"' "$T/items" \
    "$MAP" -C "$M" -n 1 --joblog "$T/joblog" sleeper >"$T/map.out" 2>"$T/map.err"
MAP_PID=$NETNS_BG_PID
BG_PIDS+=("$MAP_PID")
running_calls() {
	[ "$(ctl | awk '{ r += $5 } END { print r + 0 }')" -gt 0 ]
}
wait_for -t 10 running_calls ||
	fail "trickle-map runs no call: $(ctl); its stderr: $(cat "$T/map.err")"

netns_host_add node4
netns_sshd_start node4
sshds_changed
t0=$(now_ms)
netns_announce_start node4
wait_for -t 10 test -d "$M/node4" ||
	fail "node4 did not appear 10 s after it announced: ls $(ls -A "$M"); log: $(grep node4 "$LOG")"
echo "node4 appeared $(($(now_ms) - t0)) ms after it announced"
note_nodes
wait_for -t 10 eval '[ "$(ls "$M/node4/inject")" = basic.so ]' ||
	fail "node4 was not given .all/inject/basic.so: $(ls -A "$M/node4/inject")"
kill -0 "$MAP_PID" 2>/dev/null ||
	fail "trickle-map ended before node4 was up: no test of a join while it runs"
wait "$MAP_PID"
rc=$?
BG_PIDS=()	# reaped: its PID is no longer ours to kill
expect_eq "trickle-map's exit status ($(cat "$T/map.err"))" 0 $rc
expect_eq "trickle-map's output" "$(seq "$ITEMS" | sed 's/.*/slept 1/')" "$(cat "$T/map.out")"
expect_eq "joblog lines" "$ITEMS" "$(tail -n +2 "$T/joblog" | wc -l)"
bad=$(tail -n +2 "$T/joblog" | awk -F'\t' '$7 != 0')
[ -z "$bad" ] || fail "joblog has failed calls: $bad"
hosts=$(tail -n +2 "$T/joblog" | cut -f 2 | sort | uniq -c | tr -s ' \n' ' ')
echo "calls per VM:$hosts"
on4=$(tail -n +2 "$T/joblog" | cut -f 2 | grep -c '^node4$')
[ "$on4" -ge 1 ] || fail "node4, which joined during the run, took no call ($hosts)"
bad=$(tail -n +2 "$T/joblog" | cut -f 2 | grep -v '^node[1-4]$')
[ -z "$bad" ] || fail "joblog Host not a VM of ours: $bad"
expect_eq "foo on node4" 8 "$(call node4 "foo 4")"

# ---------------------------------------------------------------- 3. disconnect
id=$(fork node3 "sleeper 3") || fail "fork sleeper 3 on node3"
wait_for state_is_running node3 "$id" ||
	fail "sleeper 3 on node3 not running: $(status node3 "$id")"
err=$(write_to "$M/.ctl" "disconnect node3") ||
	fail "writing \"disconnect node3\" to .ctl failed: $err"
expect_match ".ctl while node3 drains" "^node3 $(re "$(label node3)") draining 0 1 [0-9]+ 0 " \
	"$(ctl_line node3)"
[ -d "$M/node3" ] || fail "node3 went while its call ran"
late=$(fork node3 "foo 1") || fail "fork on draining node3"
expect_match "a call to draining node3" '^failed VM leaving' "$(status node3 "$late")"
expect_eq "foo 5 on .any while node3 drains" 10 "$(call .any "foo 5")"
# Read to its end: the data, then EOF, even though node3 leaves as soon
# as the call has ended.
out=$(timeout 30 cat "$M/node3/calls/$id/result" 2>"$T/cat.err")
rc=$?
expect_eq "the call node3 ran while draining" "slept 3" "$out"
[ $rc = 0 ] || fail_later "cat node3/calls/$id/result (opened before node3 left) exited $rc after the data: $(cat "$T/cat.err")"
wait_for -t 10 eval '[ ! -e "$M/node3" ]' ||
	fail "node3 still there after its call ended: $(ctl_line node3)"
expect_ls "$M" .all .any .ctl .done .log node1 node2 node4
wait_for -t 10 no_nodes_on node3 ||
	fail "node3's trickle-node still runs after it left: $(nodes_of node3)"
logged "$LOG" '^.*node3: left' || fail "no \"node3: left\" in the log"
for n in node1 node2 node4; do
	expect_eq "add on $n after node3 left" 6 "$(call "$n" "add 1 2 3")"
done

# ---------------------------------------------------------------- 4. goodbye
netns_announce_stop node4 ||
	fail "the announcer on node4 exited $?: $(cat "${NETNS_ANNOUNCE_LOG[node4]}")"
t0=$(now_ms)
wait_for -t 5 eval '[ ! -e "$M/node4" ]' ||
	fail "node4 still there 5 s after its goodbye: $(ctl_line node4)"
echo "node4 left $(($(now_ms) - t0)) ms after its goodbye"
logged "$LOG" 'node4: draining: its node said goodbye' ||
	fail "no goodbye drain of node4 in the log: $(grep node4 "$LOG")"
expect_ls "$M" .all .any .ctl .done .log node1 node2
wait_for -t 10 no_nodes_on node4 ||
	fail "node4's trickle-node still runs after it left: $(nodes_of node4)"
expect_eq ".any after node4 left" 14 "$(call .any "foo 7")"

# ---------------------------------------------------------------- 5. allow=
# node1 by name, node2 by address (*.2); node3 still announces.  A VM per core
# here: NAME.0, NAME.1, ... (NAME for one core).
M2=$T/mnt2 LOG2=$T/tricklefs2.log
[ "${NETNS_ADDR[node2]}" = "$NETNS_SUBNET.2" ] || fail "node2 is not at .2"
nodes_before=$(our_nodes | sort)
disc_mount "$M2" "$LOG2" "allow=node1:*.2" --cores ||
	fail "mounting with allow= failed (exit $?): $(cat "$ERR")"
cores=$(nproc)
vms2=()
for n in node1 node2; do
	if [ "$cores" = 1 ]; then
		vms2+=("$n")
	else
		for i in $(seq 0 $((cores - 1))); do vms2+=("$n.$i"); done
	fi
done
expect_ls "$M2" .all .any .ctl .done .log "${vms2[@]}"
want="discover: not using node3 at $(re "${NETNS_ADDR[node3]}"): not in allow="
logged "$LOG2" "$want" || fail "no \"not in allow=\" for node3 in: $(cat "$LOG2")"
expect_eq "refusals of node3 logged" 1 "$(grep -Ec "$want" "$LOG2")"
for v in "${vms2[@]}"; do
	expect_eq "echo on $v of $M2" "hi $v" "$(M=$M2 call "$v" "echo hi $v")"
done
disc_unmount "$M2"
wait_for -t 10 eval '[ "$(our_nodes | sort)" = "$nodes_before" ]' ||
	fail "nodes left by $M2 after its unmount: $(comm -13 <(echo "$nodes_before") <(our_nodes | sort))"

# ---------------------------------------------------------------- 6. min=
M3=$T/mnt3 LOG3=$T/tricklefs3.log
nodes_before=$(our_nodes | sort)
disc_mount "$M3" "$LOG3" "min=10"
rc=$?
[ $rc != 0 ] || fail "a mount with min=10 of 3 nodes succeeded"
expect_eq "exit status of the min=10 mount" 1 $rc
expect_eq "min=10 message" "tricklefs: only 3 VMs up, fewer than min=10" \
	"$(grep -v '^tricklefs: warning: ' "$ERR")"
is_mounted "$M3" && fail "$M3 is mounted after the min=10 failure"
# The daemon ends just after its parent reports (slower under ASan).
wait_for -t 5 eval '! pgrep -f -- " $M3\$" >/dev/null' ||
	fail "a tricklefs for $M3 still runs"
# It did connect node1..3: their nodes end with it.
logged "$LOG3" 'node3: joined' || fail "the min=10 mount did not connect node3: $(cat "$LOG3")"
wait_for -t 10 eval '[ "$(our_nodes | sort)" = "$nodes_before" ]' ||
	fail "nodes left by the min=10 mount: $(comm -13 <(echo "$nodes_before") <(our_nodes | sort))"

# ---------------------------------------------------------------- 7. forged beacons
netns_host_add evil
evil=${NETNS_ADDR[evil]}
fake=$(ssh-keygen -l -E sha256 -f "$NETNS_IMPOSTOR_KEY.pub" | cut -d' ' -f2)
vms_now() { echo "$(ls -A "$M" | tr '\n' ' ')|$(ctl | cut -d' ' -f1-3 | tr '\n' ' ')"; }
vms_before=$(vms_now)

# (a) A new name, a key known_hosts has nothing for at that address.
netns_announce_start evil --name node5 --host-key "$NETNS_IMPOSTOR_KEY.pub" --ssh-port 22
wait_for -t 5 logged "$LOG" "discover: not using node5 at $(re "$evil"): .*no key known" ||
	fail "no refusal of node5 at $evil: $(grep -i 'node5\|discover' "$LOG")"
netns_announce_stop evil || fail "the announcer on evil exited $?"

# An sshd on evil that serves the impostor's keys, while known_hosts holds
# the keys made for evil: someone has taken the address over.
netns_sshd_start evil --impostor
sshds_changed
# (b) node2's name with the impostor's fingerprint: known_hosts disagrees.
netns_announce_start evil --name node2 --host-key "$NETNS_IMPOSTOR_KEY.pub"
wait_for -t 5 logged "$LOG" "discover: not using node2 at $(re "$evil"): .*its key does not match the beacon's fingerprint" ||
	fail "no refusal of node2 at $evil: $(grep -i "$evil\|discover" "$LOG")"
# (The sshd's log has the lib's own port probe, from evil itself.)
grep -q "Connection from $(re "${NETNS_ADDR[init]}") " "${NETNS_SSHD_LOG[evil]}" &&
	fail "tricklefs connected to evil although its beacon was refused"
netns_announce_stop evil || fail "the announcer on evil exited $?"

# (c) node2's name with the fingerprints known_hosts holds for evil, which
# its sshd cannot prove: the SSH host key check refuses it.
netns_announce_start evil --name node2
ev=$(re "$(label evil)")
wait_for -t 15 logged "$LOG" "$ev: .*HAS CHANGED" ||
	fail "no host key refusal for evil: $(grep "$(label evil)" "$LOG")"
line=$(grep "$ev: .*HAS CHANGED" "$LOG")
echo "refused: ${line:0:160}..."
served=$(sed -n 's/.*host key \([^ ]*\) \(SHA256:[^ ]*\) does NOT match.*/\1 \2/p' <<<"$line" | head -1)
case $served in
ssh-ed25519\ "$fake") ;;
ecdsa-sha2-nistp256\ SHA256:*)
	grep -qF "${served#* }" <<<"${NETNS_HOSTKEY_FPS[evil]}" &&
		fail "the refused ecdsa key is evil's genuine one: $line" ;;
*) fail "the refusal names no key evil's sshd serves: $line" ;;
esac
grep -q "Accepted publickey" "${NETNS_SSHD_LOG[evil]}" &&
	fail "tricklefs logged in to evil's impostor sshd"
sleep 1
expect_eq "VMs after the forged beacons" "$vms_before" "$(vms_now)"
expect_eq "node processes on evil" "" "$(nodes_of evil)"
expect_eq "node2 after the forged beacons" 4 "$(call node2 "foo 2")"
netns_announce_stop evil || fail "the announcer on evil exited $?"

# ---------------------------------------------------------------- 8. nothing left
disc_unmount "$M"
expect_no_nodes
for n in node1 node2 node3; do
	netns_announce_stop "$n" ||
		fail "the announcer on $n exited $?: $(cat "${NETNS_ANNOUNCE_LOG[$n]}")"
done
for mp in "$M" "$M2" "$M3"; do
	is_mounted "$mp" && fail "$mp is still mounted"
done
netns_cleanup
left=$(ip netns list | grep -F "$NETNS_PREFIX")
[ -z "$left" ] || fail "namespaces left: $left"
[ ${#LATER[@]} = 0 ] || fail "$(printf '%s; ' "${LATER[@]}")"
echo "ok"
