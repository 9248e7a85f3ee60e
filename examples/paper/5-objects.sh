#!/bin/bash
# Example 5: remote objects, s = vm.Stack().
#
#	examples/paper/5-objects.sh MOUNTPOINT	(after 1-inject.sh)
#
# The class Stack (examples/stack/stack.c) was injected by Example 1.  Its
# constructor stack_new keeps a new stack in the VM and prints its handle
# (@1); the methods are functions taking the handle.  The VM lists its
# live objects in VM/objects/: cat one to see it (like print s), rm it to
# destroy it (del s).  Methods can be forked like any call.
. "$(dirname "$0")/common.sh" "$@"
need_trickle_join

start "Example 5: remote objects"
py 's = vm.Stack()'
run 's=$(call $A stack_new); echo $s'
py "s.push('A')"
run 'call $A "push $s A"'
py "s.push('B')"
run 'call $A "push $s B"'
py 'print s.pop()' 'B'
run 'call $A "pop $s"'
py 'print s' "['A']"
run 'ls $A/objects; cat $A/objects/${s#@}'
py "h = fork(s.push, 'C'); join(h); print s.peek(), s.size()" 'C 2'
run 'exec 3<>$A/calls/new; echo "push $s C" >&3; read -r id <&3; exec 3>&-'
run 'trickle-join $A/calls/$id; call $A "peek $s"; call $A "size $s"'
py 'del s'
run 'rm $A/objects/${s#@}; ls $A/objects'
note 'a destroyed object is gone for the VM too:'
run 'call $A "pop $s" || cat $A/calls/$id/stderr'
