/*
 * test-wstore.c - the parts of a VM's log of ended calls (vm<i>/ended,
 * node/worker/wstore.c) that the supervisor reads back as calls end: a
 * place line, and the scan of what was appended since the last look.
 */
#include "worker.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>

/* worker_scan_log on a copy of text: the bytes taken. */
static gsize
scan(const char *text, guint32 id, gboolean *ended, struct worker_where *w)
{
	g_autofree char *buf = g_strdup(text);

	*ended = FALSE;
	memset(w, 0, sizeof(*w));
	return worker_scan_log(buf, strlen(text), id, ended, w);
}

static void
test_scan_stored(void)
{
	const char *log = "7 @ 0 1 0\n7 2 0 \n8 @ 1 5 2\n8 2 0 \n";
	struct worker_where w;
	gboolean ended;

	g_assert_cmpuint(scan(log, 8, &ended, &w), ==, strlen(log));
	g_assert_true(ended);
	g_assert_true(w.stored);
	g_assert_cmpuint(w.off, ==, 1);
	g_assert_cmpuint(w.out, ==, 5);
	g_assert_cmpuint(w.err, ==, 2);
	/* An earlier call in the same piece. */
	scan(log, 7, &ended, &w);
	g_assert_true(ended && w.stored && w.out == 1 && w.off == 0);
	/* Not among them. */
	scan(log, 9, &ended, &w);
	g_assert_false(ended);
	/* Nothing, as a call with no output is kept. */
	scan("3 @ 0 0 0\n3 2 0 \n", 3, &ended, &w);
	g_assert_true(ended && w.stored && w.out == 0 && w.err == 0);
}

static void
test_scan_last_end_wins(void)
{
	struct worker_where w;
	gboolean ended;

	/* Ended, then forgotten or sent again: its last line counts. */
	scan("5 @ 0 3 0\n5 2 0 \n5 0 0 sent again\n", 5, &ended, &w);
	g_assert_true(ended);
	g_assert_false(w.stored);
	/* A place line of another call does not count for this one. */
	scan("6 @ 9 3 0\n5 3 1 exit 1\n", 5, &ended, &w);
	g_assert_true(ended);
	g_assert_false(w.stored);
	/* Its own files (the supervisor's line for a large output). */
	scan("5 @ 0 3 0\n5 2 0 \n5 3 -1 timeout\n", 5, &ended, &w);
	g_assert_true(ended);
	g_assert_false(w.stored);
	/* 15 is not 5, nor 51. */
	scan("15 @ 0 3 0\n15 2 0 \n51 2 0 \n", 5, &ended, &w);
	g_assert_false(ended);
}

static void
test_scan_torn(void)
{
	const char *log = "4 @ 0 2 0\n4 2 0 \n9 @ 2 1";
	struct worker_where w;
	gboolean ended;

	/* The torn line is left for the next look. */
	g_assert_cmpuint(scan(log, 4, &ended, &w), ==,
			 strlen("4 @ 0 2 0\n4 2 0 \n"));
	g_assert_true(ended && w.stored && w.out == 2);
	/* A place line whose end has not come: not ended. */
	g_assert_cmpuint(scan("9 @ 2 1 0\n", 9, &ended, &w), ==, 10);
	g_assert_false(ended);
	g_assert_cmpuint(scan("", 9, &ended, &w), ==, 0);
	/* Junk between lines is skipped. */
	scan("\xff\xff garbage\n2 @ 4 1 1\n2 2 0 \n", 2, &ended, &w);
	g_assert_true(ended && w.stored && w.off == 4);
}

/* A call's directory: calls/ made on the way if it is not there, made
 * once; a VM directory that is not there is not made up. */
static void
test_call_dir(void)
{
	g_autofree char *tmp = g_dir_make_tmp("test-wstore-XXXXXX", NULL);
	g_autofree char *calls = g_build_filename(tmp, "calls", NULL);
	g_autofree char *dir = g_build_filename(calls, "7", NULL);
	g_autofree char *nowhere = g_build_filename(tmp, "vm9", "calls", "7",
						    NULL);

	g_assert_nonnull(tmp);
	g_assert_true(worker_make_call_dir(dir));
	g_assert_true(g_file_test(dir, G_FILE_TEST_IS_DIR));
	g_assert_true(worker_make_call_dir(dir));	/* there already */
	g_assert_false(worker_make_call_dir(nowhere));
	g_assert_cmpint(errno, ==, ENOENT);
	g_assert_cmpint(g_rmdir(dir), ==, 0);
	g_assert_cmpint(g_rmdir(calls), ==, 0);
	g_assert_cmpint(g_rmdir(tmp), ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/wstore/scan-stored", test_scan_stored);
	g_test_add_func("/wstore/scan-last-end-wins", test_scan_last_end_wins);
	g_test_add_func("/wstore/scan-torn", test_scan_torn);
	g_test_add_func("/wstore/call-dir", test_call_dir);
	return g_test_run();
}
