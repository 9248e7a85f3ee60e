#!/bin/bash
# ProxyJump: a node reached through a bastion.  Two private sshds: the
# node's (also listening on 127.0.0.2, its HostName) and the bastion's
# (logging at DEBUG1, where sshd names each direct-tcpip forwarding).  The
# config file says "ProxyJump bastion" for the node's alias: the mount
# works, calls run, and the bastion's log shows the forwarding to the
# node.  The same through ProxyCommand; a ProxyJump= on the command line
# beats the file, and a dead bastion fails the mount with the proxy's
# own words.
. "$(dirname "$0")/lib.sh"
need_cmd ssh openssh-client

SSHD_EXTRA_CONFIG="ListenAddress 127.0.0.2"
start_sshd
node_port=$SSHD_PORT node_dir=$SSHD_DIR
SSHD_EXTRA_CONFIG="LogLevel DEBUG1"
start_sshd2
bastion_port=$SSHD2_PORT bastion_log=$SSHD_LOG

KH=$T/known_hosts
{
	echo "[127.0.0.2]:$node_port $(cut -d' ' -f1,2 "$node_dir/host_ed25519.pub")"
	echo "[127.0.0.1]:$bastion_port $(cut -d' ' -f1,2 "$SSHD_DIR/host_ed25519.pub")"
} >"$KH"

closed=$(closed_port) || exit 1

CFG=$T/ssh_config
cat >"$CFG" <<CFGEOF
Host bastion
	HostName 127.0.0.1
	Port $bastion_port
Host deadbastion
	HostName 127.0.0.1
	Port $closed
Host inner
	HostName 127.0.0.2
	Port $node_port
	ProxyJump bastion
Host inner-cmd
	HostName 127.0.0.2
	Port $node_port
	ProxyCommand ssh -F $CFG -W %h:%p bastion
Host *
	User $SSHD_USER
	IdentityFile $SSHD_KEY
	IdentitiesOnly yes
	UserKnownHostsFile $KH
	StrictHostKeyChecking yes
CFGEOF
NODEOPTS="node_command=$TRICKLE_NODE --dir $NODE_DIR,logfile=$LOG,connect_timeout=10"

# The bastion forwarded nothing yet.
grep -q 'direct-tcpip\|direct_tcpip' "$bastion_log" &&
	fail "the bastion's log names a forwarding before the mount"

tfs_mount -F "$CFG" -o "$NODEOPTS" inner "$M" ||
	fail "mount of inner through ProxyJump failed: $(cat "$ERR")"
inject inner "$BASIC_SO"
expect_eq "foo through the bastion" 20 "$(call inner "foo 10")"
grep -E 'direct.tcpip' "$bastion_log" | grep -q "127\.0\.0\.2.*$node_port" ||
	fail "the bastion's log shows no forwarding to 127.0.0.2:$node_port: $(grep -E 'direct.tcpip' "$bastion_log")"
grep -q "Accepted publickey for $SSHD_USER" "$node_dir/sshd.log" ||
	fail "the node's sshd saw no login"
unmount
forwards=$(grep -cE 'server_request_direct_tcpip' "$bastion_log")

# ProxyCommand, the same way.
tfs_mount -F "$CFG" -o "$NODEOPTS" inner-cmd "$M" ||
	fail "mount of inner-cmd through ProxyCommand failed: $(cat "$ERR")"
inject inner-cmd "$BASIC_SO"
expect_eq "add through ProxyCommand" 6 "$(call inner-cmd "add 1 2 3")"
unmount
[ "$(grep -cE 'server_request_direct_tcpip' "$bastion_log")" -gt "$forwards" ] ||
	fail "ProxyCommand did not go through the bastion"

# The command line beats the file: a dead bastion; its words are shown.
tfs_mount -F "$CFG" -o "$NODEOPTS,ProxyJump=deadbastion" inner "$M" &&
	fail "mount through a dead bastion succeeded"
echo "tricklefs said: $(cat "$ERR")"
expect_match "the proxy's words" "proxy said: .*(refused|$closed)" "$(cat "$ERR")"
is_mounted "$M" && fail "$M is mounted"
exit 0
