/*
 * fuzz-knownhosts.c - libFuzzer target for reading known_hosts
 * (fs/transport/ssh_knownhosts.c): the project's line splitting and
 * @revoked handling, and libssh2's parser and host matching behind it.
 *
 * Input: a first line "HOST [PORT]" (a host of other characters than a
 * NODE word allows is "node1"; no port or a bad one is 22), then the
 * file's contents.  The file goes through the same calls as a mount's
 * SSH session (ssh_knownhosts_load, _key_types, _check) and discovery
 * (knownhosts_vouch).  Checked:
 *
 *   - key types are a comma-separated list of the four we take, each
 *     at most once;
 *   - without a key exchange, the check never vouches;
 *   - knownhosts_vouch says why whenever it refuses, refuses an empty
 *     list of fingerprints, never vouches for a key that a
 *     "@revoked HOSTS TYPE KEY" line holds, and vouches only where the
 *     file names the host (as known_hosts writes it: "[host]:port" but
 *     for port 22), hashes names (|1|) or has a wildcard.
 */
#include "fuzz-util.h"
#include "beacon.h"
#include "ssh_knownhosts.h"
#include "transport.h"

#include <string.h>

/* How many fingerprints are each tried alone (each a file read). */
#define MAX_SINGLE 6

static const char *const key_types[] = {
	"ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521",
};

static char *khfile;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init(NULL);
	if (libssh2_init(0) != 0)
		abort();
	khfile = g_build_filename(fuzz_tmpdir(), "known_hosts", NULL);
	return 0;
}

static gboolean
host_ok(const char *h)
{
	if (!*h || strlen(h) > 255)
		return FALSE;
	for (; *h; h++)
		if (!g_ascii_isalnum(*h) && !strchr(".-_:%", *h))
			return FALSE;
	return TRUE;
}

static void
check_types(const char *types)
{
	g_auto(GStrv) t = g_strsplit(types, ",", -1);
	guint seen = 0, i, k;

	if (!*types)
		return;
	for (i = 0; t[i]; i++) {
		for (k = 0; k < G_N_ELEMENTS(key_types); k++)
			if (strcmp(t[i], key_types[k]) == 0)
				break;
		CHECK(k < G_N_ELEMENTS(key_types));
		CHECK(!(seen & (1u << k)));
		seen |= 1u << k;
	}
}

/* The fingerprint of a token if it is base64 of something. */
static char *
token_fp(const char *tok)
{
	g_autofree guchar *blob = NULL;
	gsize len = 0;

	blob = g_base64_decode(tok, &len);
	return len ? beacon_key_fingerprint(blob, len) : NULL;
}

/* Every token's fingerprint into all; the KEY of each
 * "@revoked HOSTS TYPE KEY" line into revoked. */
static void
fingerprints(const char *text, GPtrArray *all, GPtrArray *revoked)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

	for (guint l = 0; lines[l]; l++) {
		/* Fields are split at spaces and tabs only, as ssh does. */
		g_auto(GStrv) tok = g_strsplit_set(g_strstrip(lines[l]),
						   " \t", -1);
		gboolean is_revoked = FALSE;
		guint n = 0;

		for (guint i = 0; tok[i]; i++) {
			char *fp;

			if (!*tok[i])
				continue;
			n++;
			/* as ssh_knownhosts.c tells them (ssh wants a
			 * blank after it: "@revokedX" is not) */
			if (n == 1)
				is_revoked = g_str_has_prefix(tok[i],
							      "@revoked");
			if (!(fp = token_fp(tok[i])))
				continue;
			if (is_revoked && n == 4)
				g_ptr_array_add(revoked, g_strdup(fp));
			g_ptr_array_add(all, fp);
		}
	}
}

/* A file that vouches for host:port names it, or hashes or wildcards
 * names. */
static void
check_named(const char *host, int port, const uint8_t *data, size_t size)
{
	g_autofree char *as = port == 22 ? g_strdup(host) :
		g_strdup_printf("[%s]:%d", host, port);
	g_autofree char *name = g_ascii_strdown(as, -1);
	g_autofree char *lower = g_ascii_strdown((const char *)data, size);

	CHECK(memmem(lower, size, name, strlen(name)) ||
	      memmem(lower, size, "|1|", 3) || memchr(lower, '*', size) ||
	      memchr(lower, '?', size));
}

static gboolean
vouch(const char *host, int port, const char *const *fps, guint n)
{
	g_autofree char *why = NULL;
	gboolean ok = knownhosts_vouch(khfile, host, port, fps, n, &why);

	CHECK(ok ? !why : why && g_utf8_validate(why, -1, NULL));
	return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	gsize head = nl ? (gsize)(nl - (const char *)data) : size;
	g_autofree char *first = g_strndup((const char *)data, head);
	g_autofree char *text = NULL, *types = NULL, *peer = NULL;
	g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) revoked = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) hp = g_strsplit(first, " ", 2);
	const char *host = hp[0] && host_ok(hp[0]) ? hp[0] : "node1";
	LIBSSH2_SESSION *ssh;
	struct ssh_knownhosts *kh;
	gboolean vouched;
	int port = 22;

	if (hp[0] && hp[1]) {
		char *end;
		guint64 p = g_ascii_strtoull(hp[1], &end, 10);

		if (!*end && end != hp[1] && p > 0 && p <= 65535)
			port = p;
	}
	data += nl ? head + 1 : size;
	size -= nl ? head + 1 : size;
	fuzz_write_file(khfile, data, size);

	/* As a mount's session does, before and after the key exchange. */
	ssh = libssh2_session_init();
	CHECK(ssh);
	kh = ssh_knownhosts_load(ssh, khfile, host, port);
	CHECK(kh);
	types = ssh_knownhosts_key_types(kh);
	check_types(types);
	CHECK(!ssh_knownhosts_check(kh, "h:22", &peer, &error));
	CHECK(error && !peer);
	ssh_knownhosts_free(kh);
	libssh2_session_free(ssh);

	/* As discovery does, with the file's own keys as the beacon's. */
	text = g_strndup((const char *)data, size);	/* up to a NUL */
	fingerprints(text, all, revoked);
	g_ptr_array_add(all, NULL);
	CHECK(!vouch(host, port, NULL, 0));
	vouched = vouch(host, port, (const char *const *)all->pdata,
			all->len - 1);
	/* Every key is offered: one @revoked refuses them all. */
	CHECK(!vouched || revoked->len == 0);
	if (vouched)
		check_named(host, port, data, size);
	for (guint i = 0; i + 1 < all->len && i < MAX_SINGLE; i++) {
		const char *fp = all->pdata[i];

		if (!vouch(host, port, &fp, 1))
			continue;
		CHECK(vouched || revoked->len);
		check_named(host, port, data, size);
		for (guint r = 0; r < revoked->len; r++)
			CHECK(strcmp(fp, revoked->pdata[r]) != 0);
	}
	return 0;
}
