/*
 * fdstream.c - see fdstream.h.
 */
#include "fdstream.h"
#include "evset.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <glib-unix.h>

/* Bytes taken per read(2); and a pipe's buffer, raised to this much so
 * that a bulk frame (WIRE_CHUNK) goes in one write rather than in 64 KiB
 * pieces (a wake-up of each side per piece). */
#define READ_SIZE (256 * 1024)
#define PIPE_SIZE (1024 * 1024)
/* The written head of the queue is dropped once larger than this and
 * than what is left (each byte moved a bounded number of times). */
#define COMPACT_MIN (1024 * 1024)

struct fdstream {
	int rfd, wfd;
	guint8 *rbuf;		/* READ_SIZE */
	guint rwatch, wwatch;
	GByteArray *out;
	gsize out_off;
	struct fdstream_callbacks cb;
	void *user;
	gboolean closed;
	gboolean write_failed;	/* peer gone: reading will see the end */
};

static void
stream_close(struct fdstream *s, GError *error)
{
	if (s->closed)
		return;
	s->closed = TRUE;
	if (s->rwatch)
		evset_remove(s->rwatch);
	if (s->wwatch)
		evset_remove(s->wwatch);
	s->rwatch = s->wwatch = 0;
	s->cb.closed(s->user, error);
	g_clear_error(&error);
}

static gboolean
on_readable(int fd, GIOCondition cond, gpointer data)
{
	struct fdstream *s = data;
	ssize_t n;

	n = read(s->rfd, s->rbuf, READ_SIZE);
	if (n > 0) {
		s->cb.data(s->user, s->rbuf, n);
		return G_SOURCE_CONTINUE;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return G_SOURCE_CONTINUE;
	s->rwatch = 0;
	stream_close(s, n < 0 ? g_error_new(G_FILE_ERROR,
		g_file_error_from_errno(errno), "read: %s", g_strerror(errno))
		: NULL);
	return G_SOURCE_REMOVE;
}

/* Write as much as the fd takes; FALSE on a hard error. */
static gboolean
write_some(struct fdstream *s)
{
	while (s->out_off < s->out->len) {
		ssize_t n = write(s->wfd, s->out->data + s->out_off,
				  s->out->len - s->out_off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return TRUE;
			return FALSE;
		}
		s->out_off += n;
		/* A writer that keeps up with the reader never empties the
		 * queue: drop what was written as it goes. */
		if (s->out_off > COMPACT_MIN &&
		    s->out_off > s->out->len - s->out_off) {
			g_byte_array_remove_range(s->out, 0, s->out_off);
			s->out_off = 0;
		}
	}
	g_byte_array_set_size(s->out, 0);
	s->out_off = 0;
	return TRUE;
}

static gboolean on_writable(int fd, GIOCondition cond, gpointer data);

static void
pump(struct fdstream *s)
{
	if (s->closed || s->write_failed)
		return;
	if (!write_some(s)) {
		/* Report nothing from here: the owner may be in the middle of
		 * fdstream_write.  The read side sees the end and says so. */
		g_debug("fdstream: write: %s", g_strerror(errno));
		s->write_failed = TRUE;
		g_byte_array_set_size(s->out, 0);
		s->out_off = 0;
		return;
	}
	if (fdstream_pending(s) && !s->wwatch)
		s->wwatch = evset_watch(s->wfd, G_IO_OUT, on_writable, s);
}

static gboolean
on_writable(int fd, GIOCondition cond, gpointer data)
{
	struct fdstream *s = data;

	s->wwatch = 0;
	pump(s);
	return G_SOURCE_REMOVE;
}

struct fdstream *
fdstream_new(int rfd, int wfd, const struct fdstream_callbacks *cb,
	     void *user)
{
	struct fdstream *s = g_new0(struct fdstream, 1);

	s->rfd = rfd;
	s->wfd = wfd;
	s->cb = *cb;
	s->user = user;
	s->out = g_byte_array_new();
	s->rbuf = g_malloc(READ_SIZE);
	/* Not a pipe (a socket, a tty): nothing to raise. */
	(void)fcntl(rfd, F_SETPIPE_SZ, PIPE_SIZE);
	if (wfd != rfd)
		(void)fcntl(wfd, F_SETPIPE_SZ, PIPE_SIZE);
	g_unix_set_fd_nonblocking(rfd, TRUE, NULL);
	g_unix_set_fd_nonblocking(wfd, TRUE, NULL);
	s->rwatch = evset_watch(rfd, G_IO_IN | G_IO_HUP | G_IO_ERR,
				  on_readable, s);
	return s;
}

void
fdstream_write(struct fdstream *s, const void *data, gsize len)
{
	const guint8 *p = data;

	if (s->closed || s->write_failed)
		return;
	/* Nothing queued: straight to the fd, and only what it does not
	 * take now is copied into the queue. */
	while (!fdstream_pending(s) && len > 0) {
		ssize_t n = write(s->wfd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			/* As pump: the read side sees the end and says so. */
			g_debug("fdstream: write: %s", g_strerror(errno));
			s->write_failed = TRUE;
			return;
		}
		p += n;
		len -= n;
	}
	if (len == 0)
		return;
	g_byte_array_append(s->out, p, len);
	if (!s->wwatch)
		pump(s);
}

gsize
fdstream_pending(const struct fdstream *s)
{
	return s->out->len - s->out_off;
}

gboolean
fdstream_flush(struct fdstream *s, int timeout_ms)
{
	gint64 end = g_get_monotonic_time() + timeout_ms * 1000LL;

	while (!s->closed && fdstream_pending(s)) {
		struct pollfd p = { .fd = s->wfd, .events = POLLOUT };
		gint64 left = (end - g_get_monotonic_time()) / 1000;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return FALSE;
		if (!write_some(s))
			return FALSE;
	}
	return fdstream_pending(s) == 0;
}

void
fdstream_free(struct fdstream *s)
{
	if (!s)
		return;
	if (s->rwatch)
		evset_remove(s->rwatch);
	if (s->wwatch)
		evset_remove(s->wwatch);
	close(s->rfd);
	if (s->wfd != s->rfd)
		close(s->wfd);
	g_byte_array_unref(s->out);
	g_free(s->rbuf);
	g_free(s);
}

void
fdstream_drain(struct fdstream *s)
{
	guint8 buf[64 * 1024];
	ssize_t n;

	while (!s->closed && (n = read(s->rfd, buf, sizeof(buf))) > 0)
		s->cb.data(s->user, buf, n);
}
