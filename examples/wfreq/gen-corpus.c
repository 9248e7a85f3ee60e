/*
 * gen-corpus.c - a deterministic corpus for the word-frequency example,
 * with the shape of the Trickle paper's: by default 63,362 files totalling
 * about 285 MB of English-like text.
 *
 *   gen-corpus [--scale F] [--seed N] [-o DIR]
 *
 * A vocabulary of 50,000 pseudo-words (syllables drawn from a PRNG seeded
 * with N; shorter words are the more frequent ones) is sampled with a Zipf
 * distribution (s = 1.0).  Lines hold 10-15 words, the first capitalised,
 * with commas, a full stop, and now and then a number or a "'s"; files
 * average about 4.5 KB (exponentially spread), 100 to a subdirectory:
 * DIR/d0000/f00000.txt ...  --scale F writes the first round(63362 * F)
 * files (at least one) of the full corpus: file I depends only on the seed
 * and I.  The same seed and scale give a byte-identical corpus.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "wtable.h"

#define FULL_FILES	63362
#define FULL_BYTES	285000000.0
#define VOCAB		50000
#define ZIPF_S		1.0
#define PER_DIR		100
#define MIN_SIZE	256

/* splitmix64: small, fast, and the same everywhere */
static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned
rndn(uint64_t *s, unsigned n)
{
	return (unsigned)(rnd(s) % n);
}

/* uniform in [0, 1) */
static double
rndu(uint64_t *s)
{
	return (double)(rnd(s) >> 11) * (1.0 / 9007199254740992.0);
}

static const char *const onsets[] = {
	"", "", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p",
	"r", "s", "t", "v", "w", "y", "z", "th", "sh", "ch", "st", "br", "tr",
	"pl", "gr", "wh", "qu", "fl", "sp",
};
static const char *const vowels[] = {
	"a", "e", "i", "o", "u", "a", "e", "i", "o", "ea", "ou", "ai", "ee",
	"oo", "y", "ie",
};
static const char *const codas[] = {
	"", "", "", "", "n", "r", "s", "t", "l", "d", "ng", "st", "ck", "m",
	"nd", "rt",
};
#define N(a) (sizeof(a) / sizeof((a)[0]))

struct word {
	char *s;
	size_t len;
	unsigned gen;	/* order generated: ties in length keep it */
};

static int
word_cmp(const void *a, const void *b)
{
	const struct word *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->gen < y->gen ? -1 : x->gen > y->gen;
}

/* The vocabulary's words are kept here, and freed on the way out. */
static struct wtable seen;

/* The vocabulary, most frequent first. */
static struct word *
make_vocab(uint64_t seed)
{
	static const unsigned syl_weights[] = { 1, 1, 2, 2, 2, 2, 3, 3, 3, 4 };
	struct word *v = calloc(VOCAB, sizeof(*v));
	uint64_t s = seed ^ 0x766f636162756c61ULL;
	char buf[64];
	unsigned i, k, nsyl;
	struct wt_entry *e;

	if (!v)
		return NULL;
	for (i = 0; i < VOCAB;) {
		buf[0] = '\0';
		nsyl = syl_weights[rndn(&s, N(syl_weights))];
		for (k = 0; k < nsyl; k++) {
			strcat(buf, onsets[rndn(&s, N(onsets))]);
			strcat(buf, vowels[rndn(&s, N(vowels))]);
			strcat(buf, codas[rndn(&s, N(codas))]);
		}
		if (!(e = wt_add(&seen, buf, strlen(buf), 1)))
			return NULL;
		if (e->count > 1)
			continue;	/* already have it */
		v[i].s = e->word;	/* owned by seen */
		v[i].len = e->len;
		v[i].gen = i;
		i++;
	}
	qsort(v, VOCAB, sizeof(*v), word_cmp);
	return v;
}

static int
mkdir_p(const char *path)
{
	char *p = strdup(path), *q;
	int rc = 0;

	if (!p)
		return -1;
	for (q = p + 1; rc == 0; q++) {
		if (*q != '/' && *q != '\0')
			continue;
		char c = *q;
		*q = '\0';
		if (mkdir(p, 0777) < 0 && errno != EEXIST)
			rc = -1;
		*q = c;
		if (c == '\0')
			break;
	}
	free(p);
	return rc;
}

/* Zipf: the index of the first cdf entry above u */
static unsigned
zipf(const double *cdf, double u)
{
	unsigned lo = 0, hi = VOCAB - 1, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Writes file number idx; adds its size to *bytes. */
static int
write_file(const char *path, uint64_t seed, long idx, const struct word *v,
    const double *cdf, unsigned long long *bytes)
{
	uint64_t s = seed * 0x2545f4914f6cdd1dULL + (uint64_t)idx;
	double mean = FULL_BYTES / FULL_FILES - MIN_SIZE - 45; /* 45: overshoot */
	size_t target, size = 0;
	char line[1024];
	unsigned nw, k, r;
	int n;
	FILE *f;

	rnd(&s);	/* mix the seed in before the first draw */
	target = MIN_SIZE + (size_t)(-log(1.0 - rndu(&s)) * mean);
	if (target > 40 * (size_t)mean)
		target = 40 * (size_t)mean;
	if (!(f = fopen(path, "w")))
		return -1;
	while (size < target) {
		n = 0;
		nw = 10 + rndn(&s, 6);
		for (k = 0; k < nw; k++) {
			if (k)
				line[n++] = ' ';
			if (rndn(&s, 50) == 0) {
				n += sprintf(line + n, "%u", rndn(&s, 2100));
			} else {
				const struct word *w = &v[zipf(cdf, rndu(&s))];

				memcpy(line + n, w->s, w->len);
				if (k == 0)
					line[n] = (char)(line[n] - 'a' + 'A');
				n += (int)w->len;
				if (rndn(&s, 100) == 0) {
					memcpy(line + n, "'s", 2);
					n += 2;
				}
			}
			if (k + 1 < nw && rndn(&s, 8) == 0)
				line[n++] = ',';
		}
		line[n++] = '.';
		line[n++] = '\n';
		if (fwrite(line, 1, (size_t)n, f) != (size_t)n)
			break;
		size += (size_t)n;
	}
	r = (unsigned)ferror(f);
	if (fclose(f) != 0 || r)
		return -1;
	*bytes += size;
	return 0;
}

static void
usage(FILE *out)
{
	fprintf(out, "usage: gen-corpus [--scale F] [--seed N] [-o DIR]\n"
	    "Writes the first round(%d * F) files (default F = 1, about 285 MB)\n"
	    "of the word-frequency corpus for seed N (default 1) under DIR\n"
	    "(default corpus), 100 files to a subdirectory.\n", FULL_FILES);
}

int
main(int argc, char **argv)
{
	double scale = 1.0, *cdf, sum = 0;
	unsigned long long seed = 1, bytes = 0;
	const char *dir = "corpus";
	char *path, *end;
	struct word *v;
	long nfiles, i;
	unsigned k;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (i + 1 >= argc) {
			usage(stderr);
			return 2;
		}
		if (!strcmp(a, "--scale")) {
			errno = 0;
			scale = strtod(argv[++i], &end);
			if (errno || *end || !(scale > 0) || scale > 1000) {
				fprintf(stderr, "gen-corpus: bad scale %s\n", argv[i]);
				return 2;
			}
		} else if (!strcmp(a, "--seed")) {
			errno = 0;
			seed = strtoull(argv[++i], &end, 0);
			if (errno || *end || argv[i][0] == '-' || !argv[i][0]) {
				fprintf(stderr, "gen-corpus: bad seed %s\n", argv[i]);
				return 2;
			}
		} else if (!strcmp(a, "-o")) {
			dir = argv[++i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	nfiles = lround(FULL_FILES * scale);
	if (nfiles < 1)
		nfiles = 1;

	if (!(v = make_vocab(seed)) || !(cdf = malloc(VOCAB * sizeof(*cdf))) ||
	    !(path = malloc(strlen(dir) + 32))) {
		fprintf(stderr, "gen-corpus: out of memory\n");
		return 1;
	}
	for (k = 0; k < VOCAB; k++)
		cdf[k] = (sum += pow(k + 1, -ZIPF_S));
	for (k = 0; k < VOCAB; k++)
		cdf[k] /= sum;
	cdf[VOCAB - 1] = 2.0;	/* u < 1 always lands */

	for (i = 0; i < nfiles; i++) {
		if (i % PER_DIR == 0) {
			sprintf(path, "%s/d%04ld", dir, i / PER_DIR);
			if (mkdir_p(path) < 0) {
				fprintf(stderr, "gen-corpus: %s: %s\n", path, strerror(errno));
				return 1;
			}
		}
		sprintf(path, "%s/d%04ld/f%05ld.txt", dir, i / PER_DIR, i);
		if (write_file(path, seed, i, v, cdf, &bytes) < 0) {
			fprintf(stderr, "gen-corpus: %s: %s\n", path, strerror(errno));
			return 1;
		}
	}
	printf("%ld files, %llu bytes in %s\n", nfiles, bytes, dir);
	free(path);
	free(cdf);
	free(v);
	wt_free(&seen);
	return 0;
}
