/*
 * fsjoin.c - the reads that wait on a call: joins (read of result),
 * reads of its streams from the node, poll(2) on result; writes held
 * back by a link's flow control; and the tree's one listener of the
 * cluster's news, which wakes them.
 *
 * A join on a call still running is parked here without a reply and
 * without a thread; the call's CL_CALL_ENDED wakes it.  Ctrl-C
 * interrupts it at once and leaves the call alone.  The reads of a
 * stream themselves (a fan-in of WIRE_READs, and read-ahead) are in
 * fsread.c.
 */
#include "tree.h"
#include "fsdata.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

/* What waits on one call that has not ended. */
struct waits {
	GList *joiners;		/* struct joiner * */
	GList *pollers;		/* struct fuse_pollhandle * */
};

/* A read of result waiting for its call to end. */
struct joiner {
	struct tree *t;
	struct call *call;
	fuse_req_t req;
	size_t size;
	off_t off;
};

struct held_write {
	fuse_req_t req;
	size_t size;
	gint64 since;
};

/* Writes held back on one host's link. */
struct held {
	struct tree *t;
	struct host *h;
	GQueue writes;
	guint timer;		/* fails writes held too long */
};

static struct waits *
waits_of(struct tree *t, struct call *c)
{
	struct waits *w = g_hash_table_lookup(t->waits, c);

	if (!w) {
		w = g_new0(struct waits, 1);
		g_hash_table_insert(t->waits, c, w);
	}
	return w;
}

static void
joiner_drop(struct joiner *j)
{
	struct waits *w = g_hash_table_lookup(j->t->waits, j->call);

	w->joiners = g_list_remove(w->joiners, j);
	call_release(j->call);
	g_free(j);
}

static void
join_interrupted(fuse_req_t req, void *data)
{
	fuse_reply_err(req, EINTR);
	joiner_drop(data);
}

/* An ended call whose output is on a node being reconnected: its join
 * waits for the node (a result is worth waiting for, unlike a listing). */
static gboolean
output_away(struct call *c)
{
	struct host *h = call_output(c)->vm->host;

	return h && h->state == HOST_RECONNECTING && !h->lease_out &&
	       !call_output(c)->result;
}

void
call_join(struct call *c, fuse_req_t req, size_t size, off_t off)
{
	struct joiner *j;

	if (call_ended(c) && !(c->state == CALL_DONE && output_away(c))) {
		if (c->state != CALL_DONE)
			fuse_reply_err(req, EIO);
		else
			call_read(c, WIRE_STDOUT, req, size, off);
		return;
	}
	/* An interrupt that came before this read was handled (libfuse
	 * queues those): answer it here, not from inside libfuse. */
	if (fuse_req_interrupted(req)) {
		fuse_reply_err(req, EINTR);
		return;
	}
	j = g_new0(struct joiner, 1);
	j->t = req_tree(req);
	j->call = c;
	j->req = req;
	j->size = size;
	j->off = off;
	call_hold(c);
	waits_of(j->t, c)->joiners = g_list_prepend(
		waits_of(j->t, c)->joiners, j);
	/* May run join_interrupted at once if the interrupt came first. */
	fuse_req_interrupt_func(req, join_interrupted, j);
}

/* The call ended: its joins read the result, its pollers hear. */
static void
wake(struct tree *t, struct call *c)
{
	struct waits *w = g_hash_table_lookup(t->waits, c);
	GList *l;

	if (!w)
		return;
	g_hash_table_steal(t->waits, c);
	for (l = w->joiners; l; l = l->next) {
		struct joiner *j = l->data;

		/* The join is over; the read of the result that follows
		 * (call_read) registers its own. */
		fuse_req_interrupt_func(j->req, NULL, NULL);
		call_join(c, j->req, j->size, j->off);
		call_release(c);
		g_free(j);
	}
	for (l = w->pollers; l; l = l->next) {
		fuse_lowlevel_notify_poll(l->data);
		fuse_pollhandle_destroy(l->data);
		call_release(c);
	}
	g_list_free(w->joiners);
	g_list_free(w->pollers);
	g_free(w);
}

/* A node is back (or gone for good): the joins of ended calls whose
 * output it has read it now (or fail). */
static void
wake_host(struct tree *t, struct host *h)
{
	g_autoptr(GPtrArray) calls = g_ptr_array_new();
	GHashTableIter it;
	gpointer key;
	guint i;

	g_hash_table_iter_init(&it, t->waits);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		struct call *c = key;

		if (call_ended(c) && call_output(c)->vm->host == h)
			g_ptr_array_add(calls, c);
	}
	for (i = 0; i < calls->len; i++)
		wake(t, calls->pdata[i]);
}

void
call_poll(struct call *c, fuse_req_t req, struct fuse_pollhandle *ph)
{
	if (call_ended(c)) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_poll(req, POLLIN | POLLRDNORM);
		return;
	}
	if (ph) {
		struct waits *w = waits_of(req_tree(req), c);

		/* Held until woken: a lost run's call is not freed under
		 * a poller (it ends instead, and wakes it). */
		call_hold(c);
		w->pollers = g_list_prepend(w->pollers, ph);
	}
	fuse_reply_poll(req, 0);
}

/* ------------------------------------------------- reads of streams */

/* ------------------------------------------- result, stdout, stderr */

struct output_handle {
	struct handle h;
	struct call *call;
	gboolean joins;		/* result or stdout: reading it joins */
	gboolean read;		/* ... and a read(2) came */
};

static void output_release(fuse_req_t req, struct fuse_file_info *fi);

static const struct handle_ops output_ops = {
	.release = output_release,
};

void
output_read_seen(struct fuse_file_info *fi)
{
	struct output_handle *o = (struct output_handle *)(uintptr_t)fi->fh;

	if (o && o->h.ops == &output_ops && o->joins)
		o->read = TRUE;
}

static void
output_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct output_handle *o = (struct output_handle *)(uintptr_t)fi->fh;

	read_ahead_drop(req_tree(req), o->call);
	if (o->read)
		reap_read(o->call);	/* -o keep_calls may reap it now */
	call_release(o->call);
	g_free(o);
	fuse_reply_err(req, 0);
}


void
output_open(fuse_req_t req, struct call *c, gboolean joins,
	    struct fuse_file_info *fi)
{
	/* Held, so that the call (and a leaving VM's node) stays while
	 * someone may still read it. */
	struct output_handle *o = g_new0(struct output_handle, 1);

	o->h.ops = &output_ops;
	o->call = c;
	o->joins = joins;
	call_hold(c);
	fi->fh = (uintptr_t)o;
}

/* ---------------------------------------------------- held writes */

static void
release_writes(struct held *hw, int err)
{
	struct held_write *w;

	while ((w = g_queue_pop_head(&hw->writes))) {
		if (err)
			fuse_reply_err(w->req, err);
		else
			fuse_reply_write(w->req, w->size);
		g_free(w);
	}
	g_clear_handle_id(&hw->timer, g_source_remove);
}

/*
 * A writer held back by flow control waits in the kernel where no signal
 * reaches it: a node that stops taking bytes must not hold it longer than
 * any other request.  The transfer it belonged to is then broken, and its
 * close reports that.
 */
static gboolean
check_held(gpointer data)
{
	struct held *hw = data;
	int secs = hw->t->cl->opt.reply_timeout;
	gint64 limit = (gint64)secs * G_USEC_PER_SEC;
	struct held_write *w;

	while ((w = g_queue_peek_head(&hw->writes)) &&
	       g_get_monotonic_time() - w->since > limit) {
		g_queue_pop_head(&hw->writes);
		g_warning("%s: a write waited %d s for the node to take data",
			  hw->h->label, secs);
		fuse_reply_err(w->req, ETIMEDOUT);
		g_free(w);
	}
	if (!g_queue_is_empty(&hw->writes))
		return G_SOURCE_CONTINUE;
	hw->timer = 0;
	return G_SOURCE_REMOVE;
}

void
tree_reply_write(struct tree *t, struct host *h, fuse_req_t req, size_t size)
{
	struct held_write *w;
	struct held *hw;

	if (!h || !host_throttled(h)) {
		fuse_reply_write(req, size);
		return;
	}
	if (!(hw = g_hash_table_lookup(t->held, h))) {
		hw = g_new0(struct held, 1);
		hw->t = t;
		hw->h = h;
		g_queue_init(&hw->writes);
		g_hash_table_insert(t->held, h, hw);
	}
	w = g_new(struct held_write, 1);
	w->req = req;
	w->size = size;
	w->since = g_get_monotonic_time();
	g_queue_push_tail(&hw->writes, w);
	if (!hw->timer)
		hw->timer = g_timeout_add_seconds(1, check_held, hw);
}

static void
held_free(gpointer p)
{
	struct held *hw = p;

	release_writes(hw, EIO);
	g_free(hw);
}

/* ------------------------------------------------------ the tree */

static void
on_event(void *data, const struct cluster_event *ev)
{
	struct tree *t = data;

	switch (ev->type) {
	case CL_CALL_ENDED:
		wake(t, ev->call);
		/* A .any call's VM half ends in its .any call's name. */
		if (!ev->call->any)
			done_announce(t, ev->call);
		break;
	case CL_HOST_UP:
		wake_host(t, ev->host);
		break;
	case CL_HOST_UNREACHABLE:
	case CL_HOST_DOWN:
		wake_host(t, ev->host);
		/* fall through */
	case CL_HOST_DRAINED:
		/* Unreachable, its link went with what it held: a writer
		 * held back waits no longer, and is told. */
		if (g_hash_table_contains(t->held, ev->host)) {
			struct held *hw = g_hash_table_lookup(t->held,
							      ev->host);
			release_writes(hw, ev->type == CL_HOST_DRAINED ? 0
								       : EIO);
		}
		break;
	default:
		break;
	}
}

struct tree *
tree_new(struct cluster *cl)
{
	struct tree *t = g_new0(struct tree, 1);

	t->cl = cl;
	t->uid = getuid();
	t->gid = getgid();
	t->allowed = g_array_new(FALSE, FALSE, sizeof(uid_t));
	if (cl->opt.allow_users) {
		g_auto(GStrv) uids = g_strsplit(cl->opt.allow_users, ":", -1);
		char **u;

		/* options.c made them numbers. */
		for (u = uids; *u; u++) {
			uid_t uid = g_ascii_strtoull(*u, NULL, 10);

			g_array_append_val(t->allowed, uid);
		}
	}
	t->started = time(NULL);
	t->waits = g_hash_table_new(NULL, NULL);
	t->held = g_hash_table_new_full(NULL, NULL, NULL, held_free);
	read_ahead_init(t);
	cluster_listen(cl, on_event, t);
	return t;
}

void
tree_free(struct tree *t)
{
	GHashTableIter it;
	gpointer key, val;

	/* Joins still parked get an answer before their call goes. */
	g_hash_table_iter_init(&it, t->waits);
	while (g_hash_table_iter_next(&it, &key, &val)) {
		struct waits *w = val;
		GList *l;

		for (l = w->joiners; l; l = l->next) {
			struct joiner *j = l->data;

			fuse_req_interrupt_func(j->req, NULL, NULL);
			fuse_reply_err(j->req, EIO);
			g_free(j);
		}
		g_list_free(w->joiners);
		g_list_free_full(w->pollers,
				 (GDestroyNotify)fuse_pollhandle_destroy);
		g_free(w);
	}
	g_hash_table_unref(t->waits);
	g_hash_table_unref(t->held);
	read_ahead_free(t);
	info_cache_free(t);
	g_array_unref(t->allowed);
	cluster_unlisten(t->cl, on_event, t);
	tree_free_data(t);
	tree_free_kept(t);
	g_free(t);
}
