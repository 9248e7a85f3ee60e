/*
 * migrate.c - "migrate NODE": a VM moves to another node with its state
 * (issue 16), its directory, calls and ids staying where they are under
 * the mount.
 *
 *   1. it stops taking calls: new ones, its own and .any's, wait here
 *      (call_go, any_vm_live ask vm_moving);
 *   2. the calls its node has (queued or running) end, for half of
 *      -o reply_timeout at most (else EBUSY, and the held calls go on
 *      where they were);
 *   3. a checkpoint on its node, fetched here (ckpt.c);
 *   4. one more VM in the session of the target node (WIRE_VM_ADD); the
 *      VM is bound to it, and a stand-in, gone from the tree, takes its
 *      place on the old node;
 *   5. the checkpoint goes to the new node and is restored there;
 *   6. the held calls are sent there, in order.
 *
 * One move at a time.  Results the mount keeps (small ones, under 4
 * KiB) stay readable; a bigger output of a call run before the move, and
 * the checkpoints taken before it, stay on the old node, no longer
 * reached through the VM.
 */
#include "ckpt.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define POLL_MS 100

struct move {
	struct vm *vm;
	struct host *from, *to;
	guint32 n;
	char *path;
	guint timer;
	gint64 deadline;
	ckpt_done_fn done;
	void *data;
};

static gboolean moving;		/* a move under way, in this mount */

static void
finish(struct move *m, int err, const char *why)
{
	struct vm *vm = m->vm;

	if (err)
		vm_error(vm, err, "migrate to %s: %s", m->to->label, why);
	else
		g_message("%s: moved from %s to %s", vm->name, m->from->label,
			  m->to->label);
	ckpt_set_moving(vm, FALSE);
	moving = FALSE;
	any_index_update(vm);
	vm_send_waiting(vm);
	cluster_emit(vm->fs, CL_VM_CHANGED, vm->host, vm, NULL, NULL);
	if (m->timer)
		g_source_remove(m->timer);
	m->done(m->data, err, m->n);
	g_free(m->path);
	g_free(m);
}

/* Sent to its node and not ended. */
static guint
in_flight(struct vm *vm)
{
	GHashTableIter it;
	gpointer v;
	guint n = 0;

	g_hash_table_iter_init(&it, vm->calls);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct call *c = v;

		if (!call_ended(c) && c->sync_gen != 0)
			n++;
	}
	return n;
}

/* The VM is vm->host's index no more: a stand-in, gone from the tree,
 * hears what the old node still says of it. */
static void
rebind(struct move *m, guint index)
{
	struct vm *vm = m->vm;
	struct cluster *cl = vm->fs;
	g_autofree char *name = g_strdup_printf(".moved-%s-%u", vm->name,
						vm->index);
	struct vm *ghost = vm_new(cl, NULL, name);

	ghost->host = m->from;
	ghost->index = vm->index;
	ghost->gone = TRUE;
	ghost->slot = cl->vms->len;
	g_ptr_array_add(cl->vms, ghost);
	m->from->vms->pdata[vm->index] = ghost;
	vm->host = m->to;
	vm->index = index;
	g_ptr_array_add(m->to->vms, vm);
	/* Its checkpoints stay on the old node; the one it moved with is
	 * listed again once the new node has it. */
	ckpt_forget_all(vm);
}

static void
on_restored(void *data, int err, guint32 n)
{
	struct move *m = data;

	finish(m, err, err ? "the new node could not restore it (the VM "
	       "runs there without its state)" : NULL);
}

static void
on_put(void *data, int err, guint32 n)
{
	struct move *m = data;

	if (err) {
		finish(m, err, "the new node did not take the checkpoint (the "
		       "VM runs there without its state)");
		return;
	}
	ckpt_restore(m->vm, m->n, on_restored, m);
}

static void
on_added(void *data, int err, const char *msg, const guint8 *bytes,
	 gsize len)
{
	struct move *m = data;
	guint index = m->to->vms->len;

	if (err) {
		finish(m, err, msg && *msg ? msg : g_strerror(err));
		return;
	}
	rebind(m, index);
	ckpt_import_as(m->vm, m->n, m->path, on_put, m);
}

static void
on_fetched(void *data, int err, const char *path)
{
	struct move *m = data;

	if (err) {
		finish(m, err, "cannot fetch its checkpoint");
		return;
	}
	if (m->to->state != HOST_UP) {
		finish(m, EHOSTUNREACH, "the node is not up");
		return;
	}
	m->path = g_strdup(path);
	host_request(m->to, WIRE_VM_ADD, 0, 0,
		     g_variant_new_uint32(m->to->vms->len), on_added, m);
}

static void
on_taken(void *data, int err, guint32 n)
{
	struct move *m = data;

	if (err) {
		finish(m, err, "no checkpoint");
		return;
	}
	m->n = n;
	ckpt_fetch(m->vm, n, on_fetched, m);
}

static gboolean
poll_idle(gpointer data)
{
	struct move *m = data;

	if (in_flight(m->vm) && g_get_monotonic_time() < m->deadline)
		return G_SOURCE_CONTINUE;
	m->timer = 0;
	if (in_flight(m->vm)) {
		finish(m, EBUSY, "its calls did not end in time");
		return G_SOURCE_REMOVE;
	}
	ckpt_take(m->vm, on_taken, m);
	return G_SOURCE_REMOVE;
}

void
vm_migrate(struct vm *vm, struct host *to, ckpt_done_fn done, void *data)
{
	struct move *m;

	if (to == vm->host) {
		done(data, EEXIST, 0);
		return;
	}
	if (moving) {
		done(data, EBUSY, 0);
		return;
	}
	if (vm->host->state != HOST_UP || to->state != HOST_UP) {
		done(data, EHOSTUNREACH, 0);
		return;
	}
	m = g_new0(struct move, 1);
	m->vm = vm;
	m->from = vm->host;
	m->to = to;
	m->done = done;
	m->data = data;
	m->deadline = g_get_monotonic_time() +
		(gint64)vm->fs->opt.reply_timeout * G_USEC_PER_SEC / 2;
	moving = TRUE;
	ckpt_set_moving(vm, TRUE);
	any_index_update(vm);
	g_message("%s: moving from %s to %s", vm->name, m->from->label,
		  to->label);
	m->timer = g_timeout_add(POLL_MS, poll_idle, m);
}

struct host *
migrate_target(struct cluster *cl, const char *node)
{
	struct vm *other = cluster_vm_named(cl, node);
	guint i;

	if (other)
		return other->host;
	for (i = 0; i < cl->hosts->len; i++) {
		struct host *h = cl->hosts->pdata[i];
		const char *at = strchr(h->label, '@');

		if (strcmp(h->label, node) == 0 ||
		    (at && strcmp(at + 1, node) == 0))
			return h;
	}
	return NULL;
}
