/*
 * map_items.c - trickle-map's items and call lines: the sources (stdin,
 * ::: words, :::: files; their combinations, as GNU parallel makes them)
 * and the replacement strings that put an item's values in FUNC ARG...
 *
 * A stream is read only as far as it is needed: the main loop polls
 * items_fd() beside .done, so an endless generator works.  Later sources
 * are held whole (every value of the first is combined with all of
 * theirs).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "map.h"

#define READ_SIZE	(64 * 1024)

struct items {
	char delim;
	int fd;			/* the stream, or -1 */
	gboolean own_fd, tty;
	GString *in;		/* what was read of the stream */
	gsize in_pos;
	gboolean eof;
	GPtrArray *first;	/* or the first source held whole */
	guint first_pos;
	GPtrArray *rest;	/* a GPtrArray of values per later source */
	guint64 combos;		/* tuples per value of the first source */
	char *cur;		/* the first source's value being combined */
	guint64 cur_left;	/* tuples of it not yet taken */
	guint *odo;		/* per later source, its next value */
	gsize block;		/* --pipe: the stream in blocks; 0 */
};

static gboolean
is_sep(const char *a)
{
	return strcmp(a, ":::") == 0 || strcmp(a, "::::") == 0;
}

/* A whole file (or stdin for "-") as values. */
static GPtrArray *
read_values(const char *path, char delim, GError **error)
{
	g_autoptr(GPtrArray) v = g_ptr_array_new_with_free_func(g_free);
	g_autofree char *text = NULL;
	gsize len = 0;
	const char *p, *end;

	if (strcmp(path, "-") == 0) {
		GString *s = g_string_new(NULL);
		char buf[READ_SIZE];
		ssize_t n;

		while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				int e = errno;

				g_string_free(s, TRUE);
				g_set_error(error, G_FILE_ERROR,
					    g_file_error_from_errno(e),
					    "reading stdin: %s", g_strerror(e));
				return NULL;
			}
			g_string_append_len(s, buf, n);
		}
		len = s->len;
		text = g_string_free(s, FALSE);
	} else if (!g_file_get_contents(path, &text, &len, error)) {
		return NULL;
	}
	for (p = text, end = text + len; p < end;) {
		const char *d = memchr(p, delim, end - p);
		const char *e = d ? d : end;

		g_ptr_array_add(v, g_strndup(p, e - p));
		p = e + 1;
	}
	return g_steal_pointer(&v);
}

struct items *
items_new(char **argv, int argc, char delim, GError **error)
{
	struct items *it = g_new0(struct items, 1);
	int i = 0;

	it->delim = delim;
	it->fd = -1;
	it->in = g_string_new(NULL);
	it->rest = g_ptr_array_new_with_free_func(
		(GDestroyNotify)g_ptr_array_unref);
	it->combos = 1;
	if (argc == 0) {
		it->fd = STDIN_FILENO;
		it->tty = isatty(STDIN_FILENO);
	}
	while (i < argc) {
		gboolean words = strcmp(argv[i], ":::") == 0;
		int start = ++i;

		while (i < argc && !is_sep(argv[i]))
			i++;
		if (i == start) {
			g_set_error(error, G_OPTION_ERROR,
				    G_OPTION_ERROR_BAD_VALUE, "%s with nothing "
				    "after it", argv[start - 1]);
			goto fail;
		}
		if (words) {
			GPtrArray *v = g_ptr_array_new_with_free_func(g_free);

			for (int k = start; k < i; k++)
				g_ptr_array_add(v, g_strdup(argv[k]));
			if (!it->first && it->fd < 0)
				it->first = v;
			else
				g_ptr_array_add(it->rest, v);
			continue;
		}
		/* ::::: every FILE is a source of its own. */
		for (int k = start; k < i; k++) {
			GPtrArray *v;

			if (!it->first && it->fd < 0) {
				if (strcmp(argv[k], "-") == 0) {
					it->fd = STDIN_FILENO;
				} else if ((it->fd = open(argv[k], O_RDONLY |
							  O_CLOEXEC)) < 0) {
					int e = errno;

					g_set_error(error, G_FILE_ERROR,
						    g_file_error_from_errno(e),
						    "%s: %s", argv[k],
						    g_strerror(e));
					goto fail;
				} else {
					it->own_fd = TRUE;
				}
				it->tty = isatty(it->fd);
				continue;
			}
			if (!(v = read_values(argv[k], delim, error)))
				goto fail;
			g_ptr_array_add(it->rest, v);
		}
	}
	for (guint k = 0; k < it->rest->len; k++)
		it->combos *= ((GPtrArray *)it->rest->pdata[k])->len;
	it->odo = g_new0(guint, it->rest->len + 1);
	if (it->fd < 0)
		it->eof = TRUE;
	return it;
fail:
	items_free(it);
	return NULL;
}

void
items_free(struct items *it)
{
	if (!it)
		return;
	if (it->own_fd)
		close(it->fd);
	g_string_free(it->in, TRUE);
	if (it->first)
		g_ptr_array_unref(it->first);
	g_ptr_array_unref(it->rest);
	g_free(it->cur);
	g_free(it->odo);
	g_free(it);
}

guint
items_nsrc(struct items *it)
{
	return 1 + it->rest->len;
}

gboolean
items_from_tty(struct items *it)
{
	return it->fd >= 0 && it->tty;
}

int
items_fd(struct items *it)
{
	return it->eof ? -1 : it->fd;
}

gboolean
items_read(struct items *it, GError **error)
{
	ssize_t n;

	if (it->eof)
		return TRUE;
	if (it->in_pos > 0 && it->in_pos >= it->in->len / 2) {
		g_string_erase(it->in, 0, it->in_pos);
		it->in_pos = 0;
	}
	g_string_set_size(it->in, it->in->len + READ_SIZE);
	n = read(it->fd, it->in->str + it->in->len - READ_SIZE, READ_SIZE);
	g_string_set_size(it->in, it->in->len - READ_SIZE + MAX(n, 0));
	if (n < 0 && errno != EINTR && errno != EAGAIN) {
		int e = errno;

		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
			    "reading items: %s", g_strerror(e));
		return FALSE;
	}
	if (n == 0)
		it->eof = TRUE;
	return TRUE;
}

gboolean
items_eof(struct items *it)
{
	return it->eof;
}

gsize
items_buffered(struct items *it)
{
	return it->in->len - it->in_pos;
}

/* Values of the first source not yet taken, counting at most max. */
static guint64
first_left(struct items *it, guint64 max)
{
	const char *p, *end;
	guint64 n = 0;

	if (it->first)
		return it->first->len - it->first_pos;
	if (it->fd < 0)
		return 0;
	p = it->in->str + it->in_pos;
	end = it->in->str + it->in->len;
	while (n < max && p < end) {
		const char *d = memchr(p, it->delim, end - p);

		if (!d) {
			/* A last value without its delimiter. */
			n += it->eof;
			break;
		}
		n++;
		p = d + 1;
	}
	return n;
}

static guint64
available(struct items *it, guint64 max)
{
	guint64 have = it->cur ? it->cur_left : 0;

	if (it->combos == 0)
		return 0;
	if (have >= max)
		return have;
	return have + first_left(it, (max - have + it->combos - 1) /
					 it->combos) * it->combos;
}

void
items_set_block(struct items *it, gsize block)
{
	it->block = block;
}

/* The length of the next block, 0 if none is ready. */
static gsize
block_len(struct items *it)
{
	gsize left = it->in->len - it->in_pos, from;
	const char *p = it->in->str + it->in_pos, *d;

	if (!left)
		return 0;
	from = MIN(it->block - 1, left);
	if ((d = memchr(p + from, it->delim, left - from)))
		return d - p + 1;
	return it->eof ? left : 0;
}

GBytes *
items_take_block(struct items *it)
{
	gsize len = block_len(it);
	GBytes *b;

	if (!len)
		return NULL;
	b = g_bytes_new(it->in->str + it->in_pos, len);
	it->in_pos += len;
	return b;
}

gboolean
items_ready(struct items *it, int n)
{
	guint64 have;

	if (it->block)
		return block_len(it) > 0;
	have = available(it, n);

	return have >= (guint64)n || (it->eof && have > 0);
}

gboolean
items_done(struct items *it)
{
	if (it->block)
		return it->eof && it->in_pos == it->in->len;
	return it->eof && available(it, 1) == 0;
}

guint64
items_left(struct items *it)
{
	if (it->block)		/* about so many */
		return (items_buffered(it) + it->block - 1) / it->block;
	return available(it, G_MAXUINT64 / 2);
}

/* The next value of the first source, or NULL. */
static char *
next_first(struct items *it)
{
	const char *p, *d;
	gsize len;

	if (it->first)
		return it->first_pos < it->first->len ?
		       g_strdup(it->first->pdata[it->first_pos++]) : NULL;
	if (it->in_pos >= it->in->len)
		return NULL;
	p = it->in->str + it->in_pos;
	d = memchr(p, it->delim, it->in->len - it->in_pos);
	if (!d && !it->eof)
		return NULL;
	len = d ? (gsize)(d - p) : it->in->len - it->in_pos;
	it->in_pos += len + (d != NULL);
	return g_strndup(p, len);
}

gboolean
items_take(struct items *it, GPtrArray *vals)
{
	guint k;

	if (it->combos == 0)
		return FALSE;
	if (!it->cur) {
		if (!(it->cur = next_first(it)))
			return FALSE;
		it->cur_left = it->combos;
		memset(it->odo, 0, sizeof(guint) * (it->rest->len + 1));
	}
	g_ptr_array_add(vals, g_strdup(it->cur));
	for (k = 0; k < it->rest->len; k++) {
		GPtrArray *v = it->rest->pdata[k];

		g_ptr_array_add(vals, g_strdup(v->pdata[it->odo[k]]));
	}
	/* The last source varies fastest. */
	for (k = it->rest->len; k-- > 0;) {
		if (++it->odo[k] < ((GPtrArray *)it->rest->pdata[k])->len)
			break;
		it->odo[k] = 0;
	}
	if (--it->cur_left == 0)
		g_clear_pointer(&it->cur, g_free);
	return TRUE;
}

/* ---------------------------------------------------------------- template */

enum mod { M_NONE, M_NOEXT, M_BASE, M_DIR, M_BASENOEXT };
enum seg_kind { S_LIT, S_ALL, S_POS, S_SEQ };

struct seg {
	enum seg_kind kind;
	enum mod mod;
	guint pos;		/* S_POS: from 1 */
	char *lit;
};

struct tword {
	char *word;
	GArray *segs;		/* NULL: no replacement string in it */
};

struct template {
	GArray *words;
	gboolean repl;
};

/* A replacement string at p ("{...}"): its length, 0 if p holds none. */
static gsize
parse_repl(const char *p, struct seg *s)
{
	static const struct { const char *text; enum mod mod; } mods[] = {
		{ "//", M_DIR }, { "/.", M_BASENOEXT }, { "/", M_BASE },
		{ ".", M_NOEXT }, { "", M_NONE },
	};
	const char *q = p + 1;
	guint64 pos = 0;

	if (p[0] != '{')
		return 0;
	if (strncmp(p, "{#}", 3) == 0) {
		s->kind = S_SEQ;
		return 3;
	}
	while (g_ascii_isdigit(*q) && q - p < 8)
		pos = pos * 10 + (*q++ - '0');
	if (q > p + 1 && pos == 0)
		return 0;	/* {0}: not one */
	for (gsize i = 0; i < G_N_ELEMENTS(mods); i++) {
		gsize ml = strlen(mods[i].text);

		if (strncmp(q, mods[i].text, ml) == 0 && q[ml] == '}') {
			s->kind = pos ? S_POS : S_ALL;
			s->pos = pos;
			s->mod = mods[i].mod;
			return q + ml + 1 - p;
		}
	}
	return 0;
}

struct template *
template_new(char **words, int n)
{
	struct template *t = g_new0(struct template, 1);

	t->words = g_array_new(FALSE, TRUE, sizeof(struct tword));
	for (int i = 0; i < n; i++) {
		struct tword w = { g_strdup(words[i]), NULL };
		const char *p = words[i], *lit = p;
		struct seg s;
		gsize len;

		for (; *p; p++) {
			memset(&s, 0, sizeof(s));
			if (!(len = parse_repl(p, &s)))
				continue;
			if (!w.segs)
				w.segs = g_array_new(FALSE, TRUE,
						     sizeof(struct seg));
			if (p > lit) {
				struct seg l = { S_LIT, M_NONE, 0,
						 g_strndup(lit, p - lit) };

				g_array_append_val(w.segs, l);
			}
			g_array_append_val(w.segs, s);
			p += len - 1;
			lit = p + 1;
		}
		if (w.segs && *lit) {
			struct seg l = { S_LIT, M_NONE, 0, g_strdup(lit) };

			g_array_append_val(w.segs, l);
		}
		t->repl = t->repl || w.segs;
		g_array_append_val(t->words, w);
	}
	return t;
}

void
template_free(struct template *t)
{
	if (!t)
		return;
	for (guint i = 0; i < t->words->len; i++) {
		struct tword *w = &g_array_index(t->words, struct tword, i);

		g_free(w->word);
		for (guint k = 0; w->segs && k < w->segs->len; k++)
			g_free(g_array_index(w->segs, struct seg, k).lit);
		if (w->segs)
			g_array_unref(w->segs);
	}
	g_array_unref(t->words);
	g_free(t);
}

gboolean
template_has_repl(struct template *t)
{
	return t->repl;
}

/* s without its extension (a last ".x" of its last component), as GNU
 * parallel's {.}: ".bashrc" has none left. */
static void
strip_ext(GString *s)
{
	for (gsize i = s->len; i-- > 0;) {
		if (s->str[i] == '/')
			return;
		if (s->str[i] == '.') {
			g_string_truncate(s, i);
			return;
		}
	}
}

/* A value changed as mod says, appended to out. */
static void
apply_mod(GString *out, const char *v, enum mod mod)
{
	g_autoptr(GString) s = g_string_new(v);
	const char *slash;

	switch (mod) {
	case M_NONE:
		break;
	case M_NOEXT:
		strip_ext(s);
		break;
	case M_BASE:
	case M_BASENOEXT:
		if ((slash = strrchr(v, '/')))
			g_string_assign(s, slash + 1);
		if (mod == M_BASENOEXT)
			strip_ext(s);
		break;
	case M_DIR:
		/* As dirname(1) (and Perl's, which parallel uses): the
		 * trailing slashes go first. */
		while (s->len > 1 && s->str[s->len - 1] == '/')
			g_string_truncate(s, s->len - 1);
		if (!(slash = strrchr(s->str, '/'))) {
			g_string_assign(s, ".");
			break;
		}
		g_string_truncate(s, slash - s->str);
		while (s->len > 1 && s->str[s->len - 1] == '/')
			g_string_truncate(s, s->len - 1);
		if (!s->len)
			g_string_assign(s, "/");
		break;
	}
	g_string_append_len(out, s->str, s->len);
}

/*
 * Expand one word: a replacement string with several values (the chunk's
 * items for {}) makes several words, the text before it joining the first
 * and the text after it the last, as GNU parallel's does ("x{}y" with a
 * and b: "xa" "by").
 */
static void
expand_word(struct tword *w, guint64 seq, GPtrArray *vals, GPtrArray *out)
{
	GString *cur = g_string_new(NULL);

	for (guint k = 0; k < w->segs->len; k++) {
		struct seg *s = &g_array_index(w->segs, struct seg, k);

		switch (s->kind) {
		case S_LIT:
			g_string_append(cur, s->lit);
			break;
		case S_SEQ:
			g_string_append_printf(cur, "%" G_GUINT64_FORMAT, seq);
			break;
		case S_POS:
			/* The Nth value of the job; none: empty. */
			if (s->pos <= vals->len)
				apply_mod(cur, vals->pdata[s->pos - 1],
					  s->mod);
			break;
		case S_ALL:
			for (guint i = 0; i < vals->len; i++) {
				if (i > 0) {
					g_ptr_array_add(out, g_string_free(
						cur, FALSE));
					cur = g_string_new(NULL);
				}
				apply_mod(cur, vals->pdata[i], s->mod);
			}
			break;
		}
	}
	g_ptr_array_add(out, g_string_free(cur, FALSE));
}

GPtrArray *
template_words(struct template *t, guint64 seq, GPtrArray *vals,
	       gboolean append)
{
	GPtrArray *words = g_ptr_array_new_with_free_func(g_free);
	guint i;

	for (i = 0; i < t->words->len; i++) {
		struct tword *w = &g_array_index(t->words, struct tword, i);

		if (w->segs)
			expand_word(w, seq, vals, words);
		else
			g_ptr_array_add(words, g_strdup(w->word));
	}
	/* No replacement string: the values go at the end. */
	for (i = 0; append && !t->repl && i < vals->len; i++)
		g_ptr_array_add(words, g_strdup(vals->pdata[i]));
	return words;
}

char *
template_line(struct template *t, const char *prefix, guint64 seq,
	      GPtrArray *vals, GError **error)
{
	g_autoptr(GString) line = g_string_new(prefix);
	g_autoptr(GPtrArray) words = template_words(t, seq, vals, TRUE);

	for (guint i = 0; i < words->len; i++)
		if (!tc_append_word(line, words->pdata[i], error))
			return NULL;
	return g_string_free(g_steal_pointer(&line), FALSE);
}
