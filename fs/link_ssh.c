/*
 * link_ssh.c - a link over an SSH exec channel, with libssh2.
 *
 * Nothing here blocks.  GSocketClient makes the TCP connection; from then
 * on one GSource watches the socket in the directions libssh2 asks for and
 * runs a state machine: handshake, host key check, authentication,
 * channel, exec, then the pump that moves bytes.  In non-blocking mode a
 * libssh2 call returns LIBSSH2_ERROR_EAGAIN until it completes and must be
 * repeated with the same arguments, so every state simply retries its call
 * on the next wake-up.
 *
 * libssh2 keeps at most one half-sent packet, and only the call that
 * started it can finish it: any other sending call meanwhile answers
 * EAGAIN.  So the pump always offers both its write and its read (either
 * may own the packet), and the two calls that build their packet on the
 * stack (keepalive, EOF) are only made while the socket has room.
 *
 * Callbacks may re-enter (link_write, link_close_write) or free the link.
 * Every entry point holds s->busy; link_free() while busy only marks the
 * link, and the outermost entry point frees it on the way out.  link_write
 * never calls libssh2: it asks the GSource to run, which also batches
 * small writes into fewer packets.
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

#include "link.h"

/* libssh2 1.10 offers weak algorithms too; ask only for these, in this
 * order, and only those this libssh2 knows (1.10: no GCM, no etm MACs). */
#define WANT_KEX "curve25519-sha256,curve25519-sha256@libssh.org," \
	"ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521," \
	"diffie-hellman-group16-sha512,diffie-hellman-group14-sha256"
#define WANT_CIPHER "aes256-gcm@openssh.com,aes128-gcm@openssh.com," \
	"aes128-ctr,aes192-ctr,aes256-ctr"
#define WANT_MAC "hmac-sha2-256-etm@openssh.com," \
	"hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512"

#define CLOSE_GRACE	5		/* s from EOF to the exit status */
#define READ_BUDGET	(8u << 20)	/* bytes per dispatch, then yield */

static const struct keytype {
	int		 hostkey;	/* LIBSSH2_HOSTKEY_TYPE_* */
	int		 known;		/* LIBSSH2_KNOWNHOST_KEY_* */
	const char	*name;
} keytypes[] = {
	{ LIBSSH2_HOSTKEY_TYPE_ED25519, LIBSSH2_KNOWNHOST_KEY_ED25519,
	  "ssh-ed25519" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_256, LIBSSH2_KNOWNHOST_KEY_ECDSA_256,
	  "ecdsa-sha2-nistp256" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_384, LIBSSH2_KNOWNHOST_KEY_ECDSA_384,
	  "ecdsa-sha2-nistp384" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_521, LIBSSH2_KNOWNHOST_KEY_ECDSA_521,
	  "ecdsa-sha2-nistp521" },
};

enum state {
	S_CONNECT,	/* TCP, in GSocketClient */
	S_HANDSHAKE,	/* banner, key exchange; then the host key check */
	S_AUTHLIST,	/* which methods the server takes */
	S_AUTH,		/* agent identities, then key files */
	S_OPEN,		/* session channel */
	S_EXEC,
	S_UP,		/* the pump */
	S_CLOSING,	/* the node's output ended: wait for its exit status */
	S_DOWN,
};

static const char *const doing[] = {
	[S_CONNECT] = "connecting",
	[S_HANDSHAKE] = "in the SSH handshake",
	[S_AUTHLIST] = "authenticating",
	[S_AUTH] = "authenticating",
	[S_OPEN] = "opening a channel",
	[S_EXEC] = "starting the node command",
};

enum { WAIT, NEXT };	/* what a state step says: wait for I/O, go on */

struct link_ssh {
	struct link	 base;		/* first: a link_ssh is a link */
	char		*host, *user, *identity, *known_hosts, *command;
	int		 port;
	char		*where;		/* "host:port" for messages */
	char		*khname;	/* the name known_hosts uses */
	guint		 connect_timeout, keepalive;

	enum state	 state;
	GError		*early;		/* failed in link_ssh_new: report soon */
	GCancellable	*cancel;
	GSocketConnection *conn;
	int		 fd;
	GSource		*io;		/* the socket, and "run again" */
	gpointer	 io_tag;
	guint		 deadline;	/* set-up, or the wait for exit status */
	guint		 ka;		/* keepalive tick */
	gint64		 last_rx;	/* when bytes last came in */
	gboolean	 sock_dead;	/* tearing down: no more socket I/O */
	gboolean	 kexed;

	LIBSSH2_SESSION	*ssh;
	LIBSSH2_KNOWNHOSTS *kh;
	GPtrArray	*revoked;	/* base64 keys of @revoked lines */
	LIBSSH2_AGENT	*agent;
	gboolean	 agent_done;
	struct libssh2_agent_publickey *agent_id, *agent_prev;
	GPtrArray	*keyfiles;	/* private keys to try, in order */
	guint		 keyfile_next;
	GString		*tried;		/* for the "no key accepted" message */
	LIBSSH2_CHANNEL	*chan;
	char		*peer;		/* "host:port (type SHA256:...)" */

	GString		*errline;	/* stderr: the line so far */
	char		*tail[3];	/* stderr: the last lines, a ring */
	guint		 tail_next;
	gboolean	 want_eof, eof_sent;
	gboolean	 want_out;	/* EOF waits for room in the socket */
	int		 busy;
	gboolean	 freed;		/* link_free() came while busy */
	guchar		 buf[65536];
};

static void run(struct link_ssh *);

static gboolean
gone(struct link_ssh *s)
{
	return s->freed || s->state == S_DOWN;
}

static void
enter(struct link_ssh *s)
{
	s->busy++;
}

static void
release(struct link_ssh *s)
{
	guint i;

	for (i = 0; i < G_N_ELEMENTS(s->tail); i++)
		g_free(s->tail[i]);
	g_clear_error(&s->early);
	g_clear_object(&s->cancel);
	g_clear_pointer(&s->revoked, g_ptr_array_unref);
	g_clear_pointer(&s->keyfiles, g_ptr_array_unref);
	g_string_free(s->tried, TRUE);
	g_string_free(s->errline, TRUE);
	g_free(s->host);
	g_free(s->user);
	g_free(s->identity);
	g_free(s->known_hosts);
	g_free(s->command);
	g_free(s->where);
	g_free(s->khname);
	g_free(s->peer);
	g_free(s);
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
	if (s->cancel)
		g_cancellable_cancel(s->cancel);
	g_clear_handle_id(&s->deadline, g_source_remove);
	g_clear_handle_id(&s->ka, g_source_remove);
	if (s->io) {
		g_source_destroy(s->io);
		g_clear_pointer(&s->io, g_source_unref);
	}
	if (s->ssh) {
		/* One try at a polite goodbye; then make every socket call
		 * fail, so freeing the channel cannot answer EAGAIN (which
		 * would leak it) or wait for the peer. */
		if (s->kexed)
			(void)libssh2_session_disconnect(s->ssh,
			    "tricklefs: link closed");
		s->sock_dead = TRUE;
		if (s->chan)
			(void)libssh2_channel_free(s->chan);
		if (s->agent) {
			libssh2_agent_disconnect(s->agent);
			libssh2_agent_free(s->agent);
		}
		if (s->kh)
			libssh2_knownhost_free(s->kh);
		if (libssh2_session_free(s->ssh) != 0)
			g_debug("%s: libssh2_session_free failed", s->where);
		s->chan = NULL;
		s->agent = NULL;
		s->kh = NULL;
		s->ssh = NULL;
	}
	g_clear_object(&s->conn);
	s->fd = -1;
}

/* Report the link down: the last thing to happen to it. */
static void
go_down(struct link_ssh *s, GError *e)
{
	if (gone(s)) {
		g_error_free(e);
		return;
	}
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

/* A libssh2 call failed while the link was doing what. */
static void
fail_ssh(struct link_ssh *s, int rc, const char *what)
{
	char *msg = NULL;

	libssh2_session_last_error(s->ssh, &msg, NULL, 0);
	switch (rc) {
	case LIBSSH2_ERROR_SOCKET_DISCONNECT:
	case LIBSSH2_ERROR_SOCKET_RECV:
	case LIBSSH2_ERROR_SOCKET_SEND:
		fail(s, G_IO_ERROR_CONNECTION_CLOSED,
		    "%s: the connection broke while %s (%s)", s->where, what,
		    msg);
		break;
	case LIBSSH2_ERROR_KEX_FAILURE:
		fail(s, G_IO_ERROR_NOT_SUPPORTED, "%s: no key exchange, host "
		    "key type or cipher in common while %s (%s)", s->where,
		    what, msg);
		break;
	default:
		fail(s, G_IO_ERROR_FAILED, "%s: failed while %s: %s "
		    "(libssh2 error %d)", s->where, what, msg, rc);
	}
}

/*
 * Session set-up, before any I/O.
 */

static LIBSSH2_RECV_FUNC(sock_recv)
{
	struct link_ssh *s = *abstract;
	ssize_t n;

	if (s->sock_dead)
		return -ENOTCONN;
	n = recv(socket, buffer, length, flags);
	if (n < 0)
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

/* Ask for the wanted methods this libssh2 supports, in our order. */
static gboolean
pin(struct link_ssh *s, int method, const char *want, GError **error)
{
	g_auto(GStrv) w = g_strsplit(want, ",", -1);
	g_autoptr(GString) list = g_string_new(NULL);
	const char **algs = NULL;
	int i, j, n, rc;

	n = libssh2_session_supported_algs(s->ssh, method, &algs);
	for (i = 0; w[i]; i++)
		for (j = 0; j < n; j++)
			if (strcmp(w[i], algs[j]) == 0)
				g_string_append_printf(list, "%s%s",
				    list->len ? "," : "", w[i]);
	if (n > 0)
		libssh2_free(s->ssh, algs);
	if (list->len == 0 ||
	    (rc = libssh2_session_method_pref(s->ssh, method, list->str))) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
		    "%s: this libssh2 supports none of %s", s->where, want);
		return FALSE;
	}
	g_debug("%s: method %d: %s", s->where, method, list->str);
	return TRUE;
}

/*
 * Read known_hosts ourselves: libssh2_knownhost_readfile() stops at the
 * first line it cannot parse.  @revoked keys are remembered and refused;
 * @cert-authority lines cannot be used by libssh2 and are skipped.
 */
static void
read_known_hosts(struct link_ssh *s)
{
	g_autofree char *text = NULL;
	g_autoptr(GError) e = NULL;
	char *line, *next;
	guint no = 0;

	if (!g_file_get_contents(s->known_hosts, &text, NULL, &e)) {
		g_debug("%s", e->message);
		return;
	}
	for (line = text; line; line = next) {
		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		no++;
		g_strstrip(line);
		if (*line == '\0' || *line == '#')
			continue;
		if (g_str_has_prefix(line, "@revoked")) {
			g_auto(GStrv) f = g_strsplit_set(line, " \t", -1);
			guint i, n = 0;

			for (i = 0; f[i]; i++)	/* marker hosts type key */
				if (*f[i] && ++n == 4)
					g_ptr_array_add(s->revoked,
					    g_strdup(f[i]));
			continue;
		}
		if (*line == '@' || libssh2_knownhost_readline(s->kh, line,
		    strlen(line), LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0)
			g_debug("%s:%u: skipped a line libssh2 cannot use",
			    s->known_hosts, no);
	}
}

/* Is there a key of this type for our host?  A check with a key that
 * cannot match answers MISMATCH if so. */
static gboolean
type_known(struct link_ssh *s, const struct keytype *kt)
{
	return libssh2_knownhost_checkp(s->kh, s->khname, -1, "?", 1,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
	    kt->known, NULL) == LIBSSH2_KNOWNHOST_CHECK_MISMATCH;
}

static gboolean
session_new(struct link_ssh *s, GError **error)
{
	static gsize once;
	g_autoptr(GString) hostkeys = g_string_new(NULL);
	int pass;
	guint i;

	if (g_once_init_enter(&once))
		g_once_init_leave(&once, libssh2_init(0) == 0 ? 1 : 2);
	if (once != 1 || !(s->ssh = libssh2_session_init_ex(NULL, NULL, NULL,
	    s)) || !(s->kh = libssh2_knownhost_init(s->ssh))) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		    "%s: cannot set up libssh2", s->where);
		return FALSE;
	}
	libssh2_session_set_blocking(s->ssh, 0);
	libssh2_session_callback_set(s->ssh, LIBSSH2_CALLBACK_RECV,
	    (void *)sock_recv);
	libssh2_session_callback_set(s->ssh, LIBSSH2_CALLBACK_SEND,
	    (void *)sock_send);
	read_known_hosts(s);

	/* Offer first the host key types known_hosts has for this host,
	 * as ssh does: else a server preferring another type would look
	 * unknown. */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < G_N_ELEMENTS(keytypes); i++)
			if (type_known(s, &keytypes[i]) == (pass == 0))
				g_string_append_printf(hostkeys, "%s%s",
				    hostkeys->len ? "," : "",
				    keytypes[i].name);

	if (!pin(s, LIBSSH2_METHOD_KEX, WANT_KEX, error) ||
	    !pin(s, LIBSSH2_METHOD_HOSTKEY, hostkeys->str, error) ||
	    !pin(s, LIBSSH2_METHOD_CRYPT_CS, WANT_CIPHER, error) ||
	    !pin(s, LIBSSH2_METHOD_CRYPT_SC, WANT_CIPHER, error) ||
	    !pin(s, LIBSSH2_METHOD_MAC_CS, WANT_MAC, error) ||
	    !pin(s, LIBSSH2_METHOD_MAC_SC, WANT_MAC, error))
		return FALSE;
	return TRUE;
}

/*
 * The states, in order.  Each returns NEXT when its state changed and
 * the next may run now, WAIT otherwise (EAGAIN, or the link went down).
 */

static gboolean hostkey_ok(struct link_ssh *);

static int
do_handshake(struct link_ssh *s)
{
	int rc;

	if ((rc = libssh2_session_handshake(s->ssh, s->fd)) ==
	    LIBSSH2_ERROR_EAGAIN)
		return WAIT;
	if (rc) {
		fail_ssh(s, rc, "in the SSH handshake");
		return WAIT;
	}
	s->kexed = TRUE;
	if (!hostkey_ok(s))	/* nothing goes to an unverified host */
		return WAIT;
	s->state = S_AUTHLIST;
	return NEXT;
}

/* Only a host key known_hosts holds for this host:port gets further. */
static gboolean
hostkey_ok(struct link_ssh *s)
{
	const struct keytype *kt = NULL;
	const char *key, *hash;
	struct libssh2_knownhost *ext = NULL;
	g_autofree char *fp = NULL, *b64 = NULL;
	size_t len;
	int type, rc;
	guint i;

	key = libssh2_session_hostkey(s->ssh, &len, &type);
	hash = libssh2_hostkey_hash(s->ssh, LIBSSH2_HOSTKEY_HASH_SHA256);
	for (i = 0; i < G_N_ELEMENTS(keytypes); i++)
		if (keytypes[i].hostkey == type)
			kt = &keytypes[i];
	if (!key || !hash || !kt) {
		fail(s, G_IO_ERROR_PERMISSION_DENIED, "%s: cannot get the "
		    "server's host key, refusing to go on", s->where);
		return FALSE;
	}
	fp = g_base64_encode((const guchar *)hash, 32);
	g_strdelimit(fp, "=", '\0');	/* OpenSSH prints it unpadded */
	s->peer = g_strdup_printf("%s (%s SHA256:%s)", s->where, kt->name,
	    fp);
	b64 = g_base64_encode((const guchar *)key, len);
	for (i = 0; i < s->revoked->len; i++)
		if (strcmp(b64, s->revoked->pdata[i]) == 0) {
			fail(s, G_IO_ERROR_PERMISSION_DENIED, "%s: the host "
			    "key %s SHA256:%s is marked @revoked in %s; "
			    "refusing to connect", s->where, kt->name, fp,
			    s->known_hosts);
			return FALSE;
		}

	/* Build "[host]:port" ourselves: given a port, checkp() would
	 * also accept a plain "host" line, which ssh does not. */
	rc = libssh2_knownhost_checkp(s->kh, s->khname, -1, key, len,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
	    kt->known, &ext);
	switch (rc) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		return TRUE;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		fail(s, G_IO_ERROR_PERMISSION_DENIED, "%s: WARNING: REMOTE "
		    "HOST IDENTIFICATION HAS CHANGED! The host key %s "
		    "SHA256:%s does NOT match the one for %s in %s. Someone "
		    "could be eavesdropping on you (man-in-the-middle), or "
		    "the host key has just been changed. Refusing to "
		    "connect.", s->where, kt->name, fp, s->khname,
		    s->known_hosts);
		return FALSE;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		fail(s, G_IO_ERROR_PERMISSION_DENIED, "%s: unknown host: its "
		    "key %s SHA256:%s is not in %s (as %s); refusing to "
		    "connect. If the fingerprint is right, add the key, e.g. "
		    "with ssh-keyscan.", s->where, kt->name, fp,
		    s->known_hosts, s->khname);
		return FALSE;
	default:
		fail_ssh(s, rc, "checking the host key");
		return FALSE;
	}
}

/* Errors after which the session is no use for another key. */
static gboolean
broken(int rc)
{
	return rc == LIBSSH2_ERROR_SOCKET_DISCONNECT ||
	    rc == LIBSSH2_ERROR_SOCKET_RECV || rc == LIBSSH2_ERROR_SOCKET_SEND ||
	    rc == LIBSSH2_ERROR_SOCKET_TIMEOUT || rc == LIBSSH2_ERROR_DECRYPT ||
	    rc == LIBSSH2_ERROR_PROTO || rc == LIBSSH2_ERROR_TIMEOUT;
}

static int
do_authlist(struct link_ssh *s)
{
	static const char *const defaults[] = {
		"id_ed25519", "id_ecdsa", "id_rsa"
	};
	const char *methods;
	g_auto(GStrv) m = NULL;
	guint i;

	methods = libssh2_userauth_list(s->ssh, s->user, strlen(s->user));
	if (!methods) {
		if (libssh2_userauth_authenticated(s->ssh)) {
			s->state = S_OPEN;	/* "none" was enough */
			return NEXT;
		}
		if (libssh2_session_last_errno(s->ssh) == LIBSSH2_ERROR_EAGAIN)
			return WAIT;
		fail_ssh(s, libssh2_session_last_errno(s->ssh),
		    "asking for authentication methods");
		return WAIT;
	}
	m = g_strsplit(methods, ",", -1);
	if (!g_strv_contains((const char *const *)m, "publickey")) {
		fail(s, G_IO_ERROR_PERMISSION_DENIED, "%s: the server takes "
		    "only %s for %s; tricklefs logs in with keys", s->where,
		    methods, s->user);
		return WAIT;
	}
	if (s->identity)
		g_ptr_array_add(s->keyfiles, g_strdup(s->identity));
	else
		for (i = 0; i < G_N_ELEMENTS(defaults); i++) {
			char *f = g_build_filename(g_get_home_dir(), ".ssh",
			    defaults[i], NULL);

			if (g_file_test(f, G_FILE_TEST_EXISTS))
				g_ptr_array_add(s->keyfiles, f);
			else
				g_free(f);
		}
	s->agent_done = s->identity || !g_getenv("SSH_AUTH_SOCK");
	s->state = S_AUTH;
	return NEXT;
}

/* The agent's identities, one at a time.  TRUE when logged in. */
static gboolean
auth_agent(struct link_ssh *s, int *rc)
{
	char *msg = NULL;

	if (!s->agent) {
		/* Local socket: these two calls are quick even though
		 * libssh2 makes them blocking. */
		if (!(s->agent = libssh2_agent_init(s->ssh)) ||
		    libssh2_agent_connect(s->agent) ||
		    libssh2_agent_list_identities(s->agent)) {
			libssh2_session_last_error(s->ssh, &msg, NULL, 0);
			g_string_append_printf(s->tried, "ssh-agent (%s); ",
			    msg);
			s->agent_done = TRUE;
			return FALSE;
		}
	}
	for (;;) {
		if (!s->agent_id) {
			if (libssh2_agent_get_identity(s->agent, &s->agent_id,
			    s->agent_prev)) {
				s->agent_done = TRUE;	/* end, or error */
				return FALSE;
			}
		}
		*rc = libssh2_agent_userauth(s->agent, s->user, s->agent_id);
		if (*rc == 0)
			return TRUE;
		if (*rc == LIBSSH2_ERROR_EAGAIN || broken(*rc))
			return FALSE;
		g_string_append_printf(s->tried, "agent key \"%s\"; ",
		    s->agent_id->comment ? s->agent_id->comment : "");
		s->agent_prev = s->agent_id;
		s->agent_id = NULL;
	}
}

static int
do_auth(struct link_ssh *s)
{
	char *msg = NULL;
	int rc = 0;

	if (!s->agent_done && auth_agent(s, &rc))
		goto ok;
	while (!(rc == LIBSSH2_ERROR_EAGAIN || broken(rc)) &&
	    s->keyfile_next < s->keyfiles->len) {
		const char *key = s->keyfiles->pdata[s->keyfile_next];
		g_autofree char *pub = g_strconcat(key, ".pub", NULL);

		/* Without a .pub, libssh2 derives the public key. */
		rc = libssh2_userauth_publickey_fromfile_ex(s->ssh, s->user,
		    strlen(s->user), g_file_test(pub, G_FILE_TEST_EXISTS) ?
		    pub : NULL, key, NULL);
		if (rc == 0)
			goto ok;
		if (rc == LIBSSH2_ERROR_EAGAIN || broken(rc))
			break;
		libssh2_session_last_error(s->ssh, &msg, NULL, 0);
		g_string_append_printf(s->tried, "%s (%s); ", key,
		    rc == LIBSSH2_ERROR_FILE ? msg : "refused");
		s->keyfile_next++;
	}
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return WAIT;
	if (s->tried->len)
		g_string_truncate(s->tried, s->tried->len - 2);
	if (broken(rc)) {
		libssh2_session_last_error(s->ssh, &msg, NULL, 0);
		fail(s, G_IO_ERROR_CONNECTION_CLOSED, "%s: the connection "
		    "broke while authenticating as %s (%s); tried: %s",
		    s->where, s->user, msg, s->tried->len ? s->tried->str :
		    "nothing yet");
		return WAIT;
	}
	fail(s, G_IO_ERROR_PERMISSION_DENIED, "%s: no key was accepted for "
	    "%s; tried: %s", s->where, s->user, s->tried->len ?
	    s->tried->str : "nothing (no agent, no ~/.ssh/id_* key, no "
	    "identity given)");
	return WAIT;
ok:
	s->state = S_OPEN;
	return NEXT;
}

static int
do_open(struct link_ssh *s)
{
	int rc;

	if (!(s->chan = libssh2_channel_open_session(s->ssh))) {
		rc = libssh2_session_last_errno(s->ssh);
		if (rc != LIBSSH2_ERROR_EAGAIN)
			fail_ssh(s, rc, "opening a session channel");
		return WAIT;
	}
	s->state = S_EXEC;
	return NEXT;
}

static gboolean keepalive_tick(gpointer);

static int
do_exec(struct link_ssh *s)
{
	int rc;

	if ((rc = libssh2_channel_exec(s->chan, s->command)) ==
	    LIBSSH2_ERROR_EAGAIN)
		return WAIT;
	if (rc) {
		fail_ssh(s, rc, "asking the server to run the node command");
		return WAIT;
	}
	s->state = S_UP;
	g_clear_handle_id(&s->deadline, g_source_remove);
	/* libssh2 sends a keepalive only if its own interval (at least
	 * 2 s, counted in whole seconds) has passed: keep it below ours,
	 * so every tick sends one. */
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

/* Room in the socket for a small packet?  For libssh2 calls that build
 * their packet on the stack and could not finish a half-sent one. */
static gboolean
sock_writable(struct link_ssh *s)
{
	struct pollfd p = { .fd = s->fd, .events = POLLOUT };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) &&
	    !(libssh2_session_block_directions(s->ssh) &
	    LIBSSH2_SESSION_BLOCK_OUTBOUND);
}

static void
pump_out(struct link_ssh *s)
{
	struct link *l = &s->base;
	ssize_t n;
	int rc;

	while (link_pending(l) > 0) {
		n = libssh2_channel_write(s->chan,
		    (const char *)l->out->data + l->out_off, link_pending(l));
		if (n == LIBSSH2_ERROR_EAGAIN || n == 0)
			return;		/* socket full, or no window */
		if (n < 0) {
			fail_ssh(s, n, "sending to the node");
			return;
		}
		link_consumed(l, n);	/* may call back, even free us */
		if (gone(s))
			return;
	}
	if (!s->want_eof || s->eof_sent)
		return;
	if (!(s->want_out = !sock_writable(s))) {
		if ((rc = libssh2_channel_send_eof(s->chan)) == 0)
			s->eof_sent = TRUE;
		else if (rc != LIBSSH2_ERROR_EAGAIN)
			fail_ssh(s, rc, "closing the node's input");
	}
}

/* One whole stderr line: pass it on, and keep it for the exit message. */
static void
stderr_line(struct link_ssh *s)
{
	char *line;

	if (s->errline->len && s->errline->str[s->errline->len - 1] == '\r')
		g_string_truncate(s->errline, s->errline->len - 1);
	line = g_strdup(s->errline->str);
	g_string_truncate(s->errline, 0);
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
		p += k;
		n -= k;
		if (nl) {
			p++;
			n--;
		}
		if (nl || s->errline->len >= 4096)	/* no endless lines */
			stderr_line(s);
	}
}

static void
pump_in(struct link_ssh *s)
{
	gsize total = 0;
	ssize_t n;
	int ext;

	for (ext = 0; ext <= 1; ext++)
		for (;;) {
			if (total >= READ_BUDGET) {
				/* Let the rest of the program run. */
				g_source_set_ready_time(s->io, 0);
				return;
			}
			n = libssh2_channel_read_ex(s->chan, ext ?
			    SSH_EXTENDED_DATA_STDERR : 0, (char *)s->buf,
			    sizeof(s->buf));
			if (n == LIBSSH2_ERROR_EAGAIN || n == 0)
				break;
			if (n < 0) {
				fail_ssh(s, n, "receiving from the node");
				return;
			}
			total += n;
			if (ext)
				stderr_bytes(s, (const char *)s->buf, n);
			else if (s->base.cb.data)
				s->base.cb.data(s->base.user, s->buf, n);
			if (gone(s))
				return;
		}
	/* EOF counts once every byte of both streams has been read. */
	if (libssh2_channel_eof(s->chan)) {
		if (s->errline->len)
			stderr_line(s);
		if (gone(s))
			return;
		s->state = S_CLOSING;
	}
}

static gboolean deadline_passed(gpointer);

static int
do_pump(struct link_ssh *s)
{
	/* Both, always: either may own libssh2's half-sent packet. */
	pump_out(s);
	if (!gone(s))
		pump_in(s);
	if (s->state != S_CLOSING || gone(s))
		return WAIT;
	s->deadline = g_timeout_add_seconds(CLOSE_GRACE, deadline_passed, s);
	return NEXT;
}

/* The node's output ended: wait for the channel to close, then say how
 * the command ended. */
static int
do_closing(struct link_ssh *s)
{
	g_autoptr(GString) m = g_string_new(NULL);
	char *sig = NULL;
	const char *sep = "; its last words: ";
	int rc, status;
	guint i;

	if ((rc = libssh2_channel_wait_closed(s->chan)) ==
	    LIBSSH2_ERROR_EAGAIN)
		return WAIT;
	status = libssh2_channel_get_exit_status(s->chan);
	libssh2_channel_get_exit_signal(s->chan, &sig, NULL, NULL, NULL,
	    NULL, NULL);
	g_string_printf(m, "%s: node command ", s->where);
	if (sig)
		g_string_append_printf(m, "was killed by signal SIG%s", sig);
	else
		g_string_append_printf(m, "exited with status %d%s", status,
		    status == 127 ? " (command not found?)" :
		    status == 126 ? " (not executable?)" : "");
	if (sig || status) {
		for (i = 0; i < G_N_ELEMENTS(s->tail); i++) {
			const char *t = s->tail[(s->tail_next + i) %
			    G_N_ELEMENTS(s->tail)];

			if (t) {
				g_string_append_printf(m, "%s\"%s\"", sep, t);
				sep = " / ";
			}
		}
	}
	if (rc)
		g_string_append(m, " (the connection ended before the "
		    "channel closed)");
	if (sig)
		libssh2_free(s->ssh, sig);
	fail(s, sig || status || rc ? G_IO_ERROR_FAILED :
	    G_IO_ERROR_CLOSED, "%s", m->str);
	return WAIT;
}

/*
 * Driving it.
 */

/* Watch the socket in the directions libssh2 waits for.  Once up, wait
 * for input too, the peer's data being unannounced; but not while a
 * packet is half sent, or a readable socket the pump cannot drain until
 * that packet is out would spin. */
static void
set_poll(struct link_ssh *s)
{
	int dir = libssh2_session_block_directions(s->ssh);
	GIOCondition c = 0;

	if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
		c |= G_IO_IN;
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		c |= G_IO_OUT;
	if (s->state >= S_UP && !(dir & LIBSSH2_SESSION_BLOCK_OUTBOUND))
		c |= G_IO_IN;
	if (s->state == S_UP && s->want_out)
		c |= G_IO_OUT;
	g_source_modify_unix_fd(s->io, s->io_tag, c ? c : G_IO_IN);
}

static void
run(struct link_ssh *s)
{
	int r;

	enter(s);
	do {
		switch (s->state) {
		case S_HANDSHAKE:	r = do_handshake(s); break;
		case S_AUTHLIST:	r = do_authlist(s); break;
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
connected(GObject *client, GAsyncResult *res, gpointer data)
{
	struct link_ssh *s = data;
	g_autoptr(GError) e = NULL;
	GSocketConnection *c;
	GSocket *sock;

	c = g_socket_client_connect_finish(G_SOCKET_CLIENT(client), res, &e);
	if (!c && g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;		/* torn down; s may be freed */
	enter(s);
	if (!c) {
		fail(s, e->domain == G_IO_ERROR ? e->code : G_IO_ERROR_FAILED,
		    "%s: cannot connect: %s", s->where, e->message);
		goto out;
	}
	s->conn = c;
	sock = g_socket_connection_get_socket(c);
	s->fd = g_socket_get_fd(sock);
	/* Small request frames must not wait for Nagle. */
	g_socket_set_option(sock, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
	g_socket_set_keepalive(sock, TRUE);
	s->io = g_source_new(&io_funcs, sizeof(struct io_source));
	((struct io_source *)s->io)->s = s;
	g_source_set_name(s->io, "link_ssh");
	s->io_tag = g_source_add_unix_fd(s->io, s->fd, G_IO_IN);
	g_source_attach(s->io, NULL);
	s->state = S_HANDSHAKE;
	run(s);
out:
	leave(s);
}

static gboolean
deadline_passed(gpointer data)
{
	struct link_ssh *s = data;

	s->deadline = 0;
	enter(s);
	if (s->early) {
		go_down(s, g_steal_pointer(&s->early));
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

	/* Three missed answers; libssh2 sends at most every 2 s. */
	enter(s);
	if (quiet > (gint64)3 * MAX(s->keepalive, 2) * G_USEC_PER_SEC) {
		fail(s, G_IO_ERROR_TIMED_OUT, "%s: no answer from %s for %d s",
		    s->where, s->host, (int)(quiet / G_USEC_PER_SEC));
	} else if (s->state == S_UP && sock_writable(s)) {
		rc = libssh2_keepalive_send(s->ssh, &next);
		if (rc && rc != LIBSSH2_ERROR_EAGAIN)
			fail_ssh(s, rc, "sending a keepalive");
	}
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
	struct link_ssh *s = (struct link_ssh *)l;

	s->want_eof = TRUE;
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
	g_autoptr(GSocketClient) client = NULL;
	g_autoptr(GSocketConnectable) addr = NULL;

	link_init(&s->base, &ssh_class, cb, user);
	s->host = g_strdup(opt->host ? opt->host : "");
	s->port = opt->port > 0 ? opt->port : 22;
	s->user = g_strdup(opt->user ? opt->user : g_get_user_name());
	s->identity = g_strdup(opt->identity);
	s->known_hosts = opt->known_hosts ? g_strdup(opt->known_hosts) :
	    g_build_filename(g_get_home_dir(), ".ssh", "known_hosts", NULL);
	s->command = g_strdup(opt->command);
	s->connect_timeout = opt->connect_timeout ? opt->connect_timeout : 15;
	s->keepalive = opt->keepalive_interval ? opt->keepalive_interval : 15;
	s->fd = -1;
	/* ssh's own forms: "[::1]:2222", known_hosts "[h]:p" unless 22. */
	s->where = g_strdup_printf(strchr(s->host, ':') ? "[%s]:%d" : "%s:%d",
	    s->host, s->port);
	s->khname = s->port == 22 ? g_strdup(s->host) :
	    g_strdup_printf("[%s]:%d", s->host, s->port);
	s->revoked = g_ptr_array_new_with_free_func(g_free);
	s->keyfiles = g_ptr_array_new_with_free_func(g_free);
	s->tried = g_string_new(NULL);
	s->errline = g_string_new(NULL);

	/* Errors now are reported from the main loop, as link.h promises
	 * callbacks only from there. */
	if (!*s->host || !s->command || !*s->command)
		s->early = g_error_new(G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		    "%s: no host or no node command given", s->where);
	else
		session_new(s, &s->early);
	if (s->early) {
		s->deadline = g_idle_add(deadline_passed, s);
		return &s->base;
	}

	s->state = S_CONNECT;
	s->cancel = g_cancellable_new();
	client = g_socket_client_new();
	g_socket_client_set_enable_proxy(client, FALSE);
	addr = g_network_address_new(s->host, s->port);
	g_socket_client_connect_async(client, addr, s->cancel, connected, s);
	s->deadline = g_timeout_add(s->connect_timeout * 1000,
	    deadline_passed, s);
	return &s->base;
}
