/*
 * test-share.c - the keeper of a share of slots (node/share/keeper.c),
 * run in a child process and driven over raw SOCK_SEQPACKET sockets:
 * welcome, grants and state; fairness (the client holding fewest gets a
 * freed slot); a dead client's slots going to a waiting one at once;
 * clients that send nonsense dropped without harm to the others; an
 * orphaned client served last; the rule for share names; and a client
 * (client.c) whose own line is longer than the budget.
 */
#include <glib.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "share.h"

#define TIMEOUT_MS 2000		/* the longest any one wait may take */
#define QUIET_MS 300		/* how long "nothing comes" is watched */

/* A failed check says what was expected. */
#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		g_autofree char *msg_ = g_strdup_printf(__VA_ARGS__);	\
		g_assertion_message(G_LOG_DOMAIN, __FILE__, __LINE__,	\
				    G_STRFUNC, msg_);			\
	}								\
} while (0)

struct cl {
	int fd;
	guint granted;		/* GRANTs received, in all */
	guint budget;		/* from WELCOME, 0 before */
	guint states;		/* STATEs received */
	struct share_msg state;	/* the last one */
	gboolean eof;
};

static pid_t
keeper_start(const char *name)
{
	pid_t pid = fork();

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		/* Its g_message()s must not mix with our TAP output. */
		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		_exit(share_keeper_main(name, 2, FALSE));
	}
	return pid;
}

static void
keeper_stop(pid_t pid)
{
	int status;

	g_assert_cmpint(kill(pid, SIGTERM), ==, 0);
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "keeper to exit 0 on SIGTERM (status %d)", status);
}

static struct cl *
cl_connect(const char *name)
{
	struct sockaddr_un sa;
	unsigned len = share_address(name, &sa);
	gint64 end = g_get_monotonic_time() + TIMEOUT_MS * 1000;
	struct cl *c = g_new0(struct cl, 1);

	for (;;) {
		c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		g_assert_cmpint(c->fd, >=, 0);
		if (connect(c->fd, (struct sockaddr *)&sa, len) == 0)
			return c;
		close(c->fd);
		EXPECT(g_get_monotonic_time() < end,
		       "to connect to keeper '%s' within 2 s: %s", name,
		       g_strerror(errno));
		g_usleep(20000);
	}
}

static void
cl_close(struct cl *c)
{
	if (c->fd >= 0)
		close(c->fd);
	g_free(c);
}

static void
cl_send(struct cl *c, guint32 op, guint32 a, guint32 b, guint32 d)
{
	struct share_msg m = { op, a, b, d };

	EXPECT(send(c->fd, &m, sizeof(m), MSG_NOSIGNAL) == sizeof(m),
	       "to send op %u: %s", op, g_strerror(errno));
}

/* Read what comes for up to ms; TRUE once done() holds. */
static gboolean
cl_pump(struct cl *c, int ms, gboolean (*done)(struct cl *, guint),
	guint arg)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;

	while (!(done && done(c, arg)) && !c->eof) {
		struct pollfd p = { c->fd, POLLIN, 0 };
		int left = (int)((end - g_get_monotonic_time()) / 1000);
		struct share_msg m;
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		n = recv(c->fd, &m, sizeof(m), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0) {
			c->eof = TRUE;
			break;
		}
		EXPECT(n == sizeof(m), "keeper messages of 16 bytes, not %zd",
		       n);
		if (m.op == SHARE_WELCOME)
			c->budget = m.a;
		else if (m.op == SHARE_GRANT)
			c->granted += m.a;
		else if (m.op == SHARE_STATE)
			c->states++, c->state = m;
		else
			EXPECT(FALSE, "only WELCOME/GRANT/STATE, not op %u",
			       m.op);
	}
	return done && done(c, arg);
}

static gboolean
has_granted(struct cl *c, guint n) { return c->granted >= n; }
static gboolean
has_welcome(struct cl *c, guint n) { return c->budget && c->states >= n; }
static gboolean
has_contended(struct cl *c, guint v) { return c->states && c->state.c == v; }
static gboolean
has_eof(struct cl *c, guint n) { return c->eof; }

/* Connect and say HELLO; wait for the WELCOME and a STATE. */
static struct cl *
cl_hello(const char *name, guint orphan)
{
	struct cl *c = cl_connect(name);

	cl_send(c, SHARE_HELLO, (guint32)getpid(), 0, orphan);
	EXPECT(cl_pump(c, TIMEOUT_MS, has_welcome, 1),
	       "WELCOME and a STATE after HELLO");
	EXPECT(c->budget == 2, "WELCOME a=2 (the budget), not %u", c->budget);
	return c;
}

static void
expect_granted(struct cl *c, guint total, const char *who)
{
	cl_pump(c, TIMEOUT_MS, has_granted, total);
	/* And no more than that. */
	cl_pump(c, QUIET_MS, NULL, 0);
	EXPECT(c->granted == total, "%s: granted %u in all, not %u", who,
	       total, c->granted);
	EXPECT(!c->eof, "%s: still connected", who);
}

static char *
unique_name(const char *what)
{
	return g_strdup_printf("unit-%d-%s", (int)getpid(), what);
}

/* 1-3: grants, contention, fairness, a dead client's slot. */
static void
test_fair(void)
{
	g_autofree char *name = unique_name("fair");
	pid_t k = keeper_start(name);
	struct cl *a = cl_hello(name, 0), *b;

	EXPECT(a->state.a == 1, "STATE a=1 client, not %u", a->state.a);
	cl_send(a, SHARE_WANT, 3, 0, 0);
	expect_granted(a, 2, "first, WANT 3");
	EXPECT(cl_pump(a, TIMEOUT_MS, has_contended, 1),
	       "STATE contended=1 while the first wants 3 and holds 2");

	b = cl_hello(name, 0);
	cl_send(b, SHARE_WANT, 1, 0, 0);
	expect_granted(b, 0, "second, WANT 1 while the first holds both");
	cl_send(a, SHARE_RELEASE, 1, 0, 0);
	expect_granted(b, 1, "second, after the first releases 1");
	expect_granted(a, 2, "first, still wanting 3 (the second holds fewer)");

	cl_send(b, SHARE_WANT, 2, 0, 0);
	expect_granted(b, 1, "second, WANT 2 while the first holds 1");
	cl_close(a);		/* as if it died */
	expect_granted(b, 2, "second, once the first's socket closed");

	cl_close(b);
	keeper_stop(k);
}

/* 4: nonsense gets a client dropped; the others keep their slots. */
static void
test_bad(void)
{
	g_autofree char *name = unique_name("bad");
	pid_t k = keeper_start(name);
	struct cl *b = cl_hello(name, 0), *c, *x;
	static const char *what[] = {
		"a 3-byte message", "an unknown op",
		"RELEASE of more than it holds", "WANT before HELLO",
	};
	guint i;

	cl_send(b, SHARE_WANT, 2, 0, 0);
	expect_granted(b, 2, "good client, WANT 2");
	for (i = 0; i < G_N_ELEMENTS(what); i++) {
		x = cl_connect(name);
		if (i == 0)
			EXPECT(send(x->fd, "abc", 3, MSG_NOSIGNAL) == 3,
			       "to send 3 bytes");
		else if (i == 3)
			cl_send(x, SHARE_WANT, 1, 0, 0);
		else
			cl_send(x, SHARE_HELLO, (guint32)getpid(), 0, 0);
		if (i == 1)
			cl_send(x, 99, 0, 0, 0);
		else if (i == 2)
			cl_send(x, SHARE_RELEASE, 1, 0, 0);
		EXPECT(cl_pump(x, TIMEOUT_MS, has_eof, 0),
		       "EOF for a client that sent %s", what[i]);
		EXPECT(x->granted == 0, "no GRANT to a client that sent %s",
		       what[i]);
		cl_close(x);
	}
	/* b still holds both: a newcomer waits until b gives one back. */
	c = cl_hello(name, 0);
	cl_send(c, SHARE_WANT, 1, 0, 0);
	expect_granted(c, 0, "newcomer, while the good client holds both");
	cl_send(b, SHARE_WANT, 1, 0, 0);
	cl_send(b, SHARE_RELEASE, 1, 0, 0);
	expect_granted(c, 1, "newcomer, after the good client released 1");
	expect_granted(b, 2, "good client (kept its slots throughout)");

	cl_close(b);
	cl_close(c);
	keeper_stop(k);
}

/* 5: an orphaned client gets a slot only when no other wants one. */
static void
test_orphan(void)
{
	g_autofree char *name = unique_name("orphan");
	pid_t k = keeper_start(name);
	struct cl *a = cl_hello(name, 0), *o, *n;

	cl_send(a, SHARE_WANT, 2, 0, 0);
	expect_granted(a, 2, "first, WANT 2");
	o = cl_hello(name, 1);
	cl_send(o, SHARE_WANT, 1, 0, 0);	/* waits longest */
	n = cl_hello(name, 0);
	cl_send(n, SHARE_WANT, 1, 0, 0);
	expect_granted(o, 0, "orphan, while all slots are held");
	cl_send(a, SHARE_WANT, 1, 0, 0);
	cl_send(a, SHARE_RELEASE, 1, 0, 0);
	expect_granted(n, 1, "client with a mount, before the orphan");
	expect_granted(o, 0, "orphan, while a client with a mount wants");
	cl_send(n, SHARE_WANT, 0, 0, 0);
	cl_send(n, SHARE_RELEASE, 1, 0, 0);
	expect_granted(o, 1, "orphan, once no other client wants a slot");

	cl_close(a);
	cl_close(o);
	cl_close(n);
	keeper_stop(k);
}

/* 6: share names. */
static void
test_names(void)
{
	char longname[SHARE_MAX_NAME + 2];

	EXPECT(share_name_valid("abc-1.x_y"), "'abc-1.x_y' to be valid");
	EXPECT(!share_name_valid("a/b"), "'a/b' to be rejected");
	EXPECT(share_name_valid(""), "'' (the node's share) to be valid");
	memset(longname, 'a', SHARE_MAX_NAME + 1);
	longname[SHARE_MAX_NAME + 1] = 0;
	EXPECT(!share_name_valid(longname), "a 65-character name rejected");
	longname[SHARE_MAX_NAME] = 0;
	EXPECT(share_name_valid(longname), "a 64-character name valid");
}

/* 7: a client (client.c) whose own line is longer than the budget.  It
 * tells the keeper no more than the budget, so the keeper does not see
 * it wait (no STATE contended=1 to anyone), and a call's end hands its
 * slot to the next of its units in line without asking the keeper. */
static void
on_unit_granted(void *data, guint unit)
{
	(*(guint *)data)++;
}

static const struct share_callbacks unit_cb = { .granted = on_unit_granted };

static void
iterate_until(struct share *s, guint *granted, guint want_granted,
	      guint want_budget)
{
	gint64 end = g_get_monotonic_time() + TIMEOUT_MS * 1000;
	struct share_state st;

	for (;;) {
		share_get(s, &st);
		if (*granted >= want_granted && st.budget >= want_budget)
			return;
		EXPECT(g_get_monotonic_time() < end,
		       "%u grants and budget %u within 2 s (have %u, %u)",
		       want_granted, want_budget, *granted, st.budget);
		g_main_context_iteration(NULL, FALSE);
		g_usleep(1000);
	}
}

static void
test_own_line(void)
{
	g_autofree char *name = unique_name("line");
	pid_t k = keeper_start(name);
	struct cl *watcher = cl_hello(name, 0);
	guint granted = 0, u;
	struct share *s;
	struct share_state st;

	/* The client dials the running keeper; it never starts one. */
	s = share_open(name, "/bin/false", &unit_cb, &granted);
	iterate_until(s, &granted, 0, 2);
	for (u = 0; u < 10; u++)
		EXPECT(!share_take(s, u), "unit %u to wait: nothing granted "
		       "yet", u);
	iterate_until(s, &granted, 2, 2);
	/* Let what the keeper says come in. */
	for (u = 0; u < 50; u++) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(2000);
	}
	share_get(s, &st);
	EXPECT(!st.contended, "not contended: only our own units wait");
	EXPECT(st.held == 2 && st.waiting == 8,
	       "2 units on a slot, 8 waiting (have %u, %u)", st.held,
	       st.waiting);
	cl_pump(watcher, QUIET_MS, NULL, 0);
	EXPECT(watcher->state.c == 0, "the other client told contended=0, "
	       "not %u", watcher->state.c);
	/* Unit 0's call ends, with another to run: its slot goes to the
	 * next in line (unit 2) here, at once, and unit 0 goes to the back;
	 * unit 1's ends with none: its slot goes to unit 3 the same way. */
	EXPECT(!share_give(s, 0, TRUE), "unit 0 to take its turn");
	EXPECT(granted == 3, "unit 2 granted at once (grants %u)", granted);
	EXPECT(!share_give(s, 1, FALSE), "unit 1 to give its slot up");
	EXPECT(granted == 4, "unit 3 granted at once (grants %u)", granted);
	share_get(s, &st);
	EXPECT(st.held == 2 && st.waiting == 7,
	       "2 units on a slot, 7 waiting (have %u, %u)", st.held,
	       st.waiting);
	share_free(s);
	cl_close(watcher);
	keeper_stop(k);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	signal(SIGPIPE, SIG_IGN);
	g_test_add_func("/share/fair", test_fair);
	g_test_add_func("/share/bad", test_bad);
	g_test_add_func("/share/orphan", test_orphan);
	g_test_add_func("/share/names", test_names);
	g_test_add_func("/share/own-line", test_own_line);
	return g_test_run();
}
