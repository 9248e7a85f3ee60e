/*
 * fsdata_io.c - open data files: open and create, reads and writes in
 * WIRE_CHUNK-sized node requests, all sent at once, release.  Reads come
 * from one VM (the reader), writes go to every target (see fsdata.h).
 */
#include "fsdata_priv.h"

#include <errno.h>
#include <fcntl.h>

/* The mode of a file that O_TRUNC through .all creates on a VM. */
#define ALL_NEW_MODE 0644

static struct data_file *
file_new(struct cluster *fs, struct vm *vm, gboolean append)
{
	struct data_file *f = g_new0(struct data_file, 1);

	f->h.ops = &data_file_ops;
	f->vm = vm;
	f->reader = reader_of(fs, vm);
	f->targets = targets_of(fs, vm);
	f->append = append;
	f->ends = g_new0(guint64, f->targets->len);
	return f;
}

static void
file_free(struct data_file *f)
{
	g_ptr_array_unref(f->targets);
	g_free(f->ends);
	g_free(f);
}

static void
open_done(struct op *op)
{
	struct data_file *f = op->file;

	if (!check_stat(op)) {
		file_free(f);
		return;
	}
	if (S_ISDIR(op->mode)) {
		file_free(f);
		fuse_reply_err(op->req, EISDIR);
		return;
	}
	f->id = op->create ? id_of(op->vm, op->path) : op->id;
	op->fi.fh = (uintptr_t)f;
	/* Every read goes to the node: a call may have changed the file. */
	op->fi.direct_io = 1;
	op->fi.keep_cache = 0;
	/* If the reply fails, no release will come. */
	if ((op->create ? reply_entry(op, &op->fi)
			: fuse_reply_open(op->req, &op->fi)) != 0)
		file_free(f);
}

/* An open interrupted: no release will come for the file. */
static void
open_dropped(struct op *op)
{
	file_free(op->file);
}

void
data_open(fuse_req_t req, struct vm *vm, guint32 id,
	  struct fuse_file_info *fi)
{
	const char *path = path_of(vm, id);
	gboolean writing = (fi->flags & O_ACCMODE) != O_RDONLY;
	struct data_file *f;
	struct op *op;
	guint i;

	if (!path) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	f = file_new(req_fs(req), vm, writing && (fi->flags & O_APPEND));
	op = op_new(req, vm, "open", g_strdup(path), open_done);
	op->id = id;
	op->fi = *fi;
	op->file = f;
	/* An open to read changes nothing: Ctrl-C may end it (the file
	 * then goes with the op). */
	op->interruptible = !writing;
	op->dropped = open_dropped;
	/* FUSE_CAP_ATOMIC_O_TRUNC: the truncation is ours to do.  Under
	 * .all the file is new to a VM that does not have it yet (as the
	 * first VM does), so that cp into .all/data/ puts it on every VM. */
	if (writing && (fi->flags & O_TRUNC) && vm->host)
		send_all(op, FS_TRUNCATE, path, NULL, 0, 0);
	else if (writing && (fi->flags & O_TRUNC))
		send_all(op, FS_CREATE, path, NULL, 0, ALL_NEW_MODE);
	/* Appends go to the end as each VM has it now. */
	if (f->append)
		for (i = 0; i < f->targets->len; i++)
			send_op(op, f->targets->pdata[i], FS_STAT, path, NULL,
				0, 0, i);
	send_stat(op, path);
	op_go(op);
}

void
data_create(fuse_req_t req, struct vm *vm, guint32 parent, const char *name,
	    mode_t mode, struct fuse_file_info *fi)
{
	struct op *op = child_op(req, vm, parent, name, "create", open_done);
	struct data_file *f;

	if (!op)
		return;
	f = file_new(req_fs(req), vm, (fi->flags & O_APPEND) != 0);
	op->create = TRUE;
	op->fi = *fi;
	op->file = f;
	send_all(op, FS_CREATE, op->path, NULL, 0, mode & 07777);
	send_stat(op, op->path);
	op_go(op);
}

static void
read_done(struct op *op)
{
	size_t got = 0;
	guint i;

	if (op->err) {
		fuse_reply_err(op->req, op->err);
		return;
	}
	/* Up to the first short chunk: the end of the file. */
	for (i = 0; i < op->parts; i++) {
		got += op->lens[i];
		if (op->lens[i] < MIN(op->size - (size_t)i * WIRE_CHUNK,
				      (size_t)WIRE_CHUNK))
			break;
	}
	fuse_reply_buf(op->req, op->buf, got);
}

static void
data_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct data_file *f = (struct data_file *)(uintptr_t)fi->fh;
	const char *path = path_of(f->vm, f->id);
	struct op *op;
	guint i;

	if (!path) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (size == 0) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	op = op_new(req, f->vm, "read", g_strdup(path), read_done);
	op->interruptible = TRUE;
	op->size = size;
	op->parts = (size + WIRE_CHUNK - 1) / WIRE_CHUNK;
	op->buf = g_malloc(size);
	op->lens = g_new0(guint32, op->parts);
	/* All chunks at once: one round trip per FUSE read. */
	for (i = 0; i < op->parts; i++) {
		guint32 want = MIN(size - (size_t)i * WIRE_CHUNK,
				   (size_t)WIRE_CHUNK);
		GVariant *body = fsop_body(FS_READ, path, NULL,
			(guint64)off + (guint64)i * WIRE_CHUNK, want, NULL, 0);

		send_body(op, f->reader, body, FS_READ, i, want);
		g_variant_unref(body);
	}
	op_go(op);
}

static void
write_done(struct op *op)
{
	if (op->err)
		fuse_reply_err(op->req, op->err);
	else
		fuse_reply_write(op->req, op->size);
}

static void
data_write(fuse_req_t req, const char *buf, size_t size, off_t off,
	   struct fuse_file_info *fi)
{
	struct data_file *f = (struct data_file *)(uintptr_t)fi->fh;
	const char *path = path_of(f->vm, f->id);
	struct op *op;
	size_t done;
	guint i;

	if (!path) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (size == 0) {
		fuse_reply_write(req, 0);
		return;
	}
	op = op_new(req, f->vm, "write", g_strdup(path), write_done);
	op->size = size;
	op->file = f;
	op->fanout = f->vm->host == NULL;
	/* Chunk by chunk, to every target; the reply once all are written
	 * is the flow control. */
	for (done = 0; done < size; done += WIRE_CHUNK) {
		gsize n = MIN(size - done, (size_t)WIRE_CHUNK);
		GVariant *body = NULL;

		for (i = 0; i < f->targets->len; i++) {
			guint64 at = f->append ? f->ends[i] : (guint64)off;

			if (!body || f->append) {
				if (body)
					g_variant_unref(body);
				body = fsop_body(FS_WRITE, path, NULL,
						 at + done, 0, buf + done, n);
			}
			send_body(op, f->targets->pdata[i], body, FS_WRITE, i,
				  0);
		}
		g_variant_unref(body);
	}
	if (f->append)
		for (i = 0; i < f->targets->len; i++)
			f->ends[i] += size;
	op_go(op);
}

static void
data_release(fuse_req_t req, struct fuse_file_info *fi)
{
	file_free((struct data_file *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

const struct handle_ops data_file_ops = {
	.read = data_read,
	.write = data_write,
	.release = data_release,
};
