/*
 * link_connect.c - a link a trickle-node makes by connecting back to the
 * mount (LINK_CONNECT; the listener and its handshake: link_listen.c).
 * The link may start the node itself with a command (srun ... trickle-node
 * --connect ..., whose environment alone carries the secret), or wait for
 * a node that comes on its own (a batch job).  Until the connection
 * arrives, frames queue; the command's output goes to the log, and its
 * end before the node connected is the link's failure, with its last
 * line.  Once connected, the socket is the link: its end is the link's.
 */
#include "transport.h"
#include "fdwatch.h"
#include "callback.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib-unix.h>
#include <gio/gio.h>

struct link_connect {
	struct link l;
	struct link_listener *ls;
	char *token;
	char *what;			/* the command, for messages */
	int fd;				/* the connection; -1 until then */
	guint rd_watch, wr_watch;
	GPid pid;			/* the command, while it runs */
	int out, err;			/* its stdout and stderr */
	guint out_watch, err_watch, child_watch, timer, idle;
	GString *line[2];		/* partial lines of out, err */
	char *tail;			/* its last line */
	gboolean reported;
	GError *pending_error;		/* reported from the loop */
};

static void
report(struct link_connect *lc, GError *error)
{
	if (lc->reported) {
		g_error_free(error);
		return;
	}
	lc->reported = TRUE;
	link_report_down(&lc->l, error);
}

static gboolean
report_later(gpointer data)
{
	struct link_connect *lc = data;

	lc->idle = 0;
	report(lc, g_steal_pointer(&lc->pending_error));
	return G_SOURCE_REMOVE;
}

static gboolean
on_socket(int fd, GIOCondition cond, gpointer data)
{
	struct link_connect *lc = data;
	guint8 buf[64 * 1024];
	ssize_t n = recv(fd, buf, sizeof(buf), 0);

	if (n > 0) {
		lc->l.cb.data(lc->l.user, buf, n);
		return G_SOURCE_CONTINUE;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return G_SOURCE_CONTINUE;
	lc->rd_watch = 0;
	report(lc, g_error_new(G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
			       "the node's connection %s%s",
			       n < 0 ? "failed: " : "closed",
			       n < 0 ? g_strerror(errno) : ""));
	return G_SOURCE_REMOVE;
}

static void connect_kick(struct link *l);

static gboolean
on_writable(int fd, GIOCondition cond, gpointer data)
{
	struct link_connect *lc = data;

	lc->wr_watch = 0;
	connect_kick(&lc->l);
	return G_SOURCE_REMOVE;
}

static void
connect_kick(struct link *l)
{
	struct link_connect *lc = (struct link_connect *)l;

	while (lc->fd >= 0 && link_pending(l) && !lc->wr_watch) {
		ssize_t n = send(lc->fd, l->out->data + l->out_off,
				 link_pending(l), MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			lc->wr_watch = fd_watch_add(lc->fd, G_IO_OUT,
						     on_writable, lc);
			return;
		}
		if (n < 0) {
			/* The reader sees the end and says why. */
			link_consumed(l, link_pending(l));
			return;
		}
		link_consumed(l, n);
	}
}

static void
connect_close_write(struct link *l)
{
	struct link_connect *lc = (struct link_connect *)l;

	if (lc->fd >= 0)
		shutdown(lc->fd, SHUT_WR);
	else
		l->want_close = TRUE;	/* once connected and drained */
}

void
link_connect_take(struct link *l, int fd)
{
	struct link_connect *lc = (struct link_connect *)l;
	g_autofree char *what = NULL;

	g_clear_handle_id(&lc->timer, g_source_remove);
	lc->fd = fd;
	g_unix_set_fd_nonblocking(fd, TRUE, NULL);
	lc->rd_watch = fd_watch_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
				     on_socket, lc);
	what = g_strdup_printf("connected back as %s%s%s", lc->token,
			       lc->what ? ", started by " : "",
			       lc->what ? lc->what : "");
	lc->l.answered = TRUE;
	lc->l.cb.up(lc->l.user, what);
	if (l->want_close && !link_pending(l)) {
		l->want_close = FALSE;
		shutdown(fd, SHUT_WR);
	}
	connect_kick(l);
}

static gboolean
on_output(int fd, GIOCondition cond, gpointer data)
{
	struct link_connect *lc = data;
	int i = fd == lc->err;
	GString *s = lc->line[i];
	char buf[4096], *nl;
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return G_SOURCE_CONTINUE;
	if (n <= 0) {
		if (i)
			lc->err_watch = 0;
		else
			lc->out_watch = 0;
		return G_SOURCE_REMOVE;
	}
	g_string_append_len(s, buf, n);
	while ((nl = memchr(s->str, '\n', s->len))) {
		*nl = '\0';
		lc->l.cb.log(lc->l.user, s->str);
		if (*s->str) {
			g_free(lc->tail);
			lc->tail = g_strdup(s->str);
		}
		g_string_erase(s, 0, nl - s->str + 1);
	}
	return G_SOURCE_CONTINUE;
}

static void
on_command_exit(GPid pid, int status, gpointer data)
{
	struct link_connect *lc = data;
	g_autofree char *how = WIFSIGNALED(status)
		? g_strdup_printf("killed by signal %d", WTERMSIG(status))
		: g_strdup_printf("exited with status %d",
				  WEXITSTATUS(status));

	lc->child_watch = 0;
	g_spawn_close_pid(pid);
	lc->pid = 0;
	if (lc->fd >= 0)
		return;		/* the connection says how the node ends */
	report(lc, g_error_new(G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED,
			       "%s %s before the node connected back%s%s",
			       lc->what, how, lc->tail ? ": " : "",
			       lc->tail ? lc->tail : ""));
}

static gboolean
on_timeout(gpointer data)
{
	struct link_connect *lc = data;

	lc->timer = 0;
	report(lc, g_error_new(G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
			       "the node did not connect back to %s in time%s%s",
			       link_listener_where(lc->ls),
			       lc->tail ? ": " : "",
			       lc->tail ? lc->tail : ""));
	return G_SOURCE_REMOVE;
}

/* The reaper of a command we let go of. */
static void
reap(GPid pid, int status, gpointer data)
{
	g_spawn_close_pid(pid);
}

static void
connect_destroy(struct link *l)
{
	struct link_connect *lc = (struct link_connect *)l;
	guint *w[] = { &lc->rd_watch, &lc->wr_watch, &lc->out_watch,
		       &lc->err_watch, &lc->child_watch, &lc->timer,
		       &lc->idle };
	guint i;

	for (i = 0; i < G_N_ELEMENTS(w); i++)
		g_clear_handle_id(w[i], g_source_remove);
	link_listener_unwait(lc->ls, lc->token, l);
	if (lc->fd >= 0)
		close(lc->fd);
	if (lc->pid) {
		/* srun ends its step on SIGTERM (the node with it); it is
		 * reaped whenever it is done. */
		kill(lc->pid, SIGTERM);
		g_child_watch_add(lc->pid, reap, NULL);
	}
	if (lc->out >= 0)
		close(lc->out);
	if (lc->err >= 0)
		close(lc->err);
	g_string_free(lc->line[0], TRUE);
	g_string_free(lc->line[1], TRUE);
	g_clear_error(&lc->pending_error);
	g_free(lc->tail);
	g_free(lc->what);
	g_free(lc->token);
	g_free(lc);
}

static const struct link_class connect_class = {
	.kick = connect_kick,
	.close_write = connect_close_write,
	.destroy = connect_destroy,
};

static gboolean
spawn(struct link_connect *lc, const char *command, GError **error)
{
	g_auto(GStrv) argv = NULL;
	g_auto(GStrv) env = g_get_environ();

	env = g_environ_setenv(env, CALLBACK_SECRET_ENV,
			       link_listener_secret(lc->ls), TRUE);
	if (!g_shell_parse_argv(command, NULL, &argv, error) ||
	    !g_spawn_async_with_pipes(NULL, argv, env,
				      G_SPAWN_DO_NOT_REAP_CHILD |
				      G_SPAWN_SEARCH_PATH |
				      G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL,
				      &lc->pid, NULL, &lc->out, &lc->err,
				      error)) {
		g_prefix_error(error, "cannot start %s: ", command);
		return FALSE;
	}
	g_unix_set_fd_nonblocking(lc->out, TRUE, NULL);
	g_unix_set_fd_nonblocking(lc->err, TRUE, NULL);
	lc->out_watch = fd_watch_add(lc->out, G_IO_IN | G_IO_HUP | G_IO_ERR,
				      on_output, lc);
	lc->err_watch = fd_watch_add(lc->err, G_IO_IN | G_IO_HUP | G_IO_ERR,
				      on_output, lc);
	lc->child_watch = g_child_watch_add(lc->pid, on_command_exit, lc);
	return TRUE;
}

struct link *
link_connect_new(const struct link_spec *spec,
		 const struct link_callbacks *cb, void *user)
{
	struct link_connect *lc = g_new0(struct link_connect, 1);
	GError *error = NULL;

	link_init(&lc->l, &connect_class, cb, user);
	lc->ls = spec->listener;
	lc->token = g_strdup(spec->token);
	lc->fd = lc->out = lc->err = -1;
	lc->line[0] = g_string_new(NULL);
	lc->line[1] = g_string_new(NULL);
	if (spec->command) {
		g_auto(GStrv) argv = NULL;

		lc->what = g_shell_parse_argv(spec->command, NULL, &argv, NULL)
			? g_path_get_basename(argv[0]) : g_strdup("command");
		if (!spawn(lc, spec->command, &error)) {
			lc->pending_error = error;
			lc->idle = g_idle_add(report_later, lc);
			return &lc->l;
		}
	}
	lc->timer = g_timeout_add_seconds(spec->wait_s ? spec->wait_s : 60,
					  on_timeout, lc);
	if (link_listener_wait(lc->ls, lc->token, &lc->l))
		return &lc->l;	/* it was there already */
	return &lc->l;
}
