/*
 * keeper.c - `trickle-node --share-keeper NAME`: the process that hands
 * out a share's slots (share.h).  One GMainLoop: the listening socket and
 * one source per client.  It ends three seconds after its last client
 * has gone, or at once if another keeper of the share is there first.
 */
#include "share.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <glib-unix.h>

#define IDLE_EXIT_S 3

struct kclient {
	struct keeper *k;
	int fd;
	guint watch;
	uid_t uid;
	pid_t pid;
	gboolean hello;
	gboolean orphan;
	guint held, want;
	guint pending;			/* slots to tell it of (GRANT) */
	gint64 wait_since;		/* since when want > held */
};

struct keeper {
	GMainLoop *loop;
	GPtrArray *clients;		/* struct kclient * */
	guint budget;
	gint64 free;			/* budget - held by all (may dip
					   below 0 after a restart) */
	guint idle_timer;
	gboolean stay;			/* no end when idle */
	/* What the clients were last told. */
	guint told_clients, told_users;
	gboolean told_contended;
};

gboolean
share_name_valid(const char *name)
{
	const char *p;

	if (strlen(name) > SHARE_MAX_NAME)
		return FALSE;
	for (p = name; *p; p++)
		if (!g_ascii_isalnum(*p) && !strchr("._-", *p))
			return FALSE;
	return TRUE;
}

unsigned
share_address(const char *name, void *addr)
{
	struct sockaddr_un *sa = addr;
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	/* sun_path[0] = 0: the abstract namespace; no trailing NUL. */
	n = g_snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1,
		       "tricklefs-share/%s", *name ? name : "node");
	return offsetof(struct sockaddr_un, sun_path) + 1 +
	       MIN((unsigned)n, sizeof(sa->sun_path) - 2);
}

int
share_recv(int fd, struct share_msg *m)
{
	ssize_t n;

	do
		n = recv(fd, m, sizeof(*m), MSG_DONTWAIT | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	return n == (ssize_t)sizeof(*m) ? 1 : -1;
}

gboolean
share_send(int fd, guint32 op, guint32 a, guint32 b, guint32 c)
{
	struct share_msg m = { op, a, b, c };

	return send(fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) ==
	       (ssize_t)sizeof(m);
}

guint
share_node_budget(void)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error = NULL;
	long cpus;

	if (g_key_file_load_from_file(kf, SHARE_CONF, G_KEY_FILE_NONE,
				      &error)) {
		gint64 n = g_key_file_get_int64(kf, "share", "cores", &error);

		if (!error && n >= 1 && n <= SHARE_MAX_SLOTS)
			return (guint)n;
		if (error && !g_error_matches(error, G_KEY_FILE_ERROR,
					      G_KEY_FILE_ERROR_KEY_NOT_FOUND) &&
		    !g_error_matches(error, G_KEY_FILE_ERROR,
				     G_KEY_FILE_ERROR_GROUP_NOT_FOUND))
			g_warning("%s: [share] cores: %s", SHARE_CONF,
				  error->message);
		else if (!error)
			g_warning("%s: [share] cores=%" G_GINT64_FORMAT
				  ": not 1-%d", SHARE_CONF, n,
				  SHARE_MAX_SLOTS);
	} else if (!g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
		g_warning("%s: %s", SHARE_CONF, error->message);
	}
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus >= 1 ? (guint)MIN(cpus, SHARE_MAX_SLOTS) : 1;
}

static void
kc_send(struct kclient *c, guint32 op, guint32 a, guint32 b, guint32 d)
{
	/* A client too slow to read its few messages is not waited for:
	 * a lost STATE is repeated with the next change, and a GRANT is
	 * kept pending. */
	if (!share_send(c->fd, op, a, b, d) && op == SHARE_GRANT)
		c->pending += a;
}

/* The slots uid's clients hold. */
static guint
user_held(struct keeper *k, uid_t uid)
{
	guint i, n = 0;

	for (i = 0; i < k->clients->len; i++) {
		struct kclient *c = k->clients->pdata[i];

		if (c->hello && c->uid == uid)
			n += c->held;
	}
	return n;
}

/* Who is served first: a client with a mount, of the user holding
 * fewest, holding fewest itself, waiting longest. */
static gboolean
before(struct keeper *k, struct kclient *a, struct kclient *b)
{
	guint ua, ub;

	if (a->orphan != b->orphan)
		return !a->orphan;
	ua = user_held(k, a->uid);
	ub = user_held(k, b->uid);
	if (ua != ub)
		return ua < ub;
	if (a->held != b->held)
		return a->held < b->held;
	return a->wait_since < b->wait_since;
}

static void
note_waiting(struct kclient *c, gboolean was)
{
	gboolean now = c->want > c->held;

	if (now && !was)
		c->wait_since = g_get_monotonic_time();
}

/* Hand out what is free, then tell who got what and how things stand. */
static void
allocate(struct keeper *k)
{
	GHashTable *users = g_hash_table_new(NULL, NULL);
	gboolean contended = FALSE;
	guint i, clients = 0;

	while (k->free > 0) {
		struct kclient *best = NULL;

		for (i = 0; i < k->clients->len; i++) {
			struct kclient *c = k->clients->pdata[i];

			if (c->hello && c->want > c->held &&
			    (!best || before(k, c, best)))
				best = c;
		}
		if (!best)
			break;
		best->held++;
		best->pending++;
		best->wait_since = g_get_monotonic_time();
		k->free--;
	}
	for (i = 0; i < k->clients->len; i++) {
		struct kclient *c = k->clients->pdata[i];
		guint n = c->pending;

		if (!c->hello)
			continue;
		clients++;
		g_hash_table_add(users, GUINT_TO_POINTER(c->uid + 1));
		contended |= c->want > c->held;
		if (n) {
			c->pending = 0;
			kc_send(c, SHARE_GRANT, n, 0, 0);
		}
	}
	if (clients != k->told_clients ||
	    g_hash_table_size(users) != k->told_users ||
	    contended != k->told_contended) {
		k->told_clients = clients;
		k->told_users = g_hash_table_size(users);
		k->told_contended = contended;
		for (i = 0; i < k->clients->len; i++) {
			struct kclient *c = k->clients->pdata[i];

			if (c->hello)
				kc_send(c, SHARE_STATE, k->told_clients,
					k->told_users, contended);
		}
	}
	g_hash_table_destroy(users);
}

static gboolean
on_idle_exit(gpointer data)
{
	struct keeper *k = data;

	k->idle_timer = 0;
	g_main_loop_quit(k->loop);
	return G_SOURCE_REMOVE;
}

static void
drop_client(struct kclient *c)
{
	struct keeper *k = c->k;

	/* Its slots come back: it ended, or it broke the rules. */
	k->free += c->held;
	if (c->watch)
		g_source_remove(c->watch);
	close(c->fd);
	g_ptr_array_remove(k->clients, c);
	g_free(c);
	if (!k->clients->len && !k->idle_timer && !k->stay)
		k->idle_timer = g_timeout_add_seconds(IDLE_EXIT_S,
						      on_idle_exit, k);
	allocate(k);
}

/* One message; FALSE if the client must go. */
static gboolean
take(struct kclient *c, const struct share_msg *m)
{
	struct keeper *k = c->k;
	gboolean was = c->want > c->held;

	if (!c->hello && m->op != SHARE_HELLO)
		return FALSE;
	switch (m->op) {
	case SHARE_HELLO:
		if (c->hello || m->b > SHARE_MAX_SLOTS || m->c > 1)
			return FALSE;
		c->hello = TRUE;
		c->pid = (pid_t)m->a;
		/* Slots it held from a keeper that died: still in use. */
		c->held = MIN(m->b, k->budget);
		c->want = c->held;
		c->orphan = m->c;
		k->free -= c->held;
		kc_send(c, SHARE_WELCOME, k->budget, 0, 0);
		break;
	case SHARE_WANT:
		if (m->a > SHARE_MAX_SLOTS * 16u)
			return FALSE;
		c->want = m->a;
		break;
	case SHARE_RELEASE:
		if (m->a > c->held)
			return FALSE;
		c->held -= m->a;
		k->free += m->a;
		break;
	case SHARE_ORPHAN:
		if (m->a > 1)
			return FALSE;
		c->orphan = m->a;
		break;
	default:
		return FALSE;
	}
	note_waiting(c, was);
	return TRUE;
}

static gboolean
on_client(int fd, GIOCondition cond, gpointer data)
{
	struct kclient *c = data;
	struct share_msg m;
	int n;

	(void)cond;
	while ((n = share_recv(fd, &m)) != 0) {
		if (n < 0 || !take(c, &m)) {
			if (n > 0)
				g_message("share: client pid %d (uid %u) "
					  "sent a bad message: dropped",
					  (int)c->pid, (unsigned)c->uid);
			c->watch = 0;
			drop_client(c);
			return G_SOURCE_REMOVE;
		}
	}
	allocate(c->k);
	return G_SOURCE_CONTINUE;
}

static gboolean
on_accept(int lfd, GIOCondition cond, gpointer data)
{
	struct keeper *k = data;
	struct ucred cr;
	socklen_t len = sizeof(cr);
	struct kclient *c;
	int fd;

	(void)cond;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return G_SOURCE_CONTINUE;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
		close(fd);
		return G_SOURCE_CONTINUE;
	}
	c = g_new0(struct kclient, 1);
	c->k = k;
	c->fd = fd;
	c->uid = cr.uid;
	c->pid = cr.pid;
	c->watch = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
				 on_client, c);
	g_ptr_array_add(k->clients, c);
	if (k->idle_timer)
		g_source_remove(k->idle_timer);
	k->idle_timer = 0;
	return G_SOURCE_CONTINUE;
}

static gboolean
on_signal(gpointer data)
{
	g_main_loop_quit(((struct keeper *)data)->loop);
	return G_SOURCE_CONTINUE;
}

int
share_keeper_main(const char *name, guint slots, gboolean stay)
{
	struct sockaddr_un sa;
	struct keeper k = { 0 };
	unsigned len;
	int fd;

	if (!share_name_valid(name)) {
		g_printerr("trickle-node: --share-keeper: bad share name "
			   "'%s'\n", name);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	len = share_address(name, &sa);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0)
		return 1;
	if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
		int err = errno;

		close(fd);
		/* Another keeper won the race to start: it serves. */
		return err == EADDRINUSE ? 0 : 1;
	}
	if (listen(fd, 128) < 0) {
		close(fd);
		return 1;
	}
	k.budget = slots ? MIN(slots, SHARE_MAX_SLOTS) : share_node_budget();
	k.free = k.budget;
	k.loop = g_main_loop_new(NULL, FALSE);
	k.clients = g_ptr_array_new();
	k.stay = stay;
	if (!stay)
		k.idle_timer = g_timeout_add_seconds(IDLE_EXIT_S,
						     on_idle_exit, &k);
	g_unix_fd_add(fd, G_IO_IN, on_accept, &k);
	g_unix_signal_add(SIGTERM, on_signal, &k);
	g_unix_signal_add(SIGINT, on_signal, &k);
	g_main_loop_run(k.loop);
	close(fd);
	while (k.clients->len) {
		struct kclient *c = k.clients->pdata[k.clients->len - 1];

		g_source_remove(c->watch);
		close(c->fd);
		g_free(c);
		g_ptr_array_set_size(k.clients, k.clients->len - 1);
	}
	g_ptr_array_unref(k.clients);
	g_main_loop_unref(k.loop);
	return 0;
}
