/*
 * link_listen.c - the mount's side of connect-back (utils/proto/callback.h):
 * a TCP port that trickle-nodes started by Slurm connect to.  Each
 * connection must, within LISTEN_HANDSHAKE_S, name a token this mount
 * expects and prove it knows the mount's secret; the mount proves the same
 * back.  Anything else is closed, with one log line.  A connection that
 * passed goes to the link waiting for its token (link_connect.c), or is
 * kept for it and the owner told (arrival), for a node that came on its
 * own (a batch job starting).
 */
#include "transport.h"
#include "callback.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib-unix.h>
#include <gio/gio.h>

#define LISTEN_HANDSHAKE_S 10
/* Handshakes at once: more are refused at accept. */
#define LISTEN_PENDING_MAX 64

struct pending {
	struct link_listener *ls;
	int fd;
	char *peer;
	char nonce[CALLBACK_NONCE_HEX + 1];
	GString *in;
	guint watch, timer;
};

struct link_listener {
	int fd;
	guint watch;
	char *where;			/* ADDR:PORT, as nodes dial it */
	char *secret;
	GHashTable *expected;		/* token -> link_connect waiting, or
					   NULL */
	GHashTable *parked;		/* token -> fd, passed, unclaimed */
	GList *pending;			/* struct pending * */
	link_arrival_fn arrival;
	void *user;
};

static char *
peer_text(const struct sockaddr_storage *sa, socklen_t len)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getnameinfo((const struct sockaddr *)sa, len, host, sizeof(host),
			serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV))
		return g_strdup("?");
	return g_strdup_printf(sa->ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
			       host, serv);
}

static void
pending_free(struct pending *p, gboolean close_fd)
{
	p->ls->pending = g_list_remove(p->ls->pending, p);
	g_clear_handle_id(&p->watch, g_source_remove);
	g_clear_handle_id(&p->timer, g_source_remove);
	if (close_fd && p->fd >= 0)
		close(p->fd);
	g_string_free(p->in, TRUE);
	g_free(p->peer);
	g_free(p);
}

static void
refuse(struct pending *p, const char *why)
{
	g_warning("connect-back: refused %s: %s", p->peer, why);
	pending_free(p, TRUE);
}

static gboolean
handshake_expired(gpointer data)
{
	struct pending *p = data;

	p->timer = 0;
	refuse(p, "no answer to the greeting in time");
	return G_SOURCE_REMOVE;
}

static gboolean
write_line(int fd, const char *s)
{
	gsize len = strlen(s);
	ssize_t w;

	/* A handful of bytes into a fresh socket's buffer: all or none. */
	do
		w = send(fd, s, len, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	return w == (ssize_t)len;
}

/* The node's line is in: check it, answer, hand the connection on. */
static void
judge(struct pending *p, const char *line)
{
	struct link_listener *ls = p->ls;
	g_auto(GStrv) w = g_strsplit(line, " ", 4);
	g_autofree char *want = NULL, *proof = NULL, *reply = NULL;
	int fd = p->fd;

	if (g_strv_length(w) != 3 || !callback_token_ok(w[0]) ||
	    !callback_nonce_ok(w[1])) {
		refuse(p, "not a trickle-node's answer");
		return;
	}
	if (!g_hash_table_contains(ls->expected, w[0])) {
		refuse(p, "a token this mount does not expect");
		return;
	}
	want = callback_proof(ls->secret, "node", w[0], p->nonce, w[1]);
	if (!callback_equal(w[2], want)) {
		refuse(p, "a wrong proof of the secret");
		return;
	}
	proof = callback_proof(ls->secret, "mount", w[0], p->nonce, w[1]);
	reply = g_strconcat(proof, "\n", NULL);
	if (!write_line(fd, reply)) {
		refuse(p, "it went away");
		return;
	}
	g_debug("connect-back: %s is %s", p->peer, w[0]);
	p->fd = -1;
	pending_free(p, FALSE);
	link_listener_deliver(ls, w[0], fd);
}

static gboolean
on_answer(int fd, GIOCondition cond, gpointer data)
{
	struct pending *p = data;
	char buf[CALLBACK_LINE_MAX];
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	char *nl;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return G_SOURCE_CONTINUE;
	if (n <= 0) {
		p->watch = 0;
		refuse(p, "closed before answering");
		return G_SOURCE_REMOVE;
	}
	g_string_append_len(p->in, buf, n);
	nl = memchr(p->in->str, '\n', p->in->len);
	if (!nl) {
		if (p->in->len >= CALLBACK_LINE_MAX) {
			p->watch = 0;
			refuse(p, "an answer too long");
			return G_SOURCE_REMOVE;
		}
		return G_SOURCE_CONTINUE;
	}
	p->watch = 0;
	/* The node says nothing more until our proof: bytes after its
	 * line are not a trickle-node's. */
	if ((gsize)(nl - p->in->str) + 1 != p->in->len) {
		refuse(p, "bytes after its answer");
		return G_SOURCE_REMOVE;
	}
	*nl = '\0';
	judge(p, p->in->str);
	return G_SOURCE_REMOVE;
}

static gboolean
on_accept(int lfd, GIOCondition cond, gpointer data)
{
	struct link_listener *ls = data;
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	g_autofree char *nonce = NULL, *hello = NULL;
	struct pending *p;
	int fd = accept4(lfd, (struct sockaddr *)&sa, &len,
			 SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return G_SOURCE_CONTINUE;	/* EAGAIN, ECONNABORTED... */
	/* Frames are small and answered one by one: Nagle's wait for the
	 * peer's delayed ACK would add 40 ms to a call. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
			 sizeof(int));
	p = g_new0(struct pending, 1);
	p->ls = ls;
	p->fd = fd;
	p->peer = peer_text(&sa, len);
	p->in = g_string_new(NULL);
	ls->pending = g_list_prepend(ls->pending, p);
	if (g_list_length(ls->pending) > LISTEN_PENDING_MAX) {
		refuse(p, "too many handshakes at once");
		return G_SOURCE_CONTINUE;
	}
	if (!(nonce = callback_nonce())) {
		refuse(p, "no random bytes here");
		return G_SOURCE_CONTINUE;
	}
	g_strlcpy(p->nonce, nonce, sizeof(p->nonce));
	hello = g_strconcat(CALLBACK_GREETING, nonce, "\n", NULL);
	if (!write_line(fd, hello)) {
		refuse(p, "it went away");
		return G_SOURCE_CONTINUE;
	}
	p->watch = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
				 on_answer, p);
	p->timer = g_timeout_add_seconds(LISTEN_HANDSHAKE_S,
					 handshake_expired, p);
	return G_SOURCE_CONTINUE;
}

struct link_listener *
link_listener_new(const char *address, link_arrival_fn arrival, void *user,
		  GError **error)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST };
	struct addrinfo *res = NULL;
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	g_autofree char *secret = callback_secret_new();
	g_autofree char *at = NULL;
	struct link_listener *ls;
	int fd, r, err;

	if (!secret) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "no random bytes for a secret: %s",
			    g_strerror(errno));
		return NULL;
	}
	if ((r = getaddrinfo(address, "0", &hints, &res)) != 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "cannot listen on %s: %s", address,
			    gai_strerror(r));
		return NULL;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
	    listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		err = errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err),
			    "cannot listen on %s: %s", address,
			    g_strerror(err));
		return NULL;
	}
	freeaddrinfo(res);
	ls = g_new0(struct link_listener, 1);
	ls->fd = fd;
	ls->where = peer_text(&sa, len);
	ls->secret = g_steal_pointer(&secret);
	ls->expected = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					     NULL);
	ls->parked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					   NULL);
	ls->arrival = arrival;
	ls->user = user;
	ls->watch = g_unix_fd_add(fd, G_IO_IN, on_accept, ls);
	g_message("connect-back: listening on %s", ls->where);
	return ls;
}

const char *
link_listener_where(const struct link_listener *ls)
{
	return ls->where;
}

const char *
link_listener_secret(const struct link_listener *ls)
{
	return ls->secret;
}

void
link_listener_expect(struct link_listener *ls, const char *token)
{
	if (!g_hash_table_contains(ls->expected, token))
		g_hash_table_insert(ls->expected, g_strdup(token), NULL);
}

static void
close_parked(struct link_listener *ls, const char *token)
{
	gpointer fd;

	if (g_hash_table_lookup_extended(ls->parked, token, NULL, &fd)) {
		close(GPOINTER_TO_INT(fd));
		g_hash_table_remove(ls->parked, token);
	}
}

void
link_listener_forget(struct link_listener *ls, const char *token)
{
	close_parked(ls, token);
	g_hash_table_remove(ls->expected, token);
}

gboolean
link_listener_wait(struct link_listener *ls, const char *token,
		   struct link *waiter)
{
	gpointer fd;

	if (!g_hash_table_contains(ls->expected, token))
		link_listener_expect(ls, token);
	if (g_hash_table_lookup_extended(ls->parked, token, NULL, &fd)) {
		g_hash_table_remove(ls->parked, token);
		link_connect_take(waiter, GPOINTER_TO_INT(fd));
		return TRUE;
	}
	g_hash_table_insert(ls->expected, g_strdup(token), waiter);
	return FALSE;
}

void
link_listener_unwait(struct link_listener *ls, const char *token,
		     struct link *waiter)
{
	if (g_hash_table_lookup(ls->expected, token) == waiter)
		g_hash_table_insert(ls->expected, g_strdup(token), NULL);
}

void
link_listener_deliver(struct link_listener *ls, const char *token, int fd)
{
	struct link *waiter = g_hash_table_lookup(ls->expected, token);

	if (waiter) {
		g_hash_table_insert(ls->expected, g_strdup(token), NULL);
		link_connect_take(waiter, fd);
		return;
	}
	/* A second connection for the token replaces an unclaimed one. */
	close_parked(ls, token);
	g_hash_table_insert(ls->parked, g_strdup(token), GINT_TO_POINTER(fd));
	if (ls->arrival)
		ls->arrival(ls->user, token);
}

void
link_listener_free(struct link_listener *ls)
{
	GHashTableIter it;
	gpointer fd;

	if (!ls)
		return;
	while (ls->pending)
		pending_free(ls->pending->data, TRUE);
	g_clear_handle_id(&ls->watch, g_source_remove);
	close(ls->fd);
	g_hash_table_iter_init(&it, ls->parked);
	while (g_hash_table_iter_next(&it, NULL, &fd))
		close(GPOINTER_TO_INT(fd));
	g_hash_table_unref(ls->parked);
	g_hash_table_unref(ls->expected);
	explicit_bzero(ls->secret, strlen(ls->secret));
	g_free(ls->secret);
	g_free(ls->where);
	g_free(ls);
}
