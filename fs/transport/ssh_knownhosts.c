/*
 * ssh_knownhosts.c - the host keys the user trusts, and the check of a
 * server's host key against them, with libssh2's knownhost collection.
 */
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>

#include "ssh_error.h"
#include "beacon.h"
#include "ssh_knownhosts.h"
#include "transport.h"

/* The host key types we take, in the order we prefer them. */
static const struct keytype {
	int		 hostkey;	/* LIBSSH2_HOSTKEY_TYPE_* */
	int		 known;		/* LIBSSH2_KNOWNHOST_KEY_* */
	const char	*name;
} keytypes[] = {
	{ LIBSSH2_HOSTKEY_TYPE_ED25519, LIBSSH2_KNOWNHOST_KEY_ED25519,
	    "ssh-ed25519" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_256, LIBSSH2_KNOWNHOST_KEY_ECDSA_256,
	    "ecdsa-sha2-nistp256" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_384, LIBSSH2_KNOWNHOST_KEY_ECDSA_384,
	    "ecdsa-sha2-nistp384" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_521, LIBSSH2_KNOWNHOST_KEY_ECDSA_521,
	    "ecdsa-sha2-nistp521" },
};

struct ssh_knownhosts {
	LIBSSH2_SESSION		*ssh;
	LIBSSH2_KNOWNHOSTS	*kh;
	char			*file;		/* for messages */
	char			*name;		/* the host as known_hosts
						 * names it */
	char			*host;		/* for ssh-keyscan */
	int			 port;
	GPtrArray		*revoked;	/* base64 keys of @revoked
						 * lines */
};

/*
 * libssh2_knownhost_readfile() stops at the first line it cannot parse:
 * feed it line by line.  @revoked keys are kept to be refused;
 * @cert-authority is beyond libssh2 and skipped.
 */
static void
read_file(struct ssh_knownhosts *kh)
{
	g_autofree char *text = NULL;
	g_autoptr(GError) e = NULL;
	char *line, *next;
	guint no = 0, i, n;

	if (!g_file_get_contents(kh->file, &text, NULL, &e)) {
		g_debug("%s", e->message);	/* then every host is unknown */
		return;
	}
	for (line = text; line; line = next) {
		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		no++;
		g_strstrip(line);
		if (*line == '\0' || *line == '#')
			continue;
		if (g_str_has_prefix(line, "@revoked")) {
			g_auto(GStrv) f = g_strsplit_set(line, " \t", -1);

			/* "@revoked hosts type key": keep the key */
			for (i = n = 0; f[i]; i++)
				if (*f[i] && ++n == 4)
					g_ptr_array_add(kh->revoked,
					    g_strdup(f[i]));
		} else if (*line == '@' || libssh2_knownhost_readline(kh->kh,
		    line, strlen(line), LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0)
			g_debug("%s:%u: skipped a line libssh2 cannot use",
			    kh->file, no);
	}
}

struct ssh_knownhosts *
ssh_knownhosts_load(LIBSSH2_SESSION *ssh, const char *file,
		    const char *host, int port)
{
	struct ssh_knownhosts *kh;
	LIBSSH2_KNOWNHOSTS *c;

	if (!(c = libssh2_knownhost_init(ssh)))
		return NULL;
	kh = g_new0(struct ssh_knownhosts, 1);
	kh->ssh = ssh;
	kh->kh = c;
	kh->file = g_strdup(file);
	/* known_hosts writes "[host]:port", but plain "host" for port 22. */
	kh->name = port == 22 ? g_strdup(host) :
	    g_strdup_printf("[%s]:%d", host, port);
	kh->host = g_strdup(host);
	kh->port = port;
	kh->revoked = g_ptr_array_new_with_free_func(g_free);
	read_file(kh);
	return kh;
}

char *
ssh_knownhosts_key_types(const struct ssh_knownhosts *kh)
{
	GString *types = g_string_new(NULL);
	guint pass, i;

	/* A check with a key that cannot match says MISMATCH if the file
	 * has a key of that type for the host.  Those types go first: else
	 * a server offering another type first would look unknown. */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < G_N_ELEMENTS(keytypes); i++)
			if ((libssh2_knownhost_checkp(kh->kh, kh->name, -1,
			    "?", 1, LIBSSH2_KNOWNHOST_TYPE_PLAIN |
			    LIBSSH2_KNOWNHOST_KEYENC_RAW | keytypes[i].known,
			    NULL) == LIBSSH2_KNOWNHOST_CHECK_MISMATCH) == !pass)
				g_string_append_printf(types, "%s%s",
				    types->len ? "," : "", keytypes[i].name);
	return g_string_free(types, FALSE);
}

gboolean
ssh_knownhosts_check(const struct ssh_knownhosts *kh, const char *where,
		     char **peer, GError **error)
{
	const struct keytype *kt = NULL;
	const char *key, *hash, *brief;
	g_autofree char *fp = NULL, *b64 = NULL;
	size_t len;
	int type;
	guint i;

	key = libssh2_session_hostkey(kh->ssh, &len, &type);
	hash = libssh2_hostkey_hash(kh->ssh, LIBSSH2_HOSTKEY_HASH_SHA256);
	for (i = 0; i < G_N_ELEMENTS(keytypes); i++)
		if (keytypes[i].hostkey == type)
			kt = &keytypes[i];
	if (!key || !hash || !kt) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
		    "%s: no usable host key from the server", where);
		return FALSE;
	}
	fp = g_base64_encode((const guchar *)hash, 32);
	g_strdelimit(fp, "=", '\0');	/* ssh shows it unpadded */
	b64 = g_base64_encode((const guchar *)key, len);
	for (i = 0; i < kh->revoked->len; i++)
		if (strcmp(b64, kh->revoked->pdata[i]) == 0) {
			g_set_error(error, G_IO_ERROR,
			    G_IO_ERROR_PERMISSION_DENIED, "%s: its host key %s "
			    "SHA256:%s is @revoked in %s; refusing to connect",
			    where, kt->name, fp, kh->file);
			return FALSE;
		}

	/* name is "[host]:port" unless port 22: given the port itself,
	 * checkp() would also take a plain "host" line, which ssh won't. */
	switch (libssh2_knownhost_checkp(kh->kh, kh->name, -1, key, len,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
	    kt->known, NULL)) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		*peer = g_strdup_printf("%s (%s SHA256:%s)", where, kt->name,
		    fp);
		return TRUE;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
		    "%s: WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! Its "
		    "host key %s SHA256:%s does NOT match the key for %s in "
		    "%s. Someone could be eavesdropping (man-in-the-middle), "
		    "or the host key was changed. Refusing to connect.",
		    where, kt->name, fp, kh->name, kh->file);
		return FALSE;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		/* ssh-keyscan's and the key file's name of the type */
		brief = g_str_has_prefix(kt->name, "ecdsa") ? "ecdsa" :
		    kt->name + strlen("ssh-");
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
		    "%s: unknown host: its host key %s SHA256:%s is not in %s "
		    "(as %s); refusing to connect. If the fingerprint is "
		    "right (on the node: ssh-keygen -lf "
		    "/etc/ssh/ssh_host_%s_key.pub), add the key: ssh-keyscan "
		    "-t %s -p %d %s >> %s", where, kt->name, fp, kh->file,
		    kh->name, brief, brief, kh->port, kh->host, kh->file);
		return FALSE;
	default:
		g_propagate_error(error, ssh_error_new(kh->ssh,
		    LIBSSH2_ERROR_KNOWN_HOSTS, where, "checking the host key"));
		return FALSE;
	}
}

void
ssh_knownhosts_free(struct ssh_knownhosts *kh)
{
	libssh2_knownhost_free(kh->kh);
	g_ptr_array_unref(kh->revoked);
	g_free(kh->file);
	g_free(kh->name);
	g_free(kh->host);
	g_free(kh);
}

static gboolean
fp_listed(const char *fp, const char *const *fps, guint n)
{
	guint i;

	for (i = 0; i < n; i++)
		if (g_strcmp0(fp, fps[i]) == 0)
			return TRUE;
	return FALSE;
}

/*
 * The same reading of the file as a session's check, and the same
 * matching of names (hashed or not, [host]:port or host), through
 * libssh2's collection: each key the file holds is tried against
 * host:port, and those that match are compared by fingerprint.
 */
gboolean
knownhosts_vouch(const char *file, const char *host, int port,
		 const char *const *fps, guint n_fps, char **why)
{
	LIBSSH2_SESSION *ssh;
	struct ssh_knownhosts *kh;
	struct libssh2_knownhost *entry = NULL;
	gboolean known = FALSE, vouched = FALSE;
	guint i;

	if (!g_file_test(file, G_FILE_TEST_IS_REGULAR) ||
	    access(file, R_OK) != 0) {
		*why = g_strdup_printf("cannot read %s", file);
		return FALSE;
	}
	if (!(ssh = libssh2_session_init())) {
		*why = g_strdup("libssh2 cannot make a session");
		return FALSE;
	}
	if (!(kh = ssh_knownhosts_load(ssh, file, host, port))) {
		libssh2_session_free(ssh);
		*why = g_strdup("libssh2 cannot read known hosts");
		return FALSE;
	}
	for (i = 0; i < kh->revoked->len; i++) {
		g_autofree guchar *blob = NULL;
		g_autofree char *fp = NULL;
		gsize len;

		blob = g_base64_decode(kh->revoked->pdata[i], &len);
		if (len && (fp = beacon_key_fingerprint(blob, len)) &&
		    fp_listed(fp, fps, n_fps)) {
			*why = g_strdup_printf("key %s is revoked", fp);
			goto out;
		}
	}
	while (!vouched && libssh2_knownhost_get(kh->kh, &entry, entry) == 0) {
		g_autofree guchar *blob = NULL;
		g_autofree char *fp = NULL;
		gsize len = 0;

		if (!entry->key)
			continue;
		blob = g_base64_decode(entry->key, &len);
		if (!len || libssh2_knownhost_checkp(kh->kh, kh->name, -1,
		    (const char *)blob, len, LIBSSH2_KNOWNHOST_TYPE_PLAIN |
		    LIBSSH2_KNOWNHOST_KEYENC_RAW |
		    (entry->typemask & LIBSSH2_KNOWNHOST_KEY_MASK), NULL) !=
		    LIBSSH2_KNOWNHOST_CHECK_MATCH)
			continue;
		known = TRUE;
		fp = beacon_key_fingerprint(blob, len);
		vouched = fp_listed(fp, fps, n_fps);
	}
	if (!vouched)
		*why = g_strdup_printf("%s: %s in %s", kh->name, known
			? "its key does not match the beacon's fingerprint"
			: "no key known", file);
out:
	ssh_knownhosts_free(kh);
	libssh2_session_free(ssh);
	return vouched;
}
