#!/bin/bash
# A host missing from known_hosts is refused (mount fails, the message
# names it with its SHA256 fingerprint, nothing ran on it); so is a host
# nobody answers on, alone; beside a good one it mounts, and the dead
# host's VM fails its calls.
. "$(dirname "$0")/lib.sh"
start_sshd

# known_hosts holding only another host.
sed 's/^\[127\.0\.0\.1\]/[192.0.2.1]/' "$SSHD_KNOWN_HOSTS" >"$T/other_known_hosts"
for kh in "$T/other_known_hosts" /dev/null; do
	try_mount_ssh a=127.0.0.1:$SSHD_PORT -o "known_hosts=$kh"
	rc=$?
	[ $rc = 1 ] || fail "mount of an unknown host (known_hosts=$kh): exit $rc, expected 1"
	msg=$(cat "$ERR")
	echo "tricklefs said: $msg"
	expect_match "message names the host" '127\.0\.0\.1' "$msg"
	expect_match "message has the fingerprint" "$(printf '%s' "$SSHD_HOSTKEY_FP" | sed 's/[+/.]/\\&/g')" "$msg"
	is_mounted "$M" && fail "$M is mounted"
	[ -e "$NODE_DIR" ] && fail "the node ran: $NODE_DIR exists"
	expect_eq "node processes" "" "$(our_nodes)"
	grep -q "Accepted publickey" "$SSHD_LOG" && fail "tricklefs authenticated to an unknown host"
done

# Nobody listening: a port nothing on 127.0.0.1 accepts on.
port=
for i in $(seq 1 50); do
	p=$((20000 + RANDOM % 40000))
	(exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { port=$p; break; }
done
[ -n "$port" ] || fail "no closed port on 127.0.0.1 in 50 tries"
start=$(now_ms)
try_mount_ssh x=127.0.0.1:$port && fail "mount of a closed port succeeded"
echo "tricklefs said: $(cat "$ERR")"
expect_match "message names the host" "127\.0\.0\.1" "$(cat "$ERR")"
[ $(($(now_ms) - start)) -lt 10000 ] || fail "refused connection took $(($(now_ms) - start)) ms"
is_mounted "$M" && fail "$M is mounted"

# One good node is enough to mount; the good VM works.
mount_ssh a=127.0.0.1:$SSHD_PORT x=127.0.0.1:$port
echo "ls with one node down: $(timeout 5 ls "$M" | tr '\n' ' ')"
inject a "$BASIC_SO"
expect_eq "foo on the good node" 4 "$(call a "foo 2")"
# The unreachable node's VM is there, its calls fail (EIO, "node not up
# yet"), and it is tried again (ssh-never-up.sh: until it comes up).
[ -d "$M/x" ] || fail "the unreachable node's VM x is not in the mount: $(ls -A "$M" | tr '\n' ' ')"
id=$(fork x "foo 2") || fail "fork on the unreachable node's VM"
expect_errno "a call on the unreachable node" EIO read "$M/x/calls/$id/result"
expect_match "its status" '^failed node not up yet \(being tried again\): .*connection refused' "$(status x "$id")"
expect_match "x in .ctl" '^x .* unreachable ' "$(grep '^x ' "$M/.ctl")"
unmount
