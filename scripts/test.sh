#!/bin/sh
# The whole test suite: install dependencies, build, run `meson test`.
# Usage: scripts/test.sh [meson test arguments]
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
build=${BUILD:-build}
status=0
meson test -C "$build" --print-errorlogs "$@" || status=$?
# One closing line in the plain form any CI reader understands.
log="$build/meson-logs/testlog.json"
if [ -f "$log" ]; then
	count() { grep -c "\"result\": \"$1\"" "$log" || true; }
	echo "$(count OK) passed, $(($(count FAIL) + $(count TIMEOUT) + $(count ERROR))) failed, $(count SKIP) skipped"
fi
exit $status
