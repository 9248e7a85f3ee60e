#!/bin/bash
# Call options: TRICKLE_TIMEOUT=S in front of a line stops the call after
# S seconds ("failed timeout", the result fails with EIO, the VM comes
# back with its code); -o timeout=S gives the default, which a line's
# TRICKLE_TIMEOUT overrides; an unknown TRICKLE_ option or a bad value
# fails the call without running it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model-lib.sh"

mount_local 1
V=local0
inject $V "$BASIC_SO"
expect_eq "counter" 1 "$(call $V counter)"

# The running call is stopped after its timeout.
id=$(fork $V "TRICKLE_TIMEOUT=1 sleeper 20") || fail "fork"
start=$(now_ms)
result_fails $V "$id"
elapsed=$(($(now_ms) - start))
expect_eq "status" "failed timeout" "$(status $V "$id")"
[ $elapsed -ge 800 ] && [ $elapsed -lt 5000 ] || fail "a 1 s timeout took $elapsed ms"
expect_eq "args keep the option" "TRICKLE_TIMEOUT=1 sleeper 20" "$(cat "$M/$V/calls/$id/args")"
# The VM is back, with its code (and fresh state).
expect_eq "foo after a timeout" 4 "$(call $V "foo 2")"
expect_eq "counter after a timeout" 1 "$(call $V counter)"
# Fractions; a call that ends in time is not affected; the timeout counts
# from when the call starts, not while it is queued.
id=$(fork $V "TRICKLE_TIMEOUT=0.5 sleep 3") || fail "fork"
result_fails $V "$id"
expect_eq "fractional timeout" "failed timeout" "$(status $V "$id")"
a=$(fork $V "sleeper 2") || fail "fork"
b=$(fork $V "TRICKLE_TIMEOUT=1.5 sleeper 1") || fail "fork"
expect_eq "in time, after a queue wait" "slept 1" "$(result $V "$b")"
expect_eq "the one before it" "slept 2" "$(result $V "$a")"
# With the environment too, in either order.
id=$(fork $V "FOO=x TRICKLE_TIMEOUT=5 exec printenv FOO") || fail "fork"
expect_eq "env and option" x "$(result $V "$id")"
# Options are not passed on as environment variables.
id=$(fork $V "TRICKLE_TIMEOUT=5 exec printenv TRICKLE_TIMEOUT") || fail "fork"
result_fails $V "$id"

# Unknown options and bad values fail the call, which never runs.
expect_eq "counter before" 1 "$(call $V counter)"
for line in "TRICKLE_X=1 counter" "TRICKLE_TIMEOUT=abc counter" "TRICKLE_TIMEOUT=-1 counter"; do
	id=$(fork $V "$line") || fail "fork $line"
	result_fails $V "$id"
	case $line in
	TRICKLE_X=*) want="failed unknown call option TRICKLE_X" ;;
	*) want="failed bad call option ${line%% *} (seconds wanted)" ;;
	esac
	expect_eq "status of '$line'" "$want" "$(status $V "$id")"
done
expect_eq "counter: none of them ran" 2 "$(call $V counter)"
unmount

# -o timeout=S: the default for every call.
mount_local 1 -o timeout=1
inject $V "$BASIC_SO"
expect_eq "quick call under -o timeout=1" 6 "$(call $V "foo 3")"
id=$(fork $V "sleeper 10") || fail "fork"
start=$(now_ms)
result_fails $V "$id"
elapsed=$(($(now_ms) - start))
expect_eq "status under -o timeout=1" "failed timeout" "$(status $V "$id")"
[ $elapsed -lt 5000 ] || fail "-o timeout=1 took $elapsed ms"
id=$(fork $V "TRICKLE_TIMEOUT=4 sleeper 2") || fail "fork"
expect_eq "a line's TRICKLE_TIMEOUT overrides -o timeout" "slept 2" "$(result $V "$id")"
id=$(fork $V "exec sleep 3") || fail "fork"
result_fails $V "$id"
expect_eq "a program under -o timeout=1" "failed timeout" "$(status $V "$id")"
expect_eq "the VM after that" 8 "$(call $V "foo 4")"
