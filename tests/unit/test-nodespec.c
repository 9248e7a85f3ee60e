/*
 * test-nodespec.c - NODE arguments and host files.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "nodespec.h"

static void
check(const char *text, const char *name, const char *user, const char *host,
      int port)
{
	g_autoptr(GError) error = NULL;
	struct nodespec ns;

	g_assert_true(nodespec_parse(text, &ns, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(ns.name, ==, name);
	g_assert_cmpstr(ns.user, ==, user);
	g_assert_cmpstr(ns.host, ==, host);
	g_assert_cmpint(ns.port, ==, port);
	nodespec_clear(&ns);
}

static void
refuse(const char *text)
{
	g_autoptr(GError) error = NULL;
	struct nodespec ns;

	g_assert_false(nodespec_parse(text, &ns, &error));
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, text));
	g_assert_null(ns.host);
}

static void
test_forms(void)
{
	check("node1", NULL, NULL, "node1", 0);
	check("127.0.0.1:2222", NULL, NULL, "127.0.0.1", 2222);
	check("a=127.0.0.1:2222", "a", NULL, "127.0.0.1", 2222);
	check("bob@host", NULL, "bob", "host", 0);
	check("w1=bob@host.example.org:22", "w1", "bob", "host.example.org",
	      22);
	check("[::1]:2200", NULL, NULL, "::1", 2200);
	check("v6=root@[fe80::1%eth0]", "v6", "root", "fe80::1%eth0", 0);
	check("x=u@h@host", "x", "u@h", "host", 0);
}

static void
test_refused(void)
{
	refuse("");
	refuse("=host");
	refuse(".hidden=host");
	refuse("a/b=host");
	refuse("@host");
	refuse("host:");
	refuse("host:0");
	refuse("host:65536");
	refuse("host:22x");
	refuse("ho st");
	refuse("host/x");
	refuse("[::1");
	refuse("[::1]x");
	refuse("user@");
}

static void
test_names(void)
{
	g_assert_true(nodespec_valid_name("alpha"));
	g_assert_true(nodespec_valid_name("local-2"));
	g_assert_false(nodespec_valid_name(""));
	g_assert_false(nodespec_valid_name("."));
	g_assert_false(nodespec_valid_name(".all"));
	g_assert_false(nodespec_valid_name("a/b"));
}

static void
test_hostfile(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) specs = g_ptr_array_new_with_free_func(g_free);
	g_autofree char *dir = g_dir_make_tmp("nodespec-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "hosts", NULL);

	g_assert_true(g_file_set_contents(path,
		"# the cluster\n"
		"a=127.0.0.1:2222   b=127.0.0.1:2222 # two VMs\n"
		"\n"
		"   \tbob@node3\n"
		"#node4\n"
		"node5", -1, NULL));
	g_assert_true(nodespec_read_file(path, specs, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(specs->len, ==, 4);
	g_assert_cmpstr(specs->pdata[0], ==, "a=127.0.0.1:2222");
	g_assert_cmpstr(specs->pdata[1], ==, "b=127.0.0.1:2222");
	g_assert_cmpstr(specs->pdata[2], ==, "bob@node3");
	g_assert_cmpstr(specs->pdata[3], ==, "node5");
	g_unlink(path);
	g_rmdir(dir);

	g_assert_false(nodespec_read_file("/nonexistent/hosts", specs,
					  &error));
	g_assert_nonnull(error);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/nodespec/forms", test_forms);
	g_test_add_func("/nodespec/refused", test_refused);
	g_test_add_func("/nodespec/names", test_names);
	g_test_add_func("/nodespec/hostfile", test_hostfile);
	return g_test_run();
}
