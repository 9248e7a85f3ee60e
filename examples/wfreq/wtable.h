/*
 * wtable.h - a small word -> count hash table (open addressing), shared by
 * wordcount.c (injected, so no GLib), merge.c and gen-corpus.c.
 *
 * Words are maximal runs of ASCII letters, lowercased.  Everything here is
 * static inline so each user takes only what it calls.
 */
#ifndef WFREQ_WTABLE_H
#define WFREQ_WTABLE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wt_entry {
	char *word;		/* NULL: empty slot */
	size_t len;
	uint64_t hash;
	unsigned long long count;
};

struct wtable {
	struct wt_entry *e;
	size_t cap;		/* a power of two, or 0 */
	size_t n;
};

static inline uint64_t
wt_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static inline int
wt_grow(struct wtable *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 1024, i, j;
	struct wt_entry *ne = calloc(ncap, sizeof(*ne));

	if (!ne)
		return -1;
	for (i = 0; i < t->cap; i++) {
		if (!t->e[i].word)
			continue;
		for (j = t->e[i].hash & (ncap - 1); ne[j].word; j = (j + 1) & (ncap - 1))
			;
		ne[j] = t->e[i];
	}
	free(t->e);
	t->e = ne;
	t->cap = ncap;
	return 0;
}

/*
 * Adds c to the count of the word s[0..len).  Returns the word's entry, or
 * NULL when out of memory (the table is then unchanged).
 */
static inline struct wt_entry *
wt_add(struct wtable *t, const char *s, size_t len, unsigned long long c)
{
	uint64_t h = wt_hash(s, len);
	struct wt_entry *e;
	size_t j;

	if ((t->n + 1) * 4 > t->cap * 3 && wt_grow(t) < 0)
		return NULL;
	for (j = h & (t->cap - 1); t->e[j].word; j = (j + 1) & (t->cap - 1)) {
		e = &t->e[j];
		if (e->hash == h && e->len == len && memcmp(e->word, s, len) == 0) {
			e->count += c;
			return e;
		}
	}
	e = &t->e[j];
	if (!(e->word = malloc(len + 1)))
		return NULL;
	memcpy(e->word, s, len);
	e->word[len] = '\0';
	e->len = len;
	e->hash = h;
	e->count = c;
	t->n++;
	return e;
}

static inline void
wt_free(struct wtable *t)
{
	size_t i;

	for (i = 0; i < t->cap; i++)
		free(t->e[i].word);
	free(t->e);
	t->e = NULL;
	t->cap = t->n = 0;
}

/* Adds every word of src to dst.  -1 when out of memory (dst partly merged). */
static inline int
wt_merge(struct wtable *dst, const struct wtable *src)
{
	size_t i;

	for (i = 0; i < src->cap; i++)
		if (src->e[i].word &&
		    !wt_add(dst, src->e[i].word, src->e[i].len, src->e[i].count))
			return -1;
	return 0;
}

/*
 * Output.  A "word count" line is the word, a space, the count in decimal
 * and a newline: what fprintf("%s %llu\n") gives, formatted by hand into a
 * buffer written in large pieces, as tables run to 50,000 lines.
 */
struct wt_out_ {
	FILE *f;
	size_t n;
	char buf[1 << 16];
};

static inline void
wt_flush_(struct wt_out_ *o)
{
	if (o->n)
		fwrite(o->buf, 1, o->n, o->f);
	o->n = 0;
}

static inline void
wt_line_(struct wt_out_ *o, const struct wt_entry *e)
{
	char d[24], *p;
	unsigned long long c = e->count;
	int k = 0;

	do {
		d[k++] = (char)('0' + c % 10);
		c /= 10;
	} while (c);
	if (o->n + e->len + k + 2 > sizeof(o->buf))
		wt_flush_(o);
	if (e->len + k + 2 > sizeof(o->buf)) {	/* a huge word: unbuffered */
		fwrite(e->word, 1, e->len, o->f);
		fputc(' ', o->f);
		while (k)
			fputc(d[--k], o->f);
		fputc('\n', o->f);
		return;
	}
	p = o->buf + o->n;
	memcpy(p, e->word, e->len);
	p += e->len;
	*p++ = ' ';
	while (k)
		*p++ = d[--k];
	*p++ = '\n';
	o->n = (size_t)(p - o->buf);
}

/* An entry with the first 8 bytes of its word, big-endian, to sort on. */
struct wt_key_ {
	uint64_t k;
	const struct wt_entry *e;
};

static inline int
wt_cmp_(const void *a, const void *b)
{
	const struct wt_key_ *x = a, *y = b;
	size_t m;
	int r;

	if (x->k != y->k)
		return x->k < y->k ? -1 : 1;
	/* Same first 8 bytes (words hold no NUL): the rest, then the length. */
	m = x->e->len < y->e->len ? x->e->len : y->e->len;
	if (m > 8 && (r = memcmp(x->e->word + 8, y->e->word + 8, m - 8)) != 0)
		return r;
	return (x->e->len > y->e->len) - (x->e->len < y->e->len);
}

/*
 * Prints t's "word count" lines, sorted bytewise by word if sorted, else
 * in the table's own (hash) order, which costs no sort.  -1 on error.
 */
static inline int
wt_write(const struct wtable *t, FILE *out, int sorted)
{
	struct wt_out_ *o;
	struct wt_key_ *v = NULL;
	size_t i, j, k = 0;

	if (t->n == 0)
		return ferror(out) ? -1 : 0;
	if (!(o = malloc(sizeof(*o))))
		return -1;
	o->f = out;
	o->n = 0;
	if (sorted && !(v = malloc(t->n * sizeof(*v)))) {
		free(o);
		return -1;
	}
	for (i = 0; i < t->cap; i++) {
		const struct wt_entry *e = &t->e[i];

		if (!e->word)
			continue;
		if (!sorted) {
			wt_line_(o, e);
			continue;
		}
		v[k].e = e;
		v[k].k = 0;
		for (j = 0; j < 8; j++)
			v[k].k = v[k].k << 8 |
			    (j < e->len ? (unsigned char)e->word[j] : 0);
		k++;
	}
	if (sorted) {
		qsort(v, k, sizeof(*v), wt_cmp_);
		for (i = 0; i < k; i++)
			wt_line_(o, v[i].e);
	}
	wt_flush_(o);
	free(o);
	free(v);
	return ferror(out) ? -1 : 0;
}

/* Prints "word count" lines sorted by word (bytewise).  -1 on error. */
static inline int
wt_print(const struct wtable *t, FILE *out)
{
	return wt_write(t, out, 1);
}

/* Counts the words read from f into t.  -1 on a read error or no memory. */
static inline int
wt_count_stream(struct wtable *t, FILE *f)
{
	char sbuf[64], *buf = sbuf, *nb;
	size_t len = 0, cap = sizeof(sbuf);
	int c, rc = 0;

	for (;;) {
		c = getc_unlocked(f);
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			if (len == cap) {
				nb = buf == sbuf ? malloc(cap * 2) : realloc(buf, cap * 2);
				if (!nb) {
					rc = -1;
					break;
				}
				if (buf == sbuf)
					memcpy(nb, sbuf, len);
				buf = nb;
				cap *= 2;
			}
			buf[len++] = (char)(c | 0x20);
			continue;
		}
		if (len && !wt_add(t, buf, len, 1)) {
			rc = -1;
			break;
		}
		len = 0;
		if (c == EOF)
			break;
	}
	if (ferror(f))
		rc = -1;
	if (buf != sbuf)
		free(buf);
	return rc;
}

/* Counts the words of the file at path into t.  -1 (errno set) on failure. */
static inline int
wt_count_file(struct wtable *t, const char *path)
{
	FILE *f = fopen(path, "r");
	int rc;

	if (!f)
		return -1;
	rc = wt_count_stream(t, f);
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

#endif
