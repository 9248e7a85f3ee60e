/*
 * link_ssh.c - a link over an SSH exec channel, with libssh2.
 *
 * Nothing here blocks.  ssh_proxy.c makes the connection (TCP, or a
 * ProxyJump/ProxyCommand's socket); then one
 * GSource watches the socket in the directions libssh2 asks for and runs
 * a state machine: handshake and host key check, authentication, channel,
 * exec, then the pump.  A non-blocking libssh2 call answers EAGAIN until
 * it completes and must be repeated with the same arguments, so each
 * state just retries its call on the next wake-up.  Which host keys to
 * trust is ssh_knownhosts.c's business, logging in ssh_auth.c's, and
 * which algorithms to speak ssh_methods.c's; this file connects, drives
 * the states and moves the bytes.
 *
 * libssh2 keeps at most one half-sent packet, and only the call that
 * started it can finish it (any other sending call answers EAGAIN).  So
 * the pump always offers both its write and its read, either of which
 * may own that packet, and the two calls that build their packet on the
 * stack (keepalive, EOF) are made only while the socket has room.
 *
 * Callbacks may re-enter (link_write, link_close_write) or free the link.
 * Every entry point holds s->busy; link_free() while busy tears down and
 * marks the link, and the outermost entry point frees it on the way out.
 * link_write() never calls libssh2 itself: it makes the GSource run,
 * which also gathers small writes into fewer packets.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>

#include <gio/gio.h>
#include <libssh2.h>

#include "transport.h"
#include "fdwatch.h"
#include "ssh_auth.h"
#include "ssh_error.h"
#include "ssh_knownhosts.h"
#include "ssh_methods.h"
#include "ssh_proxy.h"

#define CLOSE_GRACE	5		/* s from EOF to the exit status */
#define LINGER_MS	1000		/* from an exit status to EOF */
#define PUMP_BUDGET	(8u << 20)	/* bytes per dispatch, then yield */

enum state {
	S_CONNECT,	/* TCP, in GSocketClient */
	S_HANDSHAKE,	/* banner, key exchange, host key check */
	S_AUTH,		/* agent identities, then key files */
	S_OPEN,		/* session channel */
	S_EXEC,
	S_UP,		/* the pump */
	S_CLOSING,	/* the node's output ended: wait for its exit status */
	S_DOWN,
};

static const char *const doing[] = {
	"connecting", "in the SSH handshake", "authenticating",
	"opening a channel", "starting the node command",
};

enum { WAIT, NEXT };	/* a state step: wait for the socket, or go on */

struct link_ssh {
	struct link	 base;		/* first: a link_ssh is a link */
	char		*host, *command;
	char		*where;		/* "host:port", for messages */
	int		 port;
	guint		 connect_timeout, keepalive;

	enum state	 state;
	int		 busy;		/* entry points under way */
	gboolean	 freed;		/* link_free() came while busy */
	GError		*early;		/* failed in link_ssh_new() */
	struct ssh_dial	*dial;		/* the connection */
	int		 fd;
	GSource		*io;		/* the socket, and "run again" */
	gpointer	 io_tag;
	GIOCondition	 polled;	/* what io_tag waits for now */
	guint		 deadline;	/* set-up; then the wait for exit */
	guint		 ka;		/* keepalive tick */
	gint64		 last_rx;	/* when bytes last came in */
	gboolean	 sock_dead;	/* tearing down: no more socket I/O */

	LIBSSH2_SESSION	*ssh;
	gboolean	 kexed;
	struct ssh_knownhosts *kh;	/* whose host keys we trust */
	char		*peer;		/* "host:port (type SHA256:...)" */
	struct ssh_auth	*auth;
	LIBSSH2_CHANNEL	*chan;

	gboolean	 want_eof, eof_sent;
	gboolean	 want_out;	/* EOF waits for room in the socket */
	GString		*errline;	/* stderr: the line so far */
	char		*tail[3];	/* stderr: the last lines, a ring */
	guint		 tail_next;
	guchar		 buf[65536];
};

static gboolean deadline_passed(gpointer);
static gboolean keepalive_tick(gpointer);

static gboolean
gone(struct link_ssh *s)
{
	return s->freed || s->state == S_DOWN;
}

static void
release(struct link_ssh *s)
{
	guint i;

	for (i = 0; i < G_N_ELEMENTS(s->tail); i++)
		g_free(s->tail[i]);
	g_clear_error(&s->early);
	g_string_free(s->errline, TRUE);
	g_free(s->host);
	g_free(s->command);
	g_free(s->where);
	g_free(s->peer);
	g_free(s);
}

static void
enter(struct link_ssh *s)
{
	s->busy++;
}

static void
leave(struct link_ssh *s)
{
	if (--s->busy == 0 && s->freed)
		release(s);
}

/* Stop every source and free the session: afterwards nothing fires. */
static void
teardown(struct link_ssh *s)
{
	g_clear_handle_id(&s->deadline, g_source_remove);
	g_clear_handle_id(&s->ka, g_source_remove);
	if (s->io)
		g_source_destroy(s->io);
	g_clear_pointer(&s->io, g_source_unref);
	if (s->ssh) {
		/* One try at a goodbye; then every socket call fails, so
		 * freeing the channel can neither wait for the peer nor
		 * answer EAGAIN (and leak). */
		if (s->kexed)
			libssh2_session_disconnect(s->ssh, "link closed");
		s->sock_dead = TRUE;
		if (s->chan)
			libssh2_channel_free(s->chan);
		/* Both hold memory of the session: free them before it. */
		g_clear_pointer(&s->auth, ssh_auth_free);
		g_clear_pointer(&s->kh, ssh_knownhosts_free);
		if (libssh2_session_free(s->ssh))
			g_debug("%s: libssh2_session_free failed", s->where);
		s->chan = NULL;
		s->ssh = NULL;
	}
	g_clear_pointer(&s->dial, ssh_dial_free);
	s->fd = -1;
}

/* The link is down: the last thing that happens to it. */
static void
go_down(struct link_ssh *s, GError *e)
{
	if (gone(s)) {
		g_error_free(e);
		return;
	}
	if (s->state < S_UP && s->dial)	/* a proxy knows why */
		ssh_dial_explain(s->dial, e);
	s->state = S_DOWN;
	teardown(s);
	link_report_down(&s->base, e);	/* may link_free(): we are busy */
}

static void G_GNUC_PRINTF(3, 4)
fail(struct link_ssh *s, int code, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	go_down(s, g_error_new_literal(G_IO_ERROR, code, msg));
	g_free(msg);
}

/* A libssh2 call failed with rc while the link was doing what. */
static void
fail_ssh(struct link_ssh *s, int rc, const char *what)
{
	go_down(s, ssh_error_new(s->ssh, rc, s->where, what));
}

/*
 * Setting up the session, before any I/O.
 */

static LIBSSH2_RECV_FUNC(sock_recv)
{
	struct link_ssh *s = *abstract;
	ssize_t n;

	if (s->sock_dead)
		return -ENOTCONN;
	if ((n = recv(socket, buffer, length, flags)) < 0)
		return -errno;
	if (n > 0)
		s->last_rx = g_get_monotonic_time();
	return n;
}

static LIBSSH2_SEND_FUNC(sock_send)
{
	struct link_ssh *s = *abstract;
	ssize_t n;

	if (s->sock_dead)
		return -ENOTCONN;
	n = send(socket, buffer, length, flags | MSG_NOSIGNAL);
	return n < 0 ? -errno : n;
}

static gboolean
session_new(struct link_ssh *s, const struct link_ssh_options *opt,
	    GError **error)
{
	static gsize once;
	g_autofree char *known_hosts = NULL, *hostkeys = NULL;

	known_hosts = opt->known_hosts ? g_strdup(opt->known_hosts) :
	    g_build_filename(g_get_home_dir(), ".ssh", "known_hosts", NULL);
	if (g_once_init_enter(&once))
		g_once_init_leave(&once, libssh2_init(0) == 0 ? 1 : 2);
	if (once != 1 || !(s->ssh = libssh2_session_init_ex(NULL, NULL, NULL,
	    s)) || !(s->kh = ssh_knownhosts_load(s->ssh, known_hosts, s->host,
	    s->port))) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		    "%s: cannot set up libssh2", s->where);
		return FALSE;
	}
	libssh2_session_set_blocking(s->ssh, 0);
	libssh2_session_callback_set(s->ssh, LIBSSH2_CALLBACK_RECV,
	    (void *)sock_recv);
	libssh2_session_callback_set(s->ssh, LIBSSH2_CALLBACK_SEND,
	    (void *)sock_send);
	s->auth = ssh_auth_new(s->ssh, opt->user ? opt->user :
	    g_get_user_name(), opt->identity, opt->identity_files,
	    opt->identities_only);

	hostkeys = ssh_knownhosts_key_types(s->kh);
	return ssh_methods_pin(s->ssh, hostkeys, s->where, error);
}

/*
 * The states, in order.  Each step returns NEXT when the state changed
 * and the next step may run now, else WAIT (EAGAIN, or the link is down).
 */

static int
do_handshake(struct link_ssh *s)
{
	GError *e = NULL;
	int rc;

	if ((rc = libssh2_session_handshake(s->ssh, s->fd)) ==
	    LIBSSH2_ERROR_EAGAIN)
		return WAIT;
	if (rc) {
		fail_ssh(s, rc, "in the SSH handshake");
		return WAIT;
	}
	s->kexed = TRUE;
	s->base.answered = TRUE;
	/* Nothing goes to an unverified host, not even the user name. */
	if (!ssh_knownhosts_check(s->kh, s->where, &s->peer, &e)) {
		go_down(s, e);
		return WAIT;
	}
	s->state = S_AUTH;
	return NEXT;
}

static int
do_auth(struct link_ssh *s)
{
	GError *e = NULL;

	switch (ssh_auth_step(s->auth, s->where, &e)) {
	case SSH_AUTH_AGAIN:
		return WAIT;
	case SSH_AUTH_FAILED:
		go_down(s, e);
		return WAIT;
	case SSH_AUTH_DONE:
		break;
	}
	s->state = S_OPEN;
	return NEXT;
}

static int
do_open(struct link_ssh *s)
{
	int rc;

	if (!(s->chan = libssh2_channel_open_session(s->ssh))) {
		if ((rc = libssh2_session_last_errno(s->ssh)) !=
		    LIBSSH2_ERROR_EAGAIN)
			fail_ssh(s, rc, "opening a session channel");
		return WAIT;
	}
	s->state = S_EXEC;
	return NEXT;
}

static int
do_exec(struct link_ssh *s)
{
	int rc;

	if ((rc = libssh2_channel_exec(s->chan, s->command)) ==
	    LIBSSH2_ERROR_EAGAIN)
		return WAIT;
	if (rc) {
		fail_ssh(s, rc, "starting the node command");
		return WAIT;
	}
	s->state = S_UP;
	g_clear_handle_id(&s->deadline, g_source_remove);
	/* libssh2 sends a keepalive only once its own interval (2 s at
	 * least, in whole seconds) has passed: keep that below ours. */
	libssh2_keepalive_config(s->ssh, 1, 2);
	s->last_rx = g_get_monotonic_time();
	s->ka = g_timeout_add_seconds(s->keepalive, keepalive_tick, s);
	if (s->base.cb.up)
		s->base.cb.up(s->base.user, s->peer);
	return NEXT;
}

/*
 * The pump.
 */

/* Room in the socket, and no half-sent packet?  Then libssh2 calls that
 * build their packet on the stack (and so could not finish it) may go. */
static gboolean
sock_writable(struct link_ssh *s)
{
	struct pollfd p = { .fd = s->fd, .events = POLLOUT };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) &&
	    !(libssh2_session_block_directions(s->ssh) &
	    LIBSSH2_SESSION_BLOCK_OUTBOUND);
}

static void
pump_out(struct link_ssh *s, gsize *moved)
{
	struct link *l = &s->base;
	ssize_t n;
	int rc;

	while (link_pending(l) > 0) {
		n = libssh2_channel_write(s->chan,
		    (const char *)l->out->data + l->out_off, link_pending(l));
		if (n == LIBSSH2_ERROR_EAGAIN || n == 0)
			return;		/* socket full, or window shut */
		if (n < 0) {
			fail_ssh(s, (int)n, "sending to the node");
			return;
		}
		*moved += n;
		link_consumed(l, n);	/* may call back, even free us */
		if (gone(s))
			return;
	}
	if (s->want_eof && !s->eof_sent &&
	    !(s->want_out = !sock_writable(s))) {
		if ((rc = libssh2_channel_send_eof(s->chan)) == 0)
			s->eof_sent = TRUE;
		else if (rc != LIBSSH2_ERROR_EAGAIN)
			fail_ssh(s, rc, "closing the node's input");
	}
}

/* A whole stderr line: pass it on, and keep it for the exit message. */
static void
stderr_line(struct link_ssh *s)
{
	GString *e = s->errline;
	char *line;

	if (e->len && e->str[e->len - 1] == '\r')
		g_string_truncate(e, e->len - 1);
	line = g_strdup(e->str);
	g_string_truncate(e, 0);
	g_free(s->tail[s->tail_next]);
	s->tail[s->tail_next] = line;
	s->tail_next = (s->tail_next + 1) % G_N_ELEMENTS(s->tail);
	if (s->base.cb.log)
		s->base.cb.log(s->base.user, line);
}

static void
stderr_bytes(struct link_ssh *s, const char *p, gsize n)
{
	const char *nl;
	gsize k;

	while (n > 0 && !gone(s)) {
		nl = memchr(p, '\n', n);
		k = nl ? (gsize)(nl - p) : n;
		g_string_append_len(s->errline, p, k);
		p += k + !!nl;
		n -= k + !!nl;
		if (nl || s->errline->len >= 4096)	/* no endless lines */
			stderr_line(s);
	}
}

/* Has the node's exit status or signal come?  (1.10 cannot tell "exit
 * status 0" from "none yet".) */
static gboolean
exited(struct link_ssh *s)
{
	char *sig = NULL;

	if (libssh2_channel_get_exit_status(s->chan))
		return TRUE;
	libssh2_channel_get_exit_signal(s->chan, &sig, NULL, NULL, NULL,
	    NULL, NULL);
	if (sig)
		libssh2_free(s->ssh, sig);
	return sig != NULL;
}

static void
pump_in(struct link_ssh *s, gsize *moved)
{
	ssize_t n;
	int ext;

	for (ext = 0; ext <= 1; ext++)
		while (*moved < PUMP_BUDGET) {
			n = libssh2_channel_read_ex(s->chan, ext ?
			    SSH_EXTENDED_DATA_STDERR : 0, (char *)s->buf,
			    sizeof(s->buf));
			if (n == LIBSSH2_ERROR_EAGAIN || n == 0)
				break;
			if (n < 0) {
				fail_ssh(s, (int)n, "receiving from the node");
				return;
			}
			*moved += n;
			if (ext)
				stderr_bytes(s, (const char *)s->buf, n);
			else if (s->base.cb.data)
				s->base.cb.data(s->base.user, s->buf, n);
			if (gone(s))
				return;
		}
	/* libssh2 says EOF once both streams are read to the end. */
	if (libssh2_channel_eof(s->chan)) {
		if (s->errline->len)
			stderr_line(s);
		if (!gone(s))
			s->state = S_CLOSING;
	} else if (!s->deadline && exited(s)) {
		/* The node is gone but something it left (a worker) holds
		 * its output open: give the output in flight a moment. */
		s->deadline = g_timeout_add(LINGER_MS, deadline_passed, s);
	}
}

/* Could the pump go on without the socket waking it?  Reading can queue
 * the other stream's packets or open the send window, and then leave the
 * socket with nothing to say. */
static gboolean
more_to_do(struct link_ssh *s)
{
	if (libssh2_session_block_directions(s->ssh) &
	    LIBSSH2_SESSION_BLOCK_OUTBOUND)
		return FALSE;	/* a half-sent packet: wait for room */
	return libssh2_poll_channel_read(s->chan, 1) ||
	    (link_pending(&s->base) > 0 &&
	    libssh2_channel_window_write(s->chan) > 0);
}

static int
do_pump(struct link_ssh *s)
{
	gsize moved = 0, before;
	gboolean spare = TRUE;

	/* Again while more_to_do() says so, but not twice in a row without
	 * moving a byte. */
	for (;;) {
		before = moved;
		pump_out(s, &moved);
		if (!gone(s))
			pump_in(s, &moved);
		if (gone(s))
			return WAIT;
		if (s->state != S_UP)
			break;
		if (moved >= PUMP_BUDGET) {	/* let the others run */
			g_source_set_ready_time(s->io, 0);
			return WAIT;
		}
		if (moved > before)
			spare = TRUE;
		else if (!spare)
			return WAIT;
		else
			spare = FALSE;
		if (!more_to_do(s))
			return WAIT;
	}
	g_clear_handle_id(&s->deadline, g_source_remove);
	s->deadline = g_timeout_add_seconds(CLOSE_GRACE, deadline_passed, s);
	return NEXT;
}

/* Tell how the node command ended, with its last stderr lines if it
 * failed; rc is how the wait for the channel to close ended. */
static void
report_exit(struct link_ssh *s, int rc)
{
	g_autoptr(GString) m = g_string_new(NULL);
	const char *sep = "; its last words: ", *t;
	char *sig = NULL;
	int status;
	guint i;

	status = libssh2_channel_get_exit_status(s->chan);
	libssh2_channel_get_exit_signal(s->chan, &sig, NULL, NULL, NULL,
	    NULL, NULL);
	if (sig)
		g_string_printf(m, "%s: node command was killed by signal "
		    "SIG%s", s->where, sig);
	else
		g_string_printf(m, "%s: node command exited with status %d%s",
		    s->where, status, status == 127 ? " (not found?)" :
		    status == 126 ? " (not executable?)" : "");
	for (i = 0; (sig || status) && i < G_N_ELEMENTS(s->tail); i++)
		if ((t = s->tail[(s->tail_next + i) % G_N_ELEMENTS(s->tail)])) {
			g_string_append_printf(m, "%s\"%s\"", sep, t);
			sep = " / ";
		}
	if (rc)
		g_string_append(m, " (connection lost before the channel "
		    "closed)");
	if (sig)
		libssh2_free(s->ssh, sig);
	fail(s, sig || status || rc ? G_IO_ERROR_FAILED : G_IO_ERROR_CLOSED,
	    "%s", m->str);
}

/* The node's output ended: wait for the channel to close (its exit
 * status comes by then). */
static int
do_closing(struct link_ssh *s)
{
	int rc;

	if ((rc = libssh2_channel_wait_closed(s->chan)) !=
	    LIBSSH2_ERROR_EAGAIN)
		report_exit(s, rc);
	return WAIT;
}

/*
 * Driving it all.
 */

/* Watch the socket in the directions libssh2 waits for.  Once up, also
 * for input, which comes unannounced; but not while a packet is half
 * sent, as the pump cannot drain a readable socket until it is out. */
static void
set_poll(struct link_ssh *s)
{
	int dir = libssh2_session_block_directions(s->ssh);
	GIOCondition c = 0;

	if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
		c |= G_IO_IN;
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		c |= G_IO_OUT;
	else if (s->state >= S_UP)
		c |= G_IO_IN;
	if (s->state == S_UP && s->want_out)
		c |= G_IO_OUT;
	if (!c)
		c = G_IO_IN;
	/* Each change wakes the main context: only when it is one. */
	if (c != s->polled)
		g_source_modify_unix_fd(s->io, s->io_tag, c);
	s->polled = c;
}

static void
run(struct link_ssh *s)
{
	int r;

	s->busy++;
	do {
		switch (s->state) {
		case S_HANDSHAKE:	r = do_handshake(s); break;
		case S_AUTH:		r = do_auth(s); break;
		case S_OPEN:		r = do_open(s); break;
		case S_EXEC:		r = do_exec(s); break;
		case S_UP:		r = do_pump(s); break;
		case S_CLOSING:		r = do_closing(s); break;
		default:		r = WAIT; break;
		}
	} while (r == NEXT && !gone(s));
	if (!gone(s))
		set_poll(s);
	leave(s);
}

struct io_source {
	GSource		 source;
	struct link_ssh	*s;
};

static gboolean
io_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
	g_source_set_ready_time(source, -1);
	run(((struct io_source *)source)->s);
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs io_funcs = { .dispatch = io_dispatch };

static void
connected(void *data, int fd, const GError *e)
{
	struct link_ssh *s = data;
	int one = 1;

	enter(s);
	if (fd < 0) {
		go_down(s, ssh_connect_error(s->where, s->port, e));
		leave(s);
		return;
	}
	s->fd = fd;
	/* Small request frames must not wait for Nagle (TCP only). */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	s->io = g_source_new(&io_funcs, sizeof(struct io_source));
	((struct io_source *)s->io)->s = s;
	g_source_set_name(s->io, "link_ssh");
	s->io_tag = g_source_add_unix_fd(s->io, s->fd, G_IO_IN);
	fd_watch_no_block(s->io);	/* no wake-up per dispatch */
	s->polled = G_IO_IN;
	g_source_attach(s->io, NULL);
	s->state = S_HANDSHAKE;
	run(s);
	leave(s);
}

/* The set-up took too long; or the node exited but its output stays
 * open, or the reverse; or link_ssh_new() failed and says so now. */
static gboolean
deadline_passed(gpointer data)
{
	struct link_ssh *s = data;

	s->deadline = 0;
	enter(s);
	if (s->early) {
		go_down(s, g_steal_pointer(&s->early));
	} else if (s->state == S_UP) {	/* exited, output held open */
		if (s->errline->len)
			stderr_line(s);
		if (!gone(s))
			report_exit(s, 0);
	} else if (s->state == S_CLOSING) {
		fail(s, G_IO_ERROR_FAILED, "%s: the node command closed its "
		    "output but did not exit within %d s", s->where,
		    CLOSE_GRACE);
	} else if (s->state < S_UP) {
		fail(s, G_IO_ERROR_TIMED_OUT, "%s: timed out after %u s %s",
		    s->where, s->connect_timeout, doing[s->state]);
	}
	leave(s);
	return G_SOURCE_REMOVE;
}

static gboolean
keepalive_tick(gpointer data)
{
	struct link_ssh *s = data;
	gint64 quiet = g_get_monotonic_time() - s->last_rx;
	int rc, next;

	/* Down after three unanswered keepalives (libssh2 sends at most
	 * every 2 s).  Answers to them are all that counts: any bytes. */
	enter(s);
	if (quiet > (gint64)3 * MAX(s->keepalive, 2) * G_USEC_PER_SEC)
		fail(s, G_IO_ERROR_TIMED_OUT, "%s: no answer from %s for %d s",
		    s->where, s->host, (int)(quiet / G_USEC_PER_SEC));
	else if (s->state == S_UP && sock_writable(s) &&
	    (rc = libssh2_keepalive_send(s->ssh, &next)) &&
	    rc != LIBSSH2_ERROR_EAGAIN)
		fail_ssh(s, rc, "sending a keepalive");
	leave(s);
	return G_SOURCE_CONTINUE;	/* teardown removes it */
}

/*
 * The link class.
 */

static void
ssh_kick(struct link *l)
{
	struct link_ssh *s = (struct link_ssh *)l;

	if (s->state == S_UP && s->io)
		g_source_set_ready_time(s->io, 0);
}

static void
ssh_close_write(struct link *l)
{
	((struct link_ssh *)l)->want_eof = TRUE;
	ssh_kick(l);
}

static void
ssh_destroy(struct link *l)
{
	struct link_ssh *s = (struct link_ssh *)l;

	s->state = S_DOWN;	/* no callback from now on */
	teardown(s);
	if (s->busy)
		s->freed = TRUE;	/* the outermost entry point frees */
	else
		release(s);
}

static const struct link_class ssh_class = {
	.kick = ssh_kick,
	.close_write = ssh_close_write,
	.destroy = ssh_destroy,
};

struct link *
link_ssh_new(const struct link_ssh_options *opt,
	     const struct link_callbacks *cb, void *user)
{
	struct link_ssh *s = g_new0(struct link_ssh, 1);

	link_init(&s->base, &ssh_class, cb, user);
	s->host = g_strdup(opt->host ? opt->host : "");
	s->port = opt->port > 0 ? opt->port : 22;
	s->command = g_strdup(opt->command);
	s->connect_timeout = opt->connect_timeout ? opt->connect_timeout : 15;
	s->keepalive = opt->keepalive_interval ? opt->keepalive_interval : 15;
	s->fd = -1;
	/* As ssh writes them: "[::1]:22". */
	s->where = g_strdup_printf(strchr(s->host, ':') ? "[%s]:%d" : "%s:%d",
	    s->host, s->port);
	s->errline = g_string_new(NULL);

	/* Callbacks come from the main loop only: report errors from there. */
	if (!*s->host || !s->command || !*s->command || s->port > 65535)
		s->early = g_error_new(G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		    "%s: no host, no node command, or a bad port", s->where);
	else
		session_new(s, opt, &s->early);
	if (s->early) {
		s->deadline = g_idle_add(deadline_passed, s);
		return &s->base;
	}
	s->state = S_CONNECT;
	s->dial = ssh_dial_start(opt, s->host, s->port, connected, s);
	s->deadline = g_timeout_add(s->connect_timeout * 1000,
	    deadline_passed, s);
	return &s->base;
}
