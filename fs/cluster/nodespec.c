/*
 * nodespec.c - parse NODE arguments and host files (see nodespec.h).
 */
#include "nodespec.h"
#include "nodeset.h"

#include <string.h>

static GQuark
nodespec_error(void)
{
	return g_quark_from_static_string("trickle-nodespec-error");
}

gboolean
nodespec_valid_name(const char *name)
{
	return *name && name[0] != '.' && !strchr(name, '/') &&
	       strlen(name) <= 255;
}

static gboolean
valid_host(const char *h)
{
	if (!*h)
		return FALSE;
	for (; *h; h++)
		if (!g_ascii_isalnum(*h) && !strchr(".-_:%", *h))
			return FALSE;
	return TRUE;
}

static gboolean
fail(GError **error, const char *text, const char *why)
{
	g_set_error(error, nodespec_error(), 0, "bad node \"%s\": %s", text,
		    why);
	return FALSE;
}

gboolean
nodespec_parse(const char *text, struct nodespec *spec, GError **error)
{
	const char *p = text, *eq, *at, *colon;
	g_autofree char *hostpart = NULL;

	memset(spec, 0, sizeof(*spec));
	if (g_ascii_isdigit(*p)) {		/* N/: slots, as parallel -S */
		const char *d = p;
		guint64 n = 0;

		while (g_ascii_isdigit(*d) && n <= NODE_MAX_VMS)
			n = n * 10 + (guint64)(*d++ - '0');
		while (g_ascii_isdigit(*d))
			d++;
		if (*d == '/') {
			if (n == 0 || n > NODE_MAX_VMS)
				return fail(error, text, "N/ must be 1-"
					    G_STRINGIFY(NODE_MAX_VMS)
					    " VMs on a node "
					    "(trickle-node's limit)");
			spec->slots = n;
			p = d + 1;
		}
	}
	eq = strchr(p, '=');
	if (eq) {
		spec->name = g_strndup(p, eq - p);
		if (!nodespec_valid_name(spec->name)) {
			nodespec_clear(spec);
			return fail(error, text, "invalid name before '='");
		}
		p = eq + 1;
	}
	at = strrchr(p, '@');
	if (at) {
		spec->user = g_strndup(p, at - p);
		if (!*spec->user) {
			nodespec_clear(spec);
			return fail(error, text, "empty user name");
		}
		p = at + 1;
	}
	if (*p == '[') {			/* [v6 address]:port */
		const char *close = strchr(p, ']');
		if (!close) {
			nodespec_clear(spec);
			return fail(error, text, "missing ']'");
		}
		hostpart = g_strndup(p + 1, close - p - 1);
		colon = close[1] == ':' ? close + 1 : NULL;
		if (close[1] && !colon) {
			nodespec_clear(spec);
			return fail(error, text, "junk after ']'");
		}
	} else {
		colon = strrchr(p, ':');
		hostpart = colon ? g_strndup(p, colon - p) : g_strdup(p);
	}
	if (!valid_host(hostpart)) {
		nodespec_clear(spec);
		return fail(error, text, "invalid host");
	}
	if (colon) {
		char *end;
		guint64 port = g_ascii_strtoull(colon + 1, &end, 10);

		if (*end || end == colon + 1 || port == 0 || port > 65535) {
			nodespec_clear(spec);
			return fail(error, text, "port must be 1-65535");
		}
		spec->port = port;
	}
	spec->host = g_steal_pointer(&hostpart);
	return TRUE;
}

char *
nodespec_where(const struct nodespec *spec)
{
	return g_strdup_printf("%s%s%s:%d", spec->user ? spec->user : "",
			       spec->user ? "@" : "", spec->host,
			       spec->port ? spec->port : 22);
}

void
nodespec_clear(struct nodespec *spec)
{
	g_clear_pointer(&spec->name, g_free);
	g_clear_pointer(&spec->user, g_free);
	g_clear_pointer(&spec->host, g_free);
	spec->port = 0;
	spec->slots = 0;
}

void
nodespec_free(struct nodespec *spec)
{
	if (!spec)
		return;
	nodespec_clear(spec);
	g_free(spec);
}

guint
nodespec_vms(const struct nodespec *spec, int vms_per_node)
{
	return spec->slots ? spec->slots
		: vms_per_node > 0 ? (guint)vms_per_node : 1;
}

gboolean
nodespec_parse_set(const char *word, guint max, GPtrArray *specs,
		   GError **error)
{
	g_auto(GStrv) words = NULL;
	guint i, n, first = specs->len;

	if (!nodeset_is_set(word))
		words = g_strdupv((char *[]){ (char *)word, NULL });
	else if (!(words = nodeset_expand(word, max, error)))
		return FALSE;
	n = g_strv_length(words);
	for (i = 0; i < n; i++) {
		struct nodespec *ns = g_new0(struct nodespec, 1);

		if (!nodespec_parse(words[i], ns, error)) {
			g_free(ns);
			goto undo;
		}
		g_ptr_array_add(specs, ns);
		if (ns->name && n > 1) {
			g_set_error(error, nodespec_error(), 0, "bad node "
				    "\"%s\": NAME= names one node, and this "
				    "set has %u", word, n);
			goto undo;
		}
	}
	return TRUE;
undo:
	while (specs->len > first)
		nodespec_free(g_ptr_array_steal_index(specs, specs->len - 1));
	return FALSE;
}

gboolean
nodespec_read_file(const char *path, GPtrArray *specs, GError **error)
{
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	char **l;

	if (!g_file_get_contents(path, &text, NULL, error))
		return FALSE;
	lines = g_strsplit(text, "\n", -1);
	for (l = lines; *l; l++) {
		char *hash = strchr(*l, '#');
		g_auto(GStrv) words = NULL;
		char **w;

		if (hash)
			*hash = '\0';
		words = g_strsplit_set(g_strstrip(*l), " \t", -1);
		for (w = words; *w; w++)
			if (**w)
				g_ptr_array_add(specs, g_strdup(*w));
	}
	return TRUE;
}
