/*
 * log.c - where tricklefs's messages go: stderr in the foreground (and
 * until the mount is ready), then a log file if one was given, else
 * syslog; and, whatever else, the ring that MOUNT/.log reads
 * (cluster/logring.c).  Messages name the host or VM they are about.
 *
 * Where there is no syslog (no /dev/log socket, as in many containers)
 * and no -o logfile, a mount in the background logs to
 * $XDG_STATE_HOME/tricklefs/NAME.log, and says so on the terminal once.
 */
#include "log.h"
#include "logring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/stat.h>

#define SYSLOG_SOCKET "/dev/log"

static FILE *logfile;
static char *fallback;		/* the file used for want of syslog */
static gboolean detached;
static gboolean debug;
static gboolean foreground;	/* else only problems reach the terminal */

static GLogWriterOutput
writer(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer data)
{
	const char *msg = NULL;
	const char *tag = "", *name = "info";
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
		name = "error";
		prio = LOG_ERR;
	} else if (level & G_LOG_LEVEL_WARNING) {
		tag = "warning: ";
		name = "warning";
		prio = LOG_WARNING;
	} else if (level & G_LOG_LEVEL_DEBUG) {
		tag = "debug: ";
		name = "debug";
		prio = LOG_DEBUG;
	} else {
		prio = LOG_INFO;
	}
	logring_add(logring_default(), g_get_real_time(), name, msg);
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

/* Is there a syslog daemon to hear us? */
static gboolean
have_syslog(void)
{
	struct stat st;

	return stat(SYSLOG_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* $XDG_STATE_HOME/tricklefs/NAME.log, NAME as the state directory's. */
static char *
fallback_path(const struct cluster_options *opt, const char *mountpoint)
{
	g_autofree char *mp = mountpoint ? realpath(mountpoint, NULL) : NULL;
	g_autofree char *dir = journal_default_dir(
		opt->name ? opt->name : mp ? mp : mountpoint ? mountpoint : "-");

	return g_strconcat(dir, ".log", NULL);
}

void
tfs_log_init(const struct cluster_options *opt, const char *mountpoint)
{
	debug = opt->debug || g_getenv("G_MESSAGES_DEBUG");
	foreground = opt->foreground;
	if (opt->logfile) {
		logfile = fopen(opt->logfile, "ae");
		if (!logfile)
			fprintf(stderr, "tricklefs: cannot open %s: %m\n",
				opt->logfile);
	} else if (!foreground && !have_syslog()) {
		g_autofree char *path = fallback_path(opt, mountpoint);
		g_autofree char *dir = g_path_get_dirname(path);

		if (g_mkdir_with_parents(dir, 0700) != 0 ||
		    !(logfile = fopen(path, "ae")))
			fprintf(stderr, "tricklefs: no syslog here, and cannot "
				"open %s: %s; only MOUNT/.log will have the "
				"messages\n", path, g_strerror(errno));
		else
			fallback = g_steal_pointer(&path);
	}
	g_log_set_writer_func(writer, NULL, NULL);
}

void
tfs_log_detach(const char *mountpoint)
{
	if (fallback)
		fprintf(stderr, "tricklefs: no syslog here (%s): messages go "
			"to %s and %s/.log\n", SYSLOG_SOCKET, fallback,
			mountpoint);
	detached = TRUE;
	openlog("tricklefs", LOG_PID, LOG_DAEMON);
}
