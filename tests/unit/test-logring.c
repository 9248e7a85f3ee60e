/*
 * test-logring.c - the ring behind MOUNT/.log (fs/cluster/logring.c):
 * lines with time and level, offsets that only grow, the bounds in lines
 * and bytes (the oldest go, whole), reads by offset, a reader from 0
 * after lines were dropped, and the banner message of lasterr.c.
 */
#include <glib.h>
#include <string.h>

#include "cluster.h"
#include "logring.h"

static char *
read_all(struct logring *r, guint64 off)
{
	GString *s = g_string_new(NULL);
	char buf[7];		/* small reads: pieces must join up */
	gsize n;

	while ((n = logring_read(r, off, buf, sizeof(buf))) > 0) {
		g_string_append_len(s, buf, n);
		off += n;
	}
	return g_string_free(s, FALSE);
}

static void
test_lines(void)
{
	struct logring *r = logring_new(10, 4096);
	g_autofree char *all = NULL;
	gint64 when = (gint64)1700000000 * G_USEC_PER_SEC + 123456;

	g_assert_cmpuint(logring_end(r), ==, 0);
	logring_add(r, when, "warning", "first\nsecond half");
	logring_add(r, when, "info", "next");
	all = read_all(r, 0);
	g_assert_true(g_regex_match_simple(
		"^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.123 warning: "
		"first second half\n"
		"\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.123 info: next\n$",
		all, 0, 0));
	g_assert_cmpuint(logring_end(r), ==, strlen(all));
	g_assert_cmpuint(logring_start(r), ==, 0);
	logring_free(r);
}

static void
test_bounds(void)
{
	struct logring *r = logring_new(5, 4096);
	g_autofree char *all = NULL, *tail = NULL;
	guint64 end = 0, prev;
	char buf[20];
	int i;

	for (i = 0; i < 12; i++) {
		g_autofree char *t = g_strdup_printf("line %d", i);

		prev = logring_end(r);
		logring_add(r, 0, "info", t);
		g_assert_cmpuint(logring_end(r), >, prev);	/* only grows */
	}
	all = read_all(r, logring_start(r));
	/* A read below the start gets the oldest line kept. */
	g_assert_cmpuint(logring_read(r, 0, buf, 20), ==, 20);
	g_assert_cmpmem(buf, 20, all, 20);
	for (i = 0, end = 0; all[i]; i++)
		end += all[i] == '\n';
	g_assert_cmpuint(end, ==, 5);
	end = logring_end(r);
	g_assert_true(g_str_has_suffix(all, "info: line 11\n"));
	g_assert_nonnull(strstr(all, "info: line 7\n"));
	g_assert_null(strstr(all, "info: line 6\n"));
	g_assert_cmpuint(logring_end(r) - logring_start(r), ==, strlen(all));
	g_assert_cmpuint(end, ==, logring_end(r));
	/* A read at an offset kept gets the bytes there. */
	tail = read_all(r, logring_end(r) - 8);
	g_assert_cmpstr(tail, ==, "line 11\n");
	logring_free(r);

	/* The byte bound: lines go, whole, to keep under it. */
	r = logring_new(1000, 200);
	for (i = 0; i < 50; i++)
		logring_add(r, 0, "info", "0123456789");
	g_assert_cmpuint(logring_end(r) - logring_start(r), <=, 200);
	all = (g_free(all), read_all(r, logring_start(r)));
	g_assert_true(g_regex_match_simple("^(\\S+ \\S+ info: 0123456789\n)+$",
					   all, 0, 0));
	/* A line longer than the ring is cut, and kept alone. */
	{
		g_autofree char *big = g_strnfill(1000, 'x');

		logring_add(r, 0, "error", big);
		g_assert_cmpuint(logring_end(r) - logring_start(r), <=, 200);
		g_free(all);
		all = read_all(r, logring_start(r));
		g_assert_true(g_str_has_suffix(all, "x...\n"));
	}
	logring_free(r);
}

static void
test_skew(void)
{
	struct logring *r = logring_new(3, 4096);
	guint64 skew = G_MAXUINT64, off = 0;
	char buf[4096];
	gsize n;
	int i;

	for (i = 0; i < 6; i++)
		logring_add(r, 0, "info", "abc");
	/* cat from 0: the ring once, in order, then end of file. */
	n = logring_read_skew(r, &skew, off, buf, 10);
	g_assert_cmpuint(skew, ==, logring_start(r));
	off += n;
	n = logring_read_skew(r, &skew, off, buf + off, sizeof(buf) - off);
	off += n;
	g_assert_cmpuint(off, ==, logring_end(r) - logring_start(r));
	g_assert_cmpuint(logring_read_skew(r, &skew, off, buf, 10), ==, 0);
	/* tail: a first read at a kept offset is taken as is. */
	skew = G_MAXUINT64;
	n = logring_read_skew(r, &skew, logring_end(r) - 4, buf, 10);
	g_assert_cmpuint(skew, ==, 0);
	g_assert_cmpuint(n, ==, 4);
	logring_free(r);
}

static void
test_banner(void)
{
	const char *frame = "\0\0\0\x10\0\x01";
	g_autofree char *m = host_banner_error((const guint8 *)
		"Welcome to node1!\r\nLast login: never\n\0\0\0", 40);
	g_autofree char *none = host_banner_error((const guint8 *)frame, 6);

	g_assert_cmpstr(m, ==, "the node printed 'Welcome to node1!' before "
			"the protocol started (check its shell startup files: "
			".bashrc and the like must print nothing when not "
			"interactive)");
	g_assert_null(none);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/logring/lines", test_lines);
	g_test_add_func("/logring/bounds", test_bounds);
	g_test_add_func("/logring/skew", test_skew);
	g_test_add_func("/logring/banner", test_banner);
	return g_test_run();
}
