/*
 * map_joblog.c - trickle-map's joblog, in GNU parallel's format (a
 * header, then a tab-separated line per job as it ends), and --resume /
 * --resume-failed, which read it back: a job whose Seq has a line with
 * the same Command was done (and, for --resume-failed, succeeded) and is
 * not run again.
 *
 * Beside a joblog FILE, FILE.calls gets a line per forked job, "Seq
 * TARGET ID" (TARGET a VM directory or .any), as it is forked: a run
 * killed outright (kill -9, the machine) leaves its calls running on the
 * mount, and --resume joins those instead of forking them again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "map.h"

#define JOBLOG_HEADER "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\t" \
	"Exitval\tSignal\tCommand\n"

struct joblog {
	FILE *f;
	char *path;		/* NULL for stdout */
	FILE *calls;		/* FILE.calls; NULL for stdout */
};

struct joblog *
joblog_open(const char *spec, gboolean resume, GError **error)
{
	struct joblog *l = g_new0(struct joblog, 1);
	gboolean append = resume || spec[0] == '+';
	const char *path = spec[0] == '+' ? spec + 1 : spec;
	struct stat st;

	if (strcmp(spec, "-") == 0) {
		l->f = stdout;
		fputs(JOBLOG_HEADER, l->f);
		fflush(l->f);
		return l;
	}
	if (!*path) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "--joblog %s: no file name", spec);
		g_free(l);
		return NULL;
	}
	if (!(l->f = fopen(path, append ? "ae" : "we"))) {
		int e = errno;

		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
			    "%s: %s", path, g_strerror(e));
		g_free(l);
		return NULL;
	}
	l->path = g_strdup(path);
	{
		g_autofree char *cp = g_strconcat(path, ".calls", NULL);

		/* Without it, a resume forks again; say so, go on. */
		if (!(l->calls = fopen(cp, append ? "ae" : "we")))
			fprintf(stderr, "trickle-map: %s: %s\n", cp,
				g_strerror(errno));
	}
	/* Appending to a log that has lines: they have the header. */
	if (!append || (fstat(fileno(l->f), &st) == 0 && st.st_size == 0))
		fputs(JOBLOG_HEADER, l->f);
	fflush(l->f);
	return l;
}

void
joblog_write(struct joblog *l, guint64 seq, const char *host, double start,
	     double runtime, gsize send, guint64 received, int exitval,
	     int signo, const char *command)
{
	if (!l)
		return;
	fprintf(l->f, "%" G_GUINT64_FORMAT "\t%s\t%.3f\t%.3f\t%zu\t%"
		G_GUINT64_FORMAT "\t%d\t%d\t%s\n", seq,
		host && *host ? host : "-", start, runtime, send, received,
		exitval, signo, command);
	/* Line by line: a run that is killed leaves a log --resume can
	 * trust (a line is only written once the job's output is out). */
	fflush(l->f);
}

void
joblog_forked(struct joblog *l, guint64 seq, const char *target, guint32 id)
{
	if (!l || !l->calls)
		return;
	fprintf(l->calls, "%" G_GUINT64_FORMAT "\t%s\t%u\n", seq, target, id);
	fflush(l->calls);
}

gboolean
joblog_close(struct joblog *l, GError **error)
{
	gboolean ok = TRUE;

	if (!l)
		return TRUE;
	if (l->calls)
		fclose(l->calls);
	if (l->path) {
		if (fclose(l->f) != 0) {
			int e = errno;

			g_set_error(error, G_FILE_ERROR,
				    g_file_error_from_errno(e), "%s: %s",
				    l->path, g_strerror(e));
			ok = FALSE;
		}
	} else if (fflush(l->f) != 0) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_IO,
			    "writing the joblog to stdout: %s",
			    g_strerror(errno));
		ok = FALSE;
	}
	g_free(l->path);
	g_free(l);
	return ok;
}

/* ---------------------------------------------------------------- resume */

struct done_job {
	int exitval;
	char *command;
};

struct forked {
	char *target;
	guint32 id;
};

struct resume {
	GHashTable *jobs;	/* guint64 Seq -> struct done_job */
	GHashTable *forked;	/* guint64 Seq -> struct forked: FILE.calls */
	gboolean failed;	/* --resume-failed */
	char *path;
	gboolean warned;
};

static void
done_job_free(struct done_job *d)
{
	g_free(d->command);
	g_free(d);
}

static void
forked_free(struct forked *f)
{
	g_free(f->target);
	g_free(f);
}

/* FILE.calls: the calls forked by earlier runs (the last per Seq). */
static void
load_forked(struct resume *r)
{
	g_autofree char *cp = g_strconcat(r->path, ".calls", NULL);
	g_autofree char *text = NULL;
	char *line, *next;

	if (!g_file_get_contents(cp, &text, NULL, NULL))
		return;		/* none: nothing to join */
	for (line = text; *line; line = next) {
		g_auto(GStrv) f = NULL;
		struct forked *fk;
		guint64 seq, id, *key;

		if (!(next = strchr(line, '\n')))
			break;		/* a torn last line */
		*next++ = '\0';
		f = g_strsplit(line, "\t", 3);
		if (g_strv_length(f) != 3 || !*f[1] ||
		    !g_ascii_string_to_unsigned(f[0], 10, 1, G_MAXUINT64,
						&seq, NULL) ||
		    !g_ascii_string_to_unsigned(f[2], 10, 1, G_MAXUINT32,
						&id, NULL))
			continue;
		fk = g_new0(struct forked, 1);
		fk->target = g_strdup(f[1]);
		fk->id = (guint32)id;
		key = g_new(guint64, 1);
		*key = seq;
		g_hash_table_replace(r->forked, key, fk);
	}
}

struct resume *
resume_load(const char *spec, gboolean failed, GError **error)
{
	struct resume *r;
	const char *path = spec[0] == '+' ? spec + 1 : spec;
	g_autofree char *text = NULL;
	g_autoptr(GError) err = NULL;
	char *line, *next;

	if (strcmp(spec, "-") == 0) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "--resume needs --joblog FILE (not -): it reads "
			    "the file back");
		return NULL;
	}
	/* No log yet: nothing was done. */
	if (!g_file_get_contents(path, &text, NULL, &err) &&
	    !g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
		g_propagate_error(error, g_steal_pointer(&err));
		return NULL;
	}
	r = g_new0(struct resume, 1);
	r->jobs = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
					(GDestroyNotify)done_job_free);
	r->forked = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
					  (GDestroyNotify)forked_free);
	r->failed = failed;
	r->path = g_strdup(path);
	load_forked(r);
	for (line = text; line && *line; line = next) {
		char *f[9], *p = line, *end;
		struct done_job *d;
		guint64 seq, *key;
		int i;

		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		/* Seq ... Signal, then the Command (which may hold tabs). */
		for (i = 0; i < 8 && p; i++) {
			f[i] = p;
			if ((p = strchr(p, '\t')))
				*p++ = '\0';
		}
		if (i < 8 || !p)
			continue;	/* the header, or a torn line */
		f[8] = p;
		seq = g_ascii_strtoull(f[0], &end, 10);
		if (end == f[0] || *end || seq == 0)
			continue;
		d = g_new0(struct done_job, 1);
		d->exitval = atoi(f[6]);
		d->command = g_strdup(f[8]);
		key = g_new(guint64, 1);
		*key = seq;
		/* The last line of a Seq wins (a --resume-failed rerun). */
		g_hash_table_replace(r->jobs, key, d);
	}
	return r;
}

void
resume_free(struct resume *r)
{
	if (!r)
		return;
	g_hash_table_destroy(r->jobs);
	g_hash_table_destroy(r->forked);
	g_free(r->path);
	g_free(r);
}

gboolean
resume_skip(struct resume *r, guint64 seq, const char *line)
{
	struct done_job *d;

	if (!r || !(d = g_hash_table_lookup(r->jobs, &seq)))
		return FALSE;
	if (strcmp(d->command, line) != 0) {
		/* Other input or another command: the log does not say
		 * this one was done. */
		if (!r->warned)
			fprintf(stderr, "trickle-map: %s: job %" G_GUINT64_FORMAT
				" was another command (%s); running the jobs "
				"whose command differs\n", r->path, seq,
				d->command);
		r->warned = TRUE;
		return FALSE;
	}
	return !(r->failed && d->exitval != 0);
}

gboolean
resume_forked(struct resume *r, guint64 seq, const char **target,
	      guint32 *id)
{
	struct forked *f;

	if (!r || !(f = g_hash_table_lookup(r->forked, &seq)))
		return FALSE;
	*target = f->target;
	*id = f->id;
	return TRUE;
}
