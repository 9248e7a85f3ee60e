/*
 * trickle-map - the paper's forkwork/forkgen for the shell, with GNU
 * parallel's interface: every item (a line of stdin, a word after :::, a
 * line of a file after ::::) goes into FUNC ARG... (at its replacement
 * strings, or at the end), CHUNK items a call, and the calls go out on
 * MOUNT/.any so that every VM stays busy.
 *
 *   trickle-map [OPTION]... FUNC [ARG...] [::: ITEM... | :::: FILE...]
 *
 * At most N calls are outstanding, and a stream of items is read only as
 * far as they need (and 1 MiB ahead), so a generator may be endless.
 * Ends are learnt from MOUNT/.done (opened before the first fork), never
 * by polling status files: poll(2) watches it beside the stream (the
 * mount makes it readable when a line is waiting), so one thread does
 * everything.  Each ended call's stdout is written in one piece (in input
 * order with --ordered, spilling to a temp file what waits), then its
 * stderr; then the call is forgotten.  A call the mount runs again (lost
 * with its node; failed, with --retries) ends once, with its last run.
 * Exit status: the number of failed calls, at most 101, as GNU parallel
 * (--halt has its own); 255 on our own errors; 128+signal when
 * interrupted (outstanding calls are cancelled).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "map.h"

#define FORK_BATCH	(60 * 1024)	/* bytes of lines per write(2) */
#define MAX_LINE	(128 * 1024)	/* the mount takes a bit more */
#define MEM_BUFFERED	(16 << 20)	/* --ordered: then spill to a file */
#define READ_SIZE	(64 * 1024)
#define READ_AHEAD	(1024 * 1024)	/* input read before it is needed */

static const char *prog = "trickle-map";

struct job {
	guint64 seq;		/* input order, from 1 */
	guint32 id;		/* 0: never forked */
	char *line;		/* the call line, without its newline */
	char *tag;		/* --tag: the items and a tab */
	double start, mono;	/* when forked: epoch, monotonic */
	double runtime;
	char *status;
	char *host;
	guint64 received;
	int code;		/* exit code, as trickle-run's */
	gboolean skipped;	/* --resume: done by an earlier run */
	gboolean bad;		/* an item no call line can carry */
	struct tc_held out, err;	/* --ordered: waiting for its turn */
};

struct map {
	struct map_opts *o;
	const char *prefix;	/* of our lines in .done */
	char *dir;		/* MOUNT/.any or MOUNT/VM */
	struct template *tmpl;
	GString *opts;		/* call options of every line, quoted */
	struct joblog *joblog;
	struct resume *resume;
	/* descriptors */
	int callsfd, newfd, donefd;
	struct items *items;
	/* calls */
	GHashTable *running;	/* id -> struct job */
	GHashTable *ready;	/* seq -> struct job, ended, waiting */
	guint64 seq, print_seq, ended, failed, skipped;
	gboolean halting;
	int halt_status;	/* -1 until --halt fires */
	GString *done;		/* .done text not yet a whole line */
	struct tc_spill spill;	/* --ordered: what waits */
	/* --bar */
	double t0, drawn;
};

static volatile sig_atomic_t got_signal;
static gboolean bar_shown;
static struct map *outstanding;	/* calls to cancel if we die */

static void cancel_all(struct map *m);
static void clear_bar(void);

static _Noreturn void G_GNUC_PRINTF(1, 2)
die(const char *fmt, ...)
{
	va_list ap;

	clear_bar();
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (outstanding)
		cancel_all(outstanding);
	exit(TC_EXIT_OTHER);
}

static void
on_signal(int sig)
{
	if (!got_signal)
		got_signal = sig;
}

/* ---------------------------------------------------------------- output */

/* A write to stdout/stderr failed: a closed pipe ends us quietly. */
static _Noreturn void
output_failed(GError *error)
{
	if (g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_PIPE)) {
		if (outstanding)
			cancel_all(outstanding);
		exit(TC_EXIT_OTHER);
	}
	die("%s", error->message);
}

/* Some of a call's output: written now, or held in h for its turn;
 * with --tag every line starts with the job's tag (*bol: at a line's
 * start). */
static void
put_output(struct map *m, struct job *j, int out, struct tc_held *h,
	   const char *buf, size_t n, gboolean *bol)
{
	g_autoptr(GString) tagged = NULL;
	g_autoptr(GError) error = NULL;

	if (j->tag) {
		tagged = g_string_sized_new(n + 64);
		for (size_t i = 0; i < n; i++) {
			if (*bol)
				g_string_append(tagged, j->tag);
			g_string_append_c(tagged, buf[i]);
			*bol = buf[i] == '\n';
		}
		buf = tagged->str;
		n = tagged->len;
	}
	if (h) {
		if (!tc_hold_bytes(&m->spill, h, buf, n, &error))
			die("%s", error->message);
		return;
	}
	clear_bar();	/* output does not share its line */
	if (fdio_write_all(out, buf, n) < 0) {
		g_set_error(&error, G_FILE_ERROR,
			    g_file_error_from_errno(errno),
			    "writing output: %s", strerror(errno));
		output_failed(error);
	}
}

/* Copy (or hold) one of the call's files; -1 with errno set. */
static int
take_file(struct map *m, struct job *j, const char *name, int out,
	  struct tc_held *h)
{
	char path[32], buf[READ_SIZE];
	gboolean bol = TRUE;
	struct stat st;
	int fd, r = 0, e;
	ssize_t n;

	snprintf(path, sizeof(path), "%u/%s", j->id, name);
	/* The call has ended, so its sizes are final: an empty stream (the
	 * usual stderr, a function that keeps its result in VM state)
	 * costs one stat, not an open, a read and a close. */
	if (fstatat(m->callsfd, path, &st, 0) == 0 && st.st_size == 0)
		return 0;
	if ((fd = openat(m->callsfd, path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -1;
			break;
		}
		put_output(m, j, out, h, buf, n, &bol);
		if (out == STDOUT_FILENO)
			j->received += n;
	}
	e = errno;
	close(fd);
	errno = e;
	return r;
}

static void
job_free(struct job *j)
{
	g_free(j->line);
	g_free(j->tag);
	g_free(j->status);
	g_free(j->host);
	g_free(j);
}

/* A failed job says so on stderr, as GNU parallel's "This job failed". */
static void
emit_status(struct job *j)
{
	const char *why;

	if (j->code == 0 || j->skipped)
		return;
	why = g_str_has_prefix(j->status, "failed ") ? j->status + 7
						    : j->status;
	clear_bar();
	fprintf(stderr, "%s: item %" G_GUINT64_FORMAT " failed (%s): %s\n",
		prog, j->seq, why, j->line);
}

/* --ordered: print the waiting calls whose turn has come. */
static void
flush_ready(struct map *m, gboolean skip_holes)
{
	g_autoptr(GError) error = NULL;
	struct job *j;

	for (;;) {
		j = g_hash_table_lookup(m->ready, &m->print_seq);
		if (!j && skip_holes && g_hash_table_size(m->ready)) {
			m->print_seq++;
			continue;
		}
		if (!j)
			return;
		g_hash_table_steal(m->ready, &m->print_seq);
		if (j->out.len || j->err.len)
			clear_bar();	/* output does not share its line */
		if (!tc_release(&m->spill, &j->out, STDOUT_FILENO, &error) ||
		    !tc_release(&m->spill, &j->err, STDERR_FILENO, &error))
			output_failed(error);
		emit_status(j);
		job_free(j);
		m->print_seq++;
	}
}

/* A job is out of our hands: its output now, or held for its turn. */
static void
retire(struct map *m, struct job *j)
{
	if (m->o->ordered && j->seq != m->print_seq) {
		g_hash_table_insert(m->ready, &j->seq, j);
		return;
	}
	emit_status(j);
	job_free(j);
	if (m->o->ordered) {
		m->print_seq++;
		flush_ready(m, FALSE);
	}
}

/* ---------------------------------------------------------------- halt */

static guint64
jobs_total(struct map *m)
{
	return m->seq + (items_left(m->items) + m->o->chunk - 1) /
		m->o->chunk;
}

/* --halt: has the end of a job (with exit code code) made it fire?
 * Exit status as parallel's. */
static void
check_halt(struct map *m, int code)
{
	struct map_opts *o = m->o;
	guint64 limit, total = jobs_total(m);
	double need = o->halt_count;

	if (m->halting || o->halt_on == HALT_NEVER)
		return;
	if (o->halt_on == HALT_FAIL)
		limit = code ? m->failed : 0;
	else if (o->halt_on == HALT_SUCCESS)
		limit = code ? 0 : m->ended - m->failed;
	else
		limit = m->ended;
	/* A percentage is of every job: the input was read whole. */
	if (o->halt_pct)
		need = total * (o->halt_count / 100.0);
	if (!limit || limit < need)
		return;
	m->halting = TRUE;
	if (o->halt_on == HALT_SUCCESS)
		m->halt_status = 0;
	else if (o->halt_pct)
		m->halt_status = (int)ceil(m->failed * 100.0 / MAX(total, 1));
	else if (o->halt_count == 1)
		m->halt_status = code;
	else
		m->halt_status = MIN(m->failed, 101);
	clear_bar();
	if (o->halt_now && g_hash_table_size(m->running)) {
		fprintf(stderr, "%s: --halt %s: Starting no more jobs. "
			"Cancelling %u jobs.\n", prog, o->halt_spec,
			g_hash_table_size(m->running));
		got_signal = -1;	/* cancel the rest, like ^C */
	} else if (g_hash_table_size(m->running)) {
		fprintf(stderr, "%s: --halt %s: Starting no more jobs. "
			"Waiting for %u jobs to finish.\n", prog,
			o->halt_spec, g_hash_table_size(m->running));
	} else {
		fprintf(stderr, "%s: --halt %s: Starting no more jobs.\n",
			prog, o->halt_spec);
	}
}

/* ---------------------------------------------------------------- calls */

/* A call has ended with status: output, joblog, forget it.  A forked
 * one is still in m->running. */
static void
finish(struct map *m, struct job *j, const char *status)
{
	gboolean now = !m->o->ordered || j->seq == m->print_seq;
	char name[16];
	int signo, code;

	j->runtime = j->id ? tc_mono() - j->mono : 0;
	j->status = g_strdup(status);
	j->code = tc_status_code(status, &signo);
	if (j->code < 0)
		j->code = TC_EXIT_OTHER;
	if (j->id) {
		if (take_file(m, j, "stdout", STDOUT_FILENO,
			      now ? NULL : &j->out) < 0 ||
		    take_file(m, j, "stderr", STDERR_FILENO,
			      now ? NULL : &j->err) < 0)
			fprintf(stderr, "%s: %s/calls/%u: output: %s\n", prog,
				m->dir, j->id, strerror(errno));
		if (m->joblog && !m->o->vm) {
			snprintf(name, sizeof(name), "%u/vm", j->id);
			if ((j->host = tc_read_small(m->callsfd, name, 256,
						     NULL)))
				tc_chomp(j->host);
		} else if (m->o->vm) {
			j->host = g_strdup(m->o->vm);
		}
		snprintf(name, sizeof(name), "%u", j->id);
		if (unlinkat(m->callsfd, name, AT_REMOVEDIR) < 0)
			fprintf(stderr, "%s: rmdir %s/calls/%s: %s\n", prog,
				m->dir, name, strerror(errno));
		/* Only now: if we die copying its output, it is forgotten
		 * with the outstanding ones. */
		g_hash_table_steal(m->running, GUINT_TO_POINTER(j->id));
	}
	joblog_write(m->joblog, j->seq, j->host, j->start, j->runtime,
		     j->id ? strlen(j->line) + 1 : 0, j->received, j->code,
		     signo, j->line);
	m->ended++;
	if (j->code != 0)
		m->failed++;
	/* Its failure is told before the halt it makes. */
	code = j->code;
	retire(m, j);
	check_halt(m, code);
}

/* Cancel every outstanding call and forget what we can. */
static void
cancel_all(struct map *m)
{
	GHashTableIter it;
	gpointer val;
	char path[32];

	g_hash_table_iter_init(&it, m->running);
	while (g_hash_table_iter_next(&it, NULL, &val)) {
		struct job *j = val;

		snprintf(path, sizeof(path), "%u/ctl", j->id);
		tc_write_file(m->callsfd, path, "cancel\n");
	}
	g_hash_table_iter_init(&it, m->running);
	while (g_hash_table_iter_next(&it, NULL, &val)) {
		struct job *j = val;

		snprintf(path, sizeof(path), "%u", j->id);
		unlinkat(m->callsfd, path, AT_REMOVEDIR);
		g_hash_table_iter_remove(&it);
		job_free(j);
	}
}

/* The .done text that came in: finish the calls that are ours, those
 * whose path is PREFIX/calls/N. */
static void
take_done(struct map *m, const char *buf, size_t len)
{
	size_t plen = strlen(m->prefix), used = 0;
	char *p, *nl;

	g_string_append_len(m->done, buf, len);
	for (p = m->done->str; (nl = strchr(p, '\n')); p = nl + 1) {
		unsigned long id;
		struct job *j;
		char *q, *end;

		*nl = '\0';
		used = nl + 1 - m->done->str;
		if (strncmp(p, m->prefix, plen) != 0 ||
		    !g_str_has_prefix(p + plen, "/calls/"))
			continue;
		q = p + plen + strlen("/calls/");
		id = strtoul(q, &end, 10);
		if (end == q || *end != ' ' || id > G_MAXUINT32)
			continue;
		if (!(j = g_hash_table_lookup(m->running, GUINT_TO_POINTER(id))))
			continue;
		finish(m, j, end + 1);
		if (got_signal)
			break;
	}
	g_string_erase(m->done, 0, used);
}

/* ---------------------------------------------------------------- input */

/* The next chunk as a new job (its line built, not yet forked); an item
 * no call line can carry ends the job at once. */
static struct job *
take_chunk(struct map *m)
{
	g_autoptr(GPtrArray) vals = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	struct job *j = g_new0(struct job, 1);

	for (int n = 0; n < m->o->chunk && items_take(m->items, vals); n++)
		;
	j->seq = ++m->seq;
	if (m->o->tag) {
		GString *t = g_string_new(NULL);

		for (guint i = 0; i < vals->len; i++)
			g_string_append_printf(t, "%s%s", i ? " " : "",
					       (char *)vals->pdata[i]);
		g_string_append_c(t, '\t');
		j->tag = g_string_free(t, FALSE);
	}
	if (!(j->line = template_line(m->tmpl, m->opts->str, j->seq, vals,
				      &error))) {
		j->bad = TRUE;
		j->line = g_strdup_printf("(%s)", error->message);
	}
	return j;
}

/* Fork a batch of jobs with one write(2). */
static void
fork_batch(struct map *m, GString *lines, GPtrArray *jobs)
{
	g_autofree guint32 *ids = g_new(guint32, jobs->len);
	double start = tc_now(), mono = tc_mono();
	guint i;

	if (!jobs->len)
		return;
	if (tc_fork(m->newfd, lines->str, lines->len, ids, jobs->len) < 0)
		die("%s/calls/new: %s", m->dir, strerror(errno));
	for (i = 0; i < jobs->len; i++) {
		struct job *j = jobs->pdata[i];

		j->id = ids[i];
		j->start = start;
		j->mono = mono;
		g_hash_table_insert(m->running, GUINT_TO_POINTER(j->id), j);
	}
	g_string_truncate(lines, 0);
	g_ptr_array_set_size(jobs, 0);
}

/* The next job, unless it is not to run: done by an earlier run
 * (--resume), or its line cannot be a call.  NULL: none to run now. */
static struct job *
next_job(struct map *m)
{
	while (items_ready(m->items, m->o->chunk)) {
		struct job *j = take_chunk(m);

		if (resume_skip(m->resume, j->seq, j->line)) {
			j->skipped = TRUE;
			m->skipped++;
			retire(m, j);
			continue;
		}
		if (j->bad)
			finish(m, j, "failed an item cannot be in a call line");
		else if (strlen(j->line) > MAX_LINE)
			finish(m, j, "failed call line too long");
		else
			return j;
		if (m->halting || got_signal)
			break;
	}
	return NULL;
}

/* Fork what the items have ready, as far as the room for calls goes. */
static void
launch(struct map *m)
{
	g_autoptr(GString) lines = g_string_new(NULL);
	g_autoptr(GPtrArray) jobs = g_ptr_array_new();
	struct job *j;

	/* --halt N%: a percentage of every job, so all are read first. */
	if (m->o->halt_pct && !items_eof(m->items))
		return;
	while (!m->halting && !got_signal &&
	       g_hash_table_size(m->running) + jobs->len <
	       (guint)m->o->maxjobs && (j = next_job(m))) {
		size_t len = strlen(j->line);

		if (lines->len + len + 1 > FORK_BATCH)
			fork_batch(m, lines, jobs);
		g_string_append_len(lines, j->line, len);
		g_string_append_c(lines, '\n');
		g_ptr_array_add(jobs, j);
	}
	fork_batch(m, lines, jobs);
}

/* --dry-run: the lines, without a mount. */
static void
dry_run(struct map *m)
{
	g_autoptr(GError) error = NULL;
	struct job *j;

	for (;;) {
		while (!items_ready(m->items, m->o->chunk) &&
		       !items_done(m->items))
			if (!items_read(m->items, &error))
				die("%s", error->message);
		if (!(j = next_job(m)))
			break;
		printf("%s\n", j->line);
		job_free(j);
	}
	if (fflush(stdout) != 0)
		die("writing output: %s", strerror(errno));
}

/* ---------------------------------------------------------------- progress */

/* The bar, at most ten times a second unless last (the final count). */
static void
draw_bar(struct map *m, gboolean last)
{
	double now = tc_mono(), rate;
	guint64 done = m->ended + m->skipped;
	char total[32] = "?", eta[32] = "?";

	if (!m->o->bar || (now - m->drawn < 0.1 && !last))
		return;
	m->drawn = now;
	rate = now > m->t0 ? m->ended / (now - m->t0) : 0;
	if (items_eof(m->items) && !m->halting) {
		guint64 all = jobs_total(m);

		snprintf(total, sizeof(total), "%" G_GUINT64_FORMAT, all);
		if (rate > 0) {
			long s = (long)((all - done) / rate + 0.5);

			snprintf(eta, sizeof(eta), "%ld:%02ld:%02ld", s / 3600,
				 s / 60 % 60, s % 60);
		}
	}
	fprintf(stderr, "\r%s: %" G_GUINT64_FORMAT "/%s calls, %"
		G_GUINT64_FORMAT " failed, %.1f/s, ETA %s\033[K", prog, done,
		total, m->failed, rate, eta);
	fflush(stderr);
	bar_shown = TRUE;
}

static void
clear_bar(void)
{
	if (bar_shown)
		fputs("\r\033[K", stderr);
	bar_shown = FALSE;
}

/* ---------------------------------------------------------------- main */

/* Wait for .done text or items; with the signals only let in here. */
static void
wait_events(struct map *m, const char *mount, const sigset_t *open_mask)
{
	struct pollfd p[2] = {
		{ .fd = m->donefd, .events = POLLIN },
		{ .fd = items_fd(m->items), .events = POLLIN },
	};
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	g_autoptr(GError) error = NULL;
	char buf[READ_SIZE];
	/* Input when there is room for a call, and a little ahead (so that
	 * the end of the input, and with it the total, is seen early);
	 * all of it for a --halt percentage. */
	gboolean want_input = p[1].fd >= 0 && !m->halting &&
	    (g_hash_table_size(m->running) < (guint)m->o->maxjobs ||
	     items_buffered(m->items) < READ_AHEAD || m->o->halt_pct);
	ssize_t n;

	if (ppoll(p, want_input ? 2 : 1, m->o->bar ? &tick : NULL,
		  open_mask) < 0) {
		if (errno == EINTR)
			return;
		die("poll: %s", strerror(errno));
	}
	/* POLLIN: a line is waiting, so the read does not block (and the
	 * signals are blocked again: no EINTR).  POLLERR and the like: the
	 * read says what went wrong. */
	if (p[0].revents) {
		n = read(m->donefd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EINTR))
			die("reading %s/.done: %s", mount,
			    n == 0 ? "it ended" : strerror(errno));
		if (n > 0)
			take_done(m, buf, n);
	}
	if (want_input && p[1].revents && !items_read(m->items, &error))
		die("%s", error->message);
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *mount = NULL, *calls = NULL, *newpath = NULL;
	g_auto(GStrv) wrapped = NULL;
	struct map_opts o;
	struct map m = { .o = &o, .print_seq = 1, .halt_status = -1,
			  .spill = TC_SPILL_INIT(MEM_BUFFERED) };
	sigset_t open_mask;
	char **cmd;
	int ncmd;

	map_parse_options(&o, argc, argv);
	cmd = o.cmd;
	ncmd = o.ncmd;
	if (o.workdir) {
		if (!(wrapped = tc_workdir_words(cmd, ncmd, o.workdir,
						 &error)))
			die("%s", error->message);
		cmd = wrapped;
		ncmd = g_strv_length(wrapped);
	}
	/* A newline in FUNC ARG... fails every job: say so once, now. */
	for (int i = 0; i < ncmd; i++)
		if (strchr(cmd[i], '\n'))
			die("an argument holds a newline, which a call line "
			    "cannot carry");
	m.tmpl = template_new(cmd, ncmd);
	m.opts = map_call_options(&o);
	if (!(m.items = items_new(o.sources, o.nsources, o.delim, &error)))
		die("%s", error->message);
	if (items_from_tty(m.items))
		fprintf(stderr, "%s: reading items from the terminal (end them "
			"with ^D; or give them after ::: or through a pipe)\n",
			prog);
	if (o.resume && !(m.resume = resume_load(o.joblog, o.resume_failed,
						 &error)))
		die("%s", error->message);
	m.running = g_hash_table_new(NULL, NULL);
	m.ready = g_hash_table_new(g_int64_hash, g_int64_equal);
	if (o.dry_run) {
		int status;

		dry_run(&m);
		status = m.failed ? TC_EXIT_OTHER : 0;
		g_hash_table_destroy(m.running);
		g_hash_table_destroy(m.ready);
		g_string_free(m.opts, TRUE);
		template_free(m.tmpl);
		items_free(m.items);
		resume_free(m.resume);
		g_free(o.sources);
		return status;
	}
	if (!(mount = tc_mount(o.mount, &error)) ||
	    !(m.dir = tc_calls_parent(mount, o.vm, &error)))
		die("%s", error->message);
	m.prefix = tc_done_prefix(o.vm);
	if (!o.maxjobs)
		o.maxjobs = map_default_jobs(mount);
	if (!o.bar)
		o.bar = isatty(STDERR_FILENO);
	if (o.joblog && !(m.joblog = joblog_open(o.joblog, o.resume, &error)))
		die("%s", error->message);

	/* Signals get in only while we wait in ppoll(2): no EINTR anywhere
	 * else, and no blocking read of .done or the items they would have
	 * to interrupt. */
	tc_signals_for_ppoll(on_signal, &open_mask);

	calls = g_build_filename(m.dir, "calls", NULL);
	newpath = g_build_filename(calls, "new", NULL);
	if ((m.callsfd = open(calls, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die("%s: %s", calls, strerror(errno));
	/* .done first: no call may end before we listen. */
	if ((m.donefd = tc_done_open(mount, &error)) < 0)
		die("%s", error->message);
	if ((m.newfd = open(newpath, O_RDWR | O_CLOEXEC)) < 0)
		die("%s: %s", newpath, strerror(errno));
	m.done = g_string_new(NULL);
	m.t0 = tc_mono();
	outstanding = &m;

	for (;;) {
		launch(&m);
		if (got_signal)
			break;
		if (!g_hash_table_size(m.running) &&
		    (m.halting || items_done(m.items)))
			break;
		draw_bar(&m, FALSE);
		wait_events(&m, mount, &open_mask);
	}
	if (got_signal)
		cancel_all(&m);
	flush_ready(&m, TRUE);
	draw_bar(&m, TRUE);
	clear_bar();
	if (!joblog_close(m.joblog, &error))
		die("%s", error->message);
	outstanding = NULL;
	close(m.donefd);
	close(m.newfd);
	close(m.callsfd);
	g_hash_table_destroy(m.running);	/* empty by now */
	g_hash_table_destroy(m.ready);
	g_string_free(m.done, TRUE);
	g_string_free(m.opts, TRUE);
	template_free(m.tmpl);
	items_free(m.items);
	resume_free(m.resume);
	g_free(o.sources);
	g_free(m.dir);
	if (m.spill.fd >= 0)
		close(m.spill.fd);
	if (got_signal > 0)
		return 128 + got_signal;
	if (m.halt_status >= 0)
		return m.halt_status;
	return MIN(m.failed, 101);
}
