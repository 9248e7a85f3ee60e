/*
 * fsdone.c - waiting for any call: MOUNT/.done.
 *
 * Each open of .done is a stream of the calls that end after it was
 * opened, one line each, the call's path from the mount and its status
 * ("VM/calls/N done", ".any/calls/N failed exit 3"); a read with
 * nothing to say waits, without a thread, for the next call to end, and
 * Ctrl-C interrupts it; poll(2) on it says when a line is there.
 */
#include "tree.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

struct done_handle {
	struct handle h;
	struct tree *t;
	GString *lines;		/* announced; empty once all are read */
	size_t start;		/* where the lines not yet read begin */
	fuse_req_t waiting;	/* a read parked until the next line */
	size_t size;
	struct fuse_pollhandle *poller;	/* poll(2) waiting for a line */
};

static void
done_interrupted(fuse_req_t req, void *data)
{
	struct done_handle *d = data;

	if (d->waiting == req) {
		d->waiting = NULL;
		fuse_reply_err(req, EINTR);
	}
}

static void
done_reply(struct done_handle *d, fuse_req_t req, size_t size)
{
	size_t n = MIN(size, d->lines->len - d->start);

	fuse_reply_buf(req, d->lines->str + d->start, n);
	d->start += n;
	/* Moved down only when half is read: a reader behind by L bytes
	 * costs O(L), not O(L^2 / size), to catch up. */
	if (d->start == d->lines->len) {
		g_string_truncate(d->lines, 0);
		d->start = 0;
	} else if (d->start > d->lines->len / 2) {
		g_string_erase(d->lines, 0, d->start);
		d->start = 0;
	}
}

static const struct handle_ops done_ops;

void
done_open(fuse_req_t req, struct fuse_file_info *fi)
{
	struct done_handle *d = g_new0(struct done_handle, 1);
	struct tree *t = req_tree(req);

	d->h.ops = &done_ops;
	d->t = t;
	d->lines = g_string_new(NULL);
	t->done_readers = g_list_prepend(t->done_readers, d);
	fi->fh = (uintptr_t)d;
	fi->direct_io = 1;
	fi->nonseekable = 1;
	fuse_reply_open(req, fi);
}

static void
done_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct done_handle *d = (struct done_handle *)(uintptr_t)fi->fh;

	if (d->lines->len) {
		done_reply(d, req, size);
		return;
	}
	if (d->waiting) {
		/* One reader at a time per open file; a second gets EBUSY
		 * rather than waiting behind the first. */
		fuse_reply_err(req, EBUSY);
		return;
	}
	if (fuse_req_interrupted(req)) {
		fuse_reply_err(req, EINTR);
		return;
	}
	d->waiting = req;
	d->size = size;
	fuse_req_interrupt_func(req, done_interrupted, d);
}

static void
done_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct done_handle *d = (struct done_handle *)(uintptr_t)fi->fh;

	d->t->done_readers = g_list_remove(d->t->done_readers, d);
	if (d->waiting)
		fuse_reply_err(d->waiting, EINTR);
	if (d->poller)
		fuse_pollhandle_destroy(d->poller);
	g_string_free(d->lines, TRUE);
	g_free(d);
	fuse_reply_err(req, 0);
}

void
done_announce(struct tree *t, struct call *c)
{
	g_autofree char *status = NULL;
	GList *l;

	if (!t->done_readers)
		return;
	status = call_status_text(c);
	for (l = t->done_readers; l; l = l->next) {
		struct done_handle *d = l->data;
		fuse_req_t req;

		g_string_append_printf(d->lines, CALL_PATH_FMT " %s",
				       c->vm->name, c->id, status);
		if ((req = d->waiting)) {
			d->waiting = NULL;
			fuse_req_interrupt_func(req, NULL, NULL);
			done_reply(d, req, d->size);
		}
		if (d->poller) {
			fuse_lowlevel_notify_poll(d->poller);
			g_clear_pointer(&d->poller, fuse_pollhandle_destroy);
		}
	}
}

/* poll(2) on .done: readable when a line is waiting, so a client can
 * wait on it beside its other fds. */
static void
done_poll(fuse_req_t req, struct fuse_file_info *fi,
	  struct fuse_pollhandle *ph)
{
	struct done_handle *d = (struct done_handle *)(uintptr_t)fi->fh;

	if (ph) {
		if (d->poller)
			fuse_pollhandle_destroy(d->poller);
		d->poller = ph;
	}
	fuse_reply_poll(req, d->lines->len ? POLLIN | POLLRDNORM : 0);
}

static const struct handle_ops done_ops = {
	.read = done_read,
	.release = done_release,
	.poll = done_poll,
};
