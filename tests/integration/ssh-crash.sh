#!/bin/bash
# Over SSH: a crashing call fails with SIGSEGV, only its VM restarts, with
# its injected code; the other VM on the same node keeps its state.
. "$(dirname "$0")/lib.sh"
start_sshd

mount_ssh a=127.0.0.1:$SSHD_PORT b=127.0.0.1:$SSHD_PORT
inject a "$BASIC_SO"
inject b "$BASIC_SO"
expect_eq "a counter" 1 "$(call a counter)"
expect_eq "b counter" 1 "$(call b counter)"
nodes=$(our_nodes | wc -l)

id=$(fork a crash) || fail "fork crash"
result_fails a "$id"
expect_eq "status" "failed signal 11 (SIGSEGV)" "$(status a "$id")"
expect_eq "foo after crash" 4 "$(call a "foo 2")"
expect_eq "a counter after crash" 1 "$(call a counter)"
expect_eq "b counter" 2 "$(call b counter)"
expect_ls "$M/a/inject" basic.so
expect_eq "node processes after crash" "$nodes" "$(our_nodes | wc -l)"
note_nodes
unmount
expect_no_nodes
