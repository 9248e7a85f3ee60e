/*
 * fdwatch.h - a file descriptor watch on the default main context that
 * costs no wake-up per dispatch (issue 12: daemon CPU per call).
 *
 * GLib (2.74 here) blocks a source while it is dispatched unless it may
 * recurse: it takes the source's fds out of the poll set before the
 * callback and puts them back after, and each of the two changes writes
 * the context's eventfd, so the next poll returns at once only to read it
 * back.  A watch dispatched once per call cost three syscalls and a
 * wake-up per call.  Nothing in the mount or the node runs a main loop
 * from inside a callback, so a watch that may recurse is never dispatched
 * twice at once; these are.
 */
#pragma once

#include <glib.h>
#include <glib-unix.h>

/* As g_unix_fd_add(), but the source may recurse (see above). */
guint fd_watch_add(int fd, GIOCondition cond, GUnixFDSourceFunc func,
		   gpointer data);

/* Let a source with fds of its own (g_source_add_unix_fd) skip that
 * blocking too; before it is attached. */
void fd_watch_no_block(GSource *source);
