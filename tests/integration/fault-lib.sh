# fault-lib.sh - for the fault-injection tests (ssh-fault-*, netns-fault-*):
# a pile of .any work whose runs are counted outside tricklefs.  Source it
# after lib.sh.
#
# Every work item runs attempts.so's "work LOG MS ITEM", which appends
# "start ITEM PID" and "end ITEM PID" to $ATTEMPTS on the node: the ground
# truth of how often each item ran, whatever tricklefs says.

need_var ATTEMPTS_SO tests/tools/attempts.so
ATTEMPTS=$T/attempts.log

# start_pile N MS: fork N .any calls ("work $ATTEMPTS MS ITEM", ITEM 1..N)
# and join them in the background, in order: "ITEM ok" lines in
# $T/pile.out, the calls' ids in $T/pile.ids, errors in $T/pile.err;
# PILE_PID.  The calls stay in the tree, for their attempts files.
start_pile() {
	local n=$1 ms=$2 i id
	: >"$ATTEMPTS"
	: >"$T/pile.ids"
	: >"$T/pile.out"
	exec 3<>"$M/.any/calls/new" || fail "open .any/calls/new"
	for i in $(seq "$n"); do
		printf 'work %s %s %s\n' "$ATTEMPTS" "$ms" "$i" >&3
		read -r id <&3 || fail "no id for item $i"
		echo "$id" >>"$T/pile.ids"
	done
	exec 3>&-
	(
		rc=0
		while read -r id; do
			timeout 240 cat "$M/.any/calls/$id/result" >>"$T/pile.out" ||
				{ echo "call $id: $(cat "$M/.any/calls/$id/status")"; rc=1; }
		done <"$T/pile.ids"
		exit $rc
	) 2>"$T/pile.err" >>"$T/pile.err" &
	PILE_PID=$!
	BG_PIDS+=("$PILE_PID")
}

# ended_items: how many items have ended so far (ground truth).
ended_items() {
	local n
	n=$(grep -c '^end ' "$ATTEMPTS" 2>/dev/null) || true
	echo "${n:-0}"
}

# wait_pile: every call was joined with its result.
wait_pile() {
	local rc=0
	wait "$PILE_PID" || rc=$?
	[ $rc = 0 ] || fail "joining the pile failed: $(tail -5 "$T/pile.err")"
}

# fault_in_time N: the fault came while work was left (not after the
# pile had ended, which would test nothing).
fault_in_time() {
	[ "$(ended_items)" -lt "$1" ] ||
		fail "the fault came after all $1 items had ended: it tested nothing"
}

# check_pile N MAXTWICE: every item 1..N printed its result exactly once
# and ended exactly once on the nodes; at most MAXTWICE items started
# twice (runs cut off with a node), none more; prints the counts.
check_pile() {
	local n=$1 maxtwice=$2 twice
	expect_eq "results" "$n" "$(grep -c ' ok$' "$T/pile.out")"
	expect_eq "distinct results" "$n" "$(sort -u "$T/pile.out" | grep -c ' ok$')"
	expect_eq "items ended on the nodes" "$n" \
		"$(awk '$1 == "end" { print $2 }' "$ATTEMPTS" | sort -u | wc -l)"
	expect_eq "items ended more than once" "" \
		"$(awk '$1 == "end" { print $2 }' "$ATTEMPTS" | sort | uniq -d | head -5)"
	twice=$(awk '$1 == "start" { print $2 }' "$ATTEMPTS" | sort | uniq -d | wc -l)
	[ "$(awk '$1 == "start" { print $2 }' "$ATTEMPTS" | sort | uniq -c | awk '$1 > 2' | wc -l)" = 0 ] ||
		fail "an item started more than twice"
	[ "$twice" -le "$maxtwice" ] ||
		fail "$twice items started twice (at most $maxtwice were running on the lost node)"
	echo "$n results; $twice items ran twice"
	TWICE=$twice
}

# check_attempts: each .any call's attempts file agrees with the ground
# truth: the last run is done, every one before it was lost (or taken
# back from a draining VM before it started there), and there
# are at least as many as the item started (a run lost while it still
# waited on its node never started there).
check_attempts() {
	local id item n lines
	while read -r id; do
		item=$(awk '{ print $NF }' "$M/.any/calls/$id/args")
		n=$(awk -v i="$item" '$1 == "start" && $2 == i' "$ATTEMPTS" | wc -l)
		lines=$(wc -l <"$M/.any/calls/$id/attempts")
		[ "$lines" -ge "$n" ] ||
			fail ".any/$id (item $item) started $n times, $lines attempts"
		expect_match ".any/$id last attempt" " done\$" \
			"$(tail -1 "$M/.any/calls/$id/attempts")"
		[ "$lines" = 1 ] && continue
		expect_eq ".any/$id runs before the last, lost or taken back" \
			"$((lines - 1))" "$(head -n -1 "$M/.any/calls/$id/attempts" |
			grep -c -e ' lost: ' -e ' taken back: ')"
	done <"$T/pile.ids"
}

# ran_on VM: how many of the pile's calls ran (last) on VM.
ran_on() {
	local id n=0
	while read -r id; do
		[ "$(cat "$M/.any/calls/$id/vm")" = "$1" ] && n=$((n + 1))
	done <"$T/pile.ids"
	echo $n
}

# node_of_sshd SSHD_PID: the trickle-node (the supervisor, run with
# --dir) serving a session of that sshd.
node_of_sshd() {
	local e p
	for e in $(our_nodes); do
		p=${e%%:*}
		tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "--dir $NODE_DIR" || continue
		tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "--worker" && continue
		descends_from "$p" "$1" && echo "$p"
	done
}
