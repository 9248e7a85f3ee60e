/*
 * callbench - time tricklefs calls through the filesystem, and the
 * commands they are compared with; for the scripts in tests/bench, not a test.
 *
 *   callbench sync [-n N] [-w W] [-r] [-l LINE] VMDIR
 *	N synchronous round trips: write LINE to calls/new (opened once),
 *	read back the id, open and read calls/ID/result (-r: then rmdir
 *	calls/ID).  W untimed round trips first.
 *   callbench pipe [-n N] [-b BATCH] [-j result|done] [-P] [-l LINE] VMDIR...
 *	N calls forked BATCH lines per write, spread over the VMs, then
 *	all joined: by reading every result, or by reading MOUNT/.done
 *	(opened before the first fork) until N calls have ended.  -P: the
 *	results of each VM's calls are read by a process of its own, the
 *	VMs' side by side (as xargs -P or two shell loops would).
 *   callbench cmd [-n N] [-w W] [-o FILE] -- COMMAND [ARG...]
 *	Run COMMAND N times, one after the other (stdin /dev/null, stdout
 *	FILE or /dev/null), each timed from fork to exit.
 *   callbench read FILE...
 *	Read the files 1 MiB at a time: bytes, seconds, MB/s.
 *   callbench fanout [-l LINE] MOUNT
 *	One LINE written to MOUNT/.all/calls/new (a call on every VM), its
 *	"VM/calls/ID" paths read back, then every result read to its end:
 *	the VMs, the time to fork, the time until the last result.
 *   callbench forkcost [-n N] [-w PAGES]
 *	What this machine charges for a process: N times fork(), the child
 *	writing PAGES pages it shares with the parent (copy-on-write) and
 *	exiting, the parent waiting.  A VM is a process (forked by the
 *	node's zygote), so this bounds how fast many VMs can start.
 *
 * Each prints one line of key=value pairs on stdout (times in
 * microseconds, MB = 10^6 bytes) for the scripts to parse.  Exit status
 * 0, or 1 if anything failed (the reason on stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "callbench";

static void
usage(void)
{
	fprintf(stderr,
		"usage: %s sync [-n N] [-w W] [-r] [-l LINE] VMDIR\n"
		"       %s pipe [-n N] [-b BATCH] [-j result|done] [-P] [-l LINE] "
		"VMDIR...\n"
		"       %s cmd [-n N] [-w W] [-o FILE] -- COMMAND [ARG...]\n"
		"       %s read FILE...\n"
		"       %s fanout [-l LINE] MOUNT\n"
		"       %s forkcost [-n N] [-w PAGES]\n", prog, prog, prog, prog,
		prog, prog);
	exit(2);
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static long
number(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0) {
		fprintf(stderr, "%s: bad %s: %s\n", prog, what, s);
		exit(2);
	}
	return v;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[n]. */
static double
percentile(const double *v, long n, double p)
{
	long k = (long)ceil(p / 100 * n) - 1;

	if (k < 0)
		k = 0;
	return v[k < n ? k : n - 1];
}

/* One line: n, p50, p90, p99, max, mean of the latencies (sorted here),
 * and the rate over the whole elapsed time. */
static void
print_latencies(double *lat, long n, double elapsed_us)
{
	double sum = 0;
	long i;

	qsort(lat, n, sizeof(*lat), cmp_double);
	for (i = 0; i < n; i++)
		sum += lat[i];
	printf("n=%ld p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f "
	       "mean_us=%.1f elapsed_s=%.3f per_s=%.1f\n", n,
	       percentile(lat, n, 50), percentile(lat, n, 90),
	       percentile(lat, n, 99), lat[n - 1], sum / n,
	       elapsed_us / 1e6, n / (elapsed_us / 1e6));
}

static int
write_all(int fd, const char *buf, size_t len, const char *what)
{
	while (len) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			fprintf(stderr, "%s: write %s: %s\n", prog, what,
				w < 0 ? strerror(errno) : "wrote nothing");
			return -1;
		}
		buf += w;
		len -= w;
	}
	return 0;
}

/*
 * Read ids (one per line) from calls/new until want of them are in ids[].
 * The file answers end of file when it holds no new id: the write that
 * forked the calls has returned, so all their ids must be there.
 */
static int
read_ids(int fd, long *ids, long want)
{
	char buf[65536], num[32];
	size_t nlen = 0;
	long got = 0;

	while (got < want) {
		ssize_t r = read(fd, buf, sizeof(buf));
		ssize_t i;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "%s: calls/new: %s after %ld of %ld "
				"ids\n", prog, r < 0 ? strerror(errno) :
				"end of file", got, want);
			return -1;
		}
		for (i = 0; i < r; i++) {
			if (buf[i] != '\n') {
				if (nlen + 1 >= sizeof(num))
					goto bad;
				num[nlen++] = buf[i];
				continue;
			}
			num[nlen] = '\0';
			nlen = 0;
			if (got == want)
				goto bad;
			ids[got++] = strtol(num, NULL, 10);
		}
	}
	if (nlen == 0)
		return 0;
bad:
	fprintf(stderr, "%s: calls/new: unexpected id text\n", prog);
	return -1;
}

/* Read calls/ID/result to its end; 0, or -1 (EIO: the call failed). */
static int
join(const char *vmdir, long id, char *buf, size_t bufsize)
{
	char path[PATH_MAX];
	int fd;
	ssize_t r;

	snprintf(path, sizeof(path), "%s/calls/%ld/result", vmdir, id);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	while ((r = read(fd, buf, bufsize)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, path,
				strerror(errno));
			close(fd);
			return -1;
		}
	}
	close(fd);
	return 0;
}

static int
forget(const char *vmdir, long id)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/calls/%ld", vmdir, id);
	if (rmdir(path) < 0) {
		fprintf(stderr, "%s: rmdir %s: %s\n", prog, path,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* count copies of "line\n", malloc'd. */
static char *
repeat_line(const char *line, long count)
{
	size_t len = strlen(line) + 1;
	char *text = malloc(len * count + 1), *p;
	long i;

	if (!text)
		return NULL;
	for (p = text, i = 0; i < count; i++, p += len) {
		memcpy(p, line, len - 1);
		p[len - 1] = '\n';
	}
	*p = '\0';
	return text;
}

static int
open_new(const char *vmdir)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/calls/new", vmdir);
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
	return fd;
}

static int
cmd_sync(int argc, char **argv)
{
	const char *line = "echo", *vmdir;
	long n = 1000, warm = 50, i, id;
	int rm = 0, c, fd, rc = 1;
	char buf[4096];
	char *text;
	double *lat, t0, start;

	while ((c = getopt(argc, argv, "n:w:rl:")) != -1) {
		switch (c) {
		case 'n': n = number(optarg, "count"); break;
		case 'w': warm = number(optarg, "warm-up count"); break;
		case 'r': rm = 1; break;
		case 'l': line = optarg; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || n < 1)
		usage();
	vmdir = argv[optind];
	text = repeat_line(line, 1);
	lat = calloc(n, sizeof(*lat));
	if (!text || !lat) {
		perror(prog);
		goto out;
	}
	if ((fd = open_new(vmdir)) < 0)
		goto out;
	start = 0;
	for (i = -warm; i < n; i++) {
		if (i == 0)
			start = now_us();
		t0 = now_us();
		if (write_all(fd, text, strlen(text), "calls/new") < 0 ||
		    read_ids(fd, &id, 1) < 0 ||
		    join(vmdir, id, buf, sizeof(buf)) < 0 ||
		    (rm && forget(vmdir, id) < 0))
			goto close;
		if (i >= 0)
			lat[i] = now_us() - t0;
	}
	print_latencies(lat, n, now_us() - start);
	rc = 0;
close:
	close(fd);
out:
	free(text);
	free(lat);
	return rc;
}

/* MOUNT/.done for MOUNT/VM, opened now: it lists calls ending from now. */
static int
open_done(const char *vmdir)
{
	char path[PATH_MAX], *slash;
	int fd;

	snprintf(path, sizeof(path), "%s", vmdir);
	while ((slash = strrchr(path, '/')) && slash[1] == '\0')
		*slash = '\0';		/* "VM/" */
	if (!slash) {
		snprintf(path, sizeof(path), ".done");
	} else {
		*slash = '\0';
		strncat(path, "/.done", sizeof(path) - strlen(path) - 1);
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
	return fd;
}

/* Read .done lines until n calls have ended; how many failed, or -1. */
static long
wait_done(int fd, long n)
{
	char buf[65536];
	long lines = 0, failed = 0;
	int at_start = 1;

	while (lines < n) {
		ssize_t r = read(fd, buf, sizeof(buf)), i;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "%s: .done: %s after %ld of %ld calls\n",
				prog, r < 0 ? strerror(errno) : "end of file",
				lines, n);
			return -1;
		}
		for (i = 0; i < r; i++) {
			/* "VM/calls/N STATUS\n": the status's first letter
			 * tells. */
			if (at_start == 2 && buf[i] != 'd')
				failed++;
			if (at_start == 1 && buf[i] == ' ')
				at_start = 2;
			else if (at_start == 2)
				at_start = 0;
			if (buf[i] == '\n') {
				lines++;
				at_start = 1;
			}
		}
	}
	return failed;
}

/* Read the results of the calls of VM v (vm_of), in order; 0 if all
 * could be read. */
static int
join_vm(const char *vmdir, int v, const long *ids, const int *vm_of, long n)
{
	char buf[4096];
	long i;

	for (i = 0; i < n; i++)
		if (vm_of[i] == v && join(vmdir, ids[i], buf, sizeof(buf)) < 0)
			return -1;
	return 0;
}

/* join_vm for every VM at once, each in a child process. */
static int
join_side_by_side(char **vmdirs, int nvm, const long *ids, const int *vm_of,
		  long n)
{
	int v, st, rc = 0;
	pid_t pid;

	for (v = 0; v < nvm; v++) {
		if ((pid = fork()) < 0) {
			perror(prog);
			rc = -1;
			break;
		}
		if (pid == 0)
			_exit(join_vm(vmdirs[v], v, ids, vm_of, n) < 0);
	}
	while ((pid = wait(&st)) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			rc = -1;
	return rc;
}

static int
cmd_pipe(int argc, char **argv)
{
	const char *line = "echo", *how = "result";
	long n = 10000, batch = 100, forked, b, i, failed = 0;
	int c, nvm, v, rc = 1, done_fd = -1, *fds = NULL, side = 0;
	long *ids = NULL;
	int *vm_of = NULL;
	char *text = NULL, buf[4096];
	double t0, t_forked, t_end;

	while ((c = getopt(argc, argv, "n:b:j:l:P")) != -1) {
		switch (c) {
		case 'n': n = number(optarg, "count"); break;
		case 'b': batch = number(optarg, "batch size"); break;
		case 'j': how = optarg; break;
		case 'P': side = 1; break;
		case 'l': line = optarg; break;
		default: usage();
		}
	}
	nvm = argc - optind;
	if (nvm < 1 || n < 1 || batch < 1 ||
	    (strcmp(how, "result") != 0 && strcmp(how, "done") != 0))
		usage();
	fds = calloc(nvm, sizeof(*fds));
	ids = calloc(n, sizeof(*ids));
	vm_of = calloc(n, sizeof(*vm_of));
	text = repeat_line(line, batch);
	if (!fds || !ids || !vm_of || !text) {
		perror(prog);
		goto out;
	}
	for (v = 0; v < nvm; v++)
		fds[v] = -1;
	for (v = 0; v < nvm; v++)
		if ((fds[v] = open_new(argv[optind + v])) < 0)
			goto out;
	if (strcmp(how, "done") == 0 && (done_fd = open_done(argv[optind])) < 0)
		goto out;

	t0 = now_us();
	for (forked = 0, v = 0; forked < n; forked += b, v = (v + 1) % nvm) {
		b = n - forked < batch ? n - forked : batch;
		if (write_all(fds[v], text, b * (strlen(line) + 1),
			      "calls/new") < 0 ||
		    read_ids(fds[v], ids + forked, b) < 0)
			goto out;
		for (i = forked; i < forked + b; i++)
			vm_of[i] = v;
	}
	t_forked = now_us();
	if (done_fd >= 0) {
		if ((failed = wait_done(done_fd, n)) < 0)
			goto out;
	} else if (side) {
		if (join_side_by_side(argv + optind, nvm, ids, vm_of, n) < 0)
			goto out;
	} else {
		for (i = 0; i < n; i++)
			if (join(argv[optind + vm_of[i]], ids[i], buf,
				 sizeof(buf)) < 0)
				goto out;
	}
	t_end = now_us();
	printf("n=%ld vms=%d batch=%ld join=%s%s fork_s=%.3f elapsed_s=%.3f "
	       "fork_per_s=%.1f per_s=%.1f failed=%ld\n", n, nvm, batch, how,
	       side ? "-side-by-side" : "",
	       (t_forked - t0) / 1e6, (t_end - t0) / 1e6,
	       n / ((t_forked - t0) / 1e6), n / ((t_end - t0) / 1e6), failed);
	if (failed)
		fprintf(stderr, "%s: %ld calls failed\n", prog, failed);
	else
		rc = 0;
out:
	if (fds)
		for (v = 0; v < nvm; v++)
			if (fds[v] >= 0)
				close(fds[v]);
	if (done_fd >= 0)
		close(done_fd);
	free(fds);
	free(ids);
	free(vm_of);
	free(text);
	return rc;
}

/* Run argv once, stdin from /dev/null and stdout to out; 0 if it
 * exited 0. */
static int
run_once(char **argv, const char *out)
{
	pid_t pid;
	int st;

	if ((pid = fork()) < 0) {
		perror(prog);
		return -1;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (in < 0 || o < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0) {
			perror(prog);
			_exit(127);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "%s: %s: %s\n", prog, argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			perror(prog);
			return -1;
		}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "%s: %s: %s %d\n", prog, argv[0],
			WIFEXITED(st) ? "exit" : "signal",
			WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		return -1;
	}
	return 0;
}

static int
cmd_cmd(int argc, char **argv)
{
	const char *out = "/dev/null";
	long n = 100, warm = 5, i;
	double *lat, t0, start = 0;
	int c, rc = 1;

	while ((c = getopt(argc, argv, "+n:w:o:")) != -1) {
		switch (c) {
		case 'n': n = number(optarg, "count"); break;
		case 'w': warm = number(optarg, "warm-up count"); break;
		case 'o': out = optarg; break;
		default: usage();
		}
	}
	if (optind >= argc || n < 1)
		usage();
	if (!(lat = calloc(n, sizeof(*lat)))) {
		perror(prog);
		return 1;
	}
	for (i = -warm; i < n; i++) {
		if (i == 0)
			start = now_us();
		t0 = now_us();
		if (run_once(argv + optind, out) < 0)
			goto out;
		if (i >= 0)
			lat[i] = now_us() - t0;
	}
	print_latencies(lat, n, now_us() - start);
	rc = 0;
out:
	free(lat);
	return rc;
}

static int
cmd_forkcost(int argc, char **argv)
{
	const long page = sysconf(_SC_PAGESIZE);
	long n = 1000, pages = 0, i, j;
	double t0;
	char *mem;
	int c;

	while ((c = getopt(argc, argv, "+n:w:")) != -1) {
		switch (c) {
		case 'n': n = number(optarg, "count"); break;
		case 'w': pages = number(optarg, "pages"); break;
		default: usage();
		}
	}
	if (optind != argc || n < 1 || pages > 4096)
		usage();
	/* Pages the children share with us, written by us first (so that
	 * they are ours, not the zero page). */
	if (!(mem = malloc((pages + 1) * page))) {
		perror(prog);
		return 1;
	}
	memset(mem, 1, (pages + 1) * page);
	t0 = now_us();
	for (i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror(prog);
			free(mem);
			return 1;
		}
		if (pid == 0) {
			for (j = 0; j < pages; j++)
				mem[j * page] = 2;
			_exit(0);
		}
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	printf("forks=%ld pages=%ld fork_us=%.1f\n", n, pages,
	       (now_us() - t0) / n);
	free(mem);
	return 0;
}

static int
cmd_read(int argc, char **argv)
{
	size_t size = 1 << 20;
	char *buf = malloc(size);
	long long total = 0;
	double t0;
	int i, fd;

	if (argc < 2)
		usage();
	if (!buf) {
		perror(prog);
		return 1;
	}
	t0 = now_us();
	for (i = 1; i < argc; i++) {
		ssize_t r;

		if ((fd = open(argv[i], O_RDONLY | O_CLOEXEC)) < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, argv[i],
				strerror(errno));
			free(buf);
			return 1;
		}
		while ((r = read(fd, buf, size)) != 0) {
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				fprintf(stderr, "%s: %s: %s\n", prog, argv[i],
					strerror(errno));
				close(fd);
				free(buf);
				return 1;
			}
			total += r;
		}
		close(fd);
	}
	t0 = now_us() - t0;
	printf("bytes=%lld elapsed_s=%.3f mb_per_s=%.1f\n", total, t0 / 1e6,
	       total / t0);
	free(buf);
	return 0;
}

/* The status file at path, on stderr. */
static void
print_status(const char *path)
{
	char st[512];
	ssize_t r = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		r = read(fd, st, sizeof(st) - 1);
		close(fd);
	}
	st[r > 0 ? r : 0] = '\0';
	fprintf(stderr, "%s: %s: %s", prog, path, r > 0 ? st : "?\n");
}

/* One line on .all/calls/new, then every VM's result read. */
static int
cmd_fanout(int argc, char **argv)
{
	const char *line = "echo", *mount;
	char path[PATH_MAX], buf[65536], *text = NULL, *p, *nl;
	size_t len = 0, cap = 0;
	long vms = 0, failed = 0;
	double t0, t_forked;
	int c, fd, rc = 1;

	while ((c = getopt(argc, argv, "l:")) != -1) {
		if (c != 'l')
			usage();
		line = optarg;
	}
	if (argc - optind != 1)
		usage();
	mount = argv[optind];
	snprintf(path, sizeof(path), "%s/.all/calls/new", mount);
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return 1;
	}
	snprintf(buf, sizeof(buf), "%s\n", line);
	t0 = now_us();
	if (write_all(fd, buf, strlen(buf), ".all/calls/new") < 0)
		goto out;
	/* The paths, until the file has no more to say. */
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "%s: .all/calls/new: %s\n", prog,
				strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		if (len + r + 1 > cap) {
			cap = (len + r + 1) * 2;
			if (!(p = realloc(text, cap))) {
				perror(prog);
				goto out;
			}
			text = p;
		}
		memcpy(text + len, buf, r);
		len += r;
	}
	t_forked = now_us();
	for (p = text; p && p < text + len; p = nl + 1) {
		int rfd;
		ssize_t r = 0;

		if (!(nl = memchr(p, '\n', text + len - p)))
			break;
		*nl = '\0';
		vms++;
		snprintf(path, sizeof(path), "%s/%s/result", mount, p);
		if ((rfd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
			while ((r = read(rfd, buf, sizeof(buf))) != 0)
				if (r < 0 && errno != EINTR)
					break;
			close(rfd);
		}
		if (rfd < 0 || r < 0) {
			/* Say why the first one failed. */
			if (!failed++) {
				snprintf(path, sizeof(path), "%s/%s/status",
					 mount, p);
				print_status(path);
			}
		}
	}
	printf("vms=%ld fork_s=%.3f elapsed_s=%.3f failed=%ld\n", vms,
	       (t_forked - t0) / 1e6, (now_us() - t0) / 1e6, failed);
	rc = vms && !failed ? 0 : 1;
out:
	close(fd);
	free(text);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	/* Each mode parses its own options, from its name on. */
	if (strcmp(argv[1], "sync") == 0)
		return cmd_sync(argc - 1, argv + 1);
	if (strcmp(argv[1], "pipe") == 0)
		return cmd_pipe(argc - 1, argv + 1);
	if (strcmp(argv[1], "cmd") == 0)
		return cmd_cmd(argc - 1, argv + 1);
	if (strcmp(argv[1], "read") == 0)
		return cmd_read(argc - 1, argv + 1);
	if (strcmp(argv[1], "fanout") == 0)
		return cmd_fanout(argc - 1, argv + 1);
	if (strcmp(argv[1], "forkcost") == 0)
		return cmd_forkcost(argc - 1, argv + 1);
	usage();
	return 2;
}
