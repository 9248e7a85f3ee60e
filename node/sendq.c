/*
 * sendq.c - frames from the node to its client (node_send).
 *
 * They are queued in n->frame and written together just before the main
 * loop next waits (client_flush, from the prepare() of the flusher
 * source): a pipelined call's end, its result and the next call's start,
 * made in one turn of the loop, go in one write(2) and wake the client
 * once, not three times.  A queue past CORK_MAX goes at once.
 */
#include "supervisor.h"
#include "fdstream.h"
#include "wire.h"

#define CORK_MAX (64 * 1024)

void
client_flush(struct node *n)
{
	if (n->frame->len && n->io)
		fdstream_write(n->io, n->frame->data, n->frame->len);
	g_byte_array_set_size(n->frame, 0);
}

static void
queued(struct node *n)
{
	if (n->frame->len >= CORK_MAX)
		client_flush(n);
}

struct flusher {
	GSource src;
	struct node *n;
};

static gboolean
flusher_prepare(GSource *src, gint *timeout)
{
	*timeout = -1;
	client_flush(((struct flusher *)src)->n);
	return FALSE;
}

static gboolean
flusher_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
	return G_SOURCE_CONTINUE;	/* never ready */
}

static GSourceFuncs flusher_funcs = {
	.prepare = flusher_prepare,
	.dispatch = flusher_dispatch,
};

GSource *
client_flusher_new(struct node *n)
{
	GSource *src = g_source_new(&flusher_funcs, sizeof(struct flusher));

	((struct flusher *)src)->n = n;
	g_source_set_name(src, "client-flush");
	/* Prepared first, whatever else is ready. */
	g_source_set_priority(src, G_PRIORITY_HIGH);
	g_source_attach(src, NULL);
	return src;
}

void
node_send(struct node *n, guint type, guint vm, guint32 tag, GVariant *body)
{
	/* Without a client, what happens is kept on disk and in memory and
	 * told again to the next one (vmnode_resync). */
	if (!n->io) {
		if (body)
			g_variant_unref(g_variant_ref_sink(body));
		return;
	}
	if (wire_encode(n->frame, type, vm, tag, body))
		queued(n);
}

void
node_send_bytes(struct node *n, guint type, guint vm, guint32 tag,
		const void *data, gsize len)
{
	if (!n->io)
		return;
	wire_encode_bytes(n->frame, type, vm, tag, data, len);
	queued(n);
}
