/*
 * merge.c - wfreq-merge [FILE...]: sums "word count" tables (wordcount or
 * wc_dump output, one per VM) read from FILEs, or stdin when none or "-",
 * and prints the merged table as "word count" lines sorted by word.
 * A malformed line is an error (exit 1), never silently skipped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wtable.h"

static int
merge_stream(struct wtable *t, FILE *f, const char *name)
{
	char *line = NULL, *sp, *end;
	size_t cap = 0, i;
	ssize_t n;
	unsigned long long c;
	long lineno = 0;
	int rc = 0;

	while ((n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		sp = strchr(line, ' ');
		if (!sp || sp == line)
			goto bad;
		for (i = 0; line + i < sp; i++)
			if (line[i] < 'a' || line[i] > 'z')
				goto bad;
		if (sp[1] < '0' || sp[1] > '9')
			goto bad;
		errno = 0;
		c = strtoull(sp + 1, &end, 10);
		if (errno || *end)
			goto bad;
		if (!wt_add(t, line, (size_t)(sp - line), c)) {
			fprintf(stderr, "wfreq-merge: out of memory\n");
			rc = -1;
			break;
		}
		continue;
bad:
		fprintf(stderr, "wfreq-merge: %s:%ld: not a \"word count\" line\n",
		    name, lineno);
		rc = -1;
		break;
	}
	if (rc == 0 && ferror(f)) {
		fprintf(stderr, "wfreq-merge: %s: read error\n", name);
		rc = -1;
	}
	free(line);
	return rc;
}

int
main(int argc, char **argv)
{
	struct wtable t = { 0 };
	FILE *f;
	int i, rc = 0;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: wfreq-merge [FILE...]\n"
		    "Sums \"word count\" lines from FILEs (stdin if none or -)\n"
		    "and prints the merged table sorted by word.\n");
		return 0;
	}
	if (argc < 2)
		rc = merge_stream(&t, stdin, "(stdin)");
	for (i = 1; i < argc && rc == 0; i++) {
		if (!strcmp(argv[i], "-")) {
			rc = merge_stream(&t, stdin, "(stdin)");
			continue;
		}
		if (!(f = fopen(argv[i], "r"))) {
			fprintf(stderr, "wfreq-merge: %s: %s\n", argv[i], strerror(errno));
			rc = -1;
			break;
		}
		rc = merge_stream(&t, f, argv[i]);
		fclose(f);
	}
	if (rc == 0 && (wt_print(&t, stdout) < 0 || fflush(stdout) != 0)) {
		fprintf(stderr, "wfreq-merge: write error\n");
		rc = -1;
	}
	wt_free(&t);
	return rc ? 1 : 0;
}
