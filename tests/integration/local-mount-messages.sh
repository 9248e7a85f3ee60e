#!/bin/bash
# What the terminal says when a mount cannot start, and what it quietly
# takes: a missing mount point is named (no "bad FUSE options" after
# it); an unknown option is named before anything else is looked at;
# fstab's and mount(8)'s words are ignored; the source word none or
# tricklefs names no node; FUSE's own options still reach libfuse; bad
# node sets and slot counts say why.
. "$(dirname "$0")/lib.sh"

# refused WHAT WANT ARG...: tricklefs ARG... fails, and its stderr is the
# one line "tricklefs: WANT".
refused() {
	local what=$1 want=$2 rc
	shift 2
	"$TRICKLEFS" "$@" >"$T/out" 2>"$T/err" && fail "$what: tricklefs $* succeeded"
	rc=$?
	[ "$rc" = 1 ] || fail "$what: exit status $rc, not 1"
	expect_eq "$what: stderr" "tricklefs: $want" "$(cat "$T/err")"
	[ -s "$T/out" ] && fail "$what: stdout: $(cat "$T/out")"
	is_mounted "$M" && fail "$what: $M is mounted"
	return 0
}
vms() { ls "$M" | grep -v '^\.' | tr '\n' ' '; }

refused "a missing mount point" \
	"mount point $T/nope: No such file or directory (create it first: mkdir -p '$T/nope')" \
	-o local=1 "$T/nope"
: >"$T/file"
refused "a file as mount point" "mount point $T/file: not a directory" \
	-o local=1 "$T/file"
refused "a misspelt option" "unknown option \`locl' (see tricklefs --help)" \
	-o locl=1 "$M"
# Named first: before the mount point, the nodes, anything.
refused "a misspelt option, with a missing mount point" \
	"unknown option \`locl' (see tricklefs --help)" \
	-o local=1,locl=1 "$T/nope"
refused "an unknown flag" "unknown option \`-x' (see tricklefs --help)" \
	-x -o local=1 "$M"
refused "no node at all" \
	"no VMs: give NODE arguments, -o hostfile=FILE, -o local=N, -o discover or -o slurm" \
	none "$M"

# Node sets and slots that cannot be.
refused "a bad node set" \
	"bad node set \"node[1-\": a '[' without its ']'" "node[1-" "$M"
refused "a set too large" \
	"node set \"n[1-100000]\" names more than 65536 nodes" "n[1-100000]" "$M"
refused "NAME= on a set" \
	"bad node \"w=n[1-2]\": NAME= names one node, and this set has 2" \
	"w=n[1-2]" "$M"
refused "too many slots" \
	"bad node \"1025/node1\": N/ must be 1-1024 VMs on a node (trickle-node's limit)" \
	"1025/node1" "$M"
refused "slots past a node's limit, over two words" \
	"node1:22: 1025 VMs on one node, more than trickle-node holds (1024)" \
	"1000/node1" "25/node1" "$M"
refused "vms_per_node past a node's limit" \
	"vms_per_node=2000: a node holds at most 1024 VMs" \
	-o vms_per_node=2000 node1 "$M"

# fstab's words go quietly; FUSE's own options reach libfuse.
tfs_mount -o noauto,user,users,_netdev,nofail,x-systemd.automount,defaults \
	-o auto,rw,dev,suid,exec,comment=x,nosuid,nodev,fsname=tfs-test \
	-o "local=2,logfile=$LOG" tricklefs "$M" ||
	fail "mount with fstab words failed: $(cat "$ERR")"
[ -s "$ERR" ] && fail "mount with fstab words said: $(cat "$ERR")"
expect_eq "VMs" "local0 local1 " "$(vms)"
expect_match "/proc/mounts" "^tfs-test $M fuse(\.tricklefs)? .*nosuid,nodev" \
	"$(grep " $M " /proc/mounts)"
cp "$BASIC_SO" "$M/.all/inject/" || fail "cp basic.so .all/inject/"
expect_eq "foo 4 on local1" 8 "$(call local1 "foo 4")"
unmount
expect_no_nodes
