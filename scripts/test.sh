#!/bin/sh
# The whole test suite: install dependencies, build, run `meson test`.
# Usage: scripts/test.sh [meson test arguments]
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
exec meson test -C "${BUILD:-build}" --print-errorlogs "$@"
