/*
 * callin.c - a call's stdin.  A line with TRICKLE_STDIN=1 forks a call
 * that waits at the mount for its stdin: what is written to calls/N/stdin
 * until the last writer closes it.  The bytes are kept here, in a file of
 * the spool (in the state directory: a remount finds it), and sent to the
 * node after the call itself (STDIN frames, an empty one at the end, at
 * the link's pace: feed.c).  So a run lost with its node, and run again,
 * on the same VM or another, gets its stdin whole again; the call on the
 * node waits for the end of it before it starts.
 */
#include "cluster.h"
#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static char *
stdin_path(const struct call *c)
{
	const char *dir = spool_dir(c->vm->fs);
	g_autofree char *name = NULL;

	if (!dir)
		return NULL;
	/* Hidden: no name .all/inject/'s copies can have. */
	name = g_strdup_printf(".stdin.%s.%u", c->vm->name, c->id);
	return g_build_filename(dir, name, NULL);
}

int
call_stdin_open(struct call *c)
{
	g_autofree char *path = NULL;

	if (c->stdin_state != STDIN_OPEN)
		return c->stdin_state == STDIN_NONE ? ENOENT : EPERM;
	if (call_ended(c))
		return EPIPE;		/* cancelled, or failed: nobody reads */
	if (c->stdin_fd < 0) {
		if (!(path = stdin_path(c)))
			return EIO;
		c->stdin_fd = open(path, O_WRONLY | O_CREAT | O_APPEND |
				   (c->stdin_size ? 0 : O_TRUNC) | O_CLOEXEC,
				   0600);
		if (c->stdin_fd < 0) {
			int err = errno;

			g_warning("%s/calls/%u/stdin: cannot keep it in %s: %s",
				  c->vm->name, c->id, path, g_strerror(err));
			return err;
		}
	}
	c->stdin_writers++;
	return 0;
}

int
call_stdin_write(struct call *c, const void *buf, gsize len, off_t off)
{
	if (c->stdin_state != STDIN_OPEN || c->stdin_fd < 0)
		return EBADF;
	if (call_ended(c))
		return EPIPE;
	/* A stream: written in order, as cat and a shell's > do. */
	if (off >= 0 && (guint64)off != c->stdin_size)
		return ESPIPE;
	if (fdio_write_all(c->stdin_fd, buf, len) < 0) {
		int err = errno;

		g_warning("%s/calls/%u/stdin: %s", c->vm->name, c->id,
			  g_strerror(err));
		/* Part of it is lost: the call must not run on the rest. */
		c->stdin_error = err;
		return err;
	}
	c->stdin_size += len;
	return 0;
}

int
call_stdin_truncate(struct call *c, guint64 size)
{
	if (size == c->stdin_size)
		return 0;
	/* Only the open truncate of `>`, before anything was written. */
	return c->stdin_state == STDIN_OPEN ? ESPIPE : EPERM;
}

void
call_stdin_release(struct call *c)
{
	if (c->stdin_state != STDIN_OPEN || !c->stdin_writers ||
	    --c->stdin_writers)
		return;
	if (fdatasync(c->stdin_fd) < 0 && !c->stdin_error)
		c->stdin_error = errno;
	close(c->stdin_fd);
	c->stdin_fd = -1;
	c->stdin_state = STDIN_CLOSED;
	if (call_ended(c))
		return;		/* cancelled meanwhile */
	if (c->stdin_error) {
		g_autofree char *why = g_strdup_printf("its stdin could not "
			"be kept at the mount: %s", g_strerror(c->stdin_error));

		call_set_state(c, CALL_FAILED, why);
		call_ended_now(c);
		return;
	}
	journal_stdin(c);
	call_set_state(c, CALL_QUEUED, NULL);
	if (c->vm == c->vm->fs->any)
		any_go(c);
	else
		call_go(c);
}

int
call_stdin_reader(const struct call *c)
{
	g_autofree char *path = NULL;

	if (c->stdin_state == STDIN_NONE || !(path = stdin_path(c)))
		return -1;
	return open(path, O_RDONLY | O_CLOEXEC);
}

static void
on_fed(void *data, int err)
{
	struct call *c = data;
	struct host *h = c->vm->host;

	c->stdin_feed = NULL;
	if (err == 0) {
		host_send_bytes(h, WIRE_STDIN, c->vm->index, c->id, NULL, 0);
		return;
	}
	/* ECONNRESET: the node drops a call whose stdin was cut off, and
	 * the run is lost (runs.c) and sent again, whole.  ECANCELED: the
	 * mount is ending. */
	if (err == ECONNRESET || err == ECANCELED)
		return;
	g_warning("%s/calls/%u: cannot read its stdin: %s; cancelling it",
		  c->vm->name, c->id, g_strerror(err));
	host_request(h, WIRE_CANCEL, c->vm->index, 0,
		     g_variant_new_uint32(c->id), host_no_answer, NULL);
}

void
call_stdin_feed(struct call *c, const struct call *owner)
{
	int fd;

	feed_cancel(c->stdin_feed);
	c->stdin_feed = NULL;
	if ((fd = call_stdin_reader(owner)) < 0) {
		on_fed(c, errno ? errno : EIO);
		return;
	}
	c->stdin_feed = feed_start(c->vm->host, c->vm->index, WIRE_STDIN,
				   c->id, fd, NULL, on_fed, c);
}

void
call_stdin_drop(struct call *c, gboolean remove)
{
	g_autofree char *path = NULL;

	feed_cancel(c->stdin_feed);
	c->stdin_feed = NULL;
	if (c->stdin_fd >= 0)
		close(c->stdin_fd);
	c->stdin_fd = -1;
	if (remove && c->stdin_state != STDIN_NONE && (path = stdin_path(c)))
		unlink(path);
}

static void
fail_open(struct vm *vm)
{
	g_autoptr(GList) calls = g_hash_table_get_values(vm->calls);
	GList *l;

	for (l = calls; l; l = l->next) {
		struct call *c = l->data;

		if (c->stdin_state != STDIN_OPEN)
			continue;
		c->stdin_state = STDIN_CLOSED;
		if (call_ended(c))
			continue;
		call_set_state(c, CALL_FAILED, "recovered: its stdin was still "
			       "being written when the mount ended");
		call_ended_now(c);
	}
}

void
callin_restore(struct cluster *cl)
{
	guint i;

	for (i = 0; i < cl->vms->len; i++)
		fail_open(cl->vms->pdata[i]);
	fail_open(cl->any);
}
