/*
 * feed.c - a file's bytes to a node at the pace of its link: an injected
 * file into the node's cache (injcache.c), and a call's stdin
 * (callin.c).
 *
 * A feed reads its file and sends frames of one type until the link
 * holds LINK_HIGH_WATER (the link is then throttled), and goes on when
 * the link has drained below LINK_LOW_WATER (feed_kick, from the host's
 * drained callback), or at the latest FEED_RETRY_MS later; the main loop
 * never blocks on it, a large file never sits in memory, and the link
 * never runs dry while a feed has bytes (waiting 10 ms once the link held
 * 1 MiB left it idle most of the time: 100 MB/s at most).  It
 * ends, once, through its finish callback: the whole file was sent (0),
 * the file could not be read (errno), or the link was lost under it
 * (ECONNRESET: the node got only part, and the feed's user says what
 * becomes of that).
 */
#include "cluster.h"

#include <errno.h>
#include <unistd.h>

#define FEED_RETRY_MS 10

struct feed {
	struct cluster *cl;
	struct host *h;
	guint vm, type;
	guint32 tag;
	int fd;
	guint sync_gen;			/* the link it started on */
	guint timer;
	guint kicked;			/* feed_kick_gen of the last kick */
	feed_sent_fn sent;
	feed_finish_fn finish;
	void *data;
};

static void
feed_free(struct feed *f)
{
	f->cl->feeds = g_list_remove(f->cl->feeds, f);
	if (f->timer)
		g_source_remove(f->timer);
	if (f->fd >= 0)
		close(f->fd);
	g_free(f);
}

static void
feed_end(struct feed *f, int err)
{
	feed_finish_fn finish = f->finish;
	void *data = f->data;

	feed_free(f);
	finish(data, err);
}

static gboolean
feed_more(gpointer data)
{
	struct feed *f = data;
	struct host *h = f->h;
	guint8 buf[WIRE_CHUNK];
	ssize_t n;

	f->timer = 0;
	if (h->state != HOST_UP || h->sync_gen != f->sync_gen || !h->link) {
		feed_end(f, ECONNRESET);
		return G_SOURCE_REMOVE;
	}
	while (host_pending(h) < LINK_HIGH_WATER) {
		n = read(f->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			feed_end(f, n < 0 ? errno : 0);
			return G_SOURCE_REMOVE;
		}
		host_send_bytes(h, f->type, f->vm, f->tag, buf, n);
		if (f->sent)
			f->sent(f->data, n);
	}
	f->timer = g_timeout_add(FEED_RETRY_MS, feed_more, f);
	return G_SOURCE_REMOVE;
}

struct feed *
feed_start(struct host *h, guint vm, guint type, guint32 tag, int fd,
	   feed_sent_fn sent, feed_finish_fn finish, void *data)
{
	struct feed *f = g_new0(struct feed, 1);

	f->cl = h->fs;
	f->h = h;
	f->vm = vm;
	f->type = type;
	f->tag = tag;
	f->fd = fd;
	f->sync_gen = h->sync_gen;
	f->sent = sent;
	f->finish = finish;
	f->data = data;
	h->fs->feeds = g_list_prepend(h->fs->feeds, f);
	/* From the main loop: the caller has its feed before it can end. */
	f->timer = g_idle_add(feed_more, f);
	return f;
}

void
feed_kick(struct host *h)
{
	guint gen = ++h->fs->feed_kick_gen;
	GList *l;

	/* A feed that ends may end others (its finish callback): look
	 * again from the start after each one. */
again:
	for (l = h->fs->feeds; l; l = l->next) {
		struct feed *f = l->data;

		if (f->h != h || f->kicked == gen || !f->timer)
			continue;
		f->kicked = gen;
		g_source_remove(f->timer);
		feed_more(f);
		goto again;
	}
}

void
feed_cancel(struct feed *f)
{
	if (f)
		feed_free(f);
}

void
feed_cancel_all(struct cluster *cl)
{
	while (cl->feeds) {
		struct feed *f = cl->feeds->data;

		feed_end(f, ECANCELED);
	}
}
