#!/bin/bash
# examples/make builds with make -j through trickle-run on a local mount
# (and its table equals the plain make build's: run.sh checks that).
TEST_TIMEOUT=120
. "$(dirname "$0")/lib.sh"
. "$HERE/example-lib.sh"
need_cmd make make
need_example_build TRICKLEFS=tricklefs:fs/tricklefs \
	TRICKLE_RUN=trickle-run:utils/trickle-run \
	WORDCOUNT_SO=wordcount.so:examples/wfreq/wordcount.so \
	WFREQ_GEN_CORPUS=gen-corpus:examples/wfreq/gen-corpus \
	WFREQ_MERGE=wfreq-merge:examples/wfreq/wfreq-merge \
	WFREQ_DRIVER=wfreq-driver:examples/wfreq/wfreq-driver
out=$(TMPDIR=$T "$SRCROOT/examples/make/run.sh" --scale 0.01 --vms 2 2>&1) ||
	fail "examples/make/run.sh failed: $out"
echo "$out"
expect_match "run.sh output" 'through trickle-run \(2 VMs\)' "$out"
