# tests/sshd.sh - a private sshd on 127.0.0.1 for tests.  Source it (bash).
#
#	. "$srcdir/tests/sshd.sh"
#	sshd_require		# exit 77 (skip) when sshd or ssh-keygen is missing
#	trap sshd_stop EXIT
#	sshd_start
#	... connect to 127.0.0.1:$SSHD_PORT as $SSHD_USER with key $SSHD_KEY,
#	    checking the host key against $SSHD_KNOWN_HOSTS ...
#
# sshd_start exports:
#	SSHD_DIR		private temp dir (removed by sshd_stop)
#	SSHD_HOST SSHD_PORT	127.0.0.1 and the port sshd listens on
#	SSHD_USER		the user to log in as (the current user)
#	SSHD_KEY		user private key (ed25519, no passphrase); .pub next to it
#	SSHD_KNOWN_HOSTS	known_hosts with "[127.0.0.1]:PORT ssh-ed25519 ..."
#	SSHD_BAD_KNOWN_HOSTS	the same host:port with a different ed25519 key
#	SSHD_ECDSA_KNOWN_HOSTS	only the server's second host key, ecdsa-sha2-nistp256
#	SSHD_HOSTKEY_FP		the host key's SHA256 fingerprint ("SHA256:...")
#	SSHD_PID SSHD_LOG SSHD_CONFIG
#
# sshd (and a watchdog that stops it should the calling shell die without
# sshd_stop) run as background jobs of the calling shell: wait for given
# PIDs, never with a bare "wait".  sshd_start may be called again for a
# second sshd after saving the SSHD_* of the first.
#
# Set SSHD_EXTRA_CONFIG (lines of sshd_config) before sshd_start to add to
# the configuration, e.g. "RekeyLimit 1M" or "ClientAliveInterval 1".
#
# Commands run through this sshd get the user's login shell and its
# start-up files, and no PATH you can rely on: name programs by absolute
# path.  sshd_ssh runs OpenSSH's client against it, for debugging.

SSHD_BIN=${SSHD_BIN:-/usr/sbin/sshd}

# Skip the calling test (exit 77, meson's "skipped") when sshd can't run;
# with CI=true fail it instead (exit 1): scripts/deps.sh installs both.
sshd_require() {
	local p
	for p in "$SSHD_BIN" "$(command -v ssh-keygen)"; do
		if [ -z "$p" ] || [ ! -x "$p" ]; then
			if [ "${CI:-}" = true ]; then
				echo "FAIL: ${p:-ssh-keygen} not available (CI=true, and scripts/deps.sh installs openssh-server and openssh-client)" >&2
				exit 1
			fi
			echo "SKIP: ${p:-ssh-keygen} not available (scripts/deps.sh installs openssh-server and openssh-client)" >&2
			exit 77
		fi
	done
}

# Is something accepting connections on 127.0.0.1:$1?
_sshd_port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A port nobody listens on, by trying random ones.  Another process can
# still take it before sshd binds: sshd_start retries then.
_sshd_pick_port() {
	local p i
	for i in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		if ! _sshd_port_open "$p"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

_sshd_write_config() {
	# sshd takes the first value it reads for a keyword: extras go first.
	cat >"$SSHD_CONFIG" <<EOF
${SSHD_EXTRA_CONFIG:-}
ListenAddress 127.0.0.1
Port $SSHD_PORT
HostKey $SSHD_DIR/host_ed25519
HostKey $SSHD_DIR/host_ecdsa
PidFile $SSHD_DIR/sshd.pid
AuthorizedKeysFile $SSHD_DIR/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin yes
PermitUserEnvironment no
UseDNS no
PrintMotd no
PrintLastLog no
MaxSessions 64
MaxStartups 100:30:200
MaxAuthTries 20
LoginGraceTime 30
LogLevel VERBOSE
EOF
}

# Fields 3... of /proc/$1/stat (state, ppid, ...; field 22 is the start
# time), or nothing.  Field 2, the command name, may hold spaces and
# parentheses: cut after its last ")".  Builtins only: this runs for
# every process on the machine.
_sshd_stat() {
	local stat
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 0
	echo "${stat##*) }"
}

# The PIDs of every descendant of $1 (connection handlers, user commands).
_sshd_descendants() {
	local f pid kids=() k
	for f in /proc/[0-9]*; do
		pid=${f#/proc/}
		set -- "$1" $(_sshd_stat "$pid")
		[ "${3:-}" = "$1" ] && kids+=("$pid")
	done
	for k in "${kids[@]}"; do
		_sshd_descendants "$k"
		echo "$k"
	done
	return 0
}

# Stop sshd should the test shell die without sshd_stop (SIGKILL, a
# harness timeout): an orphaned sshd would live on.  Runs in background.
_sshd_watchdog() {
	local shell=$1 pid=$2 start=$3 dir=$4 k
	exec </dev/null >/dev/null 2>&1
	while kill -0 "$shell" && kill -0 "$pid"; do
		sleep 1
	done
	# sshd_stop kills this watchdog first, so if sshd is still there
	# with the same start time, it is ours and orphaned.
	[ "$(_sshd_starttime "$pid")" = "$start" ] || exit 0
	for k in $(_sshd_descendants "$pid"); do
		kill -CONT "$k" || true
		kill "$k" || true
	done
	kill "$pid" || true
	sleep 1
	rm -rf "$dir"
}

sshd_start() {
	local base try

	sshd_require
	base=${TEST_TMPDIR:-${TMPDIR:-/tmp}}
	mkdir -p "$base" || return 1
	SSHD_DIR=$(mktemp -d "$base/sshd.XXXXXX") || return 1
	SSHD_DIR=$(cd "$SSHD_DIR" && pwd -P)	# sshd re-executes itself: absolute paths
	SSHD_CONFIG=$SSHD_DIR/sshd_config
	SSHD_LOG=$SSHD_DIR/sshd.log
	SSHD_KEY=$SSHD_DIR/id_ed25519
	SSHD_KNOWN_HOSTS=$SSHD_DIR/known_hosts
	SSHD_BAD_KNOWN_HOSTS=$SSHD_DIR/known_hosts.bad
	SSHD_ECDSA_KNOWN_HOSTS=$SSHD_DIR/known_hosts.ecdsa
	SSHD_HOST=127.0.0.1
	SSHD_USER=$(id -un)
	SSHD_PID=
	export SSHD_DIR SSHD_CONFIG SSHD_LOG SSHD_KEY SSHD_KNOWN_HOSTS \
	    SSHD_BAD_KNOWN_HOSTS SSHD_ECDSA_KNOWN_HOSTS SSHD_HOST SSHD_USER SSHD_PID SSHD_PORT \
	    SSHD_HOSTKEY_FP

	ssh-keygen -q -t ed25519 -N '' -C tricklefs-test-host -f "$SSHD_DIR/host_ed25519" &&
	ssh-keygen -q -t ecdsa -b 256 -N '' -C tricklefs-test-host -f "$SSHD_DIR/host_ecdsa" &&
	ssh-keygen -q -t ed25519 -N '' -C tricklefs-test-user -f "$SSHD_KEY" &&
	ssh-keygen -q -t ed25519 -N '' -C tricklefs-test-impostor -f "$SSHD_DIR/impostor_ed25519" ||
	    { echo "sshd_start: ssh-keygen failed" >&2; return 1; }
	cp "$SSHD_KEY.pub" "$SSHD_DIR/authorized_keys"
	SSHD_HOSTKEY_FP=$(ssh-keygen -l -E sha256 -f "$SSHD_DIR/host_ed25519.pub" | cut -d' ' -f2)
	# Privilege separation wants this directory; only root can make it,
	# and only a root sshd needs it.
	mkdir -p /run/sshd 2>/dev/null || true

	for try in 1 2 3 4 5; do
		SSHD_PORT=$(_sshd_pick_port) || { echo "sshd_start: no free port" >&2; return 1; }
		_sshd_write_config
		: >"$SSHD_LOG"
		# -D: stay in the foreground, so $! is the sshd itself and no
		# daemon can escape; -E: log to a file, not syslog.
		"$SSHD_BIN" -D -f "$SSHD_CONFIG" -E "$SSHD_LOG" \
		    </dev/null >>"$SSHD_LOG" 2>&1 &
		SSHD_PID=$!
		# Up to 10 s for the port to answer.
		local i
		for i in $(seq 1 200); do
			if ! kill -0 "$SSHD_PID" 2>/dev/null; then
				break	# died: port taken, or a config error
			fi
			if [ -s "$SSHD_DIR/sshd.pid" ] && _sshd_port_open "$SSHD_PORT"; then
				break
			fi
			sleep 0.05
		done
		if kill -0 "$SSHD_PID" 2>/dev/null && _sshd_port_open "$SSHD_PORT"; then
			break
		fi
		kill "$SSHD_PID" 2>/dev/null || true
		wait "$SSHD_PID" 2>/dev/null || true
		SSHD_PID=
		if ! grep -q -i 'address already in use\|cannot bind' "$SSHD_LOG"; then
			break	# not a port clash: retrying won't help
		fi
	done
	if [ -z "$SSHD_PID" ]; then
		echo "sshd_start: sshd did not start; its log:" >&2
		sed 's/^/  sshd: /' "$SSHD_LOG" >&2
		return 1
	fi

	if [ "$(cat "$SSHD_DIR/sshd.pid")" != "$SSHD_PID" ]; then
		echo "sshd_start: pid file says $(cat "$SSHD_DIR/sshd.pid"), not $SSHD_PID" >&2
	fi
	_sshd_watchdog "$$" "$SSHD_PID" "$(_sshd_starttime "$SSHD_PID")" \
	    "$SSHD_DIR" &
	_SSHD_WATCHDOG=$!

	echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSHD_DIR/host_ed25519.pub")" \
	    >"$SSHD_KNOWN_HOSTS"
	echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSHD_DIR/impostor_ed25519.pub")" \
	    >"$SSHD_BAD_KNOWN_HOSTS"
	echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSHD_DIR/host_ecdsa.pub")" \
	    >"$SSHD_ECDSA_KNOWN_HOSTS"
	return 0
}

# A process's start time: with the PID it names one process for good,
# where a PID alone can be reused.  Nothing for a zombie.
_sshd_starttime() {
	set -- $(_sshd_stat "$1")
	[ "${1:-Z}" != Z ] && echo "${20}"
	return 0
}

# Stop the sshd that sshd_start started, the connections it forked and
# the commands those run; remove the temp dir.  Safe to call twice and
# from an EXIT trap; keeps the exit status of the caller.
sshd_stop() {
	local rc=$? pid k i ids=() alive

	if [ -n "${_SSHD_WATCHDOG:-}" ]; then
		kill "$_SSHD_WATCHDOG" 2>/dev/null || true
		wait "$_SSHD_WATCHDOG" 2>/dev/null || true
		_SSHD_WATCHDOG=
	fi
	pid=${SSHD_PID:-}
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		# Connection handlers outlive the listener: stop them too
		# (first), waking any a test froze with SIGSTOP.  Each is
		# named by PID and start time, so a reused PID is left alone.
		for k in $(_sshd_descendants "$pid") "$pid"; do
			i=$(_sshd_starttime "$k")
			[ -n "$i" ] && ids+=("$k:$i")
		done
		for k in "${ids[@]}"; do
			kill -CONT "${k%%:*}" 2>/dev/null || true
			kill "${k%%:*}" 2>/dev/null || true
		done
		for i in $(seq 1 100); do
			alive=
			for k in "${ids[@]}"; do
				[ "$(_sshd_starttime "${k%%:*}")" = "${k#*:}" ] &&
				    alive=1
			done
			[ -z "$alive" ] && break
			sleep 0.05
		done
		# Still there after 5 s: SIGKILL.
		for k in "${ids[@]}"; do
			if [ "$(_sshd_starttime "${k%%:*}")" = "${k#*:}" ]; then
				kill -KILL "${k%%:*}" 2>/dev/null || true
			fi
		done
		wait "$pid" 2>/dev/null || true	# reap it, if it is our child
	fi
	SSHD_PID=
	if [ -n "${SSHD_DIR:-}" ] && [ -d "$SSHD_DIR" ]; then
		rm -rf "$SSHD_DIR"
	fi
	SSHD_DIR=
	return $rc
}

# OpenSSH's client against the test sshd: sshd_ssh COMMAND...
sshd_ssh() {
	ssh -q -F /dev/null -i "$SSHD_KEY" -p "$SSHD_PORT" \
	    -o IdentitiesOnly=yes -o BatchMode=yes \
	    -o UserKnownHostsFile="$SSHD_KNOWN_HOSTS" -o StrictHostKeyChecking=yes \
	    "$SSHD_USER@127.0.0.1" "$@"
}

# Print sshd's log to stderr (for a failing test).
sshd_dump_log() {
	[ -n "${SSHD_LOG:-}" ] && [ -f "$SSHD_LOG" ] && sed 's/^/  sshd: /' "$SSHD_LOG" >&2
	return 0
}
