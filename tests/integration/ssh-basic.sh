#!/bin/bash
# The example over SSH: two VMs (a, b) on one sshd; inject, fork, results,
# failures, and the node side's files while mounted.
. "$(dirname "$0")/lib.sh"
start_sshd

mount_ssh a=127.0.0.1:$SSHD_PORT b=127.0.0.1:$SSHD_PORT
expect_ls "$M" .all .any .ctl .done .log a b
inject a "$BASIC_SO"
inject b "$BASIC_SO"
expect_ls "$M/a/inject" basic.so

id=$(fork a "foo 10") || fail "fork foo 10"
expect_eq "foo 10" 20 "$(result a "$id")"
expect_eq "status" done "$(status a "$id")"
expect_eq "args" "foo 10" "$(cat "$M/a/calls/$id/args")"
expect_eq "add on b" 6 "$(call b "add 1 2 3")"
expect_eq "counter a" 1 "$(call a counter)"
expect_eq "counter a" 2 "$(call a counter)"
expect_eq "counter b" 1 "$(call b counter)"

id=$(fork b "fail 3") || fail "fork fail 3"
result_fails b "$id"
expect_eq "status" "failed exit 3" "$(status b "$id")"
expect_eq "stdout" "some output" "$(cat "$M/b/calls/$id/stdout")"
expect_eq "stderr" "failing with 3" "$(cat "$M/b/calls/$id/stderr")"

# The node runs under our sshd, keeping its files under --dir.
note_nodes
[ -n "$(nodes_under "$SSHD_PID")" ] || fail "no trickle-node below the test sshd"
[ $(find "$NODE_DIR" -path '*/inject/basic.so' | wc -l) = 2 ] ||
	fail "expected basic.so twice under $NODE_DIR: $(find "$NODE_DIR")"

unmount
expect_no_nodes
