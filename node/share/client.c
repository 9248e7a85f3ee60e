/*
 * client.c - a trickle-node's side of its node's share (share.h): the
 * slots the keeper gave it, which unit (VM) runs on each, and the units
 * waiting in line for one.  It starts the keeper if there is none, and
 * starts it again if it dies; without a keeper, units run unshared.
 */
#include "share.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <glib-unix.h>

#define CONNECT_TRIES 50		/* 20 ms apart, after starting one */
#define RECONNECT_MS 200
#define RECONNECT_TRIES 10		/* then run unshared */
#define WELCOME_WAIT_MS 1000
#define LINGER_MS 100			/* an idle slot kept while nobody
					   waits, for the next call */

/* A unit as a key of holders and an item of line: never NULL. */
#define KEY(unit) GUINT_TO_POINTER((unit) + 1)
#define UNIT(key) (GPOINTER_TO_UINT(key) - 1)

struct share {
	const struct share_callbacks *cb;
	void *data;
	char *name;
	guint slots;			/* NAME:SLOTS; 0: the node's budget */
	char *self;
	gboolean off;			/* unshared: every unit runs */
	int fd;				/* to the keeper, or -1 */
	guint watch, retry_timer, changed_idle, linger_timer;
	guint retries;
	gboolean welcomed;

	guint budget, clients, users;
	gboolean contended;
	guint held;			/* slots the keeper gave us */
	GHashTable *holders;		/* units on a slot */
	GQueue line;			/* units waiting, in order */
	guint told_want;
	gboolean orphan;
};

static void
changed(struct share *s);

static void
to_keeper(struct share *s, guint32 op, guint32 a, guint32 b, guint32 c)
{
	if (s->fd < 0)
		return;
	/* A few bytes on a local socket the keeper drains: a full buffer
	 * means a keeper that hangs, and the EOF or the next send tells. */
	if (!share_send(s->fd, op, a, b, c))
		g_debug("share: send to the keeper: %s", g_strerror(errno));
}

/* What we want, told only when it changes.  The keeper never gives one
 * client more than the budget, so a want past it is told as the budget:
 * a fan-out to a thousand VMs does not send a thousand WANTs, and our
 * own line longer than the budget does not look to the keeper (and to
 * us, through STATE) like another client waiting, which would make every
 * call's end give its slot back and wait for it again. */
static void
tell_want(struct share *s)
{
	guint want = g_hash_table_size(s->holders) + s->line.length;

	if (s->budget)
		want = MIN(want, s->budget);
	if (s->fd >= 0 && s->welcomed && want != s->told_want) {
		to_keeper(s, SHARE_WANT, want, 0, 0);
		s->told_want = want;
	}
}

static void
assign(struct share *s, gpointer key)
{
	g_hash_table_add(s->holders, key);
}

/* Slots held and not on a unit go to the units in line, in order; what
 * is left goes back.  Unshared, everyone in line runs. */
static void
hand_out(struct share *s)
{
	GQueue ready = G_QUEUE_INIT;
	gpointer u;

	while (s->line.length &&
	       (s->off || s->held > g_hash_table_size(s->holders))) {
		u = g_queue_pop_head(&s->line);
		assign(s, u);
		g_queue_push_tail(&ready, u);
	}
	/* Spare slots go back, unless kept a moment for our next call
	 * while nobody else wants them: a call after a call then starts
	 * without asking.  Somebody waiting (STATE) ends that at once. */
	if (!s->off && s->held > g_hash_table_size(s->holders) &&
	    (s->contended || !s->linger_timer)) {
		guint spare = s->held - g_hash_table_size(s->holders);

		to_keeper(s, SHARE_RELEASE, spare, 0, 0);
		s->held -= spare;
	}
	tell_want(s);
	changed(s);
	/* Told last: a VM that starts its call may give or take again. */
	while ((u = g_queue_pop_head(&ready)))
		s->cb->granted(s->data, UNIT(u));
}

static gboolean
on_linger(gpointer data)
{
	struct share *s = data;

	s->linger_timer = 0;
	hand_out(s);
	return G_SOURCE_REMOVE;
}

static void
go_unshared(struct share *s, const char *why)
{
	g_warning("share %s: %s: calls run without sharing the node's cores",
		  *s->name ? s->name : "of the node", why);
	s->off = TRUE;
	hand_out(s);
}

static void keeper_lost(struct share *s);

static gboolean
on_keeper(int fd, GIOCondition cond, gpointer data)
{
	struct share *s = data;
	struct share_msg m;
	int n;

	(void)cond;
	while ((n = share_recv(fd, &m)) != 0) {
		if (n < 0)
			goto lost;
		switch (m.op) {
		case SHARE_WELCOME:
			if (m.a < 1 || m.a > SHARE_MAX_SLOTS)
				goto lost;
			s->budget = m.a;
			s->welcomed = TRUE;
			s->retries = 0;
			s->told_want = g_hash_table_size(s->holders);
			break;
		case SHARE_GRANT:
			if (!s->welcomed || m.a > SHARE_MAX_SLOTS)
				goto lost;
			s->held += m.a;
			break;
		case SHARE_STATE:
			if (!s->welcomed || m.c > 1)
				goto lost;
			s->clients = m.a;
			s->users = m.b;
			s->contended = m.c;
			break;
		default:
			goto lost;
		}
	}
	hand_out(s);
	return G_SOURCE_CONTINUE;
lost:
	s->watch = 0;
	keeper_lost(s);
	return G_SOURCE_REMOVE;
}

static void
detach(gpointer data)
{
	(void)data;
	setsid();
}

/* A keeper for the share, outside our process tree (GLib's double fork)
 * and in a session of its own: it outlives us, and nothing that ends our
 * processes ends it. */
static void
start_keeper(struct share *s)
{
	g_autofree char *slots = g_strdup_printf("%u", s->slots);
	char *argv[] = { s->self, "--share-keeper", s->name, "--share-slots",
			 slots, NULL };
	g_autoptr(GError) error = NULL;

	if (!g_spawn_async(NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL |
			   G_SPAWN_STDERR_TO_DEV_NULL |
			   G_SPAWN_STDIN_FROM_DEV_NULL, detach, NULL, NULL,
			   &error))
		g_warning("share: cannot start its keeper: %s",
			  error->message);
}

static int
dial(struct share *s)
{
	struct sockaddr_un sa;
	unsigned len = share_address(s->name, &sa);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reach the keeper, starting one if there is none; FALSE if none
 * answers.  Blocks at most a second. */
static gboolean
join(struct share *s)
{
	int fd = dial(s), i;

	if (fd < 0) {
		start_keeper(s);
		for (i = 0; i < CONNECT_TRIES && fd < 0; i++) {
			g_usleep(20 * 1000);
			fd = dial(s);
		}
	}
	if (fd < 0)
		return FALSE;
	g_unix_set_fd_nonblocking(fd, TRUE, NULL);
	s->fd = fd;
	s->welcomed = FALSE;
	s->watch = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
				 on_keeper, s);
	/* What we hold is in use: a new keeper counts it as taken. */
	to_keeper(s, SHARE_HELLO, (guint32)getpid(),
		  g_hash_table_size(s->holders), s->orphan);
	/* Its WELCOME, so that the first call knows the budget. */
	if (poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1,
		 WELCOME_WAIT_MS) > 0)
		on_keeper(fd, G_IO_IN, s);
	return TRUE;
}

static gboolean
on_retry(gpointer data)
{
	struct share *s = data;

	s->retry_timer = 0;
	if (join(s))
		return G_SOURCE_REMOVE;
	if (++s->retries >= RECONNECT_TRIES) {
		go_unshared(s, "its keeper cannot be reached again");
		return G_SOURCE_REMOVE;
	}
	s->retry_timer = g_timeout_add(RECONNECT_MS, on_retry, s);
	return G_SOURCE_REMOVE;
}

static void
keeper_lost(struct share *s)
{
	if (s->watch)
		g_source_remove(s->watch);
	s->watch = 0;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->welcomed = FALSE;
	/* Slots on a unit stay in use; the spare ones were the keeper's. */
	s->held = g_hash_table_size(s->holders);
	g_message("share: lost its keeper; joining it again");
	if (!s->retry_timer)
		s->retry_timer = g_timeout_add(RECONNECT_MS, on_retry, s);
}

static gboolean
on_changed(gpointer data)
{
	struct share *s = data;

	s->changed_idle = 0;
	if (s->cb->changed)
		s->cb->changed(s->data);
	return G_SOURCE_REMOVE;
}

static void
changed(struct share *s)
{
	if (!s->changed_idle)
		s->changed_idle = g_idle_add(on_changed, s);
}

struct share *
share_open(const char *spec, const char *self,
	   const struct share_callbacks *cb, void *data)
{
	struct share *s = g_new0(struct share, 1);
	const char *colon = spec ? strchr(spec, ':') : NULL;

	s->cb = cb;
	s->data = data;
	s->fd = -1;
	s->self = g_strdup(self);
	s->holders = g_hash_table_new(NULL, NULL);
	g_queue_init(&s->line);
	s->name = colon ? g_strndup(spec, colon - spec)
			: g_strdup(spec ? spec : "");
	if (strcmp(s->name, "off") == 0) {
		s->off = TRUE;
		return s;
	}
	if (colon) {
		char *end = NULL;
		guint64 n = g_ascii_strtoull(colon + 1, &end, 10);

		/* The node's own share takes its budget from the node, not
		 * from one of its users. */
		if (!*s->name || end == colon + 1 || *end || n < 1 ||
		    n > SHARE_MAX_SLOTS) {
			go_unshared(s, "the share wanted is NAME or "
				    "NAME:SLOTS (1-4096)");
			return s;
		}
		s->slots = (guint)n;
	}
	if (!share_name_valid(s->name)) {
		go_unshared(s, "a share's name is at most 64 letters, digits, "
			    "'.', '_' or '-'");
		return s;
	}
	if (!self || !join(s))
		go_unshared(s, "no keeper answers");
	return s;
}

void
share_free(struct share *s)
{
	if (!s)
		return;
	if (s->watch)
		g_source_remove(s->watch);
	if (s->retry_timer)
		g_source_remove(s->retry_timer);
	if (s->linger_timer)
		g_source_remove(s->linger_timer);
	if (s->changed_idle)
		g_source_remove(s->changed_idle);
	if (s->fd >= 0)
		close(s->fd);
	g_hash_table_destroy(s->holders);
	g_queue_clear(&s->line);
	g_free(s->name);
	g_free(s->self);
	g_free(s);
}

gboolean
share_take(struct share *s, guint unit)
{
	gpointer u = KEY(unit);

	if (g_hash_table_contains(s->holders, u))
		return TRUE;
	if (s->off || (!s->line.length &&
		       s->held > g_hash_table_size(s->holders))) {
		assign(s, u);
		changed(s);
		return TRUE;
	}
	if (!g_queue_find(&s->line, u))
		g_queue_push_tail(&s->line, u);
	tell_want(s);
	changed(s);
	return FALSE;
}

gboolean
share_give(struct share *s, guint unit, gboolean more)
{
	gpointer u = KEY(unit);

	if (!g_hash_table_contains(s->holders, u))
		return more && share_take(s, unit);
	/* Nobody waits, here or elsewhere: the next call runs at once. */
	if (more && (s->off || (!s->contended && !s->line.length)))
		return TRUE;
	g_hash_table_remove(s->holders, u);
	if (more)
		g_queue_push_tail(&s->line, u);
	else if (!s->off && !s->contended) {
		if (s->linger_timer)
			g_source_remove(s->linger_timer);
		s->linger_timer = g_timeout_add(LINGER_MS, on_linger, s);
	}
	if (!s->off && s->contended && s->held) {
		/* Taking turns: the keeper decides who is next. */
		to_keeper(s, SHARE_RELEASE, 1, 0, 0);
		s->held--;
	}
	hand_out(s);
	return FALSE;
}

void
share_drop(struct share *s, guint unit)
{
	gpointer u = KEY(unit);

	if (g_queue_remove(&s->line, u))
		tell_want(s);
	if (g_hash_table_contains(s->holders, u))
		share_give(s, unit, FALSE);
	changed(s);
}

void
share_orphan(struct share *s, gboolean orphan)
{
	if (s->orphan == orphan)
		return;
	s->orphan = orphan;
	if (s->welcomed)
		to_keeper(s, SHARE_ORPHAN, orphan, 0, 0);
}

void
share_get(struct share *s, struct share_state *st)
{
	st->shared = !s->off;
	st->clients = s->off ? 1 : MAX(s->clients, 1);
	st->users = s->off ? 1 : MAX(s->users, 1);
	st->budget = s->off ? 0 : s->budget;
	st->held = g_hash_table_size(s->holders);
	st->waiting = s->line.length;
	st->contended = !s->off && s->contended;
}
