/*
 * ssh_methods.c - which algorithms an SSH session may negotiate.
 */
#include <string.h>

#include <gio/gio.h>

#include "ssh_methods.h"

/* libssh2 1.10 still offers weak algorithms: ask for these only, in this
 * order, leaving out what this libssh2 lacks (1.10: GCM, etm MACs). */
#define WANT_KEX "curve25519-sha256,curve25519-sha256@libssh.org," \
	"ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521," \
	"diffie-hellman-group16-sha512,diffie-hellman-group14-sha256"
#define WANT_CIPHER "aes256-gcm@openssh.com,aes128-gcm@openssh.com," \
	"aes128-ctr,aes192-ctr,aes256-ctr"
#define WANT_MAC "hmac-sha2-256-etm@openssh.com," \
	"hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512"

/* Ask for the wanted methods this libssh2 has, in our order. */
static gboolean
pin(LIBSSH2_SESSION *ssh, int method, const char *want, const char *where,
    GError **error)
{
	g_auto(GStrv) w = g_strsplit(want, ",", -1);
	g_autoptr(GString) list = g_string_new(NULL);
	const char **algs = NULL;
	int i, j, n;

	n = libssh2_session_supported_algs(ssh, method, &algs);
	for (i = 0; w[i]; i++)
		for (j = 0; j < n; j++)
			if (strcmp(w[i], algs[j]) == 0)
				g_string_append_printf(list, "%s%s",
				    list->len ? "," : "", w[i]);
	if (n > 0)
		libssh2_free(ssh, algs);
	if (!list->len ||
	    libssh2_session_method_pref(ssh, method, list->str)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
		    "%s: this libssh2 has none of %s", where, want);
		return FALSE;
	}
	g_debug("%s: methods %d: %s", where, method, list->str);
	return TRUE;
}

gboolean
ssh_methods_pin(LIBSSH2_SESSION *ssh, const char *hostkeys,
		const char *where, GError **error)
{
	return pin(ssh, LIBSSH2_METHOD_KEX, WANT_KEX, where, error) &&
	    pin(ssh, LIBSSH2_METHOD_HOSTKEY, hostkeys, where, error) &&
	    pin(ssh, LIBSSH2_METHOD_CRYPT_CS, WANT_CIPHER, where, error) &&
	    pin(ssh, LIBSSH2_METHOD_CRYPT_SC, WANT_CIPHER, where, error) &&
	    pin(ssh, LIBSSH2_METHOD_MAC_CS, WANT_MAC, where, error) &&
	    pin(ssh, LIBSSH2_METHOD_MAC_SC, WANT_MAC, where, error);
}
