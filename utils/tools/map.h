/*
 * map.h - the parts of trickle-map: where its items come from and how
 * they make call lines (map_items.c), its joblog and --resume
 * (map_joblog.c), its options (map_opts.c), and the main loop that forks
 * and joins the calls (trickle-map.c).
 */
#pragma once

#include <glib.h>
#include <stdio.h>

#include "tclient.h"

/* ---------------------------------------------------------------- items */

/*
 * The items: a stream (stdin, or the first :::: file) read as far as it
 * is needed, or words of the command line (:::), and further sources held
 * whole.  With several sources every combination is an item, the last
 * source varying fastest, as GNU parallel's; an item is then a tuple of
 * one value per source.
 */
struct items;

/* argv: what follows FUNC ARG..., from its first ::: or :::: to the end
 * (NULL/0: stdin).  delim ends a value of a stream ('\n', or '\0' for
 * -0).  NULL with error set. */
struct items *items_new(char **argv, int argc, char delim, GError **error);
void items_free(struct items *it);
/* The number of sources (values per tuple). */
guint items_nsrc(struct items *it);
/* Is the stream the terminal (for the warning)? */
gboolean items_from_tty(struct items *it);
/* The fd to poll for more, or -1 when nothing is left to read. */
int items_fd(struct items *it);
/* Read more after poll said the fd is readable: FALSE with error set. */
gboolean items_read(struct items *it, GError **error);
/* Everything has been read (the total is known). */
gboolean items_eof(struct items *it);
/* Bytes read and not yet taken. */
gsize items_buffered(struct items *it);
/* n tuples can be taken now (or fewer, the last ones). */
gboolean items_ready(struct items *it, int n);
/* No tuple is left, nor will be. */
gboolean items_done(struct items *it);
/* Tuples read and not yet taken (every one left once items_eof()). */
guint64 items_left(struct items *it);
/* Append the next tuple's values (owned strings) to vals: FALSE if none
 * is ready. */
gboolean items_take(struct items *it, GPtrArray *vals);

/*
 * FUNC ARG... with replacement strings ({} {.} {/} {//} {/.} {#} {N},
 * and {N.} {N/}... for one value): a word holding one is rebuilt for
 * every job; without any, the values are appended as words.
 */
struct template;

struct template *template_new(char **words, int n);
void template_free(struct template *t);
gboolean template_has_repl(struct template *t);
/* The call line (quoted words) for job seq with values (the tuples of
 * its chunk, flattened).  NULL with error set (a value holding a
 * newline, which no call line can carry). */
char *template_line(struct template *t, const char *prefix, guint64 seq,
		    GPtrArray *vals, GError **error);

/* ---------------------------------------------------------------- joblog */

struct joblog;

/*
 * Open the joblog: "-" is stdout, "+FILE" appends (as does resume);
 * the header is written unless appending to a file that has lines.
 * NULL with error set.
 */
struct joblog *joblog_open(const char *spec, gboolean resume,
			   GError **error);
/* A line per ended job; flushed, so that a killed run can be resumed. */
void joblog_write(struct joblog *l, guint64 seq, const char *host,
		  double start, double runtime, gsize send, guint64 received,
		  int exitval, int signo, const char *command);
gboolean joblog_close(struct joblog *l, GError **error);

/*
 * What a joblog says was done (--resume, --resume-failed): per Seq the
 * last line's Exitval and Command.
 */
struct resume;

struct resume *resume_load(const char *spec, gboolean failed,
			   GError **error);
void resume_free(struct resume *r);
/* Should job seq with this line be skipped?  A Seq whose Command was
 * another line is run, with a warning (once) on stderr. */
gboolean resume_skip(struct resume *r, guint64 seq, const char *line);

/* ---------------------------------------------------------------- options */

enum halt_on { HALT_NEVER, HALT_FAIL, HALT_SUCCESS, HALT_DONE };

struct map_opts {
	const char *mount, *vm;
	int chunk, maxjobs;
	gboolean ordered, bar, tag, dry_run;
	char delim;
	int retries;		/* tries, as GNU parallel counts: 0 none */
	const char *timeout;	/* seconds, as given */
	const char *workdir;
	const char *joblog;
	gboolean resume, resume_failed;
	enum halt_on halt_on;
	gboolean halt_now;
	guint64 halt_count;	/* or, with halt_pct, percent */
	gboolean halt_pct;
	const char *halt_spec;
	/* FUNC ARG..., then the sources */
	char **cmd;
	int ncmd;
	char **sources;
	int nsources;
};

/* Parse argv (exits on --help, --version and errors). */
void map_parse_options(struct map_opts *o, int argc, char **argv);
/* The call options every line starts with (--retries, --timeout). */
GString *map_call_options(struct map_opts *o);
/* -j's default: 4 calls per VM directory of the mount, at least 8. */
int map_default_jobs(const char *mount);
