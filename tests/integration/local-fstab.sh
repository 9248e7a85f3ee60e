#!/bin/bash
# fstab lines, mounted by mount(8) from a private fstab (mount -T FILE
# DIR), as root: the documented "fuse.tricklefs" line (mount.fuse3 runs
# `tricklefs SOURCE DIR -o OPTS`, from mount(8)'s own PATH: here in a
# private mount namespace where /usr/local/bin holds this build's
# tricklefs), and the older "PROGRAM#SOURCE ... fuse" form, with the
# source word none (no node: the VMs come from local=) and noauto,
# user, _netdev, nofail, x-systemd.* among the options; and the type
# tricklefs, through our mount.tricklefs.  umount(8) unmounts.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip "mount(8) with an fstab needs root"
mount --help 2>&1 | grep -q -- '--fstab' || skip "mount(8) has no -T/--fstab"
[ -x /sbin/mount.fuse3 ] || [ -x /usr/sbin/mount.fuse3 ] ||
	missing_dep "no mount.fuse3 (Debian package fuse3)"
need_cmd unshare util-linux

OPTS="noauto,user,_netdev,nofail,x-systemd.automount,local=2,logfile=$LOG"
TRICKLEFS=$(readlink -f "$TRICKLEFS")

# The daemon mount.fuse3 started for mount point $1 (its command line
# is "tricklefs SOURCE DIR -o OPTS").
daemon_of() {
	local p
	for p in $(pgrep -f -- " $1 -o "); do
		[ "$(readlink -f "/proc/$p/exe" 2>/dev/null)" = "$TRICKLEFS" ] &&
		    { echo "$p"; return 0; }
	done
	return 1
}

# 1. TRICKLEFS#none with type fuse (the absolute path: mount(8) gives
#    its helpers a PATH of its own).
printf '%s#none %s fuse %s 0 0\n' "$TRICKLEFS" "$M" "$OPTS" >"$T/fstab"
MOUNTS+=("$M")
mount -T "$T/fstab" "$M" 2>"$ERR" || fail "mount -T: $(cat "$ERR")"
is_mounted "$M" || fail "mount -T returned 0 but $M is not mounted"
FS_PID=$(daemon_of "$M") || fail "no tricklefs daemon for $M"
FS_PIDS+=("$FS_PID:$(starttime_of "$FS_PID")")
note_nodes
expect_eq "VMs" "local0 local1" "$(ls "$M" | grep -v '^\.' | tr '\n' ' ' | sed 's/ $//')"
cp "$BASIC_SO" "$M/.all/inject/" || fail "cp basic.so .all/inject/"
expect_eq "foo 5 on local1" 10 "$(call local1 "foo 5")"
expect_match "/proc/mounts" "^tricklefs $M fuse\.tricklefs .*nosuid,nodev" \
	"$(grep " $M " /proc/mounts)"
umount "$M" || fail "umount $M"
wait_for -t 15 eval "! alive ${FS_PIDS[0]}" || fail "tricklefs still runs after umount"
expect_no_nodes

# 2. The documented line: none DIR fuse.tricklefs OPTS, in a private
#    mount namespace whose /usr/local/bin (on mount(8)'s PATH) holds
#    this build's tricklefs; then 3. type tricklefs, through our
#    mount.tricklefs, with /usr/sbin (where mount(8) looks for helpers)
#    holding it.
need_var MOUNT_TRICKLEFS mount.tricklefs
mkdir -p "$T/bin" "$T/sbin"
ln -s "$TRICKLEFS" "$T/bin/tricklefs"
install -m 755 "$MOUNT_TRICKLEFS" "$T/sbin/mount.tricklefs"
printf 'none %s fuse.tricklefs %s 0 0\n' "$M" "$OPTS" >"$T/fstab2"
printf 'none %s tricklefs %s 0 0\n' "$M" "$OPTS" >"$T/fstab3"
sbin=$(readlink -f /sbin)
cat >"$T/inner.sh" <<INNER
set -u
trap 'fusermount3 -uz "$M" 2>/dev/null' EXIT
# Mount the fstab \$1, call foo 21 on local0, say what /proc/mounts has.
try() {
	mount -T "\$1" "$M" || { echo "mount -T \$1 failed"; exit 1; }
	ls "$M" | grep -v '^\.' | tr '\n' ' '
	cp "$BASIC_SO" "$M/.all/inject/" || { echo "cp failed"; exit 1; }
	exec 3<>"$M/local0/calls/new" && echo "foo 21" >&3 &&
		read -r id <&3 && exec 3>&- &&
		cat "$M/local0/calls/\$id/result"
	grep " $M " /proc/mounts | cut -d' ' -f1,3
	umount "$M" || { echo "umount failed"; exit 1; }
	for i in \$(seq 150); do
		[ -z "\$(pgrep -f -- " $M -o ")" ] && return 0
		sleep 0.1
	done
	echo "tricklefs still runs after umount"
	exit 1
}
mount --bind "$T/bin" /usr/local/bin || { echo "bind failed"; exit 2; }
try "$T/fstab2"
mount --bind "$T/sbin" "$sbin" || { echo "bind failed"; exit 2; }
try "$T/fstab3"
INNER
out=$(unshare -m --propagation private bash "$T/inner.sh" 2>"$T/inner.err")
rc=$?
[ $rc = 2 ] && skip "cannot bind-mount in a private mount namespace: $(cat "$T/inner.err")"
[ $rc = 0 ] || fail "fuse.tricklefs line: $out $(cat "$T/inner.err")"
expect_eq "fuse.tricklefs, then tricklefs lines" "local0 local1 42
tricklefs fuse.tricklefs
local0 local1 42
tricklefs fuse.tricklefs" "$out"
expect_no_nodes
