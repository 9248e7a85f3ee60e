#!/bin/bash
# tests/bench/bulk.sh - bulk bytes through tricklefs (a call's output, a
# call's stdin, cp into inject/ and data/, reading data/ back) against
# OpenSSH and scp on
# the same private sshd, in the same run.  Prints figures and ratios; it
# asserts nothing about time.  See README.md.
#
#	sudo tests/bench/bulk.sh [--quick] [-o MIB] [-f MIB] [--disk] [--perf DIR]
#
#   --quick	a short smoke run (64 MiB of output, a 32 MiB file)
#   -o MIB	the call's output (1024)
#   -f MIB	the file copied in (256)
#   --disk	keep the nodes' files (and scp's) in $TMPDIR or /tmp, not
#		/dev/shm
#   --perf DIR	perf record -g the tricklefs daemon, nodes, sshd during the
#		tricklefs transfers:
#		DIR/bulk-{output,inject,data}-{local,ssh}.data
. "$(dirname "$0")/lib.sh"

OUT_MIB=1024
FILE_MIB=256
while [ $# -gt 0 ]; do
	case $1 in
	--quick) OUT_MIB=64; FILE_MIB=32; shift ;;
	-o) OUT_MIB=$2; shift 2 ;;
	-f) FILE_MIB=$2; shift 2 ;;
	--disk) NODE_TMP=${TMPDIR:-/tmp}; shift ;;
	--perf) PERF_DIR=$(mkdir -p "$2" && cd "$2" && pwd) || die "bad --perf dir"
		shift 2 ;;
	-h|--help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
[ -z "$PERF_DIR" ] || command -v perf >/dev/null || die "--perf: no perf"
bench_init
OUT_BYTES=$((OUT_MIB * 1048576))
FILE_BYTES=$((FILE_MIB * 1048576))

# Rows: label|bytes|seconds
ROWS=()
row() {
	ROWS+=("$1|$2|$3")
	echo "  $1: $2 bytes in $3 s" >&2
}
mbs() { calc "$1 / $2 / 1e6" 1; }
get_mbs() {
	local r
	for r in "${ROWS[@]}"; do
		[ "${r%%|*}" = "$1" ] && { IFS='|' read -r _ b s <<<"$r"; mbs "$b" "$s"; return; }
	done
	echo "?"
}
now_ns() { date +%s%N; }

# The file to copy in: an executable shell script whose bulk is a comment,
# so that inject/ installs it as a program (a #! script with mode +x; the
# node looks only at the first bytes and the mode).  On tmpfs, like the
# nodes' side, so neither end waits for a disk.
SRC=$NT/big.sh
{
	echo '#!/bin/sh'
	head -c $((FILE_BYTES - 40)) /dev/zero | tr '\0' '#' | fold -w 1023
	echo
	echo 'echo big'
} >"$SRC" || die "cannot write $SRC"
chmod 755 "$SRC"
FILE_BYTES=$(stat -c %s "$SRC")

# fork VMDIR LINE: the new call's id.
fork() {
	local id
	exec 3<>"$1/calls/new" || return 1
	printf '%s\n' "$2" >&3 && read -r id <&3
	exec 3>&-
	[ -n "$id" ] && echo "$id"
}

# elapsed seconds of COMMAND... (its output goes nowhere)
timed() {
	local t0 t1
	t0=$(now_ns)
	"$@" >/dev/null || return 1
	t1=$(now_ns)
	calc "($t1 - $t0) / 1e9" 3
}

# The transfers through one mount, VM $1 ("ssh" or "local" in labels).
bench_tricklefs() {
	local kind=$1 vm=$MP/$2 id s out t0 t1
	say "$kind: a call printing $OUT_MIB MiB (exec head -c $OUT_BYTES /dev/zero)"
	bench_perf_start bulk-output-$kind
	t0=$(now_ns)
	id=$(fork "$vm" "exec head -c $OUT_BYTES /dev/zero") || die "fork failed"
	out=$("$CALLBENCH" read "$vm/calls/$id/result") || die "reading the result failed"
	t1=$(now_ns)
	bench_perf_stop
	[ "$(kv bytes "$out")" = "$OUT_BYTES" ] || die "result: $out"
	row "tricklefs $kind: call output (run + read result)" "$OUT_BYTES" "$(calc "($t1 - $t0) / 1e9" 3)"
	# The call has ended: this is the stream alone.
	out=$("$CALLBENCH" read "$vm/calls/$id/stdout") || die "reading stdout failed"
	[ "$(kv bytes "$out")" = "$OUT_BYTES" ] || die "stdout: $out"
	row "tricklefs $kind: read ended call's stdout" "$OUT_BYTES" "$(kv elapsed_s "$out")"
	rmdir "$vm/calls/$id" || die "rmdir calls/$id failed"

	say "$kind: $FILE_MIB MiB into a call's stdin (exec wc -c)"
	t0=$(now_ns)
	id=$(fork "$vm" "TRICKLE_STDIN=1 exec wc -c") || die "fork failed"
	cat "$SRC" >"$vm/calls/$id/stdin" || die "writing stdin failed"
	out=$(cat "$vm/calls/$id/result") || die "reading the result failed"
	t1=$(now_ns)
	[ "$out" = "$FILE_BYTES" ] || die "wc -c of the stdin: $out"
	row "tricklefs $kind: call stdin (write + run + result)" "$FILE_BYTES" "$(calc "($t1 - $t0) / 1e9" 3)"
	rmdir "$vm/calls/$id" || die "rmdir calls/$id failed"

	say "$kind: cp a $FILE_MIB MiB script into inject/ and data/"
	bench_perf_start bulk-inject-$kind
	s=$(timed cp "$SRC" "$vm/inject/big.sh") || die "cp into inject/ failed"
	bench_perf_stop
	row "tricklefs $kind: cp into inject/" "$FILE_BYTES" "$s"
	id=$(fork "$vm" "big.sh") || die "fork big.sh failed"
	[ "$(cat "$vm/calls/$id/result")" = big ] || die "the injected script did not run"
	rm "$vm/inject/big.sh" || die "rm inject/big.sh failed"
	bench_perf_start bulk-data-$kind
	s=$(timed cp "$SRC" "$vm/data/big.sh") || die "cp into data/ failed"
	bench_perf_stop
	row "tricklefs $kind: cp into data/" "$FILE_BYTES" "$s"
	out=$("$CALLBENCH" read "$vm/data/big.sh") || die "reading data/ failed"
	[ "$(kv bytes "$out")" = "$FILE_BYTES" ] || die "data/big.sh: $out"
	row "tricklefs $kind: read data/ file" "$FILE_BYTES" "$(kv elapsed_s "$out")"
	cmp -s "$SRC" "$vm/data/big.sh" || die "data/big.sh differs from what was copied"
	rm "$vm/data/big.sh" || die "rm data/big.sh failed"
}

# ---- tricklefs, -o local=1
say "mounting -o local=1"
bench_mount_local local 1
MP=$T/local
bench_tricklefs local local0
bench_unmount local

# ---- tricklefs over SSH, one VM
say "starting sshd on 127.0.0.1"
bench_sshd
say "mounting a over SSH (port $SSHD_PORT)"
bench_mount_ssh ssh a
MP=$T/ssh
bench_tricklefs ssh a
bench_unmount ssh

# ---- OpenSSH and scp through the ControlMaster
DEST=$NT/scp
mkdir -p "$DEST"
say "ssh: head -c $OUT_BYTES /dev/zero > /dev/null"
s=$(timed env SHLVL=1 "${SSH[@]}" "head -c $OUT_BYTES /dev/zero") || die "ssh head failed"
row "ssh: head -c > /dev/null" "$OUT_BYTES" "$s"
say "ssh: wc -c < $FILE_MIB MiB"
s=$(timed env SHLVL=1 "${SSH[@]}" "wc -c" <"$SRC") || die "ssh wc failed"
row "ssh: wc -c < file" "$FILE_BYTES" "$s"
SCP=(env SHLVL=1 scp -q -F /dev/null -i "$SSHD_KEY" -P "$SSHD_PORT"
	-o IdentitiesOnly=yes -o BatchMode=yes
	-o UserKnownHostsFile="$SSHD_KNOWN_HOSTS" -o StrictHostKeyChecking=yes
	-o ControlPath="$T/cm" -o ControlMaster=no)
say "scp: $FILE_MIB MiB up (SFTP protocol, and -O for the old one); ssh cat it back"
s=$(timed "${SCP[@]}" "$SRC" "$SSHD_USER@127.0.0.1:$DEST/up") || die "scp failed"
row "scp (SFTP) up" "$FILE_BYTES" "$s"
cmp -s "$SRC" "$DEST/up" || die "scp copy differs"
rm -f "$DEST/up"
s=$(timed "${SCP[@]}" -O "$SRC" "$SSHD_USER@127.0.0.1:$DEST/up") || die "scp -O failed"
row "scp -O (SCP protocol) up" "$FILE_BYTES" "$s"
s=$(timed env SHLVL=1 "${SSH[@]}" "cat $DEST/up") || die "ssh cat failed"
row "ssh: cat file > /dev/null" "$FILE_BYTES" "$s"
rm -f "$DEST/up"

# ---- the table
echo
bench_header
echo "node files on $NODE_FS; output $OUT_MIB MiB, file $FILE_MIB MiB (MB = 10^6 bytes)"
printf '%-52s %11s %8s %8s\n' "" bytes s MB/s
for r in "${ROWS[@]}"; do
	IFS='|' read -r l b s <<<"$r"
	printf '%-52s %11s %8s %8s\n' "$l" "$b" "$s" "$(mbs "$b" "$s")"
done
ratio() {	# ratio LABEL-A LABEL-B: MB/s of A / MB/s of B
	calc "$(get_mbs "$1") / $(get_mbs "$2")"
}
echo
echo "ratios (>1: tricklefs is faster)"
printf '  %-66s %6s\n' \
    "call output over ssh (run + read) / ssh head -c > /dev/null" \
    "$(ratio "tricklefs ssh: call output (run + read result)" "ssh: head -c > /dev/null")" \
    "ended call's stdout over ssh / ssh head -c > /dev/null" \
    "$(ratio "tricklefs ssh: read ended call's stdout" "ssh: head -c > /dev/null")" \
    "call stdin over ssh (write + run + result) / ssh wc -c < file" \
    "$(ratio "tricklefs ssh: call stdin (write + run + result)" "ssh: wc -c < file")" \
    "cp into inject/ over ssh / scp (SFTP)" \
    "$(ratio "tricklefs ssh: cp into inject/" "scp (SFTP) up")" \
    "cp into data/ over ssh / scp (SFTP)" \
    "$(ratio "tricklefs ssh: cp into data/" "scp (SFTP) up")" \
    "cp into data/ over ssh / scp -O" \
    "$(ratio "tricklefs ssh: cp into data/" "scp -O (SCP protocol) up")" \
    "read data/ file over ssh / ssh cat > /dev/null" \
    "$(ratio "tricklefs ssh: read data/ file" "ssh: cat file > /dev/null")" \
    "call output: ssh / local (cost of SSH)" \
    "$(ratio "tricklefs ssh: call output (run + read result)" "tricklefs local: call output (run + read result)")"
if [ -n "$PERF_DIR" ]; then
	echo
	echo "perf data in $PERF_DIR: perf report -i $PERF_DIR/bulk-output-ssh.data --no-children --sort comm,dso,sym"
fi
