/*
 * ssh_auth.h - public key user authentication for a non-blocking
 * libssh2 session.
 *
 * A non-blocking libssh2 call answers EAGAIN until it completes and must
 * then be repeated with the same arguments.  So the authentication is a
 * state machine: each step goes on where the last one stopped, and the
 * caller steps again when the socket is ready.
 */
#pragma once

#include <glib.h>
#include <libssh2.h>

struct ssh_auth;

enum ssh_auth_status {
	SSH_AUTH_AGAIN,		/* wait for the socket, then step again */
	SSH_AUTH_DONE,		/* the server accepted a key */
	SSH_AUTH_FAILED,	/* error says why, and what was tried */
};

/* Log in to ssh as user with the private key file identity alone; or, if
 * identity is NULL, with the agent's keys (if SSH_AUTH_SOCK is set and
 * not no_agent), then the key files of files (NULL-terminated; from
 * ssh_config), or if none those of ~/.ssh/id_{ed25519,ecdsa,rsa} that
 * exist.  Encrypted keys are opened with their passphrase
 * (ssh_passphrase.c). */
struct ssh_auth *ssh_auth_new(LIBSSH2_SESSION *ssh, const char *user,
			      const char *identity, char **files,
			      gboolean no_agent);
/* Once the host key is checked.  where ("host:port") is for messages. */
enum ssh_auth_status ssh_auth_step(struct ssh_auth *a, const char *where,
				   GError **error);
/* Before the session is freed: the agent handle lives in it. */
void ssh_auth_free(struct ssh_auth *a);
