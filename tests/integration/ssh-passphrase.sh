#!/bin/bash
# A private key with a passphrase: asked once through SSH_ASKPASS
# (SSH_ASKPASS_REQUIRE=force, as a mount without a terminal would), kept
# in memory for later connections (a .ctl connect after the mount went to
# the background asks nothing); a wrong passphrase, or an askpass that
# gives none, fails the mount with a message that says so.
. "$(dirname "$0")/lib.sh"
start_sshd

KEY=$T/locked_ed25519
ssh-keygen -q -t ed25519 -N 'open sesame' -C tricklefs-test-locked -f "$KEY" ||
	fail "ssh-keygen failed"
cat "$KEY.pub" >>"$SSHD_DIR/authorized_keys"
# The key is encrypted: no passphrase does not open it.
ssh-keygen -y -P '' -f "$KEY" >/dev/null 2>&1 && fail "the test key is not encrypted"

cat >"$T/askpass" <<'ASKEOF'
#!/bin/sh
# SSH_ASKPASS: counts its calls, answers with the file "pass"
dir=$(dirname "$0")
echo "$1" >>"$dir/asked"
[ -f "$dir/pass" ] || exit 1
cat "$dir/pass"
ASKEOF
chmod +x "$T/askpass"
export SSH_ASKPASS=$T/askpass SSH_ASKPASS_REQUIRE=force
unset SSH_AUTH_SOCK

# The right passphrase: asked once.
echo 'open sesame' >"$T/pass"
mount_ssh a=127.0.0.1:$SSHD_PORT -o "identity=$KEY"
inject a "$BASIC_SO"
expect_eq "foo with the locked key" 20 "$(call a "foo 10")"
expect_eq "times asked" 1 "$(wc -l <"$T/asked")"
expect_match "the prompt names the key" "passphrase for key '$KEY'" "$(cat "$T/asked")"
grep -q "Accepted publickey.*ED25519" "$SSHD_LOG" || fail "sshd accepted no key"
# A later connection (the mount is in the background now) uses the kept one.
echo "connect z=$SSHD_USER@127.0.0.1:$SSHD_PORT" >"$M/.ctl" || fail ".ctl connect"
wait_for -t 20 test -d "$M/z" || fail "z did not join: $(cat "$M/.ctl")"
inject z "$BASIC_SO"
expect_eq "foo on z" 4 "$(call z "foo 2")"
expect_eq "times asked after a second connection" 1 "$(wc -l <"$T/asked")"
unmount

# On a terminal (script(1) makes one): the prompt comes there, the typed
# passphrase opens the key, nothing is asked of SSH_ASKPASS.
if command -v script >/dev/null; then
	: >"$T/asked"
	opts="$(ssh_opts),identity=$KEY"
	MOUNTS+=("$M")
	coproc TTY { SSH_ASKPASS_REQUIRE= script -qec \
	    "$(printf '%q ' "$TRICKLEFS" -o "$opts" "a=127.0.0.1:$SSHD_PORT" "$M"); echo \"rc=\$?\"" /dev/null; }
	seen=
	while IFS= read -r -d ':' -t 30 chunk <&"${TTY[0]}"; do
		seen+=$chunk:
		case $seen in *"passphrase for key '$KEY'"*) break ;; esac
	done
	expect_match "the prompt on the terminal" "passphrase for key" "$seen"
	echo 'open sesame' >&"${TTY[1]}"
	out=$(timeout 30 cat <&"${TTY[0]}")
	expect_match "mounted from the terminal" 'rc=0' "$out"
	is_mounted "$M" || fail "not mounted after the passphrase was typed: $out"
	FS_PID=$(_fs_pid_of "$M") && FS_PIDS+=("$FS_PID:$(starttime_of "$FS_PID")")
	expect_eq "SSH_ASKPASS asked" 0 "$(wc -l <"$T/asked")"
	grep -q 'open sesame' <<<"$out" && fail "the passphrase was echoed: $out"
	unmount
else
	skip_part "no script(1) for a terminal"
fi

# A wrong passphrase.
echo 'open barley' >"$T/pass"
try_mount_ssh a=127.0.0.1:$SSHD_PORT -o "identity=$KEY" &&
	fail "mount with a wrong passphrase succeeded"
echo "tricklefs said: $(cat "$ERR")"
expect_match "says wrong passphrase" "$KEY \(wrong passphrase\)" "$(cat "$ERR")"
is_mounted "$M" && fail "$M is mounted"

# An askpass that gives nothing (the user cancelled).
rm -f "$T/pass"
try_mount_ssh a=127.0.0.1:$SSHD_PORT -o "identity=$KEY" &&
	fail "mount with no passphrase succeeded"
echo "tricklefs said: $(cat "$ERR")"
expect_match "says no passphrase" "gave no passphrase" "$(cat "$ERR")"
is_mounted "$M" && fail "$M is mounted"
exit 0
