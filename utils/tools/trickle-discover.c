/*
 * trickle-discover - find the trickle-nodes that announce themselves on
 * the local network (trickle-node --announce), with utils/discover.c.
 *
 *   trickle-discover [--group ADDR] [--port N] [--interface IF]
 *                    [--timeout S] [--watch] [--verbose]
 *
 * Probes the group and prints one line per node heard within the timeout:
 * "NAME ADDRESS SSH_PORT CORES VERSION FINGERPRINT[,FINGERPRINT...]".
 * With --watch it prints events as they come instead ("hello", "changed",
 * "bye", "expired" and the node's fields) until the timeout, if any, or a
 * signal.  Exit status: 0, 1 if no node answered (without --watch), 2 on
 * errors.
 *
 * Hidden options, for tests, send forged or broken beacons to the group
 * and exit: --send-hello NAME (with --fingerprint, --ssh-port, --cores,
 * --instance, --seq), --send-bye NAME (with --instance, --seq),
 * --send-flood N (HELLOs from N names), --send-junk N (malformed
 * datagrams); --probe-flood N sends N probes and prints how many replies
 * came back within a second.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <glib-unix.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beacon.h"
#include "discover.h"
#include "stderrlog.h"

static char *opt_group;
static int opt_port;
static char *opt_iface;
static double opt_timeout = -1;
static gboolean opt_watch;
static gboolean opt_verbose;
static gboolean opt_version;
/* Test options. */
static char *opt_send_hello;
static char *opt_send_bye;
static int opt_send_flood;
static int opt_send_junk;
static int opt_probe_flood;
static char **opt_fps;
static int opt_ssh_port = 22;
static int opt_cores = 1;
static char *opt_instance;
static int opt_seq = 1;

#define HIDDEN G_OPTION_FLAG_HIDDEN

static const GOptionEntry entries[] = {
	{ "group", 'g', 0, G_OPTION_ARG_STRING, &opt_group,
	  "Multicast group (default " BEACON_GROUP ")", "ADDR" },
	{ "port", 'p', 0, G_OPTION_ARG_INT, &opt_port,
	  "UDP port (default 7479)", "N" },
	{ "interface", 'i', 0, G_OPTION_ARG_STRING, &opt_iface,
	  "Only this interface (default: every multicast one)", "IF" },
	{ "timeout", 't', 0, G_OPTION_ARG_DOUBLE, &opt_timeout,
	  "Listen this long (default 2; with --watch, until a signal)", "S" },
	{ "watch", 'w', 0, G_OPTION_ARG_NONE, &opt_watch,
	  "Print nodes as they come and go", NULL },
	{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose,
	  "Print counts of datagrams at the end", NULL },
	{ "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version,
	  "Print the version and exit", NULL },
	{ "send-hello", 0, HIDDEN, G_OPTION_ARG_STRING, &opt_send_hello,
	  NULL, NULL },
	{ "send-bye", 0, HIDDEN, G_OPTION_ARG_STRING, &opt_send_bye,
	  NULL, NULL },
	{ "send-flood", 0, HIDDEN, G_OPTION_ARG_INT, &opt_send_flood,
	  NULL, NULL },
	{ "send-junk", 0, HIDDEN, G_OPTION_ARG_INT, &opt_send_junk,
	  NULL, NULL },
	{ "probe-flood", 0, HIDDEN, G_OPTION_ARG_INT, &opt_probe_flood,
	  NULL, NULL },
	{ "fingerprint", 0, HIDDEN, G_OPTION_ARG_STRING_ARRAY, &opt_fps,
	  NULL, NULL },
	{ "ssh-port", 0, HIDDEN, G_OPTION_ARG_INT, &opt_ssh_port,
	  NULL, NULL },
	{ "cores", 0, HIDDEN, G_OPTION_ARG_INT, &opt_cores, NULL, NULL },
	{ "instance", 0, HIDDEN, G_OPTION_ARG_STRING, &opt_instance,
	  NULL, NULL },
	{ "seq", 0, HIDDEN, G_OPTION_ARG_INT, &opt_seq, NULL, NULL },
	{ NULL }
};

static void
print_node(const char *event, const struct discover_node *n)
{
	guint i;

	if (event)
		printf("%s ", event);
	printf("%s %s %u %u %s ", n->hello.name, n->address, n->hello.ssh_port,
	       n->hello.cores, n->hello.version);
	for (i = 0; i < n->hello.n_fingerprints; i++)
		printf("%s%s", i ? "," : "", n->hello.fingerprints[i]);
	putchar('\n');
}

static void
on_event(enum discover_event event, const struct discover_node *n,
	 gpointer user)
{
	if (!opt_watch)
		return;
	switch (event) {
	case DISCOVER_FOUND:
		print_node("hello", n);
		break;
	case DISCOVER_CHANGED:
		print_node(n->restarted ? "restarted" : "changed", n);
		break;
	case DISCOVER_BYE:
		printf("bye %s %s\n", n->hello.name, n->address);
		break;
	case DISCOVER_EXPIRED:
		printf("expired %s %s\n", n->hello.name, n->address);
		break;
	}
	fflush(stdout);
}

static gboolean
quit(gpointer loop)
{
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

static gboolean
probe_again(gpointer d)
{
	g_autoptr(GError) error = NULL;

	if (!discover_probe(d, &error))
		g_warning("%s", error->message);
	return G_SOURCE_REMOVE;
}

static int
discover(void)
{
	struct discover_options opt = {
		.group = opt_group,
		.port = (guint16)opt_port,
		.interface = opt_iface,
	};
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) nodes = NULL;
	struct discover_stats st;
	struct discover *d;
	guint i;

	if (opt_timeout < 0)
		opt_timeout = opt_watch ? 0 : 2;
	if (!opt_watch && opt_timeout <= 0) {
		fprintf(stderr, "trickle-discover: --timeout must be positive\n");
		return 2;
	}
	d = discover_new(&opt, on_event, NULL, &error);
	if (!d) {
		fprintf(stderr, "trickle-discover: %s\n", error->message);
		return 2;
	}
	if (!discover_probe(d, &error)) {
		fprintf(stderr, "trickle-discover: probing: %s\n",
			error->message);
		discover_free(d);
		return 2;
	}
	/* A second probe in case the first was lost. */
	g_timeout_add(1000, probe_again, d);
	if (opt_timeout > 0)
		g_timeout_add((guint)(opt_timeout * 1000), quit, loop);
	g_unix_signal_add(SIGINT, quit, loop);
	g_unix_signal_add(SIGTERM, quit, loop);
	g_main_loop_run(loop);

	nodes = discover_nodes(d);
	if (!opt_watch)
		for (i = 0; i < nodes->len; i++)
			print_node(NULL, nodes->pdata[i]);
	discover_get_stats(d, &st);
	if (opt_verbose)
		fprintf(stderr, "trickle-discover: received %u, malformed %u, "
			"unexpected %u, stale %u, refused %u, nodes %u\n",
			st.received, st.malformed, st.unexpected, st.stale,
			st.refused, nodes->len);
	discover_free(d);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "trickle-discover: writing: %s\n",
			g_strerror(errno));
		return 2;
	}
	if (!opt_watch && nodes->len == 0) {
		fprintf(stderr, "trickle-discover: no node answered within "
			"%g s\n", opt_timeout);
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------ tests */

/* A valid fingerprint that is no key's: 43 base64 digits of zeros. */
#define FAKE_FP "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static gboolean
fake_beacon(struct beacon *b, enum beacon_kind kind, const char *name,
	    GError **error)
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
	return TRUE;
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

/* Send N probes, count the replies that come within a second. */
static int
probe_flood(struct mcast *m)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GError) error = NULL;
	GHashTable *from = g_hash_table_new_full(g_str_hash, g_str_equal,
						 g_free, NULL);
	struct beacon b = {.kind = BEACON_PROBE, .nonce = beacon_random_id()};
	gint64 end;
	guint replies = 0;
	int i;

	if (!beacon_encode(&b, out, &error))
		goto fail;
	for (i = 0; i < opt_probe_flood; i++)
		if (!mcast_send_group(m, out->data, out->len, &error))
			goto fail;
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
			g_set_error(&error, G_FILE_ERROR,
				    g_file_error_from_errno(errno), "poll: %s",
				    g_strerror(errno));
			goto fail;
		}
		while ((got = mcast_recv(m, buf, sizeof(buf), &len, &sa, &trunc,
					 &error)) == 1) {
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
			goto fail;
	}
	printf("replies %u from %u\n", replies, g_hash_table_size(from));
	g_hash_table_unref(from);
	return 0;

fail:
	fprintf(stderr, "trickle-discover: %s\n", error->message);
	g_hash_table_unref(from);
	return 2;
}

static int
send_tests(void)
{
	g_autoptr(GByteArray) valid = g_byte_array_new();
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GError) error = NULL;
	struct mcast m;
	struct beacon b;
	int i, rc = 0;

	if (!mcast_open(&m, opt_group, (guint16)opt_port, opt_iface, FALSE,
			&error)) {
		fprintf(stderr, "trickle-discover: %s\n", error->message);
		return 2;
	}
	if (opt_probe_flood > 0) {
		rc = probe_flood(&m);
		mcast_close(&m);
		return rc;
	}
	if (opt_send_hello && (!fake_beacon(&b, BEACON_HELLO, opt_send_hello,
					    &error) ||
			       !send_beacon(&m, &b, &error)))
		goto fail;
	if (opt_send_bye && (!fake_beacon(&b, BEACON_BYE, opt_send_bye,
					  &error) ||
			     !send_beacon(&m, &b, &error)))
		goto fail;
	for (i = 0; i < opt_send_flood; i++) {
		g_autofree char *name = g_strdup_printf("flood-%d", i);

		if (!fake_beacon(&b, BEACON_HELLO, name, &error) ||
		    !send_beacon(&m, &b, &error))
			goto fail;
		/* Not faster than a receive buffer can take. */
		if (i % 32 == 31)
			g_usleep(2000);
	}
	if (opt_send_junk > 0) {
		if (!fake_beacon(&b, BEACON_HELLO, "junk", &error) ||
		    !beacon_encode(&b, valid, &error))
			goto fail;
		for (i = 0; i < opt_send_junk; i++) {
			make_junk(out, i, valid);
			if (!mcast_send_group(&m, out->data, out->len, &error))
				goto fail;
			if (i % 32 == 31)
				g_usleep(2000);
		}
	}
	mcast_close(&m);
	return 0;

fail:
	fprintf(stderr, "trickle-discover: %s\n", error->message);
	mcast_close(&m);
	return 2;
}

int
main(int argc, char **argv)
{
	g_autoptr(GOptionContext) ctx = NULL;
	g_autoptr(GError) error = NULL;

	g_log_set_writer_func(stderrlog_writer, "trickle-discover: ", NULL);
	ctx = g_option_context_new("- find trickle-nodes on the local network");
	g_option_context_set_summary(ctx, "Probes the discovery group and "
		"prints one line per node that answers:\n"
		"NAME ADDRESS SSH_PORT CORES VERSION FINGERPRINTS.  "
		"See trickle-discover(1).");
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "trickle-discover: %s\n", error->message);
		return 2;
	}
	if (argc > 1) {
		fprintf(stderr, "trickle-discover: unexpected argument '%s'\n",
			argv[1]);
		return 2;
	}
	if (opt_version) {
		printf("trickle-discover %s (beacon protocol %d)\n",
		       TRICKLE_VERSION, BEACON_VERSION);
		return 0;
	}
	if (opt_port < 0 || opt_port > 65535) {
		fprintf(stderr, "trickle-discover: bad port %d\n", opt_port);
		return 2;
	}
	/* Broken output pipes are reported by fflush, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	if (opt_send_hello || opt_send_bye || opt_send_flood > 0 ||
	    opt_send_junk > 0 || opt_probe_flood > 0)
		return send_tests();
	return discover();
}
