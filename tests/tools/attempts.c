/*
 * attempts.so - injected code for the fault-injection tests: ground truth
 * of how often each work item ran, kept outside tricklefs.
 *
 *   work LOG MS ITEM   append "start ITEM PID" to LOG, sleep MS ms, append
 *                      "end ITEM PID", print "ITEM ok"
 *
 * LOG is a file on the node (the tests' nodes share this machine's disk);
 * each line is one write(2) with O_APPEND, so lines of concurrent calls
 * never mix.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int
note(const char *log, const char *what, const char *item)
{
	char line[256];
	int fd, n, ok;

	n = snprintf(line, sizeof(line), "%s %s %ld\n", what, item,
		     (long)getpid());
	if (n < 0 || n >= (int)sizeof(line))
		return -1;
	fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	ok = write(fd, line, n) == n;
	return close(fd) == 0 && ok ? 0 : -1;
}

int
work(int argc, char **argv)
{
	long ms;
	struct timespec ts;

	if (argc != 4) {
		fprintf(stderr, "usage: work LOG MS ITEM\n");
		return 2;
	}
	ms = atol(argv[2]);
	if (note(argv[1], "start", argv[3]) < 0) {
		perror(argv[1]);
		return 1;
	}
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = ms % 1000 * 1000000;
	while (nanosleep(&ts, &ts) < 0)
		;
	if (note(argv[1], "end", argv[3]) < 0) {
		perror(argv[1]);
		return 1;
	}
	printf("%s ok\n", argv[3]);
	return 0;
}
