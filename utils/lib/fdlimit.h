/*
 * fdlimit.h - room for many file descriptors.
 *
 * A node of 1,000 VMs holds a few descriptors per VM (its worker's
 * socket, a pidfd, its log), and a mount of many nodes one or more per
 * node; the soft RLIMIT_NOFILE most systems give a login (1,024) stopped
 * a node at ~580 VMs with EMFILE.  A daemon raises its soft limit to the
 * hard one, as the kernel lets any process do, and puts the old one back
 * in the children that run other people's code, which may expect it
 * (select(), or closing every possible descriptor in a loop).
 */
#pragma once

#include <glib.h>

/* Raise the soft limit on open files to the hard limit (at most 2^20);
 * the limit now. */
guint64 fdlimit_raise(void);
/* In a child between fork and exec (async-signal-safe): the soft limit
 * as it was before fdlimit_raise(). */
void fdlimit_restore(void);
