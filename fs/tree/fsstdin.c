/*
 * fsstdin.c - calls/N/stdin, for a call forked with TRICKLE_STDIN=1: it
 * waits until this file has been written and its last writer has closed
 * it (cluster/callin.c keeps the bytes and sends them after the call).
 * Written as a stream, in order (cat, a shell's >); read back as a file.
 */
#include "tree.h"

#include <errno.h>
#include <unistd.h>

struct stdin_handle {
	struct handle h;
	struct call *call;
	gboolean writer;
	int fd;			/* reading: the copy; -1 */
};

static const struct handle_ops stdin_ops;

void
stdin_open(fuse_req_t req, struct call *c, struct fuse_file_info *fi)
{
	struct stdin_handle *s;
	int err = 0, fd = -1;

	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		err = call_stdin_open(c);
		if (err == EPERM)
			g_warning("%s/calls/%u/stdin: written and closed "
				  "already", c->vm->name, c->id);
	} else if ((fd = call_stdin_reader(c)) < 0) {
		err = errno ? errno : EIO;
	}
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	s = g_new0(struct stdin_handle, 1);
	s->h.ops = &stdin_ops;
	s->call = c;
	s->writer = fd < 0;
	s->fd = fd;
	call_hold(c);
	fi->fh = (uintptr_t)s;
	fi->direct_io = 1;
	fi->nonseekable = s->writer;
	fuse_reply_open(req, fi);
}

static void
stdin_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct stdin_handle *s = (struct stdin_handle *)(uintptr_t)fi->fh;
	g_autofree char *buf = NULL;
	ssize_t n;

	if (s->fd < 0) {
		fuse_reply_err(req, EBADF);
		return;
	}
	buf = g_malloc(size);
	n = pread(s->fd, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, buf, n);
}

static void
stdin_write(fuse_req_t req, const char *buf, size_t size, off_t off,
	    struct fuse_file_info *fi)
{
	struct stdin_handle *s = (struct stdin_handle *)(uintptr_t)fi->fh;
	int err = s->writer ? call_stdin_write(s->call, buf, size, -1)
			    : EBADF;

	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_write(req, size);
}

static void
stdin_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct stdin_handle *s = (struct stdin_handle *)(uintptr_t)fi->fh;

	if (s->writer)
		call_stdin_release(s->call);
	if (s->fd >= 0)
		close(s->fd);
	call_release(s->call);
	g_free(s);
	fuse_reply_err(req, 0);
}

static const struct handle_ops stdin_ops = {
	.read = stdin_read,
	.write = stdin_write,
	.release = stdin_release,
};
