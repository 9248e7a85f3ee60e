/*
 * logring.c - the mount's recent messages in memory (logring.h).
 *
 * The bytes live in one GByteArray holding [start, end) of the log; the
 * line lengths in a GQueue, oldest first, so that dropping the oldest
 * line is cutting its length off the front.  Dropping compacts the array
 * only once the dead head is as large as what is kept.  A mutex guards
 * it: GLib may log from a thread of its own.
 */
#include "logring.h"

#include <string.h>

struct logring {
	guint max_lines;
	gsize max_bytes;
	GByteArray *buf;	/* buf->data + head holds [start, end) */
	gsize head;
	GQueue lens;		/* GSIZE_TO_POINTER(line length) */
	guint64 start;
	GMutex lock;
};

struct logring *
logring_new(guint max_lines, gsize max_bytes)
{
	struct logring *r = g_new0(struct logring, 1);

	r->max_lines = MAX(max_lines, 1);
	r->max_bytes = MAX(max_bytes, 64);
	r->buf = g_byte_array_new();
	g_queue_init(&r->lens);
	g_mutex_init(&r->lock);
	return r;
}

void
logring_free(struct logring *r)
{
	if (!r)
		return;
	g_byte_array_unref(r->buf);
	g_queue_clear(&r->lens);
	g_mutex_clear(&r->lock);
	g_free(r);
}

struct logring *
logring_default(void)
{
	static gsize ring;

	if (g_once_init_enter(&ring))
		g_once_init_leave(&ring, (gsize)logring_new(LOGRING_LINES,
							    LOGRING_BYTES));
	return (struct logring *)ring;
}

static gsize
kept(const struct logring *r)
{
	return r->buf->len - r->head;
}

static void
drop_oldest(struct logring *r)
{
	gsize n = GPOINTER_TO_SIZE(g_queue_pop_head(&r->lens));

	r->head += n;
	r->start += n;
	if (r->head >= kept(r)) {
		g_byte_array_remove_range(r->buf, 0, r->head);
		r->head = 0;
	}
}

void
logring_add(struct logring *r, gint64 when, const char *level,
	    const char *text)
{
	g_autoptr(GDateTime) t = g_date_time_new_from_unix_local(when / G_USEC_PER_SEC);
	g_autofree char *ts = t ? g_date_time_format(t, "%F %T") : NULL;
	g_autofree char *ms = NULL;
	GString *line = g_string_new(NULL);
	gsize n;

	g_string_printf(line, "%s.%03d %s: ", ts ? ts : "?",
			(int)((when / 1000) % 1000), level);
	/* One line per message: a newline inside would look like two. */
	for (; *text; text++)
		g_string_append_c(line, *text == '\n' ? ' ' : *text);
	if (line->len >= r->max_bytes) {
		g_string_truncate(line, r->max_bytes - 5);
		g_string_append(line, "...");
	}
	g_string_append_c(line, '\n');
	n = line->len;
	g_mutex_lock(&r->lock);
	while (!g_queue_is_empty(&r->lens) &&
	       (g_queue_get_length(&r->lens) >= r->max_lines ||
		kept(r) + n > r->max_bytes))
		drop_oldest(r);
	g_byte_array_append(r->buf, (const guint8 *)line->str, n);
	g_queue_push_tail(&r->lens, GSIZE_TO_POINTER(n));
	g_mutex_unlock(&r->lock);
	g_string_free(line, TRUE);
}

guint64
logring_start(struct logring *r)
{
	guint64 v;

	g_mutex_lock(&r->lock);
	v = r->start;
	g_mutex_unlock(&r->lock);
	return v;
}

guint64
logring_end(struct logring *r)
{
	guint64 v;

	g_mutex_lock(&r->lock);
	v = r->start + kept(r);
	g_mutex_unlock(&r->lock);
	return v;
}

gsize
logring_read(struct logring *r, guint64 off, char *buf, gsize size)
{
	gsize from, n = 0;

	g_mutex_lock(&r->lock);
	if (off < r->start)
		off = r->start;
	if (off < r->start + kept(r)) {
		from = off - r->start;
		n = MIN(size, kept(r) - from);
		memcpy(buf, r->buf->data + r->head + from, n);
	}
	g_mutex_unlock(&r->lock);
	return n;
}

gsize
logring_read_skew(struct logring *r, guint64 *skew, guint64 off,
		  char *buf, gsize size)
{
	guint64 start = logring_start(r);

	/* Fixed at the first read: 0 if it asks for what is kept (tail,
	 * after a seek to near the end), else so that it starts at the
	 * oldest line kept; later, past what the ring dropped. */
	if (*skew == G_MAXUINT64)
		*skew = off >= start ? 0 : start - off;
	if (off + *skew < start)
		*skew = start - off;
	return logring_read(r, off + *skew, buf, size);
}
