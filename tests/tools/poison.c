/*
 * poison.so - injected code that misbehaves, for local-poison.sh: each
 * function is one way a call can hurt its VM.  The processes it starts
 * write their PIDs to a file outside tricklefs, the ground truth of what
 * is still alive after the call.
 *
 *   loop                spin forever (for TRICKLE_TIMEOUT, TRICKLE_CPU)
 *   exit0               exit(0) from the middle of the call
 *   abort_              abort()
 *   forker N FILE       fork N children that sleep, their PIDs in
 *                       FILE (one a line, written by the parent), and
 *                       return at once
 *   daemonize FILE [wait]  the classic daemon: fork, setsid(), fork
 *                       again, the middle one exits; the grandchild's
 *                       PID in FILE; with wait, never return after
 *   closer              close fds 0, 1, 2 and put junk files over them
 *   scribble            write junk on every fd from 0 to 1023
 *   grabber FILE        close the worker's own fds on the call's output
 *                       (its memfds, past fd 2) and open FILE in their
 *                       place, kept open; at the next grabber, "kept" is
 *                       written to each, or "lost" to FILE.lost if the
 *                       worker closed it meanwhile
 *   hog                 malloc 1 MiB at a time, touching it, never
 *                       checking for NULL
 *   alive               print "alive" (is the VM back?)
 *   counter             1, 2, 3... per VM process (did it start over?)
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
append_pid(const char *file, pid_t pid)
{
	char line[32];
	int fd, n, ok;

	n = snprintf(line, sizeof(line), "%ld\n", (long)pid);
	fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	ok = write(fd, line, n) == n;
	return close(fd) == 0 && ok ? 0 : -1;
}

int
loop(int argc, char **argv)
{
	volatile unsigned long n = 0;

	for (;;)
		n++;
	return 0;
}

int
exit0(int argc, char **argv)
{
	printf("exiting\n");
	exit(0);
}

int
abort_(int argc, char **argv)
{
	abort();
}

int
forker(int argc, char **argv)
{
	int i, n;

	if (argc != 3) {
		fprintf(stderr, "usage: forker N FILE\n");
		return 2;
	}
	n = atoi(argv[1]);
	for (i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			/* No exec: the child keeps the VM's image. */
			for (;;)
				pause();
		}
		if (append_pid(argv[2], pid) < 0) {
			perror(argv[2]);
			return 1;
		}
	}
	printf("forked %d\n", n);
	return 0;
}

int
daemonize(int argc, char **argv)
{
	int p[2];
	pid_t pid;
	char c;

	if (argc < 2 || pipe(p) < 0)
		return 2;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(p[0]);
		setsid();
		if (fork() != 0)
			_exit(0);
		/* The grandchild: its own session, its parent gone. */
		signal(SIGTERM, SIG_IGN);
		append_pid(argv[1], getpid());
		if (write(p[1], "x", 1) < 0)
			_exit(1);
		close(p[1]);
		for (;;)
			pause();
	}
	close(p[1]);
	/* Return once the grandchild is set up. */
	if (read(p[0], &c, 1) != 1)
		return 1;
	close(p[0]);
	printf("daemon started\n");
	fflush(stdout);
	/* daemonize FILE wait: and then never return (for a timeout). */
	if (argc > 2)
		for (;;)
			pause();
	return 0;
}

int
closer(int argc, char **argv)
{
	printf("closing\n");
	fflush(stdout);
	close(0);
	close(1);
	close(2);
	/* The lowest free numbers now: junk takes their place. */
	open("/dev/zero", O_RDONLY);
	open("/dev/null", O_WRONLY);
	open("/dev/null", O_WRONLY);
	return 0;
}

int
scribble(int argc, char **argv)
{
	static const char junk[] = "\xff\xff\xff\xff garbage garbage";
	int fd;

	for (fd = 0; fd < 1024; fd++)
		if (write(fd, junk, sizeof(junk)) < 0)
			continue;
	return 0;
}

int
grabber(int argc, char **argv)
{
	static int grabbed[8], n;
	char link[256], path[64];
	struct dirent *e;
	DIR *d;
	int i, got = 0;

	if (argc < 2)
		return 2;
	for (i = 0; i < n; i++)
		if (write(grabbed[i], "kept\n", 5) != 5) {
			snprintf(path, sizeof(path), "%.58s.lost", argv[1]);
			append_pid(path, grabbed[i]);
		}
	n = 0;
	if (!(d = opendir("/proc/self/fd")))
		return 1;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		len = readlink(path, link, sizeof(link) - 1);
		if (fd <= 2 || len < 0)
			continue;
		link[len] = 0;
		if (strncmp(link, "/memfd:trickle-std", 18) != 0)
			continue;
		close(fd);
		/* The lowest free number: most likely the one just closed. */
		fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			  0644);
		if (fd >= 0 && n < 8)
			grabbed[n++] = fd;
		got++;
	}
	closedir(d);
	printf("grabbed %d\n", got);
	return 0;
}

static void *hoard;		/* keeps every block reachable */

int
hog(int argc, char **argv)
{
	for (;;) {
		void **p = malloc(1 << 20);

		memset(p, 1, 1 << 20);	/* NULL past the limit: SIGSEGV */
		*p = hoard;
		hoard = p;
	}
	return 0;
}

int
alive(int argc, char **argv)
{
	printf("alive\n");
	return 0;
}

int
counter(int argc, char **argv)
{
	static int n;

	printf("%d\n", ++n);
	return 0;
}
