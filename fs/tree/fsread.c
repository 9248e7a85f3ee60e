/*
 * fsread.c - reads of a call's stdout and stderr from its node, and the
 * read-ahead that serves both those and data/ files (fsdata_io.c).
 *
 * A FUSE read (up to 1 MiB) goes out as several WIRE_READs at once (a
 * fan-in of WIRE_CHUNK pieces), so that one round trip is paid per FUSE
 * read rather than per chunk; the pieces go back to the kernel as they
 * came (fuse_reply_iov), without being copied into one buffer.
 *
 * Read-ahead: a reader of an ended call's stream (its sizes are final),
 * or of an open data/ file, is served from pieces (WIRE_CHUNK each) asked
 * of the node ahead of it, AHEAD_BYTES past the end of its read, so that
 * the link never runs dry between two reads (one round trip per MiB was
 * most of the time spent on a large output).  The pieces follow the
 * reader's offsets, whatever the sizes of its reads (the kernel splits a
 * 1 MiB read of an unaligned buffer into 1 MiB - 16 and 16).  A piece
 * that failed (its link dropped) is never used: every piece is dropped
 * and the read goes to the node again, getting what any read gets then
 * (the data from the node reconnected, or an error), never a short or
 * stale answer.  Ctrl-C ends a read at once; the node's answers, when
 * they come, are dropped.
 *
 * A source that can change (a data/ file: struct ahead_ops.fresh_us set)
 * keeps its pieces only while they are good: a change through the mount
 * moves its generation on and drops them (read_ahead(gen)); a piece
 * answered longer ago than fresh_us is asked again; the end of the file
 * (a short piece) ends the read that reached it and is not kept, so that
 * a reader at the end (tail -f) sees what is appended.
 */
#include "tree.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#define AHEAD_BYTES (4u << 20)

/* One read of a stream sent to the node for a reader. */
struct window {
	fuse_req_t req;		/* NULL once interrupted (answered) */
	struct vm *vm;
	guint32 call;
	guint stream;
	off_t off;
	size_t size;
	guint parts;
	GBytes **chunks;
};

static void
window_free(struct window *w)
{
	guint i;

	for (i = 0; i < w->parts; i++)
		if (w->chunks[i])
			g_bytes_unref(w->chunks[i]);
	g_free(w->chunks);
	g_free(w);
}

static int
on_chunk(void *data, void *part, int err, const char *msg,
	 const guint8 *bytes, gsize len)
{
	struct window *w = data;

	/* A node that answers with more than asked (or not with DATA) is
	 * broken; the reader gets EIO rather than a reply FUSE refuses. */
	if (!err && ((!bytes && len) || len > WIRE_CHUNK))
		return EIO;
	if (!err)
		w->chunks[GPOINTER_TO_UINT(part)] = g_bytes_new(bytes, len);
	return err;
}

/* The chunks of w up to the first short one (where the stream ends) as
 * an iovec; their total length in *len. */
static guint
window_iov(struct window *w, struct iovec *iov, gsize *len)
{
	guint i;

	*len = 0;
	for (i = 0; i < w->parts; i++) {
		gsize n;

		iov[i].iov_base = (void *)g_bytes_get_data(w->chunks[i], &n);
		iov[i].iov_len = n;
		*len += n;
		if (n < WIRE_CHUNK)
			return i + 1;
	}
	return w->parts;
}

static void
window_reply(struct window *w, fuse_req_t req)
{
	g_autofree struct iovec *iov = g_new0(struct iovec, w->parts);
	gsize len;
	guint n = window_iov(w, iov, &len);

	fuse_reply_iov(req, iov, n);
}

static void
read_done(void *data, int err)
{
	struct window *w = data;

	if (!err) {
		g_autofree struct iovec *iov = g_new0(struct iovec, w->parts);
		gsize len;

		window_iov(w, iov, &len);
		call_saw_size(vm_call(w->vm, w->call), w->stream,
			      w->off + len);
	}
	if (w->req) {
		fuse_req_interrupt_func(w->req, NULL, NULL);
		if (err)
			fuse_reply_err(w->req, err);
		else
			window_reply(w, w->req);
	}
	window_free(w);
}

static void
read_interrupted(fuse_req_t req, void *data)
{
	struct window *w = data;

	w->req = NULL;
	fuse_reply_err(req, EINTR);
}

/* Send the WIRE_READs of a window to h, for req. */
static void
window_send(struct host *h, struct call *c, guint stream, fuse_req_t req,
	    size_t size, off_t off)
{
	struct window *w = g_new0(struct window, 1);
	struct fanin *f;
	guint i;

	w->req = req;
	w->vm = c->vm;
	w->call = c->id;
	w->stream = stream;
	w->off = off;
	w->size = size;
	w->parts = MAX(1, (size + WIRE_CHUNK - 1) / WIRE_CHUNK);
	w->chunks = g_new0(GBytes *, w->parts);
	/* Before the requests: an answer may come at once, and reply. */
	fuse_req_interrupt_func(req, read_interrupted, w);
	f = fanin_new(read_done, w);
	for (i = 0; i < w->parts; i++) {
		guint32 want = MIN(size - (size_t)i * WIRE_CHUNK, WIRE_CHUNK);

		fanin_request(f, h, WIRE_READ, c->vm->index, 0,
			      g_variant_new("(uytu)", c->id, (guint8)stream,
					    (guint64)off +
					    (guint64)i * WIRE_CHUNK, want),
			      on_chunk, GUINT_TO_POINTER(i));
	}
	fanin_release(f);
}

/* A piece of a stream asked of the node ahead of its reader. */
struct piece {
	struct ahead *a;	/* NULL once dropped: freed when answered */
	guint64 off;
	guint32 want;
	GBytes *data;		/* the answer */
	gboolean done;
	int err;
	gint64 when;		/* answered, g_get_monotonic_time() */
};

/* The pieces asked ahead of the reader of one stream: an ended call's
 * output, or an open data/ file. */
struct ahead {
	const struct ahead_ops *ops;
	void *key;		/* held */
	guint stream;
	guint64 gen;		/* the source's generation the pieces are of */
	GQueue pieces;		/* struct piece *, contiguous, in order */
	fuse_req_t req;		/* a read waiting for its pieces */
	size_t size;
	off_t off;
};

static void
piece_free(struct piece *p)
{
	if (p->data)
		g_bytes_unref(p->data);
	g_free(p);
}

/* Let go of a piece: freed now if answered, else when its answer comes. */
static void
piece_drop(struct piece *p)
{
	p->a = NULL;
	if (p->done)
		piece_free(p);
}

static void
ahead_clear(struct ahead *a)
{
	struct piece *p;

	while ((p = g_queue_pop_head(&a->pieces)))
		piece_drop(p);
}

static void
ahead_free(gpointer data)
{
	struct ahead *a = data;

	ahead_clear(a);
	a->ops->release(a->key);
	g_free(a);
}

static gsize
piece_len(const struct piece *p)
{
	return p->data ? g_bytes_get_size(p->data) : 0;
}

static void
ahead_interrupted(fuse_req_t req, void *data)
{
	struct ahead *a = data;

	a->req = NULL;
	fuse_reply_err(req, EINTR);
}

/* The waiting read gets its answer, or goes to the node by itself (a
 * piece failed). */
static void
ahead_answer(struct ahead *a)
{
	guint64 want_end = (guint64)a->off + a->size;
	g_autofree struct iovec *iov = NULL;
	fuse_req_t req = a->req;
	gboolean at_end = FALSE;
	guint n = 0;
	GList *l;

	if (!req)
		return;
	iov = g_new0(struct iovec, a->pieces.length + 1);
	for (l = a->pieces.head; l; l = l->next) {
		struct piece *p = l->data;
		guint64 from = MAX(p->off, (guint64)a->off);
		gsize len;

		if (p->off >= want_end)
			break;
		if (!p->done)
			return;		/* not yet: its answer calls again */
		if (p->err) {
			a->req = NULL;
			fuse_req_interrupt_func(req, NULL, NULL);
			ahead_clear(a);
			a->ops->direct(a->key, a->stream, req, a->size,
				       a->off);
			return;
		}
		len = piece_len(p);
		if (p->off + len > from) {
			iov[n].iov_base = (char *)g_bytes_get_data(p->data,
				NULL) + (from - p->off);
			iov[n].iov_len = MIN(p->off + len, want_end) - from;
			n++;
		}
		if (len < p->want) {
			at_end = TRUE;
			break;		/* the stream ends here */
		}
	}
	a->req = NULL;
	fuse_req_interrupt_func(req, NULL, NULL);
	fuse_reply_iov(req, iov, n);
	/* A source that may grow: its end was true for this read only (tail
	 * -f reads on and must see what comes). */
	if (at_end && a->ops->fresh_us)
		ahead_clear(a);
}

static void
on_piece(void *data, int err, const char *msg, const guint8 *bytes,
	 gsize len)
{
	struct piece *p = data;
	struct ahead *a = p->a;

	/* A node that answers with more than asked (or not with DATA) is
	 * broken; the reader gets EIO rather than a reply FUSE refuses. */
	if (!err && (msg || (!bytes && len) || len > p->want))
		err = EIO;
	p->done = TRUE;
	p->err = err;
	p->when = g_get_monotonic_time();
	if (!err)
		p->data = g_bytes_new(bytes, len);
	if (!a) {
		piece_free(p);
		return;
	}
	if (!err && a->ops->saw)
		a->ops->saw(a->key, a->stream, p->off + len, len == p->want);
	ahead_answer(a);
}

/* Ask for the pieces of [from, to) of a's stream not asked for yet. */
static void
ahead_ask(struct ahead *a, guint64 from, guint64 to)
{
	struct piece *p = g_queue_peek_tail(&a->pieces);

	if (p)
		from = p->off + p->want;
	while (from < to) {
		p = g_new0(struct piece, 1);
		p->a = a;
		p->off = from;
		p->want = MIN(to - from, WIRE_CHUNK);
		g_queue_push_tail(&a->pieces, p);
		from += p->want;
		/* May answer at once (and fail): the piece is queued. */
		a->ops->ask(a->key, a->stream, p->off, p->want, on_piece, p);
	}
}

/* Whether a piece was answered too long ago to be served (a source that
 * changes). */
static gboolean
piece_old(const struct ahead *a, const struct piece *p, gint64 now)
{
	return a->ops->fresh_us && p->done && now - p->when > a->ops->fresh_us;
}

gboolean
read_ahead(struct tree *t, const struct ahead_ops *ops, void *key,
	   guint stream, guint64 end, guint64 gen, fuse_req_t req,
	   size_t size, off_t off)
{
	struct ahead *a = g_hash_table_lookup(t->ahead, key);
	gint64 now = g_get_monotonic_time();
	struct piece *p;
	GList *l;

	if (a && a->req)
		return FALSE;
	if (a && a->stream != stream) {
		g_hash_table_remove(t->ahead, key);
		a = NULL;
	}
	if (!a) {
		a = g_new0(struct ahead, 1);
		a->ops = ops;
		a->key = key;
		a->stream = stream;
		a->gen = gen;
		g_queue_init(&a->pieces);
		ops->hold(key);
		g_hash_table_insert(t->ahead, key, a);
	}
	/* Changed since the pieces were asked for: none of them is served. */
	if (a->gen != gen) {
		ahead_clear(a);
		a->gen = gen;
	}
	/* Drop what the reader is past; a reader that jumped starts again
	 * from where it is. */
	while ((p = g_queue_peek_head(&a->pieces)) &&
	       p->off + p->want <= (guint64)off)
		piece_drop(g_queue_pop_head(&a->pieces));
	if (p && p->off > (guint64)off)
		ahead_clear(a);
	for (l = a->pieces.head; l; l = l->next)
		if (piece_old(a, l->data, now)) {
			ahead_clear(a);
			break;
		}
	a->req = req;
	a->size = size;
	a->off = off;
	fuse_req_interrupt_func(req, ahead_interrupted, a);
	if (!a->req)
		return TRUE;	/* interrupted already: answered */
	ahead_ask(a, off, MIN(end, (guint64)off + size + AHEAD_BYTES));
	ahead_answer(a);
	return TRUE;
}

void
read_ahead_forget(struct tree *t, void *key)
{
	struct ahead *a = g_hash_table_lookup(t->ahead, key);

	if (a && !a->req)
		g_hash_table_remove(t->ahead, key);
}

/* ------------------------------------------- an ended call's output */

static void
call_ask(void *key, guint stream, guint64 off, guint32 want,
	 request_done_fn done, void *data)
{
	struct call *c = key;

	if (!c->vm->host) {
		done(data, EHOSTDOWN, "no node", NULL, 0);
		return;
	}
	host_request(c->vm->host, WIRE_READ, c->vm->index, 0,
		     g_variant_new("(uytu)", c->id, (guint8)stream, off,
				   want),
		     done, data);
}

static void
call_direct(void *key, guint stream, fuse_req_t req, size_t size,
	    off_t off)
{
	struct call *c = key;

	if (!c->vm->host) {
		fuse_reply_err(req, EIO);
		return;
	}
	window_send(c->vm->host, c, stream, req, size, off);
}

static void
call_saw(void *key, guint stream, guint64 end, gboolean full)
{
	call_saw_size(key, stream, end);
}

static void
call_ahead_hold(void *key)
{
	call_hold(key);
}

static void
call_ahead_release(void *key)
{
	call_release(key);
}

/* An ended call's output does not change: pieces keep. */
static const struct ahead_ops call_ahead = {
	.ask = call_ask,
	.direct = call_direct,
	.saw = call_saw,
	.hold = call_ahead_hold,
	.release = call_ahead_release,
};

void
call_read(struct call *c, guint stream, fuse_req_t req, size_t size,
	  off_t off)
{
	struct tree *t = req_tree(req);
	struct host *h;

	/* A .any call's output is on the VM it ran on; one never sent has
	 * none. */
	c = call_output(c);
	if (!(h = c->vm->host)) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	/* A small result kept here: no round trip, and its node may be
	 * gone. */
	if (stream == WIRE_STDOUT && c->result) {
		gsize len;
		const char *p = g_bytes_get_data(c->result, &len);

		if ((guint64)off >= len)
			fuse_reply_buf(req, NULL, 0);
		else
			fuse_reply_buf(req, p + off, MIN(size, len - off));
		return;
	}
	/* An ended call's sizes are final: a read at or past the end (an
	 * empty stderr, the reader's last read) needs no round trip. */
	if (call_ended(c) && (guint64)off >= (stream == WIRE_STDERR
					      ? c->err_size : c->out_size)) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (h->state == HOST_DOWN) {
		fuse_reply_err(req, EIO);
		return;
	}
	/* Its node is being reconnected: no waiting for it here (a read
	 * that blocked until then would hang ls and cat alike). */
	if (h->state == HOST_RECONNECTING) {
		g_message("%s/calls/%u: output not readable now: %s is "
			  "unreachable (%s)", c->vm->name, c->id, h->label,
			  h->down_reason);
		fuse_reply_err(req, EHOSTUNREACH);
		return;
	}
	/* Interrupted already (libfuse kept the news): answer here. */
	if (fuse_req_interrupted(req)) {
		fuse_reply_err(req, EINTR);
		return;
	}
	if (call_ended(c) && h->state == HOST_UP &&
	    read_ahead(t, &call_ahead, c, stream,
		       stream == WIRE_STDERR ? c->err_size : c->out_size, 0,
		       req, size, off))
		return;
	window_send(h, c, stream, req, size, off);
}

/* Not while a read of it waits (another open file of the call). */
void
read_ahead_drop(struct tree *t, struct call *c)
{
	read_ahead_forget(t, c);
	if (call_output(c) != c)
		read_ahead_forget(t, call_output(c));
}

void
read_ahead_init(struct tree *t)
{
	t->ahead = g_hash_table_new_full(NULL, NULL, NULL, ahead_free);
}

void
read_ahead_free(struct tree *t)
{
	g_clear_pointer(&t->ahead, g_hash_table_unref);
}
