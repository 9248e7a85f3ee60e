/*
 * evset.c - fd watches on one epoll set (see evset.h).
 *
 * Watches are found by id, never by pointer, so a callback that ends
 * another watch whose event came in the same batch is safe: its event is
 * skipped.  epoll is level-triggered here, as poll() is.
 */
#include "evset.h"
#include "fdwatch.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define BATCH 256

struct watch {
	guint id;
	int fd;			/* watched; for a child, its pidfd (ours) */
	GUnixFDSourceFunc cb;
	GChildWatchFunc child_cb;
	GPid pid;
	gpointer data;
	guint glib;		/* watched by GLib instead (or 0) */
	gboolean in_epoll;
};

static struct evset {
	GSource *src;
	int epfd;
	GHashTable *watches;	/* id -> struct watch */
	guint next_id;
} *set;

static void
watch_free(struct watch *w)
{
	if (w->glib)
		g_source_remove(w->glib);
	else if (w->in_epoll)
		epoll_ctl(set->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	if (w->child_cb && w->fd >= 0)
		close(w->fd);
	g_free(w);
}

static GIOCondition
to_cond(guint32 ev)
{
	return (ev & EPOLLIN ? G_IO_IN : 0) | (ev & EPOLLOUT ? G_IO_OUT : 0) |
	       (ev & EPOLLHUP ? G_IO_HUP : 0) | (ev & EPOLLERR ? G_IO_ERR : 0) |
	       (ev & EPOLLPRI ? G_IO_PRI : 0);
}

/* A child's pidfd is readable: it has exited. */
static gboolean
child_ready(struct watch *w)
{
	int status;
	pid_t r;

	while ((r = waitpid(w->pid, &status, WNOHANG)) < 0 && errno == EINTR)
		;
	if (r == 0)
		return G_SOURCE_CONTINUE;	/* not yet (spurious) */
	if (r < 0)
		status = 0;	/* reaped elsewhere: told as exit 0 */
	w->child_cb(w->pid, status, w->data);
	return G_SOURCE_REMOVE;
}

static gboolean
dispatch(GSource *src, GSourceFunc unused, gpointer data)
{
	struct epoll_event ev[BATCH];
	int n, i;

	while ((n = epoll_wait(set->epfd, ev, BATCH, 0)) < 0 && errno == EINTR)
		;
	for (i = 0; i < n; i++) {
		guint id = (guint)ev[i].data.u32;
		struct watch *w = g_hash_table_lookup(set->watches,
						      GUINT_TO_POINTER(id));
		gboolean keep;

		if (!w)
			continue;	/* ended by an earlier callback */
		keep = w->child_cb ? child_ready(w) :
			w->cb(w->fd, to_cond(ev[i].events), w->data);
		if (!keep)
			evset_remove(id);
	}
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs funcs = { NULL, NULL, dispatch, NULL, NULL, NULL };

static gboolean
ensure(void)
{
	if (set)
		return set->epfd >= 0;
	set = g_new0(struct evset, 1);
	set->watches = g_hash_table_new(NULL, NULL);
	set->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (set->epfd < 0)
		return FALSE;
	set->src = g_source_new(&funcs, sizeof(GSource));
	g_source_set_name(set->src, "evset");
	g_source_add_unix_fd(set->src, set->epfd, G_IO_IN);
	fd_watch_no_block(set->src);
	g_source_attach(set->src, NULL);
	return TRUE;
}

static struct watch *
watch_new(int fd, gpointer data)
{
	struct watch *w = g_new0(struct watch, 1);

	do
		w->id = ++set->next_id;
	while (!w->id || g_hash_table_contains(set->watches,
					       GUINT_TO_POINTER(w->id)));
	w->fd = fd;
	w->data = data;
	g_hash_table_insert(set->watches, GUINT_TO_POINTER(w->id), w);
	return w;
}

static gboolean
glib_fd_ready(int fd, GIOCondition cond, gpointer data)
{
	guint id = GPOINTER_TO_UINT(data);
	struct watch *w = g_hash_table_lookup(set->watches, data);

	if (!w)
		return G_SOURCE_REMOVE;
	if (w->cb(fd, cond, w->data))
		return G_SOURCE_CONTINUE;
	/* (cb may have ended it itself) */
	if ((w = g_hash_table_lookup(set->watches, data))) {
		w->glib = 0;	/* GLib removes it as we return */
		evset_remove(id);
	}
	return G_SOURCE_REMOVE;
}

static void
glib_child_exited(GPid pid, int status, gpointer data)
{
	guint id = GPOINTER_TO_UINT(data);
	struct watch *w = g_hash_table_lookup(set->watches, data);

	if (!w)
		return;
	w->glib = 0;
	w->child_cb(pid, status, w->data);
	evset_remove(id);
}

guint
evset_watch(int fd, GIOCondition cond, GUnixFDSourceFunc cb, gpointer data)
{
	gboolean epoll_ok = ensure();
	struct watch *w = watch_new(fd, data);
	struct epoll_event ev = { 0 };

	w->cb = cb;
	ev.events = (cond & G_IO_IN ? EPOLLIN : 0) |
		    (cond & G_IO_OUT ? EPOLLOUT : 0) |
		    (cond & G_IO_PRI ? EPOLLPRI : 0);
	ev.data.u32 = w->id;
	w->in_epoll = epoll_ok &&
		      epoll_ctl(set->epfd, EPOLL_CTL_ADD, fd, &ev) == 0;
	if (!w->in_epoll)
		w->glib = fd_watch_add(fd, cond, glib_fd_ready,
					GUINT_TO_POINTER(w->id));
	return w->id;
}

guint
evset_child(GPid pid, GChildWatchFunc cb, gpointer data)
{
	gboolean epoll_ok = ensure();
	struct watch *w = watch_new(-1, data);
	struct epoll_event ev = { .events = EPOLLIN };

	w->child_cb = cb;
	w->pid = pid;
	ev.data.u32 = w->id;
	if (epoll_ok)
		w->fd = pidfd_open(pid, 0);
	if (w->fd >= 0) {
		w->in_epoll = epoll_ctl(set->epfd, EPOLL_CTL_ADD, w->fd,
					&ev) == 0;
		if (!w->in_epoll) {
			close(w->fd);
			w->fd = -1;
		}
	}
	if (w->fd < 0)
		w->glib = g_child_watch_add(pid, glib_child_exited,
					    GUINT_TO_POINTER(w->id));
	return w->id;
}

void
evset_remove(guint id)
{
	struct watch *w;

	if (!id || !set)
		return;
	w = g_hash_table_lookup(set->watches, GUINT_TO_POINTER(id));
	if (!w)
		return;
	g_hash_table_remove(set->watches, GUINT_TO_POINTER(id));
	watch_free(w);
}
