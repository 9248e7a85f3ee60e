/*
 * worker.c - the VM worker process (see worker.h).
 *
 * The worker is deliberately simple and blocking: one request at a time
 * from the supervisor, answered when done.  Calls write straight into
 * files in their call directory, so output never passes through here.
 */
#include "worker.h"
#include "wire.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

typedef int (*trickle_fn)(int argc, char **argv);

struct lib {
	char *path;
	void *handle;
};

static GPtrArray *libs;		/* struct lib *, in load order */
static int devnull = -1;
static int logfd = -1;		/* the supervisor's stderr, for our own messages */

char *
signal_description(int sig)
{
	const char *abbrev = sigabbrev_np(sig);

	return abbrev ? g_strdup_printf("signal %d (SIG%s)", sig, abbrev)
		      : g_strdup_printf("signal %d", sig);
}

static void
send_frame(int fd, GByteArray *frame)
{
	gsize off = 0;

	while (off < frame->len) {
		ssize_t n = write(fd, frame->data + off, frame->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(2);	/* supervisor gone */
		off += n;
	}
	g_byte_array_set_size(frame, 0);
}

/*
 * Find NAME among the functions the injected objects define themselves.
 * dlsym() also searches an object's dependencies, which would make every
 * libc function (exit, abort, system...) callable by name: refuse those.
 */
static trickle_fn
lookup(const char *name)
{
	guint i;

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

static int
open_output(const char *dir, const char *name)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);

	return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

/* Run an injected program as a child with the call's output files.  It
 * dies with the VM, as a function would. */
static void
run_program(const char *prog, char **argv, int out, int err,
	    guint8 *state, int *code, char **detail)
{
	pid_t pid;
	int status;

	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(devnull, STDIN_FILENO);
		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		signal(SIGPIPE, SIG_DFL);
		execve(prog, argv, environ);
		dprintf(STDERR_FILENO, "cannot run %s: %s\n", argv[0],
			g_strerror(errno));
		_exit(127);
	}
	if (pid < 0) {
		*state = CALL_FAILED;
		*code = -1;
		*detail = g_strdup_printf("cannot run %s: %s", argv[0],
					  g_strerror(errno));
		return;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status)) {
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

static void
run_function(trickle_fn fn, char **argv, int out, int err,
	     guint8 *state, int *code, char **detail)
{
	int argc = g_strv_length(argv);

	fflush(stdout);
	fflush(stderr);
	dup2(out, STDOUT_FILENO);
	dup2(err, STDERR_FILENO);
	optind = 0;		/* functions shaped like main use getopt */
	*code = fn(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(devnull, STDOUT_FILENO);
	dup2(logfd, STDERR_FILENO);
	clearerr(stdout);
	clearerr(stderr);
	*state = *code ? CALL_FAILED : CALL_DONE;
	*detail = *code ? g_strdup_printf("exit %d", *code) : g_strdup("");
}

static void
do_run(int fd, GByteArray *out, const struct wire_msg *m)
{
	const char *dir, *prog;
	g_autofree const char **cargv = NULL;
	g_auto(GStrv) argv = NULL;
	g_autofree char *detail = NULL;
	guint8 state = CALL_FAILED;
	int code = -1, ofd, efd;
	trickle_fn fn = NULL;

	g_variant_get(m->body, "(&s&s^a&s@as)", &dir, &prog, &cargv, NULL);
	argv = g_strdupv((char **)cargv);
	ofd = open_output(dir, "stdout");
	efd = open_output(dir, "stderr");
	if (ofd < 0 || efd < 0) {
		detail = g_strdup_printf("cannot create output in %s: %s",
					 dir, g_strerror(errno));
	} else if (!argv[0]) {
		detail = g_strdup("empty call");
	} else if (*prog) {
		run_program(prog, argv, ofd, efd, &state, &code, &detail);
	} else if ((fn = lookup(argv[0]))) {
		run_function(fn, argv, ofd, efd, &state, &code, &detail);
	} else {
		detail = g_strdup_printf("function not found: %s", argv[0]);
	}
	if (ofd >= 0)
		close(ofd);
	if (efd >= 0)
		close(efd);
	wire_encode(out, WIRE_W_DONE, m->vm, m->tag,
		    g_variant_new("(yis)", state, code, detail));
	send_frame(fd, out);
}

int
worker_main(int fd)
{
	struct wire_decoder dec;
	g_autoptr(GByteArray) out = g_byte_array_new();
	guint8 buf[64 * 1024];

	/* A VM does not outlive its node, even one killed outright. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	libs = g_ptr_array_new();
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	logfd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 10);
	dup2(devnull, STDIN_FILENO);
	dup2(devnull, STDOUT_FILENO);
	wire_decoder_init(&dec);
	for (;;) {
		struct wire_msg m;
		g_autoptr(GError) error = NULL;
		ssize_t n = read(fd, buf, sizeof(buf));
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		wire_decoder_feed(&dec, buf, n);
		while ((r = wire_decoder_next(&dec, &m, &error)) == 1) {
			if (m.type == WIRE_W_LOAD)
				do_load(fd, out, &m);
			else if (m.type == WIRE_W_RUN)
				do_run(fd, out, &m);
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

int
worker_check_load(const char *path)
{
	if (!dlopen(path, RTLD_NOW | RTLD_LOCAL)) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	return 0;
}
