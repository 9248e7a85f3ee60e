/*
 * trickle-node - the node side of tricklefs.
 *
 * Started by tricklefs over an SSH exec channel (or directly, for local
 * VMs), it speaks the framed protocol of wire.h on stdin/stdout.  The same
 * executable serves as each VM's worker process (--worker) and as the
 * throw-away loader that vets injected shared objects (--check-load).
 * With --announce it is instead a small daemon that makes this host
 * discoverable on the local network (announce.h).
 */
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <glib.h>

#include "announce.h"
#include "bulkmem.h"
#include "node.h"
#include "session.h"
#include "share.h"
#include "stderrlog.h"
#include "wire.h"
#include "worker.h"

static gboolean opt_worker;
static gboolean opt_zygote;
static char *opt_check;
static char *opt_dir;
static gboolean opt_version;
static gint64 opt_first_object;
static gboolean opt_announce;
static gboolean opt_list_sessions;
static char *opt_remove_session;
static gint opt_max_vms;
static gint opt_cache_days = 7;
static char *opt_share;
static char *opt_share_keeper;
static gint opt_share_slots = -1;
static struct announce_options announce;
static char *opt_connect;
static char *opt_token;

static const GOptionEntry entries[] = {
	{ "dir", 'D', 0, G_OPTION_ARG_FILENAME, &opt_dir,
	  "Keep VM files under DIR (default: $XDG_RUNTIME_DIR/trickle-node)",
	  "DIR" },
	{ "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version,
	  "Print the version and exit", NULL },
	{ "announce", 0, 0, G_OPTION_ARG_NONE, &opt_announce,
	  "Run as the discovery daemon instead (see below)", NULL },
	{ "list-sessions", 0, 0, G_OPTION_ARG_NONE, &opt_list_sessions,
	  "List the sessions kept under the directory and exit", NULL },
	{ "remove-session", 0, 0, G_OPTION_ARG_STRING, &opt_remove_session,
	  "End session ID (its calls and files) and exit", "ID" },
	{ "max-vms", 0, 0, G_OPTION_ARG_INT, &opt_max_vms,
	  "Refuse a session of more than N VMs (1-1024, default 1024)",
	  "N" },
	{ "cache-days", 0, 0, G_OPTION_ARG_INT, &opt_cache_days,
	  "At start, remove cached injected files no session uses and "
	  "unused for N days (default 7; 0: every unused one)", "N" },
	{ "share", 0, 0, G_OPTION_ARG_STRING, &opt_share,
	  "Run calls in slots of this share of the node's cores: \"\" (the "
	  "node's, the default), NAME, NAME:SLOTS or off (default: "
	  "$TRICKLE_SHARE, else \"\")", "SHARE" },
	{ "share-keeper", 0, 0, G_OPTION_ARG_STRING, &opt_share_keeper,
	  "Hand out the slots of share NAME (\"\": the node's) until killed, "
	  "e.g. as a service (see SHARING in trickle-node(1))", "NAME" },
	{ "share-slots", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT,
	  &opt_share_slots, NULL, NULL },
	{ "connect", 0, 0, G_OPTION_ARG_STRING, &opt_connect,
	  "Connect to the mount at HOST:PORT (tricklefs -o slurm) and speak "
	  "the protocol there, not on stdin/stdout", "HOST:PORT" },
	{ "token", 0, 0, G_OPTION_ARG_STRING, &opt_token,
	  "With --connect: the name the mount knows this node by", "TOKEN" },
	{ "worker", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &opt_worker,
	  NULL, NULL },
	{ "zygote", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &opt_zygote,
	  NULL, NULL },
	{ "check-load", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME,
	  &opt_check, NULL, NULL },
	{ "first-object", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT64,
	  &opt_first_object, NULL, NULL },
	{ NULL }
};

static const GOptionEntry announce_entries[] = {
	{ "group", 0, 0, G_OPTION_ARG_STRING, &announce.group,
	  "Multicast group (default 239.255.84.76)", "ADDR" },
	{ "port", 0, 0, G_OPTION_ARG_INT, &announce.port,
	  "UDP port (default 7479)", "N" },
	{ "interface", 0, 0, G_OPTION_ARG_STRING, &announce.interface,
	  "Only this interface (default: every multicast one)", "IF" },
	{ "name", 0, 0, G_OPTION_ARG_STRING, &announce.name,
	  "Node name (default: the host name)", "NAME" },
	{ "ssh-port", 0, 0, G_OPTION_ARG_INT, &announce.ssh_port,
	  "SSH port to announce (default 22)", "N" },
	{ "host-key", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &announce.host_keys,
	  "SSH host public key to announce; repeat for several (default "
	  "/etc/ssh/ssh_host_*_key.pub)", "FILE.pub" },
	{ "interval", 0, 0, G_OPTION_ARG_INT, &announce.interval,
	  "Seconds between unsolicited HELLOs (default 30)", "S" },
	{ NULL }
};

/* Were options of --announce given (they mean nothing without it)? */
static gboolean
announce_options_given(void)
{
	return announce.group || announce.port || announce.interface ||
	       announce.name || announce.ssh_port || announce.host_keys ||
	       announce.interval;
}

int
main(int argc, char **argv)
{
	g_autoptr(GOptionContext) ctx = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = NULL;
	/* The zygote's workers show as --worker (the same length). */
	char *mode = argc > 1 ? argv[1] : NULL;

	bulkmem_init();
	/* One plain line per message on stderr, which tricklefs logs with
	 * the host's name in front. */
	g_log_set_writer_func(stderrlog_writer, NULL, NULL);
	ctx = g_option_context_new("- run Trickle VMs for tricklefs");
	g_option_context_set_summary(ctx, "Speaks the tricklefs protocol on "
		"standard input and output; tricklefs starts it, over SSH or "
		"directly.  See trickle-node(1).");
	g_option_context_add_main_entries(ctx, entries, NULL);
	{
		GOptionGroup *g = g_option_group_new("announce",
			"Options of --announce: answer discovery probes on "
			"UDP multicast (see trickle-node(1))",
			"Show the options of --announce", NULL, NULL);

		g_option_group_add_entries(g, announce_entries);
		g_option_context_add_group(ctx, g);
	}
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		g_printerr("trickle-node: %s\n", error->message);
		return 2;
	}
	if (opt_version) {
		printf("trickle-node %s (protocol %d)\n", TRICKLE_VERSION,
		       WIRE_PROTO_VERSION);
		return 0;
	}
	if (opt_announce && argc > 1) {
		g_printerr("trickle-node: unexpected argument '%s'\n",
			   argv[1]);
		return 2;
	}
	if (opt_announce)
		return announce_main(&announce);
	if (announce_options_given()) {
		g_printerr("trickle-node: those options need --announce\n");
		return 2;
	}
	if (opt_share_keeper)
		/* Started by a client (which says how many slots), it
		 * ends when its clients have; by hand, it stays. */
		return share_keeper_main(opt_share_keeper,
					 (guint)CLAMP(opt_share_slots, 0,
						      SHARE_MAX_SLOTS),
					 opt_share_slots < 0);
	if (opt_worker)
		return worker_main(3, (guint32)CLAMP(opt_first_object, 0,
							 G_MAXUINT32 - 1));
	if (opt_zygote)
		return zygote_main(3, mode);
	if (opt_check)
		return worker_check_load(opt_check);
	if (opt_max_vms < 0 || opt_max_vms > NODE_MAX_VMS) {
		g_printerr("trickle-node: --max-vms=%d: must be 1-%d\n",
			   opt_max_vms, NODE_MAX_VMS);
		return 2;
	}
	dir = opt_dir ? g_strdup(opt_dir)
		      : g_build_filename(g_get_user_runtime_dir(),
					 "trickle-node", NULL);
	if (opt_connect) {
		int fd = node_connect_back(opt_connect, opt_token, &error);

		if (fd < 0) {
			g_printerr("trickle-node: %s\n", error->message);
			return 1;
		}
		/* The connection is our stdin and stdout from here on. */
		if (dup2(fd, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0) {
			g_printerr("trickle-node: dup2: %s\n",
				   g_strerror(errno));
			return 1;
		}
		close(fd);
	}
	if (opt_list_sessions)
		return session_list(dir);
	if (opt_remove_session)
		return session_remove(dir, opt_remove_session);
	if (!opt_share)
		opt_share = g_strdup(g_getenv("TRICKLE_SHARE"));
	return node_run(dir, (guint)opt_max_vms, (guint)MAX(opt_cache_days, 0),
			opt_share ? opt_share : "");
}
