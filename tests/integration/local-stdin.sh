#!/bin/bash
# A call's stdin: a line with TRICKLE_STDIN=1 forks a call that waits for
# calls/N/stdin to be written and closed, then runs with it (a function
# in the VM, a program, on a VM or .any, 10 MiB whole); calls behind it
# are not held up; the file refuses writes once closed and reads back;
# a call without it has no stdin file.  A remount brings back a call
# whose stdin was whole, and fails one whose writer died with the mount;
# a VM leaving fails the calls still waiting for their stdin.
# TRICKLE_WORKDIR and TRICKLE_VM, the node's other new call words, too.
TEST_TIMEOUT=180
. "$(dirname "$0")/lib.sh"

mount_local 2 -o ServerAliveInterval=1,lease=30
cp "$BASIC_SO" "$M/.all/inject/" || fail "cp basic.so .all/inject/"

a=$(fork local0 "TRICKLE_STDIN=1 upper") || fail "fork with stdin"
expect_eq "waiting" "queued waiting for its stdin" "$(status local0 "$a")"
expect_match "listed" "stdin" "$(ls "$M/local0/calls/$a")"
# The VM runs what comes after it meanwhile.
expect_eq "a call behind it" "after" "$(call local0 "echo after")"
expect_eq "still waiting" "queued waiting for its stdin" "$(status local0 "$a")"
printf 'hello\nworld\n' >"$M/local0/calls/$a/stdin" || fail "write stdin"
expect_eq "upper" "HELLO
WORLD" "$(result local0 "$a")"
# In the same VM process: nothing of the last stdin is left over.
b=$(fork local0 "TRICKLE_STDIN=1 upper") || fail "fork"
printf 'abc' >"$M/local0/calls/$b/stdin"
expect_eq "upper again" "ABC" "$(result local0 "$b")"
expect_eq "read back" "hello
world" "$(cat "$M/local0/calls/$a/stdin")"
expect_errno "a write once closed" EPERM write "$M/local0/calls/$a/stdin" more
# Written by pieces through one descriptor, ended by its close.
c=$(fork local1 "TRICKLE_STDIN=1 exec sort") || fail "fork sort"
exec 4>"$M/local1/calls/$c/stdin"
printf 'b\n' >&4
printf 'a\n' >&4
expect_eq "open: still waiting" "queued waiting for its stdin" "$(status local1 "$c")"
exec 4>&-
expect_eq "sort" "a
b" "$(result local1 "$c")"
# A call without it has none; a bad value is refused.
d=$(fork local1 "exec wc -c") || fail "fork"
expect_eq "no stdin: /dev/null" 0 "$(result local1 "$d")"
expect_errno "no stdin file" ENOENT open "$M/local1/calls/$d/stdin"
e=$(fork local1 "TRICKLE_STDIN=2 exec cat") || fail "fork"
expect_match "bad TRICKLE_STDIN" "^failed bad call option TRICKLE_STDIN=2" "$(status local1 "$e")"
# .any, 10 MiB.
head -c 10485760 /dev/urandom >"$T/big"
f=$(fork .any "TRICKLE_STDIN=1 exec md5sum") || fail "fork on .any"
expect_eq ".any waiting" "queued waiting for its stdin" "$(status .any "$f")"
cat "$T/big" >"$M/.any/calls/$f/stdin" || fail "write 10 MiB"
expect_eq "10 MiB via .any" "$(md5sum <"$T/big")" "$(result .any "$f")"
expect_eq "its size" 10485760 "$(stat -c %s "$M/.any/calls/$f/stdin")"
# Cancelled while it waits: it never runs.
g=$(fork local0 "TRICKLE_STDIN=1 exec touch $T/ran") || fail "fork"
echo cancel >"$M/local0/calls/$g/ctl" || fail "cancel"
expect_eq "cancelled" cancelled "$(status local0 "$g")"
expect_errno "a write to a cancelled call's stdin" EPIPE write "$M/local0/calls/$g/stdin" x
sleep 0.5
[ ! -e "$T/ran" ] || fail "a call cancelled while it waited for its stdin ran"

# TRICKLE_VM names the VM; TRICKLE_WORKDIR is where the call runs.
expect_eq "TRICKLE_VM" "local1 1" "$(call local1 'exec sh -c "echo \$TRICKLE_VM \$TRICKLE_VM_INDEX"')"
mkdir "$T/wd"
expect_eq "TRICKLE_WORKDIR" "$T/wd" "$(call local0 "TRICKLE_WORKDIR=$T/wd exec pwd")"

# The initiator dies: a call whose stdin was whole (queued behind a busy
# VM) comes back and runs with it; one still being written fails.
busy=$(fork local1 "sleep 3") || fail "fork sleep"
h=$(fork local1 "TRICKLE_STDIN=1 upper") || fail "fork"
printf 'kept\n' >"$M/local1/calls/$h/stdin"
i=$(fork local0 "TRICKLE_STDIN=1 upper") || fail "fork"
exec 4>"$M/local0/calls/$i/stdin"
printf 'half' >&4
kill -KILL "$FS_PID"
exec 4>&-
fusermount3 -uz "$M" || fail "fusermount3 -uz"
mount_local 2 -o ServerAliveInterval=1,lease=30
expect_eq "whole stdin, after the remount" KEPT "$(result local1 "$h")"
expect_eq "its stdin read back" kept "$(cat "$M/local1/calls/$h/stdin")"
expect_match "half-written stdin" "^failed recovered: its stdin was still being written" "$(status local0 "$i")"
# A VM that leaves fails its calls still waiting for their stdin, and
# goes: they do not hold it.
j=$(fork local0 "TRICKLE_STDIN=1 exec cat") || fail "fork"
echo "disconnect local0" >"$M/.ctl" || fail "disconnect local0"
wait_for -t 10 eval '[ ! -e "$M/local0" ]' ||
	fail "local0 still there with a call waiting for its stdin: $(status local0 "$j")"
unmount
expect_no_nodes
