/*
 * test-discover.c - unit tests for the client's candidate table
 * (utils/discover.c), fed datagrams without sockets.
 */
#include "beacon.h"
#include "beacon-test.h"
#include "discover.h"

#include <string.h>

static guint warnings;

static void
count_warnings(const char *domain, GLogLevelFlags level, const char *msg,
	       gpointer data)
{
	if (level & G_LOG_LEVEL_WARNING)
		warnings++;
	if (level & G_LOG_LEVEL_CRITICAL)
		g_error("critical: %s", msg);
	if (g_test_verbose())
		g_printerr("log: %s\n", msg);
}

struct events {
	GPtrArray *lines;	/* "EVENT name address" */
};

static void
on_event(enum discover_event event, const struct discover_node *n,
	 gpointer user)
{
	static const char *const names[] = {"found", "changed", "bye",
					    "expired"};
	struct events *e = user;

	g_ptr_array_add(e->lines, g_strdup_printf("%s%s %s %s",
		names[event],
		event == DISCOVER_CHANGED && n->restarted ? "-restart" : "",
		n->hello.name,
		n->address));
}

/* The events since the last call, space-separated. */
static char *
take_events(struct events *e)
{
	char *s;

	g_ptr_array_add(e->lines, NULL);
	s = g_strjoinv(", ", (char **)e->lines->pdata);
	g_ptr_array_set_size(e->lines, 0);
	return s;
}

#define expect_events(e, want)                                               \
	do {                                                                 \
		g_autofree char *got_ = take_events(e);                     \
		g_assert_cmpstr(got_, ==, want);                             \
	} while (0)

static void
feed(struct discover *d, const struct beacon *b, const char *addr,
     gboolean reply)
{
	g_autoptr(GByteArray) out = g_byte_array_new();

	g_assert_true(beacon_encode(b, out, NULL));
	discover_feed(d, out->data, out->len, addr, reply);
}

static struct discover *
table(const struct discover_options *extra, struct events *e)
{
	struct discover_options opt = {0};
	g_autoptr(GError) error = NULL;
	struct discover *d;

	if (extra)
		opt = *extra;
	opt.no_network = TRUE;
	e->lines = g_ptr_array_new_with_free_func(g_free);
	d = discover_new(&opt, on_event, e, &error);
	g_assert_no_error(error);
	g_assert_nonnull(d);
	return d;
}

static void
test_table_events(void)
{
	struct events e;
	struct discover *d = table(NULL, &e);
	struct discover_stats st;
	struct beacon b, bye;
	const struct discover_node *n;
	GPtrArray *all;

	make_hello(&b, "n1", 1);
	feed(d, &b, "10.0.0.1", FALSE);
	expect_events(&e, "found n1 10.0.0.1");
	n = discover_lookup(d, "10.0.0.1", "n1");
	g_assert_nonnull(n);
	g_assert_cmpstr(n->hello.fingerprints[0], ==, ED25519_FP);
	g_assert_null(discover_lookup(d, "10.0.0.2", "n1"));
	/* The same name elsewhere is another candidate. */
	feed(d, &b, "10.0.0.2", FALSE);
	expect_events(&e, "found n1 10.0.0.2");
	/* A duplicate or an older one: nothing. */
	feed(d, &b, "10.0.0.1", FALSE);
	b.seq--;
	feed(d, &b, "10.0.0.1", FALSE);
	b.seq += 2;
	feed(d, &b, "10.0.0.1", FALSE);
	expect_events(&e, "");
	discover_get_stats(d, &st);
	g_assert_cmpuint(st.stale, ==, 2);
	/* Other fields: changed. */
	b.seq++;
	b.cores = 4;
	feed(d, &b, "10.0.0.1", FALSE);
	expect_events(&e, "changed n1 10.0.0.1");
	g_assert_cmpuint(discover_lookup(d, "10.0.0.1", "n1")->hello.cores, ==,
			 4);
	/* A new instance, even with a lower sequence: restarted. */
	b.instance++;
	b.seq = 1;
	feed(d, &b, "10.0.0.1", FALSE);
	expect_events(&e, "changed-restart n1 10.0.0.1");

	/* BYE: only for the current instance, and in order. */
	memset(&bye, 0, sizeof(bye));
	bye.kind = BEACON_BYE;
	g_strlcpy(bye.name, "n1", sizeof(bye.name));
	bye.instance = b.instance - 1;
	bye.seq = 100;
	feed(d, &bye, "10.0.0.1", FALSE);
	bye.instance = b.instance;
	bye.seq = 1;
	feed(d, &bye, "10.0.0.1", FALSE);
	feed(d, &bye, "10.0.0.3", FALSE);
	expect_events(&e, "");
	bye.seq = 2;
	feed(d, &bye, "10.0.0.1", TRUE);	/* not on the probe socket */
	expect_events(&e, "");
	feed(d, &bye, "10.0.0.1", FALSE);
	expect_events(&e, "bye n1 10.0.0.1");
	g_assert_null(discover_lookup(d, "10.0.0.1", "n1"));

	all = discover_nodes(d);
	g_assert_cmpuint(all->len, ==, 1);
	g_assert_cmpstr(((struct discover_node *)all->pdata[0])->address, ==,
			"10.0.0.2");
	g_ptr_array_unref(all);
	discover_free(d);
	g_ptr_array_unref(e.lines);
}

static void
test_table_replies(void)
{
	struct events e;
	struct discover *d = table(NULL, &e);
	struct discover_stats st;
	struct beacon b;
	guint w = warnings;

	make_hello(&b, "n1", 2);
	/* A reply must carry our nonce; one to the group none. */
	b.nonce = discover_nonce(d) + 1;
	feed(d, &b, "10.0.0.1", TRUE);
	feed(d, &b, "10.0.0.1", FALSE);
	b.nonce = 0;
	feed(d, &b, "10.0.0.1", TRUE);
	expect_events(&e, "");
	b.nonce = discover_nonce(d);
	feed(d, &b, "10.0.0.1", TRUE);
	expect_events(&e, "found n1 10.0.0.1");
	/* Other clients' probes on the group are normal. */
	memset(&b, 0, sizeof(b));
	b.kind = BEACON_PROBE;
	feed(d, &b, "10.0.0.9", FALSE);
	feed(d, &b, "10.0.0.9", TRUE);
	discover_get_stats(d, &st);
	g_assert_cmpuint(st.received, ==, 6);
	g_assert_cmpuint(st.unexpected, ==, 4);
	g_assert_cmpuint(st.malformed, ==, 0);
	/* Complaints are rate-limited: one so far. */
	g_assert_cmpuint(warnings - w, ==, 1);
	discover_free(d);
	g_ptr_array_unref(e.lines);
}

static void
test_table_malformed(void)
{
	struct events e;
	struct discover *d = table(NULL, &e);
	struct discover_stats st;
	guint8 junk[300];
	guint i, w = warnings;

	for (i = 0; i < 1000; i++) {
		memset(junk, (int)i, sizeof(junk));
		discover_feed(d, junk, i % sizeof(junk), "10.0.0.1", i % 2);
	}
	expect_events(&e, "");
	discover_get_stats(d, &st);
	g_assert_cmpuint(st.received, ==, 1000);
	g_assert_cmpuint(st.malformed, ==, 1000);
	g_assert_cmpuint(warnings - w, ==, 1);
	discover_free(d);
	g_ptr_array_unref(e.lines);
}

/* A flood never grows the table past its bounds. */
static void
test_table_caps(void)
{
	struct discover_options opt = {.max_nodes = 10, .max_per_address = 3};
	struct events e;
	struct discover *d = table(&opt, &e);
	struct discover_stats st;
	struct beacon b;
	GPtrArray *all;
	guint i, a;

	for (a = 1; a <= 5; a++) {
		g_autofree char *addr = g_strdup_printf("10.0.0.%u", a);

		for (i = 0; i < 100; i++) {
			g_autofree char *name = g_strdup_printf("n%u", i);

			make_hello(&b, name, 1);
			feed(d, &b, addr, FALSE);
		}
	}
	all = discover_nodes(d);
	g_assert_cmpuint(all->len, ==, 10);
	g_ptr_array_unref(all);
	discover_get_stats(d, &st);
	g_assert_cmpuint(st.refused, ==, 500 - 10);
	g_assert_nonnull(discover_lookup(d, "10.0.0.1", "n2"));
	g_assert_null(discover_lookup(d, "10.0.0.1", "n3"));
	g_assert_nonnull(discover_lookup(d, "10.0.0.4", "n0"));
	g_assert_null(discover_lookup(d, "10.0.0.4", "n1"));
	/* Known ones are still refreshed. */
	make_hello(&b, "n0", 1);
	b.seq++;
	b.cores = 1;
	feed(d, &b, "10.0.0.1", FALSE);
	expect_events(&e, "found n0 10.0.0.1, found n1 10.0.0.1, "
		      "found n2 10.0.0.1, found n0 10.0.0.2, found n1 10.0.0.2, "
		      "found n2 10.0.0.2, found n0 10.0.0.3, found n1 10.0.0.3, "
		      "found n2 10.0.0.3, found n0 10.0.0.4, "
		      "changed n0 10.0.0.1");
	discover_free(d);
	g_ptr_array_unref(e.lines);
}

static gboolean
stop(gpointer loop)
{
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

static void
test_table_expiry(void)
{
	struct discover_options opt = {.expire_ms = 100};
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	struct events e;
	struct discover *d = table(&opt, &e);
	struct beacon b;

	make_hello(&b, "old", 1);
	feed(d, &b, "10.0.0.1", FALSE);
	g_timeout_add(60, stop, loop);
	g_main_loop_run(loop);
	make_hello(&b, "new", 1);
	feed(d, &b, "10.0.0.1", FALSE);
	expect_events(&e, "found old 10.0.0.1, found new 10.0.0.1");
	g_timeout_add(90, stop, loop);
	g_main_loop_run(loop);
	expect_events(&e, "expired old 10.0.0.1");
	g_timeout_add(200, stop, loop);
	g_main_loop_run(loop);
	expect_events(&e, "expired new 10.0.0.1");
	discover_free(d);
	g_ptr_array_unref(e.lines);
}

static void
test_match(void)
{
	struct discover_node n = {.address = "10.1.2.3"};
	const char *const none[] = {NULL};
	const char *const names[] = {"web*", "node?", NULL};
	const char *const addrs[] = {"10.1.2.*", NULL};

	g_strlcpy(n.hello.name, "node7", sizeof(n.hello.name));
	g_assert_true(discover_match(&n, NULL));
	g_assert_true(discover_match(&n, none));
	g_assert_true(discover_match(&n, names));
	g_assert_true(discover_match(&n, addrs));
	g_strlcpy(n.hello.name, "node17", sizeof(n.hello.name));
	g_assert_false(discover_match(&n, names));
	g_strlcpy(n.address, "10.1.3.3", sizeof(n.address));
	g_assert_false(discover_match(&n, addrs));
}

static void
test_bad_options(void)
{
	struct discover_options opt = {.group = "10.0.0.1"};
	g_autoptr(GError) error = NULL;
	struct discover *d;

	d = discover_new(&opt, on_event, NULL, &error);
	g_assert_null(d);
	g_assert_nonnull(error);
	g_clear_error(&error);
	opt.group = NULL;
	opt.interface = "no-such-if0";
	d = discover_new(&opt, on_event, NULL, &error);
	g_assert_null(d);
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, "no-such-if0"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* The table warns about what it ignores: count, don't abort. */
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	g_log_set_default_handler(count_warnings, NULL);
	g_test_add_func("/discover/events", test_table_events);
	g_test_add_func("/discover/replies", test_table_replies);
	g_test_add_func("/discover/malformed", test_table_malformed);
	g_test_add_func("/discover/caps", test_table_caps);
	g_test_add_func("/discover/expiry", test_table_expiry);
	g_test_add_func("/discover/match", test_match);
	g_test_add_func("/discover/bad-options", test_bad_options);
	return g_test_run();
}
