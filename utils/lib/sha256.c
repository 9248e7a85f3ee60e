/*
 * sha256.c - SHA-256 through libcrypto's EVP (HAVE_LIBCRYPTO), or
 * through GLib's GChecksum; see sha256.h.
 */
#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#ifdef HAVE_LIBCRYPTO
#include <openssl/evp.h>
#endif

#define SHA256_LEN 32
#define FILE_BUF (1 << 20)

struct sha256 {
#ifdef HAVE_LIBCRYPTO
	EVP_MD_CTX *ctx;
#else
	GChecksum *ctx;
#endif
	char hex[2 * SHA256_LEN + 1];
	gboolean ended;
};

const char *
sha256_impl(void)
{
#ifdef HAVE_LIBCRYPTO
	return "libcrypto";
#else
	return "glib";
#endif
}

struct sha256 *
sha256_new(void)
{
	struct sha256 *s = g_new0(struct sha256, 1);

#ifdef HAVE_LIBCRYPTO
	s->ctx = EVP_MD_CTX_new();
	if (!s->ctx || EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1)
		g_error("libcrypto: cannot start a SHA-256");
#else
	s->ctx = g_checksum_new(G_CHECKSUM_SHA256);
#endif
	return s;
}

void
sha256_update(struct sha256 *s, const void *buf, size_t len)
{
	g_return_if_fail(!s->ended);
#ifdef HAVE_LIBCRYPTO
	if (EVP_DigestUpdate(s->ctx, buf, len) != 1)
		g_error("libcrypto: SHA-256 update failed");
#else
	g_checksum_update(s->ctx, buf, len);
#endif
}

const char *
sha256_hex(struct sha256 *s)
{
#ifdef HAVE_LIBCRYPTO
	static const char digits[] = "0123456789abcdef";
	unsigned char md[SHA256_LEN];
	unsigned int len = 0, i;

	if (s->ended)
		return s->hex;
	if (EVP_DigestFinal_ex(s->ctx, md, &len) != 1 || len != SHA256_LEN)
		g_error("libcrypto: SHA-256 final failed");
	for (i = 0; i < SHA256_LEN; i++) {
		s->hex[2 * i] = digits[md[i] >> 4];
		s->hex[2 * i + 1] = digits[md[i] & 15];
	}
	s->hex[2 * SHA256_LEN] = '\0';
#else
	if (s->ended)
		return s->hex;
	g_strlcpy(s->hex, g_checksum_get_string(s->ctx), sizeof(s->hex));
#endif
	s->ended = TRUE;
	return s->hex;
}

void
sha256_free(struct sha256 *s)
{
	if (!s)
		return;
#ifdef HAVE_LIBCRYPTO
	EVP_MD_CTX_free(s->ctx);
#else
	g_checksum_free(s->ctx);
#endif
	g_free(s);
}

char *
sha256_file(const char *path, GError **error)
{
	g_autofree guint8 *buf = NULL;
	struct sha256 *s;
	char *hex;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		int err = errno;

		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err),
			    "%s: %s", path, g_strerror(err));
		return NULL;
	}
	/* The cache's files are read once, whole. */
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	buf = g_malloc(FILE_BUF);
	s = sha256_new();
	while ((n = read(fd, buf, FILE_BUF)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;

			close(fd);
			sha256_free(s);
			g_set_error(error, G_FILE_ERROR,
				    g_file_error_from_errno(err), "%s: %s",
				    path, g_strerror(err));
			return NULL;
		}
		sha256_update(s, buf, n);
	}
	close(fd);
	hex = g_strdup(sha256_hex(s));
	sha256_free(s);
	return hex;
}
