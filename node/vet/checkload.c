/*
 * checkload.c - vet a shared object by loading it in a throw-away process
 * (trickle-node --check-load): missing libraries or symbols, or a
 * constructor that crashes, refuse the cp instead of breaking the VM.
 *
 * The file is the user's code, so the check trusts it no more than a
 * call: it runs in a process group of its own, which is killed when the
 * verdict is in (a constructor may fork), when it takes too long, or when
 * the transfer goes away; and only the first few KiB of what it prints
 * are kept.
 *
 * An exit status alone does not say the load got to its end: a
 * constructor may call exit(0) itself.  So the loader says how dlopen()
 * went on a pipe of its own (its fd 3, CHECK_VERDICT_FD), which the
 * library's output cannot push out of the kept bytes: "ok" only once
 * dlopen() has returned.  A process that ends without a verdict ended
 * during the load, whatever its status.
 */
#include "vet.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <glib-unix.h>

#define KEEP_OUTPUT 4096
/* Where the loader (node/worker's worker_check_load) says how the load
 * went. */
#define CHECK_VERDICT_FD 3

struct check {
	GPid pid;
	int out;
	int verdict;			/* read end of the loader's fd 3 */
	guint out_watch, child_watch, timer;
	GString *output;
	gboolean timed_out;
	guint timeout_s;
	check_done_fn done;
	void *data;
};

static void
child_setup(gpointer data)
{
	setpgid(0, 0);
	dup2(STDOUT_FILENO, STDERR_FILENO);
}

static void
stop_sources(struct check *c)
{
	if (c->out_watch)
		g_source_remove(c->out_watch);
	if (c->child_watch)
		g_source_remove(c->child_watch);
	if (c->timer)
		g_source_remove(c->timer);
	c->out_watch = c->child_watch = c->timer = 0;
	if (c->out >= 0)
		close(c->out);
	if (c->verdict >= 0)
		close(c->verdict);
	c->out = c->verdict = -1;
}

static void
check_free(struct check *c)
{
	stop_sources(c);
	g_string_free(c->output, TRUE);
	g_free(c);
}

/* Read what the loader printed, keeping the first KEEP_OUTPUT bytes.
 * -1 at the end of the pipe (or an error), 0 when there is nothing more
 * for now, 1 when something was read. */
static int
read_output(struct check *c)
{
	char buf[4096];
	ssize_t n = read(c->out, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	if (c->output->len < KEEP_OUTPUT)
		g_string_append_len(c->output, buf,
				    MIN((gsize)n, KEEP_OUTPUT - c->output->len));
	return 1;
}

static gboolean
on_output(int fd, GIOCondition cond, gpointer data)
{
	struct check *c = data;

	if (read_output(c) < 0) {
		c->out_watch = 0;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

/* What the loader said on CHECK_VERDICT_FD: "ok", "failed", or "" when
 * it ended before it could say (the pipe is non-blocking). */
static char *
read_verdict(struct check *c)
{
	char buf[16];
	ssize_t n;

	while ((n = read(c->verdict, buf, sizeof(buf) - 1)) < 0 &&
	       errno == EINTR)
		;
	return g_strndup(buf, MAX(n, 0));
}

static void
on_check_exit(GPid pid, int status, gpointer data)
{
	struct check *c = data;
	g_autofree char *why = NULL;
	g_autofree char *verdict = NULL;
	g_autofree char *out = NULL;
	const char *sep;
	gboolean ok;

	c->child_watch = 0;
	/* Whatever its constructor started goes with it. */
	kill(-pid, SIGKILL);
	g_spawn_close_pid(pid);
	/* What is already in the pipe is the loader's message.  Not up to
	 * its end: a child of the constructor may hold it open.  The watch
	 * on it stays attached until check_free() removes it. */
	while (c->out >= 0 && read_output(c) > 0)
		;
	verdict = read_verdict(c);
	out = g_strstrip(g_strdup(c->output->str));
	sep = *out ? ": " : "";
	ok = !c->timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	     strcmp(verdict, "ok") == 0;
	if (c->timed_out)
		why = g_strdup_printf("loading it took longer than %u s",
				      c->timeout_s);
	else if (WIFSIGNALED(status))
		why = g_strdup_printf("loading it crashed (signal %d)%s%s",
				      WTERMSIG(status), sep, out);
	else if (strcmp(verdict, "failed") == 0)
		why = g_strdup(*out ? out : "the loader failed");
	else if (!*verdict)
		why = g_strdup_printf("the library's constructor exited the "
				      "process (status %d)%s%s",
				      WEXITSTATUS(status), sep, out);
	else if (!ok)
		why = g_strdup_printf("the library's code exited the process "
				      "(status %d) after it was loaded%s%s",
				      WEXITSTATUS(status), sep, out);
	c->done(c->data, ok, why ? why : "");
	check_free(c);
}

static gboolean
on_timeout(gpointer data)
{
	struct check *c = data;

	c->timer = 0;
	c->timed_out = TRUE;
	kill(-c->pid, SIGKILL);
	return G_SOURCE_REMOVE;
}

struct check *
check_load_start(const char *self, const char *path, guint timeout_s,
		 check_done_fn done, void *data, GError **error)
{
	struct check *c = g_new0(struct check, 1);
	const char *argv[] = { self, "--check-load", path, NULL };
	int verdict[2], target = CHECK_VERDICT_FD;
	gboolean spawned;

	c->out = c->verdict = -1;
	if (!g_unix_open_pipe(verdict, FD_CLOEXEC, error)) {
		g_free(c);
		return NULL;
	}
	spawned = g_spawn_async_with_pipes_and_fds(NULL, argv, NULL,
		G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL,
		child_setup, NULL, -1, -1, -1, &verdict[1], &target, 1,
		&c->pid, NULL, &c->out, NULL, error);
	close(verdict[1]);
	if (!spawned) {
		close(verdict[0]);
		g_free(c);
		return NULL;
	}
	c->verdict = verdict[0];
	g_unix_set_fd_nonblocking(c->verdict, TRUE, NULL);
	c->output = g_string_new(NULL);
	c->timeout_s = timeout_s;
	c->done = done;
	c->data = data;
	g_unix_set_fd_nonblocking(c->out, TRUE, NULL);
	c->out_watch = g_unix_fd_add(c->out, G_IO_IN | G_IO_HUP | G_IO_ERR,
				     on_output, c);
	c->child_watch = g_child_watch_add(c->pid, on_check_exit, c);
	c->timer = g_timeout_add_seconds(timeout_s, on_timeout, c);
	return c;
}

void
check_load_cancel(struct check *c)
{
	if (!c)
		return;
	kill(-c->pid, SIGKILL);
	if (c->child_watch) {
		g_source_remove(c->child_watch);
		c->child_watch = 0;
		waitpid(c->pid, NULL, 0);
		g_spawn_close_pid(c->pid);
	}
	check_free(c);
}
