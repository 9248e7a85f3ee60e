#!/bin/bash
# ~/.ssh/config as ssh reads it: a Host alias in a config file given with
# -F (and with -o ssh_config=, the fstab form) brings HostName, Port, User,
# IdentityFile and UserKnownHostsFile, so that "tricklefs -F FILE alias M"
# mounts with no SSH option on the command line.  What the command line
# says beats the file (NODE's :PORT, port=, known_hosts=), and a config
# file that is missing or bad fails the mount with its name.
. "$(dirname "$0")/lib.sh"
start_sshd

# A port nothing listens on, for values that must lose.
closed=$(closed_port) || exit 1

CFG=$T/ssh_config
cat >"$CFG" <<CFGEOF
# made by $TEST_NAME
Host other !cluster-*
	Port $closed
Host cluster-* !cluster-9
	HostName 127.0.0.1
	Port $SSHD_PORT
	User $SSHD_USER
	IdentityFile $SSHD_KEY
	IdentitiesOnly yes
	UserKnownHostsFile $SSHD_KNOWN_HOSTS
Host wrongport
	HostName 127.0.0.1
	Port $closed
	User $SSHD_USER
	IdentityFile $SSHD_KEY
	UserKnownHostsFile $SSHD_KNOWN_HOSTS
Match exec "false"
	Port $closed
Host *
	Port $closed
	User nobody-at-all
CFGEOF
NODEOPTS="node_command=$TRICKLE_NODE --dir $NODE_DIR,logfile=$LOG,connect_timeout=10"

# 1. By alias, everything from the file.
tfs_mount -F "$CFG" -o "$NODEOPTS" cluster-a "$M" ||
	fail "mount of alias cluster-a with -F failed: $(cat "$ERR")"
expect_eq "VMs" cluster-a "$(ls "$M" | grep -v '^\.')"
inject cluster-a "$BASIC_SO"
expect_eq "foo on the alias" 20 "$(call cluster-a "foo 10")"
expect_eq "add on the alias" 6 "$(call cluster-a "add 1 2 3")"
# The host line names the alias with the port and user it got.
expect_match "info names the alias" "host: $SSHD_USER@cluster-a:$SSHD_PORT" "$(cat "$M/cluster-a/info")"
grep -q "Accepted publickey for $SSHD_USER" "$SSHD_LOG" || fail "sshd saw no login as $SSHD_USER"
unmount

# 2. The fstab form, two aliases, one a NAME=.
tfs_mount -o "ssh_config=$CFG,$NODEOPTS" cluster-b x=cluster-c "$M" ||
	fail "mount with -o ssh_config= failed: $(cat "$ERR")"
expect_eq "VMs" "cluster-b x" "$(ls "$M" | grep -v '^\.' | tr '\n' ' ' | sed 's/ $//')"
inject x "$BASIC_SO"
expect_eq "foo on x" 4 "$(call x "foo 2")"
unmount

# 3. The command line beats the file: NODE's :PORT, then port=.
tfs_mount -F "$CFG" -o "$NODEOPTS" "wrongport:$SSHD_PORT" "$M" ||
	fail "wrongport:PORT did not beat the file's Port: $(cat "$ERR")"
unmount
tfs_mount -F "$CFG" -o "$NODEOPTS,port=$SSHD_PORT" wrongport "$M" ||
	fail "port= did not beat the file's Port: $(cat "$ERR")"
unmount
tfs_mount -F "$CFG" -p "$SSHD_PORT" -o "$NODEOPTS" wrongport "$M" ||
	fail "-p did not beat the file's Port: $(cat "$ERR")"
unmount
# ... and the file's Port is used without them (nothing listens there).
tfs_mount -F "$CFG" -o "$NODEOPTS" wrongport "$M" &&
	fail "wrongport mounted although its Port $closed is closed"
expect_match "refused at the file's port" "127\.0\.0\.1:$closed" "$(cat "$ERR")"
# known_hosts= beats UserKnownHostsFile: the impostor key is refused.
tfs_mount -F "$CFG" -o "$NODEOPTS,known_hosts=$SSHD_BAD_KNOWN_HOSTS" cluster-a "$M" &&
	fail "known_hosts= on the command line did not beat UserKnownHostsFile"
expect_match "host key refused" 'SHA256:' "$(cat "$ERR")"
# A negated pattern: cluster-9 gets only Host *, and its user and port.
tfs_mount -F "$CFG" -o "$NODEOPTS" cluster-9 "$M" &&
	fail "cluster-9 mounted although !cluster-9 excludes it"
is_mounted "$M" && fail "$M is mounted"

# 4. A missing or bad file fails the mount and names it.
tfs_mount -F "$T/no-such-config" -o "$NODEOPTS" cluster-a "$M" &&
	fail "mount with a missing -F file succeeded"
expect_match "names the missing file" "no-such-config" "$(cat "$ERR")"
# (in a block that matches no NODE: every value is checked)
printf 'Host elsewhere\n  Port seventy\n' >"$T/bad_config"
tfs_mount -o "ssh_config=$T/bad_config,$NODEOPTS" cluster-a "$M" &&
	fail "mount with a bad Port in the config succeeded"
expect_match "names the bad line" "bad_config:2.*seventy" "$(cat "$ERR")"
is_mounted "$M" && fail "$M is mounted"
exit 0
