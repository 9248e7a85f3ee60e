/*
 * trickle-run - run one call through a tricklefs mount as if it were a
 * local command: fork it (on MOUNT/.any, or on one VM with --vm), wait,
 * copy its stdout to stdout and its stderr to stderr, and exit with its
 * exit code.  Made to be a Makefile recipe's command under make -j, so it
 * is a handful of plain syscalls: no main loop, no threads.
 *
 *   trickle-run [-C MOUNT] [--vm VM] [--] FUNC [ARG...]
 *
 * Exit: 0 done, N for "failed exit N", 128+N for "failed signal N",
 * 130 cancelled, 255 for any other failure (status on stderr) and for the
 * tool's own errors.  SIGINT/SIGTERM/SIGHUP while waiting cancel the call
 * and exit 128+signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "tclient.h"

static const char *prog = "trickle-run";

/* Set by the signal handler; the cancel goes out from it too, so that a
 * signal between our check and a blocking read still ends the wait. */
static volatile sig_atomic_t got_signal;
static volatile sig_atomic_t have_call;
static char ctl_path[PATH_MAX];

static void
usage(FILE *f)
{
	fprintf(f, "usage: %s [-C MOUNT] [--vm VM] [--] FUNC [ARG...]\n"
		"Run one call on a tricklefs mount and exit with its status.\n"
		"  -C, --mount MOUNT  the mount (default: $TRICKLE_MOUNT)\n"
		"      --vm VM        run on VM instead of MOUNT/.any\n"
		"Leading NAME=VALUE arguments set the call's environment "
		"(TRICKLE_TIMEOUT=S...).\n", prog);
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
 * Copy the call's output to ours once it has ended.  result blocks until
 * then and gives stdout if the call succeeded (EIO if not: stdout is then
 * read from its file).  0; 1 if a signal ended the wait; 141 if our
 * stdout is closed; -1 on other errors (reported).
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
	static const struct option opts[] = {
		{ "mount", required_argument, NULL, 'C' },
		{ "vm", required_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	g_autoptr(GError) error = NULL;
	g_autofree char *mount = NULL, *dir = NULL, *line = NULL;
	g_autofree char *calls = NULL;
	const char *opt_mount = NULL, *vm = NULL;
	int c, callsfd, code = 0;
	guint32 id;

	/* '+': FUNC's own arguments may look like options. */
	while ((c = getopt_long(argc, argv, "+C:h", opts, NULL)) != -1) {
		switch (c) {
		case 'C':
			opt_mount = optarg;
			break;
		case 'V':
			vm = optarg;
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
	    !(dir = tc_calls_parent(mount, vm, &error)) ||
	    !(line = tc_call_line(argv + optind, argc - optind, &error))) {
		fprintf(stderr, "%s: %s\n", prog, error->message);
		return TC_EXIT_OTHER;
	}
	line = g_realloc(line, strlen(line) + 2);
	strcat(line, "\n");
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
