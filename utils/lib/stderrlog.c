/*
 * stderrlog.c - GLib messages as plain lines on stderr (see stderrlog.h).
 */
#include "stderrlog.h"

#include <stdio.h>

GLogWriterOutput
stderrlog_writer(GLogLevelFlags level, const GLogField *fields, gsize n,
		 gpointer user_data)
{
	const char *prefix = user_data ? user_data : "";
	gsize i;

	if ((level & G_LOG_LEVEL_DEBUG) && !g_getenv("G_MESSAGES_DEBUG"))
		return G_LOG_WRITER_HANDLED;
	for (i = 0; i < n; i++) {
		if (g_strcmp0(fields[i].key, "MESSAGE") != 0)
			continue;
		fprintf(stderr, "%s%s%s\n", prefix,
			level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL |
				 G_LOG_LEVEL_ERROR) ? "warning: " : "",
			(const char *)fields[i].value);
		return G_LOG_WRITER_HANDLED;
	}
	return G_LOG_WRITER_UNHANDLED;
}
