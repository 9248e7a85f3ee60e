/*
 * sharing.c - the session's part in its node's share of cores
 * (node/share): the VMs' slot callbacks of struct vmhost, the client's
 * WIRE_SHARE news, the lines of WIRE_INFO, and whether our mount is gone.
 * The share is joined when a VM first wants a slot.
 */
#include "supervisor.h"
#include "share.h"

static void
on_granted(void *data, guint unit)
{
	struct node *n = data;

	if (unit < n->vms->len)
		vmnode_slot_granted(n->vms->pdata[unit]);
}

static void
on_changed(void *data)
{
	node_share_send(data, 0);
}

static const struct share_callbacks share_cb = {
	.granted = on_granted,
	.changed = on_changed,
};

static struct share *
share_of(struct node *n)
{
	if (!n->share) {
		n->share = share_open(n->share_spec, n->self, &share_cb, n);
		share_orphan(n->share, !n->io);
	}
	return n->share;
}

static gboolean
slot_take(void *data, guint vm)
{
	return share_take(share_of(data), vm);
}

static gboolean
slot_give(void *data, guint vm, gboolean more)
{
	return share_give(share_of(data), vm, more);
}

static void
slot_drop(void *data, guint vm)
{
	struct node *n = data;

	if (n->share)
		share_drop(n->share, vm);
}

static char *
slot_why(void *data)
{
	struct share_state st;

	share_get(share_of(data), &st);
	if (!st.budget)
		return g_strdup("waiting for a core");
	if (st.clients > 1)
		return g_strdup_printf("waiting for a core (%u other client%s "
				       "on this node)", st.clients - 1,
				       st.clients > 2 ? "s" : "");
	return g_strdup_printf("waiting for a core (all %u of the node's "
			       "run this mount's calls)", st.budget);
}

void
node_share_init(struct node *n)
{
	n->host.slot_take = slot_take;
	n->host.slot_give = slot_give;
	n->host.slot_drop = slot_drop;
	n->host.slot_why = slot_why;
}

void
node_share_send(struct node *n, guint32 tag)
{
	struct share_state st;

	if (!n->share)
		return;
	share_get(n->share, &st);
	node_send(n, WIRE_SHARE, 0, tag,
		  g_variant_new("(buuuuu)", st.shared, st.clients, st.users,
				st.held, st.budget, st.waiting));
}

void
node_share_orphan(struct node *n, gboolean orphan)
{
	if (n->share)
		share_orphan(n->share, orphan);
}

void
node_share_info(struct node *n, GString *s)
{
	struct share_state st;

	if (!n->share) {
		g_string_append(s, "clients: 1\n");
		return;
	}
	share_get(n->share, &st);
	g_string_append_printf(s, "clients: %u\n", st.clients);
	if (st.shared)
		g_string_append_printf(s, "slots: %u of %u\n", st.held,
				       st.budget);
	else
		g_string_append_printf(s, "slots: %u (not shared)\n",
				       st.held);
	if (st.waiting)
		g_string_append_printf(s, "waiting for a core: %u VM%s\n",
				       st.waiting, st.waiting > 1 ? "s" : "");
}

void
node_share_free(struct node *n)
{
	g_clear_pointer(&n->share, share_free);
}
