/*
 * test-beacon.c - unit tests for the discovery datagrams (utils/beacon.c).
 * The client's table is in test-discover.c.
 */
#include "beacon.h"
#include "beacon-test.h"

#include <string.h>

static void
assert_same(const struct beacon *a, const struct beacon *b)
{
	guint i;

	g_assert_cmpint(a->kind, ==, b->kind);
	g_assert_cmpuint(a->instance, ==, b->instance);
	g_assert_cmpuint(a->seq, ==, b->seq);
	g_assert_cmpuint(a->nonce, ==, b->nonce);
	g_assert_cmpstr(a->name, ==, b->name);
	g_assert_cmpuint(a->ssh_port, ==, b->ssh_port);
	g_assert_cmpuint(a->cores, ==, b->cores);
	g_assert_cmpstr(a->version, ==, b->version);
	g_assert_cmpuint(a->interval, ==, b->interval);
	g_assert_cmpuint(a->n_fingerprints, ==, b->n_fingerprints);
	for (i = 0; i < a->n_fingerprints; i++)
		g_assert_cmpstr(a->fingerprints[i], ==, b->fingerprints[i]);
}

static void
roundtrip(const struct beacon *b)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GError) error = NULL;
	struct beacon got;

	g_assert_true(beacon_encode(b, out, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(out->len, <=, BEACON_MAX_SIZE);
	g_assert_true(beacon_decode(out->data, out->len, &got, &error));
	g_assert_no_error(error);
	assert_same(b, &got);
}

static void
test_roundtrip(void)
{
	struct beacon b;
	char name[BEACON_MAX_NAME + 1];
	char version[BEACON_MAX_VERSION + 1];

	memset(&b, 0, sizeof(b));
	b.kind = BEACON_PROBE;
	roundtrip(&b);
	b.nonce = G_MAXUINT64;
	roundtrip(&b);

	make_hello(&b, "node-1.example.org", 1);
	roundtrip(&b);
	b.nonce = 42;
	b.seq = G_MAXUINT32;
	b.ssh_port = 65535;
	b.cores = G_MAXUINT32;
	b.interval = BEACON_MAX_INTERVAL;
	roundtrip(&b);

	/* Everything at its largest still fits a datagram. */
	memset(name, 'n', BEACON_MAX_NAME);
	name[BEACON_MAX_NAME] = '\0';
	memset(version, '~', BEACON_MAX_VERSION);
	version[BEACON_MAX_VERSION] = '\0';
	make_hello(&b, name, BEACON_MAX_FINGERPRINTS);
	g_strlcpy(b.version, version, sizeof(b.version));
	b.nonce = G_MAXUINT64;
	roundtrip(&b);

	memset(&b, 0, sizeof(b));
	b.kind = BEACON_BYE;
	b.instance = 1;
	b.seq = 0;
	g_strlcpy(b.name, "a", sizeof(b.name));
	roundtrip(&b);
}

/* A probe is padded: an answer is never much larger than a question. */
static void
test_probe_size(void)
{
	g_autoptr(GByteArray) probe = g_byte_array_new();
	g_autoptr(GByteArray) hello = g_byte_array_new();
	struct beacon b = {.kind = BEACON_PROBE};

	g_assert_true(beacon_encode(&b, probe, NULL));
	g_assert_cmpuint(probe->len, ==, BEACON_PROBE_MIN_SIZE);
	make_hello(&b, "node", 3);
	g_assert_true(beacon_encode(&b, hello, NULL));
	g_assert_cmpuint(hello->len, <=, probe->len);
}

static void
expect_invalid(const struct beacon *b)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GError) error = NULL;

	g_assert_false(beacon_encode(b, out, &error));
	g_assert_error(error, BEACON_ERROR, BEACON_ERROR_INVALID);
	g_assert_cmpuint(out->len, ==, 0);
}

static void
test_encode_invalid(void)
{
	struct beacon b;

	make_hello(&b, "node", 1);
	b.kind = 0;
	expect_invalid(&b);
	b.kind = BEACON_KIND_MAX;
	expect_invalid(&b);
	make_hello(&b, "", 1);
	expect_invalid(&b);
	make_hello(&b, "a/b", 1);
	expect_invalid(&b);
	make_hello(&b, ".hidden", 1);
	expect_invalid(&b);
	make_hello(&b, "node", 0);
	expect_invalid(&b);
	make_hello(&b, "node", 1);
	b.n_fingerprints = BEACON_MAX_FINGERPRINTS + 1;
	expect_invalid(&b);
	make_hello(&b, "node", 1);
	b.fingerprints[0][10] = '=';
	expect_invalid(&b);
	make_hello(&b, "node", 1);
	b.ssh_port = 0;
	expect_invalid(&b);
	make_hello(&b, "node", 1);
	b.cores = 0;
	expect_invalid(&b);
	make_hello(&b, "node", 1);
	b.interval = 0;
	expect_invalid(&b);
	make_hello(&b, "node", 1);
	b.interval = BEACON_MAX_INTERVAL + 1;
	expect_invalid(&b);
	make_hello(&b, "node", 1);
	b.instance = 0;
	expect_invalid(&b);
	make_hello(&b, "node", 1);
	g_strlcpy(b.version, "0.1 beta", sizeof(b.version));
	expect_invalid(&b);
	make_hello(&b, "node", 1);
	b.version[0] = '\0';
	expect_invalid(&b);
	make_hello(&b, "node", 1);
	b.kind = BEACON_BYE;
	b.instance = 0;
	expect_invalid(&b);
}

static void
expect_malformed(const void *data, gsize len, gint code)
{
	g_autoptr(GError) error = NULL;
	struct beacon b, zero;

	memset(&zero, 0, sizeof(zero));
	g_assert_false(beacon_decode(data, len, &b, &error));
	g_assert_error(error, BEACON_ERROR, code);
	g_assert_true(memcmp(&b, &zero, sizeof(b)) == 0);
	/* A NULL error is fine too. */
	g_assert_false(beacon_decode(data, len, &b, NULL));
}

static GByteArray *
encoded_hello(guint nfp)
{
	GByteArray *out = g_byte_array_new();
	struct beacon b;

	make_hello(&b, "node", nfp);
	g_assert_true(beacon_encode(&b, out, NULL));
	return out;
}

static void
test_decode_header(void)
{
	g_autoptr(GByteArray) v = encoded_hello(2);
	g_autoptr(GByteArray) big = NULL;
	guint8 buf[BEACON_MAX_SIZE + 1];
	gsize i;

	for (i = 0; i < BEACON_HEADER_SIZE; i++)
		expect_malformed(v->data, i, BEACON_ERROR_MALFORMED);
	expect_malformed(NULL, 0, BEACON_ERROR_MALFORMED);

	memcpy(buf, v->data, v->len);
	buf[0] = 't';
	expect_malformed(buf, v->len, BEACON_ERROR_MALFORMED);
	memcpy(buf, v->data, v->len);
	buf[4] = 2;
	expect_malformed(buf, v->len, BEACON_ERROR_VERSION);
	buf[4] = 0;
	expect_malformed(buf, v->len, BEACON_ERROR_VERSION);
	memcpy(buf, v->data, v->len);
	for (i = 0; i < 256; i++) {
		buf[5] = (guint8)i;
		if (i == BEACON_HELLO)
			continue;
		expect_malformed(buf, v->len, BEACON_ERROR_MALFORMED);
	}
	memcpy(buf, v->data, v->len);
	buf[7] = 1;
	expect_malformed(buf, v->len, BEACON_ERROR_MALFORMED);

	/* Oversized, even if what it starts with is fine. */
	big = g_byte_array_sized_new(BEACON_MAX_SIZE + 1);
	g_byte_array_append(big, v->data, v->len);
	g_byte_array_set_size(big, BEACON_MAX_SIZE + 1);
	memset(big->data + v->len, 0, big->len - v->len);
	expect_malformed(big->data, big->len, BEACON_ERROR_MALFORMED);
}

/* Every prefix of a valid datagram, and longer ones, are refused. */
static void
test_decode_truncated(void)
{
	g_autoptr(GByteArray) hello = encoded_hello(3);
	g_autoptr(GByteArray) bye = g_byte_array_new();
	g_autoptr(GByteArray) probe = g_byte_array_new();
	GByteArray *all[] = {hello, bye, probe};
	struct beacon b;
	gsize i, j;

	memset(&b, 0, sizeof(b));
	b.kind = BEACON_BYE;
	b.instance = 5;
	g_strlcpy(b.name, "node", sizeof(b.name));
	g_assert_true(beacon_encode(&b, bye, NULL));
	b.kind = BEACON_PROBE;
	g_assert_true(beacon_encode(&b, probe, NULL));

	for (j = 0; j < G_N_ELEMENTS(all); j++) {
		for (i = 0; i < all[j]->len; i++)
			expect_malformed(all[j]->data, i,
					 BEACON_ERROR_MALFORMED);
		g_assert_true(beacon_decode(all[j]->data, all[j]->len, &b,
					    NULL));
	}
	/* A byte more: the last string or the framing no longer fits. */
	for (j = 0; j < 2; j++) {
		for (i = 0; i < 256; i++) {
			guint8 c = (guint8)i;
			g_autoptr(GByteArray) more = g_byte_array_new();

			g_byte_array_append(more, all[j]->data, all[j]->len);
			g_byte_array_append(more, &c, 1);
			expect_malformed(more->data, more->len,
					 BEACON_ERROR_MALFORMED);
		}
	}
}

/* A datagram with a body built from text, past the encoder's checks. */
static GByteArray *
raw(guint kind, const char *type, const char *text)
{
	g_autoptr(GVariant) v = NULL;
	g_autoptr(GError) error = NULL;
	guint8 h[BEACON_HEADER_SIZE] = {'T', 'R', 'K', 'B', BEACON_VERSION,
					(guint8)kind, 0, 0};
	GByteArray *out = g_byte_array_new();

	v = g_variant_parse(G_VARIANT_TYPE(type), text, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(G_BYTE_ORDER == G_LITTLE_ENDIAN);
	g_byte_array_append(out, h, sizeof(h));
	g_byte_array_append(out, g_variant_get_data(v), g_variant_get_size(v));
	return out;
}

static void
expect_raw_malformed(guint kind, const char *type, const char *text)
{
	g_autoptr(GByteArray) d = raw(kind, type, text);

	if (g_test_verbose())
		g_printerr("%s\n", text);
	expect_malformed(d->data, d->len, BEACON_ERROR_MALFORMED);
}

#define FP1 "'" ED25519_FP "'"
#define HELLO_T "(tutsqusuas)"

static void
test_decode_fields(void)
{
	g_autoptr(GByteArray) ok = raw(BEACON_HELLO, HELLO_T,
		"(1, 2, 0, 'n', 22, 1, 'v', 30, [" FP1 "])");
	g_autoptr(GByteArray) probe = NULL;
	struct beacon b;

	g_assert_true(beacon_decode(ok->data, ok->len, &b, NULL));
	g_assert_cmpstr(b.name, ==, "n");

	expect_raw_malformed(BEACON_HELLO, HELLO_T,
		"(0, 2, 0, 'n', 22, 1, 'v', 30, [" FP1 "])");
	expect_raw_malformed(BEACON_HELLO, HELLO_T,
		"(1, 2, 0, '', 22, 1, 'v', 30, [" FP1 "])");
	expect_raw_malformed(BEACON_HELLO, HELLO_T,
		"(1, 2, 0, '../etc', 22, 1, 'v', 30, [" FP1 "])");
	expect_raw_malformed(BEACON_HELLO, HELLO_T,
		"(1, 2, 0, 'a b', 22, 1, 'v', 30, [" FP1 "])");
	expect_raw_malformed(BEACON_HELLO, HELLO_T,
		"(1, 2, 0, 'n\u00e9', 22, 1, 'v', 30, [" FP1 "])");
	expect_raw_malformed(BEACON_HELLO, HELLO_T,
		"(1, 2, 0, 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
		"nnnnnnnnnnnn', 22, 1, 'v', 30, [" FP1 "])");
	expect_raw_malformed(BEACON_HELLO, HELLO_T,
		"(1, 2, 0, 'n', 0, 1, 'v', 30, [" FP1 "])");
	expect_raw_malformed(BEACON_HELLO, HELLO_T,
		"(1, 2, 0, 'n', 22, 0, 'v', 30, [" FP1 "])");
	expect_raw_malformed(BEACON_HELLO, HELLO_T,
		"(1, 2, 0, 'n', 22, 1, '', 30, [" FP1 "])");
	expect_raw_malformed(BEACON_HELLO, HELLO_T,
		"(1, 2, 0, 'n', 22, 1, 'v\\n', 30, [" FP1 "])");
	expect_raw_malformed(BEACON_HELLO, HELLO_T,
		"(1, 2, 0, 'n', 22, 1, '0123456789012345678901234567890123',"
		" 30, [" FP1 "])");
	expect_raw_malformed(BEACON_HELLO, HELLO_T,
		"(1, 2, 0, 'n', 22, 1, 'v', 0, [" FP1 "])");
	expect_raw_malformed(BEACON_HELLO, HELLO_T,
		"(1, 2, 0, 'n', 22, 1, 'v', 86401, [" FP1 "])");
	expect_raw_malformed(BEACON_HELLO, HELLO_T,
		"(1, 2, 0, 'n', 22, 1, 'v', 30, @as [])");
	expect_raw_malformed(BEACON_HELLO, HELLO_T,
		"(1, 2, 0, 'n', 22, 1, 'v', 30, [" FP1 "," FP1 "," FP1 "," FP1
		"," FP1 "," FP1 "," FP1 "," FP1 "," FP1 "])");
	expect_raw_malformed(BEACON_HELLO, HELLO_T,
		"(1, 2, 0, 'n', 22, 1, 'v', 30, ['SHA256:abc'])");
	expect_raw_malformed(BEACON_HELLO, HELLO_T,
		"(1, 2, 0, 'n', 22, 1, 'v', 30, ['MD5:" ED25519_FP "'])");
	/* The last digit carries bits that 32 bytes do not have. */
	expect_raw_malformed(BEACON_HELLO, HELLO_T,
		"(1, 2, 0, 'n', 22, 1, 'v', 30, ['SHA256:YakIRZhvBpZ4/lM93M7SP"
		"mCMA0p0X6QEBLw7SGmnlBN'])");
	expect_raw_malformed(BEACON_HELLO, HELLO_T,
		"(1, 2, 0, 'n', 22, 1, 'v', 30, ['" ED25519_FP "='])");
	expect_raw_malformed(BEACON_BYE, "(tus)", "(0, 1, 'n')");
	expect_raw_malformed(BEACON_BYE, "(tus)", "(1, 1, '-n')");
	/* The body of another kind. */
	expect_raw_malformed(BEACON_BYE, HELLO_T,
		"(1, 2, 0, 'n', 22, 1, 'v', 30, [" FP1 "])");
	expect_raw_malformed(BEACON_HELLO, "(tus)", "(1, 1, 'n')");
	/* Probes: padded with zeros to the minimum size. */
	expect_raw_malformed(BEACON_PROBE, "(tay)", "(1, @ay [])");
	probe = raw(BEACON_PROBE, "(tay)", "(1, @ay [])");
	g_byte_array_set_size(probe, BEACON_PROBE_MIN_SIZE);
	memset(probe->data + 16, 0, probe->len - 16);
	g_assert_true(beacon_decode(probe->data, probe->len, &b, NULL));
	g_assert_cmpuint(b.nonce, ==, 1);
	probe->data[probe->len - 1] = 1;
	expect_malformed(probe->data, probe->len, BEACON_ERROR_MALFORMED);
}

/*
 * Whatever decodes, decodes to what re-encodes to the same bytes (normal
 * form: one datagram per beacon); a probe may have more padding than ours.
 */
static void
check_any(const guint8 *data, gsize len)
{
	g_autoptr(GByteArray) again = g_byte_array_new();
	g_autoptr(GError) error = NULL;
	struct beacon b;

	if (!beacon_decode(data, len, &b, &error)) {
		g_assert_nonnull(error);
		g_assert_true(error->domain == BEACON_ERROR);
		return;
	}
	g_assert_no_error(error);
	g_assert_true(beacon_encode(&b, again, &error));
	g_assert_no_error(error);
	if (b.kind == BEACON_PROBE) {
		g_assert_cmpuint(len, >=, again->len);
		g_assert_true(memcmp(again->data, data, 16) == 0);
		return;
	}
	g_assert_cmpuint(again->len, ==, len);
	g_assert_true(memcmp(again->data, data, len) == 0);
}

static void
test_decode_bitflips(void)
{
	g_autoptr(GByteArray) v = encoded_hello(2);
	guint8 buf[BEACON_MAX_SIZE];
	gsize i;
	guint bit, decoded = 0;

	for (i = 0; i < v->len; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(buf, v->data, v->len);
			buf[i] ^= 1u << bit;
			check_any(buf, v->len);
			decoded += beacon_decode(buf, v->len, &(struct beacon){0},
						 NULL);
		}
	}
	/* Some flips (in numbers) give valid beacons, most don't. */
	g_assert_cmpuint(decoded, >, 0);
	g_assert_cmpuint(decoded, <, v->len * 8);
}

static void
test_decode_random(void)
{
	g_autoptr(GRand) r = g_rand_new_with_seed(4711);
	g_autoptr(GByteArray) v = encoded_hello(2);
	guint8 buf[BEACON_MAX_SIZE + 200];
	guint i, j, n;

	for (i = 0; i < 20000; i++) {
		n = g_rand_int_range(r, 0, sizeof(buf));
		for (j = 0; j < n; j++)
			buf[j] = (guint8)g_rand_int(r);
		/* Half of them with a valid header, some with a valid start. */
		if (i % 2 && n >= BEACON_HEADER_SIZE) {
			memcpy(buf, v->data, BEACON_HEADER_SIZE);
			buf[5] = (guint8)g_rand_int_range(r, 1, BEACON_KIND_MAX);
		}
		if (i % 4 == 1 && n >= v->len / 2)
			memcpy(buf, v->data, MIN(n, v->len) -
			       g_rand_int_range(r, 0, 8));
		check_any(buf, n);
	}
}

static void
test_fingerprint(void)
{
	g_autoptr(GError) error = NULL;
	char *fp;
	static const char *const bad[] = {
		"",
		"ssh-ed25519",
		"ssh-ed25519 ",
		"AAAAC3NzaC1lZDI1NTE5AAAAII1HtLRh6IVWmjtpxMpqZB73W23KPgBpEdzjYqZoinK4",
		/* not base64, bad length, junk after the padding */
		"ssh-ed25519 AAAA!3NzaC1lZDI1NTE5AAAAII1HtLRh6IVWmjtpxMpqZB73W23KPgBpEdzjYqZoinK4",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAII1HtLRh6IVWmjtpxMpqZB73W23KPgBpEdzjYqZoinK",
		"ssh-ed25519 AAAAC3Nz=C1lZDI1NTE5AAAAII1HtLRh6IVWmjtpxMpqZB73W23KPgBpEdzjYqZoinK4",
		/* the blob is of another type */
		"ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAII1HtLRh6IVWmjtpxMpqZB73W23KPgBpEdzjYqZoinK4",
		"ssh-ed2551 AAAAC3NzaC1lZDI1NTE5AAAAII1HtLRh6IVWmjtpxMpqZB73W23KPgBpEdzjYqZoinK4",
		/* too short for a type */
		"ssh-ed25519 AAAA",
		"x AA==",
		/* non-canonical: bits set past the end */
		"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBKoD5WLdwoMGafsks/IDMKcs32X05eOBo2cwbXrg67LbLBXHIaaKVgU6EbX7ZQAJ1HTFfc5WzLP/RpQq0oPS5H5=",
	};
	gsize i;

	fp = beacon_pubkey_fingerprint(ED25519_PUB, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(fp, ==, ED25519_FP);
	g_assert_true(beacon_fingerprint_valid(fp));
	g_free(fp);
	fp = beacon_pubkey_fingerprint("  " ECDSA_PUB "\n", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(fp, ==, ECDSA_FP);
	g_free(fp);
	/* Without a comment, with tabs. */
	fp = beacon_pubkey_fingerprint("ssh-ed25519\tAAAAC3NzaC1lZDI1NTE5AAAA"
		"II1HtLRh6IVWmjtpxMpqZB73W23KPgBpEdzjYqZoinK4", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(fp, ==, ED25519_FP);
	g_free(fp);

	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) e = NULL;

		fp = beacon_pubkey_fingerprint(bad[i], &e);
		if (fp)
			g_error("accepted '%s' as %s", bad[i], fp);
		g_assert_error(e, BEACON_ERROR, BEACON_ERROR_KEY);
	}
}

static void
test_validators(void)
{
	static const char *const names[] = {"a", "node1", "n.example.org",
					    "A_b-c", "0", NULL};
	static const char *const bad_names[] = {"", ".", ".a", "-a", "_a",
		"a/b", "a b", "a\n", "a:1", "\xc3\xa9",
		"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn",
		NULL};
	static const char *const bad_fps[] = {"", "SHA256:",
		"SHA256:YakIRZhvBpZ4/lM93M7SPmCMA0p0X6QEBLw7SGmnlB",
		"SHA256:YakIRZhvBpZ4/lM93M7SPmCMA0p0X6QEBLw7SGmnlBMA",
		"SHA256:YakIRZhvBpZ4/lM93M7SPmCMA0p0X6QEBLw7SGmnlBN",
		"SHA256:YakIRZhvBpZ4-lM93M7SPmCMA0p0X6QEBLw7SGmnlBM",
		"sha256:YakIRZhvBpZ4/lM93M7SPmCMA0p0X6QEBLw7SGmnlBM",
		NULL};
	const char *const *p;

	for (p = names; *p; p++)
		g_assert_true(beacon_name_valid(*p));
	g_assert_true(beacon_name_valid(
		"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"));
	for (p = bad_names; *p; p++)
		if (beacon_name_valid(*p))
			g_error("name '%s' accepted", *p);
	g_assert_false(beacon_name_valid(NULL));
	g_assert_true(beacon_fingerprint_valid(ED25519_FP));
	g_assert_true(beacon_fingerprint_valid(ECDSA_FP));
	for (p = bad_fps; *p; p++)
		if (beacon_fingerprint_valid(*p))
			g_error("fingerprint '%s' accepted", *p);
	g_assert_cmpuint(beacon_random_id(), !=, 0);
	g_assert_cmpuint(beacon_random_id(), !=, beacon_random_id());
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/beacon/roundtrip", test_roundtrip);
	g_test_add_func("/beacon/probe-size", test_probe_size);
	g_test_add_func("/beacon/encode-invalid", test_encode_invalid);
	g_test_add_func("/beacon/decode/header", test_decode_header);
	g_test_add_func("/beacon/decode/truncated", test_decode_truncated);
	g_test_add_func("/beacon/decode/fields", test_decode_fields);
	g_test_add_func("/beacon/decode/bitflips", test_decode_bitflips);
	g_test_add_func("/beacon/decode/random", test_decode_random);
	g_test_add_func("/beacon/fingerprint", test_fingerprint);
	g_test_add_func("/beacon/validators", test_validators);
	return g_test_run();
}
