/*
 * source_discover.c - -o discover, a membership source: nodes found by
 * the beacons of
 * `trickle-node --announce` (utils/discover.h), joining and leaving the
 * mount as they come and go.
 *
 * A beacon is a hint, never trust.  Before a node is even connected to,
 * one of the host key fingerprints its beacon names must be a key that
 * known_hosts holds for its address and port; then the SSH connection
 * checks the key the server really has, as for any node.  A beacon that
 * fails either never yields a VM.  What is refused is logged once per
 * (address, name), in a table that is capped like the candidate table
 * itself, so a flood of beacons costs bounded memory and log.
 */
#include "cluster.h"
#include "discover.h"
#include "nodespec.h"

#include <string.h>

#define REFUSED_MAX 1024
/* VMs a node's beacon may ask for by its cores, without vms_per_node. */
#define CORES_MAX 64
/* How often nodes in the table without a host are looked at again: one
 * that went down, or was refused for max=, may come (back) in. */
#define RESCAN_S 5
/* A node that could not be joined (SSH refused its key, say) is tried
 * again after this long, not at every rescan. */
#define RETRY_S 60

static char *
node_key(const char *address, const char *name)
{
	return g_strdup_printf("%s %s", address, name);
}

struct discover_source {
	struct member_source src;
	struct discover *discover;
	GHashTable *refused;		/* "address name" logged as refused */
	GHashTable *disconnected;	/* "address name" let go by .ctl */
	GHashTable *retry_at;		/* "address name" -> when a node that
					   could not be joined is tried again */
	guint timer;
};

/*
 * Does known_hosts hold, for address:port, a key with one of the
 * beacon's fingerprints (and not @revoked)?  The same reader as SSH's
 * check (transport.h).  why says what is wrong.
 */
static gboolean
known_hosts_vouch(struct cluster *fs, const char *address, guint port,
		  const struct beacon *b, char **why)
{
	g_autofree char *def = g_build_filename(g_get_home_dir(), ".ssh",
						"known_hosts", NULL);
	const char *file = fs->opt.known_hosts ? fs->opt.known_hosts : def;
	const char *fps[BEACON_MAX_FINGERPRINTS];
	guint i;

	for (i = 0; i < b->n_fingerprints && i < G_N_ELEMENTS(fps); i++)
		fps[i] = b->fingerprints[i];
	return knownhosts_vouch(file, address, port, fps, i, why);
}

/* Log a refusal once per (address, name). */
static void
refuse(struct discover_source *ds, const struct discover_node *n,
       const char *why)
{
	g_autofree char *key = node_key(n->address, n->hello.name);

	if (!ds->refused)
		ds->refused = g_hash_table_new_full(g_str_hash, g_str_equal,
						    g_free, NULL);
	if (g_hash_table_contains(ds->refused, key))
		return;
	if (g_hash_table_size(ds->refused) >= REFUSED_MAX)
		g_hash_table_remove_all(ds->refused);
	g_hash_table_add(ds->refused, g_steal_pointer(&key));
	g_warning("discover: not using %s at %s: %s", n->hello.name,
		  n->address, why);
}

/* The live host at address:port that a node announced as name (any
 * host there, discovered or named on the command line, if name is
 * NULL). */
static struct host *
host_at(struct cluster *fs, const char *address, guint port, const char *name)
{
	guint i;

	for (i = 0; i < fs->hosts->len; i++) {
		struct host *h = fs->hosts->pdata[i];

		if (h->spec.kind == LINK_SSH && !h->leaving &&
		    h->spec.ssh.host &&
		    strcmp(h->spec.ssh.host, address) == 0 &&
		    (guint)h->spec.ssh.port == port &&
		    (!name || g_strcmp0(h->beacon_name, name) == 0))
			return h;
	}
	return NULL;
}

/* Add key to a capped set (value: a time, or NULL). */
static void
set_add(GHashTable **set, char *key, gint64 when)
{
	if (!*set)
		*set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					     g_free);
	if (g_hash_table_size(*set) >= REFUSED_MAX)
		g_hash_table_remove_all(*set);
	g_hash_table_replace(*set, key, g_memdup2(&when, sizeof(when)));
}

static void
discover_failed(struct member_source *src, struct host *h)
{
	struct discover_source *ds = (struct discover_source *)src;

	if (!h->beacon_name)
		return;
	set_add(&ds->retry_at, node_key(h->spec.ssh.host, h->beacon_name),
		g_get_monotonic_time() + RETRY_S * G_USEC_PER_SEC);
}

static void
discover_let_go(struct member_source *src, struct host *h)
{
	struct discover_source *ds = (struct discover_source *)src;

	if (!h->beacon_name)
		return;
	set_add(&ds->disconnected, node_key(h->spec.ssh.host, h->beacon_name),
		0);
}

/* VMs in use or on their way, for -o max. */
static guint
vms_counted(struct cluster *fs)
{
	guint i, n = 0;

	for (i = 0; i < fs->vms->len; i++)
		n += vm_open(fs->vms->pdata[i]);
	for (i = 0; i < fs->hosts->len; i++) {
		struct host *h = fs->hosts->pdata[i];
		if (h->joining)
			n += h->vms->len;
	}
	return n;
}

static void
consider(struct discover_source *ds, const struct discover_node *n)
{
	struct cluster *fs = ds->src.cl;
	struct nodespec ns = { 0 };
	g_autofree char *why = NULL;
	struct host *h;
	guint nvms, have;

	g_autofree char *key = node_key(n->address, n->hello.name);

	gint64 *retry;

	/* One connection per sshd: a node already in use (by a NODE
	 * argument, or under another name it announced) is not joined
	 * again. */
	if (host_at(fs, n->address, n->hello.ssh_port, NULL) ||
	    (ds->disconnected && g_hash_table_contains(ds->disconnected, key)))
		return;
	if (ds->retry_at && (retry = g_hash_table_lookup(ds->retry_at, key))) {
		if (g_get_monotonic_time() < *retry)
			return;
		g_hash_table_remove(ds->retry_at, key);
	}
	if (!discover_match(n, (const char *const *)fs->opt.allow)) {
		refuse(ds, n, "not in allow=");
		return;
	}
	if (!known_hosts_vouch(fs, n->address, n->hello.ssh_port, &n->hello,
			       &why)) {
		refuse(ds, n, why);
		return;
	}
	nvms = fs->opt.vms_per_node ? (guint)fs->opt.vms_per_node
				    : MIN(n->hello.cores, CORES_MAX);
	if (fs->opt.max) {
		have = vms_counted(fs);
		nvms = have >= (guint)fs->opt.max ? 0
			: MIN(nvms, (guint)fs->opt.max - have);
		if (!nvms) {
			refuse(ds, n, "max= VMs in use");
			return;
		}
	}
	ns.name = (char *)n->hello.name;
	ns.user = fs->opt.discover_user;
	ns.host = (char *)n->address;
	ns.port = n->hello.ssh_port;
	h = members_connect(fs, &ns, nvms, &ds->src, NULL, NULL);
	h->beacon_name = g_strdup(n->hello.name);
}

static void
on_event(enum discover_event ev, const struct discover_node *n,
	 gpointer user)
{
	struct discover_source *ds = user;
	struct host *h;

	switch (ev) {
	case DISCOVER_CHANGED:
		/* A node that restarted may be used again after .ctl let it
		 * go. */
		if (n->restarted && ds->disconnected) {
			g_autofree char *key = node_key(n->address,
							n->hello.name);
			g_hash_table_remove(ds->disconnected, key);
		}
		/* fall through */
	case DISCOVER_FOUND:
		consider(ds, n);
		break;
	case DISCOVER_BYE:
	case DISCOVER_EXPIRED:
		h = host_at(ds->src.cl, n->address, n->hello.ssh_port,
			    n->hello.name);
		if (h && h->source == &ds->src)
			members_host_leaves(h, ev == DISCOVER_BYE
				? "its node said goodbye"
				: "its node stopped announcing");
		break;
	}
}

static gboolean
rescan(gpointer data)
{
	struct discover_source *ds = data;
	g_autoptr(GPtrArray) nodes = discover_nodes(ds->discover);
	guint i;

	for (i = 0; i < nodes->len; i++)
		consider(ds, nodes->pdata[i]);
	return G_SOURCE_CONTINUE;
}

static void
discover_probe_now(struct member_source *src)
{
	struct discover_source *ds = (struct discover_source *)src;
	g_autoptr(GError) error = NULL;

	if (ds->discover && !discover_probe(ds->discover, &error))
		g_warning("discover: %s", error->message);
}

static gboolean
discover_start(struct member_source *src, GError **error)
{
	struct discover_source *ds = (struct discover_source *)src;
	struct discover_options o = { 0 };

	o.group = src->cl->opt.discover_group;
	o.port = src->cl->opt.discover_port;
	if (!(ds->discover = discover_new(&o, on_event, ds, error)))
		return FALSE;
	ds->timer = g_timeout_add_seconds(RESCAN_S, rescan, ds);
	return TRUE;
}

static void
discover_stop(struct member_source *src)
{
	struct discover_source *ds = (struct discover_source *)src;

	g_clear_handle_id(&ds->timer, g_source_remove);
	g_clear_pointer(&ds->discover, discover_free);
	g_clear_pointer(&ds->refused, g_hash_table_unref);
	g_clear_pointer(&ds->disconnected, g_hash_table_unref);
	g_clear_pointer(&ds->retry_at, g_hash_table_unref);
}

static const struct member_source_ops discover_ops = {
	.name = "discovered",
	.start = discover_start,
	.probe = discover_probe_now,
	.stop = discover_stop,
	.failed = discover_failed,
	.let_go = discover_let_go,
};

struct member_source *
source_discover_new(struct cluster *cl)
{
	struct discover_source *ds = g_new0(struct discover_source, 1);

	ds->src.ops = &discover_ops;
	ds->src.cl = cl;
	return &ds->src;
}
