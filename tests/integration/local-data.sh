#!/bin/bash
# VM/data/ is the VM's working directory: cp in, calls open by relative
# path, cat shows what calls changed, echo > and >> update in place, ls -l
# has real sizes and mtimes, mkdir/rmdir/rm/mv/chmod/touch/truncate work,
# long listings page, a 64 MiB file streams both ways in bounded memory,
# paths never lead out of the data directory, .all/data/ changes every VM,
# and a dead node fails data/ requests instead of hanging them.
TEST_TIMEOUT=150
. "$(dirname "$0")/lib.sh"

# Injected programs run in the data directory.
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
cat >"$T/mkmany" <<'SH'
#!/bin/sh
/bin/mkdir -p "$1" && cd "$1" || exit 1
i=0
while [ $i -lt "$2" ]; do
	: >"entry-$i-with-a-long-name-so-that-the-listing-needs-several-pages-of-the-node-protocol-$i"
	i=$((i + 1))
done
SH
chmod +x "$T/show" "$T/addline" "$T/mklink" "$T/mkmany"

mount_local 2
for p in show addline mklink mkmany; do inject local0 "$T/$p"; done
inject local1 "$T/show"
D=$M/local0/data
expect_ls "$D"

# cp in: real size and mtime; a call reads it by relative path.
printf 'alpha\nbeta\n' >"$T/table.txt"
cp "$T/table.txt" "$D/" || fail "cp table.txt data/"
expect_ls "$D" table.txt
expect_eq "size" 11 "$(stat -c %s "$D/table.txt")"
age=$(($(date +%s) - $(stat -c %Y "$D/table.txt")))
[ $age -ge -5 ] && [ $age -le 60 ] || fail "mtime is $age s old"
expect_match "ls -l" '^-rw-.* 11 .* table\.txt$' "$(ls -l "$D")"
expect_eq "call reads data/" "alpha
beta" "$(call local0 "show table.txt")"

# A call changes it: cat sees the new content and size at once.
call local0 "addline table.txt gamma" >/dev/null || fail "addline call"
expect_eq "cat after the call" "alpha
beta
gamma" "$(cat "$D/table.txt")"
expect_eq "size after the call" 17 "$(stat -c %s "$D/table.txt")"

# echo > replaces, >> appends (also after a call appended).
echo X >"$D/names" || fail "echo X > data/names"
expect_eq "echo >" X "$(cat "$D/names")"
echo Y >"$D/names" || fail "echo Y > data/names"
expect_eq "echo > again" Y "$(cat "$D/names")"
echo Z >>"$D/names" || fail "echo Z >> data/names"
expect_eq "echo >>" "Y
Z" "$(cat "$D/names")"
call local0 "addline names W" >/dev/null || fail "addline names"
echo V >>"$D/names" || fail "echo V >> data/names"
expect_eq ">> after a call" "Y
Z
W
V" "$(call local0 "show names")"

# truncate, chmod, touch
truncate -s 2 "$D/names" || fail "truncate"
expect_eq "truncated" Y "$(cat "$D/names")"
truncate -s 100000 "$D/names" || fail "truncate up"
expect_eq "extended" 100000 "$(stat -c %s "$D/names")"
chmod 640 "$D/names" || fail "chmod"
expect_eq "mode" 640 "$(stat -c %a "$D/names")"
touch -d @1000000000 "$D/names" || fail "touch -d"
expect_eq "mtime" 1000000000 "$(stat -c %Y "$D/names")"
touch "$D/names" "$D/touched" || fail "touch"
age=$(($(date +%s) - $(stat -c %Y "$D/names")))
[ $age -ge -5 ] && [ $age -le 60 ] || fail "touch: mtime is $age s old"
expect_eq "touch creates" 0 "$(stat -c %s "$D/touched")"

# Directories, mv, rm.
mkdir "$D/sub" || fail "mkdir"
expect_match "a directory" '^d' "$(ls -ld "$D/sub")"
echo in >"$D/sub/f" || fail "write in sub/"
expect_eq "call reads sub/f" in "$(call local0 "show sub/f")"
mv "$D/sub/f" "$D/sub/g" || fail "mv within sub/"
expect_ls "$D/sub" g
mv "$D/sub" "$D/moved" || fail "mv sub moved"
expect_ls "$D/moved" g
expect_eq "after mv" in "$(cat "$D/moved/g")"
expect_errno "rmdir of a non-empty directory" ENOTEMPTY rmdir "$D/moved"
expect_errno "mkdir over a file" EEXIST mkdir "$D/table.txt"
expect_errno "cat of a missing file" ENOENT read "$D/nothing"
expect_errno "cat of a directory" EISDIR read "$D/moved"
rm "$D/moved/g" "$D/names" "$D/touched" || fail "rm"
rmdir "$D/moved" || fail "rmdir"
expect_ls "$D" table.txt
expect_ls "$M/local1/data"

# A listing longer than one page of the protocol.
call local0 "mkmany many 2500" >/dev/null || fail "mkmany"
expect_eq "entries listed" 2500 "$(ls "$D/many" | wc -l)"
expect_eq "distinct entries" 2500 "$(ls "$D/many" | sort -u | wc -l)"
expect_eq "ls -l entries" 2501 "$(ls -l "$D/many" | wc -l)"
rm -r "$D/many" || fail "rm -r many"
expect_ls "$D" table.txt

# 64 MiB in and out, identical, without tricklefs holding it.
head -c 64M /dev/urandom >"$T/big"
start=$(now_ms)
cp "$T/big" "$D/big" || fail "cp big in"
expect_eq "big size" 67108864 "$(stat -c %s "$D/big")"
cp "$D/big" "$T/big.back" || fail "cp big out"
echo "64 MiB in and out in $(($(now_ms) - start)) ms"
expect_eq "big sha256" "$(sha256sum <"$T/big")" "$(sha256sum <"$T/big.back")"
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$FS_PID/status")
echo "tricklefs peak RSS: $hwm kB"
# (AddressSanitizer keeps freed memory in quarantine: no bound then.)
if grep -qa __asan_init "$TRICKLEFS"; then
	skip_part "the bound on tricklefs's peak RSS: an AddressSanitizer build"
else
	[ "$hwm" -lt 40000 ] || fail "tricklefs peak RSS $hwm kB after copying 64 MiB"
fi
rm "$D/big" "$T/big.back"

# No way out of the data directory: links a call makes that lead outside
# are not followed (reading fails, writing does not reach the target),
# but can be listed and removed; one that stays inside works.
echo secret >"$T/secret"
call local0 "mklink $T/secret abs" >/dev/null || fail "mklink abs"
call local0 "mklink ../../../../../../../../../../..$T/secret rel" >/dev/null ||
	fail "mklink rel"
call local0 "mklink $T outdir" >/dev/null || fail "mklink outdir"
call local0 "mklink table.txt inside" >/dev/null || fail "mklink inside"
expect_ls "$D" abs rel outdir inside table.txt
for l in abs rel; do
	cat "$D/$l" >/dev/null 2>&1 && fail "read through $l succeeded"
	(echo overwritten >"$D/$l") 2>/dev/null && fail "write through $l succeeded"
	(echo appended >>"$D/$l") 2>/dev/null && fail "append through $l succeeded"
done
ls "$D/outdir/" >/dev/null 2>&1 && fail "listing through outdir succeeded"
(echo x >"$D/outdir/new") 2>/dev/null && fail "create through outdir succeeded"
[ -e "$T/new" ] && fail "a file was created outside the data directory"
expect_eq "outside file" secret "$(cat "$T/secret")"
expect_eq "link inside" "alpha
beta
gamma" "$(cat "$D/inside")"
rm "$D/abs" "$D/rel" "$D/outdir" "$D/inside" || fail "rm of the links"
expect_eq "outside file after rm" secret "$(cat "$T/secret")"
[ -d "$T" ] || fail "rm through a link removed its target"
expect_ls "$D" table.txt

# .all/data/: changes go to every VM, reads come from the first.
A=$M/.all/data
cp "$T/table.txt" "$A/t" || fail "cp to .all/data"
for vm in local0 local1; do
	expect_eq "$vm/data/t" "alpha
beta" "$(cat "$M/$vm/data/t")"
	expect_eq "$vm call reads t" "alpha
beta" "$(call $vm "show t")"
done
echo more >>"$A/t" || fail ">> .all/data/t"
call local0 "addline t local0-only" >/dev/null || fail "addline t"
echo last >>"$A/t" || fail ">> .all/data/t again"
expect_eq "local0 t" "alpha
beta
more
local0-only
last" "$(cat "$M/local0/data/t")"
expect_eq "local1 t" "alpha
beta
more
last" "$(cat "$M/local1/data/t")"
expect_eq ".all reads the first VM" "$(cat "$M/local0/data/t")" "$(cat "$A/t")"
mkdir "$A/dir" && echo hi >"$A/dir/f" || fail "mkdir and write in .all"
expect_ls "$M/local1/data/dir" f
mv "$A/dir/f" "$A/dir/g" || fail "mv in .all"
chmod 600 "$A/dir/g" && touch -d @1500000000 "$A/dir/g" || fail "chmod/touch in .all"
for vm in local0 local1; do
	expect_eq "$vm mode" "600 1500000000" "$(stat -c '%a %Y' "$M/$vm/data/dir/g")"
done
# A file only the first VM has: cp over it through .all puts it on all.
echo solo >"$D/solo"
cp "$T/table.txt" "$A/solo" || fail "cp over a file only local0 has"
expect_eq "local1 solo" "alpha
beta" "$(cat "$M/local1/data/solo")"
rm -r "$A/dir" "$A/t" "$A/solo" || fail "rm in .all"
# Removing what only some VMs have is no error: it is gone from all.
echo only >"$D/only"
rm "$A/only" || fail "rm of a file only local0 has, through .all"
expect_ls "$A" table.txt
expect_ls "$M/local1/data"

# The node killed: a new one adopts the session, data/ and all.
note_nodes
node=$(our_nodes | while read -r e; do [ "$(ppid_of "${e%%:*}")" = "$FS_PID" ] && echo "${e%%:*}"; done)
[ -n "$node" ] || fail "no node process below tricklefs"
before=$(cat "$D/table.txt")
kill -KILL "$node"
wait_for eval 'grep -q "trickle-node back" "$LOG"' || fail "the node did not come back"
expect_eq "data/ after the node was killed" "$before" "$(cat "$D/table.txt")"
timeout 5 ls "$M/local0" >/dev/null || fail "ls VM/ failed after the node came back"
unmount
expect_no_nodes
