/*
 * connect.c - trickle-node --connect HOST:PORT --token TOKEN: reach the
 * mount that asked for this node (tricklefs -o slurm started it through
 * srun or sbatch) over TCP, prove we know its secret and have it prove
 * the same (utils/proto/callback.h), then serve the protocol on that
 * connection as on stdin/stdout.  The secret comes in the environment
 * (TRICKLE_SECRET), which is cleared here, so no VM sees it.
 */
#include <gio/gio.h>

#include "callback.h"
#include "node.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Seconds for each read or write of the handshake. */
#define CONNECT_IO_S 30

static int
dial(const char *where, GError **error)
{
	g_autofree char *host = NULL;
	g_autofree char *port = NULL;
	const char *colon = strrchr(where, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, r, err = 0;

	if (!colon || colon == where || !colon[1]) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "--connect %s: not HOST:PORT", where);
		return -1;
	}
	host = where[0] == '[' && colon[-1] == ']'
		? g_strndup(where + 1, colon - where - 2)
		: g_strndup(where, colon - where);
	port = g_strdup(colon + 1);
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
			    "--connect %s: %s", where, gai_strerror(r));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		struct timeval tv = { .tv_sec = CONNECT_IO_S };

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		/* Small frames, each answered: no Nagle (40 ms a call). */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
			   sizeof(int));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err),
			    "cannot connect to %s: %s", where,
			    g_strerror(err));
	return fd;
}

/* One line, without its newline, read a byte at a time so that nothing
 * after it (the protocol) is taken. */
static char *
read_line(int fd, GError **error)
{
	char buf[CALLBACK_LINE_MAX];
	gsize n = 0;

	while (n < sizeof(buf)) {
		ssize_t r = read(fd, buf + n, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
				    "the mount closed the connection%s%s",
				    r < 0 ? ": " : "",
				    r < 0 ? g_strerror(errno) : "");
			return NULL;
		}
		if (buf[n] == '\n')
			return g_strndup(buf, n);
		n++;
	}
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		    "the mount's line is too long");
	return NULL;
}

static gboolean
write_all(int fd, const char *s, GError **error)
{
	gsize len = strlen(s), off = 0;

	while (off < len) {
		ssize_t w = write(fd, s + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
				    "writing to the mount: %s",
				    g_strerror(errno));
			return FALSE;
		}
		off += w;
	}
	return TRUE;
}

int
node_connect_back(const char *where, const char *token, GError **error)
{
	g_autofree char *secret = g_strdup(g_getenv(CALLBACK_SECRET_ENV));
	g_autofree char *hello = NULL, *nonce_n = NULL, *proof_n = NULL;
	g_autofree char *proof_m = NULL, *answer = NULL, *line = NULL;
	struct timeval none = { 0 };
	const char *nonce_m;
	int fd;

	g_unsetenv(CALLBACK_SECRET_ENV);
	if (!secret || !*secret) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "--connect needs the mount's secret in $%s",
			    CALLBACK_SECRET_ENV);
		return -1;
	}
	if (!token || !callback_token_ok(token)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "--connect needs --token [A-Za-z0-9._-]{1,%d}",
			    CALLBACK_TOKEN_MAX);
		return -1;
	}
	if ((fd = dial(where, error)) < 0)
		return -1;
	if (!(hello = read_line(fd, error)))
		goto fail;
	if (!g_str_has_prefix(hello, CALLBACK_GREETING) ||
	    !callback_nonce_ok(hello + strlen(CALLBACK_GREETING))) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "%s does not greet as a tricklefs mount", where);
		goto fail;
	}
	nonce_m = hello + strlen(CALLBACK_GREETING);
	if (!(nonce_n = callback_nonce())) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "no random bytes: %s", g_strerror(errno));
		goto fail;
	}
	proof_n = callback_proof(secret, "node", token, nonce_m, nonce_n);
	line = g_strdup_printf("%s %s %s\n", token, nonce_n, proof_n);
	if (!write_all(fd, line, error) || !(answer = read_line(fd, error))) {
		g_prefix_error(error, "%s refused us (a wrong secret or "
			       "token?): ", where);
		goto fail;
	}
	proof_m = callback_proof(secret, "mount", token, nonce_m, nonce_n);
	if (!callback_equal(answer, proof_m)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
			    "%s does not know the mount's secret", where);
		goto fail;
	}
	explicit_bzero(secret, strlen(secret));
	/* From here on the protocol: its own liveness, no timeouts. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
	return fd;
fail:
	explicit_bzero(secret, strlen(secret));
	close(fd);
	return -1;
}
