# shellcheck shell=bash
# tests/integration/example-lib.sh - for the example-*.sh tests, after
# lib.sh: the examples' run.sh scripts find the build in $BUILD (the
# meson build directory) at fixed places; need_example_build checks that
# the programs meson passes are where run.sh will look.
#
#	need_example_build VAR=FILE:PATH...	(PATH relative to $BUILD)

need_example_build() {
	export BUILD
	local spec var file rel want
	[ -n "${BUILD:-}" ] ||
		_tfs_error "BUILD is not set: tests/integration/meson.build passes it (the build directory)"
	for spec in "$@"; do
		var=${spec%%=*} file=${spec#*=}
		rel=${file#*:} file=${file%%:*}
		need_var "$var" "$file"
		want=$BUILD/$rel
		[ "$(readlink -f "${!var}")" = "$(readlink -f "$want")" ] ||
			fail "the example looks for $want, but the build has $var at ${!var}: update the example's run.sh"
	done
}
