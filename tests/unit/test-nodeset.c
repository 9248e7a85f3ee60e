/*
 * test-nodeset.c - node sets (fs/cluster/nodeset.c), N/ slots in NODE
 * words, and how the command line names the VMs they make
 * (fs/cluster/source_static.c).
 */
#include <glib.h>
#include <string.h>

#include "cluster.h"
#include "nodeset.h"
#include "nodespec.h"

/* text expands to want, names joined by spaces. */
static void
expands(const char *text, const char *want)
{
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) names = nodeset_expand(text, 0, &error);
	g_autofree char *got = NULL;

	g_assert_no_error(error);
	g_assert_nonnull(names);
	got = g_strjoinv(" ", names);
	g_assert_cmpstr(got, ==, want);
}

/* text is refused with a message naming it and holding why. */
static void
refused(const char *text, guint max, const char *why)
{
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) names = nodeset_expand(text, max, &error);

	g_assert_null(names);
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, text));
	if (!strstr(error->message, why))
		g_error("\"%s\": \"%s\" lacks \"%s\"", text, error->message,
			why);
}

static void
test_expand(void)
{
	expands("node1", "node1");
	expands("node[1-4]", "node1 node2 node3 node4");
	expands("node[1-3,7]", "node1 node2 node3 node7");
	expands("node[3]", "node3");
	expands("n[8-10]", "n8 n9 n10");
	expands("[1-2]x", "1x 2x");
	expands("127.0.0.[1-2]", "127.0.0.1 127.0.0.2");
	expands("a,b[1-2],c", "a b1 b2 c");
	expands("user@node[1-2]:2222", "user@node1:2222 user@node2:2222");
	expands("4/node[1-2]", "4/node1 4/node2");
	/* Several groups: every combination, the last varying fastest. */
	expands("rack[1-2]-n[1-3]",
		"rack1-n1 rack1-n2 rack1-n3 rack2-n1 rack2-n2 rack2-n3");
	/* IPv6 addresses in brackets stay as they are. */
	expands("[::1]:22", "[::1]:22");
	expands("[::1]:22,h[1-2]", "[::1]:22 h1 h2");
}

static void
test_padding(void)
{
	expands("node[01-03]", "node01 node02 node03");
	expands("node[08-11,20]", "node08 node09 node10 node11 node20");
	expands("n[001-002,3]", "n001 n002 n3");
	expands("n[098-101]", "n098 n099 n100 n101");
}

static void
test_errors(void)
{
	refused("node[1-", 0, "without its ']'");
	refused("node1-]", 0, "without its '['");
	refused("node[]", 0, "LO-HI");
	refused("node[a-b]", 0, "LO-HI");
	refused("node[1-2-3]", 0, "LO-HI");
	refused("node[1,]", 0, "LO-HI");
	refused("node[4-1]", 0, "goes down");
	refused("node[[1]]", 0, "inside brackets");
	/* A comma makes a bracket a group, even with a colon in it. */
	refused("h[1:2,3]", 0, "LO-HI");
	refused("a,,b", 0, "empty name");
	refused("a,", 0, "empty name");
	refused(",a", 0, "empty name");
	refused("n[1234567890123456789]", 0, "too long");
}

static void
test_cap(void)
{
	g_auto(GStrv) ok = NULL;

	refused("n[1-65537]", 0, "more than 65536");
	refused("n[0-99999999999999]", 0, "more than 65536");
	/* The product of the groups, and the sum over commas, count. */
	refused("r[1-300]-n[1-300]", 0, "more than 65536");
	refused("a[1-6],b[1-5]", 10, "more than 10");
	refused("n[1-1000000000000000,1-1000000000000000]", 0, "more than");
	ok = nodeset_expand("n[1-65536]", 0, NULL);
	g_assert_cmpuint(g_strv_length(ok), ==, 65536);
	g_assert_cmpstr(ok[65535], ==, "n65536");
}

static void
test_is_set(void)
{
	g_assert_false(nodeset_is_set("node1"));
	g_assert_false(nodeset_is_set("[::1]:22"));
	g_assert_false(nodeset_is_set("a=u@[fe80::1%eth0]"));
	g_assert_true(nodeset_is_set("node[1-2]"));
	g_assert_true(nodeset_is_set("a,b"));
	g_assert_true(nodeset_is_set("node[1"));
}

static void
test_slots(void)
{
	g_autoptr(GError) error = NULL;
	struct nodespec ns;

	g_assert_true(nodespec_parse("4/bob@node1:22", &ns, &error));
	g_assert_cmpuint(ns.slots, ==, 4);
	g_assert_cmpstr(ns.user, ==, "bob");
	g_assert_cmpstr(ns.host, ==, "node1");
	nodespec_clear(&ns);
	g_assert_true(nodespec_parse("2/w=node1", &ns, &error));
	g_assert_cmpuint(ns.slots, ==, 2);
	g_assert_cmpstr(ns.name, ==, "w");
	nodespec_clear(&ns);
	g_assert_true(nodespec_parse("node1", &ns, &error));
	g_assert_cmpuint(ns.slots, ==, 0);
	nodespec_clear(&ns);
	g_assert_false(nodespec_parse("0/node1", &ns, &error));
	g_assert_nonnull(strstr(error->message, "1-1024"));
	g_clear_error(&error);
	g_assert_false(nodespec_parse("1025/node1", &ns, &error));
	g_clear_error(&error);
	g_assert_false(nodespec_parse("99999999999999999999/node1", &ns,
				      &error));
	g_clear_error(&error);
}

static void
test_parse_set(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) specs = g_ptr_array_new_with_free_func(
		(GDestroyNotify)nodespec_free);

	g_assert_true(nodespec_parse_set("4/user@node[1-4]:22", 0, specs,
					 &error));
	g_assert_cmpuint(specs->len, ==, 4);
	for (guint i = 0; i < 4; i++) {
		const struct nodespec *s = specs->pdata[i];
		g_autofree char *h = g_strdup_printf("node%u", i + 1);

		g_assert_cmpuint(s->slots, ==, 4);
		g_assert_cmpstr(s->user, ==, "user");
		g_assert_cmpstr(s->host, ==, h);
		g_assert_cmpint(s->port, ==, 22);
	}
	/* A refused set adds nothing; NAME= names one node only. */
	g_assert_false(nodespec_parse_set("w=node[1-2]", 0, specs, &error));
	g_assert_nonnull(strstr(error->message, "NAME="));
	g_clear_error(&error);
	g_assert_false(nodespec_parse_set("a,b,c:0", 0, specs, &error));
	g_clear_error(&error);
	g_assert_cmpuint(specs->len, ==, 4);
	g_assert_true(nodespec_parse_set("w=node[7]", 0, specs, &error));
	g_assert_cmpuint(specs->len, ==, 5);
}

/* The VM names the command line gives, in order, space-separated. */
static char *
vm_names(struct cluster *cl)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < cl->vms->len; i++)
		g_string_append_printf(s, "%s%s", i ? " " : "",
				       ((struct vm *)cl->vms->pdata[i])->name);
	return g_string_free(s, FALSE);
}

static struct cluster *
cluster_with(int vms_per_node, const char *const *words)
{
	struct cluster *cl = cluster_new();

	cl->opt.vms_per_node = vms_per_node;
	cl->opt.state_dir = g_strdup("/nonexistent-unused");
	for (; *words; words++) {
		g_autoptr(GError) error = NULL;

		if (!source_static_add(cl->static_src, *words, &error))
			g_error("%s: %s", *words, error->message);
	}
	return cl;
}

static void
test_static_names(void)
{
	const char *const w1[] = { "2/127.0.0.1", "127.0.0.[1-2]",
				   "a=node1", "3/b=node1", NULL };
	const char *const w2[] = { "node[1-2]", "c=node3", "1/node4", NULL };
	struct cluster *cl = cluster_with(0, w1);
	g_autofree char *names = vm_names(cl);
	g_autoptr(GError) error = NULL;

	/* 127.0.0.1 is named twice: its second VMs are renamed. */
	g_assert_cmpstr(names, ==, "127.0.0.1.0 127.0.0.1.1 127.0.0.1 "
			"127.0.0.2 a b.0 b.1 b.2");
	/* One host per SSH address, holding every VM named on it. */
	g_assert_cmpuint(cl->hosts->len, ==, 3);
	g_assert_cmpuint(((struct host *)cl->hosts->pdata[0])->vms->len, ==,
			 3);
	g_assert_cmpuint(((struct host *)cl->hosts->pdata[2])->vms->len, ==,
			 4);
	/* Past trickle-node's 1024 VMs, with a message. */
	g_assert_false(source_static_add(cl->static_src, "1022/node1",
					 &error));
	g_assert_nonnull(strstr(error->message, "1024"));
	g_clear_error(&error);
	g_assert_false(source_static_add(cl->static_src, "b=node9", &error));
	g_assert_nonnull(strstr(error->message, "two VMs named"));
	g_clear_error(&error);
	cluster_free(cl);

	/* vms_per_node applies to named nodes; N/ overrides it. */
	cl = cluster_with(2, w2);
	g_free(names);
	names = vm_names(cl);
	g_assert_cmpstr(names, ==, "node1.0 node1.1 node2.0 node2.1 c.0 c.1 "
			"node4");
	cluster_free(cl);
}

/* Thousands of VMs of the same name: each found a free name at once. */
static void
test_static_many(void)
{
	const char *const w[] = { "1000/n[1-4]", "n1.0", "n1.0", NULL };
	struct cluster *cl = cluster_with(0, w);
	struct vm *last;

	g_assert_cmpuint(cl->vms->len, ==, 4002);
	last = cl->vms->pdata[cl->vms->len - 1];
	g_assert_cmpstr(last->name, ==, "n1.0-3");
	cluster_free(cl);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/nodeset/expand", test_expand);
	g_test_add_func("/nodeset/padding", test_padding);
	g_test_add_func("/nodeset/errors", test_errors);
	g_test_add_func("/nodeset/cap", test_cap);
	g_test_add_func("/nodeset/is-set", test_is_set);
	g_test_add_func("/nodeset/slots", test_slots);
	g_test_add_func("/nodeset/parse-set", test_parse_set);
	g_test_add_func("/nodeset/static-names", test_static_names);
	g_test_add_func("/nodeset/static-many", test_static_many);
	return g_test_run();
}
