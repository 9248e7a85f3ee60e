/*
 * ssh_knownhosts.h - the host keys the user trusts, from an OpenSSH
 * known_hosts file, and the check of a server's key against them.
 *
 * One is made per session, for the one host:port that session goes to.
 */
#pragma once

#include <glib.h>
#include <libssh2.h>

struct ssh_knownhosts;

/* Read file for host:port into ssh's known host collection.  A missing
 * or unreadable file trusts no host (the check then says "unknown").
 * NULL only if libssh2 cannot make the collection. */
struct ssh_knownhosts *ssh_knownhosts_load(LIBSSH2_SESSION *ssh,
					   const char *file,
					   const char *host, int port);
/* The host key types to ask the server for, comma-separated: those the
 * file holds for this host:port first, as ssh does.  g_free() it. */
char *ssh_knownhosts_key_types(const struct ssh_knownhosts *kh);
/* After the key exchange: does the file vouch for the server's host key
 * (held for this host:port and not @revoked)?  If so, TRUE and *peer is
 * "where (type SHA256:...)" for logs; else error says why, naming the
 * key's type and fingerprint.  where is "host:port" as ssh writes it. */
gboolean ssh_knownhosts_check(const struct ssh_knownhosts *kh,
			      const char *where, char **peer,
			      GError **error);
/* Before the session it was loaded with is freed. */
void ssh_knownhosts_free(struct ssh_knownhosts *kh);
