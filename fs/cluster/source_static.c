/*
 * source_static.c - the VMs the command line names: NODE arguments and
 * host files (one SSH host per [USER@]HOST:PORT, however many VMs are
 * named on it; a node set names several hosts, N/ or vms_per_node several
 * VMs on each), and -o local=N (one trickle-node here, over pipes).
 * Its hosts stay, listed as down if their node goes.
 */
#include "cluster.h"
#include "nodespec.h"

#include <string.h>

/* VMs the command line may name in all: far below what inode numbers
 * can carry (a 24-bit slot), and a few hundred MB of state. */
#define STATIC_MAX_VMS (1u << 18)

struct static_source {
	struct member_source src;
	GHashTable *by_where;	/* "user@host:port" -> struct host * */
	GHashTable *named;	/* names given with NAME= */
	GHashTable *names;	/* every VM name given out here */
	GHashTable *next_suffix;/* base -> next n to try for "base-n" */
};

static void
static_stop(struct member_source *src)
{
	struct static_source *s = (struct static_source *)src;

	g_clear_pointer(&s->by_where, g_hash_table_unref);
	g_clear_pointer(&s->named, g_hash_table_unref);
	g_clear_pointer(&s->names, g_hash_table_unref);
	g_clear_pointer(&s->next_suffix, g_hash_table_unref);
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
	s->names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					 NULL);
	s->next_suffix = g_hash_table_new_full(g_str_hash, g_str_equal,
					       g_free, NULL);
	return &s->src;
}

/*
 * base, or base-2, base-3 ... if taken: as members_unique_name(), but in
 * constant time per name (every VM made while parsing the command line is
 * named here), so a set of thousands of nodes is not quadratic.
 */
static char *
unique_name(struct static_source *s, const char *base)
{
	guint n;
	char *name;

	if (!g_hash_table_contains(s->names, base)) {
		g_hash_table_add(s->names, g_strdup(base));
		return g_strdup(base);
	}
	n = GPOINTER_TO_UINT(g_hash_table_lookup(s->next_suffix, base));
	for (n = MAX(n, 2);; n++) {
		name = g_strdup_printf("%s-%u", base, n);
		if (!g_hash_table_contains(s->names, name))
			break;
		g_free(name);
	}
	g_hash_table_insert(s->next_suffix, g_strdup(base),
			    GUINT_TO_POINTER(n + 1));
	g_hash_table_add(s->names, g_strdup(name));
	return name;
}

static void
publish(struct cluster *cl, struct vm *vm)
{
	vm->slot = cl->vms->len;
	g_ptr_array_add(cl->vms, vm);
}

/* The VMs of one node: n of them, named base (one) or base.0 ...
 * base.N-1. */
static gboolean
add_spec(struct static_source *s, const struct nodespec *ns, GError **error)
{
	struct cluster *cl = s->src.cl;
	g_autofree char *where = NULL;
	const char *base = ns->name ? ns->name : ns->host;
	guint i, n = nodespec_vms(ns, cl->opt.vms_per_node);
	struct host *h;

	if (ns->name && g_hash_table_contains(s->named, ns->name)) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "two VMs named \"%s\"", ns->name);
		return FALSE;
	}
	if (cl->vms->len + n > STATIC_MAX_VMS) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "more than %u VMs named on the command line",
			    STATIC_MAX_VMS);
		return FALSE;
	}
	where = nodespec_where(ns);
	h = g_hash_table_lookup(s->by_where, where);
	if ((h ? h->vms->len : 0) + n > NODE_MAX_VMS) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "%s: %u VMs on one node, more than trickle-node "
			    "holds (%u)", where, (h ? h->vms->len : 0) + n,
			    NODE_MAX_VMS);
		return FALSE;
	}
	if (!h) {
		h = cluster_add_ssh_host(cl, ns, &s->src);
		g_hash_table_insert(s->by_where, g_strdup(where), h);
	}
	for (i = 0; i < n; i++) {
		g_autofree char *each = n > 1
			? g_strdup_printf("%s.%u", base, i) : g_strdup(base);
		g_autofree char *name = unique_name(s, each);

		publish(cl, vm_new(cl, h, name));
	}
	if (ns->name)
		g_hash_table_add(s->named, g_strdup(ns->name));
	return TRUE;
}

gboolean
source_static_add(struct member_source *src, const char *word,
		  GError **error)
{
	struct static_source *s = (struct static_source *)src;
	g_autoptr(GPtrArray) specs = g_ptr_array_new_with_free_func(
		(GDestroyNotify)nodespec_free);
	guint i;

	if (!nodespec_parse_set(word, 0, specs, error))
		return FALSE;
	for (i = 0; i < specs->len; i++)
		if (!add_spec(s, specs->pdata[i], error))
			return FALSE;
	return TRUE;
}

void
source_static_add_local(struct member_source *src, guint n,
			const char *command)
{
	struct static_source *s = (struct static_source *)src;
	struct cluster *cl = src->cl;
	struct link_spec spec = { .kind = LINK_LOCAL, .command = command };
	struct host *h;
	guint i;

	if (n == 0)
		return;
	h = cluster_add_host(cl, "local", &spec, src);
	for (i = 0; i < n; i++) {
		g_autofree char *base = g_strdup_printf("local%u", i);
		g_autofree char *name = unique_name(s, base);

		publish(cl, vm_new(cl, h, name));
	}
}
