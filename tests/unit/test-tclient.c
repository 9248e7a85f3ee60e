/*
 * test-tclient.c - the tools' reading of call ids: what .all/calls/new and
 * .done hand back is the call's path from the mount, VM/calls/N (trickle(7),
 * CALL IDS), and nothing else is taken for one.
 */
#include <glib.h>

#include "tclient.h"

static void
check(const char *s, const char *vm, guint32 id)
{
	g_autofree char *got = NULL;
	guint32 n = 0;

	g_assert_true(tc_parse_call_id(s, &got, &n));
	g_assert_cmpstr(got, ==, vm);
	g_assert_cmpuint(n, ==, id);
}

static void
test_paths(void)
{
	check("local0/calls/725", "local0", 725);
	check(".any/calls/1421", ".any", 1421);
	check("a/calls/1", "a", 1);
	check("node-2.vm/calls/4294967295", "node-2.vm", G_MAXUINT32);
}

static void
test_refused(void)
{
	static const char *const bad[] = {
		"local0/725",		/* the old VM/N form: not a path */
		"725",			/* a bare number names no directory */
		"/calls/3",		/* no VM */
		"local0/calls/",	/* no number */
		"local0/calls/0",	/* ids start at 1 */
		"local0/calls/3x",
		"local0/calls/3/result",
		"local0/calls/-3",
		"local0/calls/4294967296",
		"local0/call/3",
		"",
	};
	guint i;

	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		char *vm = NULL;
		guint32 n = 0;

		g_assert_false(tc_parse_call_id(bad[i], &vm, &n));
		g_assert_null(vm);
	}
}

static void
test_done_prefix(void)
{
	g_assert_cmpstr(tc_done_prefix(NULL), ==, ".any");
	g_assert_cmpstr(tc_done_prefix("local1"), ==, "local1");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/tclient/call-id/paths", test_paths);
	g_test_add_func("/tclient/call-id/refused", test_refused);
	g_test_add_func("/tclient/done-prefix", test_done_prefix);
	return g_test_run();
}
