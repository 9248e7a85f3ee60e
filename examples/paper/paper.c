/*
 * paper.c - the functions the Trickle paper's examples inject, in C.
 *
 *   cp paper.so MOUNT/.all/inject/          (with examples/stack for Stack)
 *   foo 10               -> 20         the paper's foo(x): twice x
 *   getitem names 1      -> Alexey     names[1]: line 1 (from 0) of the
 *                                      file data/names of the VM
 *   setitem names 1 Alex               names[1] = 'Alex', done by the VM
 *   length names         -> 2          len(names)
 *   slowfoo 2 10         -> 20         foo(10) after sleeping 2 s (joinany)
 *
 * Each has the shape of main(): argv[0] is the function's name, stdout is
 * the result, the return value the exit status.  A Python list injected as
 * data is a file in the VM's data/ directory, one item per line; calls run
 * in that directory, so they open it by its relative name.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1	/* asprintf */
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trickle.h"

TRICKLE_DOC(foo, "foo X: twice X (the paper's foo)");
int
foo(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: foo X\n");
		return 2;
	}
	printf("%lld\n", 2 * strtoll(argv[1], NULL, 10));
	return 0;
}

TRICKLE_DOC(slowfoo, "slowfoo SECONDS X: foo X after sleeping SECONDS");
int
slowfoo(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: slowfoo SECONDS X\n");
		return 2;
	}
	sleep((unsigned)atoi(argv[1]));
	printf("%lld\n", 2 * strtoll(argv[2], NULL, 10));
	return 0;
}

/* The lines of FILE (a list, one item per line), NULL-terminated, or NULL
 * after saying why. */
static char **
read_list(const char *who, const char *file, size_t *n)
{
	FILE *f = fopen(file, "r");
	char **items = NULL, *line = NULL;
	size_t cap = 0, len = 0;
	ssize_t got;

	if (!f) {
		fprintf(stderr, "%s: %s: %s\n", who, file, strerror(errno));
		return NULL;
	}
	*n = 0;
	while ((got = getline(&line, &len, f)) >= 0) {
		if (got > 0 && line[got - 1] == '\n')
			line[got - 1] = '\0';
		if (*n + 2 > cap) {
			cap = cap ? 2 * cap : 16;
			items = realloc(items, cap * sizeof(*items));
			if (!items)
				abort();
		}
		items[(*n)++] = strdup(line);
	}
	free(line);
	fclose(f);
	if (!items && !(items = calloc(1, sizeof(*items))))
		abort();
	items[*n] = NULL;
	return items;
}

static void
free_list(char **items)
{
	char **p;

	for (p = items; p && *p; p++)
		free(*p);
	free(items);
}

/* Index argv[2] of a list of n items (negative counts from the end, as in
 * Python), or -1 after saying why. */
static long
index_of(const char *who, const char *arg, size_t n)
{
	char *end;
	long i = strtol(arg, &end, 10);

	if (*arg == '\0' || *end != '\0') {
		fprintf(stderr, "%s: not an index: %s\n", who, arg);
		return -1;
	}
	if (i < 0)
		i += (long)n;
	if (i < 0 || (size_t)i >= n) {
		fprintf(stderr, "%s: list index out of range: %s\n", who, arg);
		return -1;
	}
	return i;
}

TRICKLE_DOC(getitem, "getitem FILE I: item I (line I, from 0) of data/FILE");
int
getitem(int argc, char **argv)
{
	size_t n;
	char **items;
	long i;

	if (argc != 3) {
		fprintf(stderr, "usage: getitem FILE INDEX\n");
		return 2;
	}
	if (!(items = read_list(argv[0], argv[1], &n)))
		return 1;
	i = index_of(argv[0], argv[2], n);
	if (i >= 0)
		printf("%s\n", items[i]);
	free_list(items);
	return i >= 0 ? 0 : 1;
}

TRICKLE_DOC(setitem, "setitem FILE I VALUE: item I of data/FILE = VALUE");
int
setitem(int argc, char **argv)
{
	size_t n, k;
	char **items, *tmp;
	FILE *f;
	long i;
	int rc = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: setitem FILE INDEX VALUE\n");
		return 2;
	}
	if (!(items = read_list(argv[0], argv[1], &n)))
		return 1;
	if ((i = index_of(argv[0], argv[2], n)) < 0)
		goto out;
	free(items[i]);
	items[i] = strdup(argv[3]);
	/* Write a new file and rename it over the old: readers see either. */
	if (asprintf(&tmp, "%s.setitem.%ld", argv[1], (long)getpid()) < 0)
		goto out;
	if (!(f = fopen(tmp, "w"))) {
		fprintf(stderr, "setitem: %s: %s\n", tmp, strerror(errno));
		free(tmp);
		goto out;
	}
	for (k = 0; k < n; k++)
		fprintf(f, "%s\n", items[k]);
	if (fclose(f) != 0 || rename(tmp, argv[1]) != 0) {
		fprintf(stderr, "setitem: %s: %s\n", argv[1], strerror(errno));
		unlink(tmp);
	} else {
		rc = 0;
	}
	free(tmp);
out:
	free_list(items);
	return rc;
}

TRICKLE_DOC(length, "length FILE: how many items data/FILE holds");
int
length(int argc, char **argv)
{
	size_t n;
	char **items;

	if (argc != 2) {
		fprintf(stderr, "usage: length FILE\n");
		return 2;
	}
	if (!(items = read_list(argv[0], argv[1], &n)))
		return 1;
	printf("%zu\n", n);
	free_list(items);
	return 0;
}
