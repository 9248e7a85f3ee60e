#!/bin/bash
# Unmounting an SSH mount ends every trickle-node process on the node (the
# node and its VM workers, even those running a call) and removes the
# injected files there.
. "$(dirname "$0")/lib.sh"
start_sshd

cp "$(command -v sleep)" "$T/tfs-sleep"
printf '#!/bin/sh\n%s 1000\n' "$T/tfs-sleep" >"$T/long"
chmod +x "$T/long"
mount_ssh a=127.0.0.1:$SSHD_PORT b=127.0.0.1:$SSHD_PORT
inject a "$BASIC_SO"
inject b "$T/long"
expect_eq "foo" 2 "$(call a "foo 1")"
id=$(fork a "sleeper 1000") || fail "fork sleeper"
idb=$(fork b long) || fail "fork long"
wait_for eval '[ "$(status a "$id" | cut -d" " -f1)" = running ]' || fail "sleeper not running"
wait_for eval '[ "$(status b "$idb" | cut -d" " -f1)" = running ]' || fail "long not running"
wait_for pgrep -f "^$T/tfs-sleep" >/dev/null || fail "the program's child is not running"
note_nodes
echo "node processes: $(printf '%s\n' "${SEEN_NODES[@]}" | sort -u | tr '\n' ' ')"
[ $(printf '%s\n' "${SEEN_NODES[@]}" | sort -u | wc -l) -ge 3 ] ||
	fail "expected a node and 2 workers, saw ${SEEN_NODES[*]}"
[ -n "$(find "$NODE_DIR" -path '*/inject/basic.so')" ] || fail "basic.so not on the node side"
[ -n "$(find "$NODE_DIR" -path '*/inject/long')" ] || fail "long not on the node side"

unmount
expect_no_nodes
wait_for eval '! pgrep -f "^$T/tfs-sleep" >/dev/null' ||
	fail "the running program's child $(pgrep -f "^$T/tfs-sleep") survived the unmount"
# The SSH session ended too: sshd has no child left but its listener's.
wait_for eval '[ -z "$(pgrep -P "$SSHD_PID")" ]' ||
	fail "sshd session processes left: $(pgrep -a -P "$SSHD_PID")"
