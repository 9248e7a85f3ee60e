/*
 * trickle-run - run one call through a tricklefs mount as if it were a
 * local command: fork it (on MOUNT/.any, or on one VM with --vm), wait,
 * copy its stdout to stdout and its stderr to stderr, and exit with its
 * exit code.  Made to be a Makefile recipe's command under make -j, so it
 * is a handful of plain syscalls: no main loop, no threads.
 *
 *   trickle-run [-C MOUNT] [--vm VM | --all [-b]] [--workdir DIR]
 *               [-n|--no-stdin] [--] [NAME=VALUE...] FUNC [ARG...]
 *
 * Exit: 0 done, N for "failed exit N", 128+N for "failed signal N",
 * 124 for "failed timeout" (as timeout(1)), 130 cancelled, 255 for any
 * other failure (status on stderr) and for the tool's own errors.
 * SIGINT/SIGTERM/SIGHUP while waiting cancel the call and exit
 * 128+signal.  With --all (run_all.c), the largest of the calls'.
 *
 * Our standard input is the call's, as with ssh, unless it is a terminal
 * or /dev/null (or -n): the call is forked with TRICKLE_STDIN=1, and
 * what we read is written to its calls/N/stdin until our end of file;
 * the call starts then.  With --all every call gets it, as with clush.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "run.h"

static const char *prog = "trickle-run";

/* Set by the signal handler; the cancel goes out from it too, so that a
 * signal between our check and a blocking read still ends the wait. */
static volatile sig_atomic_t got_signal;
static volatile sig_atomic_t have_call;
static char ctl_path[PATH_MAX];

#define USAGE_LINE "usage: %s [OPTION]... [--] [NAME=VALUE]... FUNC [ARG]...\n"

static void
usage(FILE *f)
{
	fprintf(f, USAGE_LINE
"Run one call on a tricklefs mount as if it were a local command: its\n"
"output, its exit status.\n"
"\n"
"  -C, --mount MOUNT      the mount (default: $TRICKLE_MOUNT)\n"
"      --vm VM            run on VM instead of MOUNT/.any\n"
"  -a, --all              run on every VM; output lines labelled \"VM: \"\n"
"  -b, --gather           with --all: each distinct output once, under\n"
"                         the VMs that gave it (as clush -b)\n"
"      --workdir DIR      run an exec call in DIR (. is this directory)\n"
"  -n, --no-stdin         do not forward standard input (as ssh -n)\n"
"  -h, --help             this help, then exit\n"
"      --version          the version, then exit\n"
"\n"
"NAME=VALUE words set the call's environment and options (TRICKLE_TIMEOUT=S).\n"
"See trickle-run(1).\n", prog);
}

static _Noreturn void
usage_error(void)
{
	fprintf(stderr, USAGE_LINE "Try '%s --help' for more.\n", prog,
		prog);
	exit(TC_EXIT_OTHER);
}

/* Async-signal-safe: open, write and close only. */
static void
send_cancel(void)
{
	int fd = open(ctl_path, O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		/* EALREADY if it ended meanwhile: nothing to do then. */
		if (write(fd, "cancel\n", 7) < 0) {
			/* nothing to report from here */
		}
		close(fd);
	}
}

static void
on_signal(int sig)
{
	int saved = errno;

	if (!got_signal) {
		got_signal = sig;
		if (have_call)
			send_cancel();
	}
	errno = saved;
}

/* Without SA_RESTART: a signal must end the blocked read of result. */
static void
catch_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < G_N_ELEMENTS(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
	/* A closed stdout is reported by write(2), so that we still
	 * forget the call. */
	signal(SIGPIPE, SIG_IGN);
}

/* Fork line on DIR/calls/new; the id, or 0 with a message printed. */
static guint32
fork_call(int callsfd, const char *dir, const char *line)
{
	int fd = openat(callsfd, "new", O_RDWR | O_CLOEXEC);
	guint32 id = 0;

	if (fd < 0) {
		fprintf(stderr, "%s: %s/calls/new: %s\n", prog, dir,
			strerror(errno));
		return 0;
	}
	if (tc_fork(fd, line, strlen(line), &id, 1) < 0) {
		fprintf(stderr, "%s: %s/calls/new: %s%s\n", prog, dir,
			strerror(errno), errno == E2BIG ?
			" (the call line is too long)" : "");
		id = 0;
	}
	close(fd);
	return id;
}

/*
 * Data on stdin, which a call would not get?  1 there is; 0 there is none
 * and will be none (end of file, or nothing polls readable); -1 none yet
 * (a pipe with nothing in it).  FIONREAD counts what a pipe or socket
 * holds without taking it: another reader of the same stdin loses
 * nothing to us.
 */
static int
stdin_poll(int timeout_ms)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	int n;

	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	if (p.revents & POLLNVAL)
		return 0;
	/* Readable with nothing in it: its end (a socket's too, which
	 * says POLLIN there, not POLLHUP); watching on would spin. */
	if (ioctl(STDIN_FILENO, FIONREAD, &n) == 0)
		return n > 0;
	/* Not a pipe or socket (a device): readable is data. */
	return (p.revents & POLLIN) ? 1 : 0;
}

/* What our stdin holds before the fork, as stdin_poll() says it; a
 * terminal and /dev/null hold nothing we would drop. */
static int
stdin_state(void)
{
	struct stat st, null;
	off_t pos;

	if (fstat(STDIN_FILENO, &st) < 0 || isatty(STDIN_FILENO) ||
	    S_ISDIR(st.st_mode))
		return 0;
	if (S_ISCHR(st.st_mode) && stat("/dev/null", &null) == 0 &&
	    st.st_rdev == null.st_rdev)
		return 0;
	if (S_ISREG(st.st_mode)) {
		pos = lseek(STDIN_FILENO, 0, SEEK_CUR);
		return st.st_size > MAX(pos, 0);
	}
	return stdin_poll(0);
}

/*
 * Copy the call's output to ours once it has ended.  result gives stdout
 * if the call succeeded (EIO if not: stdout is then read from its file);
 * the read blocks until the end, as a plain join does, and a signal
 * interrupts it.  0; 1 if a signal ended the wait; 141 if our stdout is
 * closed; -1 on other errors (reported).
 */
static int
copy_output(int callsfd, const char *dir, guint32 id)
{
	char path[64], buf[1 << 16];
	int fd, which = 0, r = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "%u/result", id);
	if ((fd = openat(callsfd, path, O_RDONLY | O_CLOEXEC)) < 0)
		goto read_error;
	while ((n = read(fd, buf, sizeof(buf))) < 0 && errno == EINTR)
		if (got_signal) {
			close(fd);
			return 1;
		}
	if (n < 0 && errno == EIO) {
		/* Failed: its stdout is in the stdout file. */
		close(fd);
		snprintf(path, sizeof(path), "%u/stdout", id);
		if ((fd = openat(callsfd, path, O_RDONLY | O_CLOEXEC)) < 0)
			goto read_error;
		r = tc_copy(fd, STDOUT_FILENO, NULL, &which);
	} else if (n < 0) {
		r = -1;
	} else if (n > 0) {
		if (fdio_write_all(STDOUT_FILENO, buf, n) < 0) {
			r = -1;
			which = 1;
		} else {
			r = tc_copy(fd, STDOUT_FILENO, NULL, &which);
		}
	}
	close(fd);
	if (r == 0) {
		snprintf(path, sizeof(path), "%u/stderr", id);
		if ((fd = openat(callsfd, path, O_RDONLY | O_CLOEXEC)) < 0)
			goto read_error;
		r = tc_copy(fd, STDERR_FILENO, NULL, &which);
		close(fd);
	}
	if (r == 0)
		return 0;
	if (which == 1 && errno == EPIPE)
		return 141;
	if (which == 1) {
		fprintf(stderr, "%s: writing output: %s\n", prog,
			strerror(errno));
		return -1;
	}
read_error:
	fprintf(stderr, "%s: %s/calls/%s: %s\n", prog, dir, path,
		strerror(errno));
	return -1;
}

/* Our stdin into the call's, to our end of file; closing it lets the
 * call start.  0, 1 if a signal came, -1 on errors (reported).  Either
 * way but 0 the call is cancelled before its stdin is closed, so that it
 * never starts on part of the input. */
static int
send_stdin(int callsfd, const char *dir, guint32 id)
{
	char path[64];
	int fd, r, which;

	snprintf(path, sizeof(path), "%u/stdin", id);
	if ((fd = openat(callsfd, path, O_WRONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "%s: %s/calls/%s: %s\n", prog, dir, path,
			strerror(errno));
		return -1;
	}
	/* A signal (no SA_RESTART) ends the copy. */
	r = tc_tee(STDIN_FILENO, &fd, 1, &got_signal, &which);
	if (got_signal)
		r = 1;
	else if (r < 0)
		fprintf(stderr, "%s: %s: %s\n", prog, which < 0 ?
			"reading standard input" : path, strerror(errno));
	if (r)
		send_cancel();
	if (close(fd) < 0 && r == 0) {
		fprintf(stderr, "%s: %s/calls/%s: %s\n", prog, dir, path,
			strerror(errno));
		send_cancel();
		r = -1;
	}
	return r;
}

/* Forget the call; a failure only costs the mount some memory. */
static void
forget_call(int callsfd, const char *dir, guint32 id, int quiet)
{
	char name[16];

	snprintf(name, sizeof(name), "%u", id);
	if (unlinkat(callsfd, name, AT_REMOVEDIR) < 0 && !quiet)
		fprintf(stderr, "%s: rmdir %s/calls/%s: %s\n", prog, dir, name,
			strerror(errno));
}

/* The call's exit code from its status file (message for failures that
 * are not the function's own exit). */
static int
status_code(int callsfd, const char *dir, guint32 id)
{
	char path[64];
	g_autofree char *status = NULL;
	int code, signo;

	snprintf(path, sizeof(path), "%u/status", id);
	if (!(status = tc_read_small(callsfd, path, 4096, NULL))) {
		fprintf(stderr, "%s: %s/calls/%s: %s\n", prog, dir, path,
			strerror(errno));
		return TC_EXIT_OTHER;
	}
	tc_chomp(status);
	code = tc_status_code(status, &signo);
	if (code < 0) {
		fprintf(stderr, "%s: %s/calls/%u: still %s after its result\n",
			prog, dir, id, status);
		return TC_EXIT_OTHER;
	}
	if (code != 0 && !g_str_has_prefix(status, "failed exit "))
		fprintf(stderr, "%s: %s\n", prog, status);
	return code;
}

int
main(int argc, char **argv)
{
	enum { O_VM = 1000, O_WORKDIR, O_NO_STDIN, O_VERSION };
	static const struct option opts[] = {
		{ "mount", required_argument, NULL, 'C' },
		{ "vm", required_argument, NULL, O_VM },
		{ "all", no_argument, NULL, 'a' },
		{ "gather", no_argument, NULL, 'b' },
		{ "dshbak", no_argument, NULL, 'b' },
		{ "workdir", required_argument, NULL, O_WORKDIR },
		{ "no-stdin", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	g_autoptr(GError) error = NULL;
	g_autofree char *mount = NULL, *dir = NULL, *line = NULL;
	g_autofree char *calls = NULL;
	g_auto(GStrv) wrapped = NULL;
	const char *opt_mount = NULL, *vm = NULL, *workdir = NULL;
	gboolean all = FALSE, gather = FALSE, no_stdin = FALSE, forward;
	int c, callsfd, code = 0, in = 0;
	char **words;
	int nwords;
	guint32 id;

	/* '+': FUNC's own arguments may look like options. */
	while ((c = getopt_long(argc, argv, "+C:abnh", opts, NULL)) != -1) {
		switch (c) {
		case 'C':
			opt_mount = optarg;
			break;
		case O_VM:
			/* The tree's own names for every VM and any VM. */
			if (strcmp(optarg, ".all") == 0)
				all = TRUE;
			else if (strcmp(optarg, ".any") != 0)
				vm = optarg;
			break;
		case 'a':
			all = TRUE;
			break;
		case 'b':
			gather = TRUE;
			break;
		case O_WORKDIR:
			workdir = optarg;
			break;
		case 'n':
		case O_NO_STDIN:
			no_stdin = TRUE;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case O_VERSION:
			printf("%s (tricklefs) %s\n", prog, TRICKLE_VERSION);
			return 0;
		default:
			usage_error();
		}
	}
	if (optind == argc)
		usage_error();
	if (all && vm) {
		fprintf(stderr, "%s: --all and --vm %s: one or the other\n",
			prog, vm);
		return TC_EXIT_OTHER;
	}
	if (gather && !all) {
		fprintf(stderr, "%s: -b gathers the output of --all\n", prog);
		return TC_EXIT_OTHER;
	}
	words = argv + optind;
	nwords = argc - optind;
	if (workdir) {
		if (!(wrapped = tc_workdir_words(words, nwords, workdir,
						 &error))) {
			fprintf(stderr, "%s: %s\n", prog, error->message);
			return TC_EXIT_OTHER;
		}
		words = wrapped;
		nwords = g_strv_length(wrapped);
	}
	if (!(mount = tc_mount(opt_mount, &error)) ||
	    (!all && !(dir = tc_calls_parent(mount, vm, &error))) ||
	    !(line = tc_call_line(words, nwords, &error))) {
		fprintf(stderr, "%s: %s\n", prog, error->message);
		return TC_EXIT_OTHER;
	}
	/* Anything that may still come is the call's. */
	if (!no_stdin)
		in = stdin_state();
	forward = in != 0;
	{
		char *l = g_strconcat(forward ? "TRICKLE_STDIN=1 " : "", line,
				      "\n", NULL);

		g_free(line);
		line = l;
	}
	if (all)
		return run_all(mount, line, gather, forward);
	calls = g_build_filename(dir, "calls", NULL);
	if ((callsfd = open(calls, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, calls, strerror(errno));
		return TC_EXIT_OTHER;
	}
	catch_signals();
	if (!(id = fork_call(callsfd, dir, line)))
		return TC_EXIT_OTHER;
	if ((size_t)snprintf(ctl_path, sizeof(ctl_path), "%s/%u/ctl", calls,
			     id) >= sizeof(ctl_path)) {
		fprintf(stderr, "%s: %s: path too long\n", prog, calls);
		return TC_EXIT_OTHER;
	}
	have_call = 1;
	if (forward && !got_signal && (code = send_stdin(callsfd, dir, id))) {
		if (code < 0) {
			forget_call(callsfd, dir, id, 1);
			return TC_EXIT_OTHER;
		}
	}
	/* A signal before have_call was set found no call to cancel. */
	if (got_signal)
		send_cancel();
	else
		code = copy_output(callsfd, dir, id);
	if (got_signal) {
		forget_call(callsfd, dir, id, 1);
		return 128 + got_signal;
	}
	if (code < 0 || code == 141) {
		forget_call(callsfd, dir, id, 1);
		return code < 0 ? TC_EXIT_OTHER : code;
	}
	code = status_code(callsfd, dir, id);
	forget_call(callsfd, dir, id, 0);
	close(callsfd);
	return code;
}
