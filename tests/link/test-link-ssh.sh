#!/bin/bash
# test-link-ssh.sh PROGRAM - link_ssh against a private sshd on 127.0.0.1.
# PROGRAM is test-link-ssh (built from test-link-ssh.c).  Exit 77 (skip)
# without sshd.
set -u

prog=${1:?usage: test-link-ssh.sh path/to/test-link-ssh}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../sshd.sh"
sshd_require

agent_pid= hang_pid=
cleanup() {
	local rc=$? p
	for p in $agent_pid $hang_pid; do
		kill "$p" 2>/dev/null
	done
	sshd_stop
	exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Rekey every MiB and probe the client every second, so the echo test also
# goes through libssh2's non-blocking re-keying and keepalive replies.
SSHD_EXTRA_CONFIG="RekeyLimit 1M
ClientAliveInterval 1"
sshd_start || exit 1

failures=0
run() {	# run NAME ARGS...: the program must succeed
	local name=$1
	shift
	echo "--- $name"
	if ! "$prog" --port="$SSHD_PORT" "$@"; then
		echo "FAILED: $name"
		failures=$((failures + 1))
	fi
}
ok() {	# ok NAME COMMAND...: a shell check must succeed
	local name=$1
	shift
	if ! "$@"; then
		echo "FAILED: $name"
		failures=$((failures + 1))
	fi
}

key=(--identity="$SSHD_KEY")
kh=(--known-hosts="$SSHD_KNOWN_HOSTS")

# 1. Echo 8 MiB through cat: flow control both ways, re-keying, exit
#    status 0.  libssh2 1.10 leaks 51 bytes (an ed25519 host key blob's
#    size) at every re-key, so leak checking is off for this one; the
#    short echo after it stays below RekeyLimit and is checked.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    run echo --mode=echo "${key[@]}" "${kh[@]}" --command=/bin/cat \
    --bytes=$((8 << 20)) --expect="exited with status 0"
run "short echo" --mode=echo "${key[@]}" "${kh[@]}" --command=/bin/cat \
    --bytes=$((256 << 10)) --expect="exited with status 0"

# Small round trips, one at a time: no Nagle or wake-up stalls.
run pingpong --mode=pingpong "${key[@]}" "${kh[@]}" --command=/bin/cat \
    --rounds=2000 --expect="status 0"

# 2. The host key does not match: refused before authentication, so the
#    command never runs.
run mismatch --mode=down --no-up "${key[@]}" \
    --known-hosts="$SSHD_BAD_KNOWN_HOSTS" \
    --command="/usr/bin/touch $SSHD_DIR/ran-mismatch" \
    --expect="$SSHD_HOSTKEY_FP" --expect="127.0.0.1:$SSHD_PORT" \
    --expect="does NOT match" --expect="HOST IDENTIFICATION HAS CHANGED"
ok "mismatch: command did not run" test ! -e "$SSHD_DIR/ran-mismatch"

# 3. Unknown host: empty known_hosts, and one that does not exist.
: >"$SSHD_DIR/known_hosts.empty"
for f in "$SSHD_DIR/known_hosts.empty" "$SSHD_DIR/no-such-file"; do
	run "unknown host ($(basename "$f"))" --mode=down --no-up \
	    "${key[@]}" --known-hosts="$f" \
	    --command="/usr/bin/touch $SSHD_DIR/ran-unknown" \
	    --expect="$SSHD_HOSTKEY_FP" --expect="127.0.0.1:$SSHD_PORT" \
	    --expect="unknown host"
done
ok "unknown: command did not run" test ! -e "$SSHD_DIR/ran-unknown"

# 4. A command that does not exist: its exit status and last words.
run "bad command" --mode=down "${key[@]}" "${kh[@]}" \
    --command=/nonexistent/x --expect="exited with status 127" \
    --expect="/nonexistent/x"

# A signal, and a command that closes its output but does not exit.
run "killed" --mode=down "${key[@]}" "${kh[@]}" \
    --command='/bin/echo bye >&2; /bin/kill -TERM $$' \
    --expect="killed by signal SIGTERM" --expect='"bye"'
run "no exit" --mode=down "${key[@]}" "${kh[@]}" \
    --command='exec >&- 2>&-; /bin/sleep 6' --expect="did not exit"
# The node dies while a child it left holds its output open: no EOF,
# but the exit signal tells (well before the 20 s EOF would take; the
# margin is wide so that a loaded machine does not fail it).
start=$SECONDS
run "killed, output held open" --mode=down "${key[@]}" "${kh[@]}" \
    --command='/bin/sleep 20 & /bin/kill -KILL $$' \
    --expect="killed by signal SIGKILL"
ok "killed: reported before the output closed" test $((SECONDS - start)) -le 15

# 5. Nothing listens on the port: quick, clear refusal.
free_port=$(_sshd_pick_port)
start=$SECONDS
"$prog" --mode=down --no-up --port="$free_port" "${key[@]}" "${kh[@]}" \
    --expect="127.0.0.1:$free_port" --expect="connection refused" ||
    { echo "FAILED: connection refused"; failures=$((failures + 1)); }
ok "refused quickly" test $((SECONDS - start)) -le 3

# 6. The server accepts the TCP connection but never speaks: the set-up
#    deadline.  (A stopped sshd still completes TCP handshakes.)
kill -STOP "$SSHD_PID"
run "set-up timeout" --mode=down --no-up "${key[@]}" "${kh[@]}" \
    --timeout=2 --expect="timed out after 2 s" --max-seconds=10
kill -CONT "$SSHD_PID"

# 7. The connection goes silent once up (its sshd frozen): keepalives go
#    unanswered and the link goes down.
rm -f "$SSHD_DIR/up"
"$prog" --port="$SSHD_PORT" --mode=down "${key[@]}" "${kh[@]}" \
    --command=/bin/cat --keepalive=1 --up-file="$SSHD_DIR/up" \
    --expect="no answer from 127.0.0.1" --max-seconds=20 &
hang_pid=$!
for i in $(seq 1 100); do
	[ -e "$SSHD_DIR/up" ] && break
	sleep 0.1
done
frozen=$(_sshd_descendants "$SSHD_PID")
[ -n "$frozen" ] && kill -STOP $frozen
echo "--- no answer (froze: $(echo $frozen))"
wait "$hang_pid" || { echo "FAILED: no answer"; failures=$((failures + 1)); }
hang_pid=
[ -n "$frozen" ] && kill -CONT $frozen 2>/dev/null

# 8. Wrong user key: refused, the message says what was tried.
run "key refused" --mode=down --no-up \
    --identity="$SSHD_DIR/impostor_ed25519" "${kh[@]}" \
    --expect="no key was accepted" --expect="impostor_ed25519"

# 9. No identity given: ~/.ssh/id_ed25519, then the agent.
mkdir -p "$SSHD_DIR/home/.ssh" "$SSHD_DIR/empty-home"
cp "$SSHD_KEY" "$SSHD_DIR/home/.ssh/id_ed25519"
HOME=$SSHD_DIR/home SSH_AUTH_SOCK= \
    run "default key" --mode=echo "${kh[@]}" --bytes=100000 \
    --expect="status 0"
HOME=$SSHD_DIR/empty-home SSH_AUTH_SOCK= \
    run "no key at all" --mode=down --no-up "${kh[@]}" \
    --expect="no key was accepted"
if command -v ssh-agent >/dev/null && command -v ssh-add >/dev/null; then
	eval "$(ssh-agent -s -a "$SSHD_DIR/agent.sock")" >/dev/null
	agent_pid=$SSH_AGENT_PID
	ssh-add -q "$SSHD_DIR/impostor_ed25519" 2>/dev/null
	HOME=$SSHD_DIR/empty-home \
	    run "agent, wrong key" --mode=down --no-up "${kh[@]}" \
	    --expect="no key was accepted" --expect="agent key"
	# The wrong key first: the agent's identities are tried in turn.
	ssh-add -q "$SSHD_KEY" 2>/dev/null
	HOME=$SSHD_DIR/empty-home \
	    run "agent" --mode=echo "${kh[@]}" --bytes=100000 \
	    --expect="status 0"
	kill "$agent_pid"
	agent_pid=
	unset SSH_AUTH_SOCK SSH_AGENT_PID
fi

# 10. known_hosts as found in the wild: lines libssh2 cannot parse (which
#     stop libssh2_knownhost_readfile), markers, a hashed entry for us.
hashed=$SSHD_DIR/known_hosts.hashed
cp "$SSHD_KNOWN_HOSTS" "$hashed"
ssh-keygen -q -H -f "$hashed" >/dev/null 2>&1
{
	echo "# comment"
	echo "this line is garbage"
	echo "example.org sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIA=="
	echo "@cert-authority *.example.org $(cut -d' ' -f2- "$SSHD_BAD_KNOWN_HOSTS")"
	echo ""
	cat "$hashed"
} >"$SSHD_DIR/known_hosts.wild"
run "known_hosts in the wild" --mode=echo "${key[@]}" \
    --known-hosts="$SSHD_DIR/known_hosts.wild" --bytes=1000 \
    --expect="status 0"
# A plain "127.0.0.1" line must not vouch for port $SSHD_PORT (ssh agrees).
sed "s/^\[127.0.0.1\]:$SSHD_PORT /127.0.0.1 /" "$SSHD_KNOWN_HOSTS" \
    >"$SSHD_DIR/known_hosts.noport"
run "known_hosts without port" --mode=down --no-up "${key[@]}" \
    --known-hosts="$SSHD_DIR/known_hosts.noport" --expect="unknown host"
# @revoked beats a matching line.
{
	cat "$SSHD_KNOWN_HOSTS"
	echo "@revoked * $(cut -d' ' -f2- "$SSHD_KNOWN_HOSTS")"
} >"$SSHD_DIR/known_hosts.revoked"
run "revoked" --mode=down --no-up "${key[@]}" \
    --known-hosts="$SSHD_DIR/known_hosts.revoked" --expect="@revoked"

# Only the server's ecdsa key known: it must be asked for that one.
run "ecdsa host key" --mode=echo "${key[@]}" \
    --known-hosts="$SSHD_ECDSA_KNOWN_HOSTS" --bytes=1000 \
    --expect="status 0"

# 11. Writes and close_write before the link is up; link_free() from
#     inside the data callback, and while connecting.
run "write before up" --mode=echo --early "${key[@]}" "${kh[@]}" \
    --command=/bin/cat --bytes=300000 --expect="status 0"
run "free in callback" --mode=free "${key[@]}" "${kh[@]}" --command=/bin/cat
run "free while connecting" --mode=free-early "${key[@]}" "${kh[@]}"

if [ "$failures" -ne 0 ]; then
	echo "$failures FAILED; sshd log:"
	sshd_dump_log
	exit 1
fi
echo "all passed"
exit 0
