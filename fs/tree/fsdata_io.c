/*
 * fsdata_io.c - open data files: open and create, reads and writes in
 * WIRE_CHUNK-sized node requests, flush, fsync, release.  Reads come from
 * one VM (the reader), writes go to every target (see fsdata.h).
 *
 * Reads are served by fsread.c's read-ahead: pieces asked of the reader's
 * node ahead of a sequential reader, on one open file.  What it serves is
 * never older than the last change made through the mount to that VM's
 * data/ (write, truncate, create, rename, unlink, chmod: each moves the
 * VM's generation on, and pieces asked before are dropped), nor than
 * FRESH_US before the read (a call on the node may change the file too),
 * and it goes with the file at close.  sshfs keeps its read-ahead per
 * open file and drops it on any write through the mount, in the same way;
 * it has no age bound.
 *
 * Writes are pipelined, as sshfs's are: a write goes out (every chunk, to
 * every target) and is answered at once, the link's flow control holding
 * the writer back once its queue is over LINK_HIGH_WATER
 * (tree_reply_write); the nodes' answers come later.  A write that failed
 * fails every later write of the file and the next flush (close) or
 * fsync, which wait for every answer first: so cp sees the error in its
 * exit status, and nothing a writer was told was written is lost without
 * close saying so.
 */
#include "fsdata_priv.h"

#include <errno.h>
#include <fcntl.h>

/* The mode of a file that O_TRUNC through .all creates on a VM. */
#define ALL_NEW_MODE 0644
/* Pieces read ahead older than this are asked again (µs). */
#define FRESH_US (1 * G_USEC_PER_SEC)

static struct data_file *
file_new(struct cluster *fs, struct vm *vm, gboolean append)
{
	struct data_file *f = g_new0(struct data_file, 1);

	f->h.ops = &data_file_ops;
	f->refs = 1;
	f->vm = vm;
	f->reader = reader_of(fs, vm);
	f->targets = targets_of(fs, vm);
	f->append = append;
	f->ends = g_new0(guint64, f->targets->len);
	g_queue_init(&f->syncs);
	return f;
}

static void
file_ref(struct data_file *f)
{
	f->refs++;
}

static void
file_unref(struct data_file *f)
{
	if (--f->refs > 0)
		return;
	g_ptr_array_unref(f->targets);
	g_free(f->ends);
	g_free(f);
}

/* The file as the open made it, never handed to the kernel. */
static void
file_free(struct data_file *f)
{
	file_unref(f);
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
	f->size_hint = op->fsize;
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

/* A read sent by itself, every chunk at once: one round trip. */
static void
read_direct(struct data_file *f, fuse_req_t req, size_t size, off_t off)
{
	const char *path = path_of(f->vm, f->id);
	struct op *op;
	guint i;

	if (!path) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	op = op_new(req, f->vm, "read", g_strdup(path), read_done);
	op->interruptible = TRUE;
	op->size = size;
	op->parts = (size + WIRE_CHUNK - 1) / WIRE_CHUNK;
	op->buf = g_malloc(size);
	op->lens = g_new0(guint32, op->parts);
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

/* ------------------------------------------------ read-ahead (fsread.c) */

static void
ahead_ask(void *key, guint stream, guint64 off, guint32 want,
	  request_done_fn done, void *data)
{
	struct data_file *f = key;
	const char *path = path_of(f->vm, f->id);
	GVariant *body;

	if (!path) {
		done(data, ESTALE, NULL, NULL, 0);
		return;
	}
	if (!f->reader || !f->reader->host) {
		done(data, EHOSTDOWN, NULL, NULL, 0);
		return;
	}
	body = fsop_body(FS_READ, path, NULL, off, want, NULL, 0);
	host_request(f->reader->host, WIRE_FSOP, f->reader->index, 0, body,
		     done, data);
	g_variant_unref(body);
}

static void
ahead_direct(void *key, guint stream, fuse_req_t req, size_t size,
	     off_t off)
{
	read_direct(key, req, size, off);
}

/* A whole piece at the end seen so far: the file may go on (it grows
 * while read), so the read-ahead may go a piece further. */
static void
ahead_saw(void *key, guint stream, guint64 end, gboolean full)
{
	struct data_file *f = key;

	f->size_hint = MAX(f->size_hint, full ? end + WIRE_CHUNK : end);
}

static void
ahead_hold(void *key)
{
	file_ref(key);
}

static void
ahead_release(void *key)
{
	file_unref(key);
}

static const struct ahead_ops data_ahead = {
	.ask = ahead_ask,
	.direct = ahead_direct,
	.saw = ahead_saw,
	.hold = ahead_hold,
	.release = ahead_release,
	.fresh_us = FRESH_US,
};

static void
data_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct data_file *f = (struct data_file *)(uintptr_t)fi->fh;
	struct vm *r = f->reader;

	if (!path_of(f->vm, f->id)) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (size == 0) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	/* Interrupted already (libfuse kept the news): answer here. */
	if (fuse_req_interrupted(req)) {
		fuse_reply_err(req, EINTR);
		return;
	}
	/* A node down or being reconnected: the op says why. */
	if (r && r->host && r->host->state == HOST_UP &&
	    read_ahead(req_tree(req), &data_ahead, f, 0,
		       MAX(f->size_hint, (guint64)off + size), data_gen(r),
		       req, size, off))
		return;
	read_direct(f, req, size, off);
}

/* ------------------------------------------------------------ writes */

static void
sync_interrupted(fuse_req_t req, void *data)
{
	struct data_file *f = data;

	g_queue_remove(&f->syncs, req);
	fuse_reply_err(req, EINTR);
}

/* Every write answered: the flushes and fsyncs waiting get the error
 * (then reported, as sshfs does). */
static void
syncs_answer(struct data_file *f)
{
	fuse_req_t req;
	int err = f->werr;

	if (f->writing || g_queue_is_empty(&f->syncs))
		return;
	f->werr = 0;
	while ((req = g_queue_pop_head(&f->syncs))) {
		fuse_req_interrupt_func(req, NULL, NULL);
		fuse_reply_err(req, err);
	}
}

/* A write's answers are in (the FUSE write was answered when sent). */
static void
write_acked(struct op *op)
{
	struct data_file *f = op->file;

	if (op->err && !f->werr) {
		f->werr = op->err;
		g_warning("%s: data/%s: write failed: %s (the next write, "
			  "close or fsync of the file reports it)",
			  f->vm->name, op->path, g_strerror(op->err));
	}
	f->writing--;
	syncs_answer(f);
	file_unref(f);
}

/* The target whose link holds writers back, if one does. */
static struct host *
throttled_target(struct data_file *f)
{
	guint i;

	for (i = 0; i < f->targets->len; i++) {
		struct vm *v = f->targets->pdata[i];

		if (v->host && host_throttled(v->host))
			return v->host;
	}
	return NULL;
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
	/* An earlier write failed: so do the next ones, until reported. */
	if (f->werr) {
		fuse_reply_err(req, f->werr);
		return;
	}
	if (size == 0) {
		fuse_reply_write(req, 0);
		return;
	}
	op = op_new(req, f->vm, "write", g_strdup(path), write_acked);
	op->size = size;
	op->file = f;
	op->fanout = f->vm->host == NULL;
	file_ref(f);
	f->writing++;
	/* Chunk by chunk, to every target; the answers come later. */
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
	else
		f->size_hint = MAX(f->size_hint, (guint64)off + size);
	/* The op is no longer the request's: its answers may be in already
	 * (a node down answers at once), then its error is this write's. */
	op_go(op);
	if (f->werr)
		fuse_reply_err(req, f->werr);
	else
		tree_reply_write(req_tree(req), throttled_target(f), req, size);
}

/* flush (each close) and fsync: once every write is answered. */
static void
sync_wait(struct data_file *f, fuse_req_t req)
{
	g_queue_push_tail(&f->syncs, req);
	fuse_req_interrupt_func(req, sync_interrupted, f);
	syncs_answer(f);
}

static void
data_flush(fuse_req_t req, struct fuse_file_info *fi)
{
	sync_wait((struct data_file *)(uintptr_t)fi->fh, req);
}

/* The nodes synced the file (after its writes, which went first). */
static void
fsync_done(struct op *op)
{
	struct data_file *f = op->file;

	/* A node that cannot (an older one) had the writes all the same. */
	if (op->err && op->err != ENOSYS && !f->werr)
		f->werr = op->err;
	sync_wait(f, op->req);
	file_unref(f);
}

static void
data_fsync(fuse_req_t req, int datasync, struct fuse_file_info *fi)
{
	struct data_file *f = (struct data_file *)(uintptr_t)fi->fh;
	const char *path = path_of(f->vm, f->id);
	struct op *op;

	if (!path) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	op = op_new(req, f->vm, "fsync", g_strdup(path), fsync_done);
	op->file = f;
	file_ref(f);
	send_all(op, FS_FSYNC, path, NULL, 0, 0);
	op_go(op);
}

static void
data_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct data_file *f = (struct data_file *)(uintptr_t)fi->fh;

	/* No flush came after the failure (or it was interrupted). */
	if (f->werr)
		g_warning("%s: data/%s: closed with a write failed: %s",
			  f->vm->name, path_of(f->vm, f->id) ?: "?",
			  g_strerror(f->werr));
	read_ahead_forget(req_tree(req), f);
	file_unref(f);
	fuse_reply_err(req, 0);
}

const struct handle_ops data_file_ops = {
	.read = data_read,
	.write = data_write,
	.flush = data_flush,
	.fsync = data_fsync,
	.release = data_release,
};
