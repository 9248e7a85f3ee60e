/*
 * merge.c - wfreq-merge [--times] [FILE...]: sums "word count" tables
 * (wordcount or wc_dump output, one per VM, in any order) read from FILEs,
 * or stdin when none or "-", and prints the merged table as "word count"
 * lines sorted by word.  A malformed line is an error (exit 1), never
 * silently skipped.
 *
 * The FILEs are read at once, each by its own thread (up to MAX_THREADS),
 * and what each read brings is added to the one total table at once: given
 * the VMs' `result` files on a mount, the merge goes on while later VMs
 * are still dumping, and only the last read and the one sort are left when
 * the last VM's table is in.  --times prints to stderr when the last table was in and
 * when the output was written, in seconds since the start.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wtable.h"

#define MAX_THREADS	16
#define BUF_START	(256 * 1024)

static char **inputs;		/* FILE arguments ("-": stdin) */
static int ninputs;
static int next_input;		/* the next one a thread takes, under mu */
static int stdin_taken;		/* a second "-" reads nothing, under mu */
static int failed;		/* atomic: set once, read to stop early */
#define FAILED()	__atomic_load_n(&failed, __ATOMIC_RELAXED)
#define SET_FAILED()	__atomic_store_n(&failed, 1, __ATOMIC_RELAXED)
static struct wtable total;	/* under mu */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/*
 * Adds the "word count" line s[0..len) (no newline) to t.  0, or -1 after
 * saying why.
 */
static int
add_line(struct wtable *t, const char *s, size_t len, const char *name,
    long lineno)
{
	const char *sp = memchr(s, ' ', len), *p, *end = s + len;
	unsigned long long c = 0;

	if (!sp || sp == s || sp + 1 == end)
		goto bad;
	for (p = s; p < sp; p++)
		if (*p < 'a' || *p > 'z')
			goto bad;
	for (p = sp + 1; p < end; p++) {
		if (*p < '0' || *p > '9' ||
		    c > (~0ULL - (unsigned)(*p - '0')) / 10)
			goto bad;
		c = c * 10 + (unsigned)(*p - '0');
	}
	if (!wt_add(t, s, (size_t)(sp - s), c)) {
		fprintf(stderr, "wfreq-merge: out of memory\n");
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, "wfreq-merge: %s:%ld: not a \"word count\" line\n",
	    name, lineno);
	return -1;
}

/*
 * Reads the table on fd in large reads and adds each read's complete lines
 * to the total at once, under mu.  0, or -1 after saying why.
 */
static int
read_table(int fd, const char *name)
{
	size_t cap = BUF_START, have = 0, done;
	char *buf = malloc(cap), *nb, *nl;
	long lineno = 0;
	ssize_t n;
	int rc = 0;

	if (!buf) {
		fprintf(stderr, "wfreq-merge: out of memory\n");
		return -1;
	}
	for (;;) {
		if (have == cap) {	/* a line longer than the buffer */
			if (!(nb = realloc(buf, cap * 2))) {
				fprintf(stderr, "wfreq-merge: out of memory\n");
				rc = -1;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + have, cap - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "wfreq-merge: %s: read error: %s\n",
			    name, strerror(errno));
			rc = -1;
			break;
		}
		if (n == 0) {	/* a last line without its newline counts */
			if (have) {
				pthread_mutex_lock(&mu);
				rc = add_line(&total, buf, have, name, ++lineno);
				pthread_mutex_unlock(&mu);
			}
			break;
		}
		have += (size_t)n;
		pthread_mutex_lock(&mu);
		for (done = 0; (nl = memchr(buf + done, '\n', have - done));
		    done = (size_t)(nl - buf) + 1) {
			rc = add_line(&total, buf + done,
			    (size_t)(nl - buf) - done, name, ++lineno);
			if (rc < 0)
				break;
		}
		pthread_mutex_unlock(&mu);
		if (rc < 0 || FAILED())
			break;
		memmove(buf, buf + done, have - done);
		have -= done;
	}
	free(buf);
	return rc;
}

/* Reads input i into the total. */
static void
merge_input(int i)
{
	const char *name = inputs[i];
	int fd = 0;

	if (!strcmp(name, "-")) {
		pthread_mutex_lock(&mu);
		fd = stdin_taken++ ? -1 : 0;
		pthread_mutex_unlock(&mu);
		name = "(stdin)";
		if (fd < 0)	/* stdin was read to its end already */
			return;
	} else if ((fd = open(name, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "wfreq-merge: %s: %s\n", name, strerror(errno));
		SET_FAILED();
		return;
	}
	if (read_table(fd, name) < 0)
		SET_FAILED();
	if (fd > 0)
		close(fd);
}

static void *
worker(void *arg)
{
	int i;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&mu);
		i = FAILED() ? ninputs : next_input++;
		pthread_mutex_unlock(&mu);
		if (i >= ninputs)
			return NULL;
		merge_input(i);
	}
}

static double
secs_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

int
main(int argc, char **argv)
{
	static char *dash[] = { "-", NULL };
	pthread_t th[MAX_THREADS];
	struct timespec t0;
	int i, nth, times = 0, rc;
	double in_s;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: wfreq-merge [--times] [FILE...]\n"
		    "Sums \"word count\" lines from FILEs (stdin if none or -),\n"
		    "read all at once, and prints the merged table sorted by word.\n"
		    "--times: on stderr, when the last table was in and the output out.\n");
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--times")) {
		times = 1;
		argv++;
		argc--;
	}
	inputs = argc > 1 ? argv + 1 : dash;
	ninputs = argc > 1 ? argc - 1 : 1;
	nth = ninputs < MAX_THREADS ? ninputs : MAX_THREADS;
	for (i = 0; i < nth; i++) {
		if ((rc = pthread_create(&th[i], NULL, worker, NULL)) != 0) {
			fprintf(stderr, "wfreq-merge: pthread_create: %s\n",
			    strerror(rc));
			SET_FAILED();
			break;
		}
	}
	nth = i;
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	in_s = secs_since(&t0);
	rc = FAILED() ? -1 : 0;
	if (rc == 0 && (wt_print(&total, stdout) < 0 || fflush(stdout) != 0)) {
		fprintf(stderr, "wfreq-merge: write error\n");
		rc = -1;
	}
	if (times)
		fprintf(stderr, "wfreq-merge: %d table(s) in after %.3f s, "
		    "output written after %.3f s\n", ninputs, in_s,
		    secs_since(&t0));
	wt_free(&total);
	return rc ? 1 : 0;
}
