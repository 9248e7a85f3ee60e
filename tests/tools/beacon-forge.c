/*
 * beacon-forge - send forged or broken discovery beacons to the group, for
 * the tests of trickle-node --announce, trickle-discover and tricklefs -o
 * discover (tests/integration/netns-*.sh).  Test-only: built from the
 * same beacon code (utils/proto, utils/lib/discover.c), never installed.
 *
 *   beacon-forge [--group ADDR] [--port N] [--interface IF] [OPTION...] WHAT
 *
 * WHAT is one of
 *   hello NAME      one HELLO for NAME (--fingerprint FP, repeatable,
 *                   default a valid fingerprint of no key; --ssh-port N,
 *                   default 22; --cores N, default 1; --instance N,
 *                   default random; --seq N, default 1)
 *   bye NAME        one BYE for NAME (--instance, --seq)
 *   flood N         HELLOs from N names, flood-0 ... flood-N-1
 *   junk N          N malformed datagrams of several kinds (random bytes,
 *                   truncated, a byte changed, another version, an unknown
 *                   kind, a short PROBE, oversized, a random body)
 *   probe-flood N   N probes; prints "replies R from A" (the HELLOs that
 *                   answered them within a second, from A addresses)
 *
 * Exit status 0, 1 on errors, 2 on usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beacon.h"
#include "discover.h"

static char *opt_group;
static int opt_port;
static char *opt_iface;
static char **opt_fps;
static int opt_ssh_port = 22;
static int opt_cores = 1;
static char *opt_instance;
static int opt_seq = 1;

static const GOptionEntry entries[] = {
	{ "group", 'g', 0, G_OPTION_ARG_STRING, &opt_group,
	  "Multicast group (default " BEACON_GROUP ")", "ADDR" },
	{ "port", 'p', 0, G_OPTION_ARG_INT, &opt_port,
	  "UDP port (default 7479)", "N" },
	{ "interface", 'i', 0, G_OPTION_ARG_STRING, &opt_iface,
	  "Only this interface", "IF" },
	{ "fingerprint", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_fps,
	  "A HELLO's host key fingerprint (repeatable)", "FP" },
	{ "ssh-port", 0, 0, G_OPTION_ARG_INT, &opt_ssh_port,
	  "A HELLO's SSH port (default 22)", "N" },
	{ "cores", 0, 0, G_OPTION_ARG_INT, &opt_cores,
	  "A HELLO's cores (default 1)", "N" },
	{ "instance", 0, 0, G_OPTION_ARG_STRING, &opt_instance,
	  "The instance (default random)", "N" },
	{ "seq", 0, 0, G_OPTION_ARG_INT, &opt_seq,
	  "The sequence number (default 1)", "N" },
	{ NULL }
};

/* A valid fingerprint that is no key's: 43 base64 digits of zeros. */
#define FAKE_FP "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static void
fake_beacon(struct beacon *b, enum beacon_kind kind, const char *name)
{
	guint i;

	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->instance = opt_instance ? g_ascii_strtoull(opt_instance, NULL, 0)
				   : beacon_random_id();
	b->seq = (guint32)opt_seq;
	g_strlcpy(b->name, name, sizeof(b->name));
	b->ssh_port = (guint16)opt_ssh_port;
	b->cores = (guint32)opt_cores;
	g_strlcpy(b->version, TRICKLE_VERSION, sizeof(b->version));
	b->interval = 30;
	for (i = 0; opt_fps && opt_fps[i] && i < BEACON_MAX_FINGERPRINTS; i++)
		g_strlcpy(b->fingerprints[i], opt_fps[i],
			  sizeof(b->fingerprints[i]));
	if (i == 0)
		g_strlcpy(b->fingerprints[i++], FAKE_FP,
			  sizeof(b->fingerprints[0]));
	b->n_fingerprints = i;
}

static gboolean
send_beacon(struct mcast *m, const struct beacon *b, GError **error)
{
	g_autoptr(GByteArray) out = g_byte_array_new();

	return beacon_encode(b, out, error) &&
	       mcast_send_group(m, out->data, out->len, error);
}

static void
append_random(GByteArray *out, guint n)
{
	guint k;

	for (k = 0; k < n; k++) {
		guint8 c = (guint8)g_random_int();

		g_byte_array_append(out, &c, 1);
	}
}

/* The i-th of a series of broken datagrams, made from a valid one. */
static void
make_junk(GByteArray *out, guint i, const GByteArray *valid)
{
	guint8 header[BEACON_HEADER_SIZE] = {'T', 'R', 'K', 'B', 1, 2, 0, 0};

	g_byte_array_set_size(out, 0);
	switch (i % 8) {
	case 0:		/* random bytes */
		append_random(out, g_random_int_range(0, BEACON_MAX_SIZE + 300));
		break;
	case 1:		/* truncated */
		g_byte_array_append(out, valid->data,
				    g_random_int_range(0, valid->len));
		break;
	case 2:		/* one byte changed */
		g_byte_array_append(out, valid->data, valid->len);
		out->data[g_random_int_range(0, valid->len)] ^=
			g_random_int_range(1, 256);
		break;
	case 3:		/* another version */
		g_byte_array_append(out, valid->data, valid->len);
		out->data[4] = 2;
		break;
	case 4:		/* an unknown kind */
		g_byte_array_append(out, valid->data, valid->len);
		out->data[5] = 9;
		break;
	case 5:		/* a PROBE below the minimum size */
		header[5] = BEACON_PROBE;
		g_byte_array_append(out, header, sizeof(header));
		g_byte_array_set_size(out, 100);
		memset(out->data + sizeof(header), 0, 100 - sizeof(header));
		break;
	case 6:		/* oversized */
		g_byte_array_append(out, valid->data, valid->len);
		g_byte_array_set_size(out, BEACON_MAX_SIZE + 200);
		memset(out->data + valid->len, 0, out->len - valid->len);
		break;
	default:	/* a HELLO header and a random body */
		g_byte_array_append(out, header, sizeof(header));
		append_random(out, g_random_int_range(0, 400));
		break;
	}
}

/* Send n probes, count the replies that come within a second. */
static gboolean
probe_flood(struct mcast *m, int n, GError **error)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GHashTable) from = g_hash_table_new_full(g_str_hash,
		g_str_equal, g_free, NULL);
	struct beacon b = {.kind = BEACON_PROBE, .nonce = beacon_random_id()};
	gint64 end;
	guint replies = 0;
	int i;

	if (!beacon_encode(&b, out, error))
		return FALSE;
	for (i = 0; i < n; i++)
		if (!mcast_send_group(m, out->data, out->len, error))
			return FALSE;
	end = g_get_monotonic_time() + G_USEC_PER_SEC;
	for (;;) {
		struct pollfd p = {.fd = m->fd, .events = POLLIN};
		gint64 left = end - g_get_monotonic_time();
		guint8 buf[BEACON_MAX_SIZE + 1];
		struct sockaddr_in sa;
		struct beacon r;
		gboolean trunc;
		gsize len;
		int got;

		if (left <= 0)
			break;
		if (poll(&p, 1, (int)(left / 1000) + 1) < 0 && errno != EINTR) {
			g_set_error(error, G_FILE_ERROR,
				    g_file_error_from_errno(errno), "poll: %s",
				    g_strerror(errno));
			return FALSE;
		}
		while ((got = mcast_recv(m, buf, sizeof(buf), &len, &sa, &trunc,
					 error)) == 1) {
			char addr[INET_ADDRSTRLEN];

			if (trunc || !beacon_decode(buf, len, &r, NULL) ||
			    r.kind != BEACON_HELLO || r.nonce != b.nonce ||
			    !inet_ntop(AF_INET, &sa.sin_addr, addr,
				       sizeof(addr)))
				continue;
			replies++;
			g_hash_table_add(from, g_strdup(addr));
		}
		if (got < 0)
			return FALSE;
	}
	printf("replies %u from %u\n", replies, g_hash_table_size(from));
	return TRUE;
}

static gboolean
forge(struct mcast *m, const char *what, const char *arg, GError **error)
{
	g_autoptr(GByteArray) valid = g_byte_array_new();
	g_autoptr(GByteArray) out = g_byte_array_new();
	struct beacon b;
	int i, n = atoi(arg);

	if (strcmp(what, "hello") == 0 || strcmp(what, "bye") == 0) {
		fake_beacon(&b, what[0] == 'h' ? BEACON_HELLO : BEACON_BYE, arg);
		return send_beacon(m, &b, error);
	}
	if (strcmp(what, "probe-flood") == 0)
		return probe_flood(m, n, error);
	if (strcmp(what, "flood") == 0) {
		for (i = 0; i < n; i++) {
			g_autofree char *name = g_strdup_printf("flood-%d", i);

			fake_beacon(&b, BEACON_HELLO, name);
			if (!send_beacon(m, &b, error))
				return FALSE;
			/* Not faster than a receive buffer can take. */
			if (i % 32 == 31)
				g_usleep(2000);
		}
		return TRUE;
	}
	/* junk */
	fake_beacon(&b, BEACON_HELLO, "junk");
	if (!beacon_encode(&b, valid, error))
		return FALSE;
	for (i = 0; i < n; i++) {
		make_junk(out, (guint)i, valid);
		if (!mcast_send_group(m, out->data, out->len, error))
			return FALSE;
		if (i % 32 == 31)
			g_usleep(2000);
	}
	return TRUE;
}

int
main(int argc, char **argv)
{
	static const char *const whats[] = {
		"hello", "bye", "flood", "junk", "probe-flood", NULL
	};
	g_autoptr(GOptionContext) ctx = NULL;
	g_autoptr(GError) error = NULL;
	struct mcast m;
	gboolean ok;

	ctx = g_option_context_new("hello NAME | bye NAME | flood N | junk N | "
				   "probe-flood N");
	g_option_context_set_summary(ctx, "Sends forged or broken discovery "
		"beacons to the group (for tests).");
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "beacon-forge: %s\n", error->message);
		return 2;
	}
	if (argc != 3 || !g_strv_contains(whats, argv[1]) ||
	    (strcmp(argv[1], "hello") != 0 && strcmp(argv[1], "bye") != 0 &&
	     atoi(argv[2]) <= 0)) {
		fprintf(stderr, "beacon-forge: usage: beacon-forge [OPTION...] "
			"hello NAME | bye NAME | flood N | junk N | "
			"probe-flood N\n");
		return 2;
	}
	if (opt_port < 0 || opt_port > 65535) {
		fprintf(stderr, "beacon-forge: bad port %d\n", opt_port);
		return 2;
	}
	if (!mcast_open(&m, opt_group, (guint16)opt_port, opt_iface, FALSE,
			&error)) {
		fprintf(stderr, "beacon-forge: %s\n", error->message);
		return 1;
	}
	ok = forge(&m, argv[1], argv[2], &error);
	mcast_close(&m);
	if (!ok) {
		fprintf(stderr, "beacon-forge: %s\n", error->message);
		return 1;
	}
	return 0;
}
