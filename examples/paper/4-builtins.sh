#!/bin/bash
# Example 4: built-ins, vm.range(3).
#
#	examples/paper/4-builtins.sh MOUNTPOINT
#
# A Trickle VM is a Python interpreter, so Python's built-ins can be
# called on it with nothing injected.  A tricklefs VM has four built-ins:
# echo, sleep, exec (any program installed on the VM's node) and setenv;
# range(3) becomes the program seq.  The output differs from the paper's
# only in form: seq prints "0, 1, 2", Python the list [0, 1, 2].
. "$(dirname "$0")/common.sh" "$@"

start "Example 4: built-ins"
py 'print vm.range(3)' '[0, 1, 2]'
run 'call $A "exec seq -s \", \" 0 2"'
note 'every VM has these without anything injected:'
run 'head -qn 1 $A/functions/echo $A/functions/sleep $A/functions/exec $A/functions/setenv'
run 'call $A "echo hello from the VM"'
py "vm.os.environ['GREETING'] = 'hello'"
run 'call $A "setenv GREETING hello"'
run 'call $A "exec printenv GREETING"'
note 'NAME=VALUE in front of a line: for that call only'
run 'call $A "GREETING=bye exec printenv GREETING"; call $A "exec printenv GREETING"'
