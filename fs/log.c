/*
 * log.c - where tricklefs's messages go: stderr in the foreground (and
 * until the mount is ready), then a log file if one was given, else
 * syslog.  Messages name the host or VM they are about.
 */
#include "log.h"

#include <stdio.h>
#include <syslog.h>
#include <unistd.h>

static FILE *logfile;
static gboolean detached;
static gboolean debug;
static gboolean foreground;	/* else only problems reach the terminal */

static GLogWriterOutput
writer(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer data)
{
	const char *msg = NULL;
	const char *tag = "";
	gsize i;
	int prio;

	for (i = 0; i < n; i++)
		if (g_strcmp0(fields[i].key, "MESSAGE") == 0)
			msg = fields[i].value;
	if (!msg)
		return G_LOG_WRITER_UNHANDLED;
	if ((level & G_LOG_LEVEL_DEBUG) && !debug)
		return G_LOG_WRITER_HANDLED;
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
		tag = "error: ";
		prio = LOG_ERR;
	} else if (level & G_LOG_LEVEL_WARNING) {
		tag = "warning: ";
		prio = LOG_WARNING;
	} else if (level & G_LOG_LEVEL_DEBUG) {
		tag = "debug: ";
		prio = LOG_DEBUG;
	} else {
		prio = LOG_INFO;
	}
	if (logfile) {
		g_autoptr(GDateTime) now = g_date_time_new_now_local();
		g_autofree char *ts = g_date_time_format(now, "%F %T");
		fprintf(logfile, "%s tricklefs[%d]: %s%s\n", ts, getpid(), tag,
			msg);
		fflush(logfile);
	}
	if (detached && !logfile)
		syslog(prio, "%s%s", tag, msg);
	else if (!detached && ((!logfile && foreground) ||
				(level & G_LOG_LEVEL_WARNING) || prio == LOG_ERR))
		fprintf(stderr, "tricklefs: %s%s\n", tag, msg);
	return G_LOG_WRITER_HANDLED;
}

void
tfs_log_init(const struct cluster_options *opt)
{
	debug = opt->debug || g_getenv("G_MESSAGES_DEBUG");
	foreground = opt->foreground;
	if (opt->logfile) {
		logfile = fopen(opt->logfile, "ae");
		if (!logfile)
			fprintf(stderr, "tricklefs: cannot open %s: %m\n",
				opt->logfile);
	}
	g_log_set_writer_func(writer, NULL, NULL);
}

void
tfs_log_detach(void)
{
	detached = TRUE;
	openlog("tricklefs", LOG_PID, LOG_DAEMON);
}
