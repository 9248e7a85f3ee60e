/*
 * test-wire.c - unit tests for the frame codec in utils/wire.c.
 */
#include "wire.h"

#include <string.h>

/* wire.c defines no G_LOG_DOMAIN of its own. */
#define WIRE_LOG_DOMAIN NULL

/* A decoded message, kept for comparing two decodes of one stream. */
struct got {
	guint type, vm;
	guint32 tag;
	GVariant *body;
};

static void
got_free(gpointer p)
{
	struct got *g = p;

	g_variant_unref(g->body);
	g_free(g);
}

/*
 * Representative bodies, as GVariant text, for every message type.  Each
 * is parsed with the type's body type, so a typo fails loudly.
 */
static const struct {
	guint type;
	const char *text;
} samples[] = {
	{WIRE_HELLO, "(1, 4)"},
	{WIRE_HELLO, "(0, 4294967295)"},
	{WIRE_INJECT_BEGIN, "('libfoo.so', 0755)"},
	{WIRE_INJECT_BEGIN, "('', 0)"},
	{WIRE_INJECT_BEGIN, "('dir/\"quoted\" name \\'x\\' \u00e9\u4e2d\U0001F600', 0644)"},
	{WIRE_INJECT_DATA, "b'some file bytes'"},
	{WIRE_INJECT_DATA, "@ay []"},
	{WIRE_INJECT_DATA, "[byte 0, 1, 0, 255]"},
	{WIRE_INJECT_END, "()"},
	{WIRE_INJECT_ABORT, "()"},
	{WIRE_UNINJECT, "'libfoo.so'"},
	{WIRE_UNINJECT, "''"},
	{WIRE_CALL, "['prog', '--flag', 'arg with spaces', '\"dq\"', '\\'sq\\'', '', '\u00fcnic\u00f8de \u2603', '']"},
	{WIRE_CALL, "@as []"},
	{WIRE_CALL, "['']"},
	{WIRE_READ, "(7, 0, 0, 65536)"},
	{WIRE_READ, "(4294967295, 1, 18446744073709551615, 4294967295)"},
	{WIRE_PING, "()"},
	{WIRE_SHUTDOWN, "()"},
	{WIRE_WELCOME, "(1, 'node-a.example.org', 64, 4242)"},
	{WIRE_WELCOME, "(1, '', 0, 0)"},
	{WIRE_REPLY, "(0, '')"},
	{WIRE_REPLY, "(-2, 'No such file or directory')"},
	{WIRE_REPLY, "(-2147483648, '\u00e9chec: \"x\"')"},
	{WIRE_DATA, "b'hello\\nworld\\n'"},
	{WIRE_DATA, "@ay []"},
	{WIRE_CALL_STATE, "(byte 2, 'exited', 0, 12345, 0)"},
	{WIRE_CALL_STATE, "(byte 3, '', -1, 18446744073709551615, 1)"},
	{WIRE_VM_STATE, "(byte 1, 9876, 'up')"},
	{WIRE_VM_STATE, "(byte 2, 0, '')"},
	{WIRE_PONG, "()"},
	{WIRE_LOG, "(16, 'warning: \u2603 disk 99% full')"},
	{WIRE_LOG, "(0, '')"},
	{WIRE_W_LOAD, "'/var/lib/trickle/vm0/libfoo.so'"},
	{WIRE_W_LOADED, "(0, '')"},
	{WIRE_W_LOADED, "(-8, 'Exec format error')"},
	{WIRE_W_RUN, "('/tmp/call-1', '/tmp/ended', '', ['prog', '', 'a b', '\u4e2d\u6587'], ['A=1', 'B='])"},
	{WIRE_W_RUN, "('/tmp/call-2', '', '/bin/\u00e9 x', ['x', '\"q\"'], @as [])"},
	{WIRE_W_RUN, "('', '', '', @as [], @as [])"},
	{WIRE_FSOP, "(byte 0, 'names', '', uint64 0, uint32 0, @ay [])"},
	{WIRE_FSOP, "(byte 4, 'dir/new file', '', uint64 0, uint32 420, @ay [])"},
	{WIRE_FSOP, "(byte 3, 'x', '', uint64 1099511627776, uint32 0, [byte 0, 1, 255])"},
	{WIRE_FSOP, "(byte 9, 'a', 'b/c', uint64 0, uint32 0, @ay [])"},
	{WIRE_CANCEL, "uint32 7"},
	{WIRE_FORGET, "uint32 4294967295"},
	{WIRE_RESTART, "()"},
	{WIRE_INFO, "()"},
	{WIRE_OBJ_DESTROY, "uint32 3"},
	{WIRE_STAT, "(uint32 33188, uint64 12, uint64 1795283870, uint32 1)"},
	{WIRE_LIST, "([('names', uint32 33188, uint64 12, uint64 1), ('d', 16877, 0, 2)], false)"},
	{WIRE_LIST, "(@a(sutt) [], true)"},
	{WIRE_TEXT, "'loadavg: 0.00 0.01 0.05\\n'"},
	{WIRE_FUNCS, "[('echo', 'built-in', 'print the arguments', '', ''), ('foo', 'basic.so', '', 'ab12', 'built-in')]"},
	{WIRE_FUNCS, "@a(sssss) []"},
	{WIRE_OBJECTS, "[(uint32 3, 'Stack', '[A B]')]"},
	{WIRE_W_OBJECTS, "@a(uss) []"},
	{WIRE_W_DESTROY, "uint32 3"},
	{WIRE_W_DESTROYED, "(uint32 3, 0, '')"},
	{WIRE_W_DONE, "(byte 2, 0, '', true)"},
	{WIRE_W_DONE, "(byte 3, 139, 'killed by signal 11', false)"},
	{WIRE_ATTACH, "(uint32 2, uint32 4, '0123456789abcdef0123456789abcdef', uint32 60)"},
	{WIRE_ATTACH, "(uint32 2, uint32 1, '', uint32 0)"},
	{WIRE_SYNCED, "(true, uint32 12)"},
	{WIRE_SYNCED, "(false, uint32 0)"},
	{WIRE_RESULT, "b'42\\n'"},
	{WIRE_RESULT, "@ay []"},
	{WIRE_STDIN, "b'b\\na\\n'"},
	{WIRE_STDIN, "@ay []"},
	{WIRE_CACHE_HAVE, "'9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'"},
	{WIRE_CACHE_HAVE, "''"},
	{WIRE_CACHE_PUT, "('9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', uint64 1048576)"},
	{WIRE_CACHE_PUT, "('', uint64 0)"},
	{WIRE_INJECT_CACHED, "('libfoo.so', '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', uint32 0755)"},
	{WIRE_INJECT_CACHED, "('', '', uint32 0)"},
	{WIRE_SHARE, "(true, uint32 2, uint32 1, uint32 3, uint32 8, uint32 0)"},
	{WIRE_CKPT_TAKE, "(uint32 1, uint32 15000, uint32 1)"},
	{WIRE_CKPT_RESTORE, "(uint32 3, uint32 0, uint32 0)"},
	{WIRE_CKPT_READ, "(uint32 2, uint64 262144, uint32 262144)"},
	{WIRE_CKPT_REMOVE, "uint32 7"},
	{WIRE_CKPT_PUT, "(uint32 4, uint64 1048576)"},
	{WIRE_W_SAVE, "[('/s/vm0/inject/a.so', '/s/vm0/ckpt/0')]"},
	{WIRE_W_SAVE, "@a(ss) []"},
	{WIRE_W_SAVED, "(95, 'a.so has no trickle_save')"},
	{WIRE_W_RESTORE, "[('/s/vm0/inject/a.so', '/s/vm0/ckpt/0')]"},
	{WIRE_W_RESTORED, "(0, '')"},
	{WIRE_VM_ADD, "uint32 2"},
	{WIRE_INJECT_CACHED_VMS, "('libfoo.so', '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', uint32 0755, [uint32 0, 1, 999])"},
	{WIRE_INJECT_CACHED_VMS, "('', '', uint32 0, @au [])"},
};

static GVariant *
sample_body(gsize i)
{
	g_autoptr(GError) error = NULL;
	GVariant *v;

	v = g_variant_parse(wire_body_type(samples[i].type), samples[i].text,
			    NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(v);
	g_assert_false(g_variant_is_floating(v));	/* parse returns a ref */
	return v;
}

/* Frames a 12-byte header by hand, for frames the encoder won't write. */
static void
put_raw(GByteArray *out, guint32 len, guint16 type, guint16 vm, guint32 tag,
	const void *body, gsize body_len)
{
	guint32 l = GUINT32_TO_BE(len), g = GUINT32_TO_BE(tag);
	guint16 t = GUINT16_TO_BE(type), v = GUINT16_TO_BE(vm);

	g_byte_array_append(out, (guint8 *)&l, 4);
	g_byte_array_append(out, (guint8 *)&t, 2);
	g_byte_array_append(out, (guint8 *)&v, 2);
	g_byte_array_append(out, (guint8 *)&g, 4);
	if (body_len)
		g_byte_array_append(out, body, body_len);
}

/* Decodes everything in the decoder; asserts the stream ends cleanly. */
static void
drain(struct wire_decoder *d, GPtrArray *into)
{
	struct wire_msg msg;
	GError *error = NULL;
	int r;

	while ((r = wire_decoder_next(d, &msg, &error)) == 1) {
		struct got *g = g_new0(struct got, 1);

		g_assert_nonnull(msg.body);
		g_assert_true(g_variant_is_of_type(msg.body,
						   wire_body_type(msg.type)));
		g->type = msg.type;
		g->vm = msg.vm;
		g->tag = msg.tag;
		g->body = g_variant_ref(msg.body);
		wire_msg_clear(&msg);
		g_assert_null(msg.body);
		g_ptr_array_add(into, g);
	}
	g_assert_no_error(error);
	g_assert_cmpint(r, ==, 0);
	g_assert_null(msg.body);
}

static void
assert_same(GPtrArray *a, GPtrArray *b)
{
	g_assert_cmpuint(a->len, ==, b->len);
	for (guint i = 0; i < a->len; i++) {
		struct got *x = a->pdata[i], *y = b->pdata[i];

		g_assert_cmpuint(x->type, ==, y->type);
		g_assert_cmpuint(x->vm, ==, y->vm);
		g_assert_cmpuint(x->tag, ==, y->tag);
		g_assert_true(g_variant_equal(x->body, y->body));
	}
}

/* Expects exactly one frame in stream, and returns it. */
static void
decode_one(const GByteArray *stream, struct wire_msg *msg)
{
	struct wire_decoder d;
	struct wire_msg extra;
	GError *error = NULL;

	wire_decoder_init(&d);
	wire_decoder_feed(&d, stream->data, stream->len);
	g_assert_cmpint(wire_decoder_next(&d, msg, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_cmpint(wire_decoder_next(&d, &extra, &error), ==, 0);
	g_assert_no_error(error);
	wire_decoder_clear(&d);
}

/* Feeds bytes to a fresh decoder and expects an error on the first frame. */
static void
expect_reject(const void *data, gsize len, gint code)
{
	struct wire_decoder d;
	struct wire_msg msg;
	g_autoptr(GError) error = NULL;

	wire_decoder_init(&d);
	wire_decoder_feed(&d, data, len);
	g_assert_cmpint(wire_decoder_next(&d, &msg, &error), ==, -1);
	g_assert_error(error, WIRE_ERROR, code);
	g_assert_null(msg.body);
	/* The decoder is not used after an error; only cleared. */
	wire_decoder_clear(&d);
	g_assert_null(d.data);
}

static void
expect_reject_body(guint16 type, const void *body, gsize len)
{
	g_autoptr(GByteArray) f = g_byte_array_new();

	put_raw(f, len, type, 0, 1, body, len);
	expect_reject(f->data, f->len, WIRE_ERROR_MALFORMED);
}

static void
test_names(void)
{
	guint t;

	g_assert_cmpstr(wire_type_name(0), ==, "UNKNOWN");
	g_assert_cmpstr(wire_type_name(WIRE_TYPE_MAX), ==, "UNKNOWN");
	g_assert_cmpstr(wire_type_name(0xffff), ==, "UNKNOWN");
	g_assert_cmpstr(wire_type_name(G_MAXUINT), ==, "UNKNOWN");
	g_assert_null(wire_body_type(0));
	g_assert_null(wire_body_type(WIRE_TYPE_MAX));
	g_assert_null(wire_body_type(0xffff));
	g_assert_cmpstr(wire_type_name(WIRE_HELLO), ==, "HELLO");
	g_assert_cmpstr(wire_type_name(WIRE_W_DONE), ==, "W_DONE");

	for (t = 1; t < WIRE_TYPE_MAX; t++) {
		const GVariantType *bt = wire_body_type(t);

		g_assert_cmpstr(wire_type_name(t), !=, "UNKNOWN");
		g_assert_nonnull(bt);
		g_assert_true(g_variant_type_is_definite(bt));
	}
	g_assert_true(g_variant_type_equal(wire_body_type(WIRE_DATA),
					   G_VARIANT_TYPE_BYTESTRING));
	g_assert_true(g_variant_type_equal(wire_body_type(WIRE_INJECT_DATA),
					   G_VARIANT_TYPE_BYTESTRING));
	g_assert_true(g_variant_type_equal(wire_body_type(WIRE_CALL),
					   G_VARIANT_TYPE_STRING_ARRAY));

	g_assert_cmpstr(wire_call_state_name(CALL_QUEUED), ==, "queued");
	g_assert_cmpstr(wire_call_state_name(CALL_FAILED), ==, "failed");
	g_assert_cmpstr(wire_call_state_name(CALL_STATE_MAX), ==, "unknown");
	g_assert_cmpstr(wire_call_state_name(G_MAXUINT), ==, "unknown");
	g_assert_cmpstr(wire_vm_state_name(VM_STARTING), ==, "starting");
	g_assert_cmpstr(wire_vm_state_name(VM_DOWN), ==, "down");
	g_assert_cmpstr(wire_vm_state_name(VM_STATE_MAX), ==, "unknown");
}

/* Every type has at least one sample. */
static void
test_samples_cover_all_types(void)
{
	gboolean seen[WIRE_TYPE_MAX] = {FALSE};

	for (gsize i = 0; i < G_N_ELEMENTS(samples); i++)
		seen[samples[i].type] = TRUE;
	for (guint t = 1; t < WIRE_TYPE_MAX; t++) {
		if (!seen[t])
			g_test_message("no sample for %s", wire_type_name(t));
		g_assert_true(seen[t]);
	}
}

static void
test_roundtrip_each(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(samples); i++) {
		g_autoptr(GVariant) body = sample_body(i);
		g_autoptr(GByteArray) out = g_byte_array_new();
		struct wire_msg msg;
		guint16 vm = (guint16)(i * 7919);
		guint32 tag = (guint32)(i * 2654435761u);

		g_assert_true(wire_encode(out, samples[i].type, vm, tag, body));
		g_assert_cmpuint(out->len, ==,
				 WIRE_HEADER_SIZE + g_variant_get_size(body));
		/* Header: big endian length, type, vm, tag. */
		g_assert_cmpuint(GUINT32_FROM_BE(*(guint32 *)out->data), ==,
				 g_variant_get_size(body));
		g_assert_cmpuint(out->data[4], ==, samples[i].type >> 8);
		g_assert_cmpuint(out->data[5], ==, samples[i].type & 0xff);
		g_assert_cmpuint(out->data[6], ==, vm >> 8);
		g_assert_cmpuint(out->data[7], ==, vm & 0xff);
		g_assert_cmpuint(out->data[8], ==, tag >> 24);
		g_assert_cmpuint(out->data[11], ==, tag & 0xff);

		decode_one(out, &msg);
		g_assert_cmpuint(msg.type, ==, samples[i].type);
		g_assert_cmpuint(msg.vm, ==, vm);
		g_assert_cmpuint(msg.tag, ==, tag);
		if (!g_variant_equal(msg.body, body)) {
			g_autofree char *a = g_variant_print(body, TRUE);
			g_autofree char *b = g_variant_print(msg.body, TRUE);

			g_error("%s: sent %s, got %s",
				wire_type_name(samples[i].type), a, b);
		}
		wire_msg_clear(&msg);
	}
}

/* Encoding NULL means "()"; floating bodies are consumed. */
static void
test_roundtrip_null_and_floating(void)
{
	static const guint unit_types[] = {WIRE_INJECT_END, WIRE_INJECT_ABORT,
					   WIRE_PING, WIRE_SHUTDOWN,
					   WIRE_PONG};
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func(got_free);
	struct wire_decoder d;
	const char *s;
	guint32 u1, u2;

	for (gsize i = 0; i < G_N_ELEMENTS(unit_types); i++)
		g_assert_true(wire_encode(out, unit_types[i], 0, (guint32)i,
					  NULL));
	/* "()" serialises as a single zero byte. */
	g_assert_cmpuint(out->len, ==,
			 G_N_ELEMENTS(unit_types) * (WIRE_HEADER_SIZE + 1));

	/* Floating: consumed (ASan/valgrind would see a leak otherwise). */
	g_assert_true(wire_encode(out, WIRE_HELLO, 3, 99,
				  g_variant_new("(uu)", WIRE_PROTO_VERSION, 8)));
	g_assert_true(wire_encode(out, WIRE_UNINJECT, 0, 100,
				  g_variant_new_string("x")));

	wire_decoder_init(&d);
	wire_decoder_feed(&d, out->data, out->len);
	drain(&d, got);
	wire_decoder_clear(&d);

	g_assert_cmpuint(got->len, ==, G_N_ELEMENTS(unit_types) + 2);
	for (gsize i = 0; i < G_N_ELEMENTS(unit_types); i++) {
		struct got *g = got->pdata[i];

		g_assert_cmpuint(g->type, ==, unit_types[i]);
		g_assert_cmpuint(g->tag, ==, i);
		g_assert_cmpstr(g_variant_get_type_string(g->body), ==, "()");
	}
	g_variant_get(((struct got *)got->pdata[5])->body, "(uu)", &u1, &u2);
	g_assert_cmpuint(u1, ==, WIRE_PROTO_VERSION);
	g_assert_cmpuint(u2, ==, 8);
	g_assert_cmpuint(((struct got *)got->pdata[5])->vm, ==, 3);
	g_variant_get(((struct got *)got->pdata[6])->body, "&s", &s);
	g_assert_cmpstr(s, ==, "x");
}

/* The accessors a receiver uses, on decoded bodies. */
static void
test_roundtrip_accessors(void)
{
	static const char *const argv[] = {
		"prog", "", "with \"double\" quotes", "with 'single' quotes",
		"back\\slash", "tab\tnew\nline", "\u00fcnic\u00f8de \u2603",
		"\U0001F600", "", NULL,
	};
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func(got_free);
	struct wire_decoder d;
	g_autofree const char **av = NULL;
	const char *s, *s2, *s3;
	guint8 y;
	gint32 i;
	guint32 u, u2;
	guint64 t1, t2;

	g_assert_true(wire_encode(out, WIRE_CALL, 2, 77,
				  g_variant_new_strv(argv, -1)));
	g_assert_true(wire_encode(out, WIRE_W_RUN, 2, 77,
				  g_variant_new("(sss^as^as)", "/c/77",
						"/c/ended", "", argv, argv)));
	g_assert_true(wire_encode(out, WIRE_READ, 2, 78,
				  g_variant_new("(uytu)", 77, WIRE_STDERR,
						(guint64)1 << 40, WIRE_CHUNK)));
	g_assert_true(wire_encode(out, WIRE_CALL_STATE, 2, 77,
				  g_variant_new("(ysitt)", CALL_DONE, "exit",
						-3, G_MAXUINT64, 0)));
	g_assert_true(wire_encode(out, WIRE_REPLY, 0, 5,
				  g_variant_new("(is)", -22, "Invalid argument")));

	wire_decoder_init(&d);
	wire_decoder_feed(&d, out->data, out->len);
	drain(&d, got);
	wire_decoder_clear(&d);
	g_assert_cmpuint(got->len, ==, 5);

	g_variant_get(((struct got *)got->pdata[0])->body, "^a&s", &av);
	g_assert_cmpstrv(av, argv);
	g_clear_pointer(&av, g_free);

	g_variant_get(((struct got *)got->pdata[1])->body, "(&s&s&s^a&s@as)",
		      &s, &s3, &s2, &av, NULL);
	g_assert_cmpstr(s, ==, "/c/77");
	g_assert_cmpstr(s3, ==, "/c/ended");
	g_assert_cmpstr(s2, ==, "");
	g_assert_cmpstrv(av, argv);

	g_variant_get(((struct got *)got->pdata[2])->body, "(uytu)", &u, &y,
		      &t1, &u2);
	g_assert_cmpuint(u, ==, 77);
	g_assert_cmpuint(y, ==, WIRE_STDERR);
	g_assert_cmpuint(t1, ==, (guint64)1 << 40);
	g_assert_cmpuint(u2, ==, WIRE_CHUNK);

	g_variant_get(((struct got *)got->pdata[3])->body, "(y&sitt)", &y, &s,
		      &i, &t1, &t2);
	g_assert_cmpuint(y, ==, CALL_DONE);
	g_assert_cmpstr(s, ==, "exit");
	g_assert_cmpint(i, ==, -3);
	g_assert_cmpuint(t1, ==, G_MAXUINT64);
	g_assert_cmpuint(t2, ==, 0);

	g_variant_get(((struct got *)got->pdata[4])->body, "(i&s)", &i, &s);
	g_assert_cmpint(i, ==, -22);
	g_assert_cmpstr(s, ==, "Invalid argument");
}

/* wire_encode_bytes for empty, odd and WIRE_CHUNK-sized ay bodies. */
static void
test_roundtrip_bytes(void)
{
	static const gsize sizes[] = {0, 1, 2, 7, 4095, 4096, 65537,
				      WIRE_CHUNK - 1, WIRE_CHUNK,
				      WIRE_MAX_BODY};
	g_autofree guint8 *data = g_malloc(WIRE_MAX_BODY);
	g_autoptr(GRand) rand = g_rand_new_with_seed(0x77697265);

	for (gsize i = 0; i < WIRE_MAX_BODY; i++)
		data[i] = (guint8)g_rand_int(rand);

	for (gsize k = 0; k < G_N_ELEMENTS(sizes); k++) {
		guint type = k & 1 ? WIRE_DATA : WIRE_INJECT_DATA;
		g_autoptr(GByteArray) a = g_byte_array_new();
		g_autoptr(GByteArray) b = g_byte_array_new();
		struct wire_msg msg;
		const guint8 *p;
		gsize len = 12345;

		wire_encode_bytes(a, type, 1, (guint32)k,
				  sizes[k] ? data : NULL, sizes[k]);
		g_assert_cmpuint(a->len, ==, WIRE_HEADER_SIZE + sizes[k]);

		/* Same bytes as going through a GVariant. */
		g_assert_true(wire_encode(b, type, 1, (guint32)k,
					  g_variant_new_fixed_array(
						  G_VARIANT_TYPE_BYTE, data,
						  sizes[k], 1)));
		g_assert_cmpmem(a->data, a->len, b->data, b->len);

		decode_one(a, &msg);
		g_assert_cmpuint(msg.type, ==, type);
		g_assert_cmpuint(msg.tag, ==, k);
		p = wire_msg_bytes(&msg, &len);
		g_assert_cmpuint(len, ==, sizes[k]);
		if (sizes[k])
			g_assert_cmpmem(p, len, data, sizes[k]);
		wire_msg_clear(&msg);
	}
}

/* Bodies up to WIRE_MAX_BODY encode; larger ones are refused. */
static void
test_encode_too_large(void)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autofree guint8 *data = g_malloc0(WIRE_MAX_BODY + 1);
	g_autoptr(GVariant) big = NULL;

	big = g_variant_ref_sink(g_variant_new_fixed_array(
		G_VARIANT_TYPE_BYTE, data, WIRE_MAX_BODY + 1, 1));
	g_test_expect_message(WIRE_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL,
			      "*DATA body of*bytes*");
	g_assert_false(wire_encode(out, WIRE_DATA, 0, 0, big));
	g_test_assert_expected_messages();
	g_assert_cmpuint(out->len, ==, 0);

	g_test_expect_message(WIRE_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL,
			      "*wire_encode_bytes*assertion*failed*");
	wire_encode_bytes(out, WIRE_DATA, 0, 0, data, WIRE_MAX_BODY + 1);
	g_test_assert_expected_messages();
	g_assert_cmpuint(out->len, ==, 0);
}

/* wire_encode refuses a body of the wrong type, appending nothing. */
static void
test_encode_wrong_type(void)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GVariant) kept = NULL;

	wire_encode(out, WIRE_PING, 0, 0, NULL);
	g_assert_cmpuint(out->len, ==, WIRE_HEADER_SIZE + 1);

	/* Floating and refused: still consumed. */
	g_test_expect_message(WIRE_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL,
			      "wire: HELLO body of type (ss)");
	g_assert_false(wire_encode(out, WIRE_HELLO, 0, 1,
				   g_variant_new("(ss)", "a", "b")));
	g_test_assert_expected_messages();

	/* Not floating and refused: the caller's reference is untouched. */
	kept = g_variant_ref_sink(g_variant_new_string("not as"));
	g_test_expect_message(WIRE_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL,
			      "wire: CALL body of type s");
	g_assert_false(wire_encode(out, WIRE_CALL, 0, 1, kept));
	g_test_assert_expected_messages();
	g_assert_cmpstr(g_variant_get_string(kept, NULL), ==, "not as");

	/* NULL is "()", which is wrong for a DATA. */
	g_test_expect_message(WIRE_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL,
			      "wire: DATA body of type ()");
	g_assert_false(wire_encode(out, WIRE_DATA, 0, 1, NULL));
	g_test_assert_expected_messages();

	/* Unknown types have no right body. */
	g_test_expect_message(WIRE_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL,
			      "wire: UNKNOWN body of type ()");
	g_assert_false(wire_encode(out, 0, 0, 1, NULL));
	g_test_assert_expected_messages();
	g_test_expect_message(WIRE_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL,
			      "wire: UNKNOWN body of type ()");
	g_assert_false(wire_encode(out, WIRE_TYPE_MAX, 0, 1, NULL));
	g_test_assert_expected_messages();

	/* A variant value would be a valid "v", but never an "s". */
	g_test_expect_message(WIRE_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL,
			      "wire: W_LOAD body of type v");
	g_assert_false(wire_encode(out, WIRE_W_LOAD, 0, 1,
				   g_variant_new_variant(
					   g_variant_new_string("x"))));
	g_test_assert_expected_messages();

	/* wire_encode_bytes only does ay types. */
	g_test_expect_message(WIRE_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL,
			      "*wire_encode_bytes*assertion*failed*");
	wire_encode_bytes(out, WIRE_UNINJECT, 0, 0, "abc", 3);
	g_test_assert_expected_messages();
	g_test_expect_message(WIRE_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL,
			      "*wire_encode_bytes*assertion*failed*");
	wire_encode_bytes(out, 0xffff, 0, 0, "abc", 3);
	g_test_assert_expected_messages();

	g_assert_cmpuint(out->len, ==, WIRE_HEADER_SIZE + 1);
}

/* A body that GVariant can read but that is not in normal form is sent
 * as is by g_variant_store(); wire_encode must normalise it. */
static void
test_encode_normalises(void)
{
	/* (is) with a string that is not NUL-terminated. */
	static const guint8 bad[] = {1, 0, 0, 0, 'a', 'b'};
	g_autoptr(GBytes) bytes = g_bytes_new_static(bad, sizeof(bad));
	g_autoptr(GVariant) v = g_variant_ref_sink(g_variant_new_from_bytes(
		G_VARIANT_TYPE("(is)"), bytes, FALSE));
	g_autoptr(GByteArray) out = g_byte_array_new();
	struct wire_msg msg;

	g_assert_false(g_variant_is_normal_form(v));
	g_assert_true(wire_encode(out, WIRE_REPLY, 0, 1, v));
	decode_one(out, &msg);
	g_assert_true(g_variant_equal(msg.body, v));
	wire_msg_clear(&msg);
}

/* A stream of every sample, some big ay frames and some unit frames. */
static GByteArray *
make_stream(gboolean with_big)
{
	GByteArray *out = g_byte_array_new();
	g_autoptr(GRand) rand = g_rand_new_with_seed(42);
	g_autofree guint8 *data = g_malloc(WIRE_CHUNK);

	for (gsize i = 0; i < WIRE_CHUNK; i++)
		data[i] = (guint8)g_rand_int(rand);
	for (int round = 0; round < 3; round++) {
		for (gsize i = 0; i < G_N_ELEMENTS(samples); i++) {
			g_autoptr(GVariant) b = sample_body(i);

			g_assert_true(wire_encode(out, samples[i].type,
						  (guint16)round,
						  (guint32)(round * 1000 + i),
						  b));
			if (i % 5 == 0)
				wire_encode(out, WIRE_PING, 0, (guint32)i,
					    NULL);
		}
		wire_encode_bytes(out, WIRE_DATA, 1, 7, data,
				  with_big ? WIRE_CHUNK : 1000);
		wire_encode_bytes(out, WIRE_INJECT_DATA, 1, 7, NULL, 0);
	}
	return out;
}

static void
decode_all_at_once(const GByteArray *stream, GPtrArray *got)
{
	struct wire_decoder d;

	wire_decoder_init(&d);
	wire_decoder_feed(&d, stream->data, stream->len);
	drain(&d, got);
	g_assert_cmpuint(d.len - d.start, ==, 0);
	wire_decoder_clear(&d);
}

static void
test_split_bytewise(void)
{
	g_autoptr(GByteArray) stream = make_stream(TRUE);
	g_autoptr(GPtrArray) ref = g_ptr_array_new_with_free_func(got_free);
	g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func(got_free);
	struct wire_decoder d;

	decode_all_at_once(stream, ref);
	g_assert_cmpuint(ref->len, ==, 3 * (G_N_ELEMENTS(samples) +
					    (G_N_ELEMENTS(samples) + 4) / 5 +
					    2));

	wire_decoder_init(&d);
	for (guint i = 0; i < stream->len; i++) {
		wire_decoder_feed(&d, stream->data + i, 1);
		drain(&d, got);
	}
	wire_decoder_clear(&d);
	assert_same(ref, got);
}

static void
test_split_random(void)
{
	g_autoptr(GByteArray) stream = make_stream(TRUE);
	g_autoptr(GPtrArray) ref = g_ptr_array_new_with_free_func(got_free);
	g_autoptr(GRand) rand = g_rand_new_with_seed(20240607);

	decode_all_at_once(stream, ref);
	for (int round = 0; round < 100; round++) {
		g_autoptr(GPtrArray) got =
			g_ptr_array_new_with_free_func(got_free);
		struct wire_decoder d;
		guint off = 0;
		/* Mostly small pieces, sometimes huge ones. */
		guint32 max = round % 4 == 0 ? 300000 : round % 4 == 1 ? 64 : 5000;

		wire_decoder_init(&d);
		while (off < stream->len) {
			guint n = (guint)g_rand_int_range(rand, 0, max + 1);

			n = MIN(n, stream->len - off);

			wire_decoder_feed(&d, stream->data + off, n);
			off += n;
			/*
			 * Usually drain, sometimes take one message or none, as
			 * a receiver that yields to its main loop would.
			 */
			switch (g_rand_int_range(rand, 0, 4)) {
			case 0: {
				struct wire_msg msg;
				GError *error = NULL;
				int r = wire_decoder_next(&d, &msg, &error);

				g_assert_no_error(error);
				g_assert_cmpint(r, >=, 0);
				if (r == 1) {
					struct got *g = g_new0(struct got, 1);

					g->type = msg.type;
					g->vm = msg.vm;
					g->tag = msg.tag;
					g->body = g_variant_ref(msg.body);
					wire_msg_clear(&msg);
					g_ptr_array_add(got, g);
				}
				break;
			}
			case 1:
				break;
			default:
				drain(&d, got);
			}
		}
		drain(&d, got);
		wire_decoder_clear(&d);
		assert_same(ref, got);
	}
}

/*
 * Large bodies are handed out without a copy (the decoder gives up its
 * buffer to them): a big tuple body (FSOP, aligned to 8 though the buffer
 * has it at offset 12) and big ay bodies, each followed by small frames in
 * the same feed, keep their bytes after later feeds reuse the decoder.
 */
static void
test_big_bodies_kept(void)
{
	g_autoptr(GByteArray) stream = g_byte_array_new();
	g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func(got_free);
	g_autofree guint8 *data = g_malloc(WIRE_CHUNK);
	g_autoptr(GRand) rand = g_rand_new_with_seed(12);
	struct wire_decoder d;
	guint i, off = 0;

	for (i = 0; i < WIRE_CHUNK; i++)
		data[i] = (guint8)g_rand_int(rand);
	for (i = 0; i < 4; i++) {
		GVariant *b = g_variant_new("(ysstu@ay)", (guint8)1, "w",
			"f", (guint64)i, (guint32)0,
			g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE,
				data + i, WIRE_CHUNK - 64, 1));

		g_assert_true(wire_encode(stream, WIRE_FSOP, 1, i, b));
		wire_encode(stream, WIRE_PING, 0, 100 + i, NULL);
		wire_encode_bytes(stream, WIRE_DATA, 1, 200 + i, data + 2 * i,
				  WIRE_CHUNK - 2 * i);
	}
	wire_decoder_init(&d);
	while (off < stream->len) {
		guint n = MIN((guint)g_rand_int_range(rand, 1, 200000),
			      stream->len - off);

		wire_decoder_feed(&d, stream->data + off, n);
		off += n;
		drain(&d, got);
	}
	wire_decoder_clear(&d);
	g_assert_cmpuint(got->len, ==, 12);
	for (i = 0; i < 4; i++) {
		struct got *f = got->pdata[3 * i], *p = got->pdata[3 * i + 1];
		struct got *b = got->pdata[3 * i + 2];
		g_autoptr(GVariant) ay = g_variant_get_child_value(f->body, 5);
		gsize len;
		const guint8 *q = g_variant_get_fixed_array(ay, &len, 1);

		g_assert_cmpuint(f->type, ==, WIRE_FSOP);
		g_assert_cmpuint(len, ==, WIRE_CHUNK - 64);
		g_assert_cmpmem(q, len, data + i, WIRE_CHUNK - 64);
		g_assert_cmpuint(p->type, ==, WIRE_PING);
		g_assert_cmpuint(p->tag, ==, 100 + i);
		q = g_variant_get_fixed_array(b->body, &len, 1);
		g_assert_cmpuint(b->tag, ==, 200 + i);
		g_assert_cmpmem(q, len, data + 2 * i, WIRE_CHUNK - 2 * i);
	}
}

/*
 * Draining many small frames fed at once must be linear: the decoder used
 * to memmove the rest of the buffer after every frame.
 */
static void
test_many_small_frames(void)
{
	g_autoptr(GByteArray) stream = g_byte_array_new();
	struct wire_decoder d;
	struct wire_msg msg;
	GError *error = NULL;
	const guint n = 200000;
	guint count = 0, moves = 0;
	gsize last_start = 0;
	gint64 t0;

	for (guint i = 0; i < n; i++)
		wire_encode(stream, WIRE_PING, 0, i, NULL);
	t0 = g_get_monotonic_time();
	wire_decoder_init(&d);
	wire_decoder_feed(&d, stream->data, stream->len);
	while (wire_decoder_next(&d, &msg, &error) == 1) {
		g_assert_cmpuint(msg.tag, ==, count);
		count++;
		wire_msg_clear(&msg);
		/* The buffer was compacted (moved) before this frame. */
		if (d.start != last_start + WIRE_HEADER_SIZE + 1)
			moves++;
		last_start = d.start;
	}
	g_assert_no_error(error);
	g_assert_cmpuint(count, ==, n);
	g_assert_cmpuint(d.len, ==, 0);
	wire_decoder_clear(&d);
	g_test_message("%u frames in %.3f s, %u compactions", n,
		       (g_get_monotonic_time() - t0) / 1e6, moves);
	/*
	 * Each compaction moves what is left, so there may only be a few (it
	 * was one per frame: 2.6 MB of PINGs cost 17 GB of memmove, seconds).
	 */
	g_assert_cmpuint(moves, <, 64);
}

/* Every proper prefix of a frame needs more; the rest completes it. */
static void
test_truncated(void)
{
	g_autoptr(GByteArray) f = g_byte_array_new();

	wire_encode(f, WIRE_W_RUN, 3, 9,
		    g_variant_new_parsed("('/c', '/e', '', ['a', '', 'ccc'], "
					 "@as [])"));
	wire_encode_bytes(f, WIRE_DATA, 0, 0, NULL, 0);
	for (guint cut = 0; cut < f->len; cut++) {
		struct wire_decoder d;
		struct wire_msg msg;
		GError *error = NULL;
		guint first = f->len - WIRE_HEADER_SIZE;
		guint expect = cut < first ? 0 : cut < f->len ? 1 : 2;
		guint got = 0;
		int r;

		wire_decoder_init(&d);
		wire_decoder_feed(&d, f->data, cut);
		while ((r = wire_decoder_next(&d, &msg, &error)) == 1) {
			got++;
			wire_msg_clear(&msg);
		}
		g_assert_no_error(error);
		g_assert_cmpint(r, ==, 0);
		g_assert_cmpuint(got, ==, expect);
		/* Nothing is returned twice, and the rest completes it. */
		wire_decoder_feed(&d, f->data + cut, f->len - cut);
		while ((r = wire_decoder_next(&d, &msg, &error)) == 1) {
			got++;
			wire_msg_clear(&msg);
		}
		g_assert_no_error(error);
		g_assert_cmpint(r, ==, 0);
		g_assert_cmpuint(got, ==, 2);
		wire_decoder_clear(&d);
	}
}

/* Unknown types fail on the header alone. */
static void
test_reject_unknown_type(void)
{
	static const guint16 bad[] = {0, WIRE_TYPE_MAX, WIRE_TYPE_MAX + 1,
				      0x100, 0xffff};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GByteArray) f = g_byte_array_new();
		struct wire_decoder d;
		struct wire_msg msg;
		GError *error = NULL;

		put_raw(f, 1, bad[i], 0, 0, "\0", 1);
		/* Header alone, and whole frame. */
		expect_reject(f->data, WIRE_HEADER_SIZE, WIRE_ERROR_MALFORMED);
		expect_reject(f->data, f->len, WIRE_ERROR_MALFORMED);

		/* Not before the header is complete. */
		wire_decoder_init(&d);
		wire_decoder_feed(&d, f->data, WIRE_HEADER_SIZE - 1);
		g_assert_cmpint(wire_decoder_next(&d, &msg, &error), ==, 0);
		g_assert_no_error(error);
		wire_decoder_feed(&d, f->data + WIRE_HEADER_SIZE - 1, 1);
		g_assert_cmpint(wire_decoder_next(&d, &msg, &error), ==, -1);
		g_assert_error(error, WIRE_ERROR, WIRE_ERROR_MALFORMED);
		g_clear_error(&error);
		wire_decoder_clear(&d);
	}

	/* After a good frame too. */
	{
		g_autoptr(GByteArray) f = g_byte_array_new();
		struct wire_decoder d;
		struct wire_msg msg;
		GError *error = NULL;

		wire_encode(f, WIRE_PING, 0, 1, NULL);
		put_raw(f, 0, 0xffff, 0, 0, NULL, 0);
		wire_decoder_init(&d);
		wire_decoder_feed(&d, f->data, f->len);
		g_assert_cmpint(wire_decoder_next(&d, &msg, &error), ==, 1);
		wire_msg_clear(&msg);
		g_assert_cmpint(wire_decoder_next(&d, &msg, &error), ==, -1);
		g_assert_error(error, WIRE_ERROR, WIRE_ERROR_MALFORMED);
		g_clear_error(&error);
		wire_decoder_clear(&d);
	}
}

/* Oversized frames fail on the header alone, never wait for the body. */
static void
test_reject_oversize(void)
{
	static const guint32 bad[] = {WIRE_MAX_BODY + 1, WIRE_MAX_BODY + 4096,
				      0x7fffffff, 0x80000000, 0xffffffff};
	g_autoptr(GByteArray) ok = g_byte_array_new();
	struct wire_decoder d;
	struct wire_msg msg;
	GError *error = NULL;

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		for (guint type = 1; type < WIRE_TYPE_MAX; type++) {
			g_autoptr(GByteArray) f = g_byte_array_new();

			put_raw(f, bad[i], type, 0, 0, NULL, 0);
			expect_reject(f->data, f->len, WIRE_ERROR_MALFORMED);
		}
	}

	/* Exactly WIRE_MAX_BODY is allowed: it waits for the body. */
	put_raw(ok, WIRE_MAX_BODY, WIRE_DATA, 0, 0, NULL, 0);
	wire_decoder_init(&d);
	wire_decoder_feed(&d, ok->data, ok->len);
	g_assert_cmpint(wire_decoder_next(&d, &msg, &error), ==, 0);
	g_assert_no_error(error);
	wire_decoder_clear(&d);
}

/* Bodies that are not the normal form of their type. */
static void
test_reject_not_normal(void)
{
	/* (is): int32 then a string that must be NUL-terminated UTF-8. */
	static const guint8 is_ok[] = {0, 0, 0, 0, 'o', 'k', 0};
	static const guint8 is_nonul[] = {0, 0, 0, 0, 'o', 'k'};
	static const guint8 is_short[] = {0, 0, 0};
	static const guint8 is_empty_s[] = {0, 0, 0, 0};
	static const guint8 is_inner_nul[] = {0, 0, 0, 0, 'o', 0, 'k', 0};
	static const guint8 is_bad_utf8[] = {0, 0, 0, 0, 0xc3, 0x28, 0};
	/* (su): "ab" NUL, pad, u32, then the framing offset of the string. */
	static const guint8 su_ok[] = {'a', 'b', 0, 0, 1, 0, 0, 0, 3};
	static const guint8 su_bad_offset[] = {'a', 'b', 0, 0, 1, 0, 0, 0, 200};
	static const guint8 su_offset_zero[] = {'a', 'b', 0, 0, 1, 0, 0, 0, 0};
	static const guint8 su_bad_pad[] = {'a', 'b', 0, 9, 1, 0, 0, 0, 3};
	/* as: strings, then one end offset per string. */
	static const guint8 as_ok[] = {'a', 0, 'b', 'c', 0, 2, 5};
	static const guint8 as_nonul[] = {'a', 0, 'b', 'c', 'd', 2, 5};
	static const guint8 as_bad_order[] = {'a', 0, 'b', 'c', 0, 5, 2};
	static const guint8 as_past_end[] = {'a', 0, 'b', 'c', 0, 2, 9};
	static const guint8 as_garbage[] = {0xff, 0xff, 0xff};
	/* s */
	static const guint8 s_nonul[] = {'x', 'y'};
	static const guint8 s_empty[] = {0};
	/* (uu) is exactly 8 bytes. */
	static const guint8 uu_short[] = {1, 0, 0, 0, 4, 0, 0};
	static const guint8 uu_long[] = {1, 0, 0, 0, 4, 0, 0, 0, 0};
	/*
	 * (uytu): u32, byte, 3 zero pad bytes, u64, u32, then 4 zero bytes
	 * to round the fixed size up to the alignment: 24 bytes.
	 */
	static const guint8 uytu_ok[24] = {1};
	static const guint8 uytu_bad_pad[24] = {1, 0, 0, 0, 0, 7, 0, 0};
	static const guint8 uytu_bad_tail[24] = {[23] = 1};
	static const guint8 uytu_short[20] = {1};
	static const guint8 unit_bad[] = {1};
	static const guint8 unit_long[] = {0, 0};
	/* (ysitt) with garbage. */
	static const guint8 ysitt_garbage[] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3};
	/* A boolean that is neither 0 nor 1. */
	static const guint8 bu_bad_bool[] = {2, 0, 0, 0, 1, 0, 0, 0};
	/* (uusu) whose string runs into the offset table, unterminated. */
	static const guint8 uusu_nonul[] = {2, 0, 0, 0, 1, 0, 0, 0,
		'a', 'b', 'c', 'd', 60, 0, 0, 0, 12};
	/* (ssas) whose framing offsets point past the end. */
	static const guint8 ssas_garbage[] = {'/', 0, 0, 'a', 0, 4, 42, 2};
	g_autoptr(GByteArray) good = g_byte_array_new();
	struct wire_msg msg;

	/* The "ok" variants are accepted, so the others fail for their fault. */
	put_raw(good, sizeof(is_ok), WIRE_REPLY, 0, 0, is_ok, sizeof(is_ok));
	decode_one(good, &msg);
	wire_msg_clear(&msg);
	g_byte_array_set_size(good, 0);
	put_raw(good, sizeof(su_ok), WIRE_INJECT_BEGIN, 0, 0, su_ok,
		sizeof(su_ok));
	decode_one(good, &msg);
	wire_msg_clear(&msg);
	g_byte_array_set_size(good, 0);
	put_raw(good, sizeof(as_ok), WIRE_CALL, 0, 0, as_ok, sizeof(as_ok));
	decode_one(good, &msg);
	wire_msg_clear(&msg);
	g_byte_array_set_size(good, 0);
	put_raw(good, sizeof(uytu_ok), WIRE_READ, 0, 0, uytu_ok,
		sizeof(uytu_ok));
	decode_one(good, &msg);
	wire_msg_clear(&msg);
	g_byte_array_set_size(good, 0);
	put_raw(good, sizeof(s_empty), WIRE_UNINJECT, 0, 0, s_empty,
		sizeof(s_empty));
	decode_one(good, &msg);
	wire_msg_clear(&msg);

#define REJECT(type, body) expect_reject_body(type, body, sizeof(body))
	REJECT(WIRE_REPLY, is_nonul);
	REJECT(WIRE_REPLY, is_short);
	REJECT(WIRE_REPLY, is_empty_s);
	REJECT(WIRE_REPLY, is_inner_nul);
	REJECT(WIRE_REPLY, is_bad_utf8);
	REJECT(WIRE_W_LOADED, is_nonul);
	REJECT(WIRE_INJECT_BEGIN, su_bad_offset);
	REJECT(WIRE_INJECT_BEGIN, su_offset_zero);
	REJECT(WIRE_INJECT_BEGIN, su_bad_pad);
	REJECT(WIRE_CALL, as_nonul);
	REJECT(WIRE_CALL, as_bad_order);
	REJECT(WIRE_CALL, as_past_end);
	REJECT(WIRE_CALL, as_garbage);
	REJECT(WIRE_UNINJECT, s_nonul);
	REJECT(WIRE_W_LOAD, s_nonul);
	REJECT(WIRE_W_LOAD, is_inner_nul);
	REJECT(WIRE_HELLO, uu_short);
	REJECT(WIRE_HELLO, uu_long);
	REJECT(WIRE_READ, uytu_bad_pad);
	REJECT(WIRE_READ, uytu_bad_tail);
	REJECT(WIRE_READ, uytu_short);
	REJECT(WIRE_PING, unit_bad);
	REJECT(WIRE_PING, unit_long);
	REJECT(WIRE_CALL_STATE, ysitt_garbage);
	REJECT(WIRE_W_RUN, ssas_garbage);
	REJECT(WIRE_SYNCED, bu_bad_bool);
	REJECT(WIRE_SYNCED, uu_short);
	REJECT(WIRE_ATTACH, uu_short);
	REJECT(WIRE_ATTACH, uusu_nonul);
#undef REJECT
	/* An empty body is no "()" (that is one zero byte), nor "s". */
	expect_reject_body(WIRE_PING, NULL, 0);
	expect_reject_body(WIRE_SHUTDOWN, NULL, 0);
	expect_reject_body(WIRE_UNINJECT, NULL, 0);
	expect_reject_body(WIRE_REPLY, NULL, 0);
}

/* A bad frame after good ones: the good ones come out first. */
static void
test_reject_after_good(void)
{
	static const guint8 as_nonul[] = {'a', 0, 'b', 'c', 'd', 2, 5};
	g_autoptr(GByteArray) f = g_byte_array_new();
	struct wire_decoder d;
	struct wire_msg msg;
	GError *error = NULL;

	wire_encode(f, WIRE_PING, 0, 1, NULL);
	wire_encode(f, WIRE_CALL, 0, 2, g_variant_new_parsed("['a']"));
	put_raw(f, sizeof(as_nonul), WIRE_CALL, 0, 3, as_nonul,
		sizeof(as_nonul));
	wire_encode(f, WIRE_PING, 0, 4, NULL);

	wire_decoder_init(&d);
	wire_decoder_feed(&d, f->data, f->len);
	g_assert_cmpint(wire_decoder_next(&d, &msg, &error), ==, 1);
	g_assert_cmpuint(msg.tag, ==, 1);
	wire_msg_clear(&msg);
	g_assert_cmpint(wire_decoder_next(&d, &msg, &error), ==, 1);
	g_assert_cmpuint(msg.tag, ==, 2);
	wire_msg_clear(&msg);
	g_assert_cmpint(wire_decoder_next(&d, &msg, &error), ==, -1);
	g_assert_error(error, WIRE_ERROR, WIRE_ERROR_MALFORMED);
	g_assert_null(msg.body);
	g_clear_error(&error);
	wire_decoder_clear(&d);
}

/* max_buffered bounds what a peer may leave in the decoder. */
static void
test_overflow(void)
{
	g_autoptr(GByteArray) f = g_byte_array_new();
	struct wire_decoder d;
	struct wire_msg msg;
	GError *error = NULL;
	guint8 zeros[100] = {0};

	wire_encode_bytes(f, WIRE_DATA, 0, 0, zeros, sizeof(zeros));
	wire_decoder_init(&d);
	d.max_buffered = 64;
	wire_decoder_feed(&d, f->data, 60);
	g_assert_cmpint(wire_decoder_next(&d, &msg, &error), ==, 0);
	g_assert_no_error(error);
	wire_decoder_feed(&d, f->data + 60, 10);
	g_assert_cmpint(wire_decoder_next(&d, &msg, &error), ==, -1);
	g_assert_error(error, WIRE_ERROR, WIRE_ERROR_OVERFLOW);
	g_clear_error(&error);
	wire_decoder_clear(&d);

	/* A complete frame larger than max_buffered is still fine. */
	wire_decoder_init(&d);
	d.max_buffered = 64;
	wire_decoder_feed(&d, f->data, f->len);
	g_assert_cmpint(wire_decoder_next(&d, &msg, &error), ==, 1);
	g_assert_no_error(error);
	wire_msg_clear(&msg);
	wire_decoder_clear(&d);
}

/* Clearing twice, or a message twice, is harmless. */
static void
test_clear_idempotent(void)
{
	struct wire_decoder d;
	struct wire_msg msg = {0};
	g_autoptr(GByteArray) f = g_byte_array_new();
	GError *error = NULL;

	wire_msg_clear(&msg);
	wire_encode(f, WIRE_PONG, 0, 0, NULL);
	wire_decoder_init(&d);
	wire_decoder_feed(&d, f->data, f->len - 1);	/* left in the buffer */
	g_assert_cmpint(wire_decoder_next(&d, &msg, &error), ==, 0);
	wire_decoder_clear(&d);
	wire_decoder_clear(&d);

	decode_one(f, &msg);
	wire_msg_clear(&msg);
	wire_msg_clear(&msg);
	g_assert_null(msg.body);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/wire/names", test_names);
	g_test_add_func("/wire/samples-cover-all-types",
			test_samples_cover_all_types);
	g_test_add_func("/wire/roundtrip/each-type", test_roundtrip_each);
	g_test_add_func("/wire/roundtrip/null-and-floating",
			test_roundtrip_null_and_floating);
	g_test_add_func("/wire/roundtrip/accessors", test_roundtrip_accessors);
	g_test_add_func("/wire/roundtrip/bytes", test_roundtrip_bytes);
	g_test_add_func("/wire/encode/too-large", test_encode_too_large);
	g_test_add_func("/wire/encode/wrong-type", test_encode_wrong_type);
	g_test_add_func("/wire/encode/normalises", test_encode_normalises);
	g_test_add_func("/wire/split/bytewise", test_split_bytewise);
	g_test_add_func("/wire/split/random", test_split_random);
	g_test_add_func("/wire/split/many-small-frames",
			test_many_small_frames);
	g_test_add_func("/wire/truncated", test_truncated);
	g_test_add_func("/wire/reject/unknown-type", test_reject_unknown_type);
	g_test_add_func("/wire/reject/oversize", test_reject_oversize);
	g_test_add_func("/wire/reject/not-normal", test_reject_not_normal);
	g_test_add_func("/wire/reject/after-good", test_reject_after_good);
	g_test_add_func("/wire/reject/overflow", test_overflow);
	g_test_add_func("/wire/clear-idempotent", test_clear_idempotent);
	g_test_add_func("/wire/big-bodies-kept", test_big_bodies_kept);

	return g_test_run();
}
