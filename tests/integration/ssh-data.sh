#!/bin/bash
# VM/data/ over SSH: two VMs (a, b) on one sshd.  cp in, ls -l, a call
# reads and changes a file, echo > and >>, mkdir/mv/rm/rmdir, a 16 MiB
# file both ways, no way out through a link, .all/data/ on both VMs.
TEST_TIMEOUT=150
. "$(dirname "$0")/lib.sh"
start_sshd

cat >"$T/show" <<'SH'
#!/bin/sh
exec /bin/cat "$@"
SH
cat >"$T/addline" <<'SH'
#!/bin/sh
echo "$2" >>"$1"
SH
cat >"$T/mklink" <<'SH'
#!/bin/sh
exec /bin/ln -s "$1" "$2"
SH
chmod +x "$T/show" "$T/addline" "$T/mklink"

mount_ssh a=127.0.0.1:$SSHD_PORT b=127.0.0.1:$SSHD_PORT
for p in show addline mklink; do inject a "$T/$p"; done
inject b "$T/show"
D=$M/a/data
expect_ls "$D"

printf 'alpha\nbeta\n' >"$T/table.txt"
cp "$T/table.txt" "$D/" || fail "cp table.txt a/data/"
expect_eq "size" 11 "$(stat -c %s "$D/table.txt")"
expect_match "ls -l" '^-rw-.* 11 .* table\.txt$' "$(ls -l "$D")"
expect_eq "call reads data/" "alpha
beta" "$(call a "show table.txt")"
call a "addline table.txt gamma" >/dev/null || fail "addline call"
expect_eq "cat after the call" "alpha
beta
gamma" "$(cat "$D/table.txt")"

echo X >"$D/names" && echo Y >"$D/names" && echo Z >>"$D/names" ||
	fail "echo > and >> data/names"
expect_eq "names" "Y
Z" "$(call a "show names")"

mkdir "$D/sub" && echo in >"$D/sub/f" && mv "$D/sub/f" "$D/sub/g" ||
	fail "mkdir, write, mv"
expect_ls "$D/sub" g
expect_eq "call reads sub/g" in "$(call a "show sub/g")"
rm "$D/sub/g" "$D/names" && rmdir "$D/sub" || fail "rm, rmdir"
expect_ls "$D" table.txt
expect_ls "$M/b/data"

head -c 16M /dev/urandom >"$T/big"
cp "$T/big" "$D/big" && cp "$D/big" "$T/big.back" || fail "cp 16 MiB in and out"
expect_eq "big sha256" "$(sha256sum <"$T/big")" "$(sha256sum <"$T/big.back")"
rm "$D/big"

echo secret >"$T/secret"
call a "mklink $T/secret out" >/dev/null || fail "mklink"
cat "$D/out" >/dev/null 2>&1 && fail "read through a link to outside succeeded"
(echo overwritten >"$D/out") 2>/dev/null && fail "write through a link to outside succeeded"
expect_eq "outside file" secret "$(cat "$T/secret")"
rm "$D/out" || fail "rm of the link"

cp "$T/table.txt" "$M/.all/data/t" || fail "cp to .all/data"
echo more >>"$M/.all/data/t" || fail ">> .all/data/t"
for vm in a b; do
	expect_eq "$vm call reads t" "alpha
beta
more" "$(call $vm "show t")"
done
rm "$M/.all/data/t" || fail "rm .all/data/t"
expect_ls "$M/b/data"
expect_ls "$D" table.txt

# The node side keeps data/ in the VM's directory under --dir.
[ $(find "$NODE_DIR" -path '*/data/table.txt' | wc -l) = 1 ] ||
	fail "expected data/table.txt once under $NODE_DIR: $(find "$NODE_DIR")"

unmount
expect_no_nodes
