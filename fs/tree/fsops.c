/*
 * fsops.c - the FUSE low-level operations table: an operation on a name
 * finds what the inode is (inode.c) and hands the work to the file that
 * does it; an operation on an open file goes to its handle's ops
 * (struct handle_ops, one table per kind of file).
 */
#include "tree.h"
#include "fsdata.h"
#include "inode.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

static const struct handle_ops *
ops_of(struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	return h ? h->ops : NULL;
}

static void
reply_entry(fuse_req_t req, const struct inode *in)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = inode_ino(in);
	fill_attr(req_tree(req), in, &e.attr);
	e.attr_timeout = attr_timeout(in);
	/* A call directory, once there, stays; injected names come and go,
	 * and so do VMs, more slowly. */
	if (in->kind == I_INJFILE || in->kind == I_FUNC ||
	    in->kind == I_OBJECT || in->kind == I_LAST ||
	    in->kind == I_CKPT)
		e.entry_timeout = LIVE_TIMEOUT;
	else if (in->kind == I_VM)
		e.entry_timeout = MEMBER_TIMEOUT;
	else
		e.entry_timeout = STATIC_TIMEOUT;
	fuse_reply_entry(req, &e);
}

/* info's size is that of its text, built (and kept briefly) first:
 * fsinfo.c. */
struct info_stat {
	struct inode in;
	gboolean entry;		/* a lookup, else a getattr */
};

static void
info_sized(fuse_req_t req, void *data)
{
	struct info_stat *is = data;
	struct stat st;

	if (is->entry) {
		reply_entry(req, &is->in);
	} else {
		fill_attr(req_tree(req), &is->in, &st);
		fuse_reply_attr(req, &st, attr_timeout(&is->in));
	}
	g_free(is);
}

static void
info_stat(fuse_req_t req, const struct inode *in, gboolean entry)
{
	struct info_stat *is = g_new0(struct info_stat, 1);

	is->in = *in;
	is->entry = entry;
	info_when_sized(req, in->vm, info_sized, is);
}

static void
tfs_init(void *userdata, struct fuse_conn_info *conn)
{
	/* A join is a read that blocks for as long as the call runs.  Keep
	 * such reads synchronous and out of the kernel's small budget of
	 * background requests, or a dozen joins would stall the rest. */
	conn->want &= ~FUSE_CAP_ASYNC_DIO;
	conn->want &= ~FUSE_CAP_ASYNC_READ;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* Big reads and writes: a join of a large result costs one round
	 * trip to the node per MiB, not per 128 KiB.  (libfuse derives the
	 * kernel's max_pages from max_write.) */
	conn->max_write = 1 << 20;
	conn->max_read = 0;
	conn->max_background = 1024;
	conn->congestion_threshold = 768;
}

static void
tfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct cluster *fs = req_fs(req);
	struct inode p, c;

	if (!decode_ino(fs, parent, &p))
		fuse_reply_err(req, ENOENT);
	else if (p.kind == I_DATA)
		data_lookup(req, p.vm, p.id, name);
	else if (!find_child(fs, &p, name, &c))
		fuse_reply_err(req, ENOENT);
	else if (c.kind == I_INFO)
		info_stat(req, &c, TRUE);
	else
		reply_entry(req, &c);
}

static void
tfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct cluster *fs = req_fs(req);
	struct inode in;
	struct stat st;

	if (!decode_ino(fs, ino, &in)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (in.kind == I_DATA && in.id) {
		data_getattr(req, in.vm, in.id);
		return;
	}
	if (in.kind == I_INFO) {
		info_stat(req, &in, FALSE);
		return;
	}
	fill_attr(req_tree(req), &in, &st);
	fuse_reply_attr(req, &st, attr_timeout(&in));
}

static void
tfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
	    struct fuse_file_info *fi)
{
	struct cluster *fs = req_fs(req);
	struct inode in;
	struct stat st;

	if (!decode_ino(fs, ino, &in)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (((in.kind == I_DATA && in.id) || in.kind == I_NEW ||
	     in.kind == I_INJFILE) && !tree_may_act(req, "change a file")) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (in.kind == I_DATA && in.id) {
		data_setattr(req, in.vm, in.id, attr, to_set, fi);
		return;
	}
	/* `> calls/N/stdin` truncates it, empty still. */
	if (in.kind == I_STDIN && (to_set & FUSE_SET_ATTR_SIZE)) {
		int err = call_stdin_truncate(in.call, attr->st_size);

		if (err) {
			fuse_reply_err(req, err);
			return;
		}
		fill_attr(req_tree(req), &in, &st);
		fuse_reply_attr(req, &st, attr_timeout(&in));
		return;
	}
	/* install, cp -p chmod, touch, chown what they put in inject/. */
	if (in.kind == I_INJFILE) {
		inject_setattr(req, in.vm, in.inj, attr, to_set);
		return;
	}
	/* Shells truncate what they redirect into (> calls/new): accept
	 * that as the no-op it is here. */
	if (in.kind != I_NEW) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if ((to_set & FUSE_SET_ATTR_SIZE) && attr->st_size != 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fill_attr(req_tree(req), &in, &st);
	fuse_reply_attr(req, &st, attr_timeout(&in));
}

/* A directory listing, built at opendir so that readdir pages through
 * a stable snapshot. */
struct dir_handle {
	struct handle h;
	GArray *ents;		/* struct dirent_ent */
};


static void
tfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct cluster *fs = req_fs(req);
	struct dir_handle *d;
	struct inode in;

	if (!decode_ino(fs, ino, &in)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (in.kind == I_DATA) {
		data_opendir(req, in.vm, in.id, fi);
		return;
	}
	d = g_new0(struct dir_handle, 1);
	d->h.ops = NULL;
	d->ents = g_array_new(FALSE, FALSE, sizeof(struct dirent_ent));
	g_array_set_clear_func(d->ents, dirent_clear);
	list_dir(fs, &in, d->ents);
	fi->fh = (uintptr_t)d;
	fuse_reply_open(req, fi);
}

static void
tfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	    struct fuse_file_info *fi)
{
	struct dir_handle *d = (struct dir_handle *)(uintptr_t)fi->fh;
	g_autofree char *buf = NULL;
	size_t used = 0;
	guint i;

	if (d->h.ops && d->h.ops->readdir) {
		d->h.ops->readdir(req, size, off, fi);
		return;
	}
	buf = g_malloc(size);
	if (off < 0 || (guint64)off >= d->ents->len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	for (i = off; i < d->ents->len; i++) {
		struct dirent_ent *e = &g_array_index(d->ents,
						      struct dirent_ent, i);
		struct stat st = { .st_ino = e->ino, .st_mode = e->mode };
		size_t n = fuse_add_direntry(req, buf + used, size - used,
					     e->name, &st, i + 1);
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
}

static void
tfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dir_handle *d = (struct dir_handle *)(uintptr_t)fi->fh;

	if (d->h.ops && d->h.ops->releasedir) {
		d->h.ops->releasedir(req, fi);
		return;
	}
	g_array_unref(d->ents);
	g_free(d);
	fuse_reply_err(req, 0);
}

/* Whether req may open in for acc; if not, it has its answer (EACCES). */
static gboolean
may_open(fuse_req_t req, const struct inode *in, int acc)
{
	gboolean ok = TRUE;

	switch (in->kind) {
	case I_RESULT:
	case I_STDOUT:
	case I_STDERR:
		ok = tree_may_see_call(req, in->call, "open the output");
		break;
	case I_CALLCTL:
		ok = tree_may_see_call(req, in->call, "open the ctl") &&
		     tree_may_act(req, "write a call's ctl");
		break;
	case I_STDIN:
		ok = tree_may_see_call(req, in->call, "open the stdin") &&
		     (acc == O_RDONLY ||
		      tree_may_act(req, "write a call's stdin"));
		break;
	case I_NEW:
	case I_CTL:
	case I_MCTL:
	case I_INJFILE:
	case I_DATA:
		if (acc != O_RDONLY)
			ok = tree_may_act(req, in->kind == I_NEW ? "fork calls"
					  : in->kind == I_INJFILE ? "inject"
					  : in->kind == I_DATA ? "write data/"
					  : "write a ctl");
		break;
	default:
		break;
	}
	if (!ok)
		fuse_reply_err(req, EACCES);
	return ok;
}

static void
tfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct cluster *fs = req_fs(req);
	int acc = fi->flags & O_ACCMODE;
	struct inode in;

	if (!decode_ino(fs, ino, &in)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (!may_open(req, &in, acc))
		return;
	if (in.kind == I_NEW) {
		calls_new_open(req, in.vm, fi);
		return;
	}
	if (in.kind == I_CTL || in.kind == I_CALLCTL) {
		if (acc == O_RDONLY)
			fuse_reply_err(req, EACCES);
		else
			ctl_open(req, in.vm, in.call ? in.call->id : 0, fi);
		return;
	}
	if (in.kind == I_STDIN) {
		stdin_open(req, in.call, fi);
		return;
	}
	if (in.kind == I_INFO) {
		if (acc != O_RDONLY)
			fuse_reply_err(req, EACCES);
		else
			info_open(req, in.vm, fi);
		return;
	}
	if (in.kind == I_MCTL) {
		mctl_open(req, fi);
		return;
	}
	if (in.kind == I_CKPT) {
		ckpt_file_open(req, in.vm, in.id, fi);
		return;
	}
	if (in.kind == I_LOG) {
		log_open(req, fi);
		return;
	}
	if (in.kind == I_DONE) {
		if (acc != O_RDONLY)
			fuse_reply_err(req, EACCES);
		else
			done_open(req, fi);
		return;
	}
	if (in.kind == I_DATA) {
		if (in.id)
			data_open(req, in.vm, in.id, fi);
		else
			fuse_reply_err(req, EISDIR);
		return;
	}
	if (in.kind == I_INJFILE) {
		/* The owner's code: read back by those who may inject. */
		if (acc == O_RDONLY && !tree_may_act(req, "read inject/"))
			fuse_reply_err(req, EACCES);
		else if (acc == O_RDONLY)
			inject_read_open(req, in.vm, in.inj, fi);
		else
			inject_open(req, in.vm, in.inj, fi);
		return;
	}
	if (acc != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	/* Sizes change under the reader and result blocks: bypass the page
	 * cache so every read comes here, unless the output is final (a
	 * joiner's read at the end then costs no round trip). */
	fi->direct_io = !output_final(&in);
	fi->fh = 0;
	/* Nothing to do at close: no FLUSH round trip that close() waits
	 * for (a fan-out's reader closes a thousand results). */
	fi->noflush = 1;
	if (in.kind == I_RESULT || in.kind == I_STDOUT || in.kind == I_STDERR)
		output_open(req, in.call, in.kind != I_STDERR, fi);
	fuse_reply_open(req, fi);
}

static void
tfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	 struct fuse_file_info *fi)
{
	struct cluster *fs = req_fs(req);
	g_autofree char *text = NULL;
	struct inode in;

	const struct handle_ops *ops = ops_of(fi);

	if (ops && ops->read) {
		ops->read(req, size, off, fi);
		return;
	}
	if (!decode_ino(fs, ino, &in)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	switch (in.kind) {
	case I_ARGS:
		text = g_strconcat(in.call->args, "\n", NULL);
		reply_text(req, text, size, off);
		break;
	case I_STATUS:
		text = call_status_text(in.call);
		reply_text(req, text, size, off);
		break;
	case I_RESULT:
	case I_STDOUT:
	case I_STDERR:
		if (!tree_may_see_call(req, in.call, "read the output")) {
			fuse_reply_err(req, EACCES);
			break;
		}
		output_read_seen(fi);
		if (in.kind == I_RESULT)
			call_join(in.call, req, size, off);
		else
			call_read(in.call, in.kind == I_STDOUT ? WIRE_STDOUT
							       : WIRE_STDERR,
				  req, size, off);
		break;
	case I_CALLVM:
		text = call_vm_text(in.call);
		reply_text(req, text, size, off);
		break;
	case I_ATTEMPTS:
		text = call_attempts_text(in.call);
		reply_text(req, text, size, off);
		break;
	case I_FUNC:
		text = vm_func_text(in.vm, in.id);
		reply_text(req, text, size, off);
		break;
	case I_OBJECT:
		text = vm_object_text(in.vm, in.id);
		reply_text(req, text, size, off);
		break;
	default:
		fuse_reply_err(req, EISDIR);
	}
}

static void
tfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
	  off_t off, struct fuse_file_info *fi)
{
	const struct handle_ops *ops = ops_of(fi);

	/* Every file that takes writes changes what runs on the nodes
	 * (calls/new, inject/, ctl, .ctl, data/): the writer must be one
	 * who may, even with a descriptor someone else opened. */
	if (!ops || !ops->write)
		fuse_reply_err(req, EBADF);
	else if (!tree_may_act(req, "write here"))
		fuse_reply_err(req, EACCES);
	else
		ops->write(req, buf, size, off, fi);
}

static void
tfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	const struct handle_ops *ops = ops_of(fi);

	if (ops && ops->flush)
		ops->flush(req, fi);
	else
		fuse_reply_err(req, 0);
}

static void
tfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	  struct fuse_file_info *fi)
{
	const struct handle_ops *ops = ops_of(fi);

	if (ops && ops->fsync)
		ops->fsync(req, datasync, fi);
	else
		fuse_reply_err(req, 0);
}

static void
tfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	const struct handle_ops *ops = ops_of(fi);

	if (ops && ops->release)
		ops->release(req, fi);
	else
		fuse_reply_err(req, 0);
}

static void
tfs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	   struct fuse_file_info *fi)
{
	struct cluster *fs = req_fs(req);
	struct inode p;

	if (!decode_ino(fs, parent, &p))
		fuse_reply_err(req, ENOENT);
	else if ((p.kind == I_DATA || p.kind == I_INJECT) &&
		 !tree_may_act(req, p.kind == I_DATA ? "create in data/"
			       : "inject"))
		fuse_reply_err(req, EACCES);
	else if (p.kind == I_DATA)
		data_create(req, p.vm, p.id, name, mode, fi);
	else if (p.kind == I_CKPTS)
		ckpt_file_create(req, p.vm, name, fi);
	else if (p.kind != I_INJECT)
		fuse_reply_err(req, EPERM);
	else
		inject_create(req, p.vm, name, mode, fi);
}

static void
tfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct cluster *fs = req_fs(req);
	struct inode p;

	if (!decode_ino(fs, parent, &p))
		fuse_reply_err(req, ENOENT);
	else if ((p.kind == I_DATA || p.kind == I_OBJECTS ||
		  p.kind == I_INJECT || p.kind == I_CKPTS) &&
		 !tree_may_act(req, "remove files"))
		fuse_reply_err(req, EACCES);
	else if (p.kind == I_CKPTS)
		ckpt_file_unlink(req, p.vm, name);
	else if (p.kind == I_DATA)
		data_unlink(req, p.vm, p.id, name);
	else if (p.kind == I_OBJECTS)
		object_destroy(req, p.vm, g_ascii_strtoull(name, NULL, 10));
	else if (p.kind == I_CALL)
		unlink_call_file(req, p.call, name);
	else if (p.kind != I_INJECT)
		fuse_reply_err(req, EPERM);
	else
		inject_unlink(req, p.vm, name);
}

static void
tfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	g_autofree char *target = NULL;
	struct inode in;

	if (!decode_ino(req_fs(req), ino, &in))
		fuse_reply_err(req, ENOENT);
	else if (in.kind != I_LAST)
		fuse_reply_err(req, EINVAL);
	else if (!(target = last_call_target(in.vm)))
		fuse_reply_err(req, ENOENT);
	else
		fuse_reply_readlink(req, target);
}

static void
tfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct inode p;

	if (!decode_ino(req_fs(req), parent, &p))
		fuse_reply_err(req, ENOENT);
	else if (p.kind == I_DATA && !tree_may_act(req, "mkdir in data/"))
		fuse_reply_err(req, EACCES);
	else if (p.kind == I_DATA)
		data_mknod_dir(req, p.vm, p.id, name, mode);
	else
		fuse_reply_err(req, EPERM);
}

static void
tfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct inode p;

	if (!decode_ino(req_fs(req), parent, &p))
		fuse_reply_err(req, ENOENT);
	else if ((p.kind == I_DATA || p.kind == I_CALLS) &&
		 !tree_may_act(req, "remove directories"))
		fuse_reply_err(req, EACCES);
	else if (p.kind == I_DATA)
		data_rmdir(req, p.vm, p.id, name);
	else if (p.kind == I_CALLS && p.vm != p.vm->fs->all)
		rmdir_call(req, p.vm, g_ascii_strtoull(name, NULL, 10));
	else
		fuse_reply_err(req, EPERM);
}

static void
tfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
	   fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct cluster *fs = req_fs(req);
	struct inode p, np;

	if (!decode_ino(fs, parent, &p) || !decode_ino(fs, newparent, &np))
		fuse_reply_err(req, ENOENT);
	else if (flags)
		fuse_reply_err(req, EINVAL);
	else if (p.kind == I_INJECT && np.kind == I_INJECT && p.vm == np.vm &&
		 !tree_may_act(req, "rename in inject/"))
		fuse_reply_err(req, EACCES);
	else if (p.kind == I_INJECT && np.kind == I_INJECT && p.vm == np.vm)
		inject_rename(req, p.vm, name, newname);
	else if (p.kind != I_DATA || np.kind != I_DATA || p.vm != np.vm)
		fuse_reply_err(req, EXDEV);
	else if (!tree_may_act(req, "rename in data/"))
		fuse_reply_err(req, EACCES);
	else
		data_rename(req, p.vm, p.id, name, np.id, newname);
}

/* Only data/ inodes are counted (fsdata's path table); the rest are
 * computed and need no forgetting. */
static void
forget_one(struct cluster *fs, fuse_ino_t ino, guint64 nlookup)
{
	struct inode in;

	if (decode_ino(fs, ino, &in) && in.kind == I_DATA && in.id)
		data_forget(in.vm, in.id, nlookup);
}

static void
tfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(req_fs(req), ino, nlookup);
	fuse_reply_none(req);
}

static void
tfs_forget_multi(fuse_req_t req, size_t count,
		 struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		forget_one(req_fs(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void
tfs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
	 struct fuse_pollhandle *ph)
{
	const struct handle_ops *ops = ops_of(fi);
	struct inode in;

	if (ops && ops->poll) {
		ops->poll(req, fi, ph);
		return;
	}
	if (!decode_ino(req_fs(req), ino, &in) || in.kind != I_RESULT) {
		/* Everything else is always ready. */
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_poll(req, POLLIN | POLLRDNORM | POLLOUT);
		return;
	}
	call_poll(in.call, req, ph);
}

const struct fuse_lowlevel_ops tree_ops = {
	.init = tfs_init,
	.lookup = tfs_lookup,
	.getattr = tfs_getattr,
	.setattr = tfs_setattr,
	.opendir = tfs_opendir,
	.readdir = tfs_readdir,
	.releasedir = tfs_releasedir,
	.open = tfs_open,
	.read = tfs_read,
	.write = tfs_write,
	.flush = tfs_flush,
	.fsync = tfs_fsync,
	.release = tfs_release,
	.create = tfs_create,
	.unlink = tfs_unlink,
	.mkdir = tfs_mkdir,
	.rmdir = tfs_rmdir,
	.rename = tfs_rename,
	.readlink = tfs_readlink,
	.poll = tfs_poll,
	.forget = tfs_forget,
	.forget_multi = tfs_forget_multi,
};
