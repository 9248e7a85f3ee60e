/*
 * ssh_error.c - what a failed libssh2 call means for a link.
 */
#include <gio/gio.h>

#include "ssh_error.h"

gboolean
ssh_broken(int rc)
{
	return rc == LIBSSH2_ERROR_SOCKET_DISCONNECT ||
	    rc == LIBSSH2_ERROR_SOCKET_RECV ||
	    rc == LIBSSH2_ERROR_SOCKET_SEND ||
	    rc == LIBSSH2_ERROR_SOCKET_TIMEOUT ||
	    rc == LIBSSH2_ERROR_DECRYPT || rc == LIBSSH2_ERROR_PROTO ||
	    rc == LIBSSH2_ERROR_TIMEOUT;
}

GError *
ssh_error_new(LIBSSH2_SESSION *ssh, int rc, const char *where,
	      const char *what)
{
	char *msg = NULL;

	/* libssh2's own words for its last error; it keeps the string. */
	libssh2_session_last_error(ssh, &msg, NULL, 0);
	return g_error_new(G_IO_ERROR, ssh_broken(rc) ?
	    G_IO_ERROR_CONNECTION_CLOSED : G_IO_ERROR_FAILED,
	    "%s: %s while %s: %s (libssh2 error %d)", where, ssh_broken(rc) ?
	    "connection lost" : "failed", what, msg, rc);
}

GError *
ssh_connect_error(const char *where, int port, const GError *e)
{
	if (e->domain == G_RESOLVER_ERROR)
		return g_error_new(G_IO_ERROR, G_IO_ERROR_HOST_NOT_FOUND,
		    "%s: cannot resolve the host's name: %s (check its "
		    "spelling)", where, e->message);
	if (g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
		return g_error_new(G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED,
		    "%s: connection refused: nothing listens on port %d there "
		    "(is sshd running on it? is the port right?)", where,
		    port);
	return g_error_new(G_IO_ERROR, e->domain == G_IO_ERROR ? e->code :
	    G_IO_ERROR_FAILED, "%s: cannot connect: %s", where, e->message);
}
