#!/bin/bash
# Example 1: connect to the VMs and inject data, functions and a class
# into every one of them.
#
#	examples/paper/1-inject.sh MOUNTPOINT	(or TRICKLE_MOUNT=MOUNTPOINT)
#
# The paper's Python (the comments marked >>>) and the shell doing the same
# on a tricklefs mount: connect() is the mount itself, its directories
# the VMs; inject() is a cp into .all/ (every VM).  Python data becomes a
# file in each VM's data/ directory (a list: one item a line), functions
# the C functions of paper.so, the class Stack the remote object of
# examples/stack (stack.so).
. "$(dirname "$0")/common.sh" "$@"
need_paper_so
need_stack_so

start "Example 1: connect and inject data, functions and a class"
py 'vmlist = connect()'
run 'ls'
py "names = ['Greg', 'Alexey']"
py 'inject(vmlist, names, foo, Stack)'
note 'data: a file in every VM'"'"'s working directory, one item a line'
run 'printf "Greg\nAlexey\n" > .all/data/names'
note 'code: shared objects loaded into every VM (foo is in paper.so, Stack in stack.so)'
run 'cp "$PAPER_SO" "$STACK_SO" .all/inject/'
note 'each VM has its own copy of everything:'
run 'ls $A/inject $B/inject'
run 'cat $B/data/names'
note 'what a VM can call now: built-ins, and what was injected'
run 'echo $(ls $A/functions)'
run 'head -qn 1 $A/functions/foo $A/functions/stack_new'
