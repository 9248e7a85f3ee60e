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
 * With files to transfer the calls go to VMs picked here instead, each
 * after its files were copied (map_targets.c, map_transfer.c).
 * Exit status: the number of failed calls, at most 101, as GNU parallel
 * (--halt has its own); 255 on our own errors; 128+signal when
 * interrupted (outstanding calls are cancelled).
 */
#include <errno.h>
#include <fcntl.h>
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

static volatile sig_atomic_t got_signal;
static struct map *outstanding;	/* calls to cancel if we die */

static void cancel_all(struct map *m);

_Noreturn void
map_die(const char *fmt, ...)
{
	va_list ap;

	bar_clear();
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
_Noreturn void
map_output_failed(GError *error)
{
	if (g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_PIPE)) {
		if (outstanding)
			cancel_all(outstanding);
		exit(TC_EXIT_OTHER);
	}
	map_die("%s", error->message);
}

void
job_free(struct job *j)
{
	g_free(j->line);
	g_free(j->tag);
	g_free(j->status);
	g_free(j->host);
	g_strfreev(j->send);
	g_strfreev(j->ret);
	if (j->block)
		g_bytes_unref(j->block);
	g_free(j);
}

/* A job is out of our hands: its output now, or held for its turn. */
static void
retire(struct map *m, struct job *j)
{
	if (m->o->ordered && j->seq != m->print_seq) {
		g_hash_table_insert(m->ready, &j->seq, j);
		return;
	}
	map_emit_status(j);
	job_free(j);
	if (m->o->ordered) {
		m->print_seq++;
		map_flush_ready(m, FALSE);
	}
}

/* ---------------------------------------------------------------- halt */

static guint64
jobs_total(struct map *m)
{
	return m->seq + (items_left(m->items) + m->o->chunk - 1) /
		m->o->chunk;
}

/* --halt: has the end of a job (with exit code code) made it fire? */
static void
check_halt(struct map *m, int code)
{
	struct map_opts *o = m->o;
	guint n = g_hash_table_size(m->running);

	if (m->halting || !halt_fires(o, code, m->ended, m->failed,
				      jobs_total(m), &m->halt_status))
		return;
	m->halting = TRUE;
	bar_clear();
	fprintf(stderr, "%s: --halt %s: Starting no more jobs.", prog,
		o->halt_spec);
	if (n && o->halt_now) {
		fprintf(stderr, " Cancelling %u jobs.", n);
		got_signal = -1;	/* cancel the rest, like ^C */
	} else if (n) {
		fprintf(stderr, " Waiting for %u jobs to finish.", n);
	}
	fputc('\n', stderr);
}

/* ---------------------------------------------------------------- calls */

/* After the call of a job with files: --return, --cleanup.  A file
 * that cannot come back fails a job that succeeded. */
static void
after_call(struct map *m, struct job *j)
{
	g_autoptr(GError) error = NULL;

	if (!transfer_return(m->tr, j->tg->dir, j->ret, j->code == 0,
			     &error)) {
		if (j->code == 0) {
			g_free(j->status);
			j->status = g_strdup_printf("failed %s",
						    error->message);
			j->code = TC_EXIT_OTHER;
		} else {
			bar_clear();
			fprintf(stderr, "%s: item %" G_GUINT64_FORMAT ": %s\n",
				prog, j->seq, error->message);
		}
	}
	transfer_cleanup(m->tr, j->tg->dir, j->send, j->ret);
}

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
		if (map_take_file(m, j, "stdout", STDOUT_FILENO,
			      now ? NULL : &j->out) < 0 ||
		    map_take_file(m, j, "stderr", STDERR_FILENO,
			      now ? NULL : &j->err) < 0)
			fprintf(stderr, "%s: %s/calls/%u: output: %s\n", prog,
				j->tg->dir, j->id, strerror(errno));
		/* .any says where it ran; a VM's own call ran there. */
		if (m->joblog && j->tg->name[0] == '.') {
			snprintf(name, sizeof(name), "%u/vm", j->id);
			if ((j->host = tc_read_small(j->tg->callsfd, name, 256,
						     NULL)))
				tc_chomp(j->host);
		} else if (j->tg->name[0] != '.') {
			j->host = g_strdup(j->tg->name);
		}
		if (m->tr)
			after_call(m, j);
		targets_forget(m->targets, j->tg, j->id);
		j->tg->outstanding--;
		/* Only now: if we die copying its output, it is forgotten
		 * with the outstanding ones. */
		g_hash_table_steal(m->running, &j->key);
	}
	joblog_write(m->joblog, j->seq, j->host, j->start, j->runtime,
		     j->sent, j->received, j->code,
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

	g_clear_pointer(&m->held, job_free);
	g_hash_table_iter_init(&it, m->running);
	while (g_hash_table_iter_next(&it, NULL, &val)) {
		struct job *j = val;

		snprintf(path, sizeof(path), "%u/ctl", j->id);
		tc_write_file(j->tg->callsfd, path, "cancel\n");
	}
	g_hash_table_iter_init(&it, m->running);
	while (g_hash_table_iter_next(&it, NULL, &val)) {
		struct job *j = val;

		snprintf(path, sizeof(path), "%u", j->id);
		unlinkat(j->tg->callsfd, path, AT_REMOVEDIR);
		if (m->tr)
			transfer_cleanup(m->tr, j->tg->dir, j->send, j->ret);
		g_hash_table_iter_remove(&it);
		job_free(j);
	}
}

/* The .done text that came in: finish the calls that are ours, those
 * whose path is PREFIX/calls/N, PREFIX a target's name. */
static void
take_done(struct map *m, const char *buf, size_t len)
{
	size_t used = 0;
	char *p, *nl;

	g_string_append_len(m->done, buf, len);
	for (p = m->done->str; (nl = strchr(p, '\n')); p = nl + 1) {
		struct target *t;
		unsigned long id;
		guint64 key;
		struct job *j;
		char *q, *end;

		*nl = '\0';
		used = nl + 1 - m->done->str;
		if (!(q = strchr(p, '/')) ||
		    !(t = targets_find(m->targets, p, q - p)) ||
		    !g_str_has_prefix(q, "/calls/"))
			continue;
		q += strlen("/calls/");
		id = strtoul(q, &end, 10);
		if (end == q || *end != ' ' || id > G_MAXUINT32)
			continue;
		key = (guint64)t->index << 32 | id;
		if (!(j = g_hash_table_lookup(m->running, &key)))
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

	if (m->o->pipe)
		j->block = items_take_block(m->items);
	else
		for (int n = 0; n < m->o->chunk &&
		     items_take(m->items, vals); n++)
			;
	j->seq = ++m->seq;
	if (m->o->tag && vals->len) {
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
	if (m->tr)
		transfer_names(m->tr, j->seq, vals, &j->send, &j->ret);
	return j;
}

/* Fork a batch of jobs on t with one write(2). */
static void
fork_batch(struct map *m, struct target *t, GString *lines, GPtrArray *jobs)
{
	g_autofree guint32 *ids = g_new(guint32, jobs->len);
	g_autoptr(GError) error = NULL;
	double start = tc_now(), mono = tc_mono();
	guint i;

	if (!jobs->len)
		return;
	if (tc_fork(t->newfd, lines->str, lines->len, ids, jobs->len) < 0)
		map_die("%s/calls/new: %s", t->dir, strerror(errno));
	for (i = 0; i < jobs->len; i++) {
		struct job *j = jobs->pdata[i];

		j->id = ids[i];
		j->key = (guint64)t->index << 32 | j->id;
		j->start = start;
		j->mono = mono;
		g_hash_table_insert(m->running, &j->key, j);
		j->sent = j->block ? g_bytes_get_size(j->block)
				   : strlen(j->line) + 1;
		joblog_forked(m->joblog, j->seq, t->name, j->id);
		/* It starts once its block is in (or, cancelled, ends). */
		if (j->block && !transfer_stdin(t->callsfd, j->id, j->block,
						&error)) {
			fprintf(stderr, "%s: item %" G_GUINT64_FORMAT ": %s\n",
				prog, j->seq, error->message);
			g_clear_error(&error);
		}
		g_clear_pointer(&j->block, g_bytes_unref);
	}
	g_string_truncate(lines, 0);
	g_ptr_array_set_size(jobs, 0);
}

/*
 * --resume: an earlier run that was killed outright forked job j, and its
 * call is still at the mount with j's line: join it (at once if it has
 * ended) rather than run it again.  FALSE: fork it.
 */
static gboolean
adopt(struct map *m, struct job *j)
{
	g_autofree char *args = NULL, *status = NULL;
	const char *name;
	struct target *t;
	char path[32];
	guint32 id;
	int signo;

	if (!resume_forked(m->resume, j->seq, &name, &id) || j->block ||
	    !(t = targets_find(m->targets, name, strlen(name))))
		return FALSE;
	snprintf(path, sizeof(path), "%u/args", id);
	if (!(args = tc_read_small(t->callsfd, path, MAX_LINE + 2, NULL)))
		return FALSE;
	tc_chomp(args);
	snprintf(path, sizeof(path), "%u/status", id);
	if (strcmp(args, j->line) != 0 ||
	    !(status = tc_read_small(t->callsfd, path, 4096, NULL)))
		return FALSE;
	tc_chomp(status);
	j->id = id;
	j->tg = t;
	j->key = (guint64)t->index << 32 | id;
	j->start = tc_now();
	j->mono = tc_mono();
	j->sent = strlen(j->line) + 1;
	j->adopted = TRUE;
	t->outstanding++;
	g_hash_table_insert(m->running, &j->key, j);
	/* .done was opened before: an end after this read is told there. */
	if (tc_status_code(status, &signo) >= 0)
		finish(m, j, status);
	return TRUE;
}

/* The next job, unless it is not to run: done by an earlier run
 * (--resume; or still running: joined), or its line cannot be a call.
 * NULL: none to run now. */
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
		if (adopt(m, j)) {
			if (g_hash_table_size(m->running) >=
			    (guint)m->o->maxjobs)
				break;
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

/* Where job j is to be forked, its files copied there first.  NULL if
 * it is not: it failed (and is finished), or no VM can take it now (it
 * is held for the next try). */
static struct target *
place(struct map *m, struct job *j)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *why = NULL;
	struct target *t = NULL;

	/* A VM whose node went away since .ctl was read: another. */
	for (int tries = 0; tries < 8 && !error; tries++) {
		if (!(t = targets_pick(m->targets, &error)))
			break;
		if (!m->tr || transfer_send(m->tr, t->dir, j->send, &error)) {
			j->tg = t;
			t->outstanding++;
			return t;
		}
		if (g_error_matches(error, MAP_TRANSFER_ERROR,
				    MAP_TRANSFER_VM_DOWN)) {
			targets_unusable(m->targets, t);
			g_clear_error(&error);
		}
	}
	if (!error) {
		m->held = j;
		return NULL;
	}
	j->host = t ? g_strdup(t->name) : NULL;
	why = g_strdup_printf("failed %s", error->message);
	finish(m, j, why);
	return NULL;
}

/* Fork what the items have ready, as far as the room for calls goes. */
static void
launch(struct map *m)
{
	g_autoptr(GString) lines = g_string_new(NULL);
	g_autoptr(GPtrArray) jobs = g_ptr_array_new();
	struct target *batch = NULL, *t;
	struct job *j;

	/* --halt N%: a percentage of every job, so all are read first. */
	if (m->o->halt_pct && !items_eof(m->items))
		return;
	while (!m->halting && !got_signal &&
	       g_hash_table_size(m->running) + jobs->len <
	       (guint)m->o->maxjobs &&
	       (j = m->held ? g_steal_pointer(&m->held) : next_job(m))) {
		size_t len = strlen(j->line);

		if (!(t = place(m, j))) {
			if (m->held)
				break;
			continue;
		}
		if (t != batch || lines->len + len + 1 > FORK_BATCH)
			fork_batch(m, batch, lines, jobs);
		batch = t;
		g_string_append_len(lines, j->line, len);
		g_string_append_c(lines, '\n');
		g_ptr_array_add(jobs, j);
	}
	fork_batch(m, batch, lines, jobs);
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
				map_die("%s", error->message);
		if (!(j = next_job(m)))
			break;
		printf("%s\n", j->line);
		job_free(j);
	}
	if (fflush(stdout) != 0)
		map_die("writing output: %s", strerror(errno));
}

/* --bar, at most ten times a second unless last (the final count). */
static void
draw_bar(struct map *m, gboolean last)
{
	if (m->o->bar)
		bar_draw(m->t0, m->ended + m->skipped, m->ended, m->failed,
			 items_eof(m->items) && !m->halting, jobs_total(m),
			 last);
}

/* ---------------------------------------------------------------- main */

static void
map_free(struct map *m)
{
	if (m->donefd >= 0)
		close(m->donefd);
	targets_free(m->targets);
	transfer_free(m->tr);
	g_ptr_array_unref(m->o->transfer);
	g_ptr_array_unref(m->o->returns);
	g_hash_table_destroy(m->running);
	g_hash_table_destroy(m->ready);
	if (m->done)
		g_string_free(m->done, TRUE);
	g_string_free(m->opts, TRUE);
	template_free(m->tmpl);
	items_free(m->items);
	resume_free(m->resume);
	g_free(m->o->sources);
	if (m->spill.fd >= 0)
		close(m->spill.fd);
}

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
	     items_buffered(m->items) < READ_AHEAD + m->o->block ||
	     m->o->halt_pct);
	/* A tick for the bar, a job waiting for a VM, calls to forget. */
	gboolean ticks = m->o->bar || m->held ||
	    targets_forget_again(m->targets);
	ssize_t n;

	if (ppoll(p, want_input ? 2 : 1, ticks ? &tick : NULL,
		  open_mask) < 0) {
		if (errno == EINTR)
			return;
		map_die("poll: %s", strerror(errno));
	}
	/* POLLIN: a line is waiting, so the read does not block (and the
	 * signals are blocked again: no EINTR).  POLLERR and the like: the
	 * read says what went wrong. */
	if (p[0].revents) {
		n = read(m->donefd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EINTR))
			map_die("reading %s/.done: %s", mount,
			    n == 0 ? "it ended" : strerror(errno));
		if (n > 0)
			take_done(m, buf, n);
	}
	if (want_input && p[1].revents && !items_read(m->items, &error))
		map_die("%s", error->message);
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *mount = NULL;
	g_auto(GStrv) wrapped = NULL;
	struct map_opts o;
	struct map m = { .o = &o, .print_seq = 1, .halt_status = -1,
			  .donefd = -1,
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
			map_die("%s", error->message);
		cmd = wrapped;
		ncmd = g_strv_length(wrapped);
	}
	/* A newline in FUNC ARG... fails every job: say so once, now. */
	for (int i = 0; i < ncmd; i++)
		if (strchr(cmd[i], '\n'))
			map_die("an argument holds a newline, which a call line "
			    "cannot carry");
	m.tmpl = template_new(cmd, ncmd);
	m.opts = map_call_options(&o);
	if (!(m.items = items_new(o.sources, o.nsources, o.delim, &error)))
		map_die("%s", error->message);
	if (o.pipe)
		items_set_block(m.items, o.block);
	if (items_from_tty(m.items))
		fprintf(stderr, "%s: reading items from the terminal (end them "
			"with ^D; or give them after ::: or through a pipe)\n",
			prog);
	if (o.resume && !(m.resume = resume_load(o.joblog, o.resume_failed,
						 &error)))
		map_die("%s", error->message);
	m.running = g_hash_table_new(g_int64_hash, g_int64_equal);
	m.ready = g_hash_table_new(g_int64_hash, g_int64_equal);
	if (o.dry_run) {
		int status;

		dry_run(&m);
		status = m.failed ? TC_EXIT_OTHER : 0;
		map_free(&m);
		return status;
	}
	if (!(mount = tc_mount(o.mount, &error)))
		map_die("%s", error->message);
	/* Files to copy: the VM must be known before the call is forked,
	 * so we pick it (map_targets.c), not .any. */
	m.tr = transfer_new(o.transfer, o.returns, o.cleanup);
	if (!(m.targets = targets_open(mount, o.vm, map_func(cmd, ncmd),
				       m.tr != NULL, &error)))
		map_die("%s", error->message);
	if (!o.maxjobs)
		o.maxjobs = map_default_jobs(mount);
	if (!o.bar)
		o.bar = isatty(STDERR_FILENO);
	if (o.joblog && !(m.joblog = joblog_open(o.joblog, o.resume, &error)))
		map_die("%s", error->message);

	/* Signals get in only while we wait in ppoll(2): no EINTR anywhere
	 * else, and no blocking read of .done or the items they would have
	 * to interrupt. */
	tc_signals_for_ppoll(on_signal, &open_mask);

	/* Before the first fork: no call may end before we listen. */
	if ((m.donefd = tc_done_open(mount, &error)) < 0)
		map_die("%s", error->message);
	m.done = g_string_new(NULL);
	m.t0 = tc_mono();
	outstanding = &m;

	for (;;) {
		launch(&m);
		if (got_signal)
			break;
		if (!g_hash_table_size(m.running) &&
		    (m.halting || (items_done(m.items) && !m.held)))
			break;
		draw_bar(&m, FALSE);
		wait_events(&m, mount, &open_mask);
	}
	if (got_signal)
		cancel_all(&m);
	g_clear_pointer(&m.held, job_free);	/* --halt: not started */
	map_flush_ready(&m, TRUE);
	draw_bar(&m, TRUE);
	bar_clear();
	if (!joblog_close(m.joblog, &error))
		map_die("%s", error->message);
	outstanding = NULL;
	if (!got_signal)
		targets_forget_wait(m.targets, 5, &open_mask);
	map_free(&m);	/* its calls have all ended */
	if (got_signal > 0)
		return 128 + got_signal;
	if (m.halt_status >= 0)
		return m.halt_status;
	return MIN(m.failed, 101);
}
