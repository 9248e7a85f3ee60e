/*
 * poll-read - poll(2) several files at once and read each as it becomes
 * readable (for tests of calls/N/result: readable once the call ends).
 *
 *   poll-read PATH...
 *	Opens every PATH (O_RDONLY) and polls them together for POLLIN.
 *	Each one reported is read once (up to 4096 bytes) and dropped from
 *	the set; prints, in the order they were reported,
 *		PATH SECONDS DATA		(DATA without trailing white
 *						 space, on one line)
 *		PATH SECONDS error ENAME	(the read failed: EIO...)
 *	SECONDS since the start, with one decimal.  A poll that waits 30 s
 *	for nothing prints "timeout" and exits 1.
 *
 *   poll-read --once MS PATH
 *	One poll(2) of PATH for POLLIN with a timeout of MS milliseconds;
 *	prints "none" if nothing was reported, else the events reported
 *	(POLLIN, POLLERR, POLLHUP, POLLNVAL, "|"-separated).
 *
 * Exit status 0, 1 on a timeout or a failed open/poll, 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *
ename(int err)
{
	switch (err) {
	case EIO: return "EIO";
	case EINTR: return "EINTR";
	case EAGAIN: return "EAGAIN";
	case ENOENT: return "ENOENT";
	case EINVAL: return "EINVAL";
	case ECANCELED: return "ECANCELED";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	default: {
		static char buf[32];

		snprintf(buf, sizeof(buf), "E#%d", err);
		return buf;
	}
	}
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
print_events(short ev)
{
	static const struct { short bit; const char *name; } bits[] = {
		{ POLLIN, "POLLIN" }, { POLLPRI, "POLLPRI" },
		{ POLLOUT, "POLLOUT" }, { POLLERR, "POLLERR" },
		{ POLLHUP, "POLLHUP" }, { POLLNVAL, "POLLNVAL" },
	};
	const char *sep = "";
	size_t i;

	for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (ev & bits[i].bit) {
			printf("%s%s", sep, bits[i].name);
			sep = "|";
		}
	printf("\n");
}

static int
once(int ms, const char *path)
{
	struct pollfd p = { .events = POLLIN };
	int n;

	p.fd = open(path, O_RDONLY);
	if (p.fd < 0) {
		fprintf(stderr, "poll-read: %s: %s\n", path, strerror(errno));
		return 1;
	}
	n = poll(&p, 1, ms);
	if (n < 0) {
		fprintf(stderr, "poll-read: poll: %s\n", strerror(errno));
		return 1;
	}
	if (n == 0)
		printf("none\n");
	else
		print_events(p.revents);
	close(p.fd);
	return 0;
}

int
main(int argc, char **argv)
{
	int n = argc - 1, left, i;
	struct pollfd *p;
	double start;

	if (argc == 4 && strcmp(argv[1], "--once") == 0)
		return once(atoi(argv[2]), argv[3]);
	if (n < 1 || argv[1][0] == '-') {
		fprintf(stderr, "usage: poll-read PATH...\n"
			"       poll-read --once MS PATH\n");
		return 2;
	}
	p = calloc((size_t)n, sizeof(*p));
	if (!p)
		return 1;
	for (i = 0; i < n; i++) {
		p[i].fd = open(argv[i + 1], O_RDONLY);
		p[i].events = POLLIN;
		if (p[i].fd < 0) {
			fprintf(stderr, "poll-read: %s: %s\n", argv[i + 1],
				strerror(errno));
			return 1;
		}
	}
	start = now();
	for (left = n; left > 0;) {
		int got = poll(p, (nfds_t)n, 30000);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "poll-read: poll: %s\n", strerror(errno));
			return 1;
		}
		if (got == 0) {
			printf("timeout\n");
			return 1;
		}
		for (i = 0; i < n; i++) {
			char buf[4097];
			ssize_t len;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			len = read(p[i].fd, buf, sizeof(buf) - 1);
			if (len < 0) {
				printf("%s %.1f error %s\n", argv[i + 1],
				       now() - start, ename(errno));
			} else {
				while (len > 0 && strchr(" \t\n\r", buf[len - 1]))
					len--;
				buf[len] = '\0';
				for (char *c = buf; *c; c++)
					if (*c == '\n')
						*c = ' ';
				printf("%s %.1f %s\n", argv[i + 1],
				       now() - start, buf);
			}
			fflush(stdout);
			close(p[i].fd);
			p[i].fd = -1;	/* poll(2) ignores negative fds */
			left--;
		}
	}
	free(p);
	return 0;
}
