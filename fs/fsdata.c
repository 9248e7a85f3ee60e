/*
 * fsdata.c - VM/data/ and .all/data/: the VMs' working directories, one
 * WIRE_FSOP at a time (see fsdata.h).
 *
 * Every FUSE request becomes an "op": one or more node requests sent at
 * once (a chunk each for big reads and writes, one per VM for a change
 * under .all), answered when the last of them has answered.  host_request()
 * bounds each by reply_timeout and answers all of them when a host goes
 * down, so every op ends and every FUSE request gets exactly one reply.
 * The first error wins.
 *
 * Inode ids map to paths here, per VM: the kernel sees stable inode
 * numbers while the node only ever sees paths.  A rename moves the paths
 * below it; the kernel's forget (data_forget) drops ids it no longer holds.
 */
#include "fsdata.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>

/* Longer paths would not fit a write chunk's frame. */
#define MAX_PATH_LEN (WIRE_MAX_BODY - WIRE_CHUNK - 96)
/* What stat says of a data file's block size: cp and cat then move a MiB
 * per system call, one FUSE request, WIRE_CHUNK-sized node requests. */
#define DATA_BLKSIZE (1 << 20)
/* readdir offsets: 0 ".", 1 "..", then entry i of the node's list. */
#define DIR_FIRST 2
/* The mode of a file that O_TRUNC through .all creates on a VM. */
#define ALL_NEW_MODE 0644
/* Marks the STAT whose attributes answer the op (others count VMs). */
#define MAIN G_MAXUINT

struct dentry {
	guint32 id;
	char *path;		/* NULL once renamed over or forgotten */
	guint64 nlookup;	/* lookups the kernel holds */
};

struct fsdata {
	GHashTable *ids;	/* id -> struct dentry * (owned) */
	GHashTable *paths;	/* path -> struct dentry * */
	guint32 last;
};

/* An open data file.  Writes go to every target (one VM, or all of them
 * for .all), reads to the reader. */
struct data_file {
	struct handle h;	/* H_DATA */
	struct vm *vm;		/* as opened: a VM or .all */
	guint32 id;
	struct vm *reader;
	GPtrArray *targets;	/* struct vm * */
	gboolean append;
	guint64 *ends;		/* O_APPEND: next offset, per target */
};

/* An open data directory: the page of the node's listing last fetched. */
struct data_dir {
	struct handle h;	/* H_DATA_DIR */
	struct vm *vm;
	guint32 id;
	GVariant *page;		/* a(sutt), or NULL */
	guint64 first;		/* index of the page's first entry */
	gboolean more;		/* entries after the page */
};

struct op;
typedef void (*op_done_fn)(struct op *op);

struct op {
	fuse_req_t req;
	struct vm *vm;		/* as addressed: a VM or .all */
	const char *what;	/* for the log */
	char *path, *path2;
	guint waiting;
	int err;
	gboolean fanout;	/* a change under .all: log each failure */
	guint changed;		/* VMs that made a change */
	int already;		/* a VM was there already (see on_answer) */
	op_done_fn done;

	/* the main STAT's answer */
	gboolean have_stat;
	guint32 mode, nlink;
	guint64 fsize, mtime;

	guint32 id;		/* the inode the answer is about */
	gboolean create;	/* open_done: answer a create */
	struct fuse_file_info fi;
	struct data_file *file;
	struct data_dir *dir;
	size_t size;
	off_t off;
	GVariant *list;		/* a LIST's answer, (a(sutt)b) */
	char *buf;		/* a read's chunks, at index * WIRE_CHUNK */
	guint32 *lens;		/* bytes each chunk got */
	guint parts;
};

/* One node request of an op. */
struct part {
	struct op *op;
	struct vm *vm;
	guint8 fsop;
	guint index;		/* read chunk, target (append STAT) or MAIN */
	guint32 want;		/* a read's count */
};

static struct tfs *
req_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* ------------------------------------------------------------ paths */

static void
dentry_free(struct dentry *e)
{
	g_free(e->path);
	g_free(e);
}

struct fsdata *
fsdata_new(void)
{
	struct fsdata *d = g_new0(struct fsdata, 1);

	d->ids = g_hash_table_new_full(NULL, NULL, NULL,
				       (GDestroyNotify)dentry_free);
	d->paths = g_hash_table_new(g_str_hash, g_str_equal);
	return d;
}

void
fsdata_free(struct fsdata *d)
{
	if (!d)
		return;
	g_hash_table_unref(d->paths);
	g_hash_table_unref(d->ids);
	g_free(d);
}

/* The path of id, "" for data/ itself; NULL if it is no more. */
static const char *
path_of(struct vm *vm, guint32 id)
{
	struct dentry *e;

	if (id == 0)
		return "";
	e = g_hash_table_lookup(vm->data->ids, GUINT_TO_POINTER(id));
	return e ? e->path : NULL;
}

static struct dentry *
dentry_get(struct vm *vm, const char *path)
{
	struct fsdata *d = vm->data;
	struct dentry *e = g_hash_table_lookup(d->paths, path);

	if (e)
		return e;
	e = g_new0(struct dentry, 1);
	do
		e->id = ++d->last;
	while (e->id == 0 ||
	       g_hash_table_contains(d->ids, GUINT_TO_POINTER(e->id)));
	e->path = g_strdup(path);
	g_hash_table_insert(d->ids, GUINT_TO_POINTER(e->id), e);
	g_hash_table_insert(d->paths, e->path, e);
	return e;
}

static void
dentry_drop(struct vm *vm, struct dentry *e)
{
	if (e->path)
		g_hash_table_remove(vm->data->paths, e->path);
	g_hash_table_remove(vm->data->ids, GUINT_TO_POINTER(e->id));
}

void
data_forget(struct vm *vm, guint32 id, guint64 nlookup)
{
	struct dentry *e = g_hash_table_lookup(vm->data->ids,
					       GUINT_TO_POINTER(id));

	if (!e)
		return;
	e->nlookup -= MIN(nlookup, e->nlookup);
	if (e->nlookup == 0)
		dentry_drop(vm, e);
}

/* from and the paths below it are now called to. */
static void
paths_renamed(struct vm *vm, const char *from, const char *to)
{
	struct fsdata *d = vm->data;
	gsize n = strlen(from);
	g_autoptr(GPtrArray) moved = g_ptr_array_new();
	GHashTableIter it;
	gpointer val;
	guint i;

	g_hash_table_iter_init(&it, d->ids);
	while (g_hash_table_iter_next(&it, NULL, &val)) {
		struct dentry *e = val;

		if (!e->path || strncmp(e->path, from, n) != 0 ||
		    (e->path[n] && e->path[n] != '/'))
			continue;
		g_hash_table_remove(d->paths, e->path);
		g_ptr_array_add(moved, e);
	}
	for (i = 0; i < moved->len; i++) {
		struct dentry *e = moved->pdata[i];
		char *p = g_strconcat(to, e->path + n, NULL);
		struct dentry *old = g_hash_table_lookup(d->paths, p);

		/* What was there is gone: its inode goes stale. */
		if (old) {
			g_hash_table_remove(d->paths, old->path);
			g_clear_pointer(&old->path, g_free);
		}
		g_free(e->path);
		e->path = p;
		g_hash_table_insert(d->paths, e->path, e);
	}
	/* Names below the target that nothing moved onto are gone too. */
	n = strlen(to);
	g_hash_table_iter_init(&it, d->ids);
	while (g_hash_table_iter_next(&it, NULL, &val)) {
		struct dentry *e = val;

		if (!e->path || strncmp(e->path, to, n) != 0 ||
		    e->path[n] != '/' || g_ptr_array_find(moved, e, NULL))
			continue;
		g_hash_table_remove(d->paths, e->path);
		g_clear_pointer(&e->path, g_free);
	}
}

/* parent's path joined with name, or NULL with *err set. */
static char *
child_path(struct vm *vm, guint32 parent, const char *name, int *err)
{
	const char *p = path_of(vm, parent);
	char *path;

	if (!p) {
		*err = ESTALE;
		return NULL;
	}
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strchr(name, '/')) {
		*err = EINVAL;
		return NULL;
	}
	/* The protocol's strings are UTF-8. */
	if (!g_utf8_validate(name, -1, NULL)) {
		*err = EILSEQ;
		return NULL;
	}
	path = *p ? g_strconcat(p, "/", name, NULL) : g_strdup(name);
	if (strlen(path) > MAX_PATH_LEN) {
		g_free(path);
		*err = ENAMETOOLONG;
		return NULL;
	}
	return path;
}

/* ------------------------------------------------------------ VMs */

/* The VMs a change of vm's data/ goes to. */
static GPtrArray *
targets_of(struct tfs *fs, struct vm *vm)
{
	GPtrArray *t = g_ptr_array_new();
	guint i;

	if (vm->host)
		g_ptr_array_add(t, vm);
	else
		for (i = 0; i < fs->vms->len; i++)
			g_ptr_array_add(t, fs->vms->pdata[i]);
	return t;
}

/* The VM that answers reads and listings of vm's data/: itself, or for
 * .all the first that is up (or at least not down). */
static struct vm *
reader_of(struct tfs *fs, struct vm *vm)
{
	guint i;

	if (vm->host)
		return vm;
	for (i = 0; i < fs->vms->len; i++) {
		struct vm *v = fs->vms->pdata[i];
		if (v->host && v->host->state == HOST_UP)
			return v;
	}
	for (i = 0; i < fs->vms->len; i++) {
		struct vm *v = fs->vms->pdata[i];
		if (v->host && v->host->state != HOST_DOWN)
			return v;
	}
	return fs->vms->len ? fs->vms->pdata[0] : NULL;
}

/* ------------------------------------------------------------ ops */

static struct op *
op_new(fuse_req_t req, struct vm *vm, const char *what, char *path,
       op_done_fn done)
{
	struct op *op = g_new0(struct op, 1);

	op->req = req;
	op->vm = vm;
	op->what = what;
	op->path = path;
	op->done = done;
	op->waiting = 1;	/* op_go() drops this one */
	return op;
}

static void
op_free(struct op *op)
{
	g_free(op->path);
	g_free(op->path2);
	if (op->list)
		g_variant_unref(op->list);
	g_free(op->buf);
	g_free(op->lens);
	g_free(op);
}

static void
op_unref(struct op *op)
{
	if (--op->waiting > 0)
		return;
	if (!op->err && op->already && !op->changed)
		op->err = op->already;
	op->done(op);
	op_free(op);
}

/* Everything is sent: the op ends when the answers are in. */
#define op_go op_unref

static void
op_fail(struct op *op, struct vm *vm, int err, const char *msg)
{
	if (op->fanout || err == EPROTO)
		g_warning("%s: data/%s: %s failed: %s", vm ? vm->name : "?",
			  op->path ? op->path : "", op->what,
			  msg && *msg ? msg : g_strerror(err));
	if (!op->err)
		op->err = err;
}

static gboolean
is_reply(const char *msg, guint type)
{
	return msg && strcmp(msg, wire_type_name(type)) == 0;
}

static void
on_answer(void *data, int err, const char *msg, const guint8 *bytes,
	  gsize len)
{
	struct part *p = data;
	struct op *op = p->op;
	g_autoptr(GVariant) v = NULL;

	/* Under .all, a VM that has what was asked already does not fail
	 * the change as long as one other made it: rm .all/data/x removes
	 * x wherever it is. */
	if (op->fanout && ((err == ENOENT && (p->fsop == FS_UNLINK ||
					      p->fsop == FS_RMDIR)) ||
			   (err == EEXIST && p->fsop == FS_MKDIR))) {
		g_message("%s: data/%s: %s: %s", p->vm->name, op->path,
			  op->what, g_strerror(err));
		op->already = err;
		goto out;
	}
	if (err) {
		op_fail(op, p->vm, err, msg);
		goto out;
	}
	switch (p->fsop) {
	case FS_STAT: {
		guint32 mode, nlink;
		guint64 size, mtime;

		if (!is_reply(msg, WIRE_STAT))
			goto unexpected;
		v = g_variant_ref_sink(g_variant_new_from_data(
			G_VARIANT_TYPE("(uttu)"), bytes, len, TRUE, NULL,
			NULL));
		g_variant_get(v, "(uttu)", &mode, &size, &mtime, &nlink);
		if (p->index == MAIN) {
			op->have_stat = TRUE;
			op->mode = mode;
			op->fsize = size;
			op->mtime = mtime;
			op->nlink = nlink;
		} else if (op->file && p->index < op->file->targets->len) {
			op->file->ends[p->index] = size;
		}
		break;
	}
	case FS_LIST: {
		gpointer copy;

		if (!is_reply(msg, WIRE_LIST))
			goto unexpected;
		copy = g_memdup2(bytes, len);
		g_clear_pointer(&op->list, g_variant_unref);
		op->list = g_variant_ref_sink(g_variant_new_from_data(
			G_VARIANT_TYPE("(a(sutt)b)"), copy, len, TRUE, g_free,
			copy));
		break;
	}
	case FS_READ:
		/* DATA: no message; at most what was asked. */
		if (msg || len > p->want)
			goto unexpected;
		if (len)
			memcpy(op->buf + (gsize)p->index * WIRE_CHUNK, bytes,
			       len);
		op->lens[p->index] = len;
		break;
	default:
		/* REPLY: a message and no bytes. */
		if (!msg || bytes)
			goto unexpected;
		op->changed++;
	}
	goto out;
unexpected:
	op_fail(op, p->vm, EPROTO, "unexpected answer from the node");
out:
	g_free(p);
	op_unref(op);
}

/* Send body (a reference the caller keeps) to vm as part of op. */
static void
send_body(struct op *op, struct vm *vm, GVariant *body, guint8 fsop,
	  guint index, guint32 want)
{
	struct part *p;

	if (!vm || !vm->host) {
		op_fail(op, vm, EHOSTDOWN, "no VM to ask");
		return;
	}
	p = g_new0(struct part, 1);
	p->op = op;
	p->vm = vm;
	p->fsop = fsop;
	p->index = index;
	p->want = want;
	op->waiting++;
	/* The answer may come at once (host down): op holds on. */
	host_request(vm->host, WIRE_FSOP, vm->index, 0, body, on_answer, p);
}

static GVariant *
fsop_body(guint8 fsop, const char *path, const char *path2, guint64 offset,
	  guint32 arg, const void *bytes, gsize len)
{
	/* Trusted, and not copied: the body is encoded before bytes go,
	 * and without GVariant checking a chunk byte by byte. */
	return g_variant_ref_sink(g_variant_new("(ysstu@ay)", fsop, path,
		path2 ? path2 : "", offset, arg,
		g_variant_new_from_data(G_VARIANT_TYPE_BYTESTRING,
					bytes ? bytes : "", len, TRUE, NULL,
					NULL)));
}

static void
send_op(struct op *op, struct vm *vm, guint8 fsop, const char *path,
	const char *path2, guint64 offset, guint32 arg, guint index)
{
	GVariant *body = fsop_body(fsop, path, path2, offset, arg, NULL, 0);

	send_body(op, vm, body, fsop, index, 0);
	g_variant_unref(body);
}

/* The same change on every target of op->vm. */
static void
send_all(struct op *op, guint8 fsop, const char *path, const char *path2,
	 guint64 offset, guint32 arg)
{
	g_autoptr(GPtrArray) t = targets_of(req_fs(op->req), op->vm);
	GVariant *body = fsop_body(fsop, path, path2, offset, arg, NULL, 0);
	guint i;

	op->fanout = op->vm->host == NULL;
	for (i = 0; i < t->len; i++)
		send_body(op, t->pdata[i], body, fsop, i, 0);
	g_variant_unref(body);
}

/* The main STAT, from the reader. */
static void
send_stat(struct op *op, const char *path)
{
	send_op(op, reader_of(req_fs(op->req), op->vm), FS_STAT, path, NULL,
		0, 0, MAIN);
}

/* ------------------------------------------------------------ replies */

static void
fill_attr(struct op *op, guint32 id, struct stat *st)
{
	struct tfs *fs = req_fs(op->req);

	memset(st, 0, sizeof(*st));
	st->st_ino = fsops_data_ino(op->vm, id);
	st->st_mode = op->mode;
	st->st_nlink = op->nlink ? op->nlink : 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = MIN(op->fsize, (guint64)G_MAXINT64);
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_blksize = DATA_BLKSIZE;
	st->st_mtime = st->st_ctime = st->st_atime =
		MIN(op->mtime, (guint64)G_MAXINT64);
}

/* Reply with an entry for op->path, counting the kernel's lookup. */
static int
reply_entry(struct op *op, struct fuse_file_info *fi)
{
	struct dentry *e = dentry_get(op->vm, op->path);
	struct fuse_entry_param ep;
	int r;

	memset(&ep, 0, sizeof(ep));
	ep.ino = fsops_data_ino(op->vm, e->id);
	fill_attr(op, e->id, &ep.attr);
	ep.attr_timeout = DATA_TIMEOUT;
	ep.entry_timeout = DATA_TIMEOUT;
	r = fi ? fuse_reply_create(op->req, &ep, fi)
	       : fuse_reply_entry(op->req, &ep);
	if (r == 0)
		e->nlookup++;
	else if (e->nlookup == 0)
		dentry_drop(op->vm, e);
	return r;
}

static gboolean
check_stat(struct op *op)
{
	if (!op->err && !op->have_stat)
		op->err = EIO;
	if (op->err) {
		fuse_reply_err(op->req, op->err);
		return FALSE;
	}
	return TRUE;
}

static void
entry_done(struct op *op)
{
	if (check_stat(op))
		reply_entry(op, NULL);
}

static void
attr_done(struct op *op)
{
	struct stat st;

	if (!check_stat(op))
		return;
	fill_attr(op, op->id, &st);
	fuse_reply_attr(op->req, &st, DATA_TIMEOUT);
}

static void
err_done(struct op *op)
{
	fuse_reply_err(op->req, op->err);
}

/* ------------------------------------------------------------ names */

void
data_lookup(fuse_req_t req, struct vm *vm, guint32 parent, const char *name)
{
	struct op *op;
	char *path;
	int err;

	if (!(path = child_path(vm, parent, name, &err))) {
		fuse_reply_err(req, err);
		return;
	}
	op = op_new(req, vm, "lookup", path, entry_done);
	send_stat(op, path);
	op_go(op);
}

void
data_getattr(fuse_req_t req, struct vm *vm, guint32 id)
{
	const char *path = path_of(vm, id);
	struct op *op;

	if (!path) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	op = op_new(req, vm, "stat", g_strdup(path), attr_done);
	op->id = id;
	send_stat(op, path);
	op_go(op);
}

void
data_setattr(fuse_req_t req, struct vm *vm, guint32 id, struct stat *attr,
	     int to_set, struct fuse_file_info *fi)
{
	struct tfs *fs = req_fs(req);
	const char *path = path_of(vm, id);
	struct op *op;

	if (!path) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	/* Owners are the mount's: "changing" to them is no change. */
	if (((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != fs->uid) ||
	    ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != fs->gid)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (((to_set & FUSE_SET_ATTR_SIZE) && attr->st_size < 0) ||
	    ((to_set & FUSE_SET_ATTR_MTIME) &&
	     !(to_set & FUSE_SET_ATTR_MTIME_NOW) && attr->st_mtime < 0)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	op = op_new(req, vm, "setattr", g_strdup(path), attr_done);
	op->id = id;
	/* The node takes a host's frames in order: the STAT sees them. */
	if (to_set & FUSE_SET_ATTR_SIZE)
		send_all(op, FS_TRUNCATE, path, NULL, attr->st_size, 0);
	if (to_set & FUSE_SET_ATTR_MODE)
		send_all(op, FS_CHMOD, path, NULL, 0, attr->st_mode & 07777);
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		send_all(op, FS_SETMTIME, path, NULL, time(NULL), 0);
	else if (to_set & FUSE_SET_ATTR_MTIME)
		send_all(op, FS_SETMTIME, path, NULL, attr->st_mtime, 0);
	send_stat(op, path);
	op_go(op);
}

void
data_mknod_dir(fuse_req_t req, struct vm *vm, guint32 parent,
	       const char *name, mode_t mode)
{
	struct op *op;
	char *path;
	int err;

	if (!(path = child_path(vm, parent, name, &err))) {
		fuse_reply_err(req, err);
		return;
	}
	op = op_new(req, vm, "mkdir", path, entry_done);
	send_all(op, FS_MKDIR, path, NULL, 0, mode & 07777);
	send_stat(op, path);
	op_go(op);
}

static void
remove_name(fuse_req_t req, struct vm *vm, guint32 parent, const char *name,
	    guint8 fsop)
{
	struct op *op;
	char *path;
	int err;

	if (!(path = child_path(vm, parent, name, &err))) {
		fuse_reply_err(req, err);
		return;
	}
	op = op_new(req, vm, fsop == FS_RMDIR ? "rmdir" : "unlink", path,
		    err_done);
	send_all(op, fsop, path, NULL, 0, 0);
	op_go(op);
}

void
data_unlink(fuse_req_t req, struct vm *vm, guint32 parent, const char *name)
{
	remove_name(req, vm, parent, name, FS_UNLINK);
}

void
data_rmdir(fuse_req_t req, struct vm *vm, guint32 parent, const char *name)
{
	remove_name(req, vm, parent, name, FS_RMDIR);
}

static void
rename_done(struct op *op)
{
	if (!op->err)
		paths_renamed(op->vm, op->path, op->path2);
	fuse_reply_err(op->req, op->err);
}

void
data_rename(fuse_req_t req, struct vm *vm, guint32 parent, const char *name,
	    guint32 newparent, const char *newname)
{
	struct op *op;
	char *path, *path2;
	int err;

	if (!(path = child_path(vm, parent, name, &err))) {
		fuse_reply_err(req, err);
		return;
	}
	if (!(path2 = child_path(vm, newparent, newname, &err))) {
		g_free(path);
		fuse_reply_err(req, err);
		return;
	}
	op = op_new(req, vm, "rename", path, rename_done);
	op->path2 = path2;
	send_all(op, FS_RENAME, path, path2, 0, 0);
	op_go(op);
}

/* ------------------------------------------------------------ listings */

void
data_opendir(fuse_req_t req, struct vm *vm, guint32 id,
	     struct fuse_file_info *fi)
{
	struct data_dir *d;

	if (!path_of(vm, id)) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	d = g_new0(struct data_dir, 1);
	d->h.type = H_DATA_DIR;
	d->vm = vm;
	d->id = id;
	fi->fh = (uintptr_t)d;
	fi->cache_readdir = 0;
	fi->keep_cache = 0;
	if (fuse_reply_open(req, fi) != 0)
		g_free(d);	/* no release will come */
}

static gboolean
page_has(const struct data_dir *d, guint64 i)
{
	return d->page && i >= d->first &&
	       i < d->first + g_variant_n_children(d->page);
}

static void list_done(struct op *op);

/* Answer a readdir at off from the cached page, fetching the page that
 * holds it first unless fetched already. */
static void
readdir_fill(fuse_req_t req, struct data_dir *d, size_t size, off_t off,
	     gboolean fetched)
{
	g_autofree char *buf = NULL;
	guint64 i = off < DIR_FIRST ? 0 : (guint64)off - DIR_FIRST;
	size_t used = 0, n;
	struct stat st;

	/* Past the end of the last page: the end of the listing. */
	if (d->page && !d->more && i >= d->first)
		fetched = TRUE;
	if (!page_has(d, i) && !fetched) {
		const char *path = path_of(d->vm, d->id);
		struct op *op;

		if (!path) {
			fuse_reply_err(req, ESTALE);
			return;
		}
		op = op_new(req, d->vm, "list", g_strdup(path), list_done);
		op->dir = d;
		op->size = size;
		op->off = off;
		send_op(op, reader_of(req_fs(req), d->vm), FS_LIST, path,
			NULL, i, 0, MAIN);
		op_go(op);
		return;
	}
	buf = g_malloc(size);
	memset(&st, 0, sizeof(st));
	if (off == 0) {
		st.st_ino = fsops_data_ino(d->vm, d->id);
		st.st_mode = S_IFDIR;
		n = fuse_add_direntry(req, buf, size, ".", &st, 1);
		if (n > size)
			goto out;
		used += n;
		off = 1;
	}
	if (off == 1) {
		st.st_ino = FUSE_ROOT_ID;
		st.st_mode = S_IFDIR;
		n = fuse_add_direntry(req, buf + used, size - used, "..", &st,
				      DIR_FIRST);
		if (n > size - used)
			goto out;
		used += n;
	}
	for (; page_has(d, i); i++) {
		g_autofree char *path = NULL;
		const char *name, *dir = path_of(d->vm, d->id);
		guint32 mode;
		guint64 size_, mtime;
		struct dentry *e;

		g_variant_get_child(d->page, i - d->first, "(&sutt)", &name,
				    &mode, &size_, &mtime);
		/* An inode number only for what the kernel holds already:
		 * a listing must not grow the table. */
		path = dir && *dir ? g_strconcat(dir, "/", name, NULL)
				   : g_strdup(name);
		e = g_hash_table_lookup(d->vm->data->paths, path);
		st.st_ino = e ? fsops_data_ino(d->vm, e->id) : 0xffffffffu;
		st.st_mode = mode;
		n = fuse_add_direntry(req, buf + used, size - used, name, &st,
				      i + DIR_FIRST + 1);
		if (n > size - used)
			break;
		used += n;
	}
out:
	fuse_reply_buf(req, buf, used);
}

static void
list_done(struct op *op)
{
	struct data_dir *d = op->dir;

	if (!op->err && !op->list)
		op->err = EIO;
	if (op->err) {
		fuse_reply_err(op->req, op->err);
		return;
	}
	g_clear_pointer(&d->page, g_variant_unref);
	d->page = g_variant_get_child_value(op->list, 0);
	g_variant_get_child(op->list, 1, "b", &d->more);
	d->first = op->off < DIR_FIRST ? 0 : (guint64)op->off - DIR_FIRST;
	readdir_fill(op->req, d, op->size, op->off, TRUE);
}

void
data_readdir(fuse_req_t req, size_t size, off_t off,
	     struct fuse_file_info *fi)
{
	struct data_dir *d = (struct data_dir *)(uintptr_t)fi->fh;

	/* From the top (a new listing or rewinddir): look again. */
	if (off == 0)
		g_clear_pointer(&d->page, g_variant_unref);
	readdir_fill(req, d, size, off, FALSE);
}

void
data_releasedir(fuse_req_t req, struct fuse_file_info *fi)
{
	struct data_dir *d = (struct data_dir *)(uintptr_t)fi->fh;

	if (d->page)
		g_variant_unref(d->page);
	g_free(d);
	fuse_reply_err(req, 0);
}

/* ------------------------------------------------------------ files */

static struct data_file *
file_new(struct tfs *fs, struct vm *vm, gboolean append)
{
	struct data_file *f = g_new0(struct data_file, 1);

	f->h.type = H_DATA;
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
	f->id = op->create ? dentry_get(op->vm, op->path)->id : op->id;
	op->fi.fh = (uintptr_t)f;
	/* Every read goes to the node: a call may have changed the file. */
	op->fi.direct_io = 1;
	op->fi.keep_cache = 0;
	/* If the reply fails, no release will come. */
	if ((op->create ? reply_entry(op, &op->fi)
			: fuse_reply_open(op->req, &op->fi)) != 0)
		file_free(f);
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
	struct data_file *f;
	struct op *op;
	char *path;
	int err;

	if (!(path = child_path(vm, parent, name, &err))) {
		fuse_reply_err(req, err);
		return;
	}
	f = file_new(req_fs(req), vm, (fi->flags & O_APPEND) != 0);
	op = op_new(req, vm, "create", path, open_done);
	op->create = TRUE;
	op->fi = *fi;
	op->file = f;
	send_all(op, FS_CREATE, path, NULL, 0, mode & 07777);
	send_stat(op, path);
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

void
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

void
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

void
data_release(fuse_req_t req, struct fuse_file_info *fi)
{
	file_free((struct data_file *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}
