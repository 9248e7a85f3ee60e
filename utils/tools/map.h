/*
 * map.h - the parts of trickle-map: where its items come from and how
 * they make call lines (map_items.c), its joblog and --resume
 * (map_joblog.c), its options (map_opts.c), where calls are forked and
 * how they are forgotten (map_targets.c), files copied through a VM's
 * data/ (map_transfer.c), and the main loop that forks and joins the
 * calls (trickle-map.c).
 */
#pragma once

#include <glib.h>
#include <signal.h>
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
/* --pipe: the stream is taken in blocks of about block bytes, cut after
 * the first delimiter at or past block (the last one ends at the end);
 * items_ready, items_done and items_left then count blocks. */
void items_set_block(struct items *it, gsize block);
/* The next block, or NULL if none is ready. */
GBytes *items_take_block(struct items *it);

/*
 * FUNC ARG... with replacement strings ({} {.} {/} {//} {/.} {#} {N},
 * and {N.} {N/}... for one value): a word holding one is rebuilt for
 * every job; without any, the values are appended as words.
 */
struct template;

struct template *template_new(char **words, int n);
void template_free(struct template *t);
gboolean template_has_repl(struct template *t);
/* The words for job seq with values (owned strings); without a
 * replacement string, the values are appended if append says so. */
GPtrArray *template_words(struct template *t, guint64 seq, GPtrArray *vals,
			  gboolean append);
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
/* Job seq was forked as target/calls/id (FILE.calls, for --resume). */
void joblog_forked(struct joblog *l, guint64 seq, const char *target,
		   guint32 id);

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
/* An earlier run forked job seq as target/calls/id: FALSE if not. */
gboolean resume_forked(struct resume *r, guint64 seq, const char **target,
		       guint32 *id);

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
	GPtrArray *transfer, *returns;	/* --transferfile, --return words */
	gboolean cleanup;
	gboolean pipe;		/* --pipe: stdin in blocks, a call's each */
	gsize block;		/* --block, bytes */
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

/* The command's FUNC: its first word after NAME=VALUE words; NULL if
 * it is made by replacement strings. */
const char *map_func(char **cmd, int ncmd);

/* ---------------------------------------------------------------- progress */

/* --bar: done of all (if known) calls, ended and failed of them, since
 * t0 (tc_mono()); at most ten times a second unless last. */
void bar_draw(double t0, guint64 done, guint64 ended, guint64 failed,
	      gboolean known, guint64 all, gboolean last);
/* Clear the bar's line (before other output on stderr). */
void bar_clear(void);
/* --halt: has the end of a job (exit code code) made it fire?  *status
 * gets GNU parallel's exit status for it. */
gboolean halt_fires(const struct map_opts *o, int code, guint64 ended,
		    guint64 failed, guint64 total, int *status);

/* ---------------------------------------------------------------- targets */

/* A calls/ directory calls are forked on: MOUNT/.any, or MOUNT/VM. */
struct target {
	char *name;		/* ".any" or the VM: its lines' prefix in .done */
	char *dir;		/* MOUNT/NAME */
	int callsfd, newfd;
	guint index;		/* its place, for job keys */
	guint outstanding;	/* our calls forked there, not yet ended */
	gboolean usable;
};

struct targets;

/*
 * The target of --vm VM, or of .any; or, with pick, the VMs that
 * targets_pick() chooses from (FUNC: a VM must have it, NULL: any).
 * NULL with error set.
 */
struct targets *targets_open(const char *mount, const char *vm,
			     const char *func, gboolean pick, GError **error);
void targets_free(struct targets *ts);
/* The target of a .done line's prefix (NULL: not ours). */
struct target *targets_find(struct targets *ts, const char *name, gsize len);
struct target *targets_get(struct targets *ts, guint index);
/* Where to fork the next call: the one target, or the usable VM with the
 * fewest calls outstanding.  NULL: none now (wait and ask again); with
 * error set: none will be (no VM has FUNC). */
struct target *targets_pick(struct targets *ts, GError **error);
/* Do not pick t until .ctl has been read again, or (the one target of
 * .any or --vm) for a second: its node went away. */
void targets_unusable(struct targets *ts, struct target *t);
/* Forget an ended call (rmdir); while its node is unreachable, later. */
void targets_forget(struct targets *ts, struct target *t, guint32 id);
/* Try again the calls not yet forgotten (at most twice a second): how
 * many are left. */
guint targets_forget_again(struct targets *ts);
/* At the end: keep trying for secs (a signal in mask stops it), then name
 * on stderr the calls left. */
void targets_forget_wait(struct targets *ts, double secs,
			 const sigset_t *mask);

/* ---------------------------------------------------------------- transfer */

#define MAP_TRANSFER_ERROR map_transfer_error_quark()
GQuark map_transfer_error_quark(void);
enum {
	MAP_TRANSFER_FAILED,	/* the job's failure */
	MAP_TRANSFER_VM_DOWN,	/* the VM's node is away: try another */
};

struct transfer;

/* NULL when neither --transferfile nor --return is given. */
struct transfer *transfer_new(GPtrArray *send, GPtrArray *ret,
			      gboolean cleanup);
void transfer_free(struct transfer *tr);
/* A job's files, after its replacement strings (NULL-terminated). */
void transfer_names(struct transfer *tr, guint64 seq, GPtrArray *vals,
		    char ***send, char ***ret);
/* Copy the files into VMDIR/data/ before the call is forked there. */
gboolean transfer_send(struct transfer *tr, const char *vmdir, char **send,
		       GError **error);
/* Copy the --return files back after the call ended (call_ok: it
 * succeeded, so every one must be there). */
gboolean transfer_return(struct transfer *tr, const char *vmdir, char **ret,
			 gboolean call_ok, GError **error);
/* The job is over on VMDIR: --cleanup removes its files from data/. */
void transfer_cleanup(struct transfer *tr, const char *vmdir, char **send,
		      char **ret);
/* --pipe: a call's block into its calls/ID/stdin (closed: it starts);
 * a block that cannot be written cancels the call.  FALSE with error. */
gboolean transfer_stdin(int callsfd, guint32 id, GBytes *block,
			GError **error);

/* trickle-map.c: a run's jobs and their calls. */
struct job {
	guint64 seq;		/* input order, from 1 */
	guint32 id;		/* 0: never forked */
	struct target *tg;	/* where it was forked */
	guint64 key;		/* tg's index and id: in m->running */
	char **send, **ret;	/* --transferfile, --return: its files */
	GBytes *block;		/* --pipe: its stdin, until written */
	guint64 sent;		/* bytes sent: its line, or its block */
	char *line;		/* the call line, without its newline */
	char *tag;		/* --tag: the items and a tab */
	double start, mono;	/* when forked: epoch, monotonic */
	double runtime;
	char *status;
	char *host;
	guint64 received;
	int code;		/* exit code, as trickle-run's */
	gboolean skipped;	/* --resume: done by an earlier run */
	gboolean adopted;	/* --resume: an earlier run's call, joined */
	gboolean bad;		/* an item no call line can carry */
	struct tc_held out, err;	/* --ordered: waiting for its turn */
};

struct map {
	struct map_opts *o;
	struct targets *targets;	/* where calls are forked */
	struct transfer *tr;	/* NULL: no files to transfer */
	struct template *tmpl;
	GString *opts;		/* call options of every line, quoted */
	struct joblog *joblog;
	struct resume *resume;
	int donefd;
	struct items *items;
	/* calls */
	struct job *held;	/* taken, waiting for a VM to take it */
	GHashTable *running;	/* key -> struct job */
	GHashTable *ready;	/* seq -> struct job, ended, waiting */
	guint64 seq, print_seq, ended, failed, skipped;
	gboolean halting;
	int halt_status;	/* -1 until --halt fires */
	GString *done;		/* .done text not yet a whole line */
	struct tc_spill spill;	/* --ordered: what waits */
	double t0;		/* --bar: when we began */
};

/* Say why on stderr, cancel what is outstanding, exit 255. */
_Noreturn void map_die(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* A write to stdout/stderr failed: a closed pipe ends us quietly. */
_Noreturn void map_output_failed(GError *error);
void job_free(struct job *j);

/* map_output.c: an ended job's output, now or (--keep-order) in turn. */
void map_put_output(struct map *m, struct job *j, int out, struct tc_held *h,
		    const char *buf, size_t n, gboolean *bol);
/* Copy (or hold in h) its file name of calls/ID/; -1 with errno set. */
int map_take_file(struct map *m, struct job *j, const char *name, int out,
		  struct tc_held *h);
/* A failed job says so on stderr. */
void map_emit_status(struct job *j);
/* --keep-order: print the held jobs whose turn has come. */
void map_flush_ready(struct map *m, gboolean skip_holes);
