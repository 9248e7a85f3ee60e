#!/bin/bash
# trickle-map --transferfile/--tf, --transfer, --return, --cleanup and
# --trc over two local VMs: a job's files are copied into the data/ of the
# VM trickle-map picks for it, the call finds them at their relative path,
# --return files come back here whole, --cleanup leaves data/ as it was;
# DIR/./NAME puts NAME in data/; calls go only to VMs that have FUNC; a
# file two jobs on one VM share is copied once and removed after the last;
# a missing local file, an absolute path, "..", a --return file the call
# did not make each fail that job alone, with a message and Exitval 255.
TEST_TIMEOUT=200
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/map-lib.sh"

mount_local 2
export TRICKLE_MOUNT=$M
D0=$M/local0/data
D1=$M/local1/data

# Upper-case $1 into $1.out, in the call's directory (data/).
UPPER=(exec sh -c 'tr a-z A-Z <"$1" >"$1.out"' sh)

W=$T/work
mkdir -p "$W/in"
cd "$W" || fail "cd $W"
for f in a b c d; do echo "text $f" >"in/$f.txt"; done

# ---------------------------------------------------------------- --trc

map --joblog "$T/jl" --trc {}.out "${UPPER[@]}" {} ::: in/a.txt in/b.txt in/c.txt in/d.txt
expect_eq "--trc: status" 0 $RC
expect_eq "--trc: stderr" "" "$ERR"
for f in a b c d; do
	expect_eq "--trc: in/$f.txt.out" "TEXT ${f^^}" "$(cat "in/$f.txt.out" 2>&1)"
done
# Both VMs took work (the one with fewer of our calls gets the next),
# and --cleanup left their data/ as it was, in/ too.
expect_eq "--trc: hosts" "local0 local1" "$(joblog_col "$T/jl" 2 | tr ' ' '\n' | sort -u | tr '\n' ' ' | sed 's/ $//')"
expect_eq "--trc: Exitval" "0 0 0 0" "$(joblog_col "$T/jl" 7)"
expect_ls "$D0"
expect_ls "$D1"
expect_eq "--trc: local files" "a.txt a.txt.out b.txt b.txt.out c.txt c.txt.out d.txt d.txt.out" \
	"$(ls -A in | tr '\n' ' ' | sed 's/ $//')"
rm in/*.out

# ---------------------------------------------------------------- no --cleanup

# --tf and --return without --cleanup: the files stay in the data/ of the
# VM that ran the call (and only there).
map --joblog "$T/jl" --tf {} --return {}.out "${UPPER[@]}" {} ::: in/a.txt in/b.txt
expect_eq "--tf --return: status" 0 $RC
expect_eq "--tf --return: in/a.txt.out" "TEXT A" "$(cat in/a.txt.out 2>&1)"
expect_eq "--tf --return: in/b.txt.out" "TEXT B" "$(cat in/b.txt.out 2>&1)"
read -r h1 h2 <<<"$(joblog_col "$T/jl" 2)"
[ "$h1" != "$h2" ] || fail "--tf --return: both jobs on $h1"
expect_eq "--tf --return: $h1/data/in" "a.txt a.txt.out" "$(ls "$M/$h1/data/in" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "--tf --return: $h2/data/in" "b.txt b.txt.out" "$(ls "$M/$h2/data/in" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "--tf --return: what the call read" "text a" "$(cat "$M/$h1/data/in/a.txt")"
rm -r "$D0/in" "$D1/in" in/*.out

# --vm VM: every call, and its files, there.
map --joblog "$T/jl" --vm local1 --tf {} "${UPPER[@]}" {} ::: in/a.txt in/b.txt
expect_eq "--vm: status ($ERR)" 0 $RC
expect_eq "--vm: hosts" "local1 local1" "$(joblog_col "$T/jl" 2)"
expect_eq "--vm: local1/data/in" "a.txt a.txt.out b.txt b.txt.out" "$(ls "$D1/in" | tr '\n' ' ' | sed 's/ $//')"
expect_ls "$D0"
rm -r "$D1/in"

# --transfer is --tf {}; a -n 2 job sends each of its items; the call
# sees them at their relative paths.
map -k -n 2 --transfer --cleanup exec cat ::: in/a.txt in/b.txt in/c.txt
expect_eq "--transfer -n 2: status" 0 $RC
expect_eq "--transfer -n 2: output" "text a
text b
text c" "$OUT"
expect_ls "$D0"
expect_ls "$D1"

# ---------------------------------------------------------------- /./

# DIR/./NAME: NAME in data/, DIR/NAME here, for --tf and --return alike.
mkdir -p "$T/elsewhere/in"
echo "far away" >"$T/elsewhere/in/e.txt"
map --tf "$T/elsewhere/./in/{}" --return "$W/./out/{}.out" --cleanup \
	exec sh -c 'mkdir -p out && tr a-z A-Z <"in/$1" >"out/$1.out"' sh {} ::: e.txt
expect_eq "/./: status ($ERR)" 0 $RC
expect_eq "/./: out/e.txt.out" "FAR AWAY" "$(cat out/e.txt.out 2>&1)"
expect_ls "$D0"
expect_ls "$D1"
rm -r out

# ---------------------------------------------------------------- sharing

# One file for every job, four jobs on two VMs at once: copied once per
# VM, there for every call, removed after the last.
echo common >common.txt
map -k -j 8 --tf common.txt --cleanup exec sh -c 'cat common.txt && echo "$1"' sh ::: 1 2 3 4
expect_eq "shared file: status ($ERR)" 0 $RC
expect_eq "shared file: output" "common
1
common
2
common
3
common
4" "$OUT"
expect_ls "$D0"
expect_ls "$D1"

# ---------------------------------------------------------------- FUNC

# A VM without FUNC gets none of its jobs.
cat >"$T/upper" <<'SH'
#!/bin/sh
tr a-z A-Z <"$1" >"$1.out"
SH
chmod +x "$T/upper"
inject local1 "$T/upper"
map --joblog "$T/jl" --trc {}.out upper {} ::: in/a.txt in/b.txt in/c.txt
expect_eq "FUNC on one VM: status ($ERR)" 0 $RC
expect_eq "FUNC on one VM: hosts" "local1 local1 local1" "$(joblog_col "$T/jl" 2)"
expect_eq "FUNC on one VM: in/c.txt.out" "TEXT C" "$(cat in/c.txt.out 2>&1)"
rm in/*.out
# No VM has it: each job fails, saying so.
map --tf {} nosuchfunc ::: in/a.txt
expect_eq "FUNC nowhere: status" 1 $RC
expect_eq "FUNC nowhere: message" "trickle-map: item 1 failed (no VM that is up has function nosuchfunc (in $M/VM/functions/)): 'nosuchfunc' 'in/a.txt'" "$ERR"

# ---------------------------------------------------------------- failures

# Each fails its own job (Exitval 255, a message); the others run.
line() { printf "'exec' 'sh' '-c' '%s' 'sh' '%s'" 'tr a-z A-Z <"$1" >"$1.out"' "$1"; }
map -k --joblog "$T/jl" --trc {}.out "${UPPER[@]}" {} ::: in/a.txt in/missing.txt /etc/hostname ../x in/d.txt
expect_eq "failures: status" 3 $RC
expect_eq "failures: messages" "trickle-map: item 2 failed (--transferfile in/missing.txt: No such file or directory): $(line in/missing.txt)
trickle-map: item 3 failed (--transferfile /etc/hostname: an absolute path would be outside the VM's data/ (write DIR/./NAME to have NAME there)): $(line /etc/hostname)
trickle-map: item 4 failed (--transferfile ../x: \"..\" would lead out of the VM's data/): $(line ../x)" "$ERR"
expect_eq "failures: Exitval" "0 255 255 255 0" "$(joblog_col "$T/jl" 7)"
expect_eq "failures: in/a.txt.out" "TEXT A" "$(cat in/a.txt.out 2>&1)"
expect_eq "failures: in/d.txt.out" "TEXT D" "$(cat in/d.txt.out 2>&1)"
[ ! -e in/missing.txt.out ] || fail "failures: in/missing.txt.out was made"
expect_ls "$D0"
expect_ls "$D1"
rm in/*.out

# A --return file the call did not make fails a job that succeeded; a
# job that failed on its own says only its own failure.
map -k --joblog "$T/jl" --tf {} --return {}.out --cleanup \
	exec sh -c 'case $1 in *b*) ;; *c*) exit 3 ;; *) tr a-z A-Z <"$1" >"$1.out" ;; esac' sh {} \
	::: in/a.txt in/b.txt in/c.txt
expect_eq "--return missing: status" 2 $RC
expect_match "--return missing: message" \
	"^trickle-map: item 2 failed \(--return in/b.txt.out: the call did not make local[01]/data/in/b.txt.out\): 'exec'" \
	"$(sed -n 1p "$T/err")"
expect_match "--return missing: failed call" "^trickle-map: item 3 failed \(exit 3\): 'exec'" \
	"$(sed -n 2p "$T/err")"
expect_eq "--return missing: stderr lines" 2 "$(wc -l <"$T/err")"
expect_eq "--return missing: Exitval" "0 255 3" "$(joblog_col "$T/jl" 7)"
expect_eq "--return missing: in/a.txt.out" "TEXT A" "$(cat in/a.txt.out 2>&1)"
expect_ls "$D0"
expect_ls "$D1"
rm in/*.out

# A --return file that cannot be put here (a directory is in its way)
# fails the job, and leaves no partial file beside it.
mkdir -p x.out/sub
map --return x.out --cleanup exec sh -c 'echo x >x.out' ::: 1
expect_eq "--return over a directory: status" 1 $RC
expect_match "--return over a directory: message" \
	"^trickle-map: item 1 failed \(--return x.out: $(strerror EISDIR)\): " "$ERR"
expect_eq "--return over a directory: files here" "common.txt in x.out" "$(ls -A | tr '\n' ' ' | sed 's/ $//')"
expect_ls "$D0"
expect_ls "$D1"
rm -r x.out

# ---------------------------------------------------------------- options

map --workdir . --tf {} exec cat ::: in/a.txt
expect_eq "--workdir with --tf: status" 255 $RC
expect_eq "--workdir with --tf: message" "trickle-map: --workdir with --transferfile or --return: files are copied to the VM's data/, where calls run without --workdir" "$ERR"
TRICKLE_MOUNT= map --dry-run --trc {}.out exec wc {} ::: in/a.txt
expect_eq "--dry-run --trc: status" 0 $RC
expect_eq "--dry-run --trc: the line" "'exec' 'wc' 'in/a.txt'" "$OUT"
[ ! -e "$D0/in" ] && [ ! -e "$D1/in" ] || fail "--dry-run copied files"

# Every call was forgotten.
cd "$T" || fail "cd $T"
expect_ls "$M/.any/calls" new
expect_ls "$M/local0/calls" new
expect_ls "$M/local1/calls" new
unmount
