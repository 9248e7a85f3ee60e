# map-lib.sh - for the trickle-map tests (tool-map-parity, tool-map-transfer):
# run trickle-map and read its joblog.  Source it after lib.sh.

need_var TRICKLE_MAP trickle-map
MAP=$TRICKLE_MAP

# map ARG... < INPUT: stdout in OUT, stderr in ERR, exit status in RC.
map() {
	timeout 60 "$MAP" "$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}
# joblog_col FILE N: column N of the joblog's lines, sorted by Seq, on
# one line.
joblog_col() {
	tail -n +2 "$1" | sort -n | cut -f "$2" | tr '\n' ' ' | sed 's/ $//'
}
