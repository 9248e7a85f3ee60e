#!/bin/bash
# Several clients on one node share its cores (trickle-node(1), SHARING):
# mounts of this machine's local VMs, each with its own trickle-node, on a
# share of 2 slots, as on a 2-core node.  Every call is a tick of 0.5 s
# that appends "TAG START END" to a log, the ground truth outside
# tricklefs.  From that log:
#   - never more than 2 calls run at once;
#   - while two mounts both have work, each gets 40-60% of the slot-time
#     and the slots are busy >= 90% of it;
#   - a mount killed -9: the other has both cores within 10 s;
#   - two users (root and a throwaway one), root with two mounts: the
#     other user still gets 40-60% (more mounts buy no more than a fair
#     share), and neither user can look into the other's node session.
# Every tick ran exactly once (no call lost, none run twice).
TEST_TIMEOUT=240
. "$(dirname "$0")/lib.sh"

export TRICKLE_SHARE=share-$$:2
N=${SHARE_CALLS:-40}
chmod 711 "$T"
TICKS=$T/ticks
: >"$TICKS"
chmod 666 "$TICKS"

cat >"$T/tick" <<'EOF'
#!/bin/bash
# tick TAG LOG: a call that keeps its slot 0.5 s; one line when done.
s=$EPOCHREALTIME
sleep 0.5
echo "$1 $s $EPOCHREALTIME" >>"$2"
EOF
# pile MOUNT TAG N: N ticks forked through MOUNT/.any, ids on stdout.
cat >"$T/pile" <<'EOF'
#!/bin/bash
m=$1 tag=$2 n=$3 tick=$4 log=$5
for i in $(seq 1 "$n"); do
	exec 5<>"$m/.any/calls/new" || exit 1
	printf 'exec %s %s %s\n' "$tick" "$tag" "$log" >&5 || exit 1
	read -r id <&5 || exit 1
	exec 5>&-
	echo "$id"
done
EOF
# joinpile MOUNT IDFILE: read every result (each blocks until its end).
cat >"$T/joinpile" <<'EOF'
#!/bin/bash
while read -r id; do
	timeout 120 cat "$1/.any/calls/$id/result" >/dev/null || {
		echo "joinpile: $1/.any/calls/$id: $(cat "$1/.any/calls/$id/status")" >&2
		exit 1
	}
done <"$2"
EOF
chmod 755 "$T/tick" "$T/pile" "$T/joinpile"

# ticks_check TAG...: no more than 2 at once over the whole log; each TAG
# has N lines; in the window where every TAG had work, each has its share
# of the slot-time within 40-60% (of its group: "A+B" adds two tags up)
# and no slot is left unused (longer than a hand-over, GAP) for more
# than 10% of the window.
ticks_check() {
	local out
	out=$(awk -v groups="$*" -v n="$N" -v GAP=0.3 '
	{ tag[NR] = $1; s[NR] = $2; e[NR] = $3; count[$1]++ }
	END {
		most = 0
		for (i = 1; i <= NR; i++) {
			c = 0
			for (j = 1; j <= NR; j++)
				if (s[j] <= s[i] && s[i] < e[j]) c++
			if (c > most) most = c
		}
		if (most > 2) { printf "%d calls ran at once (budget 2)\n", most; exit 1 }
		ng = split(groups, g, " ")
		lo = 0; hi = 1e30
		for (k = 1; k <= ng; k++) {
			nt = split(g[k], t, "+")
			first = 1e30; last = 0
			for (x = 1; x <= nt; x++) {
				if (count[t[x]] != n) { printf "%s: %d ticks, not %d\n", t[x], count[t[x]], n; exit 1 }
				member[t[x]] = k
			}
			for (i = 1; i <= NR; i++) if (member[tag[i]] == k) {
				if (s[i] < first) first = s[i]
				if (e[i] > last) last = e[i]
			}
			if (first > lo) lo = first
			if (last < hi) hi = last
		}
		if (hi - lo < 2) { printf "the mounts were busy together %.2f s only\n", hi - lo; exit 1 }
		total = 0
		for (i = 1; i <= NR; i++) {
			k = member[tag[i]]
			if (!k) continue
			a = s[i] > lo ? s[i] : lo
			b = e[i] < hi ? e[i] : hi
			if (b > a) { busy[k] += b - a; total += b - a }
		}
		# Idle slot-time: stretches where fewer than 2 ticks ran.  A
		# stretch shorter than GAP is one tick handing its slot to
		# the next (a process ends, another starts: long on a loaded
		# machine, nothing the sharing decides); only longer ones, a
		# slot left unused while work waits, count against it.
		ne = 0
		for (i = 1; i <= NR; i++) if (member[tag[i]]) {
			a = s[i] > lo ? s[i] : lo; b = e[i] < hi ? e[i] : hi
			if (b <= a) continue
			et[++ne] = a; ed[ne] = 1; et[++ne] = b; ed[ne] = -1
		}
		et[++ne] = hi; ed[ne] = 0
		for (x = 2; x <= ne; x++) {	# by time (insertion sort)
			vt = et[x]; vd = ed[x]
			for (y = x - 1; y >= 1 && et[y] > vt; y--) {
				et[y + 1] = et[y]; ed[y + 1] = ed[y]
			}
			et[y + 1] = vt; ed[y + 1] = vd
		}
		c = 0; now = lo; idle = 0; run_from = -1; run_idle = 0
		for (x = 1; x <= ne; x++) {
			if (et[x] > now && c < 2) {
				if (run_from < 0) { run_from = now; run_idle = 0 }
				run_idle += (2 - c) * (et[x] - now)
			}
			c += ed[x]; now = et[x]
			if (c >= 2 && run_from >= 0) {
				if (now - run_from >= GAP) idle += run_idle
				run_from = -1
			}
		}
		if (run_from >= 0 && now - run_from >= GAP) idle += run_idle
		used = 1 - idle / (2 * (hi - lo))
		printf "window %.2f s, busy %.1f%% (%.1f%% without hand-overs):", hi - lo, 100 * total / (2 * (hi - lo)), 100 * used
		for (k = 1; k <= ng; k++) printf " %s %.1f%%", g[k], 100 * busy[k] / total
		printf "\n"
		for (k = 1; k <= ng; k++)
			if (busy[k] / total < 0.40 || busy[k] / total > 0.60) {
				printf "%s had %.1f%% of the slot-time\n", g[k], 100 * busy[k] / total; exit 1
			}
		if (used < 0.90) {
			printf "slots left unused %.1f%% of the time\n", 100 * (1 - used); exit 1
		}
	}' "$TICKS") || fail "ticks of $*: $out"
	echo "$TEST_NAME: $* $out"
}

# ---- two mounts of one user
M2=$T/m2
mkdir -p "$M2"
mount_local 2
FS1=$FS_PID
tfs_mount -o "local=2,logfile=$T/log2" "$M2" || fail "second mount: $(cat "$ERR")"
FS2=$FS_PID

"$T/pile" "$M" A "$N" "$T/tick" "$TICKS" >"$T/ids.A" &
pa=$!
"$T/pile" "$M2" B "$N" "$T/tick" "$TICKS" >"$T/ids.B" &
pb=$!
wait $pa || fail "forking pile A"
wait $pb || fail "forking pile B"
# Both mounts have work now: the node says so where users look.
wait_for -t 20 eval 'grep -q "^clients: 2$" "$M/local0/info"' ||
	fail "local0/info: no 'clients: 2': $(grep -E 'clients|slots' "$M/local0/info")"
grep -Eq "^slots: [0-2] of 2$" "$M/local0/info" ||
	fail "local0/info: no 'slots: K of 2': $(grep -E 'slots' "$M/local0/info")"
grep -Eq "^local0 local up [0-9]+ [0-9]+ [0-9]+ [0-9]+ 2 [0-2]/2$" "$M/.ctl" ||
	fail ".ctl: no clients and slots columns: $(head -n 2 "$M/.ctl")"
# A call waiting for a core says why.
wait_for -t 20 eval 'grep -h "waiting for a core (1 other client on this node)" "$M"/local?/calls/*/status >/dev/null 2>&1' ||
	fail "no call of $M waits for a core with a reason: $(cat "$M"/local?/calls/*/status | sort | uniq -c)"
"$T/joinpile" "$M" "$T/ids.A" & ja=$!
"$T/joinpile" "$M2" "$T/ids.B" & jb=$!
wait $ja || fail "joining pile A"
wait $jb || fail "joining pile B"
ticks_check A B

# ---- a mount killed -9: the other gets both cores
: >"$TICKS"
"$T/pile" "$M" C "$N" "$T/tick" "$TICKS" >"$T/ids.C" || fail "forking pile C"
"$T/pile" "$M2" D "$N" "$T/tick" "$TICKS" >"$T/ids.D" || fail "forking pile D"
wait_for -t 20 eval 'grep -q "^C " "$TICKS" && grep -q "^D " "$TICKS"' ||
	fail "both piles should be running: $(cat "$TICKS")"
orphans=$(nodes_under "$FS1")
killed=$EPOCHREALTIME
kill -KILL "$FS1"
fusermount3 -uz "$M"
"$T/joinpile" "$M2" "$T/ids.D" || fail "joining pile D after the other mount died"
out=$(awk -v k="$killed" '
	$1 == "D" { n++; s[n] = $2; e[n] = $3 }
	END {
		best = 1e30
		for (i = 1; i <= n; i++) for (j = 1; j <= n; j++)
			if (i != j && s[i] >= k && s[j] <= s[i] && s[i] < e[j] && s[i] < best)
				best = s[i]
		if (best == 1e30) { print "never"; exit }
		printf "%.2f\n", best - k
	}' "$TICKS")
[ "$out" != never ] || fail "after the kill, D never ran 2 calls at once: $(grep '^D ' "$TICKS")"
awk -v t="$out" 'BEGIN { exit !(t <= 10) }' ||
	fail "D got both cores $out s after the other mount was killed"
echo "$TEST_NAME: both cores $out s after kill -9 of the other mount"
expect_eq "D's ticks" "$N" "$(grep -c '^D ' "$TICKS")"
unmount "$M2"
# The dead mount's node waits out its lease, its calls taking cores no one
# else wants; it has no part in what follows.
for e in $orphans; do alive "$e" && kill -KILL "${e%%:*}"; done

# ---- two users: root with two mounts of local VMs, and a mount whose
# node is reached over SSH as another user (its trickle-node runs as that
# user, as another user's mount on a shared node would).  /dev/fuse is
# root's alone here, so the other user's client is its node.
if [ "$(id -u)" != 0 ]; then
	skip_part "two users: not root"
	exit 0
fi
U=trickleshare
MADE_USER=
if ! id -u "$U" >/dev/null 2>&1; then
	# '*': no password, but not locked (sshd without PAM refuses '!').
	useradd -M -r -s /bin/bash -p '*' "$U" 2>"$T/useradd.err" ||
		fail "useradd $U failed: $(cat "$T/useradd.err")"
	MADE_USER=$U
fi
remove_user() { [ -n "$MADE_USER" ] && userdel "$MADE_USER"; }
CLEANUP_HOOKS+=(remove_user)
as() {
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups -- "$@"
}
as "$U" test -x "$TRICKLE_NODE" ||
	fail "$U cannot run $TRICKLE_NODE (the build directory must be world-readable)"
start_sshd
# sshd reads the keys as the user.
chmod 755 "$SSHD_DIR"
chmod 644 "$SSHD_DIR/authorized_keys"
UD=$T/user
mkdir -p "$UD/node"
chown "$U" "$UD/node"
asan=
[ -n "${ASAN_OPTIONS:-}" ] && asan="env ASAN_OPTIONS=$ASAN_OPTIONS "

: >"$TICKS"
# A new mount point: a mount on the old one would take up the calls of
# the mount killed there (its journal), and rightly run them again.
M=$T/m5 M3=$T/m3 M4=$T/m4
mkdir -p "$M" "$M3" "$M4"
mount_local 2
tfs_mount -o "local=2,logfile=$T/log3" "$M3" || fail "third mount: $(cat "$ERR")"
tfs_mount -o "$(ssh_opts),logfile=$T/log4,vms_per_node=2,node_command=$asan$TRICKLE_NODE --dir $UD/node --share $TRICKLE_SHARE" \
	"$U@127.0.0.1:$SSHD_PORT" "$M4" || fail "mount of $U's node: $(cat "$ERR")"
g=$(ls "$M4" | grep -v '^\.' | head -n 1)

half=$((N / 2))
"$T/pile" "$M" E "$half" "$T/tick" "$TICKS" >"$T/ids.E" & p1=$!
"$T/pile" "$M3" F "$half" "$T/tick" "$TICKS" >"$T/ids.F" & p2=$!
"$T/pile" "$M4" G "$N" "$T/tick" "$TICKS" >"$T/ids.G" & p3=$!
wait $p1 && wait $p2 && wait $p3 || fail "forking the piles of two users"
wait_for -t 20 eval 'grep -q "^clients: 3$" "$M4/$g/info"' ||
	fail "$M4/$g/info: no 'clients: 3': $(grep -E 'clients|slots' "$M4/$g/info")"
# Neither user sees into the other's node sessions.
as "$U" ls "$T/run/trickle-node" >/dev/null 2>&1 &&
	fail "$U can list root's node sessions"
modes=$(find "$UD/node" -mindepth 1 -maxdepth 1 -type d ! -name cache -printf '%m\n' | sort -u)
expect_eq "modes of $U's node sessions" 700 "$modes"
"$T/joinpile" "$M" "$T/ids.E" & j1=$!
"$T/joinpile" "$M3" "$T/ids.F" & j2=$!
"$T/joinpile" "$M4" "$T/ids.G" & j3=$!
wait $j1 && wait $j2 && wait $j3 || fail "joining the piles of two users"
# E and F, root's two mounts, have N/2 each; G, the other user's, N.
awk -v n="$half" '$1 == "E" { e++ } $1 == "F" { f++ } END { exit !(e == n && f == n) }' "$TICKS" ||
	fail "root's ticks: $(grep -c '^E ' "$TICKS") E, $(grep -c '^F ' "$TICKS") F, not $half each"
sed -i 's/^[EF] /R /' "$TICKS"
N=$((2 * half)) ticks_check R G
fusermount3 -u "$M4" || fail "unmounting $M4"
fusermount3 -u "$M3" || fail "unmounting $M3"
unmount
