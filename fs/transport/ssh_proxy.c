/*
 * ssh_proxy.c - how an SSH link reaches its server: a TCP connection, or
 * a socket to a proxy command (ProxyJump, ProxyCommand).
 *
 * ProxyJump is done as OpenSSH does it: the OpenSSH client runs
 * "ssh -W HOST:PORT [-J EARLIER_HOPS] LAST_HOP" (with -F of the same
 * configuration, BatchMode on), and its stdin and stdout, one end of a
 * socketpair, carry our SSH session through the bastion's direct-tcpip
 * channel.  The bastion is thus reached with everything ssh knows (its
 * own config, agent, keys), and our session to the node is end-to-end:
 * its host key is still checked against our known_hosts.  ProxyCommand
 * runs through /bin/sh the same way, with %h %p %r %n %% expanded.  The
 * proxy's stderr is kept: when the session fails before it is up, its
 * last words say why (bastion refused the key, unknown host key, ...).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "ssh_proxy.h"
#include "transport.h"

struct ssh_dial {
	ssh_dial_fn	 done;
	void		*data;
	GCancellable	*cancel;	/* TCP */
	GSocketConnection *conn;
	int		 fd;		/* our end of the proxy's socket */
	GPid		 pid;
	int		 err_fd;	/* the proxy's stderr */
	GString		*err;
	guint		 idle;
	GError		*error;		/* for the idle */
};

static void
connected(GObject *client, GAsyncResult *res, gpointer data)
{
	g_autoptr(GError) e = NULL;
	struct ssh_dial *d = data;
	GSocketConnection *c;

	c = g_socket_client_connect_finish(G_SOCKET_CLIENT(client), res, &e);
	if (!c && g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;		/* freed: d is gone */
	d->conn = c;
	d->done(d->data, c ? g_socket_get_fd(g_socket_connection_get_socket(
		c)) : -1, e);
}

static gboolean
report(gpointer data)
{
	struct ssh_dial *d = data;
	g_autoptr(GError) e = g_steal_pointer(&d->error);

	d->idle = 0;
	d->done(d->data, e ? -1 : d->fd, e);
	return G_SOURCE_REMOVE;
}

/* "ssh://" makes any [USER@]HOST[:PORT] hop a destination ssh takes. */
static char *
hop_uri(const char *hop)
{
	return g_str_has_prefix(hop, "ssh://") ? g_strdup(hop) :
	       g_strconcat("ssh://", hop, NULL);
}

static gboolean
proxy_argv(const struct link_ssh_options *opt, const char *host, int port,
	   GStrv *argv, GError **error)
{
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
	const char *last;

	if (opt->proxy_command) {
		g_autofree char *cmd = ssh_config_expand(opt->proxy_command,
			host, port, opt->user ? opt->user : g_get_user_name(),
			opt->alias ? opt->alias : host);

		g_ptr_array_add(a, g_strdup("/bin/sh"));
		g_ptr_array_add(a, g_strdup("-c"));
		g_ptr_array_add(a, g_strconcat("exec ", cmd, NULL));
	} else {
		g_ptr_array_add(a, g_strdup("ssh"));
		if (opt->ssh_config) {
			g_ptr_array_add(a, g_strdup("-F"));
			g_ptr_array_add(a, g_strdup(opt->ssh_config));
		}
		g_ptr_array_add(a, g_strdup("-o"));
		g_ptr_array_add(a, g_strdup("BatchMode=yes"));
		g_ptr_array_add(a, g_strdup("-W"));
		g_ptr_array_add(a, g_strdup_printf(strchr(host, ':') ?
			"[%s]:%d" : "%s:%d", host, port));
		/* The last hop is the proxy's destination, the others its
		 * own jumps. */
		if ((last = strrchr(opt->proxy_jump, ','))) {
			g_ptr_array_add(a, g_strdup("-J"));
			g_ptr_array_add(a, g_strndup(opt->proxy_jump,
				last - opt->proxy_jump));
			last++;
		} else {
			last = opt->proxy_jump;
		}
		if (!*last) {
			g_set_error(error, G_IO_ERROR,
				    G_IO_ERROR_INVALID_ARGUMENT,
				    "bad ProxyJump \"%s\"", opt->proxy_jump);
			g_ptr_array_unref(a);
			return FALSE;
		}
		g_ptr_array_add(a, hop_uri(last));
	}
	g_ptr_array_add(a, NULL);
	*argv = (GStrv)g_ptr_array_free(a, FALSE);
	return TRUE;
}

static gboolean
spawn_proxy(struct ssh_dial *d, const struct link_ssh_options *opt,
	    const char *host, int port, GError **error)
{
	g_auto(GStrv) argv = NULL;
	g_autofree char *shown = NULL;
	int sv[2];
	gboolean ok;

	if (!proxy_argv(opt, host, port, &argv, error))
		return FALSE;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "socketpair: %s", g_strerror(errno));
		return FALSE;
	}
	ok = g_spawn_async_with_pipes_and_fds(NULL, (const char *const *)argv,
		NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL,
		NULL, sv[1], sv[1], -1, NULL, NULL, 0, &d->pid, NULL, NULL,
		&d->err_fd, error);
	close(sv[1]);
	shown = g_strjoinv(" ", argv);
	if (!ok) {
		close(sv[0]);
		g_prefix_error(error, "cannot start the proxy %s: ", shown);
		return FALSE;
	}
	g_debug("%s:%d: through the proxy %s", host, port, shown);
	d->fd = sv[0];
	g_unix_set_fd_nonblocking(d->fd, TRUE, NULL);
	g_unix_set_fd_nonblocking(d->err_fd, TRUE, NULL);
	return TRUE;
}

struct ssh_dial *
ssh_dial_start(const struct link_ssh_options *opt, const char *host,
	       int port, ssh_dial_fn done, void *data)
{
	struct ssh_dial *d = g_new0(struct ssh_dial, 1);
	g_autoptr(GSocketClient) client = NULL;
	g_autoptr(GSocketConnectable) addr = NULL;

	d->done = done;
	d->data = data;
	d->fd = d->err_fd = -1;
	d->err = g_string_new(NULL);
	if (opt->proxy_jump || opt->proxy_command) {
		/* Callbacks come from the main loop only. */
		if (!spawn_proxy(d, opt, host, port, &d->error))
			d->fd = -1;
		d->idle = g_idle_add(report, d);
		return d;
	}
	d->cancel = g_cancellable_new();
	client = g_socket_client_new();
	g_socket_client_set_enable_proxy(client, FALSE);
	addr = g_network_address_new(host, (guint16)port);
	g_socket_client_connect_async(client, addr, d->cancel, connected, d);
	return d;
}

gboolean
ssh_dial_is_tcp(const struct ssh_dial *d)
{
	return d->cancel != NULL;
}

void
ssh_dial_explain(struct ssh_dial *d, GError *e)
{
	char buf[4096], *s;
	ssize_t n;

	if (d->err_fd < 0)
		return;
	while ((n = read(d->err_fd, buf, sizeof(buf))) > 0)
		if (d->err->len < 65536)
			g_string_append_len(d->err, buf, n);
	s = g_strstrip(g_strdup(d->err->str));
	if (*s) {
		char *nl;

		/* the last line or two of what it said */
		while ((nl = strchr(s, '\n')) && strchr(nl + 1, '\n'))
			memmove(s, nl + 1, strlen(nl + 1) + 1);
		g_strdelimit(s, "\r\n", ' ');
		nl = g_strdup_printf("%s; the proxy said: %s", e->message, s);
		g_free(e->message);
		e->message = nl;
	}
	g_free(s);
}

static void
reap(GPid pid, int status, gpointer data)
{
	g_spawn_close_pid(pid);
}

void
ssh_dial_free(struct ssh_dial *d)
{
	if (!d)
		return;
	if (d->cancel)
		g_cancellable_cancel(d->cancel);
	g_clear_object(&d->cancel);
	g_clear_handle_id(&d->idle, g_source_remove);
	g_clear_error(&d->error);
	g_clear_object(&d->conn);
	if (d->fd >= 0)
		close(d->fd);
	if (d->err_fd >= 0)
		close(d->err_fd);
	if (d->pid) {
		kill(d->pid, SIGTERM);
		g_child_watch_add(d->pid, reap, NULL);
	}
	g_string_free(d->err, TRUE);
	g_free(d);
}
