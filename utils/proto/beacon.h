/*
 * beacon.h - the datagrams of trickle-node discovery (UDP multicast).
 *
 * A node running `trickle-node --announce` joins a multicast group and
 * answers PROBE datagrams with a HELLO that says how to reach it over SSH;
 * it also multicasts a HELLO when it starts and every few seconds after,
 * and a BYE when it stops.  A beacon is only a hint: a client reaches the
 * node over SSH and checks its host key against known_hosts as always.
 *
 * A datagram is an 8-byte header followed by a body:
 *
 *   4 bytes  magic "TRKB"
 *   u8       protocol version, BEACON_VERSION
 *   u8       kind, enum beacon_kind
 *   u16      reserved, zero
 *   body     a GVariant in normal form, little endian, of the kind's type:
 *
 *   PROBE  (tay)         nonce, padding: zero bytes that make the datagram
 *                        at least BEACON_PROBE_MIN_SIZE long, so that an
 *                        answer is never much larger than the question
 *   HELLO  (tutsqusuas)  instance, sequence, nonce of the probe answered
 *                        (0 when multicast unsolicited), node name, SSH
 *                        port, cores, trickle-node version, seconds between
 *                        unsolicited HELLOs, host key fingerprints
 *   BYE    (tus)         instance, sequence, node name
 *
 * The instance is a random non-zero number a node picks when it starts, so
 * a client can tell a restart; the sequence counts the HELLOs and BYEs of
 * one instance, so it can drop ones that arrive out of order.
 * Fingerprints are OpenSSH's: "SHA256:" and the unpadded base64 of the
 * SHA-256 of the public key blob, one per host key.
 *
 * The decoder trusts nothing: a datagram that is too short or too long,
 * has another magic, version or kind, a body that is not in normal form of
 * its kind's type, or a field out of its bounds (below) is an error, never
 * a crash, and nothing it returns points into the datagram.
 */
#pragma once

#include <glib.h>

/* The defaults: an administratively scoped group (RFC 2365), 84.76 = 'T'
 * 'L', and an unassigned port.  Both can be changed on either side. */
#define BEACON_GROUP "239.255.84.76"
#define BEACON_PORT 7479

#define BEACON_VERSION 1
#define BEACON_HEADER_SIZE 8
/* Well below any Ethernet MTU: a beacon is never fragmented. */
#define BEACON_MAX_SIZE 1200
#define BEACON_PROBE_MIN_SIZE 256

#define BEACON_MAX_NAME 64		/* bytes, [A-Za-z0-9._-], see below */
#define BEACON_MAX_VERSION 32		/* bytes, printable ASCII, no space */
#define BEACON_MAX_FINGERPRINTS 8
#define BEACON_FINGERPRINT_LEN 50	/* "SHA256:" + 43 base64 characters */
#define BEACON_MAX_INTERVAL 86400	/* seconds */

enum beacon_kind {
	BEACON_PROBE = 1,
	BEACON_HELLO,
	BEACON_BYE,
	BEACON_KIND_MAX
};

/*
 * One beacon, decoded or to encode.  Fixed-size fields: decoding
 * allocates nothing and there is nothing to free.  Fields that a kind does
 * not carry are zero after decoding and ignored when encoding.
 */
struct beacon {
	enum beacon_kind kind;
	guint64 instance;		/* HELLO, BYE: non-zero */
	guint32 seq;			/* HELLO, BYE */
	guint64 nonce;			/* PROBE: any; HELLO: 0 or the probe's */
	char name[BEACON_MAX_NAME + 1];	/* HELLO, BYE */
	guint16 ssh_port;		/* HELLO: 1-65535 */
	guint32 cores;			/* HELLO: at least 1 */
	char version[BEACON_MAX_VERSION + 1];	/* HELLO */
	guint32 interval;		/* HELLO: 1-BEACON_MAX_INTERVAL */
	guint n_fingerprints;		/* HELLO: 1-BEACON_MAX_FINGERPRINTS */
	char fingerprints[BEACON_MAX_FINGERPRINTS][BEACON_FINGERPRINT_LEN + 1];
};

#define BEACON_ERROR (beacon_error_quark())
GQuark beacon_error_quark(void);
enum {
	BEACON_ERROR_MALFORMED,		/* not a beacon we accept */
	BEACON_ERROR_VERSION,		/* a beacon of another version */
	BEACON_ERROR_INVALID,		/* encoding: a field out of bounds */
	BEACON_ERROR_KEY,		/* not an OpenSSH public key */
};

const char *beacon_kind_name(guint kind);

/*
 * Encode b into out (which is reset first).  Every field is checked as
 * the decoder checks it: returns FALSE with BEACON_ERROR_INVALID rather
 * than send something a peer would refuse.
 */
gboolean beacon_encode(const struct beacon *b, GByteArray *out,
		       GError **error);

/* Decode one datagram of len bytes.  On failure b is zeroed. */
gboolean beacon_decode(const void *data, gsize len, struct beacon *b,
		       GError **error);

/*
 * A node name: 1 to BEACON_MAX_NAME bytes of letters, digits, '.', '_' and
 * '-', starting with a letter or digit.  Host names are, and such a name
 * is safe as a file name and in a log line.
 */
gboolean beacon_name_valid(const char *s);

/* "SHA256:" and 43 characters that are the base64 of 32 bytes. */
gboolean beacon_fingerprint_valid(const char *s);

/* A random non-zero number, for instance ids and nonces. */
guint64 beacon_random_id(void);

/* The fingerprint of a public key blob (the decoded base64 of a .pub). */
char *beacon_key_fingerprint(const guint8 *blob, gsize len);

/*
 * The fingerprint of the key in an OpenSSH public key line, "TYPE BASE64
 * [COMMENT]" as in a .pub file or after the host field of known_hosts.
 * The base64 must be canonical and the blob must start with TYPE.
 */
char *beacon_pubkey_fingerprint(const char *line, GError **error);
