/*
 * fuzz-beacon.c - libFuzzer target for the discovery datagrams
 * (utils/beacon.c) and the client's candidate table (utils/discover.c).
 *
 * Input layout: records of
 *
 *   u8       bits 0-1: the sender, 10.0.0.1-4; bit 2: it came on the probe
 *            socket (a reply) rather than the group's
 *   u16      datagram length, big endian (cut to what is left)
 *   bytes    the datagram
 *
 * (a length past the end takes what is left; fewer than 3 bytes left are
 * a datagram from 10.0.0.1).  Each datagram is decoded: whatever decodes must re-encode to
 * the same bytes (normal form; a probe may carry more padding than ours).
 * Then it is fed to a table with small bounds, which must stay within
 * them and hold only valid HELLOs.
 *
 * Built with -DSTANDALONE it has a main() instead: FILE|DIR... runs those
 * inputs, --make-corpus DIR writes seeds, --self-test N runs the seeds and
 * N random mutations of them (what the meson test does).
 */
#include "beacon.h"
#include "discover.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_NODES 6
#define MAX_PER_ADDRESS 3

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: check failed: %s\n",       \
				__FILE__, __LINE__, #cond);                 \
			abort();                                            \
		}                                                           \
	} while (0)

static volatile gsize sink;

/* The table warns about what it ignores; criticals are bugs. */
static void
log_handler(const char *domain, GLogLevelFlags level, const char *message,
	    gpointer user)
{
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
		fprintf(stderr, "%s: %s\n", domain ? domain : "", message);
		abort();
	}
	sink += strlen(message);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	setenv("G_SLICE", "always-malloc", 1);
	g_log_set_always_fatal(G_LOG_FATAL_MASK);
	g_log_set_default_handler(log_handler, NULL);
	return 0;
}

static void
check_datagram(const guint8 *data, gsize len)
{
	GByteArray *again = g_byte_array_new();
	GError *error = NULL;
	struct beacon b;

	if (!beacon_decode(data, len, &b, &error)) {
		CHECK(error && error->domain == BEACON_ERROR);
		sink += strlen(error->message);
		g_error_free(error);
		g_byte_array_unref(again);
		return;
	}
	CHECK(!error);
	CHECK(beacon_encode(&b, again, &error));
	if (b.kind == BEACON_PROBE) {
		CHECK(again->len <= len);
		CHECK(memcmp(again->data, data, 16) == 0);
	} else {
		CHECK(again->len == len);
		CHECK(memcmp(again->data, data, len) == 0);
		CHECK(beacon_name_valid(b.name));
	}
	g_byte_array_unref(again);
}

static void
on_event(enum discover_event event, const struct discover_node *n,
	 gpointer user)
{
	CHECK(event <= DISCOVER_EXPIRED);
	CHECK(n && n->hello.kind == BEACON_HELLO);
	sink += strlen(n->hello.name) + strlen(n->address);
}

static void
check_table(struct discover *d)
{
	GPtrArray *all = discover_nodes(d);
	GByteArray *out = g_byte_array_new();
	guint per[4] = {0}, i;

	CHECK(all->len <= MAX_NODES);
	for (i = 0; i < all->len; i++) {
		const struct discover_node *n = all->pdata[i];

		CHECK(strncmp(n->address, "10.0.0.", 7) == 0);
		CHECK(n->address[7] >= '1' && n->address[7] <= '4');
		per[n->address[7] - '1']++;
		CHECK(beacon_encode(&n->hello, out, NULL));
		CHECK(discover_lookup(d, n->address, n->hello.name));
	}
	for (i = 0; i < 4; i++)
		CHECK(per[i] <= MAX_PER_ADDRESS);
	g_byte_array_unref(out);
	g_ptr_array_unref(all);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct discover_options opt = {
		.max_nodes = MAX_NODES,
		.max_per_address = MAX_PER_ADDRESS,
		.no_network = TRUE,
	};
	struct discover *d = discover_new(&opt, on_event, NULL, NULL);
	size_t pos = 0;

	CHECK(d);
	while (pos < size) {
		char addr[16] = "10.0.0.1";
		gboolean reply = FALSE;
		const guint8 *p;
		gsize len;

		if (size - pos >= 3) {
			addr[7] = (char)('1' + (data[pos] & 3));
			reply = (data[pos] & 4) != 0;
			len = MIN((gsize)(data[pos + 1] << 8 | data[pos + 2]),
				  size - pos - 3);
			p = data + pos + 3;
			pos += 3 + len;
		} else {
			p = data + pos;
			len = size - pos;
			pos = size;
		}
		check_datagram(p, len);
		discover_feed(d, p, len, addr, reply);
		check_table(d);
	}
	discover_free(d);
	return 0;
}

#ifdef STANDALONE

static void
add_record(GByteArray *out, guint8 flags, const GByteArray *dgram)
{
	guint8 h[3] = {flags, (guint8)(dgram->len >> 8), (guint8)dgram->len};

	g_byte_array_append(out, h, sizeof(h));
	g_byte_array_append(out, dgram->data, dgram->len);
}

static void
hello(struct beacon *b, const char *name, guint64 instance, guint32 seq)
{
	memset(b, 0, sizeof(*b));
	b->kind = BEACON_HELLO;
	b->instance = instance;
	b->seq = seq;
	g_strlcpy(b->name, name, sizeof(b->name));
	b->ssh_port = 22;
	b->cores = 4;
	g_strlcpy(b->version, "0.1.0", sizeof(b->version));
	b->interval = 30;
	b->n_fingerprints = 2;
	g_strlcpy(b->fingerprints[0],
		  "SHA256:YakIRZhvBpZ4/lM93M7SPmCMA0p0X6QEBLw7SGmnlBM",
		  sizeof(b->fingerprints[0]));
	g_strlcpy(b->fingerprints[1],
		  "SHA256:pMg5sGSd2v9jAe8297GsZ+0N21PsRB6eaN0PgCgz2Vc",
		  sizeof(b->fingerprints[1]));
}

/* The seeds: each kind alone, and sessions of several datagrams. */
static GPtrArray *
make_seeds(void)
{
	GPtrArray *seeds = g_ptr_array_new_with_free_func(
		(GDestroyNotify)g_byte_array_unref);
	GByteArray *dg = g_byte_array_new();
	GByteArray *s;
	struct beacon b;
	guint i;

	b = (struct beacon){.kind = BEACON_PROBE, .nonce = 99};
	CHECK(beacon_encode(&b, dg, NULL));
	s = g_byte_array_new();
	add_record(s, 0, dg);
	g_ptr_array_add(seeds, s);
	hello(&b, "node1", 1, 1);
	s = g_byte_array_new();
	CHECK(beacon_encode(&b, dg, NULL));
	add_record(s, 0, dg);
	g_ptr_array_add(seeds, s);

	/* hello, a newer one, a restart, a bye; from two senders */
	s = g_byte_array_new();
	for (i = 0; i < 2; i++) {
		hello(&b, "node1", 1, 1);
		CHECK(beacon_encode(&b, dg, NULL));
		add_record(s, (guint8)i, dg);
		b.seq = 2;
		b.cores = 8;
		CHECK(beacon_encode(&b, dg, NULL));
		add_record(s, (guint8)i, dg);
		b.instance = 2;
		CHECK(beacon_encode(&b, dg, NULL));
		add_record(s, (guint8)i, dg);
		b.kind = BEACON_BYE;
		b.seq = 3;
		CHECK(beacon_encode(&b, dg, NULL));
		add_record(s, (guint8)i, dg);
	}
	g_ptr_array_add(seeds, s);

	/* a flood of names from every sender */
	s = g_byte_array_new();
	for (i = 0; i < 24; i++) {
		g_autofree char *name = g_strdup_printf("flood-%u", i);

		hello(&b, name, 7, 1);
		CHECK(beacon_encode(&b, dg, NULL));
		add_record(s, (guint8)(i & 3), dg);
	}
	g_ptr_array_add(seeds, s);

	/* a reply on the probe socket (wrong nonce), a probe, a BYE */
	s = g_byte_array_new();
	hello(&b, "r", 3, 1);
	b.nonce = 5;
	CHECK(beacon_encode(&b, dg, NULL));
	add_record(s, 4, dg);
	b = (struct beacon){.kind = BEACON_PROBE, .nonce = 1};
	CHECK(beacon_encode(&b, dg, NULL));
	add_record(s, 1, dg);
	g_ptr_array_add(seeds, s);

	g_byte_array_unref(dg);
	return seeds;
}

static int
make_corpus(const char *dir)
{
	GPtrArray *seeds;
	guint i;
	int err = 0;

	if (g_mkdir_with_parents(dir, 0755) < 0) {
		perror(dir);
		return 1;
	}
	seeds = make_seeds();
	for (i = 0; i < seeds->len; i++) {
		GByteArray *s = seeds->pdata[i];
		g_autofree char *name = g_strdup_printf("seed-%02u", i);
		g_autofree char *path = g_build_filename(dir, name, NULL);
		GError *error = NULL;

		if (!g_file_set_contents(path, (const char *)s->data, s->len,
					 &error)) {
			fprintf(stderr, "%s\n", error->message);
			g_error_free(error);
			err = 1;
		}
	}
	g_ptr_array_unref(seeds);
	return err;
}

/* The seeds, then n mutations of them: flips, cuts, splices. */
static int
self_test(guint n)
{
	GPtrArray *seeds = make_seeds();
	GRand *r = g_rand_new_with_seed(1234);
	GByteArray *m = g_byte_array_new();
	guint i, j, k;

	for (i = 0; i < seeds->len; i++) {
		GByteArray *s = seeds->pdata[i];

		LLVMFuzzerTestOneInput(s->data, s->len);
	}
	for (i = 0; i < n; i++) {
		GByteArray *s = seeds->pdata[g_rand_int_range(r, 0, seeds->len)];

		g_byte_array_set_size(m, 0);
		g_byte_array_append(m, s->data, s->len);
		k = g_rand_int_range(r, 1, 8);
		for (j = 0; j < k && m->len; j++) {
			guint at = g_rand_int_range(r, 0, m->len);

			switch (g_rand_int_range(r, 0, 4)) {
			case 0:
				m->data[at] ^= 1u << g_rand_int_range(r, 0, 8);
				break;
			case 1:
				m->data[at] = (guint8)g_rand_int(r);
				break;
			case 2:
				g_byte_array_set_size(m, at);
				break;
			default:
				g_byte_array_remove_index(m, at);
				break;
			}
		}
		LLVMFuzzerTestOneInput(m->data, m->len);
	}
	printf("ran %u seeds and %u mutations\n", seeds->len, n);
	g_byte_array_unref(m);
	g_rand_free(r);
	g_ptr_array_unref(seeds);
	return 0;
}

static int
run_file(const char *path)
{
	char *buf = NULL;
	GError *error = NULL;
	gsize len;

	if (!g_file_get_contents(path, &buf, &len, &error)) {
		fprintf(stderr, "%s\n", error->message);
		g_error_free(error);
		return 1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
	g_free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	int n = 0, err = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	if (argc == 3 && strcmp(argv[1], "--make-corpus") == 0)
		return make_corpus(argv[2]);
	if (argc == 3 && strcmp(argv[1], "--self-test") == 0)
		return self_test((guint)strtoul(argv[2], NULL, 10));
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n"
				"       %s --make-corpus DIR\n"
				"       %s --self-test N\n",
			argv[0], argv[0], argv[0]);
		return 2;
	}
	for (int a = 1; a < argc; a++) {
		if (g_file_test(argv[a], G_FILE_TEST_IS_DIR)) {
			GDir *dir = g_dir_open(argv[a], 0, NULL);
			const char *name;

			if (!dir) {
				perror(argv[a]);
				err = 1;
				continue;
			}
			while ((name = g_dir_read_name(dir))) {
				char *path = g_build_filename(argv[a], name,
							      NULL);

				if (g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
					err |= run_file(path);
					n++;
				}
				g_free(path);
			}
			g_dir_close(dir);
		} else {
			err |= run_file(argv[a]);
			n++;
		}
	}
	printf("ran %d inputs\n", n);
	return err || n == 0;
}
#endif
