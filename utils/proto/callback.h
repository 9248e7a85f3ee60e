/*
 * callback.h - the connect-back handshake (tricklefs -o slurm): a
 * trickle-node started by Slurm connects to a TCP port the mount listens
 * on, and each side proves it knows the mount's secret without sending
 * it, by an HMAC-SHA256 over both sides' fresh nonces.
 *
 *   mount -> node   "TRICKLE-CALLBACK 1 NONCE_M\n"
 *   node  -> mount  "TOKEN NONCE_N PROOF_N\n"
 *   mount -> node   "PROOF_M\n"          (only if PROOF_N was right)
 *
 * then the stream carries the node protocol (wire.h).  NONCEs are 32
 * random bytes in hex; TOKEN names which node (it is no secret: [A-Za-z0-9._-],
 * at most CALLBACK_TOKEN_MAX); PROOF_N = HMAC(secret, "node" TOKEN NONCE_M
 * NONCE_N), PROOF_M = HMAC(secret, "mount" TOKEN NONCE_M NONCE_N), each
 * field ended by a newline inside the MAC.  The secret travels only in
 * the environment of the process that starts the node
 * (CALLBACK_SECRET_ENV), never on a command line.  Codec only: no I/O.
 */
#pragma once

#include <glib.h>

#define CALLBACK_GREETING "TRICKLE-CALLBACK 1 "
#define CALLBACK_SECRET_ENV "TRICKLE_SECRET"
#define CALLBACK_NONCE_HEX 64
#define CALLBACK_TOKEN_MAX 64
/* The longest line either side sends, newline included. */
#define CALLBACK_LINE_MAX 256

/* 32 bytes from the kernel's random source, in hex; NULL if it fails. */
char *callback_nonce(void);
/* A new per-mount secret (the same form). */
static inline char *callback_secret_new(void) { return callback_nonce(); }
/* role: "node" or "mount".  Hex HMAC-SHA256. */
char *callback_proof(const char *secret, const char *role, const char *token,
		     const char *nonce_m, const char *nonce_n);
/* Equal strings, in a time that does not depend on where they differ. */
gboolean callback_equal(const char *a, const char *b);
/* A token as the format allows it. */
gboolean callback_token_ok(const char *token);
/* A nonce as the format allows it: CALLBACK_NONCE_HEX hex digits. */
gboolean callback_nonce_ok(const char *nonce);
