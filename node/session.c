/*
 * session.c - sessions that outlive their link: the directory, its lock,
 * the socket a later trickle-node hands a reconnected client over, and
 * adoption of a session whose process died (see session.h).
 *
 * The hand-over, on the socket: the later process sends a u32 (big
 * endian) byte count with the client's two fds attached (SCM_RIGHTS),
 * then that many bytes (what it had read of the client: the ATTACH and
 * anything after it).  The live process answers one byte, 'A', and keeps
 * the connection open for as long as that client is its client; the later
 * process (the SSH session's command) lives until the connection closes.
 */
#include "session.h"
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <glib-unix.h>
#include <gio/gio.h>

#define HANDOFF_MAX (4u << 20)		/* bytes read ahead of the client */
#define HANDOFF_WAIT_MS 2000		/* for the rest of a hand-over */
#define ACK_WAIT_MS 10000		/* for the live process to take it */

struct session {
	char *dir;
	int dirfd;			/* O_PATH: the socket's path via /proc */
	int lockfd;
	int listenfd;
	guint watch;
	int conn;			/* the hand-over of the current client,
					   or our own to the live process */
	session_client_fn client;
	void *data;
};

gboolean
session_id_valid(const char *id)
{
	gsize n = strlen(id);
	const char *p;

	if (n < 8 || n > 64)
		return FALSE;
	for (p = id; *p; p++)
		if (!g_ascii_isdigit(*p) && !(*p >= 'a' && *p <= 'f'))
			return FALSE;
	return TRUE;
}

/* The socket's address through the directory's fd: the directory's own
 * path may be longer than sun_path takes. */
static socklen_t
sock_addr(const struct session *s, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	g_snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/sock",
		   s->dirfd);
	return sizeof(*sa);
}

static gboolean
peer_is_us(int fd)
{
	struct ucred cr;
	socklen_t n = sizeof(cr);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &n) == 0 &&
	       cr.uid == getuid();
}

/* Wait until fd is readable or writable; FALSE on timeout or error. */
static gboolean
wait_fd(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	while ((r = poll(&p, 1, ms)) < 0 && errno == EINTR)
		;
	return r == 1;
}

/* All of len bytes in (out FALSE) or out on fd, each step within the
 * hand-over's bound. */
static gboolean
xfer_full(int fd, void *buf, gsize len, gboolean out)
{
	guint8 *p = buf;

	while (len) {
		ssize_t r;

		if (!wait_fd(fd, out ? POLLOUT : POLLIN, HANDOFF_WAIT_MS))
			return FALSE;
		r = out ? send(fd, p, len, MSG_NOSIGNAL) : read(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return FALSE;
		p += r;
		len -= r;
	}
	return TRUE;
}

/* A later trickle-node hands us its client. */
static gboolean
on_accept(int lfd, GIOCondition cond, gpointer data)
{
	struct session *s = data;
	int fds[2] = { -1, -1 }, cfd;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(fds))];
	} ctl;
	struct msghdr msg = { 0 };
	struct cmsghdr *cm;
	g_autofree guint8 *bytes = NULL;
	guint8 head[4];
	struct iovec iov = { head, sizeof(head) };
	guint32 len;
	ssize_t r;

	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0)
		return G_SOURCE_CONTINUE;
	if (!peer_is_us(cfd)) {
		g_warning("refusing a hand-over from another user");
		goto fail;
	}
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	if (!wait_fd(cfd, POLLIN, HANDOFF_WAIT_MS))
		goto fail;
	while ((r = recvmsg(cfd, &msg, MSG_CMSG_CLOEXEC)) < 0 &&
	       errno == EINTR)
		;
	for (cm = r > 0 ? CMSG_FIRSTHDR(&msg) : NULL; cm;
	     cm = CMSG_NXTHDR(&msg, cm)) {
		int *got = (int *)CMSG_DATA(cm);
		gsize k, nfd;

		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len < CMSG_LEN(0))
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		/* The two we want; any other fd is closed, not leaked. */
		for (k = 0; k < nfd; k++) {
			if (nfd == 2 && fds[k] < 0)
				fds[k] = got[k];
			else
				close(got[k]);
		}
	}
	if (fds[0] < 0 || fds[1] < 0 || (msg.msg_flags & MSG_CTRUNC))
		goto fail;
	if (r < (ssize_t)sizeof(head) &&
	    !xfer_full(cfd, head + r, sizeof(head) - r, FALSE))
		goto fail;
	len = GUINT32_FROM_BE(*(guint32 *)head);
	if (len > HANDOFF_MAX)
		goto fail;
	bytes = g_malloc(MAX(len, 1));
	if (!xfer_full(cfd, bytes, len, FALSE) ||
	    !xfer_full(cfd, (char[]){ 'A' }, 1, TRUE))
		goto fail;
	session_release_client(s);
	s->conn = cfd;
	s->client(s->data, fds[0], fds[1], bytes, len);
	return G_SOURCE_CONTINUE;
fail:
	g_warning("a hand-over of the client failed");
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	close(cfd);
	return G_SOURCE_CONTINUE;
}

/* We hold the directory: take the lock, listen. */
static gboolean
serve(struct session *s, GError **error)
{
	struct sockaddr_un sa;
	socklen_t n = sock_addr(s, &sa);
	g_autofree char *sock = g_build_filename(s->dir, "sock", NULL);

	unlink(sock);	/* a dead owner's */
	s->listenfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
			     SOCK_NONBLOCK, 0);
	if (s->listenfd < 0 || bind(s->listenfd, (struct sockaddr *)&sa, n) < 0 ||
	    listen(s->listenfd, 8) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "cannot listen on %s: %s", sock, g_strerror(errno));
		return FALSE;
	}
	s->watch = g_unix_fd_add(s->listenfd, G_IO_IN, on_accept, s);
	return TRUE;
}

static gboolean
take_lock(struct session *s)
{
	g_autofree char *lock = g_build_filename(s->dir, "lock", NULL);

	s->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	return s->lockfd >= 0 && flock(s->lockfd, LOCK_EX | LOCK_NB) == 0;
}

/* Give our client to the process serving the session. */
static gboolean
hand_off(struct session *s, int in, int out, const guint8 *bytes, gsize len)
{
	int fds[2] = { in, out };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(fds))];
	} ctl;
	guint32 head = GUINT32_TO_BE((guint32)len);
	struct iovec iov = { &head, sizeof(head) };
	struct msghdr msg = { 0 };
	struct cmsghdr *cm;
	char ack = 0;

	if (len > HANDOFF_MAX || !peer_is_us(s->conn))
		return FALSE;
	memset(&ctl, 0, sizeof(ctl));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	if (sendmsg(s->conn, &msg, MSG_NOSIGNAL) != sizeof(head) ||
	    !xfer_full(s->conn, (void *)bytes, len, TRUE))
		return FALSE;
	/* A live process that is stopped (SIGSTOP) takes the connection
	 * into its backlog but never answers: do not wait for ever. */
	return wait_fd(s->conn, POLLIN, ACK_WAIT_MS) &&
	       read(s->conn, &ack, 1) == 1 && ack == 'A';
}

struct session *
session_open(const char *base, const char *id, int in, int out,
	     const guint8 *bytes, gsize len, session_client_fn client,
	     void *data, enum session_how *how, GError **error)
{
	struct session *s;
	struct sockaddr_un sa;
	socklen_t n;

	if (g_mkdir_with_parents(base, 0700) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "cannot create %s: %s", base, g_strerror(errno));
		return NULL;
	}
	s = g_new0(struct session, 1);
	s->dir = g_strdup_printf("%s/session-%s", base, id);
	s->dirfd = s->lockfd = s->listenfd = s->conn = -1;
	s->client = client;
	s->data = data;
	if (mkdir(s->dir, 0700) == 0) {
		*how = SESSION_NEW;
	} else if (errno != EEXIST) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "cannot create %s: %s", s->dir, g_strerror(errno));
		goto fail;
	} else {
		*how = SESSION_ADOPTED;
	}
	s->dirfd = open(s->dir, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (s->dirfd < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "cannot open %s: %s", s->dir, g_strerror(errno));
		goto fail;
	}
	if (*how == SESSION_ADOPTED) {
		/* Is its process alive?  Then it takes our client. */
		n = sock_addr(s, &sa);
		s->conn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s->conn >= 0 &&
		    connect(s->conn, (struct sockaddr *)&sa, n) == 0) {
			if (hand_off(s, in, out, bytes, len)) {
				*how = SESSION_HANDED_OFF;
				return s;
			}
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
				    "the trickle-node serving %s does not "
				    "take the connection (stopped?)", s->dir);
			goto fail;
		}
		if (s->conn >= 0)
			close(s->conn);
		s->conn = -1;
	}
	if (!take_lock(s)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_BUSY,
			    "%s is held by a trickle-node that does not "
			    "listen", s->dir);
		goto fail;
	}
	if (!serve(s, error))
		goto fail;
	return s;
fail:
	session_free(s);
	return NULL;
}

const char *
session_dir(const struct session *s)
{
	return s->dir;
}

void
session_set_lease(struct session *s, guint lease)
{
	char text[64];
	int n = g_snprintf(text, sizeof(text), "%d %u\n", (int)getpid(),
			   lease);

	/* What --list-sessions and the reaper read: who, for how long. */
	if (s->lockfd < 0 || ftruncate(s->lockfd, 0) < 0 ||
	    pwrite(s->lockfd, text, n, 0) != n)
		g_warning("%s: cannot note the lease: %s", s->dir,
			  g_strerror(errno));
}

void
session_touch(struct session *s)
{
	if (s->lockfd >= 0)
		futimens(s->lockfd, NULL);
}

/* ------------------------------------------------ sessions on a node */

struct session_info {
	char *id;
	char *dir;
	gboolean live;		/* a process holds it */
	int pid;
	guint lease;
	gint64 idle;		/* s since its process last noted it ran */
};

static void
session_info_clear(struct session_info *i)
{
	g_free(i->id);
	g_free(i->dir);
}

/* What the lock of a session says; fd keeps the lock if we took it. */
static gboolean
session_look(const char *base, const char *name, struct session_info *i,
	     int *fd)
{
	g_autofree char *lock = NULL, *text = NULL;
	struct stat st;

	memset(i, 0, sizeof(*i));
	if (!g_str_has_prefix(name, "session-") ||
	    !session_id_valid(name + strlen("session-")))
		return FALSE;
	i->id = g_strdup(name + strlen("session-"));
	i->dir = g_build_filename(base, name, NULL);
	lock = g_build_filename(i->dir, "lock", NULL);
	i->lease = 60;
	*fd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (*fd < 0) {
		/* Made, never served: as old as its directory. */
		if (stat(i->dir, &st) == 0)
			i->idle = time(NULL) - st.st_mtime;
		return TRUE;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0)
		i->live = TRUE;
	if (g_file_get_contents(lock, &text, NULL, NULL))
		sscanf(text, "%d %u", &i->pid, &i->lease);
	if (fstat(*fd, &st) == 0)
		i->idle = time(NULL) - st.st_mtime;
	if (i->live) {
		close(*fd);
		*fd = -1;
	}
	return TRUE;
}

void
session_reap(const char *base)
{
	g_autoptr(GDir) d = g_dir_open(base, 0, NULL);
	const char *name;

	/* A session whose process died and that nobody came back for
	 * within its lease: its mount has given it up. */
	while (d && (name = g_dir_read_name(d))) {
		struct session_info i;
		int fd = -1;

		if (!session_look(base, name, &i, &fd))
			continue;
		/* The mount gives it up lease + 2..7 s after losing it;
		 * the same margin here, and some. */
		if (!i.live && i.idle > (gint64)i.lease + 10) {
			g_message("removing session %s: nobody came back for "
				  "it in %u s", i.id, i.lease);
			rm_rf(i.dir);
		}
		if (fd >= 0)
			close(fd);
		session_info_clear(&i);
	}
}

int
session_list(const char *base)
{
	g_autoptr(GDir) d = g_dir_open(base, 0, NULL);
	const char *name;

	printf("%-32s %-8s %7s %6s %6s\n", "SESSION", "STATE", "PID", "IDLE",
	       "LEASE");
	while (d && (name = g_dir_read_name(d))) {
		struct session_info i;
		int fd = -1;

		if (!session_look(base, name, &i, &fd))
			continue;
		printf("%-32s %-8s %7d %5" G_GINT64_FORMAT "s %5us\n", i.id,
		       i.live ? "live" : "orphaned", i.live ? i.pid : 0,
		       i.idle, i.lease);
		if (fd >= 0)
			close(fd);
		session_info_clear(&i);
	}
	return 0;
}

int
session_remove(const char *base, const char *id)
{
	g_autofree char *name = g_strconcat("session-", id, NULL);
	struct session_info i;
	int fd = -1, n;

	if (!session_id_valid(id) || !session_look(base, name, &i, &fd) ||
	    !g_file_test(i.dir, G_FILE_TEST_IS_DIR)) {
		g_printerr("trickle-node: no session %s in %s\n", id, base);
		if (i.id)
			session_info_clear(&i);
		return 1;
	}
	if (i.live && i.pid > 0) {
		/* Its process removes its files as it ends. */
		if (kill(i.pid, SIGTERM) < 0)
			g_printerr("trickle-node: cannot end %d: %s\n", i.pid,
				   g_strerror(errno));
		for (n = 0; n < 100 && g_file_test(i.dir, G_FILE_TEST_EXISTS);
		     n++)
			g_usleep(50000);
	}
	if (g_file_test(i.dir, G_FILE_TEST_EXISTS) && !i.live)
		rm_rf(i.dir);
	if (fd >= 0)
		close(fd);
	n = g_file_test(i.dir, G_FILE_TEST_EXISTS);
	if (n)
		g_printerr("trickle-node: session %s is still there\n", id);
	session_info_clear(&i);
	return n ? 1 : 0;
}

void
session_release_client(struct session *s)
{
	if (s->conn >= 0)
		close(s->conn);
	s->conn = -1;
}

void
session_wait_released(struct session *s)
{
	char c;
	ssize_t r;

	/* The live process closes the connection when our client stops
	 * being its client; until then the SSH session stays. */
	do
		r = read(s->conn, &c, 1);
	while (r > 0 || (r < 0 && errno == EINTR));
	session_free(s);
}

void
session_free(struct session *s)
{
	if (!s)
		return;
	if (s->watch)
		g_source_remove(s->watch);
	if (s->listenfd >= 0) {
		g_autofree char *sock = g_build_filename(s->dir, "sock", NULL);

		close(s->listenfd);
		unlink(sock);
	}
	if (s->conn >= 0)
		close(s->conn);
	if (s->lockfd >= 0)
		close(s->lockfd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	g_free(s->dir);
	g_free(s);
}
