/*
 * beacon.c - encode and decode discovery datagrams (see beacon.h).
 */
#include "beacon.h"

#include <stdarg.h>
#include <string.h>
#include <sys/random.h>

G_DEFINE_QUARK(trickle-beacon-error-quark, beacon_error)

static const guint8 magic[4] = {'T', 'R', 'K', 'B'};

static const struct {
	const char *name;
	const char *body;
} kinds[BEACON_KIND_MAX] = {
	[BEACON_PROBE] = {"PROBE", "(tay)"},
	[BEACON_HELLO] = {"HELLO", "(tutsqusuas)"},
	[BEACON_BYE] = {"BYE", "(tus)"},
};

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

const char *
beacon_kind_name(guint kind)
{
	if (kind >= BEACON_KIND_MAX || !kinds[kind].name)
		return "UNKNOWN";
	return kinds[kind].name;
}

static gboolean
name_char(char c)
{
	return g_ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
}

gboolean
beacon_name_valid(const char *s)
{
	gsize i;

	if (!s || !g_ascii_isalnum(s[0]))
		return FALSE;
	for (i = 0; s[i]; i++)
		if (i >= BEACON_MAX_NAME || !name_char(s[i]))
			return FALSE;
	return TRUE;
}

static gboolean
version_valid(const char *s)
{
	gsize i;

	if (!s || !s[0])
		return FALSE;
	for (i = 0; s[i]; i++)
		if (i >= BEACON_MAX_VERSION || s[i] <= ' ' || s[i] > '~')
			return FALSE;
	return TRUE;
}

gboolean
beacon_fingerprint_valid(const char *s)
{
	const char *p = NULL;
	gsize i;

	if (!s || strncmp(s, "SHA256:", 7) != 0 ||
	    strlen(s) != BEACON_FINGERPRINT_LEN)
		return FALSE;
	s += 7;
	for (i = 0; s[i]; i++)
		if (!(p = strchr(b64chars, s[i])))
			return FALSE;
	/* 43 characters carry 258 bits: the last two must be zero. */
	return p && ((p - b64chars) & 3) == 0;
}

guint64
beacon_random_id(void)
{
	guint64 id = 0;

	/* Not blocking for entropy early at boot: GLib's generator then. */
	while (id == 0) {
		if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != sizeof(id))
			id = (guint64)g_random_int() << 32 | g_random_int();
	}
	return id;
}

char *
beacon_key_fingerprint(const guint8 *blob, gsize len)
{
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	guint8 digest[32];
	gsize dlen = sizeof(digest);
	g_autofree char *b64 = NULL;
	gsize n;

	g_checksum_update(sum, blob, len);
	g_checksum_get_digest(sum, digest, &dlen);
	b64 = g_base64_encode(digest, dlen);
	n = strlen(b64);
	while (n && b64[n - 1] == '=')
		b64[--n] = '\0';
	return g_strconcat("SHA256:", b64, NULL);
}

/* Canonical, padded base64 of at most max characters. */
static gboolean
base64_valid(const char *s, gsize len, gsize max)
{
	gsize i, pad = 0;

	if (len == 0 || len % 4 || len > max)
		return FALSE;
	for (i = 0; i < len; i++) {
		if (s[i] == '=') {
			pad++;
			continue;
		}
		if (pad || !s[i] || !strchr(b64chars, s[i]))
			return FALSE;
	}
	return pad <= 2;
}

char *
beacon_pubkey_fingerprint(const char *line, GError **error)
{
	g_autofree char *type = NULL;
	g_autofree char *text = NULL;
	g_autofree char *again = NULL;
	g_autofree guint8 *blob = NULL;
	const char *p = line, *t, *b;
	gsize tlen, blen, len;
	guint32 l;

	while (*p == ' ' || *p == '\t')
		p++;
	t = p;
	p += strcspn(p, " \t\r\n");
	tlen = p - t;
	while (*p == ' ' || *p == '\t')
		p++;
	b = p;
	p += strcspn(p, " \t\r\n");
	blen = p - b;
	/* An RSA key of 16384 bits is about 2.8 kB of base64. */
	if (tlen == 0 || tlen > 128 || !base64_valid(b, blen, 16384)) {
		g_set_error(error, BEACON_ERROR, BEACON_ERROR_KEY,
			    "not an OpenSSH public key");
		return NULL;
	}
	type = g_strndup(t, tlen);
	text = g_strndup(b, blen);
	blob = g_base64_decode(text, &len);
	again = g_base64_encode(blob, len);
	if (strcmp(again, text) != 0 || len < 4) {
		g_set_error(error, BEACON_ERROR, BEACON_ERROR_KEY,
			    "%s key: bad base64", type);
		return NULL;
	}
	/* The blob starts with its type as an SSH string. */
	memcpy(&l, blob, 4);
	l = GUINT32_FROM_BE(l);
	if (l != tlen || len - 4 < l || memcmp(blob + 4, type, tlen) != 0) {
		g_set_error(error, BEACON_ERROR, BEACON_ERROR_KEY,
			    "%s key: the key data is of another type", type);
		return NULL;
	}
	return beacon_key_fingerprint(blob, len);
}

static gboolean
invalid(GError **error, const char *what)
{
	g_set_error(error, BEACON_ERROR, BEACON_ERROR_INVALID, "%s", what);
	return FALSE;
}

/* The checks that encode and decode share; NULL if b is fine. */
static const char *
check_fields(const struct beacon *b)
{
	guint i;

	switch (b->kind) {
	case BEACON_PROBE:
		return NULL;
	case BEACON_HELLO:
		if (b->ssh_port == 0)
			return "SSH port 0";
		if (b->cores == 0)
			return "0 cores";
		if (!version_valid(b->version))
			return "bad version string";
		if (b->interval == 0 || b->interval > BEACON_MAX_INTERVAL)
			return "interval out of range";
		if (b->n_fingerprints == 0 ||
		    b->n_fingerprints > BEACON_MAX_FINGERPRINTS)
			return "number of fingerprints out of range";
		for (i = 0; i < b->n_fingerprints; i++)
			if (!beacon_fingerprint_valid(b->fingerprints[i]))
				return "bad fingerprint";
		/* FALLTHROUGH */
	case BEACON_BYE:
		if (b->instance == 0)
			return "instance 0";
		if (!beacon_name_valid(b->name))
			return "bad node name";
		return NULL;
	default:
		return "unknown kind";
	}
}

gboolean
beacon_encode(const struct beacon *b, GByteArray *out, GError **error)
{
	guint8 header[BEACON_HEADER_SIZE] = {0};
	g_autoptr(GVariant) v = NULL;
	g_autofree guint8 *pad = NULL;
	const char *why;
	gsize len, npad;
	guint i;

	g_byte_array_set_size(out, 0);
	if ((why = check_fields(b)))
		return invalid(error, why);
	switch (b->kind) {
	case BEACON_PROBE:
		/* (t ay): 8 bytes and the padding, no framing offsets. */
		npad = BEACON_PROBE_MIN_SIZE - BEACON_HEADER_SIZE - 8;
		pad = g_malloc0(npad);
		v = g_variant_new("(t@ay)", b->nonce,
				  g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE,
							    pad, npad, 1));
		break;
	case BEACON_HELLO: {
		const char *fps[BEACON_MAX_FINGERPRINTS + 1];

		for (i = 0; i < b->n_fingerprints; i++)
			fps[i] = b->fingerprints[i];
		fps[i] = NULL;
		v = g_variant_new("(tutsqusu^as)", b->instance, b->seq,
				  b->nonce, b->name, b->ssh_port, b->cores,
				  b->version, b->interval, fps);
		break;
	}
	default:
		v = g_variant_new("(tus)", b->instance, b->seq, b->name);
		break;
	}
	g_variant_ref_sink(v);
#if G_BYTE_ORDER == G_BIG_ENDIAN
	{
		GVariant *s = g_variant_byteswap(v);

		g_variant_unref(v);
		v = s;
	}
#endif
	len = g_variant_get_size(v);
	if (BEACON_HEADER_SIZE + len > BEACON_MAX_SIZE)
		return invalid(error, "beacon too large");
	memcpy(header, magic, sizeof(magic));
	header[4] = BEACON_VERSION;
	header[5] = (guint8)b->kind;
	g_byte_array_append(out, header, sizeof(header));
	g_byte_array_append(out, g_variant_get_data(v), len);
	return TRUE;
}

static gboolean
malformed(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean
malformed(GError **error, const char *fmt, ...)
{
	va_list ap;

	if (!error || *error)
		return FALSE;
	va_start(ap, fmt);
	*error = g_error_new_valist(BEACON_ERROR, BEACON_ERROR_MALFORMED, fmt,
				    ap);
	va_end(ap);
	return FALSE;
}

/* Copy a string field of at most max bytes into dst (max + 1 bytes). */
static gboolean
take_string(char *dst, const char *src, gsize max)
{
	gsize n = strlen(src);

	if (n > max)
		return FALSE;
	memcpy(dst, src, n + 1);
	return TRUE;
}

static gboolean
take_body(struct beacon *b, GVariant *v, GError **error)
{
	const char *name, *version;
	g_autoptr(GVariant) fps = NULL;
	g_autoptr(GVariant) pad = NULL;
	const guint8 *p;
	gsize i, n;

	switch (b->kind) {
	case BEACON_PROBE:
		g_variant_get(v, "(t@ay)", &b->nonce, &pad);
		p = g_variant_get_fixed_array(pad, &n, 1);
		for (i = 0; i < n; i++)
			if (p[i])
				return malformed(error, "PROBE padding not "
						 "zero");
		return TRUE;
	case BEACON_HELLO:
		g_variant_get(v, "(tut&squ&su@as)", &b->instance, &b->seq,
			      &b->nonce, &name, &b->ssh_port, &b->cores,
			      &version, &b->interval, &fps);
		if (!take_string(b->name, name, BEACON_MAX_NAME) ||
		    !take_string(b->version, version, BEACON_MAX_VERSION))
			return malformed(error, "HELLO string too long");
		n = g_variant_n_children(fps);
		if (n > BEACON_MAX_FINGERPRINTS)
			return malformed(error, "HELLO with %zu fingerprints",
					 n);
		for (i = 0; i < n; i++) {
			g_autoptr(GVariant) s = g_variant_get_child_value(fps,
									  i);

			if (!take_string(b->fingerprints[i],
					 g_variant_get_string(s, NULL),
					 BEACON_FINGERPRINT_LEN))
				return malformed(error, "HELLO fingerprint "
						 "too long");
		}
		b->n_fingerprints = n;
		return TRUE;
	default:
		g_variant_get(v, "(tu&s)", &b->instance, &b->seq, &name);
		if (!take_string(b->name, name, BEACON_MAX_NAME))
			return malformed(error, "BYE name too long");
		return TRUE;
	}
}

gboolean
beacon_decode(const void *data, gsize len, struct beacon *b,
	      GError **error)
{
	const guint8 *d = data;
	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(GVariant) v = NULL;
	const char *why;
	guint kind;

	memset(b, 0, sizeof(*b));
	if (len < BEACON_HEADER_SIZE)
		return malformed(error, "datagram of %zu bytes", len);
	if (len > BEACON_MAX_SIZE)
		return malformed(error, "datagram of %zu bytes exceeds the "
				 "limit of %d", len, BEACON_MAX_SIZE);
	if (memcmp(d, magic, sizeof(magic)) != 0)
		return malformed(error, "not a trickle beacon");
	if (d[4] != BEACON_VERSION) {
		g_set_error(error, BEACON_ERROR, BEACON_ERROR_VERSION,
			    "beacon of protocol version %u, not %d", d[4],
			    BEACON_VERSION);
		return FALSE;
	}
	kind = d[5];
	if (kind == 0 || kind >= BEACON_KIND_MAX)
		return malformed(error, "beacon of unknown kind %u", kind);
	if (d[6] || d[7])
		return malformed(error, "%s with reserved bits set",
				 beacon_kind_name(kind));
	if (kind == BEACON_PROBE && len < BEACON_PROBE_MIN_SIZE)
		return malformed(error, "PROBE of %zu bytes, less than %d",
				 len, BEACON_PROBE_MIN_SIZE);

	/*
	 * GVariant reads any bytes safely, but yields default values for
	 * data that does not fit the type; normal form is what our encoder
	 * writes, and anything else is refused.  The bytes are copied (into
	 * memory aligned for the type).
	 */
	bytes = g_bytes_new(d + BEACON_HEADER_SIZE, len - BEACON_HEADER_SIZE);
	v = g_variant_ref_sink(g_variant_new_from_bytes(
		G_VARIANT_TYPE(kinds[kind].body), bytes, FALSE));
	if (!g_variant_is_normal_form(v))
		return malformed(error, "malformed %s body (%zu bytes)",
				 beacon_kind_name(kind),
				 len - BEACON_HEADER_SIZE);
#if G_BYTE_ORDER == G_BIG_ENDIAN
	{
		GVariant *s = g_variant_byteswap(v);

		g_variant_unref(v);
		v = s;
	}
#endif
	b->kind = kind;
	if (!take_body(b, v, error)) {
		memset(b, 0, sizeof(*b));
		return FALSE;
	}
	if ((why = check_fields(b))) {
		memset(b, 0, sizeof(*b));
		return malformed(error, "%s: %s", beacon_kind_name(kind), why);
	}
	return TRUE;
}
