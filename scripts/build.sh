#!/bin/sh
# Configure (once) and build into ./build, or into $BUILD.
set -eu
cd "$(dirname "$0")/.."
build=${BUILD:-build}
[ -f "$build/build.ninja" ] || meson setup "$build" "$@"
ninja -C "$build"
