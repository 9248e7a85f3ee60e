/*
 * fuzz-wire.c - libFuzzer target for the frame decoder in utils/wire.c.
 *
 * Input layout:
 *
 *   byte 0        bits 0-2: k, the number of chunk-size bytes that follow
 *                 bit 3:    take one message per feed instead of draining
 *                 bit 4:    set a small max_buffered (exercises OVERFLOW)
 *   bytes 1..k    chunk sizes, used in turn: 0 = all the rest, 1-127 =
 *                 that many bytes, 128-255 = (b - 127) * 512 bytes
 *   the rest      the byte stream a peer sent
 *
 * Every decoded message is taken apart the way a receiver would, and
 * re-encoded: since bodies are in normal form, the re-encoded frame must be
 * byte-for-byte the frame that was decoded.
 *
 * Built with -DSTANDALONE it has a main() instead, which runs the files (or
 * directories of files) on its command line through the same code, or with
 * --make-corpus DIR writes the seed corpus.
 */
#include "wire.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static volatile gsize sink;

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: check failed: %s\n",       \
				__FILE__, __LINE__, #cond);                 \
			abort();                                            \
		}                                                           \
	} while (0)

/* Any critical or warning (a g_return_if_fail, say) is a bug: crash. */
static void
log_handler(const char *domain, GLogLevelFlags level, const char *message,
	    gpointer user)
{
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL |
		     G_LOG_LEVEL_WARNING)) {
		fprintf(stderr, "%s: %s\n", domain ? domain : "", message);
		abort();
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* Let ASan/LSan see GLib's small allocations. */
	setenv("G_SLICE", "always-malloc", 1);
	g_log_set_default_handler(log_handler, NULL);
	return 0;
}

static void
use_string(const char *s)
{
	CHECK(s);
	CHECK(g_utf8_validate(s, -1, NULL));
	sink += strlen(s);
}

/* What a receiver does with each message. */
static void
take_apart(const struct wire_msg *m)
{
	const char *s, *s2, *s3;
	const char **argv = NULL;
	guint32 u1, u2, u3;
	gint32 i;
	guint8 y;
	gboolean b;
	guint64 t1, t2;
	const guint8 *p;
	gsize n;

	CHECK(m->body);
	CHECK(g_variant_is_of_type(m->body, wire_body_type(m->type)));
	sink += strlen(wire_type_name(m->type));

	switch (m->type) {
	case WIRE_HELLO:
		g_variant_get(m->body, "(uu)", &u1, &u2);
		sink += u1 + u2;
		break;
	case WIRE_INJECT_BEGIN:
		g_variant_get(m->body, "(&su)", &s, &u1);
		use_string(s);
		sink += u1;
		break;
	case WIRE_INJECT_DATA:
	case WIRE_DATA:
	case WIRE_STDIN:
	case WIRE_RESULT:
		p = wire_msg_bytes(m, &n);
		CHECK(n <= WIRE_MAX_BODY);
		CHECK(n == g_variant_get_size(m->body));
		if (n) {
			CHECK(p);
			sink += p[0] + p[n - 1];
		}
		break;
	case WIRE_INJECT_END:
	case WIRE_INJECT_ABORT:
	case WIRE_PING:
	case WIRE_SHUTDOWN:
	case WIRE_PONG:
		g_variant_get(m->body, "()");
		break;
	case WIRE_ATTACH:
		g_variant_get(m->body, "(uu&su)", &u1, &u2, &s, &u1);
		use_string(s);
		sink += u1 + u2;
		break;
	case WIRE_SYNCED:
		g_variant_get(m->body, "(bu)", &b, &u1);
		sink += b + u1;
		break;
	case WIRE_CACHE_PUT:
		g_variant_get(m->body, "(&st)", &s, &t1);
		use_string(s);
		sink += t1;
		break;
	case WIRE_INJECT_CACHED:
		g_variant_get(m->body, "(&s&su)", &s, &s2, &u1);
		use_string(s);
		use_string(s2);
		sink += u1;
		break;
	case WIRE_UNINJECT:
	case WIRE_CACHE_HAVE:
	case WIRE_W_LOAD:
		g_variant_get(m->body, "&s", &s);
		use_string(s);
		break;
	case WIRE_CALL:
		g_variant_get(m->body, "^a&s", &argv);
		CHECK(argv);
		for (const char **a = argv; *a; a++)
			use_string(*a);
		g_free(argv);
		break;
	case WIRE_READ:
		g_variant_get(m->body, "(uytu)", &u1, &y, &t1, &u2);
		sink += u1 + y + t1 + u2;
		break;
	case WIRE_WELCOME:
		g_variant_get(m->body, "(u&suu)", &u1, &s, &u2, &u3);
		use_string(s);
		sink += u1 + u2 + u3;
		break;
	case WIRE_REPLY:
	case WIRE_W_LOADED:
		g_variant_get(m->body, "(i&s)", &i, &s);
		use_string(s);
		sink += (gsize)i;
		break;
	case WIRE_CALL_STATE:
		g_variant_get(m->body, "(y&sitt)", &y, &s, &i, &t1, &t2);
		use_string(s);
		use_string(wire_call_state_name(y));
		sink += (gsize)i + t1 + t2;
		break;
	case WIRE_VM_STATE:
		g_variant_get(m->body, "(yu&s)", &y, &u1, &s);
		use_string(s);
		use_string(wire_vm_state_name(y));
		sink += u1;
		break;
	case WIRE_LOG:
		g_variant_get(m->body, "(u&s)", &u1, &s);
		use_string(s);
		sink += u1;
		break;
	case WIRE_W_RUN:
		g_variant_get(m->body, "(&s&s&s^a&s@as)", &s, &s2, &s3, &argv,
			      NULL);
		use_string(s);
		use_string(s2);
		use_string(s3);
		CHECK(argv);
		for (const char **a = argv; *a; a++)
			use_string(*a);
		g_free(argv);
		break;
	case WIRE_W_DONE:
		g_variant_get(m->body, "(yi&sb)", &y, &i, &s, &b);
		use_string(s);
		sink += b;
		use_string(wire_call_state_name(y));
		sink += (gsize)i;
		break;
	case WIRE_FSOP: {
		GVariant *bytes;

		g_variant_get(m->body, "(y&s&stu@ay)", &y, &s, &s2, &t1, &u1,
			      &bytes);
		use_string(s);
		use_string(s2);
		p = g_variant_get_fixed_array(bytes, &n, 1);
		if (n)
			sink += p[0] + p[n - 1];
		sink += y + t1 + u1;
		g_variant_unref(bytes);
		break;
	}
	case WIRE_CANCEL:
	case WIRE_FORGET:
	case WIRE_OBJ_DESTROY:
	case WIRE_W_DESTROY:
		sink += g_variant_get_uint32(m->body);
		break;
	case WIRE_RESTART:
	case WIRE_INFO:
		g_variant_get(m->body, "()");
		break;
	case WIRE_STAT:
		g_variant_get(m->body, "(uttu)", &u1, &t1, &t2, &u2);
		sink += u1 + t1 + t2 + u2;
		break;
	case WIRE_LIST: {
		GVariantIter *it;
		gboolean more;

		g_variant_get(m->body, "(a(sutt)b)", &it, &more);
		while (g_variant_iter_next(it, "(&sutt)", &s, &u1, &t1, &t2)) {
			use_string(s);
			sink += u1 + t1 + t2;
		}
		g_variant_iter_free(it);
		sink += more;
		break;
	}
	case WIRE_TEXT:
		use_string(g_variant_get_string(m->body, NULL));
		break;
	case WIRE_FUNCS: {
		GVariantIter it;
		const char *s3, *s4, *s5;

		g_variant_iter_init(&it, m->body);
		while (g_variant_iter_next(&it, "(&s&s&s&s&s)", &s, &s2, &s3,
					   &s4, &s5)) {
			use_string(s);
			use_string(s2);
			use_string(s3);
			use_string(s4);
			use_string(s5);
		}
		break;
	}
	case WIRE_OBJECTS:
	case WIRE_W_OBJECTS: {
		GVariantIter it;

		g_variant_iter_init(&it, m->body);
		while (g_variant_iter_next(&it, "(u&s&s)", &u1, &s, &s2)) {
			use_string(s);
			use_string(s2);
			sink += u1;
		}
		break;
	}
	case WIRE_W_DESTROYED:
		g_variant_get(m->body, "(ui&s)", &u1, &i, &s);
		use_string(s);
		sink += u1 + (gsize)i;
		break;
	default:
		/* The decoder let through a type it does not know. */
		CHECK(!"unknown type decoded");
	}

	/* Receivers log messages now and then. */
	if (g_variant_get_size(m->body) < 4096) {
		char *text = g_variant_print(m->body, TRUE);

		sink += strlen(text);
		g_free(text);
	}
}

/* The decoded frame re-encodes to exactly the bytes it came from. */
static void
check_reencode(const struct wire_msg *m, const guint8 *frame, gsize avail)
{
	GByteArray *out = g_byte_array_new();

	CHECK(wire_encode(out, m->type, m->vm, m->tag, m->body));
	CHECK(out->len >= WIRE_HEADER_SIZE);
	CHECK(out->len <= avail);
	CHECK(memcmp(out->data, frame, out->len) == 0);
	if (g_variant_type_equal(wire_body_type(m->type),
				 G_VARIANT_TYPE_BYTESTRING)) {
		const guint8 *p;
		gsize n;

		p = wire_msg_bytes(m, &n);
		g_byte_array_set_size(out, 0);
		wire_encode_bytes(out, m->type, m->vm, m->tag, p, n);
		CHECK(out->len == WIRE_HEADER_SIZE + n);
		CHECK(memcmp(out->data, frame, out->len) == 0);
	}
	g_byte_array_unref(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_decoder d;
	const guint8 *sizes, *stream;
	gsize nsizes, len, fed = 0, pos = 0, turn = 0;
	gboolean one_at_a_time, failed = FALSE;
	int r = 0;

	if (size < 1)
		return 0;
	nsizes = data[0] & 7;
	one_at_a_time = (data[0] & 8) != 0;
	if (size < 1 + nsizes)
		return 0;
	sizes = data + 1;
	stream = data + 1 + nsizes;
	len = size - 1 - nsizes;

	wire_decoder_init(&d);
	if (data[0] & 16)
		d.max_buffered = 64;

	while (!failed && (fed < len || r == 1)) {
		struct wire_msg msg;
		GError *error = NULL;

		if (fed < len) {
			gsize n = len - fed;

			if (nsizes) {
				guint8 b = sizes[turn++ % nsizes];

				if (b >= 128)
					n = MIN(n, (gsize)(b - 127) * 512);
				else if (b)
					n = MIN(n, b);
			}
			wire_decoder_feed(&d, stream + fed, n);
			fed += n;
		}
		do {
			r = wire_decoder_next(&d, &msg, &error);
			if (r == 1) {
				CHECK(pos + WIRE_HEADER_SIZE <= fed);
				CHECK(msg.type == (stream[pos + 4] << 8 |
						   stream[pos + 5]));
				take_apart(&msg);
				check_reencode(&msg, stream + pos, fed - pos);
				pos += WIRE_HEADER_SIZE +
				       g_variant_get_size(msg.body);
				wire_msg_clear(&msg);
				CHECK(!msg.body);
			} else if (r < 0) {
				CHECK(error && error->domain == WIRE_ERROR);
				CHECK(!msg.body);
				sink += strlen(error->message);
				g_error_free(error);
				/* The stream is unusable: stop. */
				failed = TRUE;
			} else {
				CHECK(!error);
				CHECK(!msg.body);
			}
		} while (r == 1 && !one_at_a_time);
	}

	/*
	 * Everything fed and no error: what is left must be an incomplete
	 * frame, and every byte before it was decoded.
	 */
	if (!failed) {
		gsize left = len - pos;

		CHECK(r == 0);
		CHECK(pos <= len);
		if (left >= WIRE_HEADER_SIZE) {
			guint32 l = (guint32)stream[pos] << 24 |
				    (guint32)stream[pos + 1] << 16 |
				    (guint32)stream[pos + 2] << 8 |
				    stream[pos + 3];

			CHECK(left < WIRE_HEADER_SIZE + (gsize)l);
		}
	}
	wire_decoder_clear(&d);
	return 0;
}

#ifdef STANDALONE

static int
write_seed(const char *dir, const char *name, const guint8 *prefix,
	   gsize prefix_len, const GByteArray *stream)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	g_autoptr(GByteArray) all = g_byte_array_new();
	g_autoptr(GError) error = NULL;

	g_byte_array_append(all, prefix, prefix_len);
	g_byte_array_append(all, stream->data, stream->len);
	if (!g_file_set_contents(path, (const char *)all->data, all->len,
				 &error)) {
		fprintf(stderr, "%s\n", error->message);
		return 1;
	}
	return 0;
}

static void
put_raw(GByteArray *out, guint32 len, guint16 type, const void *body,
	gsize body_len)
{
	guint8 h[WIRE_HEADER_SIZE] = {
		len >> 24, len >> 16, len >> 8, len, type >> 8, type, 0, 1,
		0, 0, 0, 9,
	};

	g_byte_array_append(out, h, sizeof(h));
	g_byte_array_append(out, body, body_len);
}

/* Valid frames of every type, plus a few broken streams. */
static int
make_corpus(const char *dir)
{
	static const char *const argv[] = {"prog", "", "a \"b\" 'c'",
					   "\u00e9\u2603", NULL};
	static const guint8 whole[] = {0};
	static const guint8 bytewise[] = {1, 1};
	static const guint8 mixed[] = {3 | 8, 7, 1, 130};
	static const guint8 tiny_buf[] = {16 | 1, 50};
	static const guint8 as_nonul[] = {'a', 0, 'b', 'c', 'd', 2, 5};
	GVariant *bodies[WIRE_TYPE_MAX] = {NULL};
	g_autoptr(GByteArray) all = g_byte_array_new();
	guint8 chunk[700];
	int err = 0;

	if (g_mkdir_with_parents(dir, 0755) < 0) {
		perror(dir);
		return 1;
	}
	for (gsize i = 0; i < sizeof(chunk); i++)
		chunk[i] = (guint8)(i * 7);

	bodies[WIRE_HELLO] = g_variant_new("(uu)", WIRE_PROTO_VERSION, 4);
	bodies[WIRE_INJECT_BEGIN] = g_variant_new("(su)", "libx.so", 0755);
	bodies[WIRE_INJECT_DATA] = g_variant_new_fixed_array(
		G_VARIANT_TYPE_BYTE, chunk, 100, 1);
	bodies[WIRE_UNINJECT] = g_variant_new_string("libx.so");
	bodies[WIRE_CALL] = g_variant_new_strv(argv, -1);
	bodies[WIRE_READ] = g_variant_new("(uytu)", 7, WIRE_STDERR,
					  (guint64)1 << 33, WIRE_CHUNK);
	bodies[WIRE_WELCOME] = g_variant_new("(usuu)", 1, "node", 8, 1234);
	bodies[WIRE_REPLY] = g_variant_new("(is)", -2, "No such file");
	bodies[WIRE_DATA] = g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE,
						      chunk, 0, 1);
	bodies[WIRE_CALL_STATE] = g_variant_new("(ysitt)", CALL_DONE, "ok",
						0, (guint64)5, (guint64)0);
	bodies[WIRE_VM_STATE] = g_variant_new("(yus)", VM_UP, 42, "up");
	bodies[WIRE_LOG] = g_variant_new("(us)", G_LOG_LEVEL_WARNING, "hm");
	bodies[WIRE_W_LOAD] = g_variant_new_string("/vm0/libx.so");
	bodies[WIRE_W_LOADED] = g_variant_new("(is)", 0, "");
	bodies[WIRE_W_RUN] = g_variant_new("(sss^as^as)", "/c/7", "/c/ended",
					   "", argv, argv);
	bodies[WIRE_W_DONE] = g_variant_new("(yisb)", CALL_DONE, 0, "",
					    TRUE);
	bodies[WIRE_FSOP] = g_variant_new("(ysstu@ay)", FS_WRITE, "dir/f",
		"", (guint64)12, 0644, g_variant_new_fixed_array(
			G_VARIANT_TYPE_BYTE, chunk, 30, 1));
	bodies[WIRE_CANCEL] = g_variant_new_uint32(7);
	bodies[WIRE_FORGET] = g_variant_new_uint32(8);
	bodies[WIRE_OBJ_DESTROY] = g_variant_new_uint32(3);
	bodies[WIRE_STAT] = g_variant_new("(uttu)", 0100644, (guint64)12,
					  (guint64)1700000000, 1);
	bodies[WIRE_LIST] = g_variant_new_parsed(
		"([('a', uint32 33188, uint64 1, uint64 2), "
		"('sub', 16877, 0, 3)], true)");
	bodies[WIRE_TEXT] = g_variant_new_string("cores: 8\nloadavg: 0.1 "
						 "0.2 0.3\n");
	bodies[WIRE_FUNCS] = g_variant_new_parsed(
		"[('echo', 'built-in', 'echo ARG...: print them', '', ''), "
		"('foo', 'basic.so', '', 'ab12', 'built-in'), "
		"('hello', 'program', '', 'cd34', 'basic.so, built-in')]");
	bodies[WIRE_OBJECTS] = g_variant_new_parsed(
		"[(uint32 1, 'Stack', '[a b]'), (2, 'Stack', '')]");
	bodies[WIRE_W_OBJECTS] = g_variant_new_parsed("@a(uss) []");
	bodies[WIRE_W_DESTROY] = g_variant_new_uint32(3);
	bodies[WIRE_W_DESTROYED] = g_variant_new("(uis)", 3, 2,
						 "no such object");

	bodies[WIRE_STDIN] = g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE,
						       "b\na\n", 4, 1);
	bodies[WIRE_ATTACH] = g_variant_new("(uusu)", WIRE_PROTO_VERSION, 4,
		"0123456789abcdef0123456789abcdef", 60);
	bodies[WIRE_SYNCED] = g_variant_new("(bu)", TRUE, 12);
	bodies[WIRE_RESULT] = g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE,
							"42\n", 3, 1);
	bodies[WIRE_CACHE_HAVE] = g_variant_new_string(
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
	bodies[WIRE_CACHE_PUT] = g_variant_new("(st)",
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		(guint64)4);
	bodies[WIRE_INJECT_CACHED] = g_variant_new("(ssu)", "libx.so",
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		0755);
	for (guint t = 1; t < WIRE_TYPE_MAX; t++) {
		g_autoptr(GByteArray) one = g_byte_array_new();
		g_autofree char *name = g_strdup_printf("type-%02u-%s", t,
							wire_type_name(t));

		/* NULL bodies are "()"; the others are consumed. */
		if (!wire_encode(one, t, t & 3, t * 11, bodies[t]))
			return 1;
		g_byte_array_append(all, one->data, one->len);
		err |= write_seed(dir, name, whole, sizeof(whole), one);
	}
	wire_encode_bytes(all, WIRE_DATA, 1, 2, chunk, sizeof(chunk));
	err |= write_seed(dir, "all-whole", whole, sizeof(whole), all);
	err |= write_seed(dir, "all-bytewise", bytewise, sizeof(bytewise), all);
	err |= write_seed(dir, "all-mixed", mixed, sizeof(mixed), all);

	{
		g_autoptr(GByteArray) s = g_byte_array_new();

		wire_encode(s, WIRE_PING, 0, 1, NULL);
		put_raw(s, 1, 0, "", 1);
		err |= write_seed(dir, "bad-type-0", whole, 1, s);
		g_byte_array_set_size(s, 0);
		put_raw(s, 1, 0xffff, "", 1);
		err |= write_seed(dir, "bad-type-ffff", whole, 1, s);
		g_byte_array_set_size(s, 0);
		put_raw(s, WIRE_MAX_BODY + 1, WIRE_DATA, "", 0);
		err |= write_seed(dir, "bad-oversize", whole, 1, s);
		g_byte_array_set_size(s, 0);
		put_raw(s, sizeof(as_nonul), WIRE_CALL, as_nonul,
			sizeof(as_nonul));
		err |= write_seed(dir, "bad-as-nonul", whole, 1, s);
		g_byte_array_set_size(s, 0);
		wire_encode_bytes(s, WIRE_DATA, 0, 3, chunk, 200);
		g_byte_array_set_size(s, s->len - 50);
		err |= write_seed(dir, "truncated", whole, 1, s);
		err |= write_seed(dir, "overflow", tiny_buf, sizeof(tiny_buf),
				  s);
	}
	return err;
}

static int
run_file(const char *path)
{
	g_autofree char *buf = NULL;
	g_autoptr(GError) error = NULL;
	gsize len;

	if (!g_file_get_contents(path, &buf, &len, &error)) {
		fprintf(stderr, "%s\n", error->message);
		return 1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
	return 0;
}

int
main(int argc, char **argv)
{
	int n = 0, err = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	if (argc == 3 && strcmp(argv[1], "--make-corpus") == 0)
		return make_corpus(argv[2]);
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n"
				"       %s --make-corpus DIR\n",
			argv[0], argv[0]);
		return 2;
	}
	for (int a = 1; a < argc; a++) {
		if (g_file_test(argv[a], G_FILE_TEST_IS_DIR)) {
			g_autoptr(GDir) dir = g_dir_open(argv[a], 0, NULL);
			const char *name;

			if (!dir) {
				perror(argv[a]);
				err = 1;
				continue;
			}
			while ((name = g_dir_read_name(dir))) {
				g_autofree char *path =
					g_build_filename(argv[a], name, NULL);

				if (!g_file_test(path, G_FILE_TEST_IS_REGULAR))
					continue;
				err |= run_file(path);
				n++;
			}
		} else {
			err |= run_file(argv[a]);
			n++;
		}
	}
	printf("ran %d inputs\n", n);
	return err || n == 0;
}
#endif
