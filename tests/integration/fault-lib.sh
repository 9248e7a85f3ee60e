# fault-lib.sh - for the fault-injection tests (ssh-fault-*, netns-fault-*):
# a pile of .any work whose runs are counted outside tricklefs.  Source it
# after lib.sh.
#
# Every work item runs attempts.so's "work LOG MS ITEM", which appends
# "start ITEM PID" and "end ITEM PID" to $ATTEMPTS on the node: the ground
# truth of how often each item ran, whatever tricklefs says.

need_var ATTEMPTS_SO tests/tools/attempts.so
need_var TRICKLE_MAP trickle-map
ATTEMPTS=$T/attempts.log

# start_pile N MS: trickle-map N items ("work $ATTEMPTS MS ITEM") through
# .any in the background: its stdout in $T/pile.out, stderr in
# $T/pile.err, joblog $T/pile.joblog; PILE_PID.
start_pile() {
	local n=$1 ms=$2
	: >"$ATTEMPTS"
	seq "$n" | timeout 300 "$TRICKLE_MAP" -C "$M" -n 1 -j 8 \
		--joblog "$T/pile.joblog" work "$ATTEMPTS" "$ms" \
		>"$T/pile.out" 2>"$T/pile.err" &
	PILE_PID=$!
	BG_PIDS+=("$PILE_PID")
}

# ended_items: how many items have ended so far (ground truth).
ended_items() {
	grep -c '^end ' "$ATTEMPTS" 2>/dev/null || echo 0
}

# wait_pile: trickle-map ends with 0 (every call succeeded).
wait_pile() {
	local rc=0
	wait "$PILE_PID" || rc=$?
	[ $rc = 0 ] || fail "trickle-map exited $rc: $(tail -5 "$T/pile.err")"
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
# truth: items that started twice have two lines, the first lost.
check_attempts() {
	local id item n lines
	for id in $(ls "$M/.any/calls" | grep -v '^new$'); do
		[ -e "$M/.any/calls/$id/attempts" ] || return 0	# none yet
		item=$(awk '{ print $NF }' "$M/.any/calls/$id/args")
		n=$(awk -v i="$item" '$1 == "start" && $2 == i' "$ATTEMPTS" | wc -l)
		lines=$(wc -l <"$M/.any/calls/$id/attempts")
		expect_eq ".any/$id (item $item) attempts lines" "$n" "$lines"
		[ "$n" = 1 ] && continue
		expect_match ".any/$id first attempt" '^1 .* lost: ' \
			"$(head -1 "$M/.any/calls/$id/attempts")"
		expect_match ".any/$id last attempt" " done\$" \
			"$(tail -1 "$M/.any/calls/$id/attempts")"
	done
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
