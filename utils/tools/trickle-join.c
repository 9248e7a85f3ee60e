/*
 * trickle-join - wait for calls forked through tricklefs and print their
 * results: the Trickle paper's join and joinany for the shell.
 *
 *   trickle-join PATH...        every call, results in argument order
 *   trickle-join --any PATH...  the first call to end: its path, then its
 *                               result
 *
 * A PATH is a call directory (MOUNT/VM/calls/N, MOUNT/.any/calls/N): so
 * MOUNT/ID for an id that .all/calls/new or .done hands back, which is the
 * call's path from the mount.  Waiting for any uses
 * poll(2) on the calls' result files, which tricklefs makes readable when
 * a call ends.  Exit status: 0 if every joined call succeeded, 1 if one
 * failed (its status goes to stderr), 2 on usage or I/O errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *prog = "trickle-join";

#define USAGE_LINE "usage: %s [OPTION]... CALLDIR...\n"

static void
usage(FILE *f)
{
	fprintf(f, USAGE_LINE
"Wait for tricklefs calls (MOUNT/VM/calls/N) and print their results.\n"
"An id from .all/calls/new or .done is a path from the mount: MOUNT/ID.\n"
"\n"
"  -a, --any              only the first call to end: its path, then its\n"
"                         result\n"
"  -h, --help             this help, then exit\n"
"      --version          the version, then exit\n"
"\n"
"See trickle-join(1).\n", prog);
}

static void
usage_error(void)
{
	fprintf(stderr, USAGE_LINE "Try '%s --help' for more.\n", prog,
		prog);
}

static int
open_in(const char *dir, const char *file)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* The first line of dir/status, for a failure message. */
static void
print_status(const char *dir)
{
	char buf[512];
	ssize_t n;
	int fd = open_in(dir, "status");

	if (fd < 0) {
		fprintf(stderr, "%s: %s: failed\n", prog, dir);
		return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fprintf(stderr, "%s: %s: %s\n", prog, dir, n > 0 ? buf : "failed");
}

/* Copy a result to stdout: 0, 1 if the call failed, 2 on other errors. */
static int
copy_result(const char *dir, int fd)
{
	char buf[1 << 16];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int failed = errno == EIO;

			if (failed)
				print_status(dir);
			else
				fprintf(stderr, "%s: %s: %s\n", prog, dir,
					strerror(errno));
			return failed ? 1 : 2;
		}
		if (fwrite(buf, 1, n, stdout) != (size_t)n) {
			perror(prog);
			return 2;
		}
	}
	return fflush(stdout) == 0 ? 0 : 2;
}

static int
join_all(int n, char **dirs)
{
	int i, worst = 0;

	for (i = 0; i < n; i++) {
		int fd = open_in(dirs[i], "result"), r;

		if (fd < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, dirs[i],
				strerror(errno));
			r = 2;
		} else {
			r = copy_result(dirs[i], fd);
			close(fd);
		}
		if (r > worst)
			worst = r;
	}
	return worst;
}

static int
join_any(int n, char **dirs)
{
	struct pollfd *p = calloc(n, sizeof(*p));
	int i, r;

	if (!p) {
		perror(prog);
		return 2;
	}
	for (i = 0; i < n; i++)
		p[i].fd = -1;
	for (i = 0; i < n; i++) {
		p[i].fd = open_in(dirs[i], "result");
		p[i].events = POLLIN;
		if (p[i].fd < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, dirs[i],
				strerror(errno));
			r = 2;
			goto out;
		}
	}
	while ((r = poll(p, n, -1)) < 0 && errno == EINTR)
		;
	if (r < 0) {
		perror(prog);
		r = 2;
		goto out;
	}
	/* Whatever woke us (POLLIN, or an error the read will report). */
	for (i = 0; i < n && !p[i].revents; i++)
		;
	if (i == n) {
		fprintf(stderr, "%s: poll woke with nothing ready\n", prog);
		r = 2;
		goto out;
	}
	printf("%s\n", dirs[i]);
	r = copy_result(dirs[i], p[i].fd);
out:
	for (i = 0; i < n; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	free(p);
	return r;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "any", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int any = 0, c;

	while ((c = getopt_long(argc, argv, "ah", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			any = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("%s (tricklefs) %s\n", prog, TRICKLE_VERSION);
			return 0;
		default:
			usage_error();
			return 2;
		}
	}
	if (optind == argc) {
		usage_error();
		return 2;
	}
	return any ? join_any(argc - optind, argv + optind)
		   : join_all(argc - optind, argv + optind);
}
