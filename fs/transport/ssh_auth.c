/*
 * ssh_auth.c - public key user authentication, one resumable step at a
 * time: first the agent's identities in turn, then the key files.
 */
#include <string.h>

#include <gio/gio.h>

#include "ssh_auth.h"
#include "ssh_error.h"
#include "ssh_passphrase.h"

struct ssh_auth {
	LIBSSH2_SESSION	*ssh;
	char		*user;
	LIBSSH2_AGENT	*agent;
	gboolean	 agent_done;	/* tried them all, or none to try */
	struct libssh2_agent_publickey *agent_id;	/* being tried */
	struct libssh2_agent_publickey *agent_prev;	/* refused last */
	GPtrArray	*keyfiles;	/* private keys to try, in order */
	GArray		*locked;	/* gboolean: is keyfiles[i] encrypted */
	guint		 keyfile_next;
	GString		*tried;		/* for "no key was accepted" */
};

struct ssh_auth *
ssh_auth_new(LIBSSH2_SESSION *ssh, const char *user, const char *identity,
	     char **files, gboolean no_agent)
{
	static const char *const defaults[] = {
		"id_ed25519", "id_ecdsa", "id_rsa",
	};
	struct ssh_auth *a = g_new0(struct ssh_auth, 1);
	const char *sock = g_getenv("SSH_AUTH_SOCK");
	char *f;
	guint i;

	a->ssh = ssh;
	a->user = g_strdup(user);
	a->keyfiles = g_ptr_array_new_with_free_func(g_free);
	a->tried = g_string_new(NULL);
	/* As ssh does: the identity given, else the agent and then the
	 * config's IdentityFiles, or those of ssh's default key files that
	 * exist. */
	if (identity)
		g_ptr_array_add(a->keyfiles, g_strdup(identity));
	for (; !identity && files && *files; files++)	/* as ssh: those */
		if (g_file_test(*files, G_FILE_TEST_EXISTS))	/* that exist */
			g_ptr_array_add(a->keyfiles, g_strdup(*files));
		else
			g_debug("IdentityFile %s: no such file", *files);
	for (i = 0; !a->keyfiles->len && i < G_N_ELEMENTS(defaults); i++) {
		f = g_build_filename(g_get_home_dir(), ".ssh", defaults[i],
		    NULL);
		if (g_file_test(f, G_FILE_TEST_EXISTS))
			g_ptr_array_add(a->keyfiles, f);
		else
			g_free(f);
	}
	a->agent_done = identity || no_agent || !sock || !*sock;
	a->locked = g_array_new(FALSE, TRUE, sizeof(gboolean));
	for (i = 0; i < a->keyfiles->len; i++) {
		gboolean l = ssh_key_encrypted(a->keyfiles->pdata[i]);

		g_array_append_val(a->locked, l);
	}
	return a;
}

/* The agent's identities in turn; FALSE with *rc == 0 once all failed. */
static gboolean
try_agent(struct ssh_auth *a, int *rc)
{
	char *msg = NULL;

	/* A local socket, so blocking (as libssh2 does it) is brief. */
	if (!a->agent && (!(a->agent = libssh2_agent_init(a->ssh)) ||
	    libssh2_agent_connect(a->agent) ||
	    libssh2_agent_list_identities(a->agent))) {
		libssh2_session_last_error(a->ssh, &msg, NULL, 0);
		g_string_append_printf(a->tried, "ssh-agent (%s); ", msg);
		a->agent_done = TRUE;
		return FALSE;
	}
	for (;;) {
		if (!a->agent_id && libssh2_agent_get_identity(a->agent,
		    &a->agent_id, a->agent_prev)) {
			a->agent_done = TRUE;	/* the end, or an error */
			return FALSE;
		}
		*rc = libssh2_agent_userauth(a->agent, a->user, a->agent_id);
		if (*rc == 0 || *rc == LIBSSH2_ERROR_EAGAIN || ssh_broken(*rc))
			return *rc == 0;
		g_string_append_printf(a->tried, "agent key \"%s\"; ",
		    a->agent_id->comment ? a->agent_id->comment : "");
		a->agent_prev = a->agent_id;
		a->agent_id = NULL;
		*rc = 0;
	}
}

enum ssh_auth_status
ssh_auth_step(struct ssh_auth *a, const char *where, GError **error)
{
	char *msg = NULL;
	const char *key;
	int rc = 0;

	if (!a->agent_done && try_agent(a, &rc))
		return SSH_AUTH_DONE;
	for (; !rc && a->keyfile_next < a->keyfiles->len; a->keyfile_next++) {
		g_autofree char *pub = NULL;

		g_autoptr(GError) e = NULL;
		gboolean locked = g_array_index(a->locked, gboolean,
		    a->keyfile_next);
		const char *pass = NULL;
		gboolean bad;

		key = a->keyfiles->pdata[a->keyfile_next];
		if (locked && !(pass = ssh_passphrase_get(key, &e))) {
			g_string_append_printf(a->tried, "%s (%s); ", key,
			    e->message);
			continue;
		}
		pub = g_strconcat(key, ".pub", NULL);
		/* Without a .pub file, libssh2 derives the public key. */
		rc = libssh2_userauth_publickey_fromfile_ex(a->ssh, a->user,
		    (unsigned)strlen(a->user),
		    g_file_test(pub, G_FILE_TEST_EXISTS) ? pub : NULL, key,
		    pass);
		if (rc == 0)
			return SSH_AUTH_DONE;
		if (rc == LIBSSH2_ERROR_EAGAIN || ssh_broken(rc))
			break;
		libssh2_session_last_error(a->ssh, &msg, NULL, 0);
		/* The key did not open: with a .pub file the server took the
		 * public key and signing failed (UNVERIFIED), else reading
		 * the private key did (FILE). */
		bad = rc == LIBSSH2_ERROR_FILE ||
		    rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED;
		if (locked && bad)
			ssh_passphrase_forget(key);	/* ask again */
		g_string_append_printf(a->tried, "%s (%s); ", key,
		    locked && bad ? "wrong passphrase" : bad ? msg :
		    "refused");
		rc = 0;
	}
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return SSH_AUTH_AGAIN;

	/* Out of keys, or the connection is gone: say what was tried. */
	if (a->tried->len)
		g_string_truncate(a->tried, a->tried->len - 2);
	else
		g_string_assign(a->tried, "nothing (no agent, no identity, "
		    "no ~/.ssh/id_{ed25519,ecdsa,rsa})");
	if (rc) {
		libssh2_session_last_error(a->ssh, &msg, NULL, 0);
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
		    "%s: connection lost while authenticating as %s (%s); "
		    "tried: %s", where, a->user, msg, a->tried->str);
	} else {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
		    "%s: no key was accepted for %s; tried: %s", where,
		    a->user, a->tried->str);
	}
	return SSH_AUTH_FAILED;
}

void
ssh_auth_free(struct ssh_auth *a)
{
	if (a->agent) {
		libssh2_agent_disconnect(a->agent);
		libssh2_agent_free(a->agent);
	}
	g_ptr_array_unref(a->keyfiles);
	g_array_unref(a->locked);
	g_string_free(a->tried, TRUE);
	g_free(a->user);
	g_free(a);
}
