#!/bin/bash
# examples/make builds with make -j through trickle-run on a local mount
# (and its table equals the plain make build's: run.sh checks that).
TEST_TIMEOUT=120
. "$(dirname "$0")/lib.sh"
command -v make >/dev/null || skip "no make"
out=$(BUILD=$(dirname "$(dirname "$TRICKLEFS")") TMPDIR=$T \
	"$SRCROOT/examples/make/run.sh" --scale 0.01 --vms 2 2>&1) ||
	fail "examples/make/run.sh failed: $out"
echo "$out"
expect_match "run.sh output" 'through trickle-run \(2 VMs\)' "$out"
