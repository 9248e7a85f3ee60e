/*
 * cluster.c - the cluster as a whole: it makes hosts (here only, whatever
 * source the node comes from), turns what their nodes say into the model
 * (struct host_events), and starts and ends the parts that act on the
 * model's news (.any, membership, the spool) and the membership sources.
 */
#include "cluster.h"
#include "ckpt.h"
#include "nodespec.h"

#include <string.h>

static void
on_up(struct host *h)
{
	cluster_emit(h->fs, CL_HOST_UP, h, NULL, NULL, NULL);
}

static void
on_down(struct host *h, const char *why)
{
	guint i;

	for (i = 0; i < h->vms->len; i++)
		vm_down(h->vms->pdata[i], why);
	cluster_emit(h->fs, CL_HOST_DOWN, h, NULL, NULL, why);
}

static void
on_unreachable(struct host *h, const char *why)
{
	cluster_emit(h->fs, CL_HOST_UNREACHABLE, h, NULL, NULL, why);
}

/* The node told all it knows: calls sent before the link was lost that it
 * does not know are lost (their process died, or they never arrived);
 * calls forked meanwhile go now. */
static void
on_synced(struct host *h, gboolean resumed, gboolean back)
{
	g_autofree char *why = g_strdup_printf("with node %s (%s%s)", h->label,
		h->down_reason ? h->down_reason : "link lost",
		resumed ? "" : "; the node had lost the session");
	guint i;

	for (i = 0; i < h->vms->len; i++) {
		struct vm *vm = h->vms->pdata[i];

		if (back && !resumed)
			vm_forget_injected(vm);
		if (back)
			vm_lose_calls(vm, why, TRUE);
		vm_send_waiting(vm);
		/* What .all/inject/ installed while it was away, or what a
		 * session started anew lost. */
		if (back && vm_open(vm))
			spool_replay(vm);
	}
}

static void
on_lease_over(struct host *h, const char *why)
{
	guint i;

	for (i = 0; i < h->vms->len; i++)
		vm_lose_calls(h->vms->pdata[i], why, FALSE);
	/* Joins waiting for its output give up too. */
	cluster_emit(h->fs, CL_HOST_UNREACHABLE, h, NULL, NULL, why);
}

static void
on_drained(struct host *h)
{
	cluster_emit(h->fs, CL_HOST_DRAINED, h, NULL, NULL, NULL);
}

static void
on_vm_state(struct host *h, struct vm *vm, guint state, guint32 pid,
	    const char *detail)
{
	vm->state = state;
	vm->pid = pid;
	g_free(vm->detail);
	vm->detail = g_strdup(detail);
	if (state == VM_RESTARTING)
		g_message("%s: VM restarting after %s", vm->name, detail);
	cluster_emit(h->fs, CL_VM_CHANGED, h, vm, NULL, NULL);
}

static void
on_call_state(struct host *h, struct vm *vm, guint32 id, guint state,
	      const char *detail, int code, guint64 out, guint64 err)
{
	vm_call_state(vm, id, state, detail, code, out, err);
}

static void
on_funcs(struct host *h, struct vm *vm, GVariant *funcs)
{
	vm_set_funcs(vm, funcs);
	cluster_emit(h->fs, CL_VM_CHANGED, h, vm, NULL, NULL);
}

static void
on_objects(struct host *h, struct vm *vm, GVariant *objects)
{
	vm_set_objects(vm, objects);
}

static void
on_share(struct host *h)
{
	cluster_emit(h->fs, CL_HOST_SHARE, h, NULL, NULL, NULL);
}

static void
on_result(struct host *h, struct vm *vm, guint32 id, const guint8 *bytes,
	  gsize len)
{
	vm_call_result(vm, id, bytes, len);
}

static const struct host_events model_events = {
	.up = on_up,
	.down = on_down,
	.unreachable = on_unreachable,
	.synced = on_synced,
	.lease_over = on_lease_over,
	.drained = on_drained,
	.vm_state = on_vm_state,
	.call_state = on_call_state,
	.funcs = on_funcs,
	.objects = on_objects,
	.result = on_result,
	.share = on_share,
};

struct host *
cluster_add_host(struct cluster *cl, const char *label,
		 const struct link_spec *spec, struct member_source *src)
{
	struct host *h = host_new(cl, label, spec, &model_events);

	h->source = src;
	g_ptr_array_add(cl->hosts, h);
	journal_host(h);
	return h;
}

void
cluster_release_state(struct cluster *cl)
{
	feed_cancel_all(cl);
	ckpt_cleanup(cl);
	spool_cleanup(cl);
	journal_close(g_steal_pointer(&cl->journal), !cl->keep_sessions);
}

gboolean
cluster_recover(struct cluster *cl, GError **error)
{
	guint i;

	if (!journal_open(cl, cl->opt.state_dir, error))
		return FALSE;
	/* The session ids now in use, recovered or new. */
	for (i = 0; i < cl->hosts->len; i++)
		journal_host(cl->hosts->pdata[i]);
	callin_restore(cl);
	any_restore(cl);
	return TRUE;
}

struct cluster *
cluster_new(void)
{
	struct cluster *cl = g_new0(struct cluster, 1);

	cl->hosts = g_ptr_array_new();
	cl->vms = g_ptr_array_new();
	g_queue_init(&cl->any_queue);
	cl->static_src = source_static_new(cl);
	return cl;
}

void
cluster_setup(struct cluster *cl)
{
	cl->all = vm_new(cl, NULL, ".all");
	cl->all->slot = ALL_SLOT;
	cl->any = vm_new(cl, NULL, ".any");
	cl->any->slot = ANY_SLOT;
	/* The order they hear news in: .any mirrors a VM's call into its
	 * .any call before membership looks at what is left. */
	any_init(cl);
	members_init(cl);
	spool_init(cl);
	ckpt_init(cl);
}

gboolean
cluster_discover(struct cluster *cl, GError **error)
{
	struct member_source *src = cl->discover_src;

	if (!src)
		src = cl->discover_src = source_discover_new(cl);
	if (!src->started) {
		if (!src->ops->start(src, error))
			return FALSE;
		src->started = TRUE;
	}
	if (src->ops->probe)
		src->ops->probe(src);
	return TRUE;
}

gboolean
cluster_start(struct cluster *cl, GError **error)
{
	guint i;

	for (i = 0; i < cl->hosts->len; i++)
		host_start(cl->hosts->pdata[i]);
	if (cl->opt.slurm || cl->opt.slurm_jobs) {
		cl->slurm_src = source_slurm_new(cl);
		if (!cl->slurm_src->ops->start(cl->slurm_src, error))
			return FALSE;
		cl->slurm_src->started = TRUE;
	}
	return !cl->opt.discover || cluster_discover(cl, error);
}

static void
stop_source(struct member_source *src)
{
	if (src && src->started && src->ops->stop)
		src->ops->stop(src);
	if (src)
		src->started = FALSE;
}

void
cluster_shutdown(struct cluster *cl)
{
	guint i;

	cl->stopping = TRUE;
	stop_source(cl->discover_src);	/* no node joins from here on */
	stop_source(cl->slurm_src);	/* and no job is left to Slurm */
	for (i = 0; i < cl->hosts->len; i++)
		host_shutdown(cl->hosts->pdata[i]);
}

gboolean
cluster_ready(struct cluster *cl)
{
	guint i;

	for (i = 0; i < cl->hosts->len; i++)
		if (((struct host *)cl->hosts->pdata[i])->state ==
		    HOST_CONNECTING)
			return FALSE;
	return TRUE;
}

gboolean
cluster_rest_silent(struct cluster *cl)
{
	guint i;

	for (i = 0; i < cl->hosts->len; i++) {
		struct host *h = cl->hosts->pdata[i];

		if (h->state == HOST_CONNECTING && h->link &&
		    h->link->answered)
			return FALSE;
	}
	return TRUE;
}

gboolean
cluster_gone(struct cluster *cl)
{
	guint i;

	for (i = 0; i < cl->hosts->len; i++) {
		struct host *h = cl->hosts->pdata[i];

		/* A node keeping its session (-o keep) keeps its link open
		 * too: nothing to wait for. */
		if (h->link && !(cl->keep_sessions && h->ending))
			return FALSE;
	}
	return TRUE;
}

guint
cluster_vms_up(struct cluster *cl)
{
	guint i, up = 0;

	for (i = 0; i < cl->vms->len; i++) {
		struct vm *vm = cl->vms->pdata[i];

		if (vm_listed(vm) && vm->host->state == HOST_UP)
			up++;
	}
	return up;
}

/*
 * By name in O(1): VMs only join cl->vms (a VM that leaves stays there,
 * gone), so the names are indexed as they come, the last VM to take a
 * name holding it; a name is given again only once its VM is gone.
 */
struct vm *
cluster_vm_named(struct cluster *cl, const char *name)
{
	struct vm *vm;

	if (!cl->vm_names)
		cl->vm_names = g_hash_table_new(g_str_hash, g_str_equal);
	for (; cl->vm_names_seen < cl->vms->len; cl->vm_names_seen++) {
		vm = cl->vms->pdata[cl->vm_names_seen];
		if (vm->host && vm_listed(vm))
			g_hash_table_replace(cl->vm_names, vm->name, vm);
	}
	vm = g_hash_table_lookup(cl->vm_names, name);
	return vm && vm_listed(vm) ? vm : NULL;
}

void
member_source_free(struct member_source *src)
{
	if (!src)
		return;
	stop_source(src);
	if (src->ops->destroy)
		src->ops->destroy(src);
	else
		g_free(src);
}

void
cluster_free(struct cluster *cl)
{
	struct cluster_options *o = &cl->opt;
	guint i, j;

	cl->stopping = TRUE;
	cluster_release_state(cl);
	for (i = 0; i < cl->hosts->len; i++) {
		struct host *h = cl->hosts->pdata[i];
		g_autoptr(GPtrArray) vms = g_ptr_array_ref(h->vms);

		host_free(h);
		for (j = 0; j < vms->len; j++)
			vm_free(vms->pdata[j]);
	}
	g_ptr_array_unref(cl->hosts);
	g_clear_pointer(&cl->fills, g_hash_table_unref);
	while (!g_queue_is_empty(&cl->any_queue))
		((struct call *)g_queue_pop_head(&cl->any_queue))->queued =
			NULL;
	if (cl->all)
		vm_free(cl->all);
	if (cl->any)
		vm_free(cl->any);
	g_ptr_array_unref(cl->vms);
	g_clear_pointer(&cl->vm_names, g_hash_table_unref);
	g_clear_pointer(&cl->names_held, g_hash_table_unref);
	any_index_free(cl);
	member_source_free(cl->discover_src);
	member_source_free(cl->slurm_src);
	member_source_free(cl->static_src);
	g_free(o->slurm_args);
	g_free(o->slurm_addr);
	g_free(o->slurm_link);
	g_clear_pointer(&cl->listeners, g_array_unref);
	g_free(o->discover_group);
	g_free(o->discover_user);
	g_free(o->allow_text);
	g_free(o->allow_users);
	g_strfreev(o->allow);
	g_free(o->identity);
	g_free(o->known_hosts);
	g_free(o->node_command);
	g_free(o->ssh_config);
	g_free(o->ssh_command);
	g_free(o->proxy_jump);
	g_free(o->hostfile);
	g_free(o->logfile);
	g_free(o->state_dir);
	g_free(o->name);
	g_free(cl);
}
