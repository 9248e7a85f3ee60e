/*
 * callback.c - the connect-back handshake's codec (callback.h).
 */
#include "callback.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

char *
callback_nonce(void)
{
	guint8 b[CALLBACK_NONCE_HEX / 2];
	gsize got = 0;
	GString *s;
	guint i;

	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		got += n;
	}
	s = g_string_sized_new(CALLBACK_NONCE_HEX + 1);
	for (i = 0; i < sizeof(b); i++)
		g_string_append_printf(s, "%02x", b[i]);
	explicit_bzero(b, sizeof(b));
	return g_string_free(s, FALSE);
}

char *
callback_proof(const char *secret, const char *role, const char *token,
	       const char *nonce_m, const char *nonce_n)
{
	g_autoptr(GHmac) mac = g_hmac_new(G_CHECKSUM_SHA256,
					  (const guchar *)secret,
					  strlen(secret));
	const char *parts[] = { role, token, nonce_m, nonce_n };
	guint i;

	for (i = 0; i < G_N_ELEMENTS(parts); i++) {
		g_hmac_update(mac, (const guchar *)parts[i], strlen(parts[i]));
		g_hmac_update(mac, (const guchar *)"\n", 1);
	}
	return g_strdup(g_hmac_get_string(mac));
}

gboolean
callback_equal(const char *a, const char *b)
{
	gsize la = strlen(a), lb = strlen(b), i;
	guint8 d = la != lb;

	for (i = 0; i < MIN(la, lb); i++)
		d |= (guint8)(a[i] ^ b[i]);
	return d == 0;
}

gboolean
callback_token_ok(const char *token)
{
	gsize n = strlen(token);

	return n > 0 && n <= CALLBACK_TOKEN_MAX &&
	       strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
			     "wxyz0123456789._-") == n;
}

gboolean
callback_nonce_ok(const char *nonce)
{
	return strlen(nonce) == CALLBACK_NONCE_HEX &&
	       strspn(nonce, "0123456789abcdef") == CALLBACK_NONCE_HEX;
}
