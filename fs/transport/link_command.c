/*
 * link_command.c - a link that is a command's stdin and stdout: a
 * trickle-node started on this machine (the same protocol as over SSH,
 * with no SSH set-up at all), or any program that reaches one.
 */
#include "transport.h"
#include "fdwatch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib-unix.h>
#include <gio/gio.h>

struct link_local {
	struct link l;
	GPid pid;
	int in, out, err;		/* the child's stdin, stdout, stderr */
	guint out_watch, in_watch, err_watch, child_watch;
	GString *errline;
	GString *tail;			/* last lines of stderr, for errors */
	gboolean eof;			/* stdout ended */
	int status;
	gboolean exited;
	gboolean reported;
	GError *spawn_error;
	guint idle;
	guint8 buf[LINK_READ_SIZE];	/* what on_stdout reads */
	guint flush;			/* writes gathered until this runs */
};

static void
report(struct link_local *ll, GError *error)
{
	if (ll->reported)
		return;
	ll->reported = TRUE;
	link_report_down(&ll->l, error);
}

/* Once the child has exited and its output has been read, say so. */
static void
maybe_down(struct link_local *ll)
{
	g_autofree char *tail = NULL;

	if (!ll->eof || !ll->exited)
		return;
	tail = g_strstrip(g_strdup(ll->tail->str));
	if (WIFSIGNALED(ll->status))
		report(ll, g_error_new(G_IO_ERROR, G_IO_ERROR_CLOSED,
			"trickle-node killed by signal %d%s%s",
			WTERMSIG(ll->status), *tail ? ": " : "", tail));
	else
		report(ll, g_error_new(G_IO_ERROR, G_IO_ERROR_CLOSED,
			"trickle-node exited with status %d%s%s",
			WEXITSTATUS(ll->status), *tail ? ": " : "", tail));
}

static gboolean
on_stdout(int fd, GIOCondition cond, gpointer data)
{
	struct link_local *ll = data;
	ssize_t n = read(fd, ll->buf, sizeof(ll->buf));

	if (n > 0) {
		ll->l.cb.data(ll->l.user, ll->buf, n);
		return G_SOURCE_CONTINUE;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return G_SOURCE_CONTINUE;
	ll->out_watch = 0;
	ll->eof = TRUE;
	maybe_down(ll);
	return G_SOURCE_REMOVE;
}

static gboolean
on_stderr(int fd, GIOCondition cond, gpointer data)
{
	struct link_local *ll = data;
	char buf[4096], *nl;
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return G_SOURCE_CONTINUE;
	if (n <= 0) {
		ll->err_watch = 0;
		return G_SOURCE_REMOVE;
	}
	g_string_append_len(ll->errline, buf, n);
	while ((nl = memchr(ll->errline->str, '\n', ll->errline->len))) {
		*nl = '\0';
		ll->l.cb.log(ll->l.user, ll->errline->str);
		g_string_assign(ll->tail, ll->errline->str);
		g_string_erase(ll->errline, 0, nl - ll->errline->str + 1);
	}
	return G_SOURCE_CONTINUE;
}

static void
on_child_exit(GPid pid, int status, gpointer data)
{
	struct link_local *ll = data;

	ll->child_watch = 0;
	g_spawn_close_pid(pid);
	ll->pid = 0;
	ll->status = status;
	ll->exited = TRUE;
	maybe_down(ll);
}

static void local_flush(struct link_local *ll);

static gboolean
on_stdin(int fd, GIOCondition cond, gpointer data)
{
	struct link_local *ll = data;

	ll->in_watch = 0;
	local_flush(ll);
	return G_SOURCE_REMOVE;
}

static gboolean
on_flush(gpointer data)
{
	struct link_local *ll = data;

	ll->flush = 0;
	local_flush(ll);
	return G_SOURCE_REMOVE;
}

/* The frames written while one event is handled (a write of 100 lines to
 * calls/new makes 100 CALL frames) go to the node in one write, once it
 * is handled: one syscall and one wake-up of the node, not one each.  An
 * idle source added from the loop's own thread wakes nothing. */
static void
local_kick(struct link *l)
{
	struct link_local *ll = (struct link_local *)l;

	if (!ll->flush && !ll->in_watch && ll->in >= 0)
		ll->flush = g_idle_add_full(G_PRIORITY_DEFAULT, on_flush, ll,
					    NULL);
}

static void
local_flush(struct link_local *ll)
{
	struct link *l = &ll->l;

	while (ll->in >= 0 && link_pending(l) && !ll->in_watch) {
		ssize_t n = write(ll->in, l->out->data + l->out_off,
				  link_pending(l));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			ll->in_watch = fd_watch_add(ll->in, G_IO_OUT,
						     on_stdin, ll);
			return;
		}
		if (n < 0) {
			/* The child is gone; its exit says why. */
			link_consumed(l, link_pending(l));
			return;
		}
		link_consumed(l, n);
	}
}

static void
local_close_write(struct link *l)
{
	struct link_local *ll = (struct link_local *)l;

	if (ll->in_watch)
		g_source_remove(ll->in_watch);
	ll->in_watch = 0;
	if (ll->in >= 0)
		close(ll->in);
	ll->in = -1;
}

static void
local_destroy(struct link *l)
{
	struct link_local *ll = (struct link_local *)l;
	guint *w[] = { &ll->out_watch, &ll->in_watch, &ll->err_watch,
		       &ll->child_watch, &ll->idle, &ll->flush };
	guint i;

	for (i = 0; i < G_N_ELEMENTS(w); i++)
		if (*w[i])
			g_source_remove(*w[i]);
	if (ll->pid) {
		/* Ours to end, outright: its VM workers die with it, and
		 * its session stays on disk for a reconnect (or the next
		 * mount of this state) to adopt.  SIGTERM would make it
		 * remove the session, results and all; a clean end is
		 * SHUTDOWN, sent before this if at all. */
		kill(ll->pid, SIGKILL);
		waitpid(ll->pid, NULL, 0);
		g_spawn_close_pid(ll->pid);
	}
	local_close_write(l);
	if (ll->out >= 0)
		close(ll->out);
	if (ll->err >= 0)
		close(ll->err);
	g_clear_error(&ll->spawn_error);
	g_string_free(ll->errline, TRUE);
	g_string_free(ll->tail, TRUE);
	g_free(ll);
}

static const struct link_class local_class = {
	.kick = local_kick,
	.close_write = local_close_write,
	.destroy = local_destroy,
};

/* Spawning failed: report from the loop, as SSH does, since the owner is
 * not ready for callbacks while it is still creating the link. */
static gboolean
report_spawn_failure(gpointer data)
{
	struct link_local *ll = data;

	ll->idle = 0;
	report(ll, g_steal_pointer(&ll->spawn_error));
	return G_SOURCE_REMOVE;
}

struct link *
link_command_new(const char *command, const struct link_callbacks *cb,
	       void *user)
{
	struct link_local *ll = g_new0(struct link_local, 1);
	g_auto(GStrv) argv = NULL;
	GError *error = NULL;

	link_init(&ll->l, &local_class, cb, user);
	ll->in = ll->out = ll->err = -1;
	ll->errline = g_string_new(NULL);
	ll->tail = g_string_new(NULL);
	if (!g_shell_parse_argv(command, NULL, &argv, &error) ||
	    !g_spawn_async_with_pipes(NULL, argv, NULL,
				      G_SPAWN_DO_NOT_REAP_CHILD |
				      G_SPAWN_SEARCH_PATH, NULL, NULL,
				      &ll->pid, &ll->in, &ll->out, &ll->err,
				      &error)) {
		g_prefix_error(&error, "cannot start %s: ", command);
		ll->spawn_error = error;
		ll->idle = g_idle_add(report_spawn_failure, ll);
		return &ll->l;
	}
	g_unix_set_fd_nonblocking(ll->in, TRUE, NULL);
	g_unix_set_fd_nonblocking(ll->out, TRUE, NULL);
	link_grow_pipe(ll->in);
	link_grow_pipe(ll->out);
	g_unix_set_fd_nonblocking(ll->err, TRUE, NULL);
	ll->out_watch = fd_watch_add(ll->out, G_IO_IN | G_IO_HUP | G_IO_ERR,
				      on_stdout, ll);
	ll->err_watch = fd_watch_add(ll->err, G_IO_IN | G_IO_HUP | G_IO_ERR,
				      on_stderr, ll);
	ll->child_watch = g_child_watch_add(ll->pid, on_child_exit, ll);
	ll->l.answered = TRUE;
	{
		g_autofree char *what = g_strdup_printf("local pid %d",
							ll->pid);
		ll->l.cb.up(ll->l.user, what);
	}
	return &ll->l;
}
