/*
 * trickle-map - the paper's forkwork/forkgen for the shell: every line of
 * standard input is a work item, CHUNK items at a time are appended to
 * FUNC ARG... as one call, and the calls go out on MOUNT/.any so that
 * every VM stays busy.
 *
 *   trickle-map [-C MOUNT] [--vm VM] [-n CHUNK] [-j N] [--ordered]
 *               [--joblog FILE] [--halt soon|now,fail=N] [--bar]
 *               FUNC [ARG...] < WORK
 *
 * At most N calls are outstanding, and stdin is read only as far as
 * they need (and 1 MiB ahead), so a generator may be endless.  Ends are
 * learnt from MOUNT/.done (opened before the first fork), never by
 * polling status files: poll(2) watches it beside stdin (the mount makes
 * it readable when a line is waiting), so one thread does everything.
 * Each ended call's stdout is written in one piece
 * (in input order with --ordered, spilling to a temp file what waits),
 * then its stderr; then the call is forgotten.  Exit status: the number
 * of failed calls, at most 101, as GNU parallel; 255 on our own errors;
 * 128+signal when interrupted (outstanding calls are cancelled).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "tclient.h"

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
	double start, mono;	/* when forked: epoch, monotonic */
	double runtime;
	char *status;
	char *host;
	guint64 received;
	int code;		/* exit code, as trickle-run's */
	struct tc_held out, err;	/* --ordered: waiting for its turn */
};

struct map {
	/* options */
	const char *mount, *vm;
	const char *prefix;	/* of our lines in .done */
	char *dir;		/* MOUNT/.any or MOUNT/VM */
	int chunk, maxjobs;
	gboolean ordered, bar, halt_now;
	guint64 halt_fail;	/* 0: never halt */
	FILE *joblog;
	GString *base;		/* FUNC ARG..., quoted */
	/* descriptors */
	int callsfd, newfd, donefd;
	/* input */
	GString *in;
	gsize in_pos;
	gboolean in_eof;
	/* calls */
	GHashTable *running;	/* id -> struct job */
	GHashTable *ready;	/* seq -> struct job, ended, waiting */
	guint64 seq, print_seq, ended, failed;
	gboolean halting;
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

static void
usage(FILE *f)
{
	fprintf(f, "usage: %s [-C MOUNT] [--vm VM] [-n CHUNK] [-j N] "
		"[--ordered] [--joblog FILE]\n"
		"       [--halt soon,fail=N|now,fail=N] [--bar] FUNC [ARG...] "
		"< WORK\n"
		"Fork FUNC ARG... ITEM... on a tricklefs mount for the lines "
		"of stdin.\n"
		"  -C, --mount MOUNT    the mount (default: $TRICKLE_MOUNT)\n"
		"      --vm VM          run on VM instead of MOUNT/.any\n"
		"  -n, --max-args CHUNK items per call (1)\n"
		"  -j, --jobs N         calls outstanding at most (4 per VM, "
		"at least 8)\n"
		"  -k, --ordered        output in input order\n"
		"      --joblog FILE    a line per call, as GNU parallel's\n"
		"      --halt WHEN,fail=N  stop after N failed calls: soon "
		"(let the\n"
		"                       running ones end) or now (cancel "
		"them)\n"
		"      --bar            progress on stderr (default when it is "
		"a terminal)\n", prog);
}

static _Noreturn void
die(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void
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

/* Copy (or capture) one of the call's files; -1 with errno set. */
static int
take_file(struct map *m, struct job *j, const char *name, int out,
	  struct tc_held *h)
{
	g_autoptr(GError) error = NULL;
	char path[32];
	int fd, r = 0, e;

	struct stat st;

	snprintf(path, sizeof(path), "%u/%s", j->id, name);
	/* The call has ended, so its sizes are final: an empty stream (the
	 * usual stderr, a function that keeps its result in VM state)
	 * costs one stat, not an open, a read and a close. */
	if (fstatat(m->callsfd, path, &st, 0) == 0 && st.st_size == 0)
		return 0;
	if ((fd = openat(m->callsfd, path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (h) {
		/* Our spill file failing is fatal; the call's file not. */
		if ((r = tc_hold(&m->spill, h, fd, &error)) == -2)
			die("%s", error->message);
		if (out == STDOUT_FILENO)
			j->received = h->len;
	} else {
		char buf[READ_SIZE];
		ssize_t n;

		while ((n = read(fd, buf, sizeof(buf))) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				r = -1;
				break;
			}
			clear_bar();	/* output does not share its line */
			if (fdio_write_all(out, buf, n) < 0) {
				g_set_error(&error, G_FILE_ERROR,
					    g_file_error_from_errno(errno),
					    "writing output: %s",
					    strerror(errno));
				output_failed(error);
			}
			if (out == STDOUT_FILENO)
				j->received += n;
		}
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
	g_free(j->status);
	g_free(j->host);
	g_free(j);
}

/* What did not come from the function itself goes to stderr too. */
static void
emit_status(struct job *j)
{
	if (j->code == 0 || g_str_has_prefix(j->status, "failed exit "))
		return;
	clear_bar();
	fprintf(stderr, "%s: %s: %s\n", prog, j->line, j->status);
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

/* ---------------------------------------------------------------- calls */

static void
write_joblog(struct map *m, struct job *j, int signo)
{
	if (!m->joblog)
		return;
	fprintf(m->joblog, "%" G_GUINT64_FORMAT "\t%s\t%.3f\t%.3f\t%zu\t%"
		G_GUINT64_FORMAT "\t%d\t%d\t%s\n", j->seq,
		j->host && *j->host ? j->host : "-", j->start, j->runtime,
		j->id ? strlen(j->line) + 1 : 0, j->received, j->code, signo,
		j->line);
}

/* A call has ended with status: output, joblog, forget it.  A forked
 * one is still in m->running. */
static void
finish(struct map *m, struct job *j, const char *status)
{
	gboolean now = !m->ordered || j->seq == m->print_seq;
	char name[16];
	int signo;

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
		if (m->joblog && !m->vm) {
			snprintf(name, sizeof(name), "%u/vm", j->id);
			if ((j->host = tc_read_small(m->callsfd, name, 256,
						     NULL)))
				tc_chomp(j->host);
		} else if (m->vm) {
			j->host = g_strdup(m->vm);
		}
		snprintf(name, sizeof(name), "%u", j->id);
		if (unlinkat(m->callsfd, name, AT_REMOVEDIR) < 0)
			fprintf(stderr, "%s: rmdir %s/calls/%s: %s\n", prog,
				m->dir, name, strerror(errno));
		/* Only now: if we die copying its output, it is forgotten
		 * with the outstanding ones. */
		g_hash_table_steal(m->running, GUINT_TO_POINTER(j->id));
	}
	write_joblog(m, j, signo);
	m->ended++;
	if (j->code != 0 && ++m->failed >= m->halt_fail && m->halt_fail) {
		m->halting = TRUE;
		if (m->halt_now)
			got_signal = -1;	/* cancel the rest, like ^C */
	}
	if (!now) {
		guint64 *key = &j->seq;

		g_hash_table_insert(m->ready, key, j);
		return;
	}
	emit_status(j);
	job_free(j);
	if (m->ordered) {
		m->print_seq++;
		flush_ready(m, FALSE);
	}
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

/* The .done text that came in: finish the calls that are ours. */
static void
take_done(struct map *m, const char *buf, size_t len)
{
	size_t plen = strlen(m->prefix), used = 0;
	char *p, *nl;

	g_string_append_len(m->done, buf, len);
	for (p = m->done->str; (nl = strchr(p, '\n')); p = nl + 1) {
		unsigned long id;
		struct job *j;
		char *end;

		*nl = '\0';
		used = nl + 1 - m->done->str;
		if (strncmp(p, m->prefix, plen) != 0 || p[plen] != '/')
			continue;
		id = strtoul(p + plen + 1, &end, 10);
		if (*end != ' ' || id > G_MAXUINT32)
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

/* Is there a whole chunk of items (or the last, short one) to fork? */
static gboolean
chunk_ready(struct map *m)
{
	const char *p = m->in->str + m->in_pos, *end = m->in->str + m->in->len;
	int n = 0;

	while (n < m->chunk && p < end) {
		const char *nl = memchr(p, '\n', end - p);

		if (!nl)
			return m->in_eof;
		n++;
		p = nl + 1;
	}
	return n == m->chunk || (m->in_eof && n > 0);
}

static gboolean
input_done(struct map *m)
{
	return m->in_eof && m->in_pos >= m->in->len;
}

/* Calls the input read so far still makes. */
static guint64
chunks_left(struct map *m)
{
	const char *p = m->in->str + m->in_pos, *end = m->in->str + m->in->len;
	guint64 lines = 0;

	for (; p < end; lines++) {
		const char *nl = memchr(p, '\n', end - p);

		p = nl ? nl + 1 : end;
	}
	return (lines + m->chunk - 1) / m->chunk;
}

/* The next chunk as a new job (its line built, not yet forked). */
static struct job *
take_chunk(struct map *m)
{
	GString *line = g_string_new_len(m->base->str, m->base->len);
	struct job *j = g_new0(struct job, 1);
	int n;

	for (n = 0; n < m->chunk && m->in_pos < m->in->len; n++) {
		const char *p = m->in->str + m->in_pos;
		const char *nl = memchr(p, '\n', m->in->len - m->in_pos);
		size_t len = nl ? (size_t)(nl - p) : m->in->len - m->in_pos;
		g_autofree char *item = g_strndup(p, len);

		tc_append_word(line, item, NULL);	/* no newline in it */
		m->in_pos += len + (nl != NULL);
	}
	j->seq = ++m->seq;
	j->line = g_string_free(line, FALSE);
	return j;
}

/* Read more of stdin (called when poll says it is readable). */
static void
read_input(struct map *m)
{
	ssize_t n;

	if (m->in_pos > 0 && m->in_pos >= m->in->len / 2) {
		g_string_erase(m->in, 0, m->in_pos);
		m->in_pos = 0;
	}
	g_string_set_size(m->in, m->in->len + READ_SIZE);
	n = read(STDIN_FILENO, m->in->str + m->in->len - READ_SIZE,
		 READ_SIZE);
	g_string_set_size(m->in, m->in->len - READ_SIZE + MAX(n, 0));
	if (n < 0 && errno != EINTR && errno != EAGAIN)
		die("reading stdin: %s", strerror(errno));
	if (n == 0)
		m->in_eof = TRUE;
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

/* Fork what stdin has ready, as far as the room for calls goes. */
static void
launch(struct map *m)
{
	g_autoptr(GString) lines = g_string_new(NULL);
	g_autoptr(GPtrArray) jobs = g_ptr_array_new();

	while (!m->halting && !got_signal &&
	       g_hash_table_size(m->running) + jobs->len < (guint)m->maxjobs &&
	       chunk_ready(m)) {
		struct job *j = take_chunk(m);
		size_t len = strlen(j->line);

		if (len > MAX_LINE) {
			finish(m, j, "failed call line too long");
			continue;
		}
		if (lines->len + len + 1 > FORK_BATCH)
			fork_batch(m, lines, jobs);
		g_string_append_len(lines, j->line, len);
		g_string_append_c(lines, '\n');
		g_ptr_array_add(jobs, j);
	}
	fork_batch(m, lines, jobs);
}

/* ---------------------------------------------------------------- progress */

static void
draw_bar(struct map *m)
{
	double now = tc_mono(), rate;
	char total[32] = "?", eta[32] = "?";

	if (!m->bar || now - m->drawn < 0.1)
		return;
	m->drawn = now;
	rate = now > m->t0 ? m->ended / (now - m->t0) : 0;
	if (m->in_eof && !m->halting) {
		guint64 all = m->seq + chunks_left(m);

		snprintf(total, sizeof(total), "%" G_GUINT64_FORMAT, all);
		if (rate > 0) {
			long s = (long)((all - m->ended) / rate + 0.5);

			snprintf(eta, sizeof(eta), "%ld:%02ld:%02ld", s / 3600,
				 s / 60 % 60, s % 60);
		}
	}
	fprintf(stderr, "\r%s: %" G_GUINT64_FORMAT "/%s calls, %.1f/s, "
		"ETA %s\033[K", prog, m->ended, total, rate, eta);
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

/* 4 calls per VM directory of the mount (at least 8). */
static int
default_jobs(const char *mount)
{
	DIR *d = opendir(mount);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 8;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return MAX(4 * n, 8);
}

static void
parse_halt(struct map *m, const char *arg)
{
	char *end;
	const char *p;

	if (strcmp(arg, "never") == 0)
		return;
	if (g_str_has_prefix(arg, "soon,fail="))
		p = arg + strlen("soon,fail=");
	else if (g_str_has_prefix(arg, "now,fail=")) {
		p = arg + strlen("now,fail=");
		m->halt_now = TRUE;
	} else
		die("--halt %s: expected soon,fail=N or now,fail=N", arg);
	m->halt_fail = g_ascii_strtoull(p, &end, 10);
	if (end == p || *end || m->halt_fail == 0)
		die("--halt %s: N must be a number above 0", arg);
}

static int
positive(const char *opt, const char *arg)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (end == arg || *end || v < 1 || v > 1000000)
		die("%s %s: expected a number from 1 to 1000000", opt, arg);
	return v;
}

/* Wait for .done text or stdin; with the signals only let in here. */
static void
wait_events(struct map *m, const sigset_t *open_mask)
{
	struct pollfd p[2] = {
		{ .fd = m->donefd, .events = POLLIN },
		{ .fd = STDIN_FILENO, .events = POLLIN },
	};
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	char buf[READ_SIZE];
	/* Input when there is room for a call, and a little ahead (so that
	 * the end of the input, and with it the total, is seen early). */
	gboolean want_input = !m->in_eof && !m->halting &&
	    (g_hash_table_size(m->running) < (guint)m->maxjobs ||
	     m->in->len - m->in_pos < READ_AHEAD);
	ssize_t n;

	if (ppoll(p, want_input ? 2 : 1, m->bar ? &tick : NULL,
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
			die("reading %s/.done: %s", m->mount,
			    n == 0 ? "it ended" : strerror(errno));
		if (n > 0)
			take_done(m, buf, n);
	}
	if (want_input && p[1].revents)
		read_input(m);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mount", required_argument, NULL, 'C' },
		{ "vm", required_argument, NULL, 'V' },
		{ "max-args", required_argument, NULL, 'n' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "ordered", no_argument, NULL, 'k' },
		{ "keep-order", no_argument, NULL, 'k' },
		{ "joblog", required_argument, NULL, 'L' },
		{ "halt", required_argument, NULL, 'H' },
		{ "bar", no_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	g_autoptr(GError) error = NULL;
	g_autofree char *mount = NULL, *calls = NULL, *newpath = NULL;
	const char *opt_mount = NULL, *joblog = NULL;
	struct map m = { .chunk = 1, .print_seq = 1,
			  .spill = TC_SPILL_INIT(MEM_BUFFERED) };
	sigset_t block, open_mask;
	struct sigaction sa;
	int c, i;

	while ((c = getopt_long(argc, argv, "+C:n:j:kh", opts, NULL)) != -1) {
		switch (c) {
		case 'C':
			opt_mount = optarg;
			break;
		case 'V':
			m.vm = optarg;
			break;
		case 'n':
			m.chunk = positive("-n", optarg);
			break;
		case 'j':
			m.maxjobs = positive("-j", optarg);
			break;
		case 'k':
			m.ordered = TRUE;
			break;
		case 'L':
			joblog = optarg;
			break;
		case 'H':
			parse_halt(&m, optarg);
			break;
		case 'B':
			m.bar = TRUE;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return TC_EXIT_OTHER;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return TC_EXIT_OTHER;
	}
	if (!(mount = tc_mount(opt_mount, &error)) ||
	    !(m.dir = tc_calls_parent(mount, m.vm, &error)))
		die("%s", error->message);
	m.base = g_string_new(NULL);
	for (i = optind; i < argc; i++)
		if (!tc_append_word(m.base, argv[i], &error))
			die("%s", error->message);
	m.mount = mount;
	m.prefix = tc_done_prefix(m.vm);
	if (!m.maxjobs)
		m.maxjobs = default_jobs(mount);
	if (!m.bar)
		m.bar = isatty(STDERR_FILENO);
	if (joblog) {
		if (!(m.joblog = fopen(joblog, "we")))
			die("%s: %s", joblog, strerror(errno));
		fputs("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\t"
		      "Exitval\tSignal\tCommand\n", m.joblog);
	}

	/* Signals get in only while we wait in ppoll(2): no EINTR anywhere
	 * else, and no blocking read of .done or stdin they would have to
	 * interrupt. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &open_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	calls = g_build_filename(m.dir, "calls", NULL);
	newpath = g_build_filename(calls, "new", NULL);
	if ((m.callsfd = open(calls, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die("%s: %s", calls, strerror(errno));
	/* .done first: no call may end before we listen. */
	if ((m.donefd = tc_done_open(mount, &error)) < 0)
		die("%s", error->message);
	if ((m.newfd = open(newpath, O_RDWR | O_CLOEXEC)) < 0)
		die("%s: %s", newpath, strerror(errno));
	m.in = g_string_new(NULL);
	m.running = g_hash_table_new(NULL, NULL);
	m.ready = g_hash_table_new(g_int64_hash, g_int64_equal);
	m.done = g_string_new(NULL);
	m.t0 = tc_mono();
	outstanding = &m;

	for (;;) {
		launch(&m);
		if (got_signal)
			break;
		if (!g_hash_table_size(m.running) &&
		    (m.halting || input_done(&m)))
			break;
		draw_bar(&m);
		wait_events(&m, &open_mask);
	}
	if (got_signal)
		cancel_all(&m);
	flush_ready(&m, TRUE);
	clear_bar();
	if (m.joblog && fclose(m.joblog) != 0)
		die("%s: %s", joblog, strerror(errno));
	outstanding = NULL;
	close(m.donefd);
	close(m.newfd);
	close(m.callsfd);
	g_hash_table_destroy(m.running);	/* empty by now */
	g_hash_table_destroy(m.ready);
	g_string_free(m.in, TRUE);
	g_string_free(m.done, TRUE);
	g_string_free(m.base, TRUE);
	g_free(m.dir);
	if (m.spill.fd >= 0)
		close(m.spill.fd);
	if (got_signal > 0)
		return 128 + got_signal;
	return MIN(m.failed, 101);
}
