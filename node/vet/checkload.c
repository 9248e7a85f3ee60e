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
 */
#include "vet.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>
#include <glib-unix.h>

#define KEEP_OUTPUT 4096

struct check {
	GPid pid;
	int out;
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
	c->out = -1;
}

static void
check_free(struct check *c)
{
	stop_sources(c);
	g_string_free(c->output, TRUE);
	g_free(c);
}

static gboolean
on_output(int fd, GIOCondition cond, gpointer data)
{
	struct check *c = data;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return G_SOURCE_CONTINUE;
	if (n <= 0) {
		c->out_watch = 0;
		return G_SOURCE_REMOVE;
	}
	if (c->output->len < KEEP_OUTPUT)
		g_string_append_len(c->output, buf,
				    MIN((gsize)n, KEEP_OUTPUT - c->output->len));
	return G_SOURCE_CONTINUE;
}

static void
on_check_exit(GPid pid, int status, gpointer data)
{
	struct check *c = data;
	g_autofree char *why = NULL;
	gboolean ok;

	c->child_watch = 0;
	/* Whatever its constructor started goes with it. */
	kill(-pid, SIGKILL);
	g_spawn_close_pid(pid);
	/* What is already in the pipe is the loader's message. */
	while (c->out_watch && on_output(c->out, G_IO_IN, c))
		;
	ok = !c->timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (c->timed_out)
		why = g_strdup_printf("loading it took longer than %u s",
				      c->timeout_s);
	else if (WIFSIGNALED(status))
		why = g_strdup_printf("loading it crashed (signal %d)%s%s",
				      WTERMSIG(status),
				      c->output->len ? ": " : "",
				      c->output->str);
	else
		why = g_strstrip(g_strdup(c->output->len ? c->output->str :
					  "the loader failed"));
	c->done(c->data, ok, why);
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

	c->out = -1;
	if (!g_spawn_async_with_pipes(NULL, (char **)argv, NULL,
				      G_SPAWN_DO_NOT_REAP_CHILD |
				      G_SPAWN_STDIN_FROM_DEV_NULL,
				      child_setup, NULL, &c->pid, NULL,
				      &c->out, NULL, error)) {
		g_free(c);
		return NULL;
	}
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
