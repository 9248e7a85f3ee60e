/*
 * anysched.c - MOUNT/.any: the paper's forkwork as a directory.
 *
 * A line written to .any/calls/new becomes a call queued here, at the
 * initiator, not on any node.  Whenever a VM has room (fewer than
 * any_window of our calls not yet ended) it is handed the next call it
 * can run, so a fast VM comes back for more while a slow one is still
 * busy, and the queue drains at the speed of the whole cluster.  A
 * window of two keeps a VM busy across the round trip between one call
 * ending and the next arriving; one is the paper's strict "next call when
 * the last ends".  The second place is only used while more calls wait
 * than there are VMs: near the end of the work a call waiting on a slow
 * VM's node would hold up the finish while fast VMs sit idle, so there
 * each call goes only to a VM with nothing to do.
 *
 * A call runs only on a VM whose functions/ lists its function, so a
 * call of injected code waits for (and goes only to) VMs that have it.
 */
#include "cluster.h"

#include <string.h>

/* How far past a call no free VM can run we look for one that can. */
#define SCAN_LIMIT 256

/* The function a line calls: its first word that is not NAME=VALUE
 * ("" if it has none; such a line fails on any VM). */
static const char *
call_func(char **argv)
{
	for (; *argv; argv++)
		if (!strchr(*argv, '='))
			return *argv;
	return "";
}

/*
 * Could a call of func ever run?  Not if every live VM has said what it
 * runs and none lists it, or no VM is live at all; then the call fails
 * now rather than waiting for ever.  why gets the reason.
 */
static gboolean
runnable(struct cluster *fs, const char *func, const char **why)
{
	return any_index_runnable(fs, func, why);
}

/* The call cannot run anywhere: it fails here, named in the log. */
static void
fail_here(struct call *a, const char *func, const char *why)
{
	g_autofree char *detail = *func ? g_strdup_printf("%s %s", why, func)
					: g_strdup(why);

	g_message(".any/%u: %s", a->id, detail);
	g_clear_pointer(&a->argv, g_strfreev);
	call_set_state(a, CALL_FAILED, detail);
	call_ended_now(a);
}

static void any_kick(struct cluster *fs);
static void mirror(struct call *c);

struct call *
any_fork(struct cluster *fs, char **words, const char *line)
{
	struct call *a = call_new(fs->any, line);
	g_auto(GStrv) argv = NULL;
	g_autofree char *bad = NULL;
	const char *why;

	if (!(argv = call_options(a, words, &bad))) {
		fail_here(a, "", bad);
		return a;
	}
	a->argv = g_strdupv(argv);
	journal_fork(a);
	g_clear_pointer(&a->argv, g_strfreev);
	if (!*call_func(argv)) {
		fail_here(a, "", "no function in the line");
		return a;
	}
	if (!runnable(fs, call_func(argv), &why)) {
		fail_here(a, call_func(argv), why);
		return a;
	}
	a->argv = g_steal_pointer(&argv);
	if (a->stdin_state == STDIN_OPEN)
		call_set_state(a, CALL_QUEUED, "waiting for its stdin");
	else
		any_go(a);
	return a;
}

void
any_go(struct call *a)
{
	struct cluster *fs = a->vm->fs;

	call_set_state(a, CALL_QUEUED, NULL);
	g_queue_push_tail(&fs->any_queue, a);
	a->queued = fs->any_queue.tail;
	any_kick(fs);
}

static void
send_to(struct cluster *fs, struct call *a, struct vm *vm)
{
	struct call *c;

	g_queue_delete_link(&fs->any_queue, a->queued);
	a->queued = NULL;
	vm->any_load++;
	any_index_update(vm);
	a->where = g_strdup(vm->name);
	/* a keeps its words: a lost run is sent again, elsewhere. */
	c = vm_fork(vm, a->argv, a->args, a);
	journal_sent(a);
	if (!call_ended(c))	/* else it has spoken already */
		mirror(c);
}

/*
 * Hand queued calls to VMs with room, oldest first.  Each step costs
 * what anyindex.c's pick does, not the number of VMs: when every VM is
 * full (a long queue) a kick ends at its first call, and a call only
 * VMs without room run is passed over, at most SCAN_LIMIT of them.
 */
static void
kick_once(struct cluster *fs)
{
	GList *l, *next;
	guint scanned = 0, live = any_index_live(fs), window;

	for (l = fs->any_queue.head; l && scanned < SCAN_LIMIT; l = next) {
		struct call *a = l->data;
		const char *func = call_func(a->argv), *why;
		struct vm *vm;

		next = l->next;
		window = g_queue_get_length(&fs->any_queue) > live
			 ? (guint)fs->opt.any_window : 1;
		if (!any_index_room(fs, window) && live)
			return;		/* every VM is full */
		vm = any_index_pick(fs, func, window);
		if (vm) {
			send_to(fs, a, vm);
			if (fs->any_again)
				return;	/* the queue changed under us */
			continue;
		}
		if (!runnable(fs, func, &why)) {
			g_queue_delete_link(&fs->any_queue, l);
			a->queued = NULL;
			fail_here(a, func, why);
			continue;
		}
		/* The VMs with room lack func; later calls may suit them. */
		scanned++;
	}
}

static void
any_kick(struct cluster *fs)
{
	/* A call that ends as it is sent kicks again from inside; the
	 * outer pass, which holds a place in the queue, starts over. */
	if (fs->stopping)
		return;		/* unmounting: VMs may be freed already */
	if (g_queue_is_empty(&fs->any_queue))
		return;		/* the common case: nothing to place */
	if (fs->any_kicking) {
		fs->any_again = TRUE;
		return;
	}
	fs->any_kicking = TRUE;
	do {
		fs->any_again = FALSE;
		kick_once(fs);
	} while (fs->any_again);
	fs->any_kicking = FALSE;
}

/* c, a VM's call serving a .any call, changed state: so does that. */
static void
mirror(struct call *c)
{
	struct call *a = c->any;

	call_set_state(a, c->state, c->detail);
	a->code = c->code;
	a->out_size = c->out_size;
	a->err_size = c->err_size;
	if (!call_ended(c))
		return;
	c->vm->any_load--;
	any_index_update(c->vm);
	call_ended_now(a);
	any_kick(c->vm->fs);
}

/*
 * vm drains (its node's job nears its walltime, scale down, disconnect):
 * the .any calls queued on its node that have not started there are
 * cancelled, and run elsewhere as they end so (vm_call_state), costing
 * no retry.  One that starts before the cancel arrives is cut off and
 * runs again: its attempts file says so.
 */
static void
withdraw(struct vm *vm)
{
	GHashTableIter it;
	gpointer val;
	guint n = 0;

	vm->any_withdrawn = TRUE;
	if (!vm->host || vm->host->state != HOST_UP || !vm->any_load)
		return;
	g_hash_table_iter_init(&it, vm->calls);
	while (g_hash_table_iter_next(&it, NULL, &val)) {
		struct call *c = val;

		if (!c->any || c->state != CALL_QUEUED || c->withdrawn ||
		    !c->sync_gen)
			continue;
		c->withdrawn = TRUE;
		host_request(vm->host, WIRE_CANCEL, vm->index, 0,
			     g_variant_new_uint32(c->id), host_no_answer, NULL);
		n++;
	}
	if (n)
		g_message("%s: draining: %u .any call%s not started there "
			  "taken back", vm->name, n, n == 1 ? "" : "s");
}

/* Place again what the news may have changed. */
static void
reindex(const struct cluster_event *ev)
{
	guint i;

	if (ev->vm) {
		any_index_update(ev->vm);
	} else if (ev->host) {
		for (i = 0; i < ev->host->vms->len; i++)
			any_index_update(ev->host->vms->pdata[i]);
	}
}

static void
on_event(void *data, const struct cluster_event *ev)
{
	struct cluster *fs = data;

	switch (ev->type) {
	case CL_CALL_CHANGED:
	case CL_CALL_ENDED:
		if (ev->call->any)
			mirror(ev->call);
		/* A draining VM's last call: it may be gone now. */
		if (ev->type == CL_CALL_ENDED && ev->vm && ev->vm->draining)
			any_index_update(ev->vm);
		break;
	case CL_HOST_DOWN:
	case CL_HOST_UNREACHABLE:
		reindex(ev);
		break;
	case CL_HOST_UP:
	case CL_HOST_SHARE:
	case CL_VM_JOINED:
	case CL_VM_LEFT:
		reindex(ev);
		any_kick(fs);
		break;
	case CL_VM_CHANGED:
		/* Without a VM: a call's output was forgotten on host, which
		 * changes nothing here. */
		if (ev->vm)
			any_index_update(ev->vm);
		if (ev->vm && ev->vm->draining && !ev->vm->any_withdrawn)
			withdraw(ev->vm);
		any_kick(fs);
		break;
	default:
		break;
	}
}

void
any_init(struct cluster *fs)
{
	cluster_listen(fs, on_event, fs);
}

void
any_restore(struct cluster *fs)
{
	g_autoptr(GList) calls = g_hash_table_get_values(fs->any->calls);
	GList *l;

	calls = g_list_sort(calls, (GCompareFunc)call_cmp_id);
	for (l = calls; l; l = l->next) {
		struct call *a = l->data, *c = a->real;

		if (call_ended(a))
			continue;
		if (!c && a->absent) {
			g_autofree char *why = g_strdup_printf("recovered: "
				"it was sent to %s, which is not mounted now",
				a->where);

			call_set_state(a, CALL_FAILED, why);
			call_ended_now(a);
		} else if (!c && a->argv) {
			call_set_state(a, CALL_QUEUED, NULL);
			g_queue_push_tail(&fs->any_queue, a);
			a->queued = fs->any_queue.tail;
		} else if (c && !call_ended(c)) {
			c->vm->any_load++;
			any_index_update(c->vm);
			call_set_state(a, c->state, c->detail);
		} else if (c) {
			/* Its VM's call ended; the journal missed the
			 * .any call's end. */
			call_set_state(a, c->state, c->detail);
			a->code = c->code;
			call_ended_now(a);
		} else {
			call_set_state(a, CALL_FAILED,
				       "recovered without its words");
			call_ended_now(a);
		}
	}
}

void
any_run_again(struct call *a, const char *outcome)
{
	struct cluster *fs = a->vm->fs;
	g_autofree char *detail = NULL;

	g_clear_pointer(&a->where, g_free);
	if (!a->retries || fs->stopping || !a->argv) {
		detail = g_strdup_printf("%s (no retries left)", outcome);
		g_message(".any/%u: %s", a->id, detail);
		call_set_state(a, CALL_FAILED, detail);
		call_ended_now(a);
		return;
	}
	a->retries--;
	detail = g_strdup_printf("%s; queued to run again", outcome);
	g_message(".any/%u: %s", a->id, detail);
	call_set_state(a, CALL_QUEUED, detail);
	/* First in line: it has waited longest. */
	g_queue_push_head(&fs->any_queue, a);
	a->queued = fs->any_queue.head;
	cluster_emit(fs, CL_CALL_CHANGED, NULL, a->vm, a, NULL);
	any_kick(fs);
}

gboolean
any_cancel_queued(struct call *a)
{
	if (!a->queued)
		return FALSE;
	g_queue_delete_link(&a->vm->fs->any_queue, a->queued);
	a->queued = NULL;
	g_clear_pointer(&a->argv, g_strfreev);
	call_set_state(a, CALL_CANCELLED, NULL);
	call_ended_now(a);
	return TRUE;
}
