/*
 * stderrlog.h - GLib messages as one plain line each on stderr, for the
 * small programs (trickle-node, trickle-discover): "PREFIX[warning: ]text".
 * Debug messages only with G_MESSAGES_DEBUG set.
 *
 *	g_log_set_writer_func(stderrlog_writer, "trickle-discover: ", NULL);
 */
#pragma once

#include <glib.h>

/* user_data: a prefix for every line, or NULL. */
GLogWriterOutput stderrlog_writer(GLogLevelFlags level,
				  const GLogField *fields, gsize n,
				  gpointer user_data);
