/*
 * source_static.c - the VMs the command line names: NODE arguments and
 * host files (one SSH host per [USER@]HOST:PORT, however many VMs are
 * named on it), and -o local=N (one trickle-node here, over pipes).
 * Its hosts stay, listed as down if their node goes.
 */
#include "cluster.h"
#include "nodespec.h"

#include <string.h>

struct static_source {
	struct member_source src;
	GHashTable *by_where;	/* "user@host:port" -> struct host * */
	GHashTable *named;	/* names given with NAME= */
};

static void
static_stop(struct member_source *src)
{
	struct static_source *s = (struct static_source *)src;

	g_clear_pointer(&s->by_where, g_hash_table_unref);
	g_clear_pointer(&s->named, g_hash_table_unref);
}

static const struct member_source_ops static_ops = {
	.name = "command line",
	.stop = static_stop,
};

struct member_source *
source_static_new(struct cluster *cl)
{
	struct static_source *s = g_new0(struct static_source, 1);

	s->src.ops = &static_ops;
	s->src.cl = cl;
	s->src.started = TRUE;	/* its hosts start with the cluster */
	s->by_where = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					    NULL);
	s->named = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					 NULL);
	return &s->src;
}

static void
publish(struct cluster *cl, struct vm *vm)
{
	vm->slot = cl->vms->len;
	g_ptr_array_add(cl->vms, vm);
}

gboolean
source_static_add(struct member_source *src, const char *word,
		  GError **error)
{
	struct static_source *s = (struct static_source *)src;
	struct cluster *cl = src->cl;
	g_autofree char *where = NULL, *name = NULL;
	struct nodespec ns;
	struct host *h;

	if (!nodespec_parse(word, &ns, error))
		return FALSE;
	if (ns.name && g_hash_table_contains(s->named, ns.name)) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "two VMs named \"%s\"", ns.name);
		nodespec_clear(&ns);
		return FALSE;
	}
	where = nodespec_where(&ns);
	if (!(h = g_hash_table_lookup(s->by_where, where))) {
		h = cluster_add_ssh_host(cl, &ns, src);
		g_hash_table_insert(s->by_where, g_strdup(where), h);
	}
	name = members_unique_name(cl, ns.name ? ns.name : ns.host);
	publish(cl, vm_new(cl, h, name));
	if (ns.name)
		g_hash_table_add(s->named, g_strdup(ns.name));
	nodespec_clear(&ns);
	return TRUE;
}

void
source_static_add_local(struct member_source *src, guint n,
			const char *command)
{
	struct cluster *cl = src->cl;
	struct link_spec spec = { .kind = LINK_LOCAL, .command = command };
	struct host *h;
	guint i;

	if (n == 0)
		return;
	h = cluster_add_host(cl, "local", &spec, src);
	for (i = 0; i < n; i++) {
		g_autofree char *base = g_strdup_printf("local%u", i);
		g_autofree char *name = members_unique_name(cl, base);

		publish(cl, vm_new(cl, h, name));
	}
}
