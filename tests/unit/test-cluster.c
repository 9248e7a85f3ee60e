/*
 * test-cluster.c - the cluster layer's pure parts: the event list, the
 * fan-in count, and the known_hosts check that discovery shares with SSH
 * (plain, hashed and [host]:port names, @revoked keys, a changed key).
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"

/* Two throwaway ed25519 public keys and their fingerprints. */
#define KEY_A "AAAAC3NzaC1lZDI1NTE5AAAAIP2X8Ob5uHZ0n8yg6L2RCDV5zSsAIQPzrpD+ne8ynY67"
#define FP_A "SHA256:G0n5gnq71L2sUcbjjx+rKo+1mAoR6t7G4SkxnP1hRE4"
#define KEY_B "AAAAC3NzaC1lZDI1NTE5AAAAIIdSbkLKhBhefg7vZI20ZNh11rLxZPq/gd4wUabXxLuq"
#define FP_B "SHA256:4z1lIczXEb2hC4mh9l20gZJEDG5SRgeUtEV4vwzq3VI"

static GString *heard;

static void
listener(void *data, const struct cluster_event *ev)
{
	g_string_append_printf(heard, "%s:%d ", (const char *)data, ev->type);
}

static void
test_events(void)
{
	struct cluster cl = { 0 };

	heard = g_string_new(NULL);
	cluster_emit(&cl, CL_HOST_UP, NULL, NULL, NULL, NULL);	/* nobody */
	cluster_listen(&cl, listener, "a");
	cluster_listen(&cl, listener, "b");
	g_autofree char *ended = g_strdup_printf("a:%d b:%d ", CL_CALL_ENDED,
						 CL_CALL_ENDED);
	g_autofree char *down = g_strdup_printf("b:%d ", CL_HOST_DOWN);

	cluster_emit(&cl, CL_CALL_ENDED, NULL, NULL, NULL, NULL);
	g_assert_cmpstr(heard->str, ==, ended);
	cluster_unlisten(&cl, listener, "a");
	g_string_truncate(heard, 0);
	cluster_emit(&cl, CL_HOST_DOWN, NULL, NULL, NULL, "why");
	g_assert_cmpstr(heard->str, ==, down);
	g_array_unref(cl.listeners);
	g_string_free(heard, TRUE);
}

static int done_calls, done_err;

static void
on_done(void *data, int err)
{
	done_calls++;
	done_err = err;
}

static void
test_fanin(void)
{
	struct fanin *f;

	/* Nothing asked: done at the release, with no error. */
	done_calls = 0;
	f = fanin_new(on_done, NULL);
	g_assert_cmpint(done_calls, ==, 0);
	fanin_release(f);
	g_assert_cmpint(done_calls, ==, 1);
	g_assert_cmpint(done_err, ==, 0);

	/* Answers before the release do not end it; the first error
	 * sticks. */
	done_calls = 0;
	f = fanin_new(on_done, NULL);
	fanin_expect(f);
	fanin_expect(f);
	fanin_expect(f);
	fanin_answer(f, 0);
	fanin_answer(f, 5);
	fanin_answer(f, 7);
	g_assert_cmpint(done_calls, ==, 0);
	fanin_release(f);
	g_assert_cmpint(done_calls, ==, 1);
	g_assert_cmpint(done_err, ==, 5);

	/* The last answer after the release ends it. */
	done_calls = 0;
	f = fanin_new(on_done, NULL);
	fanin_expect(f);
	fanin_release(f);
	g_assert_cmpint(done_calls, ==, 0);
	fanin_answer(f, 0);
	g_assert_cmpint(done_calls, ==, 1);
}

/* The |1|salt|hash form of a known_hosts name. */
static char *
hashed(const char *name)
{
	static const guchar salt[20] = "0123456789abcdefghi";
	g_autoptr(GHmac) mac = g_hmac_new(G_CHECKSUM_SHA1, salt, sizeof(salt));
	guint8 digest[20];
	gsize len = sizeof(digest);
	g_autofree char *s = g_base64_encode(salt, sizeof(salt));
	g_autofree char *h = NULL;

	g_hmac_update(mac, (const guchar *)name, -1);
	g_hmac_get_digest(mac, digest, &len);
	h = g_base64_encode(digest, len);
	return g_strdup_printf("|1|%s|%s", s, h);
}

static char *
write_file(const char *text)
{
	g_autoptr(GError) error = NULL;
	char *path = NULL;
	int fd = g_file_open_tmp("test-knownhosts-XXXXXX", &path, &error);

	g_assert_no_error(error);
	g_assert_true(g_file_set_contents(path, text, -1, &error));
	g_assert_no_error(error);
	close(fd);
	return path;
}

static gboolean
vouch(const char *text, const char *host, int port, const char *fp,
      const char *why_part)
{
	g_autofree char *path = write_file(text);
	g_autofree char *why = NULL;
	const char *fps[] = { "SHA256:not-this-one", fp };
	gboolean ok = knownhosts_vouch(path, host, port, fps, 2, &why);

	if (why_part) {
		g_assert_nonnull(why);
		if (!strstr(why, why_part))
			g_error("\"%s\" does not say \"%s\"", why, why_part);
	}
	g_unlink(path);
	return ok;
}

static void
test_knownhosts(void)
{
	g_autofree char *plain = g_strdup_printf(
		"# a comment\n\n10.0.0.1 ssh-ed25519 " KEY_A "\n"
		"[10.0.0.2]:2222 ssh-ed25519 " KEY_B "\n");
	g_autofree char *h = hashed("[10.0.0.3]:2022");
	g_autofree char *hash = g_strdup_printf("%s ssh-ed25519 " KEY_A "\n",
						h);
	g_autofree char *revoked = g_strdup_printf(
		"10.0.0.1 ssh-ed25519 " KEY_A "\n"
		"@revoked * ssh-ed25519 " KEY_A "\n");
	g_autofree char *why = NULL;
	const char *fps[] = { FP_A };

	g_assert_true(vouch(plain, "10.0.0.1", 22, FP_A, NULL));
	g_assert_true(vouch(plain, "10.0.0.2", 2222, FP_B, NULL));
	/* A key known for the host, but not the beacon's. */
	g_assert_false(vouch(plain, "10.0.0.1", 22, FP_B,
			     "its key does not match the beacon's"));
	/* Port 22's plain name is not [host]:port's. */
	g_assert_false(vouch(plain, "10.0.0.1", 2222, FP_A, "no key known"));
	g_assert_false(vouch(plain, "10.0.0.9", 22, FP_A, "no key known"));
	g_assert_true(vouch(hash, "10.0.0.3", 2022, FP_A, NULL));
	g_assert_false(vouch(hash, "10.0.0.3", 22, FP_A, "no key known"));
	g_assert_false(vouch(revoked, "10.0.0.1", 22, FP_A, "is revoked"));
	g_assert_false(knownhosts_vouch("/nonexistent/known_hosts",
					"10.0.0.1", 22, fps, 1, &why));
	g_assert_nonnull(strstr(why, "cannot read"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/cluster/events", test_events);
	g_test_add_func("/cluster/fanin", test_fanin);
	g_test_add_func("/cluster/knownhosts", test_knownhosts);
	return g_test_run();
}
