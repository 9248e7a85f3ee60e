#!/bin/bash
# Without syslog (no /dev/log socket) and without -o logfile, a mount in
# the background logs to $XDG_STATE_HOME/tricklefs/NAME.log, and says so
# on the terminal once, when it is mounted.  Where this machine has a
# syslog, the test hides /dev/log in a mount namespace of its own.
if [ -S /dev/log ] && [ -z "${TFS_NO_SYSLOG_NS:-}" ]; then
	command -v unshare >/dev/null || { echo "SKIP: /dev/log exists and no unshare"; exit 77; }
	exec unshare -m --propagation slave env TFS_NO_SYSLOG_NS=1 \
		bash -c 'mount --bind /dev/null /dev/log || exit 77; exec bash "$0"' "$0"
fi
. "$(dirname "$0")/lib.sh"

[ -S /dev/log ] && fail "/dev/log is still a socket"
tfs_mount -o local=1,name=nosys "$M" || fail "mount failed: $(cat "$ERR")"
want=$XDG_STATE_HOME/tricklefs/nosys.log
expect_eq "what the terminal was told" \
	"tricklefs: no syslog here (/dev/log): messages go to $want and $M/.log" \
	"$(cat "$ERR")"
[ -f "$want" ] || fail "no log file $want"
grep -q "mounted 1 VMs on $M" "$want" || fail "$want lacks the mount message: $(cat "$want")"
# Messages after the mount go there too (and to .log).
echo "bogus-no-syslog" >"$M/.ctl" 2>/dev/null && fail "a bogus .ctl command was taken"
wait_for grep -q 'unknown command "bogus-no-syslog"' "$want" ||
	fail "the .ctl message is not in $want: $(tail -n 3 "$want")"
grep -q 'unknown command "bogus-no-syslog"' "$M/.log" || fail "the .ctl message is not in .log"
unmount
expect_no_nodes --processes-only
# The log file stays (it is the record); the state does not.
left=$(find "$T/run" "$T/state" -mindepth 2 ! -path "$want" \
	-not -path '*/cache' -not -path '*/cache/*' 2>/dev/null | head -n 5)
[ -z "$left" ] || fail "state files left after unmount: $left"
# The terminal's note is for the terminal, not the file.
grep -q "no syslog here" "$want" && fail "the terminal's note went into the file"
echo "logged to $want: $(wc -l <"$want") lines"
