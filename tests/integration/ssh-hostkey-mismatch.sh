#!/bin/bash
# A host key that does not match known_hosts is refused: the mount fails
# (exit 1), stderr names the host and the key's SHA256 fingerprint, and
# nothing ran on the node.
. "$(dirname "$0")/lib.sh"
start_sshd

try_mount_ssh a=127.0.0.1:$SSHD_PORT -o "known_hosts=$SSHD_BAD_KNOWN_HOSTS"
rc=$?
[ $rc = 1 ] || fail "mount with a mismatching host key: exit $rc, expected 1"
msg=$(cat "$ERR")
echo "tricklefs said: $msg"
expect_match "message names the host" '127\.0\.0\.1' "$msg"
expect_match "message has a fingerprint" 'SHA256:' "$msg"
expect_match "fingerprint of the key offered" "$(printf '%s' "$SSHD_HOSTKEY_FP" | sed 's/[+/.]/\\&/g')" "$msg"
is_mounted "$M" && fail "$M is mounted"
for e in "${FS_PIDS[@]}"; do alive "$e" && fail "tricklefs still running"; done
pgrep -f -- " $M\$" >/dev/null && fail "a tricklefs for $M is still running"

# Nothing ran on the node: no session, no node process, no files.
[ -e "$NODE_DIR" ] && fail "the node ran: $NODE_DIR exists ($(find "$NODE_DIR"))"
expect_eq "node processes" "" "$(our_nodes)"
grep -q "Accepted publickey" "$SSHD_LOG" && fail "tricklefs authenticated to a host it should not trust"

exit 0
