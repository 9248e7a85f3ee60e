/*
 * wfiles.c - the files of the call the worker runs: its stdin, stdout
 * and stderr as W_RUN's spec names them, and its end in the VM's log.
 *
 * A call's stdout and stderr are the supervisor's memfds, opened through
 * /proc/PID/fd/N.  The supervisor gives the next call the same pair,
 * emptied, when the last one's output was kept elsewhere, and says so
 * with "=" before the path: the worker then keeps the pair open from call
 * to call instead of opening and closing it each time.  It checks that
 * the fd is still that file (with the fstat that sizes the output at the
 * call's end, or at the next call's start): a function may have closed
 * it and something else taken its number (then it is not ours to close).
 */
#include "worker.h"
#include "worker_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct kept {
	char *path;			/* as the spec named it */
	int fd;				/* -1: none */
	dev_t dev;
	ino_t ino;
	gboolean checked;		/* since the last call's code ran */
	int once;			/* the call's own file, closed at its
					   end; -1 */
};

static struct kept kept[2] = { { NULL, -1, 0, 0, FALSE, -1 },
			       { NULL, -1, 0, 0, FALSE, -1 } };

static void
kept_forget(struct kept *k, gboolean ours)
{
	if (k->fd >= 0 && ours)
		close(k->fd);
	k->fd = -1;
	k->checked = FALSE;
	g_clear_pointer(&k->path, g_free);
}

/* Let go of k: closed if its number is still that file. */
static void
kept_drop(struct kept *k)
{
	struct stat st;

	kept_forget(k, k->fd >= 0 && (k->checked || (fstat(k->fd, &st) == 0 &&
		    st.st_dev == k->dev && st.st_ino == k->ino)));
}

/* fd's size; if it is a kept one, whether it still is that file. */
static guint64
output_size(int fd)
{
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return 0;
	for (int i = 0; i < 2; i++) {
		struct kept *k = &kept[i];

		if (k->fd != fd)
			continue;
		if (st.st_dev != k->dev || st.st_ino != k->ino)
			kept_forget(k, FALSE);	/* its number is not ours */
		else
			k->checked = TRUE;
	}
	return (guint64)st.st_size;
}

int
call_output_open(int which, const char *spec)
{
	struct kept *k = &kept[which];
	gboolean same = spec[0] == '=';
	const char *path = same ? spec + 1 : spec;
	struct stat st;
	int fd;

	if (same && k->fd >= 0 && strcmp(k->path, path) == 0) {
		if (!k->checked && (fstat(k->fd, &st) < 0 ||
				    st.st_dev != k->dev ||
				    st.st_ino != k->ino)) {
			kept_forget(k, FALSE);	/* its number is not ours */
		} else if (lseek(k->fd, 0, SEEK_SET) == 0) {
			k->checked = FALSE;	/* the call's code runs */
			return k->fd;
		}
	}
	kept_drop(k);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	/* Only the supervisor's memfds are given again. */
	if (fd >= 0 && g_str_has_prefix(path, "/proc/") &&
	    fstat(fd, &st) == 0) {
		k->fd = fd;
		k->path = g_strdup(path);
		k->dev = st.st_dev;
		k->ino = st.st_ino;
	} else {
		k->once = fd;
	}
	return fd;
}

void
call_output_close(int which)
{
	struct kept *k = &kept[which];

	/* Not a kept one, nor one whose number a function took over. */
	if (k->once >= 0)
		close(k->once);
	k->once = -1;
}

int
call_input_open(const char *path)
{
	return *path ? open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : devnull;
}

void
call_input_close(int fd)
{
	if (fd >= 0 && fd != devnull)
		close(fd);
}

/* The end of the call that just returned, in the VM's log of ended calls,
 * its output first in the VM's store.  Both are opened here and closed
 * again, never open while injected code runs: code that writes on every
 * fd it finds (tests/tools/poison.c's scribble) must not reach them. */
gboolean
call_log_end(const char *path, const struct worker_spec *sp, int ofd,
	     int efd, guint32 id, guint state, int code, const char *detail)
{
	struct worker_where w = { 0 };
	guint64 out = output_size(ofd), err = output_size(efd);
	int store = -1, fd;
	gboolean ok;

	/* No output: stored, as nothing, without opening the store. */
	if (*sp->store && out + err == 0) {
		w.stored = ok = TRUE;
		goto log;
	}
	if (*sp->store &&
	    (store = open(sp->store, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		dprintf(logfd, "worker: cannot open %s: %s\n", sp->store,
			g_strerror(errno));
	/* Its output first, then the end that points at it. */
	ok = !(*sp->store && store < 0) &&
	     worker_keep_sized(store, sp->spill, ofd, out, efd, err, &w);
	if (!ok)
		dprintf(logfd, "worker: cannot keep the output of call %u: "
			"%s\n", id, g_strerror(errno));
	if (store >= 0)
		close(store);
	if (!ok)
		return FALSE;	/* the supervisor keeps it */
log:
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	ok = fd >= 0 && worker_log_end_at(fd, id, state, code, detail, &w);
	if (!ok)
		dprintf(logfd, "worker: cannot log the end of call %u in %s: "
			"%s\n", id, path, g_strerror(errno));
	if (fd >= 0)
		close(fd);
	return ok;
}
