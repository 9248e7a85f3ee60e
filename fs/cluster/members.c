/*
 * members.c - the live set of VMs: hosts that join while mounted (.ctl
 * connect, discovery), VMs drained and removed (.ctl disconnect, a node
 * saying goodbye or going quiet).
 *
 * A host that joins shows its VMs only once its node has answered over
 * SSH (host key checked, as for any node): until then it is nobody's
 * business, and a beacon or spec that leads nowhere never shows up in ls.
 * A VM that leaves takes no new calls; once every call it had has ended,
 * it goes from the tree, and when its host has no VM left the node is
 * told to shut down.
 *
 * A VM's struct outlives its directory: inode numbers carry its slot,
 * and requests in flight, transfers and .any calls point at it, so it is
 * only marked gone, never freed before unmount.
 */
#include "cluster.h"
#include "nodespec.h"

#include <errno.h>
#include <string.h>

/* Someone waiting to hear whether a joining host came up. */
struct join_wait {
	members_joined_fn done;
	void *data;
};

/* A VM not gone holds its name, joining or listed: counted here. */
void
members_name_hold(struct vm *vm)
{
	struct cluster *fs = vm->fs;

	if (!fs->names_held)
		fs->names_held = g_hash_table_new_full(g_str_hash, g_str_equal,
						       g_free, NULL);
	g_hash_table_insert(fs->names_held, g_strdup(vm->name),
		GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(
			fs->names_held, vm->name)) + 1));
	vm->holds_name = TRUE;
}

void
vm_set_gone(struct vm *vm)
{
	GHashTable *held = vm->fs->names_held;
	guint n;

	vm->gone = TRUE;
	if (!vm->holds_name)
		return;
	vm->holds_name = FALSE;
	n = GPOINTER_TO_UINT(g_hash_table_lookup(held, vm->name));
	if (n > 1)
		g_hash_table_insert(held, g_strdup(vm->name),
				    GUINT_TO_POINTER(n - 1));
	else
		g_hash_table_remove(held, vm->name);
}


gboolean
members_name_taken(struct cluster *fs, const char *name)
{
	return fs->names_held &&
	       g_hash_table_contains(fs->names_held, name);
}

char *
members_unique_name(struct cluster *fs, const char *base)
{
	char *name = g_strdup(base);
	guint n = 1;

	while (members_name_taken(fs, name)) {
		g_free(name);
		name = g_strdup_printf("%s-%u", base, ++n);
	}
	return name;
}

/* Give vm a slot and a directory. */
static void
publish(struct cluster *fs, struct vm *vm)
{
	vm->slot = fs->vms->len;
	g_ptr_array_add(fs->vms, vm);
}

static gboolean
join_expired(gpointer data)
{
	struct host *h = data;

	h->join_timer = 0;
	if (h->joining) {
		host_set_error(h, ETIMEDOUT, "no WELCOME from the node in "
			       "time");
		host_fail(h, "no WELCOME from the node in time");
	}
	return G_SOURCE_REMOVE;
}

void
members_add(struct cluster *fs, struct host *h, const char *base, guint nvms,
	    members_joined_fn done, void *data)
{
	guint i;

	h->joining = TRUE;
	h->transient = h->source != NULL;
	/* One VM is named as the node; several as name.0, name.1, ... */
	for (i = 0; i < MAX(nvms, 1); i++) {
		g_autofree char *each = nvms > 1
			? g_strdup_printf("%s.%u", base, i) : g_strdup(base);
		g_autofree char *name = members_unique_name(fs, each);

		vm_new(fs, h, name);
	}
	if (done) {
		struct join_wait *w = g_new(struct join_wait, 1);

		w->done = done;
		w->data = data;
		h->join_waits = g_list_append(h->join_waits, w);
	}
	g_message("%s: connecting (%s)", h->label,
		  h->source ? h->source->ops->name : "connect");
	host_start(h);
	/* The link bounds its own set-up; the node's WELCOME after it is
	 * bounded here, so no one waits on a joining host for ever. */
	if (h->joining)
		h->join_timer = g_timeout_add_seconds(
			fs->opt.connect_timeout + fs->opt.reply_timeout,
			join_expired, h);
}

struct host *
members_connect(struct cluster *fs, const struct nodespec *ns, guint nvms,
		struct member_source *src, members_joined_fn done,
		void *data)
{
	struct host *h = cluster_add_ssh_host(fs, ns, src);

	members_add(fs, h, ns->name ? ns->name : ns->host, nvms, done, data);
	return h;
}

static void
tell_waiters(struct host *h, const char *error)
{
	GList *ws = g_steal_pointer(&h->join_waits), *l;

	for (l = ws; l; l = l->next) {
		struct join_wait *w = l->data;

		w->done(w->data, h, error);
		g_free(w);
	}
	g_list_free(ws);
}

static void
host_up(struct host *h)
{
	struct cluster *fs = h->fs;
	guint i;

	if (!h->joining)
		return;
	h->joining = FALSE;
	if (h->join_timer)
		g_source_remove(h->join_timer);
	h->join_timer = 0;
	for (i = 0; i < h->vms->len; i++) {
		struct vm *vm = h->vms->pdata[i];

		publish(fs, vm);
		g_message("%s: joined (on %s)", vm->name, h->label);
		cluster_emit(fs, CL_VM_JOINED, h, vm, NULL, NULL);
	}
	tell_waiters(h, NULL);
}

/* Is anything still using vm: a call not ended or being read, a
 * transfer? */
static gboolean
vm_busy(struct vm *vm)
{
	GHashTableIter it;
	gpointer val;

	g_hash_table_iter_init(&it, vm->calls);
	while (g_hash_table_iter_next(&it, NULL, &val)) {
		struct call *c = val;

		if (!call_ended(c) || call_held(c))
			return TRUE;
	}
	g_hash_table_iter_init(&it, vm->injected_ids);
	while (g_hash_table_iter_next(&it, NULL, &val))
		if (((struct injected *)val)->writers)
			return TRUE;
	return FALSE;
}

/* Does a .any call still show output kept on vm's node? */
static gboolean
any_output_kept(struct vm *vm)
{
	GHashTableIter it;
	gpointer val;

	g_hash_table_iter_init(&it, vm->calls);
	while (g_hash_table_iter_next(&it, NULL, &val)) {
		const struct call *c = val;

		/* A small result kept here, and no stderr: all of its
		 * output is at the mount, the node need not stay for it. */
		if (c->any && !(call_ended(c) && c->result && !c->err_size))
			return TRUE;
	}
	return FALSE;
}

/* Once its VMs are gone, and .any has forgotten the calls they ran (their
 * output lives on the node), end the node. */
static void
host_leave(struct host *h)
{
	guint i;

	for (i = 0; i < h->vms->len; i++)
		if (!((struct vm *)h->vms->pdata[i])->gone)
			return;
	h->leaving = TRUE;
	for (i = 0; i < h->vms->len; i++)
		if (any_output_kept(h->vms->pdata[i]))
			return;
	if (h->link && !h->ending) {
		g_message("%s: no VM left, ending its node", h->label);
		host_shutdown(h);
	}
}

/* A drained VM with nothing left to do goes; its host with its last. */
static void
check_gone(struct vm *vm)
{
	if (vm->gone || !vm->draining || vm_busy(vm))
		return;
	vm_set_gone(vm);
	g_message("%s: left", vm->name);
	host_leave(vm->host);
	cluster_emit(vm->fs, CL_VM_LEFT, vm->host, vm, NULL, vm->detail);
}

void
members_drain(struct vm *vm, const char *why)
{
	if (!vm->host || vm->gone || vm->draining)
		return;
	vm->draining = TRUE;
	g_free(vm->detail);
	vm->detail = g_strdup(why);
	g_message("%s: draining: %s", vm->name, why);
	vm_fail_waiting_stdin(vm, "VM leaving: takes no new calls");
	check_gone(vm);
	/* .any sends it no more (anyindex.c hears it so). */
	cluster_emit(vm->fs, CL_VM_CHANGED, vm->host, vm, NULL, NULL);
}

void
members_disconnect(struct vm *vm)
{
	struct member_source *src = vm->host->source;

	if (src && src->ops->let_go)
		src->ops->let_go(src, vm->host);
	members_drain(vm, "disconnect");
}

static void
host_down(struct host *h)
{
	guint i;

	if (h->joining) {
		/* Never came up: it leaves no trace but the log. */
		h->joining = FALSE;
		if (h->join_timer)
			g_source_remove(h->join_timer);
		h->join_timer = 0;
		h->leaving = TRUE;
		for (i = 0; i < h->vms->len; i++)
			vm_set_gone(h->vms->pdata[i]);
		tell_waiters(h, h->down_reason);
		if (h->source && h->source->ops->failed)
			h->source->ops->failed(h->source, h);
		return;
	}
	/* Nodes found by discovery come and go; those named on the command
	 * line stay listed as down, for the user to see. */
	if (!h->transient)
		return;
	for (i = 0; i < h->vms->len; i++)
		members_drain(h->vms->pdata[i], h->down_reason);
}

/* The node of a discovered host said goodbye or went quiet. */
void
members_host_leaves(struct host *h, const char *why)
{
	guint i;

	if (h->joining || h->leaving)
		return;
	for (i = 0; i < h->vms->len; i++)
		members_drain(h->vms->pdata[i], why);
}

static const char *
state_word(const struct vm *vm)
{
	if (vm->draining)
		return "draining";
	if (vm->host->state == HOST_RECONNECTING)
		return "unreachable";	/* info says more */
	return wire_vm_state_name(vm->state);
}

/* The node's cores: clients of the node, and slots running our calls of
 * its budget ("-" while not known or not shared). */
static void
share_columns(GString *s, const struct host_share *sh)
{
	if (sh->known && sh->shared)
		g_string_append_printf(s, " %u %u/%u\n", sh->clients,
				       sh->held, sh->budget);
	else
		g_string_append_printf(s, " %u %s\n", sh->known ? 1 : 0,
				       sh->known ? "unshared" : "-");
}

char *
members_text(struct cluster *fs)
{
	GString *s = g_string_new(NULL);
	guint i;

	for (i = 0; i < fs->vms->len; i++) {
		struct vm *vm = fs->vms->pdata[i];
		guint queued = 0, running = 0;
		GHashTableIter it;
		gpointer val;

		if (vm->gone)
			continue;
		g_hash_table_iter_init(&it, vm->calls);
		while (g_hash_table_iter_next(&it, NULL, &val)) {
			guint st = ((struct call *)val)->state;
			queued += st == CALL_QUEUED;
			running += st == CALL_RUNNING;
		}
		g_string_append_printf(s, "%s %s %s %u %u %u %u", vm->name,
				       vm->host->label, state_word(vm),
				       queued, running,
				       vm->ended[CALL_DONE],
				       vm->ended[CALL_FAILED]);
		share_columns(s, &vm->host->share);
	}
	if (fs->slurm_src && fs->slurm_src->ops->describe)
		fs->slurm_src->ops->describe(fs->slurm_src, s);
	return g_string_free(s, FALSE);
}

static void
on_event(void *data, const struct cluster_event *ev)
{
	switch (ev->type) {
	case CL_HOST_UP:
		host_up(ev->host);
		break;
	case CL_HOST_DOWN:
		host_down(ev->host);
		break;
	case CL_CALL_ENDED:
	case CL_VM_CHANGED:
		/* Something of a VM ended or was let go: a draining VM may
		 * go, a leaving node end. */
		if (ev->vm && ev->vm->draining)
			check_gone(ev->vm);
		if (ev->host && ev->host->leaving && ev->host->link)
			host_leave(ev->host);
		break;
	default:
		break;
	}
}

void
members_init(struct cluster *cl)
{
	cluster_listen(cl, on_event, cl);
}
