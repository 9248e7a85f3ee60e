#!/bin/bash
# Read-ahead of VM/data/ files over SSH (issue 12): a sequential reader
# is served from pieces asked of the node ahead of it.  What it must not
# do:
#   1. serve bytes read ahead before the file was rewritten through the
#      mount: a reader takes 1 MiB (the next MiBs are asked ahead), the
#      file's next 8 MiB are overwritten through another descriptor, the
#      reader goes on and must get the new bytes;
#   2. keep the end of a file it reached: a reader at the end, after a
#      call appended to the file on the node, must see what was appended
#      (tail -f);
#   3. serve a piece that failed: as ssh-readahead-drop does for a call's
#      stdout, a reader of a 32 MiB data/ file waits on pieces asked when
#      the node's SSH connection is killed (readahead-lib.sh).
TEST_TIMEOUT=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault-lib.sh"
. "$(dirname "$0")/readahead-lib.sh"
start_sshd

cat >"$T/addline" <<'SH'
#!/bin/sh
echo "$2" >>"$1"
SH
chmod +x "$T/addline"

mount_ssh a=127.0.0.1:$SSHD_PORT -o ServerAliveInterval=1
inject a "$T/addline"
D=$M/a/data
sha() { sha256sum | cut -d' ' -f1; }

# 1. Rewritten through the mount under a reader.
head -c 16M /dev/urandom >"$T/old"
head -c 8M /dev/urandom >"$T/new"
cp "$T/old" "$D/f" || fail "cp into data/f"
{
	head -c 1M "$T/old"
	cat "$T/new"
	tail -c +$((9 * 1048576 + 1)) "$T/old"
} >"$T/want"
exec 3<"$D/f" || fail "open data/f"
dd bs=1M count=1 status=none <&3 >"$T/part1" || fail "read 1 MiB of data/f"
dd if="$T/new" of="$D/f" bs=1M seek=1 conv=notrunc status=none ||
	fail "overwrite data/f"
cat <&3 >"$T/rest" || fail "read the rest of data/f"
exec 3<&-
expect_eq "bytes read across a rewrite" $((16 * 1048576)) \
	"$(cat "$T/part1" "$T/rest" | wc -c)"
expect_eq "sha256 read across a rewrite (not the old bytes)" \
	"$(sha <"$T/want")" "$(cat "$T/part1" "$T/rest" | sha)"

# 2. A reader at the end sees what a call appends.
echo one >"$D/g" || fail "write data/g"
exec 4<"$D/g" || fail "open data/g"
expect_eq "data/g at first" one "$(cat <&4)"
expect_eq "data/g at its end" "" "$(cat <&4)"
call a "addline g two" >/dev/null || fail "the call appending to g"
expect_eq "data/g after the call appended" two "$(cat <&4)"
exec 4<&-

# 3. A dropped link under a reader waiting on pieces.
MIB=32
head -c $((MIB * 1048576)) /dev/urandom >"$T/big"
cp "$T/big" "$D/big" || fail "cp into data/big"
read_across_drop "$D/big" "$T/big"
unmount
