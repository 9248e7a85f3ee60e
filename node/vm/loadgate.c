/*
 * loadgate.c - a shared object installed into running workers (an
 * .all/inject/ to the VMs of a node) is loaded a few workers at a time.
 *
 * Each worker's dlopen() takes a millisecond or two of CPU.  Sent to a
 * thousand workers at once, a thousand processes wake and run together,
 * and the supervisor and the mount, which still have the install's
 * answer and its FUNCS frames to get through, get a thousandth of the
 * CPU each: the cp waited for every worker's load.  So the loads owed
 * are sent LOADS_AT_ONCE per CPU at a time, the next when a worker says
 * it has loaded (W_LOADED with LOADGATE_TAG).  The total work is the
 * same; the rest of the node and the mount keep their share meanwhile.
 *
 * Order is kept: any other frame to a worker (a call) first sends the
 * loads that worker is owed, so a call never runs before the code it
 * may need.  A worker that ends owes nothing (the next one loads every
 * library as it starts).
 */
#include "vm_priv.h"

#define LOADS_AT_ONCE 4		/* per CPU */
#define LOADGATE_TAG 1		/* W_LOAD/W_LOADED of a paced load */

static GQueue waiting;		/* struct vmnode * owed loads, in order */
static guint in_flight;		/* paced loads sent, not yet answered */

static guint
at_once(void)
{
	return LOADS_AT_ONCE * MAX(1, g_get_num_processors());
}

static void
send_owed(struct vmnode *vm)
{
	g_autoptr(GPtrArray) paths = g_steal_pointer(&vm->owed_loads);
	guint i;

	if (vm->gate_queued) {
		g_queue_remove(&waiting, vm);
		vm->gate_queued = FALSE;
	}
	for (i = 0; paths && i < paths->len; i++) {
		vm->gate_loading++;
		in_flight++;
		vmnode_to_worker(vm, WIRE_W_LOAD, LOADGATE_TAG,
				 g_variant_new_string(paths->pdata[i]));
	}
}

static void
pump(void)
{
	while (in_flight < at_once() && !g_queue_is_empty(&waiting))
		send_owed(g_queue_peek_head(&waiting));
}

void
loadgate_owe(struct vmnode *vm, const char *path)
{
	if (!vm->owed_loads)
		vm->owed_loads = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(vm->owed_loads, g_strdup(path));
	if (!vm->gate_queued) {
		g_queue_push_tail(&waiting, vm);
		vm->gate_queued = TRUE;
	}
	pump();
}

void
loadgate_flush(struct vmnode *vm)
{
	if (vm->owed_loads)
		send_owed(vm);
}

void
loadgate_loaded(struct vmnode *vm, guint32 tag)
{
	if (tag != LOADGATE_TAG || !vm->gate_loading)
		return;
	vm->gate_loading--;
	in_flight--;
	pump();
}

void
loadgate_forget(struct vmnode *vm)
{
	g_clear_pointer(&vm->owed_loads, g_ptr_array_unref);
	if (vm->gate_queued) {
		g_queue_remove(&waiting, vm);
		vm->gate_queued = FALSE;
	}
	in_flight -= vm->gate_loading;
	vm->gate_loading = 0;
	pump();
}
