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
 * (Forged and broken beacons for the tests come from a test-only tool,
 * tests/tools/beacon-forge.c.)
 */
#include <errno.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>

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
	return discover();
}
