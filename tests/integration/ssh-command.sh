#!/bin/bash
# -o ssh_command=CMD (sshfs's): nodes reached by the OpenSSH client
# instead of libssh2, as "CMD [-F FILE] [-i KEY] [-o UserKnownHostsFile=F]
# [-p PORT] [-l USER] HOST NODE_COMMAND".  Calls run; the link is an ssh
# process of the mount; ssh reads a -F config itself (an alias); a node
# ssh cannot reach fails the mount with ssh's own words.
. "$(dirname "$0")/lib.sh"
need_cmd ssh openssh-client
start_sshd

SSHCMD="ssh -o BatchMode=yes -o StrictHostKeyChecking=yes"
mount_ssh a=127.0.0.1:$SSHD_PORT -o "ssh_command=$SSHCMD"
inject a "$BASIC_SO"
expect_eq "foo over ssh_command" 20 "$(call a "foo 10")"
expect_eq "counter" 1 "$(call a counter)"
# The link is an OpenSSH client, a child of the mount, given our options.
kids=$(pgrep -a -P "$FS_PID" ssh) || fail "no ssh process below tricklefs $FS_PID"
echo "the link: $kids"
expect_match "ssh gets the port, key and node" "-p $SSHD_PORT .*127\.0\.0\.1 .*trickle-node" "$kids"
expect_match "ssh gets the identity" "-i $SSHD_KEY" "$kids"
unmount
expect_no_nodes

# ssh reads the config file itself: an alias.
cat >"$T/ssh_config" <<CFGEOF
Host viaconfig
	HostName 127.0.0.1
	Port $SSHD_PORT
	User $SSHD_USER
	IdentityFile $SSHD_KEY
	IdentitiesOnly yes
	UserKnownHostsFile $SSHD_KNOWN_HOSTS
CFGEOF
tfs_mount -F "$T/ssh_config" -o "ssh_command=$SSHCMD,node_command=$TRICKLE_NODE --dir $NODE_DIR,logfile=$LOG" viaconfig "$M" ||
	fail "mount of an alias with ssh_command failed: $(cat "$ERR")"
inject viaconfig "$BASIC_SO"
expect_eq "add over ssh_command by alias" 6 "$(call viaconfig "add 1 2 3")"
unmount

# ssh's own reason when it cannot connect.
closed=$(closed_port) || exit 1
try_mount_ssh x=127.0.0.1:$closed -o "ssh_command=$SSHCMD" &&
	fail "mount of a closed port through ssh_command succeeded"
echo "tricklefs said: $(cat "$ERR")"
expect_match "ssh's words" "Connection refused" "$(cat "$ERR")"
is_mounted "$M" && fail "$M is mounted"
exit 0
