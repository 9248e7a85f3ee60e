/*
 * zygote.c - workers forked from a process that is already up, instead
 * of each exec()ed anew.
 *
 * Starting a worker with fork() + exec() of trickle-node costs ~15-20 ms
 * of CPU on a small VM: the exec, the dynamic linker binding GLib and
 * GIO, and the page faults of a fresh process.  A node of 1,000 VMs paid
 * that 1,000 times, one after the other.  Instead the supervisor starts
 * one `trickle-node --zygote` (once, exec()ed as before) and asks it over
 * a socket for each worker; the zygote, single-threaded and small, forks
 * one (twice: see below) that runs worker_main() with what was linked
 * already.  The worker is the same program in the same state as an
 * exec()ed one: its own process group, its VM's data directory, the
 * environment the supervisor gave, /dev/null on stdin and stdout, the
 * supervisor's stderr, its socket on fd 3, nothing else open.
 *
 * The worker must be the supervisor's child, not the zygote's: the
 * supervisor waits for it (its exit status says how a call ended), and
 * it must die with the supervisor (PR_SET_PDEATHSIG), not with the
 * zygote, so that a zygote killed -9 takes no VM with it.  So the zygote
 * forks an intermediate process that forks the worker and exits at once;
 * the orphaned worker is handed by the kernel to the nearest "child
 * subreaper" above it, which the supervisor makes itself
 * (PR_SET_CHILD_SUBREAPER), and only then sets its parent-death signal.
 * The zygote answers with the worker's PID only after it has reaped the
 * intermediate, so the worker is already the supervisor's child when the
 * supervisor watches it.  (clone(CLONE_PARENT) would do it in one step
 * but leaves glibc's idea of the thread id stale in the child.)
 *
 * A zygote that dies is started again at the next spawn; one that cannot
 * be had (or dies at once, twice running) leaves the supervisor to
 * spawn workers the old way, so nothing depends on it but speed.
 * TRICKLE_NODE_ZYGOTE=0 in the supervisor's environment turns it off.
 *
 * The requests are SOCK_SEQPACKET datagrams, one per worker: the first
 * object id, the working directory and the environment, with the
 * worker's socket as SCM_RIGHTS; the answer is the PID or -errno.  Both
 * ends are this same executable, so the format is private to it.
 */
#include "worker.h"
#include "evset.h"
#include "fdlimit.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Larger requests (a huge environment) are spawned the old way. */
#define ZYGOTE_MAX_REQUEST (128 * 1024)
/* A zygote that takes longer to answer is given up (and killed). */
#define ZYGOTE_ANSWER_MS 2000

struct zreq_head {
	guint32 first_object;
	guint32 nenv;
};

/* The zygote side. */

/* In the worker, once it is the supervisor's child: become the process
 * an exec()ed worker would be, and run it. */
static void G_GNUC_NORETURN
become_worker(int wfd, pid_t super, guint32 first, char **env)
{
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	sigset_t none;

	/* It dies with the supervisor, not with the zygote.  If the
	 * supervisor went meanwhile, there is nobody to work for. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != super || devnull < 0)
		_exit(1);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	if (dup2(devnull, STDIN_FILENO) < 0 || dup2(devnull, STDOUT_FILENO) < 0 ||
	    dup2(wfd, 3) < 0)
		_exit(1);
	close_range(4, ~0U, 0);
	clearenv();
	for (; *env; env++)
		putenv(*env);
	exit(worker_main(3, first));
}

/* What the intermediate is given, and gives back in w. */
struct mid {
	int wfd;
	pid_t super;
	guint32 first;
	const char *cwd;
	char **env;
	char *mode_arg;
	pid_t w;		/* the worker's PID, or -errno */
};

/*
 * The intermediate: it shares the zygote's memory (CLONE_VM|CLONE_VFORK,
 * as posix_spawn() does), so making it copies no page table; it forks
 * the worker (the one copy of the zygote made per worker) and ends,
 * orphaning it.  The zygote sleeps meanwhile, so what fork() does to
 * shared state (its locks, taken and released) is done alone.
 */
static int
mid_main(void *data)
{
	struct mid *a = data;
	pid_t me = getpid(), w;
	int gate[2];

	if (chdir(a->cwd) < 0 || pipe2(gate, O_CLOEXEC) < 0) {
		a->w = -errno;	/* its own cwd and fds: no CLONE_FS/FILES */
		_exit(0);
	}
	w = fork();
	if (w == 0) {
		struct timespec ts = { 0, 20000 };
		char c;

		if (a->mode_arg && strcmp(a->mode_arg, "--zygote") == 0)
			memcpy(a->mode_arg, "--worker", 8);
		/* Wait to be handed to the supervisor: the gate reads EOF
		 * when the intermediate exits (a thousand workers polling
		 * getppid() took the CPU from the ones being forked), and it
		 * is reparented a moment after. */
		close(gate[1]);
		while (read(gate[0], &c, 1) < 0 && errno == EINTR)
			;
		close(gate[0]);
		while (getppid() == me)
			nanosleep(&ts, NULL);
		become_worker(a->wfd, a->super, a->first, a->env);
	}
	a->w = w < 0 ? -errno : w;
	_exit(0);
}

/* Fork the worker of one request (cwd and env point into its buffer);
 * its PID or -errno. */
static pid_t
fork_worker(int wfd, pid_t super, guint32 first, const char *cwd,
	    char **env, char *mode_arg)
{
	static char *stack;
	const gsize stack_size = 256 * 1024;
	struct mid a = { wfd, super, first, cwd, env, mode_arg, -EIO };
	sigset_t all, old;
	int status;
	pid_t mid;

	if (!stack)
		stack = g_malloc(stack_size);
	/* No handler may run on the intermediate's borrowed memory. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	mid = clone(mid_main, stack + stack_size,
		    CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
	if (mid < 0)
		a.w = -errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (mid < 0)
		return a.w;
	/* Once the intermediate is reaped, the worker is the supervisor's
	 * (CLONE_VFORK wakes us a little before). */
	while (waitpid(mid, &status, 0) < 0 && errno == EINTR)
		;
	return a.w;
}

/* trickle-node --zygote: fork workers on request over fd until it
 * closes (the supervisor went). */
int
zygote_main(int fd, char *mode_arg)
{
	g_autofree char *buf = g_malloc(ZYGOTE_MAX_REQUEST + 1);
	pid_t super = getppid();

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != super || super == 1)
		return 1;
	for (;;) {
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { buf, ZYGOTE_MAX_REQUEST };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		};
		struct cmsghdr *c;
		struct zreq_head h;
		g_autofree char **env = NULL;
		const char *cwd, *p, *end;
		int wfd = -1;
		guint32 i;
		pid_t pid;
		ssize_t n;

		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SCM_RIGHTS &&
			    c->cmsg_len == CMSG_LEN(sizeof(int)))
				memcpy(&wfd, CMSG_DATA(c), sizeof(int));
		buf[n] = '\0';
		end = buf + n;
		pid = -EINVAL;
		if (wfd < 0 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
		    (size_t)n < sizeof(h) + 1)
			goto answer;
		memcpy(&h, buf, sizeof(h));
		if (h.nenv > (guint32)n)
			goto answer;
		cwd = buf + sizeof(h);
		p = cwd + strlen(cwd) + 1;
		env = g_new0(char *, h.nenv + 1);
		for (i = 0; i < h.nenv && p < end; i++) {
			env[i] = (char *)p;
			p += strlen(p) + 1;
		}
		if (i < h.nenv)
			goto answer;
		pid = fork_worker(wfd, super, h.first_object, cwd, env,
				  mode_arg);
answer:
		if (wfd >= 0)
			close(wfd);
		if (send(fd, &pid, sizeof(pid), MSG_NOSIGNAL) != sizeof(pid))
			return 1;
	}
}

/* The supervisor side.
 *
 * Spawns are asynchronous: a thousand VMs asked for at once are a
 * thousand requests queued here, up to WINDOW of them in the zygote's
 * socket (as many as it takes), so that the zygote forks workers while
 * the supervisor makes the next VMs and sets up the last ones, instead
 * of each waiting for the other.  Answers come in the order of the
 * requests; a new request takes those there (making room for itself),
 * and each is told to its caller's callback from the loop, never from
 * zygote_spawn().  A zygote that answers nothing for
 * ZYGOTE_ANSWER_MS while requests wait (frozen, say) is killed: the
 * requests it had are told they are lost (their callers ask again, with
 * a new socket: the old one may have reached a worker), the others go to
 * the next zygote.
 */

G_DEFINE_QUARK(trickle-zygote-error-quark, zygote_error)

#define WINDOW 64

struct zygote_req {
	GByteArray *msg;	/* the request, sent as it is */
	int sock;		/* sent: our end of the worker's socket */
	zygote_spawned_fn cb;	/* NULL: cancelled */
	gpointer data;
	pid_t answer;		/* the worker's PID, -errno, or 0: lost */
	int lost;		/* then why (an errno) */
};

static struct {
	int sock;		/* -1: none now */
	GPid pid;
	guint watch, sock_watch, timer;
	gboolean served;	/* it forked a worker */
	guint quick_deaths;	/* died before it forked any, in a row */
	gboolean off;
	/* struct zygote_req *, oldest first: waiting to be sent, sent, and
	 * answered (or lost) but not yet told to their callers. */
	GQueue unsent, sent, answered;
	guint tell;		/* the idle source that tells them */
	gint64 progress;	/* last answer (or first request sent) */
	char *self;		/* this executable */
} z = { .sock = -1 };

static void
req_free(struct zygote_req *r)
{
	if (r->sock >= 0)
		close(r->sock);
	g_byte_array_unref(r->msg);
	g_free(r);
}

static void
reaped(GPid pid, int status, gpointer data)
{
	g_spawn_close_pid(pid);
}

/* Tell r's caller what came of it. */
static void
req_told(struct zygote_req *r)
{
	g_autoptr(GError) error = NULL;

	if (!r->cb) {
		/* Nobody wants it now: it goes, and is reaped. */
		if (r->answer > 0) {
			kill(r->answer, SIGKILL);
			evset_child(r->answer, reaped, NULL);
		}
	} else if (r->answer > 0) {
		int sock = r->sock;

		r->sock = -1;	/* the caller's now */
		r->cb(r->answer, sock, NULL, r->data);
	} else {
		if (r->answer < 0)
			error = g_error_new(G_FILE_ERROR,
					    g_file_error_from_errno(-r->answer),
					    "worker zygote: %s",
					    g_strerror(-r->answer));
		else
			error = g_error_new(ZYGOTE_ERROR, ZYGOTE_ERROR_LOST,
					    "worker zygote: %s",
					    g_strerror(r->lost));
		r->cb(0, -1, error, r->data);
	}
	req_free(r);
}

static void pump(void);

static gboolean
tell_cb(gpointer data)
{
	struct zygote_req *r;

	z.tell = 0;
	while ((r = g_queue_pop_head(&z.answered)))
		req_told(r);
	pump();
	return G_SOURCE_REMOVE;
}

/* r is answered: told from the loop, never from inside zygote_spawn()
 * or pump(). */
static void
req_answered(struct zygote_req *r)
{
	g_queue_push_tail(&z.answered, r);
	if (!z.tell)
		z.tell = g_idle_add_full(G_PRIORITY_DEFAULT, tell_cb, NULL,
					 NULL);
}

/* The zygote is gone or useless: let it go (its exit is watched).  The
 * requests it has are lost (err says why): their callers ask again, which
 * goes to the next zygote.  Those not sent yet wait for it here. */
static void
zygote_drop(int err)
{
	struct zygote_req *r;
	pid_t answer;

	/* What it answered before it went counts: those workers are ours
	 * (told, or killed and reaped if cancelled), not lost unseen. */
	while (z.sock >= 0 && !g_queue_is_empty(&z.sent) &&
	       recv(z.sock, &answer, sizeof(answer), MSG_DONTWAIT) ==
	       sizeof(answer)) {
		r = g_queue_pop_head(&z.sent);
		r->answer = answer;
		req_answered(r);
	}
	if (z.sock_watch)
		evset_remove(z.sock_watch);
	z.sock_watch = 0;
	if (z.timer)
		g_source_remove(z.timer);
	z.timer = 0;
	if (z.sock >= 0)
		close(z.sock);
	z.sock = -1;
	if (z.pid)
		kill(z.pid, SIGKILL);
	/* A worker it forked before it went finds its socket closed (its
	 * caller closes it) and ends. */
	while ((r = g_queue_pop_head(&z.sent))) {
		r->answer = 0;
		r->lost = err;
		req_answered(r);
	}
}

/* No zygote can be had: what waits is told so. */
static void
fail_unsent(int err)
{
	struct zygote_req *r;

	while ((r = g_queue_pop_head(&z.unsent))) {
		r->answer = -err;
		req_answered(r);
	}
}

/* Take what the zygote has answered (it then has room for more, even
 * while the supervisor is busy making VMs); FALSE if it was dropped. */
static gboolean
collect(void)
{
	pid_t answer;
	ssize_t n;

	while (z.sock >= 0) {
		struct zygote_req *r;

		while ((n = recv(z.sock, &answer, sizeof(answer),
				 MSG_DONTWAIT)) < 0 && errno == EINTR)
			;
		if (n < 0 && errno == EAGAIN)
			return TRUE;
		if (n != sizeof(answer) ||
		    !(r = g_queue_pop_head(&z.sent))) {
			/* Gone (n == 0), or saying what nobody asked. */
			zygote_drop(n < 0 ? errno : EPIPE);
			return FALSE;
		}
		z.progress = g_get_monotonic_time();
		if (answer > 0)
			z.served = TRUE;
		r->answer = answer;
		req_answered(r);
	}
	return FALSE;
}

static gboolean
answer_due(gpointer data)
{
	gint64 idle;

	z.timer = 0;
	/* Answers waiting unread (we were stopped, not the zygote) are
	 * progress. */
	if (!collect() || g_queue_is_empty(&z.sent))
		return G_SOURCE_REMOVE;
	idle = (g_get_monotonic_time() - z.progress) / 1000;
	if (idle < ZYGOTE_ANSWER_MS) {
		z.timer = g_timeout_add(ZYGOTE_ANSWER_MS - idle, answer_due,
					NULL);
		return G_SOURCE_REMOVE;
	}
	/* A frozen zygote must not hold the VMs with it. */
	g_warning("worker zygote %d answered nothing for %d ms: killing it",
		  z.pid, ZYGOTE_ANSWER_MS);
	zygote_drop(ETIMEDOUT);
	return G_SOURCE_REMOVE;
}

static gboolean zygote_start(GError **error);

/* Send what waits, up to WINDOW in the zygote's socket, starting a
 * zygote if there is none (and the last is not still ending). */
static void
pump(void)
{
	struct zygote_req *r;

	if (z.sock < 0 && !z.pid && !g_queue_is_empty(&z.unsent)) {
		g_autoptr(GError) error = NULL;

		if (!zygote_start(&error)) {
			fail_unsent(z.off ? ENOSYS : EAGAIN);
			return;
		}
	}
	while (z.sock >= 0 && (r = g_queue_peek_head(&z.unsent))) {
		char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
		struct iovec iov = { r->msg->data, r->msg->len };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		};
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		int sv[2], err;
		ssize_t n;

		if (g_queue_get_length(&z.sent) >= WINDOW &&
		    (!collect() || g_queue_get_length(&z.sent) >= WINDOW))
			return;
		/* The worker's socket, made now: a thousand requests
		 * waiting hold no descriptor. */
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
			       sv) < 0) {
			err = errno;
			r = g_queue_pop_head(&z.unsent);
			r->answer = -err;
			req_answered(r);
			continue;
		}
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &sv[1], sizeof(int));
		while ((n = sendmsg(z.sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT))
		       < 0 && errno == EINTR)
			;
		err = n < 0 ? errno : EMSGSIZE;
		/* In the socket (or not sent), the worker's end is not ours
		 * to keep. */
		close(sv[1]);
		if (n != (ssize_t)r->msg->len) {
			close(sv[0]);
			if (err == EAGAIN && !g_queue_is_empty(&z.sent))
				return;		/* the next answer sends it */
			/* It stays first for the next zygote. */
			zygote_drop(err);
			return;
		}
		r->sock = sv[0];
		/* The zygote's time to answer counts from now. */
		if (g_queue_is_empty(&z.sent))
			z.progress = g_get_monotonic_time();
		g_queue_push_tail(&z.sent, g_queue_pop_head(&z.unsent));
		if (!z.timer)
			z.timer = g_timeout_add(ZYGOTE_ANSWER_MS, answer_due,
						NULL);
	}
}

static gboolean
on_answers(int fd, GIOCondition cond, gpointer data)
{
	struct zygote_req *r;

	if (!collect()) {
		z.sock_watch = 0;	/* dropped: this watch ended */
		return G_SOURCE_REMOVE;
	}
	while ((r = g_queue_pop_head(&z.answered)))
		req_told(r);
	pump();
	return G_SOURCE_CONTINUE;
}

static void
on_zygote_exit(GPid pid, int status, gpointer data)
{
	g_spawn_close_pid(pid);
	z.watch = 0;
	if (z.pid != pid)
		return;
	z.pid = 0;
	if (z.sock >= 0)
		zygote_drop(EPIPE);
	if (!z.served)
		z.quick_deaths++;
	else
		z.quick_deaths = 0;
	if (z.quick_deaths >= 2) {
		g_warning("worker zygote %d keeps dying: starting workers "
			  "without it", pid);
		z.off = TRUE;
	} else {
		g_message("worker zygote %d ended; the next worker starts "
			  "a new one", pid);
	}
	/* Spawns that waited for it to end go to the next one. */
	pump();
}

static void
zygote_child_setup(gpointer data)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* The workers it forks run injected code with the usual limit. */
	fdlimit_restore();
}

static gboolean
zygote_start(GError **error)
{
	const char *argv[] = { z.self, "--zygote", NULL };
	const char *e = g_getenv("TRICKLE_NODE_ZYGOTE");
	g_auto(GStrv) envp = NULL;
	int sv[2], target = 3;

	if (e && strcmp(e, "0") == 0)
		z.off = TRUE;
	if (z.off) {
		g_set_error_literal(error, G_FILE_ERROR, G_FILE_ERROR_NOSYS,
				    "no worker zygote");
		return FALSE;
	}
	/* Orphaned workers come to us (see the top of this file). */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
			    "PR_SET_CHILD_SUBREAPER: %s", g_strerror(errno));
		z.off = TRUE;
		return FALSE;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
			    "socketpair: %s", g_strerror(errno));
		return FALSE;
	}
	/* Every symbol bound once, in the zygote, rather than on first use
	 * in each worker; the workers' environment is the supervisor's. */
	envp = g_environ_setenv(g_get_environ(), "LD_BIND_NOW", "1", TRUE);
	if (!g_spawn_async_with_pipes_and_fds(NULL, argv,
		    (const char *const *)envp,
		    G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL |
		    G_SPAWN_STDOUT_TO_DEV_NULL, zygote_child_setup, NULL,
		    -1, -1, -1, &sv[1], &target, 1, &z.pid, NULL, NULL, NULL,
		    error)) {
		close(sv[0]);
		close(sv[1]);
		return FALSE;
	}
	close(sv[1]);
	z.sock = sv[0];
	z.served = FALSE;
	z.watch = g_child_watch_add(z.pid, on_zygote_exit, NULL);
	z.sock_watch = evset_watch(z.sock, G_IO_IN, on_answers, NULL);
	return TRUE;
}

struct zygote_req *
zygote_spawn(const char *self, const char *cwd, const char *const *envp,
	     guint32 first_object, zygote_spawned_fn cb, gpointer data,
	     GError **error)
{
	struct zreq_head h = { first_object, 0 };
	struct zygote_req *r;
	GByteArray *msg;
	const char *const *e;

	if (!z.self)
		z.self = g_strdup(self);
	/* Off (by choice, or it kept dying): the caller spawns. */
	if (!z.off && z.sock < 0 && !z.pid && !zygote_start(error))
		return NULL;
	if (z.off) {
		g_set_error_literal(error, G_FILE_ERROR, G_FILE_ERROR_NOSYS,
				    "no worker zygote");
		return NULL;
	}
	msg = g_byte_array_new();
	g_byte_array_append(msg, (guint8 *)&h, sizeof(h));
	g_byte_array_append(msg, (const guint8 *)cwd, strlen(cwd) + 1);
	for (e = envp; *e; e++, h.nenv++)
		g_byte_array_append(msg, (const guint8 *)*e, strlen(*e) + 1);
	if (msg->len > ZYGOTE_MAX_REQUEST) {
		g_byte_array_unref(msg);
		g_set_error_literal(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
				    "environment too large for the zygote");
		return NULL;
	}
	memcpy(msg->data, &h, sizeof(h));
	r = g_new0(struct zygote_req, 1);
	r->msg = msg;
	r->sock = -1;
	r->cb = cb;
	r->data = data;
	g_queue_push_tail(&z.unsent, r);
	pump();
	return r;
}

void
zygote_cancel(struct zygote_req *r)
{
	/* Not sent yet: it never will be.  Sent or answered: the worker
	 * forked for it goes. */
	if (g_queue_remove(&z.unsent, r)) {
		req_free(r);
		return;
	}
	r->cb = NULL;
}
