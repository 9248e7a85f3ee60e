/*
 * fsckpt.c - VM/checkpoints/ and the ctl commands checkpoint, "restore
 * N" and "migrate NODE" (issue 16).
 *
 *   ls -l checkpoints/      what the VM's node keeps: size and time
 *   cat, cp checkpoints/N   the copy at the mount, fetched first if need be
 *   rm checkpoints/N        removed on the node and at the mount
 *   cp FILE checkpoints/    an archive checked, then sent to the node as
 *                           the VM's next checkpoint (close(2) returns
 *                           once it is there)
 *
 * Every write or open that waits does so on node requests, each with its
 * deadline (fs/cluster/ckpt.c).
 */
#include "tree.h"
#include "inode.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct ckpt_handle {
	struct handle h;
	struct vm *vm;
	int fd;
	char *import;		/* a file being imported: its temp path */
	gboolean imported;	/* flushed once */
};

/* A FUSE request waiting for the cluster. */
struct ckpt_wait {
	fuse_req_t req;
	struct vm *vm;
	size_t size;		/* a write's */
	struct fuse_file_info fi;
	struct ckpt_handle *handle;
};

static const struct handle_ops ckpt_ops;

static void
handle_free(struct ckpt_handle *k)
{
	if (k->fd >= 0)
		close(k->fd);
	if (k->import) {
		unlink(k->import);
		g_free(k->import);
	}
	g_free(k);
}

/* The ctl's commands. */

static void
on_ctl_done(void *data, int err, guint32 n)
{
	struct ckpt_wait *w = data;

	if (err)
		fuse_reply_err(w->req, err);
	else
		fuse_reply_write(w->req, w->size);
	g_free(w);
}

gboolean
ckpt_ctl_command(fuse_req_t req, struct vm *vm, const char *cmd, size_t size)
{
	struct ckpt_wait *w;
	guint64 n;

	if (strcmp(cmd, "checkpoint") == 0) {
		w = g_new0(struct ckpt_wait, 1);
		w->req = req;
		w->size = size;
		ckpt_take(vm, on_ctl_done, w);
		return TRUE;
	}
	if (g_str_has_prefix(cmd, "migrate ")) {
		const char *node = g_strstrip((char *)cmd + 8);
		struct host *to = migrate_target(vm->fs, node);

		if (!to) {
			g_warning("%s: migrate %s: no such VM or node in this "
				  "mount (.ctl connect it first)", vm->name,
				  node);
			fuse_reply_err(req, ENOENT);
			return TRUE;
		}
		w = g_new0(struct ckpt_wait, 1);
		w->req = req;
		w->size = size;
		vm_migrate(vm, to, on_ctl_done, w);
		return TRUE;
	}
	if (g_str_has_prefix(cmd, "restore ")) {
		if (!g_ascii_string_to_unsigned(g_strstrip((char *)cmd + 8), 10,
						1, G_MAXUINT32, &n, NULL)) {
			g_warning("%s: restore N: N is a checkpoint's number",
				  vm->name);
			fuse_reply_err(req, EINVAL);
			return TRUE;
		}
		w = g_new0(struct ckpt_wait, 1);
		w->req = req;
		w->size = size;
		ckpt_restore(vm, (guint32)n, on_ctl_done, w);
		return TRUE;
	}
	return FALSE;
}

/* Reading one. */

static void
on_fetched(void *data, int err, const char *path)
{
	struct ckpt_wait *w = data;
	struct ckpt_handle *k;
	int fd = err ? -1 : open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fuse_reply_err(w->req, err ? err : errno);
		g_free(w);
		return;
	}
	k = g_new0(struct ckpt_handle, 1);
	k->h.ops = &ckpt_ops;
	k->vm = w->vm;
	k->fd = fd;
	w->fi.fh = (uintptr_t)k;
	fuse_reply_open(w->req, &w->fi);
	g_free(w);
}

void
ckpt_file_open(fuse_req_t req, struct vm *vm, guint32 n,
	       struct fuse_file_info *fi)
{
	struct ckpt_wait *w;

	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (!tree_may_act(req, "read a checkpoint")) {
		fuse_reply_err(req, EACCES);
		return;
	}
	w = g_new0(struct ckpt_wait, 1);
	w->req = req;
	w->vm = vm;
	w->fi = *fi;
	ckpt_fetch(vm, n, on_fetched, w);
}

static void
ckpt_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct ckpt_handle *k = (struct ckpt_handle *)(uintptr_t)fi->fh;
	g_autofree char *buf = g_malloc(size);
	ssize_t n = pread(k->fd, buf, size, off);

	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, buf, n);
}

/* Importing one. */

void
ckpt_file_create(fuse_req_t req, struct vm *vm, const char *name,
		 struct fuse_file_info *fi)
{
	g_autoptr(GError) error = NULL;
	struct fuse_entry_param e;
	struct ckpt_handle *k;
	struct inode in = { .kind = I_CKPT, .vm = vm, .id = 0 };
	char *path = NULL;
	int fd;

	if (!tree_may_act(req, "import a checkpoint")) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if ((fd = g_file_open_tmp("tricklefs-import-XXXXXX", &path,
				  &error)) < 0) {
		g_warning("%s: import %s: %s", vm->name, name, error->message);
		fuse_reply_err(req, EIO);
		return;
	}
	k = g_new0(struct ckpt_handle, 1);
	k->h.ops = &ckpt_ops;
	k->vm = vm;
	k->fd = fd;
	k->import = path;
	fi->fh = (uintptr_t)k;
	fi->direct_io = 1;
	memset(&e, 0, sizeof(e));
	e.ino = inode_ino(&in);
	fill_attr(req_tree(req), &in, &e.attr);
	fuse_reply_create(req, &e, fi);
}

static void
ckpt_write(fuse_req_t req, const char *buf, size_t size, off_t off,
	   struct fuse_file_info *fi)
{
	struct ckpt_handle *k = (struct ckpt_handle *)(uintptr_t)fi->fh;
	ssize_t n;

	if (!k->import) {
		fuse_reply_err(req, EBADF);
		return;
	}
	n = pwrite(k->fd, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, n);
}

static void
on_imported(void *data, int err, guint32 n)
{
	struct ckpt_wait *w = data;

	if (!err)
		g_message("%s: the file copied into checkpoints/ is "
			  "checkpoints/%u", w->vm->name, n);
	fuse_reply_err(w->req, err);
	g_free(w);
}

/* close(2) of an imported file answers once the node has it. */
static void
ckpt_flush(fuse_req_t req, struct fuse_file_info *fi)
{
	struct ckpt_handle *k = (struct ckpt_handle *)(uintptr_t)fi->fh;
	struct ckpt_wait *w;

	if (!k->import || k->imported) {
		fuse_reply_err(req, 0);
		return;
	}
	k->imported = TRUE;
	w = g_new0(struct ckpt_wait, 1);
	w->req = req;
	w->vm = k->vm;
	ckpt_import(k->vm, k->import, on_imported, w);
}

static void
ckpt_release(fuse_req_t req, struct fuse_file_info *fi)
{
	handle_free((struct ckpt_handle *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* Removing one. */

static void
on_removed(void *data, int err, guint32 n)
{
	fuse_reply_err(data, err);
}

void
ckpt_file_unlink(fuse_req_t req, struct vm *vm, const char *name)
{
	guint64 n;

	if (!g_ascii_string_to_unsigned(name, 10, 1, G_MAXUINT32, &n, NULL) ||
	    !ckpt_find(vm, (guint32)n)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	ckpt_remove(vm, (guint32)n, on_removed, req);
}

static const struct handle_ops ckpt_ops = {
	.read = ckpt_read,
	.write = ckpt_write,
	.flush = ckpt_flush,
	.release = ckpt_release,
};
