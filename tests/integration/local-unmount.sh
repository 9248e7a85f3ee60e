#!/bin/bash
# fusermount3 -u ends tricklefs and every trickle-node process of the mount
# (node and VM workers, even one running a long call) and removes the
# injected files on the node side.
. "$(dirname "$0")/lib.sh"

# A program whose own child (a copy of sleep, to be found by its path)
# outlives nothing: unmounting ends the call's processes too.
cp "$(command -v sleep)" "$T/tfs-sleep"
printf '#!/bin/sh\n%s 1000\n' "$T/tfs-sleep" >"$T/long"
chmod +x "$T/long"
mount_local 2
inject local0 "$BASIC_SO"
inject local1 "$T/long"
expect_eq "foo" 2 "$(call local0 "foo 1")"
id=$(fork local0 "sleeper 1000") || fail "fork sleeper"
id1=$(fork local1 long) || fail "fork long"
wait_for eval '[ "$(status local1 "$id1" | cut -d" " -f1)" = running ]' || fail "long is not running"
wait_for eval '[ "$(status local0 "$id" | cut -d" " -f1)" = running ]' || fail "sleeper is not running"
note_nodes
echo "node processes: $(printf '%s\n' "${SEEN_NODES[@]}" | sort -u | tr '\n' ' ')"
wait_for pgrep -f "^$T/tfs-sleep" >/dev/null || fail "the program's child is not running"
[ ${#SEEN_NODES[@]} -ge 3 ] || fail "expected a node and 2 workers, saw ${SEEN_NODES[*]}"
[ -n "$(find "$T/run" -path '*/inject/basic.so')" ] || fail "basic.so not found on the node side under $T/run"

unmount
expect_no_nodes
wait_for eval '! pgrep -f "^$T/tfs-sleep" >/dev/null' ||
	fail "the running program's child $(pgrep -f "^$T/tfs-sleep") survived the unmount"
