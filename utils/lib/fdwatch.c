/*
 * fdwatch.c - fd watches without a wake-up per dispatch; see fdwatch.h.
 */
#include "fdwatch.h"

guint
fd_watch_add(int fd, GIOCondition cond, GUnixFDSourceFunc func,
	     gpointer data)
{
	GSource *s = g_unix_fd_source_new(fd, cond);
	guint id;

	fd_watch_no_block(s);
	g_source_set_callback(s, (GSourceFunc)(void (*)(void))func, data,
			      NULL);
	id = g_source_attach(s, NULL);
	g_source_unref(s);
	return id;
}

void
fd_watch_no_block(GSource *source)
{
	g_source_set_can_recurse(source, TRUE);
}
