/*
 * reap.c - bounded memory for a long-lived mount (-o keep_calls=N): a
 * VM (and .any) keeps its N most recently ended calls; an older one is
 * forgotten as rmdir forgets it (here, in the journal and on its node)
 * once its result or stdout has been read and nothing holds it, or at
 * once with -o reap_unread.
 *
 * Each VM has a queue of its newest ended calls, in the order they
 * ended.  When it grows past N its oldest leaves the queue: reaped now,
 * or marked to be reaped when it is read or let go of.  Every step is
 * O(1) per call, whatever the number of calls kept unread.  The
 * other half of a .any call (the call on the VM it ran on) is not
 * counted on its VM: it goes with its .any call.
 *
 * Freed memory is given back to the system (malloc_trim) at most once
 * a second after a batch of reaps: glibc keeps freed small blocks in
 * its arenas otherwise, and the mount's RSS would only ever grow.
 */
#include "cluster.h"

#include <errno.h>
#include <malloc.h>

#define TRIM_EVERY 1024		/* reaped calls between trims */

struct reap {
	struct vm *vm;
	guint32 id;
};

static guint reaped_since_trim;
static guint trim_timer;

static gboolean
trim(gpointer data)
{
	trim_timer = 0;
	reaped_since_trim = 0;
	malloc_trim(0);
	return G_SOURCE_REMOVE;
}

static gboolean
reaps(const struct call *c)
{
	/* The VM's half of a .any call goes with the .any call. */
	return c->vm->fs->opt.keep_calls >= 0 && !c->any;
}

static gboolean
may_go(const struct call *c)
{
	return (c->was_read || c->vm->fs->opt.reap_unread) && !call_held(c);
}

static void try_reap(struct call *c);

static void
reaped(void *data, int err)
{
	struct reap *r = data;
	struct call *c = vm_call(r->vm, r->id);

	if (err && c) {
		/* The node could not forget it now (unreachable): it is
		 * the next to go when the VM's queue overflows again. */
		g_debug("%s/calls/%u: not reaped: %s", r->vm->name, r->id,
			g_strerror(err));
		c->reaping = FALSE;
		if (!c->reap_link) {
			g_queue_push_head(&r->vm->reap_q, c);
			c->reap_link = r->vm->reap_q.head;
		}
	} else if (!err && ++reaped_since_trim >= TRIM_EVERY && !trim_timer) {
		trim_timer = g_timeout_add_seconds(1, trim, NULL);
	}
	g_free(r);
}

/* .any's own table lives as long as the mount: r->vm stays valid. */
static gboolean
reap_later(gpointer data)
{
	struct reap *r = data;
	struct call *c = vm_call(r->vm, r->id);

	if (c && c->reaping && !call_held(c)) {
		call_forget(c, reaped, r);
		return G_SOURCE_REMOVE;
	}
	if (c && c->reaping) {		/* opened meanwhile */
		c->reaping = FALSE;
		c->reap_pending = TRUE;
	}
	g_free(r);
	return G_SOURCE_REMOVE;
}

static void
try_reap(struct call *c)
{
	struct reap *r;

	if (c->reaping)
		return;
	if (!may_go(c)) {
		c->reap_pending = TRUE;
		return;
	}
	c->reap_pending = FALSE;
	c->reaping = TRUE;
	r = g_new(struct reap, 1);
	r->vm = c->vm;
	r->id = c->id;
	/* A .any call never sent would be dropped at once, perhaps under
	 * a loop over its table that ended another call: later, then. */
	if (!call_output(c)->vm->host)
		g_idle_add(reap_later, r);
	else
		call_forget(c, reaped, r);
}

void
reap_ended(struct call *c)
{
	struct vm *vm = c->vm;

	if (!reaps(c) || c->reap_link || c->reaping)
		return;
	g_queue_push_tail(&vm->reap_q, c);
	c->reap_link = vm->reap_q.tail;
	while (vm->reap_q.length > (guint)vm->fs->opt.keep_calls) {
		struct call *old = g_queue_pop_head(&vm->reap_q);

		old->reap_link = NULL;
		try_reap(old);
	}
}

void
reap_read(struct call *c)
{
	struct call *halves[3] = { c, c->any, c->real };

	if (!call_ended(c))
		return;
	c = c->any ? c->any : c;
	if (c->vm->fs->opt.keep_calls < 0 || c->was_read)
		return;
	for (guint i = 0; i < G_N_ELEMENTS(halves); i++)
		if (halves[i])
			halves[i]->was_read = TRUE;
	journal_read(c);
	if (c->reap_pending)
		try_reap(c);
}

void
reap_released(struct call *c)
{
	c = c->any ? c->any : c;
	if (c->reap_pending && !call_held(c))
		try_reap(c);
}

void
reap_forget(struct call *c)
{
	if (c->reap_link)
		g_queue_delete_link(&c->vm->reap_q, c->reap_link);
	c->reap_link = NULL;
}

static gint
by_id(gconstpointer a, gconstpointer b)
{
	guint32 x = (*(struct call *const *)a)->id;
	guint32 y = (*(struct call *const *)b)->id;

	return x < y ? -1 : x > y;
}

static void
queue_recovered(struct vm *vm)
{
	g_autoptr(GPtrArray) ended = g_ptr_array_new();
	GHashTableIter it;
	gpointer val;

	g_hash_table_iter_init(&it, vm->calls);
	while (g_hash_table_iter_next(&it, NULL, &val)) {
		struct call *c = val;

		if (call_ended(c) && reaps(c) && !c->reap_link)
			g_ptr_array_add(ended, c);
	}
	g_ptr_array_sort(ended, by_id);
	for (guint i = 0; i < ended->len; i++) {
		struct call *c = ended->pdata[i];

		g_queue_push_tail(&vm->reap_q, c);
		c->reap_link = vm->reap_q.tail;
	}
}

void
reap_recovered(struct cluster *cl)
{
	if (cl->opt.keep_calls < 0)
		return;
	for (guint i = 0; i < cl->vms->len; i++)
		queue_recovered(cl->vms->pdata[i]);
	if (cl->any)
		queue_recovered(cl->any);
}
