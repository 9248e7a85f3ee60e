/*
 * fsinfo.c - the size of VM/info for stat and ls -l.
 *
 * info is text put together from the mount's half and the node's
 * (fsvm.c, info_compose).  So that `ls -l` and `stat` give its real
 * size, a lookup or getattr of info builds the text, asking the node
 * once, and keeps it for INFO_FRESH_US: a read in that time gets those
 * very bytes (fsvm.c), so `stat -c %s info` and `cat info | wc -c`
 * agree, unless the VM's calls or state change meanwhile (the text is
 * then built again: what info says is never older than the last change,
 * but for its byte counts and seconds).
 *
 * A stat never waits long on a node: after INFO_STAT_WAIT_MS without
 * its answer it is answered with the size known then (the last text's,
 * or 0), and so are the stats that come while that request is still
 * out; the text comes when the node answers (or when the request's
 * deadline passes: host_request).
 */
#include "tree.h"


#define INFO_FRESH_US (2 * G_USEC_PER_SEC)
#define INFO_STAT_WAIT_MS 1000

struct info_cache {
	struct tree *t;		/* NULL: the tree is gone, free on answer */
	struct vm *vm;
	GString *text;		/* the last text built, or NULL */
	gint64 at;		/* monotonic time it was built */
	gboolean asking;	/* a request to the node is out */
	gboolean slow;		/* ... and a stat gave up waiting on it:
				   the next ones do not wait */
	guint timer;		/* stats waiting: answer them at this */
	GList *waiters;		/* struct info_waiter */
};

struct info_waiter {
	fuse_req_t req;
	info_ready_fn ready;
	void *data;
};

static void
cache_free(struct info_cache *ic)
{
	if (ic->timer)
		g_source_remove(ic->timer);
	if (ic->text)
		g_string_free(ic->text, TRUE);
	g_free(ic);
}

/* News that changes what info says: its text is to be built again. */
static void
on_event(void *data, const struct cluster_event *ev)
{
	struct tree *t = data;
	struct info_cache *ic;
	GHashTableIter it;
	gpointer val;

	switch (ev->type) {
	case CL_CALL_CHANGED:
	case CL_CALL_ENDED:
	case CL_VM_CHANGED:
		ic = g_hash_table_lookup(t->info_cache, ev->call ?
					 ev->call->vm : ev->vm);
		if (ic)
			ic->at = 0;
		break;
	case CL_HOST_UP:
	case CL_HOST_DOWN:
	case CL_HOST_UNREACHABLE:
		g_hash_table_iter_init(&it, t->info_cache);
		while (g_hash_table_iter_next(&it, NULL, &val))
			((struct info_cache *)val)->at = 0;
		break;
	default:
		break;
	}
}

static struct info_cache *
cache_of(struct tree *t, struct vm *vm)
{
	struct info_cache *ic;

	if (!t->info_cache) {
		t->info_cache = g_hash_table_new(NULL, NULL);
		cluster_listen(t->cl, on_event, t);
	}
	ic = g_hash_table_lookup(t->info_cache, vm);
	if (!ic) {
		ic = g_new0(struct info_cache, 1);
		ic->t = t;
		ic->vm = vm;
		g_hash_table_insert(t->info_cache, vm, ic);
	}
	return ic;
}

/* Answer every waiting stat with what is known now. */
static void
answer_waiters(struct info_cache *ic)
{
	GList *w = g_steal_pointer(&ic->waiters), *l;

	if (ic->timer) {
		g_source_remove(ic->timer);
		ic->timer = 0;
	}
	for (l = w; l; l = l->next) {
		struct info_waiter *iw = l->data;

		iw->ready(iw->req, iw->data);
		g_free(iw);
	}
	g_list_free(w);
}

static gboolean
stat_wait_over(gpointer data)
{
	struct info_cache *ic = data;

	ic->timer = 0;
	ic->slow = TRUE;
	answer_waiters(ic);
	return G_SOURCE_REMOVE;
}

static void
on_node_info(void *data, int err, const char *msg, const guint8 *bytes,
	     gsize len)
{
	struct info_cache *ic = data;

	ic->asking = FALSE;
	if (!ic->t) {
		cache_free(ic);
		return;
	}
	info_cache_put(ic->t, ic->vm,
		       info_compose(ic->vm, err, msg, bytes, len));
	answer_waiters(ic);
}

void
info_cache_put(struct tree *t, struct vm *vm, GString *text)
{
	struct info_cache *ic = cache_of(t, vm);

	if (ic->text)
		g_string_free(ic->text, TRUE);
	ic->text = text;
	ic->at = g_get_monotonic_time();
}

const GString *
info_cache_fresh(struct tree *t, struct vm *vm)
{
	struct info_cache *ic = t->info_cache ?
		g_hash_table_lookup(t->info_cache, vm) : NULL;

	if (!ic || !ic->text || !ic->at ||
	    g_get_monotonic_time() - ic->at > INFO_FRESH_US)
		return NULL;
	return ic->text;
}

gsize
info_cache_size(struct tree *t, struct vm *vm)
{
	struct info_cache *ic = t->info_cache ?
		g_hash_table_lookup(t->info_cache, vm) : NULL;

	return ic && ic->text ? ic->text->len : 0;
}

void
info_when_sized(fuse_req_t req, struct vm *vm, info_ready_fn ready,
		void *data)
{
	struct tree *t = req_tree(req);
	struct info_cache *ic;
	struct info_waiter *iw;

	if (info_cache_fresh(t, vm)) {
		ready(req, data);
		return;
	}
	ic = cache_of(t, vm);
	/* The node is slow to answer: what is known, at once. */
	if (ic->asking && ic->slow) {
		ready(req, data);
		return;
	}
	/* Down or being reconnected: what the mount knows, at once. */
	if (!ic->asking && vm->host->state != HOST_UP) {
		info_cache_put(t, vm, info_compose(vm, 0, NULL, NULL, 0));
		ready(req, data);
		return;
	}
	iw = g_new0(struct info_waiter, 1);
	iw->req = req;
	iw->ready = ready;
	iw->data = data;
	ic->waiters = g_list_append(ic->waiters, iw);
	if (!ic->timer)
		ic->timer = g_timeout_add(INFO_STAT_WAIT_MS, stat_wait_over,
					  ic);
	if (!ic->asking) {
		ic->asking = TRUE;
		ic->slow = FALSE;
		host_request(vm->host, WIRE_INFO, vm->index, 0, NULL,
			     on_node_info, ic);
	}
}

void
info_cache_free(struct tree *t)
{
	GHashTableIter it;
	gpointer val;

	if (!t->info_cache)
		return;
	cluster_unlisten(t->cl, on_event, t);
	g_hash_table_iter_init(&it, t->info_cache);
	while (g_hash_table_iter_next(&it, NULL, &val)) {
		struct info_cache *ic = val;

		answer_waiters(ic);
		ic->t = NULL;
		if (!ic->asking)
			cache_free(ic);
	}
	g_hash_table_unref(t->info_cache);
	t->info_cache = NULL;
}
