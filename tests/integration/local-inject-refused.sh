#!/bin/bash
# Files that are neither a shared object nor an executable are refused:
# cp fails with ENOEXEC, the log says why, nothing is listed in
# inject/, and the VM goes on working.
. "$(dirname "$0")/lib.sh"

J=$T/junk
mkdir -p "$J"
echo "just some text" >"$J/notes.txt"
printf 'echo no interpreter line\n' >"$J/noshebang"
chmod +x "$J/noshebang"
: >"$J/empty"
head -c 64 "$BASIC_SO" >"$J/truncated.so"
printf 'int f(void) { return 1; }\n' >"$T/f.c"
cc -c -fPIC -o "$J/object.o" "$T/f.c" || fail "cc -c failed"
# The example module and /bin/echo, claiming to be for another machine
# (e_machine = EM_AARCH64, or EM_X86_64 on aarch64).
arch='\xb7'; [ "$(uname -m)" = aarch64 ] && arch='\x3e'
cp "$BASIC_SO" "$J/otherarch.so"
printf "$arch" | dd of="$J/otherarch.so" bs=1 seek=18 conv=notrunc status=none
cp /bin/echo "$J/otherarch-echo"
printf "$arch" | dd of="$J/otherarch-echo" bs=1 seek=18 conv=notrunc status=none
chmod +x "$J/otherarch-echo"
# A 32-bit shared object, if the compiler can make one (gcc-multilib).
cc -m32 -shared -nostdlib -o "$J/elf32.so" "$T/f.c" 2>"$T/m32.err" || {
	rm -f "$J/elf32.so"
	skip_part "a real 32-bit shared object: cc -m32 fails ($(head -n 1 "$T/m32.err")); only the ELFCLASS32 header below"
}
# ELFCLASS32 in the ident of the example module (the rest stays 64-bit).
cp "$BASIC_SO" "$J/class32.so"
printf '\x01' | dd of="$J/class32.so" bs=1 seek=4 conv=notrunc status=none

mount_local 1
inject local0 "$BASIC_SO"
for f in "$J"/*; do
	name=$(basename "$f")
	expect_errno "cp $name into inject/" ENOEXEC cp "$f" "$M/local0/inject/$name"
	wait_for grep -q "$name" "$LOG" || fail "no reason for refusing $name in the log"
	expect_ls "$M/local0/inject" basic.so
	[ -e "$M/local0/inject/$name" ] && fail "$name exists in inject/ after refusal"
	echo "refused $name: $(grep "$name" "$LOG" | tail -n 1)"
	expect_eq "foo after refusing $name" 10 "$(call local0 "foo 5")"
done
echo "refused: $(ls "$J" | tr '\n' ' ')"
# The state survived all that: the VM process did not die.
expect_eq "counter" 1 "$(call local0 counter)"
expect_eq "counter" 2 "$(call local0 counter)"
