/*
 * contain.c - a call kept in bounds: the processes it starts end with it,
 * and TRICKLE_MEMORY and TRICKLE_CPU limit it (the worker's side of
 * them; node/vm checks the words).  Part of the worker (worker.c runs
 * the calls), sharing its state through worker_priv.h.
 */
#include "worker.h"
#include "worker_priv.h"
#include "fdio.h"
#include "wire.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct limits lim;

/*
 * Containing a call.
 *
 * Its processes: the worker is a child subreaper, so whatever a call
 * starts stays below it, even a process whose parent is gone (a double
 * fork, a daemon that called setsid()): an orphan comes to the worker,
 * not to init.  When the call ends, end_descendants() kills the
 * worker's children, reaps them, and goes on with the orphans that come
 * up, until none is left.  Only children are signalled: nobody else can
 * reap them, so their PIDs cannot have been reused meanwhile.  It runs
 * after each call and from the handlers of the signals that end the
 * worker during one (SIGTERM for a timeout or a cancel, the crash
 * signals) and at exit(), so it makes system calls only.  What it cannot
 * reach: a process the call had started by other means (systemd-run,
 * at, ssh), and descendants alive when the worker is killed with SIGKILL
 * or _exit()s (then only the worker's process group goes with it).
 */

#define END_BOUND_NS (1000 * 1000000LL)	/* a child that will not die */

/* Digits of v, ending at end (async-signal-safe); where they start. */
static char *
fmt_uint(char *end, unsigned long v)
{
	*--end = '\0';
	do
		*--end = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	return end;
}

/* The parent of pid from /proc/PID/stat, or -1. */
static pid_t
parent_of(const char *pid)
{
	char path[64] = "/proc/", buf[512], *p;
	ssize_t n;
	int fd;

	if (strlen(pid) > 32)
		return -1;
	strcat(strcat(path, pid), "/stat");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "PID (COMM) S PPID ...", and COMM may hold ") " */
	if (!(p = strrchr(buf, ')')) || strlen(p) < 5)
		return -1;
	return (pid_t)strtol(p + 4, NULL, 10);
}

/* Kill the worker's children, up to max of them; how many there were. */
static int
kill_children(int max)
{
	char dents[8192];
	ssize_t n, off;
	int dir, found = 0;

	if ((dir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 0;
	while (found < max && (n = getdents64(dir, dents, sizeof(dents))) > 0)
		for (off = 0; off < n && found < max;) {
			struct dirent64 *d = (struct dirent64 *)(dents + off);

			off += d->d_reclen;
			if (g_ascii_isdigit(d->d_name[0]) &&
			    parent_of(d->d_name) == worker_pid) {
				kill((pid_t)strtol(d->d_name, NULL, 10),
				     SIGKILL);
				found++;
			}
		}
	close(dir);
	return found;
}

static gint64
monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void
end_descendants(void)
{
	const struct timespec pause = { 0, 1000000 };
	int saved = errno;
	gint64 start = 0;

	for (;;) {
		pid_t r;

		while ((r = waitpid(-1, NULL, WNOHANG)) > 0)
			;
		if (r < 0)
			break;		/* ECHILD: none left, the usual case */
		if (!start)
			start = monotonic_ns();
		else if (monotonic_ns() - start > END_BOUND_NS)
			break;		/* stuck in the kernel: give up */
		kill_children(1024);
		nanosleep(&pause, NULL);
	}
	errno = saved;
}

void
end_descendants_at_exit(void)
{
	if (getpid() == worker_pid)
		end_descendants();
}

/* The worker's data (RLIMIT_DATA counts it) from /proc/self/statm, in
 * bytes; 0 if unknown.  Async-signal-safe. */
static guint64
data_bytes(void)
{
	char buf[256], *p = buf;
	ssize_t n;
	int fd, i;

	if ((fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (i = 0; i < 5 && p; i++)	/* size resident shared text lib data */
		if ((p = strchr(p, ' ')))
			p++;
	return p ? (guint64)strtoull(p, NULL, 10) * (guint64)page_size : 0;
}

/* 268435456 -> "256M" */
static char *
format_size(guint64 n)
{
	const char *units = "KMG";
	int i = -1;

	while (i < 2 && n >= 1024 && n % 1024 == 0) {
		n /= 1024;
		i++;
	}
	return i < 0 ? g_strdup_printf("%" G_GUINT64_FORMAT, n)
		     : g_strdup_printf("%" G_GUINT64_FORMAT "%c", n, units[i]);
}

static char *
limit_detail(char kind, guint64 memory, guint cpu_s)
{
	g_autofree char *size = NULL;

	if (kind == 'c')
		return g_strdup_printf("CPU limit (%u s) exceeded", cpu_s);
	size = format_size(memory);
	return g_strdup_printf("memory limit (%s) exceeded", size);
}

/* Did a crash come from the memory limit?  malloc() that failed leaves
 * ENOMEM behind, and one that got close to the limit leaves the data
 * near it. */
static gboolean
out_of_memory(int err)
{
	guint64 slack = MAX(lim.memory / 16, 4u << 20);

	return err == ENOMEM || data_bytes() + slack >= lim.data_limit;
}

/* From a handler: the call failed for its limit; tell the next image
 * why and become it.  Returns only if exec() failed. */
void
restart_self(char kind, int sig)
{
	char num[24];

	lim.why[0] = kind;
	lim.why[1] = (char)('0' + sig / 10 % 10);
	lim.why[2] = (char)('0' + sig % 10);
	strcpy(lim.first_arg, "--first-object=");
	strcat(lim.first_arg, fmt_uint(num + sizeof(num), objects_next_id()));
	setrlimit(RLIMIT_DATA, &lim.old_data);
	setrlimit(RLIMIT_CPU, &lim.old_cpu);
	/* As the supervisor starts a worker: the socket on 3, no more. */
	if (dup2(wsock, 3) < 0)
		return;
	if (home_fd >= 0 && fchdir(home_fd) < 0)
		return;
	dup2(devnull, STDIN_FILENO);
	dup2(devnull, STDOUT_FILENO);
	dup2(logfd, STDERR_FILENO);
	close_range(4, ~0U, 0);
	/* Not self_exe: the file may have been replaced since. */
	execve("/proc/self/exe", lim.argv, lim.envp);
}

static void
on_fatal_signal(int sig)
{
	int err = errno;

	if (getpid() == worker_pid) {
		if (lim.armed && lim.cpu_s && sig == SIGXCPU)
			restart_self('c', sig);
		else if (lim.armed && lim.memory && (sig == SIGSEGV ||
			 sig == SIGBUS || sig == SIGABRT) && out_of_memory(err))
			restart_self('m', sig);
		end_descendants();
	}
	/* SA_RESETHAND: die of it, with its status for the supervisor,
	 * once the handler returns (every signal is blocked in it). */
	raise(sig);
}

void
install_handlers(void)
{
	static const int sigs[] = { SIGTERM, SIGHUP, SIGINT, SIGQUIT,
		SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGXCPU, SIGXFSZ,
		SIGSYS };
	struct sigaction sa = { .sa_handler = on_fatal_signal,
				.sa_flags = SA_RESETHAND };
	guint i;

	/* Nothing cuts the handler short: a supervisor killed outright may
	 * send its parent-death SIGTERM more than once (a thread at a
	 * time), and a second one must not end us before end_descendants
	 * has. */
	sigfillset(&sa.sa_mask);
	for (i = 0; i < G_N_ELEMENTS(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* The call's TRICKLE_MEMORY and TRICKLE_CPU words (node/vm checked them)
 * into lim, out of env: they are options, not the call's environment. */
void
take_limits(char **env)
{
	char **in, **out;

	for (in = out = env; *in; in++) {
		if (g_str_has_prefix(*in, "TRICKLE_MEMORY="))
			lim.memory = g_ascii_strtoull(*in + 15, NULL, 10);
		else if (g_str_has_prefix(*in, "TRICKLE_CPU="))
			lim.cpu_s = (guint)MIN(g_ascii_strtoull(*in + 12,
						NULL, 10), G_MAXUINT);
		else {
			*out++ = *in;
			continue;
		}
		g_free(*in);
	}
	*out = NULL;
}

/* Build what restart_self() needs for call tag of vm; before the call's
 * own variables are set, which the next image must not keep. */
void
prepare_restart(guint16 vm, guint32 tag)
{
	g_autoptr(GString) spec = g_string_new(RESTART_VAR "=K00");
	guint i;

	g_string_append_printf(spec, "\n%u\n%u\n%" G_GUINT64_FORMAT "\n%u\n%d",
			       vm, tag, lim.memory, lim.cpu_s,
			       objects_sent &&
			       g_variant_n_children(objects_sent) > 0);
	for (i = 0; i < libs->len; i++)
		g_string_append_printf(spec, "\n%s",
				       ((struct lib *)libs->pdata[i])->path);
	lim.envp = g_get_environ();
	lim.envp = g_renew(char *, lim.envp, g_strv_length(lim.envp) + 2);
	i = g_strv_length(lim.envp);
	lim.envp[i] = g_string_free(g_steal_pointer(&spec), FALSE);
	lim.envp[i + 1] = NULL;
	lim.why = lim.envp[i] + strlen(RESTART_VAR "=");
	lim.argv = g_new0(char *, 4);
	lim.argv[0] = g_strdup(self_exe ? self_exe : "trickle-node");
	lim.argv[1] = g_strdup("--worker");
	lim.argv[2] = lim.first_arg;
}

/* Set the worker's own limits for a function: relative to what it has
 * now (its libraries, its globals).  Only the soft limits: a process may
 * not raise a hard one again. */
void
arm_limits(void)
{
	struct rlimit rl;
	struct rusage ru;

	if (!lim.memory && !lim.cpu_s)
		return;
	getrlimit(RLIMIT_DATA, &lim.old_data);
	getrlimit(RLIMIT_CPU, &lim.old_cpu);
	if (lim.memory) {
		lim.data_limit = data_bytes() + lim.memory;
		rl = lim.old_data;
		rl.rlim_cur = MIN(lim.data_limit, rl.rlim_max);
		setrlimit(RLIMIT_DATA, &rl);
	}
	if (lim.cpu_s && getrusage(RUSAGE_SELF, &ru) == 0) {
		/* Whole seconds: the call gets S to S + 1 of them. */
		guint64 used = (guint64)(ru.ru_utime.tv_sec +
					 ru.ru_stime.tv_sec) * 1000000 +
			       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;

		rl = lim.old_cpu;
		rl.rlim_cur = MIN((rlim_t)((used + 999999) / 1000000) +
				  lim.cpu_s, rl.rlim_max);
		setrlimit(RLIMIT_CPU, &rl);
	}
	lim.armed = 1;
}

void
disarm_limits(void)
{
	if (!lim.armed)
		return;
	lim.armed = 0;
	setrlimit(RLIMIT_DATA, &lim.old_data);
	setrlimit(RLIMIT_CPU, &lim.old_cpu);
}

/* In a program's child: the limits are its own, from zero. */
void
child_limits(void)
{
	struct rlimit rl;

	if (lim.memory && getrlimit(RLIMIT_DATA, &rl) == 0) {
		rl.rlim_cur = MIN(lim.memory, rl.rlim_max);
		setrlimit(RLIMIT_DATA, &rl);
	}
	if (lim.cpu_s && getrlimit(RLIMIT_CPU, &rl) == 0) {
		rl.rlim_cur = MIN(lim.cpu_s, rl.rlim_max);
		setrlimit(RLIMIT_CPU, &rl);
	}
}

void
clear_limits(void)
{
	disarm_limits();
	if (lim.argv) {
		g_free(lim.argv[0]);
		g_free(lim.argv[1]);
		g_free(lim.argv);
	}
	g_strfreev(lim.envp);
	memset(&lim, 0, sizeof(lim));
}

/* A program's end, typed when its limit ended it: it died of SIGXCPU
 * past TRICKLE_CPU, or crashed with its resident memory near
 * TRICKLE_MEMORY. */
char *
program_limit_detail(int status, const struct rusage *ru)
{
	int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	guint64 slack = MAX(lim.memory / 16, 4u << 20);

	if (lim.cpu_s && sig == SIGXCPU)
		return limit_detail('c', 0, lim.cpu_s);
	if (lim.memory && (sig == SIGSEGV || sig == SIGBUS ||
			   sig == SIGABRT || sig == SIGKILL) &&
	    (guint64)ru->ru_maxrss * 1024 + slack >= lim.memory)
		return limit_detail('m', lim.memory, 0);
	return NULL;
}

/* In the worker restart_self() made: load the libraries again and end
 * the call that failed for its limit, as the supervisor expects of the
 * worker it sent it to. */
gboolean
finish_restart(int fd, GByteArray *out, const char *spec)
{
	g_auto(GStrv) w = g_strsplit(spec, "\n", -1);
	g_autofree char *detail = NULL;
	guint i, vm, tag;

	if (g_strv_length(w) < 6 || strlen(w[0]) != 3) {
		g_warning("worker: bad %s", RESTART_VAR);
		return FALSE;
	}
	/* What the call started is still ours: it goes first. */
	end_descendants();
	for (i = 6; w[i]; i++) {
		void *h = dlopen(w[i], RTLD_NOW | RTLD_GLOBAL);
		struct lib *l;

		if (!h) {
			g_warning("worker: cannot load %s again: %s", w[i],
				  dlerror());
			continue;
		}
		l = g_new0(struct lib, 1);
		l->path = g_strdup(w[i]);
		l->handle = h;
		g_ptr_array_add(libs, l);
	}
	vm = (guint)g_ascii_strtoull(w[1], NULL, 10);
	tag = (guint)g_ascii_strtoull(w[2], NULL, 10);
	detail = limit_detail(w[0][0], g_ascii_strtoull(w[3], NULL, 10),
			      (guint)g_ascii_strtoull(w[4], NULL, 10));
	g_message("worker: call %u: %s; the VM starts over", tag, detail);
	/* Its objects went with the old image. */
	if (strcmp(w[5], "1") == 0) {
		wire_encode(out, WIRE_W_OBJECTS, vm, 0,
			    g_variant_new("a(uss)", NULL));
		send_frame(fd, out);
	}
	wire_encode(out, WIRE_W_DONE, vm, tag,
		    g_variant_new("(yisb)", CALL_FAILED,
				  128 + atoi(w[0] + 1), detail, FALSE));
	send_frame(fd, out);
	return TRUE;
}

