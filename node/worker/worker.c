/*
 * worker.c - the VM worker process (see worker.h).
 *
 * The worker is deliberately simple and blocking: one request at a time
 * from the supervisor, answered when done.  Calls write straight into
 * files in their call directory, so output never passes through here.
 *
 * A call's name is looked up among injected programs (the supervisor says
 * which in W_RUN), then the functions of injected shared objects (the
 * latest loaded first), then the built-ins.  The call's own environment
 * (leading NAME=VALUE words) is set in the worker for its duration, so
 * functions see it with getenv() and programs inherit it.
 *
 * A call is contained: every process it started is killed when it ends
 * (end_descendants), and its TRICKLE_MEMORY and TRICKLE_CPU limits hold
 * while it runs.  A function past its limit cannot be stopped short of
 * the process, and the supervisor must hear why the call failed before
 * it sends the next one: so the worker says so itself and starts over in
 * place (restart_self: exec() of itself, same PID, same socket, its
 * libraries loaded again), as a VM does after a crash.
 */
#include "worker.h"
#include "worker_priv.h"
#include "fdio.h"
#include "wire.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef int (*trickle_fn)(int argc, char **argv);

/* How often output buffered by an in-process function is flushed into
 * the call's files, so that it can be watched while the call runs. */
#define FLUSH_INTERVAL_US (G_USEC_PER_SEC / 4)

/* A variable the running call set, and what it was before. */
struct saved_var {
	char *name;
	char *old;			/* NULL: it was not set */
};

GPtrArray *libs;		/* struct lib *, in load order */
int devnull = -1;
int logfd = -1;		/* the supervisor's stderr, for our own messages */
static GPtrArray *saved_vars;	/* struct saved_var *, of the running call */
GVariant *objects_sent;	/* the W_OBJECTS last sent */

pid_t worker_pid;	/* handlers inherited by a call's fork do nothing */
int wsock = -1;		/* the line to the supervisor */
char *self_exe;		/* argv[0] for restart_self() */
int home_fd = -1;
long page_size;

static GMutex flush_lock;
static GCond flush_cond;
static gboolean flushing;	/* a function runs: flush its stdio */
static gboolean flusher_idle;	/* waits for flushing, not for a time */

char *
signal_description(int sig)
{
	const char *abbrev = sigabbrev_np(sig);

	return abbrev ? g_strdup_printf("signal %d (SIG%s)", sig, abbrev)
		      : g_strdup_printf("signal %d", sig);
}

void
send_frame(int fd, GByteArray *frame)
{
	if (fdio_write_all(fd, frame->data, frame->len) < 0)
		_exit(2);	/* supervisor gone */
	g_byte_array_set_size(frame, 0);
}

/*
 * Find NAME among the functions the injected objects define themselves.
 * dlsym() also searches an object's dependencies, which would make every
 * libc function (exit, abort, system...) callable by name: refuse those.
 * TRICKLE_DOC() strings are data, not functions.
 */
static trickle_fn
lookup(const char *name)
{
	guint i;

	if (g_str_has_prefix(name, "trickle_doc_") ||
	    strcmp(name, "trickle_save") == 0 ||
	    strcmp(name, "trickle_restore") == 0)
		return NULL;
	for (i = libs->len; i-- > 0;) {
		struct lib *l = libs->pdata[i];
		Dl_info info;
		void *sym = dlsym(l->handle, name);

		if (sym && dladdr(sym, &info) && info.dli_fname &&
		    strcmp(info.dli_fname, l->path) == 0)
			return (trickle_fn)sym;
	}
	return NULL;
}

/* Built-ins. */

static int
builtin_echo(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		printf("%s%s", i > 1 ? " " : "", argv[i]);
	printf("\n");
	return 0;
}

static int
builtin_sleep(int argc, char **argv)
{
	struct timespec ts;
	char *end = NULL;
	double s = 0;

	if (argc == 2)
		s = g_ascii_strtod(argv[1], &end);
	if (argc != 2 || !end || end == argv[1] || *end || !isfinite(s) ||
	    s < 0 || s > 1e9) {
		fprintf(stderr, "usage: sleep SECONDS (a number, fractions "
			"allowed)\n");
		return 2;
	}
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_nsec = 999999999L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return 0;
}

static gboolean
is_identifier(const char *s)
{
	if (!(g_ascii_isalpha(*s) || *s == '_'))
		return FALSE;
	for (s++; *s; s++)
		if (!(g_ascii_isalnum(*s) || *s == '_'))
			return FALSE;
	return TRUE;
}

/* setenv NAME [VALUE...]: the words of VALUE joined by spaces.  The
 * supervisor records it too, for the next worker after a restart. */
static int
builtin_setenv(int argc, char **argv)
{
	g_autofree char *value = NULL;
	guint i;

	if (argc < 2 || !is_identifier(argv[1])) {
		fprintf(stderr, "usage: setenv NAME [VALUE...] (NAME a letter or "
			"_ then letters, digits, _)\n");
		return 2;
	}
	value = g_strjoinv(" ", argv + 2);
	if (setenv(argv[1], value, 1) < 0) {
		fprintf(stderr, "setenv: %s\n", strerror(errno));
		return 1;
	}
	/* "NAME=x setenv NAME y" leaves y, not the value from before. */
	for (i = saved_vars->len; i-- > 0;) {
		struct saved_var *v = saved_vars->pdata[i];

		if (strcmp(v->name, argv[1]) == 0)
			g_ptr_array_remove_index(saved_vars, i);
	}
	return 0;
}

const struct builtin_info worker_builtins[] = {
	{ "echo", "echo ARG...: print the arguments, separated by spaces" },
	{ "exec", "exec PROGRAM ARG...: run a program installed on the "
		  "node (found in PATH)" },
	{ "setenv", "setenv NAME VALUE: set an environment variable for the "
		    "later calls of this VM" },
	{ "sleep", "sleep SECONDS: wait (fractions allowed)" },
	{ NULL, NULL }
};

static trickle_fn
builtin(const char *name)
{
	if (strcmp(name, "echo") == 0)
		return builtin_echo;
	if (strcmp(name, "sleep") == 0)
		return builtin_sleep;
	if (strcmp(name, "setenv") == 0)
		return builtin_setenv;
	return NULL;
}

static void
do_load(int fd, GByteArray *out, const struct wire_msg *m)
{
	const char *path = g_variant_get_string(m->body, NULL);
	void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	struct lib *l;

	if (!h) {
		wire_encode(out, WIRE_W_LOADED, m->vm, m->tag,
			    g_variant_new("(is)", EINVAL, dlerror()));
		send_frame(fd, out);
		return;
	}
	l = g_new0(struct lib, 1);
	l->path = g_strdup(path);
	l->handle = h;
	g_ptr_array_add(libs, l);
	wire_encode(out, WIRE_W_LOADED, m->vm, m->tag,
		    g_variant_new("(is)", 0, ""));
	send_frame(fd, out);
}

static void
saved_var_free(struct saved_var *v)
{
	g_free(v->name);
	g_free(v->old);
	g_free(v);
}

/* Set the call's NAME=VALUE list (the supervisor checked the names). */
static void
set_call_env(char **env)
{
	for (; *env; env++) {
		const char *eq = strchr(*env, '=');
		g_autofree char *name = NULL;
		struct saved_var *v;
		guint i;

		if (!eq || eq == *env)
			continue;
		name = g_strndup(*env, eq - *env);
		for (i = 0; i < saved_vars->len; i++)
			if (strcmp(((struct saved_var *)
				    saved_vars->pdata[i])->name, name) == 0)
				break;
		if (i == saved_vars->len) {
			v = g_new0(struct saved_var, 1);
			v->name = g_strdup(name);
			v->old = g_strdup(getenv(name));
			g_ptr_array_add(saved_vars, v);
		}
		setenv(name, eq + 1, 1);
	}
}

static void
restore_env(void)
{
	guint i;

	for (i = saved_vars->len; i-- > 0;) {
		struct saved_var *v = saved_vars->pdata[i];

		if (v->old)
			setenv(v->name, v->old, 1);
		else
			unsetenv(v->name);
	}
	g_ptr_array_set_size(saved_vars, 0);
}

/*
 * Run a program as a child with the call's output files: an injected one
 * (prog is its path) or, for the exec built-in, one found in PATH (prog
 * is NULL, argv[0] is looked up).  It dies with the VM, as a function
 * would.
 */
static void
run_program(const char *prog, char **argv, int in, int out, int err,
	    guint8 *state, int *code, char **detail)
{
	struct rusage ru;
	char *typed;
	pid_t pid;
	int status;

	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		child_limits();
		dup2(in, STDIN_FILENO);
		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		signal(SIGPIPE, SIG_DFL);
		if (prog)
			execve(prog, argv, environ);
		else
			execvp(argv[0], argv);
		dprintf(STDERR_FILENO, "cannot run %s: %s\n", argv[0],
			strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	if (pid < 0) {
		*state = CALL_FAILED;
		*code = -1;
		*detail = g_strdup_printf("cannot run %s: %s", argv[0],
					  g_strerror(errno));
		return;
	}
	while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
		;
	if ((typed = program_limit_detail(status, &ru))) {
		*state = CALL_FAILED;
		*code = WIFSIGNALED(status) ? 128 + WTERMSIG(status)
					    : WEXITSTATUS(status);
		*detail = typed;
	} else if (WIFSIGNALED(status)) {
		*state = CALL_FAILED;
		*code = 128 + WTERMSIG(status);
		*detail = signal_description(WTERMSIG(status));
	} else {
		*code = WEXITSTATUS(status);
		*state = *code ? CALL_FAILED : CALL_DONE;
		*detail = *code ? g_strdup_printf("exit %d", *code)
				: g_strdup("");
	}
}

/*
 * Flush what a running function has buffered in stdio every
 * FLUSH_INTERVAL_US, so that its output reaches the call's files (and
 * tail -f) while it runs even when stdout is fully buffered.  stdio locks
 * its streams, and the fds are only switched while flushing is off.
 * Only a flusher asleep for good is woken as a call starts, none as it
 * ends: calls in a row cost no wake-up and no futex call each.
 */
static gpointer
flusher(gpointer data)
{
	g_mutex_lock(&flush_lock);
	for (;;) {
		gint64 end;

		if (!flushing) {
			flusher_idle = TRUE;
			g_cond_wait(&flush_cond, &flush_lock);
			continue;
		}
		end = g_get_monotonic_time() + FLUSH_INTERVAL_US;
		while (g_cond_wait_until(&flush_cond, &flush_lock, end))
			;
		if (flushing) {
			fflush(stdout);
			fflush(stderr);
		}
	}
	return NULL;
}

/*
 * The flusher starts with the first function call, not with the worker:
 * a VM that runs only programs (or nothing yet) has no second thread, and
 * a thousand VMs start without a thousand threads and malloc arenas.
 * It takes no signal sent to the process: one that ends the worker is
 * handled in the thread running the calls, one at a time (a second
 * SIGTERM from a dying supervisor, taken by another thread while the
 * first is handled, would end us before end_descendants has).  Its own
 * faults still reach the handler.
 */
static void
start_flusher(void)
{
	static const int async[] = { SIGTERM, SIGHUP, SIGINT, SIGQUIT,
				     SIGXCPU, SIGXFSZ, SIGALRM };
	static gboolean started;
	sigset_t all, old;

	if (started)
		return;
	started = TRUE;
	sigemptyset(&all);
	for (gsize i = 0; i < G_N_ELEMENTS(async); i++)
		sigaddset(&all, async[i]);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	g_thread_unref(g_thread_new("flusher", flusher, NULL));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void
set_flushing(gboolean on)
{
	if (on)
		start_flusher();
	g_mutex_lock(&flush_lock);
	flushing = on;
	if (on && flusher_idle) {
		flusher_idle = FALSE;
		g_cond_signal(&flush_cond);
	}
	g_mutex_unlock(&flush_lock);
}

/* flush: an injected function, whose output is flushed as it runs; a
 * built-in prints at once or nothing, and wakes no flusher. */
static void
run_function(trickle_fn fn, gboolean flush, char **argv, int in, int out,
	     int err, guint8 *state, int *code, char **detail)
{
	int argc = g_strv_length(argv);

	fflush(stdout);
	fflush(stderr);
	/* Nothing an earlier call left in stdin's buffer. */
	__fpurge(stdin);
	clearerr(stdin);
	/* Between calls fd 0 is /dev/null already (put back below). */
	if (in != devnull)
		dup2(in, STDIN_FILENO);
	dup2(out, STDOUT_FILENO);
	dup2(err, STDERR_FILENO);
	optind = 0;		/* functions shaped like main use getopt */
	if (flush)
		set_flushing(TRUE);
	arm_limits();
	*code = fn(argc, argv);
	disarm_limits();
	if (flush)
		set_flushing(FALSE);
	fflush(stdout);
	fflush(stderr);
	/* fd 0 too: a function may have closed it, and the next file the
	 * worker opens would take its place. */
	dup2(devnull, STDIN_FILENO);
	dup2(devnull, STDOUT_FILENO);
	dup2(logfd, STDERR_FILENO);
	__fpurge(stdin);
	clearerr(stdin);
	clearerr(stdout);
	clearerr(stderr);
	*state = *code ? CALL_FAILED : CALL_DONE;
	*detail = *code ? g_strdup_printf("exit %d", *code) : g_strdup("");
}

/* After each call and destroy: the objects, if the list changed. */
void
send_objects(int fd, GByteArray *out, guint vm)
{
	GVariant *list;

	if (!objects_maybe_changed())
		return;
	list = g_variant_ref_sink(objects_list());
	if (objects_sent && g_variant_equal(list, objects_sent)) {
		g_variant_unref(list);
		return;
	}
	if (!objects_sent && g_variant_n_children(list) == 0) {
		g_variant_unref(list);
		return;		/* the supervisor starts from none */
	}
	if (objects_sent)
		g_variant_unref(objects_sent);
	objects_sent = list;
	wire_encode(out, WIRE_W_OBJECTS, vm, 0, list);
	send_frame(fd, out);
}

/* Into the call's TRICKLE_WORKDIR (relative: to data/), keeping the way
 * back in home_fd; FALSE with why.  Programs inherit it. */
static gboolean
enter_workdir(char **env, char **why)
{
	const char *dir = NULL;

	for (; *env; env++)
		if (g_str_has_prefix(*env, "TRICKLE_WORKDIR="))
			dir = *env + strlen("TRICKLE_WORKDIR=");
	if (!dir || !*dir)
		return TRUE;
	home_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (home_fd >= 0 && chdir(dir) == 0)
		return TRUE;
	*why = g_strdup_printf("cannot enter the working directory %s: %s",
			       dir, g_strerror(errno));
	if (home_fd >= 0)
		close(home_fd);
	home_fd = -1;
	return FALSE;
}

static void
leave_workdir(void)
{
	if (home_fd < 0)
		return;
	if (fchdir(home_fd) < 0)
		dprintf(logfd, "worker: cannot go back to data/: %s\n",
			g_strerror(errno));
	close(home_fd);
	home_fd = -1;
}

static void
do_run(int fd, GByteArray *out, const struct wire_msg *m)
{
	const char *spec, *ended, *prog;
	struct worker_spec sp = { 0 };
	g_autofree const char **cargv = NULL;
	g_autofree const char **cenv = NULL;
	g_auto(GStrv) argv = NULL;
	g_auto(GStrv) env = NULL;
	g_autofree char *detail = NULL;
	guint8 state = CALL_FAILED;
	int code = -1, ifd, ofd, efd;
	trickle_fn fn = NULL;
	gboolean logged;

	g_variant_get(m->body, "(&s&s&s^a&s^a&s)", &spec, &ended, &prog,
		      &cargv, &cenv);
	argv = g_strdupv((char **)cargv);
	env = g_strdupv((char **)cenv);
	if (!worker_parse_spec(spec, &sp))
		worker_parse_spec("\n\n\n\n", &sp);	/* fails below */
	ifd = call_input_open(sp.in);
	ofd = call_output_open(0, sp.out);
	efd = call_output_open(1, sp.err);
	take_limits(env);
	if (lim.memory || lim.cpu_s)
		prepare_restart(m->vm, m->tag);
	set_call_env(env);
	if (ifd < 0 || ofd < 0 || efd < 0) {
		detail = g_strdup_printf("cannot %s: %s", ifd < 0 ?
					 "open its stdin" : "open its output",
					 g_strerror(errno));
	} else if (!enter_workdir(env, &detail)) {
		code = 1;
	} else if (!argv[0]) {
		detail = g_strdup("empty call");
	} else if (*prog) {
		run_program(prog, argv, ifd, ofd, efd, &state, &code, &detail);
	} else if ((fn = lookup(argv[0]))) {
		run_function(fn, TRUE, argv, ifd, ofd, efd, &state, &code,
			     &detail);
	} else if ((fn = builtin(argv[0]))) {
		run_function(fn, FALSE, argv, ifd, ofd, efd, &state, &code,
			     &detail);
	} else if (strcmp(argv[0], "exec") == 0) {
		if (!argv[1]) {
			dprintf(efd, "usage: exec PROGRAM [ARG...]\n");
			code = 2;
			detail = g_strdup("exit 2");
		} else {
			run_program(NULL, argv + 1, ifd, ofd, efd, &state,
				    &code, &detail);
		}
	} else {
		detail = g_strdup_printf("function not found: %s", argv[0]);
	}
	/* At once, before anything else can be cut off. */
	logged = call_log_end(ended, &sp, ofd, efd, m->tag, state, code,
			 detail ? detail : "");
	worker_spec_clear(&sp);
	leave_workdir();
	restore_env();
	clear_limits();
	/* Nothing the call started outlives it. */
	end_descendants();
	call_input_close(ifd);
	call_output_close(0);
	call_output_close(1);
	/* Objects first: once the call is seen to end, its objects are
	 * listed. */
	send_objects(fd, out, m->vm);
	wire_encode(out, WIRE_W_DONE, m->vm, m->tag,
		    g_variant_new("(yisb)", state, code, detail, logged));
	send_frame(fd, out);
}

static void
do_destroy(int fd, GByteArray *out, const struct wire_msg *m)
{
	guint32 id = g_variant_get_uint32(m->body);
	int err = objects_destroy_id(id);

	fflush(stdout);
	fflush(stderr);
	send_objects(fd, out, m->vm);
	wire_encode(out, WIRE_W_DESTROYED, m->vm, m->tag,
		    g_variant_new("(uis)", id, err,
				  err ? "no such object" : ""));
	send_frame(fd, out);
}

/* Read exactly n bytes: 1, 0 at the end of the stream or on an error. */
static int
read_exact(int fd, void *buf, gsize n)
{
	guint8 *p = buf;

	while (n > 0) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		p += r;
		n -= r;
	}
	return 1;
}

/* Feed one frame to dec and nothing after it: what the supervisor sent
 * next stays in the socket for the image restart_self() starts. */
static int
read_frame(int fd, struct wire_decoder *dec)
{
	guint8 head[WIRE_HEADER_SIZE];
	g_autofree guint8 *body = NULL;
	guint32 len;

	if (!read_exact(fd, head, sizeof(head)))
		return 0;
	wire_decoder_feed(dec, head, sizeof(head));
	memcpy(&len, head, sizeof(len));
	len = GUINT32_FROM_BE(len);
	if (len == 0 || len > WIRE_MAX_BODY)
		return 1;	/* the decoder judges it */
	body = g_malloc(len);
	if (!read_exact(fd, body, len))
		return 0;
	wire_decoder_feed(dec, body, len);
	return 1;
}

int
worker_main(int fd, guint32 first_object)
{
	struct wire_decoder dec;
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autofree char *restart = g_strdup(g_getenv(RESTART_VAR));
	sigset_t none;
	int sock;

	/* A VM does not outlive its node, even one killed outright; nor
	 * does what its call started: SIGTERM ends both (on_fatal_signal,
	 * as for a cancel). */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 1;
	/* Orphans of a call come to us (see end_descendants). */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	worker_pid = getpid();
	page_size = sysconf(_SC_PAGESIZE);
	self_exe = g_file_read_link("/proc/self/exe", NULL);
	if (restart) {
		int sig;

		/* After restart_self(): what the call had blocked or
		 * ignored survives exec(). */
		g_unsetenv(RESTART_VAR);
		for (sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				signal(sig, SIG_DFL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	install_handlers();
	atexit(end_descendants_at_exit);
	signal(SIGPIPE, SIG_IGN);
	/* Programs the VM runs must not inherit the line to the supervisor
	 * (fd 3 as spawned): one could read our next request, or forge an
	 * answer.  Keep it close-on-exec, out of the low numbers. */
	if ((sock = fcntl(fd, F_DUPFD_CLOEXEC, 10)) < 0)
		return 2;
	close(fd);
	fd = wsock = sock;
	libs = g_ptr_array_new();
	saved_vars = g_ptr_array_new_with_free_func(
		(GDestroyNotify)saved_var_free);
	objects_init(first_object);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	logfd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 10);
	dup2(devnull, STDIN_FILENO);
	dup2(devnull, STDOUT_FILENO);
	/* Unreadable: end, and the supervisor fails the call. */
	if (restart && !finish_restart(fd, out, restart))
		return 2;
	wire_decoder_init(&dec);
	for (;;) {
		struct wire_msg m;
		g_autoptr(GError) error = NULL;
		int r;

		if (!read_frame(fd, &dec))
			return 0;
		while ((r = wire_decoder_next(&dec, &m, &error)) == 1) {
			if (m.type == WIRE_W_LOAD)
				do_load(fd, out, &m);
			else if (m.type == WIRE_W_RUN)
				do_run(fd, out, &m);
			else if (m.type == WIRE_W_DESTROY)
				do_destroy(fd, out, &m);
			else if (m.type == WIRE_W_SAVE)
				worker_save(fd, out, &m);
			else if (m.type == WIRE_W_RESTORE)
				worker_restore(fd, out, &m);
			else
				g_warning("worker: unexpected %s",
					  wire_type_name(m.type));
			wire_msg_clear(&m);
		}
		if (r < 0) {
			g_warning("worker: %s", error->message);
			return 2;
		}
	}
}

/* node/vet/checkload.c reads the verdict here, once dlopen() has
 * returned: a constructor that exits the process leaves none. */
#define CHECK_VERDICT_FD 3

int
worker_check_load(const char *path)
{
	gboolean ok = dlopen(path, RTLD_NOW | RTLD_LOCAL) != NULL;
	const char *verdict = ok ? "ok" : "failed";

	if (!ok)
		fprintf(stderr, "%s\n", dlerror());
	if (write(CHECK_VERDICT_FD, verdict, strlen(verdict)) < 0)
		return 1;
	close(CHECK_VERDICT_FD);
	return ok ? 0 : 1;
}
