/*
 * fslog.c - MOUNT/.log: the mount's recent messages (cluster/logring.c),
 * the same lines that go to syslog or -o logfile, with their time and
 * level.
 *
 * Its size is the log's end offset, which only grows, and every read
 * comes here (direct_io): `tail -f` (which polls the size on FUSE) sees
 * new lines as they come.  A reader that starts below what the ring
 * still holds (cat, from 0) gets the oldest line kept, then on in
 * order: each open file keeps how far its offsets are shifted.  Only
 * those who may act on the mount (its owner, root, -o allow_users) may
 * read it: it tells what runs where.
 */
#include "tree.h"
#include "logring.h"

#include <errno.h>

struct log_handle {
	struct handle h;
	guint64 skew;		/* added to the reader's offsets */
};

static const struct handle_ops log_ops;

void
log_open(fuse_req_t req, struct fuse_file_info *fi)
{
	struct log_handle *l;

	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (!tree_may_act(req, "read .log")) {
		fuse_reply_err(req, EACCES);
		return;
	}
	l = g_new0(struct log_handle, 1);
	l->h.ops = &log_ops;
	l->skew = G_MAXUINT64;
	fi->fh = (uintptr_t)l;
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

static void
log_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct log_handle *l = (struct log_handle *)(uintptr_t)fi->fh;
	g_autofree char *buf = NULL;
	gsize n;

	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	size = MIN(size, LOGRING_BYTES);
	buf = g_malloc(MAX(size, 1));
	n = logring_read_skew(logring_default(), &l->skew, off, buf, size);
	fuse_reply_buf(req, buf, n);
}

static void
log_release(fuse_req_t req, struct fuse_file_info *fi)
{
	g_free((struct log_handle *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

guint64
log_size(void)
{
	return logring_end(logring_default());
}

static const struct handle_ops log_ops = {
	.read = log_read,
	.release = log_release,
};
