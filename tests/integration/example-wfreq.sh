#!/bin/bash
# examples/wfreq/run.sh on a small corpus: trickle-map -n 100 wc_add on 1
# and 2 local VMs, each run's merged table equal, word for word, to the
# single-process count (run.sh fails otherwise).
TEST_TIMEOUT=120
. "$(dirname "$0")/lib.sh"
. "$HERE/example-lib.sh"
need_example_build TRICKLEFS=tricklefs:fs/tricklefs \
	TRICKLE_RUN=trickle-run:utils/trickle-run \
	TRICKLE_MAP=trickle-map:utils/trickle-map \
	WORDCOUNT_SO=wordcount.so:examples/wfreq/wordcount.so \
	WFREQ_GEN_CORPUS=gen-corpus:examples/wfreq/gen-corpus \
	WFREQ_MERGE=wfreq-merge:examples/wfreq/wfreq-merge \
	WFREQ_DRIVER=wfreq-driver:examples/wfreq/wfreq-driver
out=$(TMPDIR=$T "$SRCROOT/examples/wfreq/run.sh" --scale 0.01 --vms "1 2" \
	--corpus "$T/corpus" 2>&1) || fail "examples/wfreq/run.sh failed: $out"
echo "$out"
expect_match "run.sh output" 'equals the single-process count' "$out"
expect_match "run.sh output" '^ +2 +[0-9.]+s' "$out"
