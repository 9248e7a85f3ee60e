/*
 * evset.h - fd watches on one epoll set, itself one source of the default
 * GMainContext.
 *
 * GLib's loop poll()s every fd it watches at every wake-up; a node with a
 * thousand VMs watched a thousand worker sockets and a thousand child
 * pidfds, so each answer of each worker cost a scan of two thousand fds
 * (a fan-out to N VMs was O(N^2)).  Watches made here cost the loop one
 * fd, and a wake-up looks only at the fds that are ready.
 *
 * The same contract as g_unix_fd_add() and g_child_watch_add(): the
 * callback runs from the loop; returning G_SOURCE_REMOVE (or
 * evset_remove(), also from inside any callback) ends the watch.  A fd
 * epoll cannot take (a second watch of the same fd, a regular file) is
 * watched by GLib instead, so every watch works.
 */
#pragma once

#include <glib.h>
#include <glib-unix.h>
#include <sys/types.h>

/* Watch fd for cond (G_IO_IN, G_IO_OUT; HUP and ERR are always told).
 * Returns an id > 0 for evset_remove(). */
guint evset_watch(int fd, GIOCondition cond, GUnixFDSourceFunc cb,
		  gpointer data);
/* Tell cb once the child pid has exited, with its wait status, and reap
 * it.  Returns an id > 0 for evset_remove(). */
guint evset_child(GPid pid, GChildWatchFunc cb, gpointer data);
/* End a watch (an id already ended, or 0, is ignored). */
void evset_remove(guint id);
