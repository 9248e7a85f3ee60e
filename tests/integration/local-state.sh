#!/bin/bash
# VM state persists between calls (counter 1, 2, 3), separately per VM, and
# calls on one VM run one at a time, in order.
. "$(dirname "$0")/lib.sh"

mount_local 2
inject local0 "$BASIC_SO"
inject local1 "$BASIC_SO"
expect_eq "local0 counter" 1 "$(call local0 counter)"
expect_eq "local0 counter" 2 "$(call local0 counter)"
expect_eq "local1 counter" 1 "$(call local1 counter)"
expect_eq "local0 counter" 3 "$(call local0 counter)"

# Ten calls forked back to back run in order: 4..13.
ids=()
for i in $(seq 1 10); do
	id=$(fork local0 counter) || fail "fork counter"
	ids+=("$id")
done
n=4
for id in "${ids[@]}"; do
	expect_eq "counter call $id" $n "$(result local0 "$id")"
	n=$((n + 1))
done
expect_eq "local1 counter" 2 "$(call local1 counter)"
