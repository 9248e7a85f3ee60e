/*
 * fsdata.c - VM/data/ and .all/data/ (see fsdata.h): the table from inode
 * ids to paths, and the operations on names and directories.  Each is an
 * op (fsdata_op.c); open files are fsdata_io.c's.
 *
 * Inode ids map to paths here, per VM: the kernel sees stable inode
 * numbers while the node only ever sees paths.  A rename moves the paths
 * below it; the kernel's forget (data_forget) drops ids it no longer holds.
 */
#include "fsdata_priv.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* Longer paths would not fit a write chunk's frame. */
#define MAX_PATH_LEN (WIRE_MAX_BODY - WIRE_CHUNK - 96)
/* What stat says of a data file's block size: cp and cat then move a MiB
 * per system call, one FUSE request, WIRE_CHUNK-sized node requests. */
#define DATA_BLKSIZE (1 << 20)
/* readdir offsets: 0 ".", 1 "..", then entry i of the node's list. */
#define DIR_FIRST 2

struct dentry {
	guint32 id;
	char *path;		/* NULL once renamed over or forgotten */
	guint64 nlookup;	/* lookups the kernel holds */
};

struct fsdata {
	GHashTable *ids;	/* id -> struct dentry * (owned) */
	GHashTable *paths;	/* path -> struct dentry * */
	guint32 last;
	guint64 gen;		/* changes sent through the mount */
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

/* ------------------------------------------------------------ paths */

static void
dentry_free(struct dentry *e)
{
	g_free(e->path);
	g_free(e);
}

static struct fsdata *
fsdata_new(void)
{
	struct fsdata *d = g_new0(struct fsdata, 1);

	d->ids = g_hash_table_new_full(NULL, NULL, NULL,
				       (GDestroyNotify)dentry_free);
	d->paths = g_hash_table_new(g_str_hash, g_str_equal);
	return d;
}

static void
fsdata_free(struct fsdata *d)
{
	if (!d)
		return;
	g_hash_table_unref(d->paths);
	g_hash_table_unref(d->ids);
	g_free(d);
}

struct fsdata *
data_paths(struct vm *vm)
{
	if (!vm->tree_data)
		vm->tree_data = fsdata_new();
	return vm->tree_data;
}

guint64
data_gen(struct vm *vm)
{
	return data_paths(vm)->gen;
}

void
data_changed(struct vm *vm)
{
	data_paths(vm)->gen++;
}

static void
free_paths(struct vm *vm)
{
	g_clear_pointer(&vm->tree_data, fsdata_free);
}

void
tree_free_data(struct tree *t)
{
	struct cluster *cl = t->cl;
	guint i, j;

	for (i = 0; i < cl->hosts->len; i++) {
		struct host *h = cl->hosts->pdata[i];

		for (j = 0; j < h->vms->len; j++)
			free_paths(h->vms->pdata[j]);
	}
	free_paths(cl->all);
	free_paths(cl->any);
}

/* The path of id, "" for data/ itself; NULL if it is no more. */
const char *
path_of(struct vm *vm, guint32 id)
{
	struct dentry *e;

	if (id == 0)
		return "";
	e = g_hash_table_lookup(data_paths(vm)->ids, GUINT_TO_POINTER(id));
	return e ? e->path : NULL;
}

static struct dentry *
dentry_get(struct vm *vm, const char *path)
{
	struct fsdata *d = data_paths(vm);
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

/* The id of path, made if the table has none: the reply that hands it to
 * the kernel counts the lookup (reply_entry). */
guint32
id_of(struct vm *vm, const char *path)
{
	return dentry_get(vm, path)->id;
}

static void
dentry_drop(struct vm *vm, struct dentry *e)
{
	if (e->path)
		g_hash_table_remove(data_paths(vm)->paths, e->path);
	g_hash_table_remove(data_paths(vm)->ids, GUINT_TO_POINTER(e->id));
}

void
data_forget(struct vm *vm, guint32 id, guint64 nlookup)
{
	struct dentry *e = g_hash_table_lookup(data_paths(vm)->ids,
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
	struct fsdata *d = data_paths(vm);
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
char *
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

/* An op on the entry name in directory parent, or NULL once the request
 * has been answered with why there is none. */
struct op *
child_op(fuse_req_t req, struct vm *vm, guint32 parent, const char *name,
	 const char *what, op_done_fn done)
{
	char *path;
	int err;

	if (!(path = child_path(vm, parent, name, &err))) {
		fuse_reply_err(req, err);
		return NULL;
	}
	return op_new(req, vm, what, path, done);
}

/* ------------------------------------------------------------ replies */

static void
fill_attr(struct op *op, guint32 id, struct stat *st)
{
	struct tree *fs = req_tree(op->req);

	memset(st, 0, sizeof(*st));
	st->st_ino = data_ino(op->vm, id);
	/* Through the mount only the owner (and -o allow_users) may write,
	 * whatever the file's mode on the node says to its group and other
	 * (tree_may_act). */
	st->st_mode = op->mode & ~(mode_t)(S_IWGRP | S_IWOTH);
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
int
reply_entry(struct op *op, struct fuse_file_info *fi)
{
	struct dentry *e = dentry_get(op->vm, op->path);
	struct fuse_entry_param ep;
	int r;

	memset(&ep, 0, sizeof(ep));
	ep.ino = data_ino(op->vm, e->id);
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
	struct op *op = child_op(req, vm, parent, name, "lookup", entry_done);

	if (!op)
		return;
	op->interruptible = TRUE;
	send_stat(op, op->path);
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
	op->interruptible = TRUE;
	send_stat(op, path);
	op_go(op);
}

void
data_setattr(fuse_req_t req, struct vm *vm, guint32 id, struct stat *attr,
	     int to_set, struct fuse_file_info *fi)
{
	struct tree *fs = req_tree(req);
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
	struct op *op = child_op(req, vm, parent, name, "mkdir", entry_done);

	if (!op)
		return;
	send_all(op, FS_MKDIR, op->path, NULL, 0, mode & 07777);
	send_stat(op, op->path);
	op_go(op);
}

static void
remove_name(fuse_req_t req, struct vm *vm, guint32 parent, const char *name,
	    guint8 fsop)
{
	struct op *op = child_op(req, vm, parent, name,
				 fsop == FS_RMDIR ? "rmdir" : "unlink",
				 err_done);

	if (!op)
		return;
	send_all(op, fsop, op->path, NULL, 0, 0);
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
	d->h.ops = &data_dir_ops;
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
		/* Interrupted, the listing is dropped: d may be closed
		 * before the answer comes. */
		op->interruptible = TRUE;
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
		st.st_ino = data_ino(d->vm, d->id);
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
		e = g_hash_table_lookup(data_paths(d->vm)->paths, path);
		st.st_ino = e ? data_ino(d->vm, e->id) : 0xffffffffu;
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

static void
data_readdir(fuse_req_t req, size_t size, off_t off,
	     struct fuse_file_info *fi)
{
	struct data_dir *d = (struct data_dir *)(uintptr_t)fi->fh;

	/* From the top (a new listing or rewinddir): look again. */
	if (off == 0)
		g_clear_pointer(&d->page, g_variant_unref);
	readdir_fill(req, d, size, off, FALSE);
}

static void
data_releasedir(fuse_req_t req, struct fuse_file_info *fi)
{
	struct data_dir *d = (struct data_dir *)(uintptr_t)fi->fh;

	if (d->page)
		g_variant_unref(d->page);
	g_free(d);
	fuse_reply_err(req, 0);
}

const struct handle_ops data_dir_ops = {
	.readdir = data_readdir,
	.releasedir = data_releasedir,
};
