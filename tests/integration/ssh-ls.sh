#!/bin/bash
# Two hosts (two sshds) x 4 VMs from a hostfile: VM names (NAME=, else the
# host, "-2".. for duplicates), comments, USER@; every VM is its own.
TEST_TIMEOUT=120
. "$(dirname "$0")/lib.sh"
start_sshd
start_sshd2
P1=$SSHD_PORT P2=$SSHD2_PORT

cat >"$T/hosts" <<EOT
# first host: four VMs named after it
127.0.0.1:$P1
127.0.0.1:$P1

   # an indented comment, and a blank line above
127.0.0.1:$P1
127.0.0.1:$P1
# second host, as root, with names
b0=root@127.0.0.1:$P2
b1=root@127.0.0.1:$P2
b2=root@127.0.0.1:$P2
b3=root@127.0.0.1:$P2
EOT
mount_ssh -o "hostfile=$T/hosts"
vms=(127.0.0.1 127.0.0.1-2 127.0.0.1-3 127.0.0.1-4 b0 b1 b2 b3)
expect_ls "$M" .all .any .ctl .done .log "${vms[@]}"
for vm in "${vms[@]}"; do
	expect_ls "$M/$vm" calls checkpoints ctl data functions info inject objects
	expect_ls "$M/$vm/calls" new
done

# Nodes on both hosts.
[ -n "$(nodes_under "$SSHD1_PID")" ] || fail "no trickle-node on the first host"
[ -n "$(nodes_under "$SSHD_PID")" ] || fail "no trickle-node on the second host"

n=1
for vm in "${vms[@]}"; do
	inject "$vm" "$BASIC_SO"
	expect_eq "$vm add" $((n + 100)) "$(call "$vm" "add $n 100")"
	n=$((n + 1))
done
# Each VM has its own state.
for vm in "${vms[@]}"; do expect_eq "$vm counter" 1 "$(call "$vm" counter)"; done
expect_eq "b2 counter" 2 "$(call b2 counter)"
expect_eq "127.0.0.1-3 counter" 2 "$(call 127.0.0.1-3 counter)"
note_nodes
unmount
expect_no_nodes
