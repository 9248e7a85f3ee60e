#!/bin/bash
# Errors that name their cause, where the user looks: .ctl connect fails
# with an errno for the reason (ECONNREFUSED for a closed port, EACCES
# for an unknown host key or a refused login, EINVAL for a bad spec,
# EHOSTUNREACH for a name that does not resolve, ETIMEDOUT for silence),
# each with its reason in the log; a node whose shell prints a banner
# before the protocol is told as such; an unknown host's message gives
# the ssh-keyscan command that fixes it (and that command works); a
# VM's info shows its last error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"
start_sshd

# A port nothing on 127.0.0.1 accepts on.
port=
for i in $(seq 1 50); do
	p=$((20000 + RANDOM % 40000))
	(exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { port=$p; break; }
done
[ -n "$port" ] || fail "no closed port on 127.0.0.1 in 50 tries"

# The mount: a good node and one on the closed port.
mount_ssh a=127.0.0.1:$SSHD_PORT x=127.0.0.1:$port -o connect_timeout=3
grep -q "127.0.0.1:$port: connection refused" "$LOG" || fail "the log does not say connection refused: $(grep "$port" "$LOG")"
info=$(cat "$M/x/info")
expect_match "x's info: last error" "^last error: [0-9-]+ [0-9:]+ 127\.0\.0\.1:$port: connection refused" \
	"$(grep '^last error:' <<<"$info")"
grep -q '^last error:' "$M/a/info" && fail "a has a last error: $(grep '^last error:' "$M/a/info")"

# .ctl connect: the errno names the cause; the log says it in words.
err=$(write_to "$M/.ctl" "connect z=127.0.0.1:$port") && fail "connect to a closed port succeeded"
expect_eq "connect to a closed port" ECONNREFUSED "$err"
grep -q ".ctl: connect .*127.0.0.1:$port: connection refused" "$LOG" || fail "no connection refused for z in the log"
err=$(write_to "$M/.ctl" "connect u=localhost:$SSHD_PORT") && fail "connect to a host not in known_hosts succeeded"
expect_eq "connect to an unknown host" EACCES "$err"
grep -q "localhost:$SSHD_PORT: unknown host: .*ssh-keyscan -t ed25519 -p $SSHD_PORT localhost >> $SSHD_KNOWN_HOSTS" "$LOG" ||
	fail "the unknown host's message lacks the fix: $(grep 'unknown host' "$LOG")"
err=$(write_to "$M/.ctl" "connect v=nosuchuser@127.0.0.1:$SSHD_PORT") && fail "connect as nosuchuser succeeded"
expect_eq "connect with a refused login" EACCES "$err"
err=$(write_to "$M/.ctl" "connect w=127.0.0.1:99999") && fail "connect to port 99999 succeeded"
expect_eq "connect with a bad spec" EINVAL "$err"
err=$(write_to "$M/.ctl" "connect n=no-such-host.invalid") && fail "connect to no-such-host.invalid succeeded"
expect_eq "connect to a name that does not resolve" EHOSTUNREACH "$err"
grep -q "no-such-host.invalid:22: cannot resolve the host's name" "$LOG" || fail "no resolution message in the log"
# A port that takes the connection and says nothing: connect_timeout.
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
print(s.getsockname()[1], flush=True)
c = s.accept(); time.sleep(60)' >"$T/mute.port" &
BG_PIDS+=($!)
wait_for eval '[ -s "$T/mute.port" ]' || fail "the mute listener did not start"
err=$(write_to "$M/.ctl" "connect t=127.0.0.1:$(cat "$T/mute.port")") && fail "connect to a mute port succeeded"
expect_eq "connect to a port that says nothing" ETIMEDOUT "$err"
grep -q "127.0.0.1:$(cat "$T/mute.port"): timed out after 3 s" "$LOG" || fail "no time-out message in the log"
expect_ls "$M" .all .any .ctl .done .log a x
grep -q "connection refused" "$M/.log" || fail ".log lacks the connection refused"
unmount

# A node whose shell prints a banner before the protocol.
try_mount_ssh b=127.0.0.1:$SSHD_PORT -o "node_command=echo Welcome to the cluster; exec $TRICKLE_NODE --dir $NODE_DIR" &&
	fail "mount of a node that prints a banner succeeded"
echo "tricklefs said: $(cat "$ERR")"
grep -q "the node printed 'Welcome to the cluster' before the protocol started (check its shell startup files" "$ERR" ||
	fail "no banner message: $(cat "$ERR")"
grep -q "unknown message type" "$ERR" && fail "the banner is told as a protocol error"
# That node got only EOF: it keeps its session for the lease.  End it.
note_nodes
for e in $(our_nodes); do kill "${e%%:*}"; done
wait_for eval '[ -z "$(our_nodes)" ]' || fail "the banner node did not end on SIGTERM"

# An unknown host: the message's command, run, fixes it.
: >"$T/kh"
try_mount_ssh a=127.0.0.1:$SSHD_PORT -o "known_hosts=$T/kh" && fail "mount of an unknown host succeeded"
fix=$(grep -o 'add the key: ssh-keyscan .*' "$ERR" | sed 's/^add the key: //')
[ -n "$fix" ] || fail "no ssh-keyscan command in: $(cat "$ERR")"
echo "the fix: $fix"
expect_eq "the fix" "ssh-keyscan -t ed25519 -p $SSHD_PORT 127.0.0.1 >> $T/kh" "$fix"
ssh-keyscan -t ed25519 -p "$SSHD_PORT" 127.0.0.1 >>"$T/kh" 2>/dev/null || fail "ssh-keyscan failed"
mount_ssh a=127.0.0.1:$SSHD_PORT -o "known_hosts=$T/kh"
inject a "$BASIC_SO"
expect_eq "foo after the fix" 4 "$(call a "foo 2")"
unmount
expect_no_nodes --processes-only
