/*
 * discovery.c - -o discover: nodes found by the beacons of
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
#include "tfs.h"
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

/* Is the host part of a known_hosts line about name? */
static gboolean
line_names(const char *hosts, const char *name)
{
	g_auto(GStrv) pats = g_strsplit(hosts, ",", -1);
	gboolean match = FALSE;
	guint i;

	for (i = 0; pats[i]; i++) {
		const char *p = pats[i];

		if (g_str_has_prefix(p, "|1|")) {
			g_auto(GStrv) parts = g_strsplit(p + 3, "|", 2);
			g_autofree guchar *salt = NULL, *want = NULL;
			gsize salt_len, want_len, len = 20;
			guint8 got[20];
			GHmac *mac;

			if (!parts[0] || !parts[1])
				continue;
			salt = g_base64_decode(parts[0], &salt_len);
			want = g_base64_decode(parts[1], &want_len);
			if (want_len != sizeof(got))
				continue;
			mac = g_hmac_new(G_CHECKSUM_SHA1, salt, salt_len);
			g_hmac_update(mac, (const guchar *)name, -1);
			g_hmac_get_digest(mac, got, &len);
			g_hmac_unref(mac);
			if (memcmp(got, want, sizeof(got)) == 0)
				match = TRUE;
		} else if (p[0] == '!') {
			if (g_pattern_match_simple(p + 1, name))
				return FALSE;
		} else if (g_pattern_match_simple(p, name)) {
			match = TRUE;
		}
	}
	return match;
}

/* The words of a known_hosts line, however many blanks between them. */
static char **
split_fields(char *line)
{
	char **f = g_strsplit_set(g_strstrip(line), " \t", -1);
	guint i, j;

	for (i = j = 0; f[i]; i++) {
		if (*f[i])
			f[j++] = f[i];
		else
			g_free(f[i]);
	}
	f[j] = NULL;
	return f;
}

/*
 * Does known_hosts hold, for address:port, a key with one of the
 * beacon's fingerprints (and not @revoked)?  why says what is wrong.
 */
static gboolean
known_hosts_vouch(struct tfs *fs, const char *address, guint port,
		  const struct beacon *b, char **why)
{
	g_autofree char *def = g_build_filename(g_get_home_dir(), ".ssh",
						"known_hosts", NULL);
	const char *file = fs->opt.known_hosts ? fs->opt.known_hosts : def;
	g_autofree char *text = NULL;
	g_autofree char *name = port == 22 ? g_strdup(address)
		: g_strdup_printf("[%s]:%u", address, port);
	g_auto(GStrv) lines = NULL;
	gboolean known = FALSE, vouched = FALSE;
	guint i, j;

	if (!g_file_get_contents(file, &text, NULL, NULL)) {
		*why = g_strdup_printf("cannot read %s", file);
		return FALSE;
	}
	lines = g_strsplit(text, "\n", -1);
	for (i = 0; lines[i]; i++) {
		g_auto(GStrv) f = split_fields(lines[i]);
		gboolean revoked = FALSE;
		g_autofree guchar *blob = NULL;
		g_autofree char *fp = NULL;
		gsize len;
		guint k = 0;

		if (!f[0] || f[0][0] == '#' || !*f[0])
			continue;
		if (f[0][0] == '@') {
			revoked = strcmp(f[0], "@revoked") == 0;
			if (!revoked)
				continue;	/* @cert-authority */
			k = 1;
		}
		if (!f[k] || !f[k + 1] || !f[k + 2] ||
		    !line_names(f[k], name))
			continue;
		blob = g_base64_decode(f[k + 2], &len);
		if (!len || !(fp = beacon_key_fingerprint(blob, len)))
			continue;
		known = TRUE;
		for (j = 0; j < b->n_fingerprints; j++) {
			if (strcmp(fp, b->fingerprints[j]) != 0)
				continue;
			if (revoked) {
				*why = g_strdup_printf("key %s is revoked",
						       fp);
				return FALSE;
			}
			vouched = TRUE;
		}
	}
	if (!vouched)
		*why = g_strdup_printf("%s: %s %s in %s", name,
				       known ? "its key" : "no key",
				       known ? "does not match the beacon's "
					       "fingerprint" : "known",
				       file);
	return vouched;
}

/* Log a refusal once per (address, name). */
static void
refuse(struct tfs *fs, const struct discover_node *n, const char *why)
{
	g_autofree char *key = node_key(n->address, n->hello.name);

	if (!fs->refused)
		fs->refused = g_hash_table_new_full(g_str_hash, g_str_equal,
						    g_free, NULL);
	if (g_hash_table_contains(fs->refused, key))
		return;
	if (g_hash_table_size(fs->refused) >= REFUSED_MAX)
		g_hash_table_remove_all(fs->refused);
	g_hash_table_add(fs->refused, g_steal_pointer(&key));
	g_warning("discover: not using %s at %s: %s", n->hello.name,
		  n->address, why);
}

/* The live host at address:port that a node announced as name (any
 * host there, discovered or named on the command line, if name is
 * NULL). */
static struct host *
host_at(struct tfs *fs, const char *address, guint port, const char *name)
{
	guint i;

	for (i = 0; i < fs->hosts->len; i++) {
		struct host *h = fs->hosts->pdata[i];

		if (!h->local && !h->leaving && h->ssh.host &&
		    strcmp(h->ssh.host, address) == 0 &&
		    (guint)h->ssh.port == port &&
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

void
discovery_failed(struct host *h)
{
	if (!h->beacon_name)
		return;
	set_add(&h->fs->retry_at, node_key(h->ssh.host, h->beacon_name),
		g_get_monotonic_time() + RETRY_S * G_USEC_PER_SEC);
}

void
discovery_let_go(struct host *h)
{
	struct tfs *fs = h->fs;

	if (!h->discovered || !h->beacon_name)
		return;
	set_add(&fs->disconnected, node_key(h->ssh.host, h->beacon_name), 0);
}

/* VMs in use or on their way, for -o max. */
static guint
vms_counted(struct tfs *fs)
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
consider(struct tfs *fs, const struct discover_node *n)
{
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
	    (fs->disconnected && g_hash_table_contains(fs->disconnected, key)))
		return;
	if (fs->retry_at && (retry = g_hash_table_lookup(fs->retry_at, key))) {
		if (g_get_monotonic_time() < *retry)
			return;
		g_hash_table_remove(fs->retry_at, key);
	}
	if (!discover_match(n, (const char *const *)fs->opt.allow)) {
		refuse(fs, n, "not in allow=");
		return;
	}
	if (!known_hosts_vouch(fs, n->address, n->hello.ssh_port, &n->hello,
			       &why)) {
		refuse(fs, n, why);
		return;
	}
	nvms = fs->opt.vms_per_node ? (guint)fs->opt.vms_per_node
				    : MIN(n->hello.cores, CORES_MAX);
	if (fs->opt.max) {
		have = vms_counted(fs);
		nvms = have >= (guint)fs->opt.max ? 0
			: MIN(nvms, (guint)fs->opt.max - have);
		if (!nvms) {
			refuse(fs, n, "max= VMs in use");
			return;
		}
	}
	ns.name = (char *)n->hello.name;
	ns.user = fs->opt.discover_user;
	ns.host = (char *)n->address;
	ns.port = n->hello.ssh_port;
	h = members_connect(fs, &ns, nvms, TRUE, NULL, NULL);
	h->beacon_name = g_strdup(n->hello.name);
}

static void
on_event(enum discover_event ev, const struct discover_node *n,
	 gpointer user)
{
	struct tfs *fs = user;
	struct host *h;

	switch (ev) {
	case DISCOVER_CHANGED:
		/* A node that restarted may be used again after .ctl let it
		 * go. */
		if (n->restarted && fs->disconnected) {
			g_autofree char *key = node_key(n->address,
							n->hello.name);
			g_hash_table_remove(fs->disconnected, key);
		}
		/* fall through */
	case DISCOVER_FOUND:
		consider(fs, n);
		break;
	case DISCOVER_BYE:
	case DISCOVER_EXPIRED:
		h = host_at(fs, n->address, n->hello.ssh_port, n->hello.name);
		if (h && h->discovered)
			members_host_leaves(h, ev == DISCOVER_BYE
				? "its node said goodbye"
				: "its node stopped announcing");
		break;
	}
}

static gboolean
rescan(gpointer data)
{
	struct tfs *fs = data;
	g_autoptr(GPtrArray) nodes = discover_nodes(fs->discover);
	guint i;

	for (i = 0; i < nodes->len; i++)
		consider(fs, nodes->pdata[i]);
	return G_SOURCE_CONTINUE;
}

gboolean
discovery_start(struct tfs *fs, GError **error)
{
	struct discover_options o = { 0 };

	o.group = fs->opt.discover_group;
	o.port = fs->opt.discover_port;
	if (!(fs->discover = discover_new(&o, on_event, fs, error)))
		return FALSE;
	discovery_probe(fs);
	fs->discover_timer = g_timeout_add_seconds(RESCAN_S, rescan, fs);
	return TRUE;
}

void
discovery_probe(struct tfs *fs)
{
	g_autoptr(GError) error = NULL;

	if (fs->discover && !discover_probe(fs->discover, &error))
		g_warning("discover: %s", error->message);
}

void
discovery_stop(struct tfs *fs)
{
	g_clear_handle_id(&fs->discover_timer, g_source_remove);
	g_clear_pointer(&fs->discover, discover_free);
	g_clear_pointer(&fs->refused, g_hash_table_unref);
	g_clear_pointer(&fs->disconnected, g_hash_table_unref);
	g_clear_pointer(&fs->retry_at, g_hash_table_unref);
}
