/*
 * test-sshconfig.c - ~/.ssh/config as ssh reads it (fs/transport/
 * ssh_config.c): Host globs and negation, first value wins, IdentityFile
 * adds up, Include (globs, relative to ~/.ssh, in the block it is in),
 * Match skipped, %-tokens, bad values.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "transport.h"

static char *dir;	/* a temp HOME */

static char *
put(const char *name, const char *text)
{
	char *p = g_build_filename(dir, name, NULL);
	g_autofree char *d = g_path_get_dirname(p);

	g_assert_cmpint(g_mkdir_with_parents(d, 0700), ==, 0);
	g_assert_true(g_file_set_contents(p, text, -1, NULL));
	return p;
}

static void
look(const char *file, const char *host, struct ssh_host_config *c)
{
	g_autoptr(GError) e = NULL;

	g_assert_true(ssh_config_lookup(file, host, c, &e));
	g_assert_no_error(e);
}

static void
test_patterns(void)
{
	const char *star[] = { "*.example.org", NULL };
	const char *neg[] = { "node?", "!node3", NULL };
	const char *onlyneg[] = { "!x", NULL };

	g_assert_true(ssh_config_host_matches(star, "a.example.org"));
	g_assert_true(ssh_config_host_matches(star, "A.Example.ORG"));
	g_assert_false(ssh_config_host_matches(star, "example.org"));
	g_assert_true(ssh_config_host_matches(neg, "node1"));
	g_assert_false(ssh_config_host_matches(neg, "node3"));
	g_assert_false(ssh_config_host_matches(neg, "node12"));
	/* A negation alone matches nothing. */
	g_assert_false(ssh_config_host_matches(onlyneg, "y"));
}

static void
test_first_wins(void)
{
	g_autofree char *f = put("first", "# a comment\n"
		"Host web* !web9\n"
		"  HostName %h.example.org\n"
		"  User=alice\n"
		"  Port = 2222\n"
		"  IdentityFile ~/.ssh/id_%r_%h\n"
		"Host *\n"
		"  User bob\n"
		"  Port 22\n"
		"  IdentityFile \"/keys/with space\"\n"
		"  UserKnownHostsFile /kh/%n /kh/second\n"
		"  ServerAliveInterval 7\n"
		"  ConnectTimeout 9\n"
		"  IdentitiesOnly yes\n"
		"  StrictHostKeyChecking accept-new\n"
		"  SomethingElse ignored\n");
	g_autofree char *k = g_build_filename(dir, ".ssh",
					      "id_alice_web1.example.org", NULL);
	struct ssh_host_config c;

	look(f, "web1", &c);
	g_assert_cmpstr(c.hostname, ==, "web1.example.org");
	g_assert_cmpstr(c.user, ==, "alice");
	g_assert_cmpint(c.port, ==, 2222);
	g_assert_cmpuint(c.identity_files->len, ==, 2);
	g_assert_cmpstr(c.identity_files->pdata[0], ==, k);
	g_assert_cmpstr(c.identity_files->pdata[1], ==, "/keys/with space");
	g_assert_cmpstr(c.known_hosts, ==, "/kh/web1");
	g_assert_cmpint(c.alive_interval, ==, 7);
	g_assert_cmpint(c.connect_timeout, ==, 9);
	g_assert_cmpint(c.identities_only, ==, 1);
	ssh_host_config_clear(&c);

	/* Negated: only Host * applies. */
	look(f, "web9", &c);
	g_assert_null(c.hostname);
	g_assert_cmpstr(c.user, ==, "bob");
	g_assert_cmpint(c.port, ==, 22);
	g_assert_cmpuint(c.identity_files->len, ==, 1);
	ssh_host_config_clear(&c);

	/* No file: nothing set. */
	look("none", "web1", &c);
	g_assert_null(c.user);
	g_assert_cmpint(c.port, ==, 0);
	g_assert_cmpint(c.alive_interval, ==, -1);
	g_assert_cmpuint(c.identity_files->len, ==, 0);
	ssh_host_config_clear(&c);
}

static void
test_proxy(void)
{
	g_autofree char *f = put("proxy", "Host a\n"
		"  ProxyJump u@bastion:2200,other\n"
		"  ProxyCommand nc %h %p\n"
		"Host b\n"
		"  ProxyCommand ssh -W %h:%p gw\n"
		"  ProxyJump never\n"
		"Host c\n"
		"  ProxyJump none\n"
		"Host *\n"
		"  ProxyJump everyone\n");
	struct ssh_host_config c;

	look(f, "a", &c);
	g_assert_cmpstr(c.proxy_jump, ==, "u@bastion:2200,other");
	g_assert_null(c.proxy_command);
	ssh_host_config_clear(&c);
	look(f, "b", &c);
	g_assert_null(c.proxy_jump);
	g_assert_cmpstr(c.proxy_command, ==, "ssh -W %h:%p gw");
	ssh_host_config_clear(&c);
	/* "none" is a value: it wins, and means no proxy. */
	look(f, "c", &c);
	g_assert_null(c.proxy_jump);
	g_assert_null(c.proxy_command);
	ssh_host_config_clear(&c);
	look(f, "d", &c);
	g_assert_cmpstr(c.proxy_jump, ==, "everyone");
	ssh_host_config_clear(&c);
}

static void
test_include(void)
{
	g_autofree char *a = put(".ssh/conf.d/10-a.conf",
		"Host inc\n  HostName from-a\n  User ua\n");
	g_autofree char *b = put(".ssh/conf.d/20-b.conf",
		"Host inc other\n  HostName from-b\n  Port 2001\n");
	g_autofree char *cond = put("cond.conf",
		"User from-cond\nHost *\n  Port 3003\n");
	g_autofree char *abs = g_build_filename(dir, "cond.conf", NULL);
	g_autofree char *top = NULL, *text = NULL;
	struct ssh_host_config c;

	g_assert_nonnull(a);
	g_assert_nonnull(b);
	g_assert_nonnull(cond);
	/* Relative to ~/.ssh, with a glob, in order; then an Include inside
	 * a Host block applies only to that block's hosts, and the Host
	 * lines of an included file end with it. */
	text = g_strdup_printf("Include conf.d/*.conf nothing-here*\n"
			       "Host cond\n"
			       "  Include %s\n"
			       "  IdentityFile /k/cond\n"
			       "Host *\n"
			       "  User last\n", abs);
	top = put("top", text);

	look(top, "inc", &c);
	g_assert_cmpstr(c.hostname, ==, "from-a");
	g_assert_cmpstr(c.user, ==, "ua");
	g_assert_cmpint(c.port, ==, 2001);
	ssh_host_config_clear(&c);

	look(top, "cond", &c);
	g_assert_cmpstr(c.user, ==, "from-cond");
	g_assert_cmpint(c.port, ==, 3003);
	/* Back in the Host cond block after the Include. */
	g_assert_cmpuint(c.identity_files->len, ==, 1);
	ssh_host_config_clear(&c);

	look(top, "zzz", &c);
	g_assert_cmpstr(c.user, ==, "last");
	g_assert_cmpint(c.port, ==, 0);
	g_assert_cmpuint(c.identity_files->len, ==, 0);
	ssh_host_config_clear(&c);
}

static void
test_match_and_errors(void)
{
	g_autofree char *m = put("match", "Match host x exec true\n"
		"  User matched\n"
		"Host *\n"
		"  User plain\n");
	g_autofree char *all = put("matchall", "Match all\n  User everyone\n");
	g_autofree char *badport = put("badport", "Host *\n  Port 70000\n");
	g_autofree char *quote = put("quote", "Host *\n  User \"x\n");
	g_autofree char *loop = put("loop", "");
	g_autofree char *looptext = g_strdup_printf("Include %s\n", loop);
	g_autofree char *missing = g_build_filename(dir, "no-such", NULL);
	struct ssh_host_config c;
	GError *e = NULL;

	look(m, "x", &c);
	g_assert_cmpstr(c.user, ==, "plain");
	ssh_host_config_clear(&c);
	look(all, "x", &c);
	g_assert_cmpstr(c.user, ==, "everyone");
	ssh_host_config_clear(&c);

	g_assert_false(ssh_config_lookup(badport, "x", &c, &e));
	g_assert_nonnull(strstr(e->message, "70000"));
	g_assert_nonnull(strstr(e->message, "badport:2"));
	g_clear_error(&e);
	ssh_host_config_clear(&c);

	g_assert_false(ssh_config_lookup(quote, "x", &c, &e));
	g_assert_nonnull(strstr(e->message, "quote"));
	g_clear_error(&e);
	ssh_host_config_clear(&c);

	g_assert_true(g_file_set_contents(loop, looptext, -1, NULL));
	g_assert_false(ssh_config_lookup(loop, "x", &c, &e));
	g_assert_nonnull(strstr(e->message, "deep"));
	g_clear_error(&e);
	ssh_host_config_clear(&c);

	/* NULL checks every block, matching or not. */
	g_assert_true(g_file_set_contents(badport,
		"Host nothing-matches\n  ConnectTimeout soon\n", -1, NULL));
	look(badport, "x", &c);
	ssh_host_config_clear(&c);
	g_assert_false(ssh_config_lookup(badport, NULL, &c, &e));
	g_assert_nonnull(strstr(e->message, "soon"));
	g_clear_error(&e);
	ssh_host_config_clear(&c);

	/* -F FILE must exist; the default ~/.ssh/config need not. */
	g_assert_false(ssh_config_lookup(missing, "x", &c, &e));
	g_assert_nonnull(strstr(e->message, "no-such"));
	g_clear_error(&e);
	ssh_host_config_clear(&c);
}

static void
test_expand(void)
{
	g_autofree char *x = ssh_config_expand("~/a/%h-%p-%r-%n-%%-%u", "h",
					       22, "r", "n");
	g_autofree char *want = g_strdup_printf("%s/a/h-22-r-n-%%-%s",
						g_get_home_dir(),
						g_get_user_name());

	g_assert_cmpstr(x, ==, want);
}

int
main(int argc, char **argv)
{
	int rc;

	dir = g_dir_make_tmp("test-sshconfig-XXXXXX", NULL);
	g_assert_nonnull(dir);
	/* ~ is this temp dir (GLib reads HOME). */
	g_setenv("HOME", dir, TRUE);
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/sshconfig/patterns", test_patterns);
	g_test_add_func("/sshconfig/first-wins", test_first_wins);
	g_test_add_func("/sshconfig/proxy", test_proxy);
	g_test_add_func("/sshconfig/include", test_include);
	g_test_add_func("/sshconfig/match-errors", test_match_and_errors);
	g_test_add_func("/sshconfig/expand", test_expand);
	rc = g_test_run();
	{
		g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);

		if (system(cmd) != 0)
			rc = 1;
	}
	g_free(dir);
	return rc;
}
