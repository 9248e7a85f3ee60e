/*
 * trickle-node - the node side of tricklefs.
 *
 * Started by tricklefs over an SSH exec channel (or directly, for local
 * VMs), it speaks the framed protocol of wire.h on stdin/stdout.  The same
 * executable serves as each VM's worker process (--worker) and as the
 * throw-away loader that vets injected shared objects (--check-load).
 */
#include <stdio.h>
#include <stdlib.h>
#include <glib.h>

#include "node.h"
#include "worker.h"

static gboolean opt_worker;
static char *opt_check;
static char *opt_dir;
static gboolean opt_version;
static gint64 opt_first_object;

/* One plain line per message on stderr, which tricklefs logs with the
 * host's name in front. */
static GLogWriterOutput
writer(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer data)
{
	gsize i;

	if ((level & G_LOG_LEVEL_DEBUG) && !g_getenv("G_MESSAGES_DEBUG"))
		return G_LOG_WRITER_HANDLED;
	for (i = 0; i < n; i++) {
		if (g_strcmp0(fields[i].key, "MESSAGE") != 0)
			continue;
		fprintf(stderr, "%s%s\n",
			level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL |
				 G_LOG_LEVEL_ERROR) ? "warning: " : "",
			(const char *)fields[i].value);
		return G_LOG_WRITER_HANDLED;
	}
	return G_LOG_WRITER_UNHANDLED;
}

static const GOptionEntry entries[] = {
	{ "dir", 'D', 0, G_OPTION_ARG_FILENAME, &opt_dir,
	  "Keep VM files under DIR (default: $XDG_RUNTIME_DIR/trickle-node)",
	  "DIR" },
	{ "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version,
	  "Print the version and exit", NULL },
	{ "worker", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &opt_worker,
	  NULL, NULL },
	{ "check-load", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME,
	  &opt_check, NULL, NULL },
	{ "first-object", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT64,
	  &opt_first_object, NULL, NULL },
	{ NULL }
};

int
main(int argc, char **argv)
{
	g_autoptr(GOptionContext) ctx = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = NULL;

	g_log_set_writer_func(writer, NULL, NULL);
	ctx = g_option_context_new("- run Trickle VMs for tricklefs");
	g_option_context_set_summary(ctx, "Speaks the tricklefs protocol on "
		"standard input and output; tricklefs starts it, over SSH or "
		"directly.  See trickle-node(1).");
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		g_printerr("trickle-node: %s\n", error->message);
		return 2;
	}
	if (opt_version) {
		printf("trickle-node %s (protocol %d)\n", TRICKLE_VERSION,
		       WIRE_PROTO_VERSION);
		return 0;
	}
	if (opt_worker)
		return worker_main(3, (guint32)CLAMP(opt_first_object, 0,
							 G_MAXUINT32 - 1));
	if (opt_check)
		return worker_check_load(opt_check);
	dir = opt_dir ? g_strdup(opt_dir)
		      : g_build_filename(g_get_user_runtime_dir(),
					 "trickle-node", NULL);
	return node_run(dir);
}
