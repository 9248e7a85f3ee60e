#!/bin/bash
# A call's files: args, status (queued/running/done), result, stdout, stderr
# (readable while the call runs), and the calls/ listing.
. "$(dirname "$0")/lib.sh"

cat >"$T/chatty" <<'SH'
#!/bin/sh
echo "out one"
echo "err one" >&2
sleep 3
echo "out two"
SH
chmod +x "$T/chatty"

mount_local 1
inject local0 "$BASIC_SO"
inject local0 "$T/chatty"

a=$(fork local0 "add 1 2 3") || fail "fork add"
expect_eq "result" 6 "$(result local0 "$a")"
expect_eq "args" "add 1 2 3" "$(cat "$M/local0/calls/$a/args")"
expect_eq "status" done "$(status local0 "$a" | cut -d' ' -f1)"
expect_eq "stdout" 6 "$(cat "$M/local0/calls/$a/stdout")"
expect_eq "stderr" "" "$(cat "$M/local0/calls/$a/stderr")"

# A running call, and one queued behind it (one call at a time per VM).
r=$(fork local0 "chatty x") || fail "fork chatty"
q=$(fork local0 "add 40 2") || fail "fork add 40 2"
wait_for eval '[ "$(cat "$M/local0/calls/$r/stdout")" = "out one" ]' ||
	fail "stdout of a running call: '$(cat "$M/local0/calls/$r/stdout")'"
wait_for eval '[ "$(cat "$M/local0/calls/$r/stderr")" = "err one" ]' ||
	fail "stderr of a running call: '$(cat "$M/local0/calls/$r/stderr")'"
expect_eq "status while running" running "$(status local0 "$r" | cut -d' ' -f1)"
expect_eq "status behind it" queued "$(status local0 "$q" | cut -d' ' -f1)"
expect_eq "result of queued call" "" "$(cat "$M/local0/calls/$q/stdout")"
expect_ls "$M/local0/calls" "$a" "$r" "$q" new

expect_eq "chatty result" "out one
out two" "$(result local0 "$r")"
expect_eq "chatty status" done "$(status local0 "$r" | cut -d' ' -f1)"
expect_eq "queued call ran after" 42 "$(result local0 "$q")"
expect_eq "stderr after" "err one" "$(cat "$M/local0/calls/$r/stderr")"
