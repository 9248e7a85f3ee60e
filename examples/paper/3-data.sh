#!/bin/bash
# Example 3: synchronous access to a VM's data, and updates to it.
#
#	examples/paper/3-data.sh MOUNTPOINT	(after 1-inject.sh)
#
# The list names injected by Example 1 is the file data/names of each VM.
# The shell reads and writes it like any file; code running in the VM
# (getitem, setitem, length of paper.so) sees the same file by its
# relative name.  Each VM has its own copy.
. "$(dirname "$0")/common.sh" "$@"

start "Example 3: synchronous data access and update"
py 'print vm.names' "['Greg', 'Alexey']"
run 'cat $A/data/names'
py 'print vm.names[1]' 'Alexey'
run 'call $A "getitem names 1"'
py "vm.names[1] = 'Alex'"
run 'call $A "setitem names 1 Alex"'
py 'print vm.names' "['Greg', 'Alex']"
run 'cat $A/data/names'
py "vm.names.append('Mike')"
run 'echo Mike >> $A/data/names'
py 'print len(vm.names), vm.names[-1]' '3 Mike'
run 'call $A "length names"; call $A "getitem names -1"'
if [ "$B" != "$A" ]; then
	note 'the other VM'"'"'s copy is its own:'
	py 'print vmlist[1].names' "['Greg', 'Alexey']"
	run 'cat $B/data/names'
fi
