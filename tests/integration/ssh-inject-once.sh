#!/bin/bash
# Inject once per node: a 1 MiB shared object cp'd to .all/inject/ of 100
# VMs of one node goes over the link once (the node's cache, by SHA-256,
# linked into every VM), a second mount of the same user does not send it
# at all, and a cache entry whose bytes do not match its name is found
# out, sent again, and not used.  Bytes are the mount's count of what it
# sent to the host (VM/info "bytes sent").
TEST_TIMEOUT=280
. "$(dirname "$0")/lib.sh"
start_sshd

# A shared object of more than 1 MiB: basic.so with bytes after its end
# (the loader reads only what its headers point at).
BIG=$T/big.so
{ cat "$BASIC_SO"; head -c 1048576 /dev/urandom; } >"$BIG"
SIZE=$(stat -c %s "$BIG")
SUM=$(sha256sum "$BIG" | cut -d' ' -f1)
ENTRY=$NODE_DIR/cache/sha256/$SUM

sent() { sed -n 's/^bytes sent: //p' "$M/$1/info"; }

# After the unmount of 100 VMs: the node and its workers are gone (they
# die with it), and so is its session.  Cheaper than expect_no_nodes,
# which looks at each of the 101 processes it saw in turn.
big_mount_gone() {
	wait_for -t 30 eval '[ -z "$(pgrep -f -- "--dir $NODE_DIR")" ]' ||
		fail "trickle-node still running: $(pgrep -af -- "--dir $NODE_DIR")"
	wait_for -t 30 eval '[ -z "$(ls -d "$NODE_DIR"/session-* 2>/dev/null)" ]' ||
		fail "session left: $(ls -d "$NODE_DIR"/session-*)"
	SEEN_NODES=()
}

# inject_all VM: cp big.so to .all/inject/; prints the bytes the mount
# sent to VM's host meanwhile.
inject_all() {
	local before after
	before=$(sent "$1")
	cp "$BIG" "$M/.all/inject/big.so" || fail "cp big.so .all/inject/ failed"
	after=$(sent "$1")
	echo $((after - before))
}

# --- 100 VMs of one node: the file goes once.
mount_ssh "100/127.0.0.1:$SSHD_PORT"
vms=$(ls "$M" | grep -v '^\.')
n=$(echo "$vms" | wc -l)
expect_eq "VMs mounted" 100 "$n"
first=$(echo "$vms" | head -n 1)
last=$(echo "$vms" | tail -n 1)
d=$(inject_all "$first")
echo "100 VMs: $d bytes sent for a file of $SIZE"
[ "$d" -ge "$SIZE" ] || fail "sent $d bytes, less than the file ($SIZE)"
[ "$d" -lt $((SIZE + SIZE / 4)) ] ||
	fail "sent $d bytes for a $SIZE-byte file to 100 VMs of one node: more than once"
for v in $vms; do
	[ -e "$M/$v/inject/big.so" ] || fail "$v/inject has no big.so"
done
expect_eq "foo 10 on $last" 20 "$(call "$last" "foo 10")"
expect_eq "functions/foo source on $last" "big.so" \
	"$(sed -n 's/^source: //p' "$M/$last/functions/foo" 2>/dev/null || true)"
# On the node: one cache entry, 0700 directory, linked into every VM.
[ -f "$ENTRY" ] || fail "no cache entry $ENTRY: $(ls -la "$NODE_DIR/cache/sha256")"
expect_eq "cache directory mode" 700 "$(stat -c %a "$NODE_DIR/cache/sha256")"
expect_eq "links to the entry (cache + 100 VMs)" 101 "$(stat -c %h "$ENTRY")"
cmp -s "$BIG" "$M/$last/inject/big.so" || fail "$last/inject/big.so does not read back"
unmount
big_mount_gone
[ -f "$ENTRY" ] || fail "the cache entry went with the session"
expect_eq "links to the entry after unmount" 1 "$(stat -c %h "$ENTRY")"

# --- A second mount of the same user: not sent at all.
mount_ssh "4/127.0.0.1:$SSHD_PORT"
first=$(ls "$M" | grep -v '^\.' | head -n 1)
d=$(inject_all "$first")
echo "second mount: $d bytes sent"
[ "$d" -lt $((SIZE / 10)) ] || fail "second mount sent $d bytes: the node's cache had the file"
expect_eq "foo 3 on $first" 6 "$(call "$first" "foo 3")"
unmount
expect_no_nodes

# --- A corrupted entry: found out, sent again, never used.
chmod u+w "$ENTRY"
printf 'corrupt' | dd of="$ENTRY" bs=1 seek=4096 conv=notrunc status=none
[ "$(sha256sum "$ENTRY" | cut -d' ' -f1)" != "$SUM" ] || fail "could not corrupt $ENTRY"
mount_ssh "4/127.0.0.1:$SSHD_PORT"
first=$(ls "$M" | grep -v '^\.' | head -n 1)
d=$(inject_all "$first")
echo "corrupted entry: $d bytes sent"
[ "$d" -ge "$SIZE" ] || fail "sent $d bytes: the corrupted cache entry was used"
expect_eq "entry's sum once sent again" "$SUM" "$(sha256sum "$ENTRY" | cut -d' ' -f1)"
for v in $(ls "$M" | grep -v '^\.'); do
	expect_eq "foo 5 on $v" 10 "$(call "$v" "foo 5")"
done
grep -q "does not hold what its name says" "$LOG" ||
	fail "the node did not say the entry was corrupted: $(tail -n 20 "$LOG")"
unmount
expect_no_nodes
