/*
 * beacon-test.h - what test-beacon.c and test-discover.c both use: two
 * real host keys with their fingerprints, and a valid HELLO to vary.
 */
#pragma once

#include "beacon.h"

#include <string.h>

/* Two real keys and their fingerprints, as ssh-keygen -l prints them. */
#define ED25519_PUB "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAII1HtLRh6IVWmjtpxMp" \
	"qZB73W23KPgBpEdzjYqZoinK4 x"
#define ED25519_FP "SHA256:YakIRZhvBpZ4/lM93M7SPmCMA0p0X6QEBLw7SGmnlBM"
#define ECDSA_PUB "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIb" \
	"mlzdHAyNTYAAABBBKoD5WLdwoMGafsks/IDMKcs32X05eOBo2cwbXrg67LbLBXHIaaKV" \
	"gU6EbX7ZQAJ1HTFfc5WzLP/RpQq0oPS5H4= test key"
#define ECDSA_FP "SHA256:pMg5sGSd2v9jAe8297GsZ+0N21PsRB6eaN0PgCgz2Vc"

static inline void
make_hello(struct beacon *b, const char *name, guint nfp)
{
	guint i;

	memset(b, 0, sizeof(*b));
	b->kind = BEACON_HELLO;
	b->instance = 0x1122334455667788ull;
	b->seq = 7;
	g_strlcpy(b->name, name, sizeof(b->name));
	b->ssh_port = 22;
	b->cores = 8;
	g_strlcpy(b->version, "0.1.0", sizeof(b->version));
	b->interval = 30;
	for (i = 0; i < nfp; i++)
		g_strlcpy(b->fingerprints[i], i % 2 ? ECDSA_FP : ED25519_FP,
			  sizeof(b->fingerprints[i]));
	b->n_fingerprints = nfp;
}
