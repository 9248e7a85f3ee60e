#!/bin/bash
# Node sets and slots over SSH: one sshd listening on 127.0.0.1 and
# 127.0.0.2 stands for two hosts.  "127.0.0.[1-2]:PORT" names both,
# "2/127.0.0.1:PORT" puts two more VMs on the first (one connection per
# address); a host file holds a node set, with -o vms_per_node=2 applied
# to named nodes; ".ctl connect" takes a set and N/.  Every VM made runs
# a call.
TEST_TIMEOUT=200
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"
SSHD_EXTRA_CONFIG="ListenAddress 127.0.0.2"
start_sshd
P=$SSHD_PORT
# The same host key answers on both addresses.
sed "s/^\[127\.0\.0\.1\]/[127.0.0.2]/" "$SSHD_KNOWN_HOSTS" >>"$SSHD_KNOWN_HOSTS"
(exec 3<>"/dev/tcp/127.0.0.2/$P") 2>/dev/null ||
	skip "sshd cannot listen on 127.0.0.2 here"

# The VM directories (no dot names), sorted, on one line.
vms() { ls "$M" | grep -v '^\.' | sort | tr '\n' ' '; }
# How many VMs .ctl lists on host $1 (USER@HOST:PORT or HOST:PORT).
on_host() { awk -v h="$1" '$2 == h' "$M/.ctl" | wc -l; }
# Every VM runs a call.
all_run() {
	local v
	cp "$BASIC_SO" "$M/.all/inject/" || fail "cp basic.so .all/inject/"
	for v in $(vms); do
		expect_eq "foo 4 on $v" 8 "$(call "$v" "foo 4")"
	done
}

# A set and slots on the command line.
mount_ssh "127.0.0.[1-2]:$P" "2/127.0.0.1:$P"
expect_eq "VMs of 127.0.0.[1-2] 2/127.0.0.1" \
	"127.0.0.1 127.0.0.1.0 127.0.0.1.1 127.0.0.2 " "$(vms)"
expect_eq "VMs on 127.0.0.1" 3 "$(on_host "127.0.0.1:$P")"
expect_eq "VMs on 127.0.0.2" 1 "$(on_host "127.0.0.2:$P")"
all_run
unmount
expect_no_nodes

# A host file with a set; vms_per_node for named nodes, N/ over it.
cat >"$T/hosts" <<HOSTS
# two hosts, two VMs each (vms_per_node=2)
127.0.0.[1-2]:$P
3/w=$SSHD_USER@127.0.0.2:$P	# three VMs w.0 w.1 w.2
HOSTS
mount_ssh -o "hostfile=$T/hosts,vms_per_node=2"
expect_eq "VMs of the host file" \
	"127.0.0.1.0 127.0.0.1.1 127.0.0.2.0 127.0.0.2.1 w.0 w.1 w.2 " "$(vms)"
expect_eq "VMs on 127.0.0.2 (no user)" 2 "$(on_host "127.0.0.2:$P")"
expect_eq "VMs on $SSHD_USER@127.0.0.2" 3 "$(on_host "$SSHD_USER@127.0.0.2:$P")"
all_run
unmount
expect_no_nodes

# .ctl connect with a set, and with N/.
mount_ssh "a=127.0.0.1:$P"
write_to "$M/.ctl" "connect b[1-2]=127.0.0.1:$P" >/dev/null &&
	fail "connect with a set in NAME= succeeded"
err=$(write_to "$M/.ctl" "connect n=127.0.0.[1-2]:$P") &&
	fail "connect of NAME= for two nodes succeeded"
expect_eq "connect NAME= on a set" EINVAL "$err"
err=$(write_to "$M/.ctl" "connect 127.0.0.[1-") &&
	fail "connect of a bad set succeeded"
expect_eq "connect of a bad set" EINVAL "$err"
grep -q "bad node set \"127.0.0.\[1-\"" "$LOG" ||
	fail "the log does not say why the set was refused: $(tail -3 "$LOG")"
expect_eq "VMs after refused connects" "a " "$(vms)"
write_to "$M/.ctl" "connect 127.0.0.[1-2]:$P" >/dev/null ||
	fail "connect 127.0.0.[1-2] failed: $(tail -3 "$LOG")"
write_to "$M/.ctl" "connect 2/c=127.0.0.2:$P" >/dev/null ||
	fail "connect 2/c= failed: $(tail -3 "$LOG")"
expect_eq "VMs after connects" "127.0.0.1 127.0.0.2 a c.0 c.1 " "$(vms)"
expect_eq ".ctl lines" 5 "$(wc -l <"$M/.ctl")"
all_run
unmount
expect_no_nodes
