#!/bin/bash
# Example 2: synchronous calls, vm.foo(10).
#
#	examples/paper/2-call.sh MOUNTPOINT	(after 1-inject.sh)
#
# A call is a line written to VM/calls/new; reading the same open file
# gives back the call's id (the clone idiom), and reading
# VM/calls/ID/result waits for the call to end: a synchronous call is the
# two together.  A remote exception is a failed call: its result cannot be
# read (EIO), its status says why, and its stderr holds its message.
. "$(dirname "$0")/common.sh" "$@"

start "Example 2: synchronous calls"
py 'vm = vmlist[0]'
py 'print vm.foo(10)' '20'
run 'exec 3<>$A/calls/new; echo "foo 10" >&3; read -r id <&3; exec 3>&-'
run 'cat $A/calls/$id/result'
note 'the same as one shell function (common.sh): fork, then join'
run 'type call | tail -n +2'
py 'print vmlist[1].foo(21)' '42'
run 'call $B "foo 21"'
note 'a call that raises: the read of its result fails'
py 'print vm.foo()' 'TypeError: foo() takes exactly 1 argument (0 given)'
run 'call $A foo || cat $A/calls/$id/status $A/calls/$id/stderr'
