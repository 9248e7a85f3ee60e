#!/bin/bash
# Example 6: asynchronous calls: fork, join and joinany, on one VM and on
# a list of VMs.
#
#	examples/paper/6-fork-join.sh MOUNTPOINT	(after 1-inject.sh)
#
# fork is a line written to calls/new (the id read back is the handle),
# join a read of the call's result (blocking until the call ends), or
# trickle-join for several.  fork(vmlist, funclist, arglist) writes to
# .all/calls/new: a line there forks on every VM, a line starting with
# @VM on that VM only, and the handles read back are the calls' paths
# from the mount, VM/calls/N, for trickle-join or cat as they are.
# joinany is trickle-join --any (poll(2) on the results), or a read of
# .done, which names every call that ends by its path too.
#
# Python prints join(hlist) as a list, [2, 4]; trickle-join prints each
# result on its line.  Where the first call to end matters, the calls
# sleep for different times (slowfoo SECONDS X) so that it is the same on
# every run.
. "$(dirname "$0")/common.sh" "$@"
need_trickle_join

start "Example 6: fork, join and joinany"
py 'h = fork(vm, foo, 10)'
run 'exec 3<>$A/calls/new; echo "foo 10" >&3; read -r id <&3; exec 3>&-'
py 'print join(h)' '20'
run 'trickle-join $A/calls/$id'

py 'hlist = fork(vmlist, [foo, foo], [1, 2])'
run 'exec 3<>.all/calls/new; printf "@%s foo 1\n@%s foo 2\n" $A $B >&3; read -r h1 <&3; read -r h2 <&3; exec 3>&-'
run 'echo $h1 $h2'
py 'print join(hlist)' '[2, 4]'
run 'trickle-join $h1 $h2'

note 'one line to .all/calls/new forks it on every VM:'
py 'hlist = fork(vmlist, foo, 7)'
run 'exec 3<>.all/calls/new; echo "foo 7" >&3; hlist=$(cat <&3); exec 3>&-'
run 'echo $hlist'
run 'trickle-join $hlist'

py "hlist = fork(vmlist, [slowfoo, slowfoo], [(2, 1), (0, 2)])"
run 'exec 3<>.all/calls/new; printf "@%s slowfoo 2 1\n@%s slowfoo 0 2\n" $A $B >&3; read -r h1 <&3; read -r h2 <&3; exec 3>&-'
py 'h, r = joinany(hlist); print r' '4'
[ "$B" != "$A" ] || note 'one VM: its calls run one at a time, in order, so the first to end is the first forked'
run 'trickle-join --any $h1 $h2'
py 'print join(hlist)' '[2, 4]'
run 'trickle-join $h1 $h2'

note '.done: each open is a stream of the calls that end from then on'
run 'exec 4<.done'
run 'exec 3<>.all/calls/new; printf "@%s slowfoo 1 3\n@%s foo 4\n" $A $B >&3; exec 3>&-'
run 'read -r l1 <&4; read -r l2 <&4; exec 4<&-; echo "$l1"; echo "$l2"'
