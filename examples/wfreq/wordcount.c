/*
 * wordcount.c - word frequencies, to inject into Trickle VMs (the paper's
 * word-frequency example); builds wordcount.so.  See README.md.
 *
 *   wordcount FILE...   "word count" lines for FILEs, sorted by word
 *   wc_add FILE...      counts FILEs into this VM's table; prints nothing
 *   wc_dump             this VM's table as "word count" lines, sorted
 *   wc_dump_unsorted    the same lines in no particular order (no sort)
 *   wc_reset            empties this VM's table
 *
 * A word is a maximal run of ASCII letters, lowercased.  wc_add lets each
 * VM combine its share of the files, so the initiator merges one table per
 * VM (wfreq-merge) instead of one per file.  wc_dump_unsorted leaves the
 * sort to wfreq-merge, which sorts once, on the initiator, and so keeps the
 * VMs' serial end short: sorting 50,000 words is most of a dump's cost.
 * Dependency-free: the table is
 * wtable.h's, not GLib's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "trickle.h"
#include "wtable.h"

/* The VM's table: it lives between calls, as globals do on a VM. */
static struct wtable vm_table;

/* Counts FILEs (argv[1..]) into t; reports the first failure on stderr. */
static int
count_files(struct wtable *t, const char *fn, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		errno = 0;
		if (wt_count_file(t, argv[i]) < 0) {
			fprintf(stderr, "%s: %s: %s\n", fn, argv[i],
			    errno ? strerror(errno) : "read error");
			return 1;
		}
	}
	return 0;
}

TRICKLE_DOC(wordcount, "wordcount FILE...: \"word count\" lines for the words in FILEs, sorted by word");
int
wordcount(int argc, char **argv)
{
	struct wtable t = { 0 };
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: wordcount FILE...\n");
		return 2;
	}
	rc = count_files(&t, "wordcount", argc, argv);
	if (rc == 0 && wt_print(&t, stdout) < 0) {
		fprintf(stderr, "wordcount: write error\n");
		rc = 1;
	}
	wt_free(&t);
	return rc;
}

TRICKLE_DOC(wc_add, "wc_add FILE...: count FILEs into this VM's table (all or none); prints nothing");
int
wc_add(int argc, char **argv)
{
	struct wtable t = { 0 };
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: wc_add FILE...\n");
		return 2;
	}
	/* Count apart first, so a bad file leaves the VM's table as it was. */
	rc = count_files(&t, "wc_add", argc, argv);
	if (rc == 0 && wt_merge(&vm_table, &t) < 0) {
		fprintf(stderr, "wc_add: out of memory (table partly updated)\n");
		rc = 1;
	}
	wt_free(&t);
	return rc;
}

TRICKLE_DOC(wc_dump, "wc_dump: this VM's table (from wc_add) as \"word count\" lines, sorted by word");
int
wc_dump(int argc, char **argv)
{
	if (wt_print(&vm_table, stdout) < 0) {
		fprintf(stderr, "wc_dump: write error\n");
		return 1;
	}
	return 0;
}

TRICKLE_DOC(wc_dump_unsorted, "wc_dump_unsorted: this VM's table as \"word count\" lines in no particular order (cheaper than wc_dump; wfreq-merge sorts)");
int
wc_dump_unsorted(int argc, char **argv)
{
	if (wt_write(&vm_table, stdout, 0) < 0) {
		fprintf(stderr, "wc_dump_unsorted: write error\n");
		return 1;
	}
	return 0;
}

TRICKLE_DOC(wc_reset, "wc_reset: empty this VM's table");
int
wc_reset(int argc, char **argv)
{
	wt_free(&vm_table);
	return 0;
}
