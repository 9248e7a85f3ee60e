/*
 * sha256.h - the SHA-256 an injected file goes by (at the mount, in the
 * node's cache, in FUNCS), taken as the bytes pass or of a whole file.
 *
 * Through libcrypto when the build found it (OpenSSL's EVP uses the
 * CPU's SHA extensions: ~1.7 GB/s here, where GLib's GChecksum does
 * ~0.35 GB/s and was a third of the CPU of a cp into inject/), else
 * through GChecksum.
 */
#pragma once

#include <glib.h>
#include <stddef.h>

struct sha256;

struct sha256 *sha256_new(void);
/* Add bytes; not after sha256_hex. */
void sha256_update(struct sha256 *s, const void *buf, size_t len);
/* The sum of the bytes given, in lower-case hex: the first call ends the
 * sum, later ones give the same string, which lives as long as s (as
 * g_checksum_get_string). */
const char *sha256_hex(struct sha256 *s);
void sha256_free(struct sha256 *s);

/* "libcrypto" or "glib": the one this build uses. */
const char *sha256_impl(void);

/* The SHA-256 of a file's bytes, in lower-case hex (g_free it); NULL
 * with error set if it cannot be read. */
char *sha256_file(const char *path, GError **error);
