#!/bin/bash
# inject/ under everyday tools.  install -m and cp -p chmod a file after
# writing it; rsync and editors write a hidden .NAME and rename it; a
# plain cp of a script without +x is held at the mount until chmod +x.
# Every file reads back the bytes installed (cmp), ls -l shows the modes
# installed, and the log says why a file is held.  Through .all/inject/
# too.
. "$(dirname "$0")/lib.sh"
need_cmd rsync rsync

printf '#!/bin/sh\necho "hi $*"\n' >"$T/hi"
chmod 644 "$T/hi"
printf '#!/bin/sh\necho "ho $*"\n' >"$T/ho"
chmod 755 "$T/ho"
mkdir -p "$T/v2"
printf '#!/bin/sh\necho "ho v2 $*"\n' >"$T/v2/ho"
chmod 755 "$T/v2/ho"

mount_local 1
I=$M/local0/inject

# install creates the file 0600, writes it, then chmods it.
install -m 755 "$T/hi" "$I/" || fail "install -m 755 hi inject/"
expect_eq "hi after install -m 755" "hi you" "$(call local0 "hi you")"
cmp "$T/hi" "$I/hi" || fail "inject/hi does not read back what was installed"
expect_eq "ls -l hi" "-rwxr-xr-x" "$(stat -c %A "$I/hi")"
install -m 644 "$BASIC_SO" "$I/basic.so" || fail "install -m 644 basic.so"
expect_eq "foo" 2 "$(call local0 "foo 1")"
cmp "$BASIC_SO" "$I/basic.so" || fail "inject/basic.so does not read back"
expect_eq "ls -l basic.so" "-rw-r--r--" "$(stat -c %A "$I/basic.so")"

# cp -p: chmod, utimens, chown on the open file.
cp -p "$T/ho" "$I/ho" || fail "cp -p ho"
expect_eq "ho after cp -p" "ho x" "$(call local0 "ho x")"
cmp "$T/ho" "$I/ho" || fail "inject/ho does not read back"
expect_eq "ls -l ho" "-rwxr-xr-x" "$(stat -c %A "$I/ho")"
expect_eq "mtime of ho (cp -p)" "$(stat -c %Y "$T/ho")" "$(stat -c %Y "$I/ho")"

# A plain cp of a script without +x: held here, shown without x.
cp "$T/hi" "$I/held" || fail "cp of a script without +x failed"
expect_eq "ls -l held" "-rw-r--r--" "$(stat -c %A "$I/held")"
wait_for grep -q "inject/held is held at the mount" "$LOG" ||
	fail "the log does not say that held is held"
id=$(fork local0 "held x") || fail "fork held"
result_fails local0 "$id"
cmp "$T/hi" "$I/held" || fail "inject/held does not read back"
chmod +x "$I/held" || fail "chmod +x inject/held"
expect_eq "held after chmod +x" "hi x" "$(call local0 "held x")"
expect_eq "ls -l held after chmod" "-rwxr-xr-x" "$(stat -c %A "$I/held")"

# Write, then rename (editors, mv): the hidden name is held, the rename
# installs it; a hidden file removed is dropped.
cp "$T/ho" "$I/.edit.tmp" || fail "cp to a hidden name"
id=$(fork local0 "edit x") || fail "fork edit"
result_fails local0 "$id"
mv "$I/.edit.tmp" "$I/edit" || fail "mv .edit.tmp edit"
expect_eq "edit after mv" "ho x" "$(call local0 "edit x")"
cmp "$T/ho" "$I/edit" || fail "inject/edit does not read back"
[ -e "$I/.edit.tmp" ] && fail ".edit.tmp still there after mv"
cp "$T/ho" "$I/.junk" || fail "cp to .junk"
rm "$I/.junk" || fail "rm .junk"
expect_ls "$I" basic.so edit held hi ho

# rsync writes .NAME.XXXXXX and renames it: a new file, then a new
# version over an installed one.
rsync "$T/ho" "$I/synced" || fail "rsync ho inject/synced"
expect_eq "synced" "ho y" "$(call local0 "synced y")"
cmp "$T/ho" "$I/synced" || fail "inject/synced does not read back"
rsync -a "$T/v2/ho" "$I/" || fail "rsync -a v2/ho inject/"
expect_eq "ho after rsync of v2" "ho v2 z" "$(call local0 "ho z")"
cmp "$T/v2/ho" "$I/ho" || fail "inject/ho does not read back v2"
expect_eq "mtime of ho (rsync -a)" "$(stat -c %Y "$T/v2/ho")" "$(stat -c %Y "$I/ho")"
expect_ls "$I" basic.so edit held hi ho synced

# A refused new copy leaves the installed one, and it still reads back.
echo "not a program" >"$T/junk"
expect_errno "cp junk over ho" ENOEXEC cp "$T/junk" "$I/ho"
cmp "$T/v2/ho" "$I/ho" || fail "inject/ho does not read back v2 after a refused copy"
expect_eq "ho after a refused copy" "ho v2 r" "$(call local0 "ho r")"

# mv of an installed file copies it through its copy here (EXDEV).
mv "$I/synced" "$I/moved" || fail "mv synced moved"
expect_eq "moved" "ho m" "$(call local0 "moved m")"
cmp "$T/ho" "$I/moved" || fail "inject/moved does not read back"
[ -e "$I/synced" ] && fail "synced still there after mv"

# .all/inject/: the same, and each VM's file reads back too.
install -m 755 "$T/hi" "$M/.all/inject/allhi" || fail "install into .all"
expect_eq "allhi" "hi a" "$(call local0 "allhi a")"
cmp "$T/hi" "$M/.all/inject/allhi" || fail ".all/inject/allhi does not read back"
cmp "$T/hi" "$I/allhi" || fail "local0/inject/allhi does not read back"
expect_eq "ls -l .all/inject/allhi" "-rwxr-xr-x" "$(stat -c %A "$M/.all/inject/allhi")"
cp "$T/hi" "$M/.all/inject/allheld" || fail "cp a script without +x into .all"
expect_eq "ls -l .all/inject/allheld" "-rw-r--r--" "$(stat -c %A "$M/.all/inject/allheld")"
[ -e "$I/allheld" ] && fail "allheld reached local0 before chmod +x"
chmod +x "$M/.all/inject/allheld" || fail "chmod +x .all/inject/allheld"
expect_eq "allheld after chmod +x" "hi b" "$(call local0 "allheld b")"
cmp "$T/hi" "$I/allheld" || fail "local0/inject/allheld does not read back"
rsync "$T/ho" "$M/.all/inject/allsynced" || fail "rsync into .all/inject/"
expect_eq "allsynced" "ho c" "$(call local0 "allsynced c")"
cmp "$T/ho" "$M/.all/inject/allsynced" || fail ".all/inject/allsynced does not read back"
