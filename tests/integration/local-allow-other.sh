#!/bin/bash
# -o allow_other lets every local user reach the mount, but calls run as
# the mount's owner on every node: only the owner, root and the users of
# -o allow_users may fork, inject, write a ctl or .ctl, change data/ or
# remove and cancel calls (EACCES, from each request's uid, even through a
# descriptor the owner opened), and a call's output and ctl are its
# forker's (and the owner's and root's).  Modes say so.
#
# As root: a throwaway user (trickletest, made here unless it exists, and
# removed again if made here) and nobody stand for the other users.
. "$(dirname "$0")/lib.sh"

# cannot_test REASON: no users to test with: skipped, but not under CI.
cannot_test() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL: $TEST_NAME: $* (CI=true: CI runs as root and must test this)" >&2
		exit 1
	fi
	skip "$*"
}
[ "$(id -u)" = 0 ] || cannot_test "not root: cannot make a test user"
command -v setpriv >/dev/null || cannot_test "no setpriv (util-linux)"
U1=trickletest
U2=nobody
id -u "$U2" >/dev/null 2>&1 || cannot_test "no user $U2"
MADE_USER=
if ! id -u "$U1" >/dev/null 2>&1; then
	command -v useradd >/dev/null || cannot_test "no useradd (passwd)"
	useradd -M -r -s /usr/sbin/nologin "$U1" 2>"$T/useradd.err" ||
		cannot_test "useradd $U1 failed: $(cat "$T/useradd.err")"
	MADE_USER=$U1
fi
remove_user() { [ -n "$MADE_USER" ] && userdel "$MADE_USER"; }
CLEANUP_HOOKS+=(remove_user)
# The others must get to the mount point (mktemp made $T 0700).
chmod 711 "$T"

# as USER CMD...: run CMD as USER (its group, no others).
as() {
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups -- "$@"
}

# expect_errno_as USER WHAT ENAME OP ARG...: errno-of OP run as USER.
expect_errno_as() {
	local u=$1 what=$2 want=$3 got
	shift 3
	got=$(as "$u" timeout 30 "$ERRNO_OF" "$@" 2>/dev/null)
	[ "$got" = "$want" ] || fail "$what (as $u): $*: expected $want, got '$got'"
}

# fork_as USER VM LINE: the clone idiom as USER; prints the id.
fork_as() {
	as "$1" timeout 30 bash -c 'exec 3<>"$1/calls/new" && printf "%s\n" "$2" >&3 &&
		read -r id <&3 && echo "$id"' _ "$M/$2" "$3"
}

mount_local 1 -o allow_other
inject local0 "$BASIC_SO"
mine=$(fork local0 "foo 10") || fail "fork as the owner"
expect_eq "the owner's call" 20 "$(result local0 "$mine")"

# Anyone may look.
expect_ls "$M" .all .any .ctl .done .log local0
expect_eq "status (as $U1)" done "$(as $U1 cat "$M/local0/calls/$mine/status")"
as $U1 cat "$M/local0/info" >/dev/null || fail "cat info as $U1"

# The mount's log is for those who may act (it tells what runs where).
expect_errno_as $U1 "read .log" EACCES read "$M/.log"
cat "$M/.log" >/dev/null || fail "cat .log as the owner"

# Nobody else may act.
expect_errno_as $U1 "fork" EACCES write "$M/local0/calls/new" "foo 1"
expect_errno_as $U1 "fork through .all" EACCES write "$M/.all/calls/new" "foo 1"
expect_errno_as $U1 "fork through .any" EACCES write "$M/.any/calls/new" "foo 1"
expect_errno_as $U1 "inject" EACCES cp "$BASIC_SO" "$M/local0/inject/other.so"
expect_errno_as $U1 "inject over" EACCES cp "$BASIC_SO" "$M/local0/inject/basic.so"
expect_errno_as $U1 "inject through .all" EACCES cp "$BASIC_SO" "$M/.all/inject/other.so"
expect_errno_as $U1 "uninject" EACCES unlink "$M/local0/inject/basic.so"
expect_errno_as $U1 "read back inject/" EACCES read "$M/local0/inject/basic.so"
expect_errno_as $U1 "restart" EACCES write "$M/local0/ctl" restart
expect_errno_as $U1 ".ctl" EACCES write "$M/.ctl" discover
expect_errno_as $U1 "cancel" EACCES write "$M/local0/calls/$mine/ctl" cancel
expect_errno_as $U1 "rmdir a call" EACCES rmdir "$M/local0/calls/$mine"
echo hi >"$M/local0/data/y" || fail "write data/y as the owner"
expect_errno_as $U1 "create in data/" EACCES cp "$BASIC_SO" "$M/local0/data/x"
expect_errno_as $U1 "write in data/" EACCES write "$M/local0/data/y" hello
expect_errno_as $U1 "remove from data/" EACCES unlink "$M/local0/data/y"
expect_errno_as $U1 "rename in data/" EACCES rename "$M/local0/data/y" "$M/local0/data/z"
expect_eq "data/y (as $U1)" hi "$(as $U1 cat "$M/local0/data/y")"
expect_errno_as $U1 "mkdir in data/" EACCES mkdir "$M/local0/data/d"
expect_errno_as $U1 "read another's result" EACCES read "$M/local0/calls/$mine/result"
expect_errno_as $U1 "read another's stdout" EACCES read "$M/local0/calls/$mine/stdout"
# Each request is checked, not only the open: a descriptor the owner
# opened does not let another user fork.
exec 4<>"$M/local0/calls/new" || fail "open calls/new"
expect_errno_as $U1 "fork through the owner's descriptor" EACCES writefd 4 "foo 2"
exec 4>&-
expect_ls "$M/local0/calls" new "$mine"
expect_ls "$M/local0/inject" basic.so
expect_ls "$M/local0/data" y
grep -q "uid $(id -u $U1) may not fork calls" "$LOG" || fail "no log of the refused fork"

# Modes tell the truth: the owner alone may write; output is the forker's.
expect_eq "mode of calls/new" 600 "$(stat -c %a "$M/local0/calls/new")"
expect_eq "mode of result" 400 "$(stat -c %a "$M/local0/calls/$mine/result")"
expect_eq "mode of ctl" 200 "$(stat -c %a "$M/local0/ctl")"
expect_eq "mode of .ctl" 644 "$(stat -c %a "$M/.ctl")"
unmount

# allow_users: by name and by uid.  They may fork; their calls are theirs.
mkdir "$T/m2"
tfs_mount -o "local=1,logfile=$LOG,allow_users=no-such-user-here" "$T/m2" &&
	fail "mounted with allow_users naming no user"
grep -q "allow_users: no user no-such-user-here" "$ERR" || fail "no error for an unknown user: $(cat "$ERR")"
mount_local 1 -o "allow_other,allow_users=$U1:$(id -u $U2)"
inject local0 "$BASIC_SO"
mine=$(fork local0 "foo 1") || fail "fork as the owner"
theirs=$(fork_as $U1 local0 "foo 5") || fail "fork as $U1"
expect_eq "$U1's result, as $U1" 10 "$(as $U1 timeout 30 cat "$M/local0/calls/$theirs/result")"
expect_eq "$U1's result, as root" 10 "$(result local0 "$theirs")"
expect_eq "owner of $U1's result" $U1 "$(stat -c %U "$M/local0/calls/$theirs/result")"
expect_eq "owner of $U1's call" $U1 "$(stat -c %U "$M/local0/calls/$theirs")"
expect_errno_as $U2 "read $U1's result" EACCES read "$M/local0/calls/$theirs/result"
expect_errno_as $U2 "read $U1's stderr" EACCES read "$M/local0/calls/$theirs/stderr"
expect_errno_as $U2 "cancel $U1's call" EACCES write "$M/local0/calls/$theirs/ctl" cancel
expect_errno_as $U2 "rmdir $U1's call" EACCES rmdir "$M/local0/calls/$theirs"
expect_errno_as $U1 "read the owner's result" EACCES read "$M/local0/calls/$mine/result"
other=$(fork_as $U2 local0 "foo 7") || fail "fork as $U2 (allowed by uid)"
expect_eq "$U2's result" 14 "$(as $U2 timeout 30 cat "$M/local0/calls/$other/result")"
expect_errno_as $U1 "rmdir its own call" OK rmdir "$M/local0/calls/$theirs"
expect_ls "$M/local0/calls" new "$mine" "$other"
unmount
