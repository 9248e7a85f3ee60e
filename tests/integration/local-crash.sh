#!/bin/bash
# A crashing call fails with its signal; only that VM's process dies, and
# the VM comes back by itself with its injected code (state starts over).
. "$(dirname "$0")/lib.sh"

# Worker processes: children of the node below tricklefs, except the node
# and the zygote that forks them.
workers() {
	our_nodes | while read -r e; do
		[ "$(ppid_of "${e%%:*}")" = "$FS_PID" ] && continue
		tr '\0' ' ' <"/proc/${e%%:*}/cmdline" | grep -q -- --zygote ||
			echo "$e"
	done | sort
}

mount_local 2
inject local0 "$BASIC_SO"
inject local1 "$BASIC_SO"
expect_eq "counter" 1 "$(call local0 counter)"
expect_eq "counter" 2 "$(call local0 counter)"
expect_eq "local1 counter" 1 "$(call local1 counter)"
before=$(workers)
nodes=$(our_nodes | wc -l)
expect_eq "worker processes" 2 "$(echo "$before" | wc -l)"

id=$(fork local0 crash) || fail "fork crash"
result_fails local0 "$id"
expect_eq "status" "failed signal 11 (SIGSEGV)" "$(status local0 "$id")"

# Code injected before the crash is there again; the counter restarted.
expect_eq "foo after crash" 4 "$(call local0 "foo 2")"
expect_eq "counter after crash" 1 "$(call local0 counter)"
# The other VM kept its process and its state.
expect_eq "local1 counter" 2 "$(call local1 counter)"
after=$(workers)
expect_eq "processes after crash" "$nodes" "$(our_nodes | wc -l)"
expect_eq "workers replaced" 1 "$(comm -23 <(echo "$before") <(echo "$after") | wc -l)"
expect_eq "workers new" 1 "$(comm -13 <(echo "$before") <(echo "$after") | wc -l)"

# It recovers from repeated crashes too.
for i in 1 2 3; do
	id=$(fork local0 crash) || fail "fork crash $i"
	result_fails local0 "$id"
done
expect_eq "foo after three crashes" 6 "$(call local0 "foo 3")"
expect_ls "$M/local0/inject" basic.so
