#!/bin/bash
# Discovery over UDP multicast, in a private network of namespaces: three
# nodes with an sshd and trickle-node --announce each are found from a
# fourth with the right names, ports and host key fingerprints; goodbyes,
# expiry and restarts are seen by trickle-discover --watch; forged,
# flooding and malformed beacons are decoded or refused without harm.
TEST_TIMEOUT=120
. "$(dirname "$0")/lib.sh"
. "$HERE/netns-lib.sh"

need_var TRICKLE_DISCOVER trickle-discover
need_var BEACON_FORGE beacon-forge	# tests/tools: forged and broken beacons
need_cmd ssh-keygen openssh-client
VERSION=$("$TRICKLE_NODE" --version | awk '{ print $2 }')

# ---- options that are refused, before any network
expect_rc() {
	local want=$1 rc
	shift
	"$@" >"$T/out" 2>&1
	rc=$?
	[ "$rc" = "$want" ] || fail "$*: exit $rc, expected $want: $(cat "$T/out")"
}
expect_rc 2 "$TRICKLE_NODE" --announce --name 'bad name' --host-key /dev/null
expect_rc 2 "$TRICKLE_NODE" --announce --name -x
expect_rc 2 "$TRICKLE_NODE" --announce --interval 0x
expect_rc 2 "$TRICKLE_NODE" --announce --ssh-port 70000
expect_rc 2 "$TRICKLE_NODE" --name x
expect_rc 1 "$TRICKLE_NODE" --announce --name x --host-key "$T/missing.pub"
grep -q missing.pub "$T/out" || fail "no file name in: $(cat "$T/out")"
echo "ssh-ed25519 AAAAnotbase64!" >"$T/bad.pub"
expect_rc 1 "$TRICKLE_NODE" --announce --name x --host-key "$T/bad.pub"
ssh-keygen -q -t ed25519 -N '' -f "$T/k" || fail "ssh-keygen"
expect_rc 1 "$TRICKLE_NODE" --announce --name x --host-key "$T/k.pub" --group 10.1.2.3
grep -q 'not an IPv4 multicast address' "$T/out" || fail "group: $(cat "$T/out")"
# trickle-discover forges nothing: that is tests/tools/beacon-forge's job.
for o in --send-hello=x --send-bye=x --send-flood=1 --send-junk=1 --probe-flood=1; do
	expect_rc 2 "$TRICKLE_DISCOVER" "$o"
done

# ---- three nodes and the initiator
netns_up 3
for n in node1 node2 node3; do
	netns_sshd_start "$n"
done
# The sshds answer with the keys in NETNS_KNOWN_HOSTS.
[ "$(netns_ssh init node2 echo ok)" = ok ] || fail "ssh from init to node2"

netns_announce_start node1 --interval 1
netns_announce_start node2
netns_announce_start node3

discover() {
	netns_exec init "$TRICKLE_DISCOVER" "$@"
}

# One line per node: name address ssh_port cores version fingerprints.
check_found() {
	local out=$1 n line want
	for n in "${@:2}"; do
		want="$n ${NETNS_ADDR[$n]} $NETNS_SSH_PORT $(nproc) $VERSION ${NETNS_HOSTKEY_FPS[$n]}"
		line=$(grep "^$n " <<<"$out")
		expect_eq "discovered $n" "$want" "$line"
	done
}
out=$(discover --timeout 2) || fail "trickle-discover found nothing"
expect_eq "nodes found" 3 "$(wc -l <<<"$out")"
check_found "$out" node1 node2 node3
# The fingerprints are ssh-keygen's, ed25519 first.
fp=$(ssh-keygen -lf "${NETNS_HOSTKEYS[node2]%% *}" | cut -d' ' -f2)
line=$(grep '^node2 ' <<<"$out")
[[ "$line" == *" $fp,"* ]] || fail "node2's ed25519 fingerprint $fp is not first: $line"

# Nothing on another port, and --interface works.
discover --timeout 1 --port 7480 >"$T/out" 2>&1 && fail "found nodes on port 7480: $(cat "$T/out")"
out=$(discover --timeout 2 --interface eth0) || fail "nothing on eth0"
check_found "$out" node1 node2 node3

# ---- watch events
WATCH_OUT=$T/watch.out
WATCH_ERR=$T/watch.err
netns_bg init "$TRICKLE_DISCOVER" --watch --verbose --timeout 100 \
    >"$WATCH_OUT" 2>"$WATCH_ERR"
WATCH_PID=$NETNS_BG_PID
BG_PIDS+=("$WATCH_PID")
watched() { grep -q -- "$1" "$WATCH_OUT"; }
for n in node1 node2 node3; do
	wait_for -t 5 watched "^hello $n ${NETNS_ADDR[$n]} " ||
	    fail "watch: no hello from $n: $(cat "$WATCH_OUT")"
done

# A forged HELLO: decoded, from the forger's address, with its own
# fingerprint; telling it from node2 is the client's job.
netns_host_add evil
evil=${NETNS_ADDR[evil]}
fake=$(ssh-keygen -lf "$NETNS_IMPOSTOR_KEY.pub" | cut -d' ' -f2)
netns_exec evil "$BEACON_FORGE" hello node2 --fingerprint "$fake" \
    --cores 64 || fail "sending a forged HELLO"
watched_line() { grep -qxF -- "$1" "$WATCH_OUT"; }
wait_for -t 5 watched_line "hello node2 $evil 22 64 $VERSION $fake" ||
	fail "watch: no forged hello: $(cat "$WATCH_OUT")"
grep -q "$fake" <<<"${NETNS_HOSTKEY_FPS[node2]}" && fail "impostor key is node2's"
# A BYE for node2 with the wrong instance changes nothing.
netns_exec evil "$BEACON_FORGE" bye node2 --instance 12345 --seq 99 ||
	fail "sending a forged BYE"

# Broken datagrams: every announcer survives and still answers.
netns_exec evil "$BEACON_FORGE" junk 400 || fail "sending junk"
sleep 0.5
for n in node1 node2 node3; do
	kill -0 "${NETNS_ANNOUNCE_PID[$n]}" 2>/dev/null ||
	    fail "the announcer on $n died: $(cat "${NETNS_ANNOUNCE_LOG[$n]}")"
	grep -q 'ignored a datagram' "${NETNS_ANNOUNCE_LOG[$n]}" ||
	    fail "$n logged no ignored datagram: $(cat "${NETNS_ANNOUNCE_LOG[$n]}")"
	# Rate-limited: a line or two, not one per datagram.
	c=$(grep -c 'ignored a datagram' "${NETNS_ANNOUNCE_LOG[$n]}")
	[ "$c" -le 3 ] || fail "$n logged $c lines for the junk"
done
out=$(discover --timeout 2) || fail "nothing found after the junk"
check_found "$out" node1 node2 node3
watched "^bye node2 " && fail "a forged BYE removed node2"

# A flood of HELLOs from one address fills no more than its share.
netns_exec evil "$BEACON_FORGE" flood 200 || fail "sending a flood"
sleep 1
c=$(grep -c "^hello flood-" "$WATCH_OUT")
[ "$c" -ge 1 ] || fail "watch took no flood HELLO"
c=$(grep -c "^hello [^ ]* $evil " "$WATCH_OUT")
[ "$c" -le 16 ] || fail "watch took $c HELLOs from $evil (cap 16 per address)"

# A probe flood gets few answers: rate-limited per prober and in total.
out=$(netns_exec evil "$BEACON_FORGE" probe-flood 300) || fail "probe flood"
read -r _ replies _ from <<<"$out"
[ "$from" = 3 ] || fail "probe flood: answered by $from nodes, not 3: $out"
[ "$replies" -le 9 ] || fail "probe flood: $replies replies to 300 probes"

# ---- goodbye, expiry, restart
netns_announce_stop node3 || fail "announcer on node3 exited $?: $(cat "${NETNS_ANNOUNCE_LOG[node3]}")"
grep -q 'said goodbye' "${NETNS_ANNOUNCE_LOG[node3]}" || fail "node3 said no goodbye"
wait_for -t 5 watched "^bye node3 ${NETNS_ADDR[node3]}\$" ||
	fail "watch: no bye from node3: $(cat "$WATCH_OUT")"

# Killed, node1 (interval 1 s) says nothing: it expires after 3 s.
kill -KILL "${NETNS_ANNOUNCE_PID[node1]}"
wait "${NETNS_ANNOUNCE_PID[node1]}" 2>/dev/null
NETNS_ANNOUNCE_PID[node1]=
wait_for -t 8 watched "^expired node1 ${NETNS_ADDR[node1]}\$" ||
	fail "watch: node1 did not expire: $(cat "$WATCH_OUT")"
watched "^bye node1" && fail "a killed announcer said bye"

# Restarted without a goodbye: a new instance.
kill -KILL "${NETNS_ANNOUNCE_PID[node2]}"
wait "${NETNS_ANNOUNCE_PID[node2]}" 2>/dev/null
NETNS_ANNOUNCE_PID[node2]=
netns_announce_start node2
wait_for -t 5 watched "^restarted node2 ${NETNS_ADDR[node2]} " ||
	fail "watch: node2's restart not seen: $(cat "$WATCH_OUT")"

out=$(discover --timeout 2) || fail "nothing found at the end"
expect_eq "nodes left" "node2" "$(grep -v '^flood-' <<<"$out" | cut -d' ' -f1 | sort -u | tr '\n' ' ' | sed 's/ $//')"

# Without --host-key: the system's host keys, in name order (the
# openssh-server package makes them).
keys=$(ls /etc/ssh/ssh_host_*_key.pub 2>/dev/null)
if [ -z "$keys" ]; then
	[ "${CI:-}" = true ] &&
		fail "no /etc/ssh/ssh_host_*_key.pub (CI=true, and scripts/deps.sh installs openssh-server, which makes them)"
	skip_part "trickle-node --announce without --host-key: no /etc/ssh/ssh_host_*_key.pub"
else
	want=$(for k in $keys; do ssh-keygen -lf "$k" | cut -d' ' -f2; done | tr '\n' ,)
	netns_host_add node4	# no sshd: no --host-key
	netns_announce_start node4 --ssh-port 2222
	out=$(discover --timeout 2) || fail "nothing found"
	expect_eq "default keys" "node4 ${NETNS_ADDR[node4]} 2222 $(nproc) $VERSION ${want%,}" \
	    "$(grep '^node4 ' <<<"$out")"
	netns_announce_stop node4 || fail "announcer on node4 exited $?"
fi

# The watcher's counts: junk malformed, the flood refused.
kill -TERM "$WATCH_PID"
wait "$WATCH_PID" || fail "trickle-discover --watch exited $?"
stats=$(grep 'received' "$WATCH_ERR")
expect_match "watch stats" 'malformed [1-9][0-9]*,.*refused [1-9]' "$stats"
c=$(grep -c 'warning' "$WATCH_ERR")
[ "$c" -le 5 ] || fail "watch logged $c warnings: $(head "$WATCH_ERR")"
netns_announce_stop node2 || fail "announcer on node2 exited $?"

# A mount made from a host's namespace is the test's too (nsenter --net).
MOUNTS+=("$M")
netns_exec init "$TRICKLEFS" -o "local=1,logfile=$LOG" "$M" 2>"$ERR" ||
	fail "mounting from init failed: $(cat "$ERR")"
is_mounted "$M" || fail "the mount made in init is not seen here"
expect_eq "a call from init's mount" 7 "$(call local0 "echo 7")"
fusermount3 -u "$M" || fail "fusermount3 -u $M"
echo "ok"
