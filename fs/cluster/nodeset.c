/*
 * nodeset.c - expand node sets (see nodeset.h).
 *
 * Each comma-separated name is cut into literal pieces and [RANGES]
 * groups; how many names it gives is counted before any is made, so a
 * set too large is refused without building it.
 */
#include "nodeset.h"

#include <string.h>

#define NUM_DIGITS_MAX 18	/* fits a guint64 */

static GQuark
nodeset_error(void)
{
	return g_quark_from_static_string("trickle-nodeset-error");
}

/* One range of a group: LO-HI (or N: LO = HI), printed width digits
 * wide. */
struct range {
	guint64 lo, hi;
	int width;
};

/* A piece of a name: literal text, or a group of ranges. */
struct piece {
	char *text;		/* literal; NULL for a group */
	GArray *ranges;		/* struct range */
	guint64 count;		/* names the piece gives */
};

static void
piece_clear(struct piece *p)
{
	g_free(p->text);
	if (p->ranges)
		g_array_unref(p->ranges);
}

static gboolean
fail(GError **error, const char *set, const char *why)
{
	g_set_error(error, nodeset_error(), 0, "bad node set \"%s\": %s",
		    set, why);
	return FALSE;
}

/* A decimal number at *p, moved past it: 1, or 0 if there is none, -1
 * if it is too long. */
static int
number(const char **p, const char *end, guint64 *n, int *width)
{
	const char *s = *p;

	*n = 0;
	while (*p < end && g_ascii_isdigit(**p)) {
		if (*p - s == NUM_DIGITS_MAX)
			return -1;
		*n = *n * 10 + (guint64)(**p - '0');
		(*p)++;
	}
	*width = *p - s;
	return *p > s;
}

/* Is the bracket content from s to end an IPv6 address ("[::1]:22"),
 * not a group: a ':', and no ',' or '['? */
static gboolean
ipv6(const char *s, const char *end)
{
	return memchr(s, ':', end - s) && !memchr(s, ',', end - s) &&
	       !memchr(s, '[', end - s);
}

/* a + b, or max + 1 if that is more than max. */
static guint64
sat_add(guint64 a, guint64 b, guint64 max)
{
	return a > max || b > max - a ? max + 1 : a + b;
}

/* Parse the ranges between '[' and ']' (group, len bytes); pc->count
 * is how many numbers they give, max + 1 for more than max. */
static gboolean
parse_group(const char *set, const char *group, gsize len,
	    struct piece *pc, guint64 max, GError **error)
{
	const char *p = group, *end = group + len;
	const char *syntax = "a range must be N or LO-HI, e.g. [1-8,10]";

	pc->ranges = g_array_new(FALSE, FALSE, sizeof(struct range));
	for (;;) {
		struct range r;
		int hw, got;

		if ((got = number(&p, end, &r.lo, &r.width)) <= 0)
			return fail(error, set, got ? "a number is too long"
				    : syntax);
		r.hi = r.lo;
		if (p < end && *p == '-') {
			p++;
			if ((got = number(&p, end, &r.hi, &hw)) <= 0)
				return fail(error, set, got
					    ? "a number is too long" : syntax);
			if (r.hi < r.lo)
				return fail(error, set, "a range goes down "
					    "(LO-HI needs LO <= HI)");
		}
		g_array_append_val(pc->ranges, r);
		pc->count = sat_add(pc->count, r.hi - r.lo + 1, max);
		if (p == end)
			return TRUE;
		if (*p != ',')
			return fail(error, set, syntax);
		p++;
	}
}

/*
 * Cut one name (len bytes at name) into pieces; *count is how many names
 * it gives, max + 1 for more than max.
 */
static gboolean
cut(const char *set, const char *name, gsize len, GArray *pieces,
    guint64 max, guint64 *count, GError **error)
{
	const char *p = name, *end = name + len, *lit = name;

	*count = 1;
	if (len == 0)
		return fail(error, set, "an empty name (two commas, or one "
			    "at an end)");
	while (p < end) {
		const char *close;
		struct piece pc = { 0 };
		gboolean ok;

		if (*p == ']')
			return fail(error, set, "a ']' without its '['");
		if (*p != '[') {
			p++;
			continue;
		}
		close = memchr(p, ']', end - p);
		if (!close)
			return fail(error, set, "a '[' without its ']'");
		if (ipv6(p + 1, close)) {
			p = close + 1;
			continue;
		}
		if (memchr(p + 1, '[', close - p - 1))
			return fail(error, set, "a '[' inside brackets");
		if (p > lit) {
			struct piece text = { .text = g_strndup(lit, p - lit) };
			g_array_append_val(pieces, text);
		}
		ok = parse_group(set, p + 1, close - p - 1, &pc, max, error);
		g_array_append_val(pieces, pc);	/* freed with them */
		if (!ok)
			return FALSE;
		if (pc.count > max || *count > max / pc.count)
			*count = max + 1;
		else
			*count *= pc.count;
		p = lit = close + 1;
	}
	if (p > lit) {
		struct piece text = { .text = g_strndup(lit, p - lit) };
		g_array_append_val(pieces, text);
	}
	return TRUE;
}

/* Append every name of pieces[i..] after prefix to out. */
static void
emit(GArray *pieces, guint i, GString *prefix, GPtrArray *out)
{
	struct piece *pc;
	gsize keep = prefix->len;
	guint r;

	if (i == pieces->len) {
		g_ptr_array_add(out, g_strndup(prefix->str, prefix->len));
		return;
	}
	pc = &g_array_index(pieces, struct piece, i);
	if (pc->text) {
		g_string_append(prefix, pc->text);
		emit(pieces, i + 1, prefix, out);
		g_string_truncate(prefix, keep);
		return;
	}
	for (r = 0; r < pc->ranges->len; r++) {
		const struct range *rg = &g_array_index(pc->ranges,
							struct range, r);
		guint64 n;

		for (n = rg->lo;; n++) {
			g_string_append_printf(prefix, "%0*" G_GUINT64_FORMAT,
					       rg->width, n);
			emit(pieces, i + 1, prefix, out);
			g_string_truncate(prefix, keep);
			if (n == rg->hi)
				break;
		}
	}
}

/* The end of the name that starts at p: the next comma outside
 * brackets. */
static const char *
name_end(const char *p)
{
	int depth = 0;

	for (; *p; p++) {
		if (*p == '[')
			depth++;
		else if (*p == ']' && depth > 0)
			depth--;
		else if (*p == ',' && depth == 0)
			break;
	}
	return p;
}

char **
nodeset_expand(const char *text, guint max, GError **error)
{
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
	guint64 total = 0, cap = max ? max : NODESET_MAX;
	const char *p = text;

	for (;;) {
		const char *end = name_end(p);
		g_autoptr(GArray) pieces = g_array_new(FALSE, TRUE,
						       sizeof(struct piece));
		guint64 count;

		g_array_set_clear_func(pieces, (GDestroyNotify)piece_clear);
		if (!cut(text, p, end - p, pieces, cap, &count, error))
			return NULL;
		if (count > cap - total) {
			g_set_error(error, nodeset_error(), 0, "node set "
				    "\"%s\" names more than %" G_GUINT64_FORMAT
				    " nodes", text, cap);
			return NULL;
		}
		total += count;
		{
			g_autoptr(GString) prefix = g_string_new(NULL);
			emit(pieces, 0, prefix, out);
		}
		if (!*end)
			break;
		p = end + 1;
	}
	g_ptr_array_add(out, NULL);
	return (char **)g_ptr_array_free(g_steal_pointer(&out), FALSE);
}

gboolean
nodeset_is_set(const char *text)
{
	const char *p;

	if (strchr(text, ','))
		return TRUE;
	for (p = strchr(text, '['); p; p = strchr(p + 1, '[')) {
		const char *close = strchr(p, ']');

		if (!close || !ipv6(p + 1, close))
			return TRUE;
	}
	return FALSE;
}
