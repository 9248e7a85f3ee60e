/*
 * wire.c - frame codec for the tricklefs protocol (see wire.h).
 */
#include "wire.h"

#include <string.h>

G_DEFINE_QUARK(trickle-wire-error-quark, wire_error)

static const struct {
	const char *name;
	const char *body;
} types[WIRE_TYPE_MAX] = {
	[WIRE_HELLO] = {"HELLO", "(uu)"},
	[WIRE_INJECT_BEGIN] = {"INJECT_BEGIN", "(su)"},
	[WIRE_INJECT_DATA] = {"INJECT_DATA", "ay"},
	[WIRE_INJECT_END] = {"INJECT_END", "()"},
	[WIRE_INJECT_ABORT] = {"INJECT_ABORT", "()"},
	[WIRE_UNINJECT] = {"UNINJECT", "s"},
	[WIRE_CALL] = {"CALL", "as"},
	[WIRE_READ] = {"READ", "(uytu)"},
	[WIRE_PING] = {"PING", "()"},
	[WIRE_SHUTDOWN] = {"SHUTDOWN", "()"},
	[WIRE_WELCOME] = {"WELCOME", "(usuu)"},
	[WIRE_REPLY] = {"REPLY", "(is)"},
	[WIRE_DATA] = {"DATA", "ay"},
	[WIRE_CALL_STATE] = {"CALL_STATE", "(ysitt)"},
	[WIRE_VM_STATE] = {"VM_STATE", "(yus)"},
	[WIRE_PONG] = {"PONG", "()"},
	[WIRE_LOG] = {"LOG", "(us)"},
	[WIRE_W_LOAD] = {"W_LOAD", "s"},
	[WIRE_W_LOADED] = {"W_LOADED", "(is)"},
	[WIRE_W_RUN] = {"W_RUN", "(sssasas)"},
	[WIRE_W_DONE] = {"W_DONE", "(yisb)"},
	[WIRE_FSOP] = {"FSOP", "(ysstuay)"},
	[WIRE_CANCEL] = {"CANCEL", "u"},
	[WIRE_FORGET] = {"FORGET", "u"},
	[WIRE_RESTART] = {"RESTART", "()"},
	[WIRE_INFO] = {"INFO", "()"},
	[WIRE_OBJ_DESTROY] = {"OBJ_DESTROY", "u"},
	[WIRE_STAT] = {"STAT", "(uttu)"},
	[WIRE_LIST] = {"LIST", "(a(sutt)b)"},
	[WIRE_TEXT] = {"TEXT", "s"},
	[WIRE_FUNCS] = {"FUNCS", "a(sssss)"},
	[WIRE_OBJECTS] = {"OBJECTS", "a(uss)"},
	[WIRE_W_OBJECTS] = {"W_OBJECTS", "a(uss)"},
	[WIRE_W_DESTROY] = {"W_DESTROY", "u"},
	[WIRE_W_DESTROYED] = {"W_DESTROYED", "(uis)"},
	[WIRE_ATTACH] = {"ATTACH", "(uusu)"},
	[WIRE_SYNCED] = {"SYNCED", "(bu)"},
	[WIRE_RESULT] = {"RESULT", "ay"},
	[WIRE_STDIN] = {"STDIN", "ay"},
	[WIRE_CACHE_HAVE] = {"CACHE_HAVE", "s"},
	[WIRE_CACHE_PUT] = {"CACHE_PUT", "(st)"},
	[WIRE_INJECT_CACHED] = {"INJECT_CACHED", "(ssu)"},
	[WIRE_SHARE] = {"SHARE", "(buuuuu)"},
	[WIRE_CKPT_TAKE] = {"CKPT_TAKE", "(uuu)"},
	[WIRE_CKPT_RESTORE] = {"CKPT_RESTORE", "(uuu)"},
	[WIRE_CKPT_READ] = {"CKPT_READ", "(utu)"},
	[WIRE_CKPT_REMOVE] = {"CKPT_REMOVE", "u"},
	[WIRE_CKPT_PUT] = {"CKPT_PUT", "(ut)"},
	[WIRE_W_SAVE] = {"W_SAVE", "a(ss)"},
	[WIRE_W_SAVED] = {"W_SAVED", "(is)"},
	[WIRE_W_RESTORE] = {"W_RESTORE", "a(ss)"},
	[WIRE_W_RESTORED] = {"W_RESTORED", "(is)"},
	[WIRE_VM_ADD] = {"VM_ADD", "u"},
};

static const char *const call_states[CALL_STATE_MAX] = {
	[CALL_QUEUED] = "queued",
	[CALL_RUNNING] = "running",
	[CALL_DONE] = "done",
	[CALL_FAILED] = "failed",
	[CALL_CANCELLED] = "cancelled",
};

static const char *const vm_states[VM_STATE_MAX] = {
	[VM_STARTING] = "starting",
	[VM_UP] = "up",
	[VM_RESTARTING] = "restarting",
	[VM_DOWN] = "down",
};

gboolean
wire_is_assignment(const char *w)
{
	if (!g_ascii_isalpha(*w) && *w != '_')
		return FALSE;
	while (g_ascii_isalnum(*w) || *w == '_')
		w++;
	return *w == '=';
}

const char *
wire_type_name(guint type)
{
	if (type >= WIRE_TYPE_MAX || !types[type].name)
		return "UNKNOWN";
	return types[type].name;
}

const GVariantType *
wire_body_type(guint type)
{
	if (type >= WIRE_TYPE_MAX || !types[type].body)
		return NULL;
	return G_VARIANT_TYPE(types[type].body);
}

const char *
wire_call_state_name(guint state)
{
	return state < CALL_STATE_MAX ? call_states[state] : "unknown";
}

const char *
wire_vm_state_name(guint state)
{
	return state < VM_STATE_MAX ? vm_states[state] : "unknown";
}

static void
put_header(GByteArray *out, gsize len, guint type, guint vm, guint32 tag)
{
	guint8 h[WIRE_HEADER_SIZE];
	guint32 l = GUINT32_TO_BE((guint32)len);
	guint16 t = GUINT16_TO_BE((guint16)type);
	guint16 v = GUINT16_TO_BE((guint16)vm);
	guint32 g = GUINT32_TO_BE(tag);

	memcpy(h, &l, 4);
	memcpy(h + 4, &t, 2);
	memcpy(h + 6, &v, 2);
	memcpy(h + 8, &g, 4);
	g_byte_array_append(out, h, sizeof(h));
}

gboolean
wire_encode(GByteArray *out, guint type, guint vm, guint32 tag,
	    GVariant *body)
{
	const GVariantType *want = wire_body_type(type);
	g_autoptr(GVariant) b = NULL;
	g_autoptr(GVariant) n = NULL;
	gconstpointer data;
	gsize len;

	b = body ? g_variant_ref_sink(body) : g_variant_ref_sink(
		g_variant_new_tuple(NULL, 0));
	if (!want || !g_variant_is_of_type(b, want)) {
		g_critical("wire: %s body of type %s", wire_type_name(type),
			   g_variant_get_type_string(b));
		return FALSE;
	}
	/*
	 * The peer only accepts normal form.  Values built by the GVariant
	 * constructors already are (this is then just a ref), but one
	 * deserialised from untrusted data may not be, and g_variant_store()
	 * would write it out as is.  The body is little endian on the wire.
	 */
	n = g_variant_get_normal_form(b);
#if G_BYTE_ORDER == G_BIG_ENDIAN
	{
		GVariant *s = g_variant_byteswap(n);

		g_variant_unref(n);
		n = s;
	}
#endif
	len = g_variant_get_size(n);
	if (len > WIRE_MAX_BODY) {
		g_critical("wire: %s body of %zu bytes", wire_type_name(type),
			   len);
		return FALSE;
	}
	/*
	 * Not g_variant_store() into out: GLib asserts (and aborts) when the
	 * destination is not aligned for the type, and a body in out starts
	 * wherever the previous frame ended.  g_variant_get_data() serialises
	 * into aligned memory of its own.
	 */
	data = g_variant_get_data(n);
	put_header(out, len, type, vm, tag);
	if (len)
		g_byte_array_append(out, data, len);
	return TRUE;
}

void
wire_encode_bytes(GByteArray *out, guint type, guint vm, guint32 tag,
		  const void *data, gsize len)
{
	const GVariantType *want = wire_body_type(type);

	/* An "ay" body serialises as the bytes themselves. */
	g_return_if_fail(want && g_variant_type_equal(
				 want, G_VARIANT_TYPE_BYTESTRING));
	g_return_if_fail(len <= WIRE_MAX_BODY);
	g_return_if_fail(data || len == 0);
	put_header(out, len, type, vm, tag);
	if (len)
		g_byte_array_append(out, data, len);
}

void
wire_decoder_init(struct wire_decoder *d)
{
	d->buf = g_byte_array_new();
	d->max_buffered = 8 * (WIRE_MAX_BODY + WIRE_HEADER_SIZE);
	d->start = 0;
}

void
wire_decoder_clear(struct wire_decoder *d)
{
	g_clear_pointer(&d->buf, g_byte_array_unref);
	d->start = 0;
}

/*
 * Drop the bytes already decoded.  Removing each frame from the front of
 * buf as it is decoded made draining n small frames O(n^2): a peer could
 * make us memmove gigabytes with a couple of megabytes of PINGs.  Instead
 * frames are consumed by advancing start, and the buffer is compacted only
 * when the consumed part is at least as large as what is left (so each
 * byte is moved a bounded number of times) or when waiting for more input.
 */
static void
compact(struct wire_decoder *d)
{
	if (d->start) {
		g_byte_array_remove_range(d->buf, 0, d->start);
		d->start = 0;
	}
}

void
wire_decoder_feed(struct wire_decoder *d, const void *data, gsize len)
{
	g_byte_array_append(d->buf, data, len);
}

/*
 * The body of the complete frame at start, as bytes of its own.  A large
 * body (a stream's chunk) is not copied: the buffer becomes the body's
 * storage and what follows the frame, no larger than the body, moves to a
 * new buffer.  So each byte of a bulk stream is copied once here (in
 * feed), not twice.  Either way start then points past the frame.
 */
#define STEAL_MIN (64 * 1024)

static GBytes *
body_bytes(struct wire_decoder *d, guint32 len)
{
	gsize at = d->start + WIRE_HEADER_SIZE;
	gsize rest = d->buf->len - at - len;
	GByteArray *next;
	GBytes *whole, *body;

	if (len < STEAL_MIN || rest > len) {
		d->start = at + len;
		return g_bytes_new(d->buf->data + at, len);
	}
	next = g_byte_array_sized_new(MAX(rest, WIRE_HEADER_SIZE));
	g_byte_array_append(next, d->buf->data + at + len, rest);
	whole = g_byte_array_free_to_bytes(d->buf);
	body = g_bytes_new_from_bytes(whole, at, len);
	g_bytes_unref(whole);
	d->buf = next;
	d->start = 0;
	return body;
}

/*
 * g_variant_is_normal_form() walks an "ay" byte by byte, which made large
 * FSOP writes crawl.  For a tuple that carries bytes, check the other
 * fields one by one, then the framing by rebuilding the tuple from its
 * fields (a copy at memcpy speed) and comparing it with what came.
 */
static gboolean
body_is_normal(GVariant *v)
{
	const GVariantType *t = g_variant_get_type(v);
	g_autoptr(GPtrArray) kids = NULL;
	g_autoptr(GVariant) again = NULL;
	gboolean has_bytes = FALSE;
	gsize i, n;

	if (!g_variant_type_is_tuple(t))
		return g_variant_is_normal_form(v);
	n = g_variant_n_children(v);
	kids = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
	for (i = 0; i < n; i++) {
		GVariant *k = g_variant_get_child_value(v, i);

		g_ptr_array_add(kids, k);
		if (g_variant_is_of_type(k, G_VARIANT_TYPE_BYTESTRING))
			has_bytes = TRUE;
		else if (!g_variant_is_normal_form(k))
			return FALSE;
	}
	if (!has_bytes)
		return g_variant_is_normal_form(v);
	again = g_variant_ref_sink(g_variant_new_tuple(
		(GVariant **)kids->pdata, n));
	return g_variant_get_size(again) == g_variant_get_size(v) &&
	       memcmp(g_variant_get_data(again), g_variant_get_data(v),
		      g_variant_get_size(v)) == 0;
}

int
wire_decoder_next(struct wire_decoder *d, struct wire_msg *msg,
		  GError **error)
{
	guint32 len, tag;
	guint16 type, vm;
	const GVariantType *want;
	GVariant *v;
	GBytes *bytes;
	const guint8 *p;
	gsize avail;
	gboolean is_bytes;

	memset(msg, 0, sizeof(*msg));
	if (d->start >= d->buf->len - d->start)
		compact(d);
	p = d->buf->data + d->start;
	avail = d->buf->len - d->start;
	if (avail < WIRE_HEADER_SIZE) {
		compact(d);
		if (avail > d->max_buffered)
			goto overflow;
		return 0;
	}
	memcpy(&len, p, 4);
	memcpy(&type, p + 4, 2);
	memcpy(&vm, p + 6, 2);
	memcpy(&tag, p + 8, 4);
	len = GUINT32_FROM_BE(len);
	type = GUINT16_FROM_BE(type);
	vm = GUINT16_FROM_BE(vm);
	tag = GUINT32_FROM_BE(tag);

	want = wire_body_type(type);
	if (!want) {
		g_set_error(error, WIRE_ERROR, WIRE_ERROR_MALFORMED,
			    "unknown message type %u", type);
		return -1;
	}
	if (len > WIRE_MAX_BODY) {
		g_set_error(error, WIRE_ERROR, WIRE_ERROR_MALFORMED,
			    "%s frame of %u bytes exceeds the limit of %u",
			    wire_type_name(type), len, WIRE_MAX_BODY);
		return -1;
	}
	if (avail - WIRE_HEADER_SIZE < len) {
		compact(d);
		if (avail > d->max_buffered)
			goto overflow;
		return 0;
	}

	/*
	 * Every byte string is a normal "ay": create those trusted, which
	 * skips g_variant_is_normal_form()'s per-byte walk below.  (Not just
	 * skipping the check: an untrusted value stays slow to use, e.g.
	 * g_variant_equal() compares untrusted values by printing them, and
	 * g_variant_get_normal_form() copies them.)
	 */
	is_bytes = g_variant_type_equal(want, G_VARIANT_TYPE_BYTESTRING);
	bytes = body_bytes(d, len);
	v = g_variant_ref_sink(g_variant_new_from_bytes(want, bytes, is_bytes));
	g_bytes_unref(bytes);
	/*
	 * GVariant reads any bytes safely, but a body that is not in normal
	 * form was not written by our encoder: treat it as corruption rather
	 * than silently reading default values out of it.
	 */
	if (!is_bytes && !body_is_normal(v)) {
		g_variant_unref(v);
		g_set_error(error, WIRE_ERROR, WIRE_ERROR_MALFORMED,
			    "malformed %s body (%u bytes)",
			    wire_type_name(type), len);
		return -1;
	}
#if G_BYTE_ORDER == G_BIG_ENDIAN
	{
		GVariant *s = g_variant_byteswap(v);

		g_variant_unref(v);
		v = s;
	}
#endif
	msg->type = type;
	msg->vm = vm;
	msg->tag = tag;
	msg->body = v;
	return 1;

overflow:
	g_set_error(error, WIRE_ERROR, WIRE_ERROR_OVERFLOW,
		    "peer sent %zu bytes without a complete frame",
		    avail);
	return -1;
}

void
wire_msg_clear(struct wire_msg *msg)
{
	g_clear_pointer(&msg->body, g_variant_unref);
}

const guint8 *
wire_msg_bytes(const struct wire_msg *msg, gsize *len)
{
	return g_variant_get_fixed_array(msg->body, len, 1);
}
