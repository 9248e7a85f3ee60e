# tests/integration/lib.sh - shared by every integration test (bash).
#
#	TEST_TIMEOUT=60		# optional, seconds, before sourcing
#	. "$(dirname "$0")/lib.sh"
#	need_var TRICKLE_MAP trickle-map	# more programs, if the test needs them
#	mount_local 2
#	id=$(fork local0 "foo 10") || fail "fork"
#	expect_eq "foo 10" 20 "$(result local0 "$id")"
#	expect_errno "cat of a failed call" EIO read "$M/local0/calls/$id/result"
#
# Each test mounts for real under $T (a private temp dir), runs under a
# timeout, and cleans up in an EXIT trap: it unmounts what it mounted and
# kills, by PID, only processes it started.  Exit 77 means "skipped".
#
# Variables: the programs and modules a test runs (TRICKLEFS TRICKLE_NODE
# BASIC_SO ERRNO_OF here, more by need_var), T (temp dir), M (mount
# point), LOG (tricklefs log file), FS_PID (the mounted tricklefs daemon).
#
# Where programs come from: tests/integration/meson.build passes each one
# by name (and TRICKLE_TEST_MESON=1); under meson a variable it does not
# pass is an error of meson.build.  By hand, set the variables, or BUILD
# to the meson build directory: each then defaults to the one file of its
# name under $BUILD, wherever the build keeps it.
#
# Prerequisites: a missing one skips the test (exit 77, with the reason on
# stderr); with CI=true, one that scripts/deps.sh installs fails it
# instead (need_cmd, missing_dep).  A part of a test that cannot run says
# so on stderr (skip_part), and the test's last line repeats it.

set -u
set -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCROOT=$(cd "$HERE/../.." && pwd)
TEST_NAME=$(basename "$0")

# Run the whole test under a timeout (by hand as well as under meson; keep
# meson's timeout longer so that ours fires first and the trap cleans up).
if [ -z "${_TFS_TIMED:-}" ]; then
	command -v timeout >/dev/null ||
		{ echo "ERROR: $TEST_NAME: no timeout(1) (coreutils)" >&2; exit 99; }
	export _TFS_TIMED=1
	exec timeout -k 30 "${TEST_TIMEOUT:-90}" bash "$0" "$@"
fi

skip() {
	echo "SKIP: $TEST_NAME: $*" >&2
	exit 77
}

# missing_dep REASON: a prerequisite scripts/deps.sh installs is missing:
# the test fails under CI=true (CI must have it), else it is skipped.
missing_dep() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL: $TEST_NAME: $* (CI=true, and scripts/deps.sh installs it)" >&2
		exit 1
	fi
	skip "$* (scripts/deps.sh installs it)"
}

# need_cmd COMMAND PACKAGE: COMMAND is on PATH, or missing_dep.
need_cmd() {
	command -v "$1" >/dev/null || missing_dep "no $1 (Debian package $2)"
}

# skip_part REASON: this part of the test cannot run here; said on stderr
# now and again when the test ends.  (Not for what scripts/deps.sh
# installs: use missing_dep for that.)
SKIPPED_PARTS=()
skip_part() {
	echo "SKIP (part of $TEST_NAME): $*" >&2
	SKIPPED_PARTS+=("$*")
}

_tfs_error() {
	echo "ERROR: $TEST_NAME: $*" >&2
	exit 99
}

# need_var NAME FILE: $NAME names an existing file: as meson passes it,
# else (by hand) the one file called FILE under $BUILD.  Exported.
need_var() {
	local name=$1 file=$2 v=${!1:-} found n
	if [ -z "$v" ]; then
		[ -z "${TRICKLE_TEST_MESON:-}" ] ||
			_tfs_error "$name is not set: tests/integration/meson.build must pass it (env)"
		[ -n "${BUILD:-}" ] ||
			_tfs_error "$name is not set: run under meson test, or set BUILD=<the meson build dir> (or $name=<path of $file>)"
		[ -d "$BUILD" ] || _tfs_error "BUILD=$BUILD is not a directory"
		found=$(find "$BUILD" \( -name meson-private -o -name meson-logs -o -name '*.p' \) -prune \
		    -o -type f -name "$file" -print)
		n=$(grep -c . <<<"$found")
		[ "$n" = 1 ] || {
			[ "$n" = 0 ] && _tfs_error "$name: no $file under BUILD=$BUILD (not built?)"
			_tfs_error "$name: $n files named $file under BUILD=$BUILD ($(echo $found)): set $name"
		}
		v=$found
	fi
	[ -e "$v" ] || _tfs_error "$name=$v does not exist (not built?)"
	printf -v "$name" %s "$v"
	export "$name"
}

[ -c /dev/fuse ] || skip "no /dev/fuse"
need_cmd fusermount3 fuse3
need_cmd pgrep procps
[ "$(id -u)" = 0 ] || [ -u "$(command -v fusermount3)" ] ||
	skip "not root and fusermount3 is not setuid"

need_var TRICKLEFS tricklefs
need_var TRICKLE_NODE trickle-node
need_var BASIC_SO basic.so
need_var ERRNO_OF errno-of
TRICKLE_NODE=$(readlink -f "$TRICKLE_NODE")

T=$(mktemp -d "${TMPDIR:-/tmp}/tricklefs-$TEST_NAME.XXXXXX") || exit 99
M=$T/mnt
LOG=$T/tricklefs.log
ERR=$T/mount.err
NODE_DIR=$T/node		# --dir of SSH nodes
mkdir -p "$M" "$T/run"
# Local nodes keep their session directory under $XDG_RUNTIME_DIR; the
# mount keeps its state (journal) under $XDG_STATE_HOME/tricklefs/.
export XDG_RUNTIME_DIR=$T/run
export XDG_STATE_HOME=$T/state
# The nodes of a test share cores among themselves only (trickle-node(1),
# SHARING), with room for every VM a test makes: tests run side by side,
# and most of them expect their VMs to run at once.  A test of sharing
# itself sets its own.
export TRICKLE_SHARE=${TRICKLE_SHARE:-test-$$:64}
# A sanitizer build's daemons write no stderr once detached: with
# TRICKLE_ASAN_DIR set, every process's reports go to files there
# (NAME.PID), for the run to check.
if [ -n "${TRICKLE_ASAN_DIR:-}" ]; then
	mkdir -p "$TRICKLE_ASAN_DIR" && chmod 1777 "$TRICKLE_ASAN_DIR"
	export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}log_path=$TRICKLE_ASAN_DIR/$TEST_NAME"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}${UBSAN_OPTIONS:+:}log_path=$TRICKLE_ASAN_DIR/$TEST_NAME"
fi

MAIN_PID=$BASHPID
FS_PID=
MOUNTS=()		# mount points we mounted
FS_PIDS=()		# tricklefs daemons, as PID:STARTTIME
SEEN_NODES=()		# trickle-node processes seen, as PID:STARTTIME
BG_PIDS=()		# our own background jobs
CLEANUP_HOOKS=()	# extra commands for cleanup (e.g. sshd_stop)

# ---------------------------------------------------------------- processes

# Field N (from 3, the state) of /proc/PID/stat, after the comm field.
_stat_field() {
	local s a
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	a=($s)
	echo "${a[$(($2 - 3))]}"
}
ppid_of() { _stat_field "$1" 4; }
starttime_of() { _stat_field "$1" 22; }

# Is PID:STARTTIME still the same live process (not a zombie)?
alive() {
	local pid=${1%%:*} st=${1#*:}
	[ "$(starttime_of "$pid")" = "$st" ] || return 1
	[ "$(_stat_field "$pid" 3)" != Z ]
}

# Is $1 a descendant of (or equal to) one of the PIDs $2...?
descends_from() {
	local p=$1 a
	shift
	while [ -n "$p" ] && [ "$p" -gt 1 ]; do
		for a in "$@"; do [ "$p" = "$a" ] && return 0; done
		p=$(ppid_of "$p") || return 1
	done
	return 1
}

# trickle-node processes (nodes and VM workers) below the given PIDs, as
# PID:STARTTIME, one per line.  Other people's mounts on this machine run
# the same binary, so pgrep alone is not enough: ancestry decides.
nodes_under() {
	local p
	# One snapshot of every process's parent, walked in awk: reading
	# /proc for each ancestry took minutes with thousands of other
	# trickle-node processes on the machine.
	ps -e -o pid=,ppid=,comm= | awk -v roots="$*" '
		BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) root[r[i]] = 1 }
		{ parent[$1] = $2; if ($3 == "trickle-node") cand[$1] = 1 }
		END {
			for (p in cand)
				for (q = p; q > 1 && (q in parent); q = parent[q])
					if (q in root) { print p; break }
		}' | while read -r p; do
		echo "$p:$(starttime_of "$p")"
	done
	return 0
}

# The trickle-node processes of this test: below our tricklefs daemons
# (local nodes), below our sshd (SSH nodes), or run with --dir $NODE_DIR
# (SSH nodes, even orphaned).  Remembered in SEEN_NODES for cleanup.
our_nodes() {
	local roots=() e p
	for e in "${FS_PIDS[@]}"; do alive "$e" && roots+=("${e%%:*}"); done
	[ -n "${SSHD_PID:-}" ] && roots+=("$SSHD_PID")
	roots+=(${EXTRA_SSHD_PIDS:-})
	{
		[ ${#roots[@]} -gt 0 ] && nodes_under "${roots[@]}"
		for p in $(pgrep -f -- "--dir $NODE_DIR"); do
			[ "$(readlink -f "/proc/$p/exe" 2>/dev/null)" = "$TRICKLE_NODE" ] &&
			    echo "$p:$(starttime_of "$p")"
		done
	} | sort -u | while read -r e; do
		alive "$e" && echo "$e"
	done
}

# Remember the current node processes (for the unmount checks and cleanup).
note_nodes() {
	local e
	for e in $(our_nodes); do SEEN_NODES+=("$e"); done
}

# How many of the PIDs are waiting for an answer from a FUSE daemon.
blocked_in_fuse() {
	local p n=0
	for p in "$@"; do
		[ "$(cat "/proc/$p/wchan" 2>/dev/null)" = request_wait_answer ] && n=$((n + 1))
	done
	echo $n
}

# ---------------------------------------------------------------- failing

diagnostics() {
	echo "---- $TEST_NAME: diagnostics" >&2
	if [ -f "$LOG" ]; then
		echo "---- tricklefs log ($LOG):" >&2
		tail -n 100 "$LOG" | sed 's/^/  log: /' >&2
	fi
	if [ -s "$ERR" ]; then
		echo "---- tricklefs stderr:" >&2
		sed 's/^/  err: /' "$ERR" >&2
	fi
	if is_mounted "$M"; then
		echo "---- ls -R $M:" >&2
		timeout 5 ls -lR "$M" 2>&1 | head -n 25 | sed 's/^/  ls: /' >&2
	fi
	if [ -n "${SSHD_LOG:-}" ] && [ -f "$SSHD_LOG" ]; then
		echo "---- sshd log:" >&2
		tail -n 40 "$SSHD_LOG" | sed 's/^/  sshd: /' >&2
	fi
}

# fail MESSAGE: print it and the diagnostics, end the test (cleanup runs).
# Inside a $(...) subshell it only prints and exits that subshell: write
# x=$(helper) || fail "...".
fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	if [ "$BASHPID" = "$MAIN_PID" ]; then
		diagnostics
		# again, last: meson shows only the end of a long log
		echo "FAIL: $TEST_NAME: $*" >&2
	fi
	exit 1
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}

# expect_match WHAT REGEX ACTUAL (grep -E)
expect_match() {
	grep -Eq -- "$2" <<<"$3" || fail "$1: '$3' does not match /$2/"
}

# errno_of OP ARG...: run one file operation with tests/tools/errno-of
# (open, read, write PATH TEXT, cp SRC DST, unlink, rmdir, mkdir, ...,
# see errno-of.c) and print how it ended: OK or the errno name (EIO).
# Status 0 for OK, 1 for an errno, 124 if it hung for 30 s.
errno_of() {
	timeout 30 "$ERRNO_OF" "$@" 2>/dev/null
}

# expect_errno WHAT ENAME OP ARG...: the operation ends with ENAME (or OK).
expect_errno() {
	local what=$1 want=$2 got rc
	shift 2
	got=$(errno_of "$@")
	rc=$?
	[ "$got" = "$want" ] ||
		fail "$what: $*: expected $want, got '$got' (errno-of status $rc)"
}

# strerror ENAME: the C library's text for it, as programs print it (to
# compare a tool's whole message exactly).
strerror() { "$ERRNO_OF" strerror "$1"; }

# expect_ls DIR NAME...: DIR lists exactly these names (any order).
expect_ls() {
	local dir=$1 want got
	shift
	want=$(printf '%s\n' "$@" | sed '/^$/d' | sort | tr '\n' ' ')
	got=$(timeout 10 ls -A "$dir" | sort | tr '\n' ' ') || fail "ls $dir failed"
	[ "$want" = "$got" ] || fail "ls $dir: expected '$want', got '$got'"
}

# wait_for [-t SECONDS] CMD...: poll CMD until it succeeds (default 10 s).
wait_for() {
	local t=10 end
	[ "$1" = -t ] && { t=$2; shift 2; }
	end=$(($(date +%s%N) + t * 1000000000))
	until "$@"; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# Milliseconds since the epoch, for timing.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ---------------------------------------------------------------- mounting

is_mounted() {
	awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts
}

# The tricklefs daemon serving mount point $1.
_fs_pid_of() {
	local p exe
	exe=$(readlink -f "$TRICKLEFS")
	for p in $(pgrep -f -- " $1\$"); do
		[ "$(readlink -f "/proc/$p/exe" 2>/dev/null)" = "$exe" ] &&
		    [ "$(_stat_field "$p" 3)" != Z ] && { echo "$p"; return 0; }
	done
	return 1
}

# tfs_mount ARG...: run tricklefs ARG... (without -f: it returns once
# mounted).  Its stderr goes to $ERR.  Returns tricklefs's exit status.
tfs_mount() {
	local mp=${!#} rc
	MOUNTS+=("$mp")
	"$TRICKLEFS" "$@" 2>"$ERR"
	rc=$?
	[ $rc = 0 ] || return $rc
	is_mounted "$mp" || fail "tricklefs exited 0 but $mp is not mounted"
	FS_PID=$(_fs_pid_of "$mp") || fail "no tricklefs process for $mp"
	FS_PIDS+=("$FS_PID:$(starttime_of "$FS_PID")")
	note_nodes
	return 0
}

# Split "[NODE...] [-o OPTS]" into NODES=() and OPTS.
_split_args() {
	NODES=()
	OPTS=
	while [ $# -gt 0 ]; do
		case $1 in
		-o) OPTS=${OPTS:+$OPTS,}$2; shift 2 ;;
		-o*) OPTS=${OPTS:+$OPTS,}${1#-o}; shift ;;
		*) NODES+=("$1"); shift ;;
		esac
	done
}

# mount_local N [[-o] OPTS]: N local VMs local0... on $M.
mount_local() {
	local n=$1
	shift
	[ $# -gt 0 ] && [ "$1" != -o ] && set -- -o "$@"
	_split_args "$@"
	tfs_mount -o "local=$n,logfile=$LOG${OPTS:+,$OPTS}" "$M" ||
		fail "mounting local=$n failed: $(cat "$ERR")"
}

# The -o list for an SSH mount of the test sshd.  Options given later on
# the command line (e.g. known_hosts=) override these.
ssh_opts() {
	# sshd does not pass our environment on: a sanitizer build's node
	# needs its options on the command line.
	local env=
	[ -n "${ASAN_OPTIONS:-}" ] && env="env ASAN_OPTIONS=$ASAN_OPTIONS "
	# ssh_config=none: the machine's ~/.ssh/config plays no part.
	echo "ssh_config=none,identity=$SSHD_KEY,known_hosts=$SSHD_KNOWN_HOSTS,node_command=$env$TRICKLE_NODE --dir $NODE_DIR --share $TRICKLE_SHARE,logfile=$LOG,connect_timeout=10"
}

# closed_port: a port nothing on 127.0.0.1 accepts on (50 tries), or fail.
closed_port() {
	local p i
	for i in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
	fail "no closed port on 127.0.0.1 in 50 tries"
}

# try_mount_ssh NODE... [-o OPTS]: returns tricklefs's exit status.
try_mount_ssh() {
	_split_args "$@"
	tfs_mount -o "$(ssh_opts)${OPTS:+,$OPTS}" "${NODES[@]}" "$M"
}

# mount_ssh NODE... [-o OPTS]: mount, or fail the test.
mount_ssh() {
	try_mount_ssh "$@" || fail "mounting ${NODES[*]} failed: $(cat "$ERR")"
}

# Start the test sshd (tests/sshd.sh); skip without sshd.
start_sshd() {
	. "$SRCROOT/tests/sshd.sh" || skip "tests/sshd.sh missing"
	sshd_require
	CLEANUP_HOOKS+=(sshd_stop)
	TEST_TMPDIR=$T sshd_start || fail "sshd_start failed"
}

# A second sshd (another "host"), after start_sshd: SSHD2_PORT.  Our key
# is authorized on both, SSHD_KNOWN_HOSTS then holds both hosts' keys, and
# SSHD_* describe the second one (sshd_stop stops that, _stop_sshd1 the
# first).
start_sshd2() {
	local pid1=$SSHD_PID dir1=$SSHD_DIR port1=$SSHD_PORT key1=$SSHD_KEY
	local kh1=$SSHD_KNOWN_HOSTS
	SSHD1_PID=$pid1 SSHD1_DIR=$dir1
	CLEANUP_HOOKS=(sshd_stop _stop_sshd1 "${CLEANUP_HOOKS[@]/sshd_stop}")
	EXTRA_SSHD_PIDS=$pid1
	TEST_TMPDIR=$T sshd_start || fail "second sshd_start failed"
	SSHD2_PORT=$SSHD_PORT
	cat "$key1.pub" >>"$SSHD_DIR/authorized_keys"
	cat "$kh1" "$SSHD_KNOWN_HOSTS" >"$T/known_hosts.both"
	SSHD_KNOWN_HOSTS=$T/known_hosts.both
	SSHD_KEY=$key1
	SSHD_PORT=$port1
}
_stop_sshd1() {
	SSHD_PID=$SSHD1_PID SSHD_DIR=$SSHD1_DIR
	sshd_stop
}

# unmount [MOUNTPOINT]: fusermount3 -u and wait until the daemon is gone.
unmount() {
	local mp=${1:-$M} e
	fusermount3 -u "$mp" || fail "fusermount3 -u $mp failed"
	for e in "${FS_PIDS[@]}"; do
		wait_for -t 15 eval "! alive $e" ||
			fail "tricklefs ${e%%:*} still running 15 s after unmount"
	done
	is_mounted "$mp" && fail "$mp still mounted after fusermount3 -u"
	return 0
}

# After unmount: every node process seen is gone, and (unless told
# --processes-only) no node session directory with its injected files is
# left behind.
expect_no_nodes() {
	local e left
	note_nodes
	[ ${#SEEN_NODES[@]} -gt 0 ] || fail "no trickle-node process was ever seen"
	for e in "${SEEN_NODES[@]}"; do
		wait_for -t 10 eval "! alive $e" ||
			fail "trickle-node ${e%%:*} ($(tr '\0' ' ' </proc/${e%%:*}/cmdline)) still running after unmount"
	done
	left=$(our_nodes)
	[ -z "$left" ] || fail "trickle-node processes left: $left"
	[ "${1:-}" = --processes-only ] && return 0
	# The nodes' caches of injected files (BASE/cache/sha256/HEX) are
	# kept on purpose, for the next mount.
	left=$(find "$T/run" "$NODE_DIR" "$T/state" -mindepth 2 \
		-not -path '*/cache' -not -path '*/cache/*' 2>/dev/null | head -n 20)
	[ -z "$left" ] || fail "node or state files left after unmount: $left"
}

# ---------------------------------------------------------------- calls

# fork VM LINE: the clone idiom; prints the new call id.
fork() {
	local id
	exec 3<>"$M/$1/calls/new" || return 1
	printf '%s\n' "$2" >&3 || { exec 3>&-; return 1; }
	read -r id <&3 || { exec 3>&-; echo "fork: no id for '$2'" >&2; return 1; }
	exec 3>&-
	echo "$id"
}

# result VM ID: cat the call's result (blocks until it ends; bounded).
result() {
	timeout 30 cat "$M/$1/calls/$2/result"
}

# call VM LINE: fork and print the result; fails with the call.
call() {
	local id
	id=$(fork "$1" "$2") || { echo "call: fork '$2' failed" >&2; return 1; }
	result "$1" "$id"
}

# result_fails VM ID: reading the result fails with EIO (the call did not
# succeed), or the test fails.
result_fails() {
	local got
	got=$(errno_of read "$M/$1/calls/$2/result")
	[ "$got" = OK ] && fail "cat $1/calls/$2/result succeeded ($(status "$1" "$2"))"
	expect_eq "read of $1/calls/$2/result" EIO "$got"
}

# status VM ID: the call's status file.
status() {
	timeout 10 cat "$M/$1/calls/$2/status"
}

# inject VM FILE: cp FILE into VM/inject/, or fail the test.
inject() {
	cp "$2" "$M/$1/inject/" || fail "cp $2 $1/inject/ failed"
}

# ---------------------------------------------------------------- cleanup

cleanup() {
	local rc=$? mp e i
	trap - EXIT INT TERM HUP
	trap '' PIPE
	set +e
	for e in "${BG_PIDS[@]}"; do kill "$e" 2>/dev/null; done
	for mp in "${MOUNTS[@]}"; do
		is_mounted "$mp" || continue
		fusermount3 -u "$mp" 2>/dev/null || fusermount3 -uz "$mp"
	done
	# Our daemons exit once unmounted; after 10 s, kill them by PID.
	for e in "${FS_PIDS[@]}"; do
		for i in $(seq 1 200); do alive "$e" || break; sleep 0.05; done
		alive "$e" && { echo "cleanup: killing tricklefs ${e%%:*}" >&2; kill -KILL "${e%%:*}"; }
	done
	for e in "${SEEN_NODES[@]}" $(our_nodes); do
		for i in $(seq 1 100); do alive "$e" || break; sleep 0.05; done
		alive "$e" && { echo "cleanup: killing trickle-node ${e%%:*}" >&2; kill -KILL "${e%%:*}"; }
	done
	# Anything still running from our temp dir is ours.
	for e in $(pgrep -f "^$T/"); do kill -KILL "$e" 2>/dev/null; done
	for e in "${BG_PIDS[@]}"; do wait "$e" 2>/dev/null; done
	for e in "${CLEANUP_HOOKS[@]}"; do [ -n "$e" ] && $e; done
	if [ ${#SKIPPED_PARTS[@]} -gt 0 ]; then
		echo "NOTE: $TEST_NAME ended (status $rc) with ${#SKIPPED_PARTS[@]} part(s) skipped:" >&2
		printf '  SKIPPED: %s\n' "${SKIPPED_PARTS[@]}" >&2
	fi
	# Never rm -rf into a mount that is still there.
	for mp in "${MOUNTS[@]}"; do
		is_mounted "$mp" && { echo "cleanup: $mp still mounted, keeping $T" >&2; exit 1; }
	done
	rm -rf "$T"
	exit $rc
}
trap cleanup EXIT
trap 'echo "$TEST_NAME: interrupted" >&2; exit 124' INT TERM HUP
# A closed stdout (| head) must not kill us without the cleanup.
trap 'exit 141' PIPE
