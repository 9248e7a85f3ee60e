/*
 * fsops.c - the FUSE low-level operations table: names, inodes and
 * attributes of the tree, and dispatch to the files that do the work.
 *
 * Inode numbers are computed, not allocated: the kind of node, the VM's
 * slot and the call or injected file id are packed into 64 bits, so there
 * is no inode table to keep in step with lookups and forgets.
 *
 *   /                        FUSE_ROOT_ID
 *   VM/                      I_VM
 *   VM/inject/ , VM/inject/X I_INJECT, I_INJFILE (id = injected id)
 *   VM/calls/ , VM/calls/new I_CALLS, I_NEW
 *   VM/calls/N/ and files    I_CALL, I_ARGS ... I_STDERR (id = call id)
 */
#include "tfs.h"
#include "fsdata.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

enum ikind {
	I_ROOT, I_VM, I_INJECT, I_INJFILE, I_CALLS, I_NEW,
	I_DATA,			/* id: fsdata's path id, 0 = data/ */
	I_FUNCS, I_FUNC,	/* id: vm_func_id() */
	I_OBJECTS, I_OBJECT,	/* id: the object's id on the VM */
	I_INFO, I_CTL, I_DONE,
	/* in a call directory, id = the call's id */
	I_CALL, I_ARGS, I_STATUS, I_RESULT, I_STDOUT, I_STDERR, I_CALLCTL,
	I_KIND_MAX
};

struct inode {
	enum ikind kind;
	struct vm *vm;
	struct call *call;
	struct injected *inj;
	guint32 id;		/* data, function and object ids */
};

/* Names inside a VM directory, in listing order; .all has some. */
static const struct {
	const char *name;
	enum ikind kind;
	gboolean in_all;
} vm_files[] = {
	{ "calls", I_CALLS, TRUE },
	{ "ctl", I_CTL, FALSE },
	{ "data", I_DATA, TRUE },
	{ "functions", I_FUNCS, FALSE },
	{ "info", I_INFO, FALSE },
	{ "inject", I_INJECT, TRUE },
	{ "objects", I_OBJECTS, FALSE },
};

/* Names inside a call directory, in listing order. */
static const struct {
	const char *name;
	enum ikind kind;
} call_files[] = {
	{ "args", I_ARGS },
	{ "ctl", I_CALLCTL },
	{ "status", I_STATUS },
	{ "result", I_RESULT },
	{ "stdout", I_STDOUT },
	{ "stderr", I_STDERR },
};

/* How long the kernel may keep what we tell it.  The tree's skeleton
 * never changes; calls' sizes and states do, all the time. */
#define STATIC_TIMEOUT 60.0
#define LIVE_TIMEOUT 0.0

static struct tfs *
req_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static fuse_ino_t
make_ino(enum ikind kind, const struct vm *vm, guint32 id)
{
	if (kind == I_ROOT)
		return FUSE_ROOT_ID;
	return ((fuse_ino_t)kind << 56) | ((fuse_ino_t)vm->slot << 32) | id;
}

static gboolean
decode_ino(struct tfs *fs, fuse_ino_t ino, struct inode *in)
{
	guint slot = (ino >> 32) & 0xffffff;
	guint32 id = ino & 0xffffffff;

	memset(in, 0, sizeof(*in));
	if (ino == FUSE_ROOT_ID) {
		in->kind = I_ROOT;
		return TRUE;
	}
	in->kind = ino >> 56;
	if (in->kind < I_VM || in->kind >= I_KIND_MAX)
		return FALSE;
	if (in->kind == I_DONE)
		return TRUE;
	if (slot == ALL_SLOT && fs->all)
		in->vm = fs->all;
	else if (slot < fs->vms->len)
		in->vm = fs->vms->pdata[slot];
	else
		return FALSE;
	in->id = id;
	switch (in->kind) {
	case I_FUNC:
		return vm_func(in->vm, id, NULL, NULL, NULL);
	case I_OBJECT:
		return vm_object(in->vm, id, NULL, NULL);
	default:
		break;
	}
	/* .all has no calls of its own, nor info or ctl */
	if (!in->vm->host && in->kind >= I_FUNCS)
		return FALSE;
	if (in->kind == I_INJFILE) {
		in->inj = g_hash_table_lookup(in->vm->injected_ids,
					      GUINT_TO_POINTER(id));
		return in->inj != NULL;
	}
	if (in->kind >= I_CALL) {
		in->call = vm_call(in->vm, id);
		return in->call != NULL;
	}
	return TRUE;
}

static fuse_ino_t
inode_ino(const struct inode *in)
{
	guint32 id = in->call ? in->call->id : in->inj ? in->inj->id
				    : in->id;

	if (in->kind == I_DONE)
		return ((fuse_ino_t)I_DONE << 56);
	return make_ino(in->kind, in->vm, id);
}

static void
fill_attr(struct tfs *fs, const struct inode *in, struct stat *st)
{
	g_autofree char *status = NULL;
	struct call *c = in->call;

	memset(st, 0, sizeof(*st));
	st->st_ino = inode_ino(in);
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_nlink = 1;
	st->st_mtime = st->st_ctime = st->st_atime =
		in->vm ? in->vm->created : fs->started;
	g_autofree char *text = NULL;
	if (c)
		st->st_mtime = st->st_ctime = st->st_atime = c->changed;
	switch (in->kind) {
	case I_ROOT:
	case I_VM:
	case I_INJECT:
	case I_CALLS:
	case I_CALL:
	case I_FUNCS:
	case I_OBJECTS:
	case I_DATA:		/* data/ itself; below it, fsdata answers */
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		break;
	case I_INJFILE:
		st->st_mode = S_IFREG | (in->inj->mode & 0777);
		st->st_size = in->inj->size;
		st->st_mtime = st->st_ctime = in->inj->mtime;
		break;
	case I_NEW:
		st->st_mode = S_IFREG | 0666;
		break;
	case I_ARGS:
		st->st_mode = S_IFREG | 0444;
		st->st_size = strlen(c->args) + 1;
		break;
	case I_STATUS:
		st->st_mode = S_IFREG | 0444;
		status = call_status_text(c);
		st->st_size = strlen(status);
		break;
	case I_RESULT:
		st->st_mode = S_IFREG | 0444;
		st->st_size = c->state == CALL_DONE ? c->out_size : 0;
		break;
	case I_STDOUT:
		st->st_mode = S_IFREG | 0444;
		st->st_size = c->out_size;
		break;
	case I_STDERR:
		st->st_mode = S_IFREG | 0444;
		st->st_size = c->err_size;
		break;
	case I_FUNC:
		st->st_mode = S_IFREG | 0444;
		text = func_text(in->vm, in->id);
		st->st_size = strlen(text);
		break;
	case I_OBJECT:
		st->st_mode = S_IFREG | 0444;
		text = object_text(in->vm, in->id);
		st->st_size = strlen(text);
		break;
	case I_INFO:
	case I_DONE:
		st->st_mode = S_IFREG | 0444;
		break;
	case I_CTL:
	case I_CALLCTL:
		st->st_mode = S_IFREG | 0200;
		break;
	case I_KIND_MAX:
		break;
	}
}

static double
attr_timeout(const struct inode *in)
{
	switch (in->kind) {
	case I_ROOT:
	case I_VM:
	case I_INJECT:
	case I_CALLS:
	case I_NEW:
	case I_FUNCS:
	case I_OBJECTS:
	case I_CTL:
		return STATIC_TIMEOUT;
	default:
		return LIVE_TIMEOUT;
	}
}

static void
reply_entry(fuse_req_t req, const struct inode *in)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = inode_ino(in);
	fill_attr(req_fs(req), in, &e.attr);
	e.attr_timeout = attr_timeout(in);
	/* A call directory, once there, stays; injected names come and go. */
	e.entry_timeout = in->kind == I_INJFILE || in->kind == I_FUNC ||
			  in->kind == I_OBJECT ? LIVE_TIMEOUT : STATIC_TIMEOUT;
	fuse_reply_entry(req, &e);
}

/* The child of parent called name, or FALSE. */
static gboolean
find_child(struct tfs *fs, const struct inode *parent, const char *name,
	   struct inode *child)
{
	guint i;
	guint64 id;
	char *end;

	memset(child, 0, sizeof(*child));
	child->vm = parent->vm;
	switch (parent->kind) {
	case I_ROOT:
		if (strcmp(name, ".all") == 0) {
			child->kind = I_VM;
			child->vm = fs->all;
			return TRUE;
		}
		if (strcmp(name, ".done") == 0) {
			child->kind = I_DONE;
			return TRUE;
		}
		for (i = 0; i < fs->vms->len; i++) {
			struct vm *vm = fs->vms->pdata[i];
			if (strcmp(vm->name, name) == 0) {
				child->kind = I_VM;
				child->vm = vm;
				return TRUE;
			}
		}
		return FALSE;
	case I_VM:
		for (i = 0; i < G_N_ELEMENTS(vm_files); i++) {
			if (strcmp(vm_files[i].name, name) != 0 ||
			    (!parent->vm->host && !vm_files[i].in_all))
				continue;
			child->kind = vm_files[i].kind;
			return TRUE;
		}
		return FALSE;
	case I_FUNCS:
		child->kind = I_FUNC;
		child->id = vm_func_id(parent->vm, name);
		return child->id != 0;
	case I_OBJECTS:
		id = g_ascii_strtoull(name, &end, 10);
		if (*end || end == name || id > G_MAXUINT32)
			return FALSE;
		child->kind = I_OBJECT;
		child->id = id;
		return vm_object(parent->vm, id, NULL, NULL);
	case I_INJECT:
		child->kind = I_INJFILE;
		child->inj = g_hash_table_lookup(parent->vm->injected, name);
		return child->inj != NULL;
	case I_CALLS:
		if (strcmp(name, "new") == 0) {
			child->kind = I_NEW;
			return TRUE;
		}
		id = g_ascii_strtoull(name, &end, 10);
		if (*end || end == name || id > G_MAXUINT32)
			return FALSE;
		child->kind = I_CALL;
		child->call = vm_call(parent->vm, id);
		return child->call != NULL;
	case I_CALL:
		for (i = 0; i < G_N_ELEMENTS(call_files); i++) {
			if (strcmp(call_files[i].name, name) == 0) {
				child->kind = call_files[i].kind;
				child->call = parent->call;
				return TRUE;
			}
		}
		return FALSE;
	default:
		return FALSE;
	}
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
	struct tfs *fs = req_fs(req);
	struct inode p, c;

	if (!decode_ino(fs, parent, &p))
		fuse_reply_err(req, ENOENT);
	else if (p.kind == I_DATA)
		data_lookup(req, p.vm, p.id, name);
	else if (!find_child(fs, &p, name, &c))
		fuse_reply_err(req, ENOENT);
	else
		reply_entry(req, &c);
}

static void
tfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct tfs *fs = req_fs(req);
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
	fill_attr(fs, &in, &st);
	fuse_reply_attr(req, &st, attr_timeout(&in));
}

static void
tfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
	    struct fuse_file_info *fi)
{
	struct tfs *fs = req_fs(req);
	struct inode in;
	struct stat st;

	if (!decode_ino(fs, ino, &in)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (in.kind == I_DATA && in.id) {
		data_setattr(req, in.vm, in.id, attr, to_set, fi);
		return;
	}
	/* Shells truncate what they redirect into (> calls/new), and cp
	 * may truncate or chmod a file it copies into inject/: accept
	 * those as the no-ops they are here. */
	if (in.kind != I_NEW && in.kind != I_INJFILE) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if ((to_set & FUSE_SET_ATTR_SIZE) && attr->st_size != 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (in.inj && (to_set & FUSE_SET_ATTR_MODE))
		in.inj->mode = attr->st_mode & 07777;
	fill_attr(fs, &in, &st);
	fuse_reply_attr(req, &st, attr_timeout(&in));
}

/* A directory listing, built at opendir so that readdir pages through
 * a stable snapshot. */
struct dir_handle {
	struct handle h;
	GArray *ents;		/* struct dirent_ent */
};

struct dirent_ent {
	char *name;
	fuse_ino_t ino;
	mode_t mode;
};

static void
dir_add(GArray *a, const char *name, fuse_ino_t ino, mode_t mode)
{
	struct dirent_ent e = { g_strdup(name), ino, mode };

	g_array_append_val(a, e);
}

static gint
cmp_call_id(gconstpointer a, gconstpointer b)
{
	guint32 x = GPOINTER_TO_UINT(*(gpointer *)a);
	guint32 y = GPOINTER_TO_UINT(*(gpointer *)b);

	return x < y ? -1 : x > y;
}

static void
list_dir(struct tfs *fs, const struct inode *in, GArray *a)
{
	g_autoptr(GPtrArray) ids = NULL;
	GHashTableIter it;
	gpointer key, val;
	guint i;

	dir_add(a, ".", inode_ino(in), S_IFDIR);
	dir_add(a, "..", FUSE_ROOT_ID, S_IFDIR);
	switch (in->kind) {
	case I_ROOT:
		dir_add(a, ".all", make_ino(I_VM, fs->all, 0), S_IFDIR);
		dir_add(a, ".done", (fuse_ino_t)I_DONE << 56, S_IFREG);
		for (i = 0; i < fs->vms->len; i++) {
			struct vm *vm = fs->vms->pdata[i];
			dir_add(a, vm->name, make_ino(I_VM, vm, 0), S_IFDIR);
		}
		break;
	case I_VM:
		for (i = 0; i < G_N_ELEMENTS(vm_files); i++)
			if (in->vm->host || vm_files[i].in_all)
				dir_add(a, vm_files[i].name,
					make_ino(vm_files[i].kind, in->vm, 0),
					vm_files[i].kind == I_CTL ||
					vm_files[i].kind == I_INFO ? S_IFREG
								   : S_IFDIR);
		break;
	case I_FUNCS:
		if (in->vm->funcs) {
			GVariantIter vi;
			const char *fname;

			g_variant_iter_init(&vi, in->vm->funcs);
			while (g_variant_iter_next(&vi, "(&s&s&s)", &fname,
						   NULL, NULL))
				dir_add(a, fname, make_ino(I_FUNC, in->vm,
					vm_func_id(in->vm, fname)), S_IFREG);
		}
		break;
	case I_OBJECTS:
		if (in->vm->objects) {
			GVariantIter vi;
			guint32 oid;
			char oname[16];

			g_variant_iter_init(&vi, in->vm->objects);
			while (g_variant_iter_next(&vi, "(u&s&s)", &oid, NULL,
						   NULL)) {
				g_snprintf(oname, sizeof(oname), "%u", oid);
				dir_add(a, oname, make_ino(I_OBJECT, in->vm,
							   oid), S_IFREG);
			}
		}
		break;
	case I_INJECT:
		g_hash_table_iter_init(&it, in->vm->injected);
		while (g_hash_table_iter_next(&it, &key, &val)) {
			struct injected *inj = val;
			dir_add(a, inj->name,
				make_ino(I_INJFILE, in->vm, inj->id), S_IFREG);
		}
		break;
	case I_CALLS:
		dir_add(a, "new", make_ino(I_NEW, in->vm, 0), S_IFREG);
		ids = g_ptr_array_new();
		g_hash_table_iter_init(&it, in->vm->calls);
		while (g_hash_table_iter_next(&it, &key, NULL))
			g_ptr_array_add(ids, key);
		g_ptr_array_sort(ids, cmp_call_id);
		for (i = 0; i < ids->len; i++) {
			guint32 id = GPOINTER_TO_UINT(ids->pdata[i]);
			char name[16];

			g_snprintf(name, sizeof(name), "%u", id);
			dir_add(a, name, make_ino(I_CALL, in->vm, id),
				S_IFDIR);
		}
		break;
	case I_CALL:
		for (i = 0; i < G_N_ELEMENTS(call_files); i++)
			dir_add(a, call_files[i].name,
				make_ino(call_files[i].kind, in->vm,
					 in->call->id), S_IFREG);
		break;
	default:
		break;
	}
}

static void
dirent_clear(gpointer p)
{
	g_free(((struct dirent_ent *)p)->name);
}

static void
tfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct tfs *fs = req_fs(req);
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
	d->h.type = H_DIR;
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

	if (d->h.type == H_DATA_DIR) {
		data_readdir(req, size, off, fi);
		return;
	}
	buf = g_malloc(size);
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

	if (d->h.type == H_DATA_DIR) {
		data_releasedir(req, fi);
		return;
	}
	g_array_unref(d->ents);
	g_free(d);
	fuse_reply_err(req, 0);
}

static void
tfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct tfs *fs = req_fs(req);
	int acc = fi->flags & O_ACCMODE;
	struct inode in;

	if (!decode_ino(fs, ino, &in)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
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
	if (in.kind == I_DONE) {
		if (acc != O_RDONLY)
			fuse_reply_err(req, EACCES);
		else
			done_open(fs, req, fi);
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
		if (acc == O_RDONLY)
			fuse_reply_err(req, EACCES);
		else
			inject_open(fs, req, in.vm, in.inj, fi);
		return;
	}
	if (acc != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	/* Sizes change under the reader and result blocks: bypass the page
	 * cache so every read comes here. */
	fi->direct_io = 1;
	fi->fh = 0;
	fuse_reply_open(req, fi);
}

static void
reply_text(fuse_req_t req, const char *text, size_t size, off_t off)
{
	size_t len = strlen(text);

	if ((size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, text + off, MIN(size, len - off));
}

static void
tfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	 struct fuse_file_info *fi)
{
	struct tfs *fs = req_fs(req);
	g_autofree char *text = NULL;
	struct inode in;

	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	if (h && h->type == H_CALLS_NEW) {
		calls_new_read(req, size, fi);
		return;
	}
	if (h && h->type == H_DATA) {
		data_read(req, size, off, fi);
		return;
	}
	if (h && h->type == H_DONE) {
		done_read(req, size, fi);
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
		call_join(in.call, req, size, off);
		break;
	case I_STDOUT:
		call_read(in.call, WIRE_STDOUT, req, size, off);
		break;
	case I_STDERR:
		call_read(in.call, WIRE_STDERR, req, size, off);
		break;
	case I_INFO:
		vm_info_read(in.vm, req, size, off);
		break;
	case I_FUNC:
		text = func_text(in.vm, in.id);
		reply_text(req, text, size, off);
		break;
	case I_OBJECT:
		text = object_text(in.vm, in.id);
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
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	if (!h)
		fuse_reply_err(req, EBADF);
	else if (h->type == H_CALLS_NEW)
		calls_new_write(req, buf, size, fi);
	else if (h->type == H_INJECT)
		inject_write(req, buf, size, off, fi);
	else if (h->type == H_DATA)
		data_write(req, buf, size, off, fi);
	else if (h->type == H_CTL)
		ctl_write(req, buf, size, fi);
	else
		fuse_reply_err(req, EBADF);
}

static void
tfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	if (h && h->type == H_INJECT)
		inject_flush(req, fi);
	else
		fuse_reply_err(req, 0);
}

static void
tfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	if (h && h->type == H_INJECT)
		inject_release(req, fi);
	else if (h && h->type == H_CALLS_NEW)
		calls_new_release(req, fi);
	else if (h && h->type == H_DATA)
		data_release(req, fi);
	else if (h && h->type == H_CTL)
		ctl_release(req, fi);
	else if (h && h->type == H_DONE)
		done_release(req, fi);
	else
		fuse_reply_err(req, 0);
}

static void
tfs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	   struct fuse_file_info *fi)
{
	struct tfs *fs = req_fs(req);
	struct inode p;

	if (!decode_ino(fs, parent, &p))
		fuse_reply_err(req, ENOENT);
	else if (p.kind == I_DATA)
		data_create(req, p.vm, p.id, name, mode, fi);
	else if (p.kind != I_INJECT)
		fuse_reply_err(req, EPERM);
	else
		inject_create(fs, req, p.vm, name, mode, fi);
}

static void
tfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct tfs *fs = req_fs(req);
	struct inode p;

	if (!decode_ino(fs, parent, &p))
		fuse_reply_err(req, ENOENT);
	else if (p.kind == I_DATA)
		data_unlink(req, p.vm, p.id, name);
	else if (p.kind == I_OBJECTS)
		object_destroy(req, p.vm, g_ascii_strtoull(name, NULL, 10));
	else if (p.kind != I_INJECT)
		fuse_reply_err(req, EPERM);
	else
		inject_unlink(req, p.vm, name);
}

static void
tfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct inode p;

	if (!decode_ino(req_fs(req), parent, &p))
		fuse_reply_err(req, ENOENT);
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
	else if (p.kind == I_DATA)
		data_rmdir(req, p.vm, p.id, name);
	else if (p.kind == I_CALLS && p.vm->host)
		call_forget(req, p.vm, g_ascii_strtoull(name, NULL, 10));
	else
		fuse_reply_err(req, EPERM);
}

static void
tfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
	   fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct tfs *fs = req_fs(req);
	struct inode p, np;

	if (!decode_ino(fs, parent, &p) || !decode_ino(fs, newparent, &np))
		fuse_reply_err(req, ENOENT);
	else if (flags)
		fuse_reply_err(req, EINVAL);
	else if (p.kind != I_DATA || np.kind != I_DATA || p.vm != np.vm)
		fuse_reply_err(req, EXDEV);
	else
		data_rename(req, p.vm, p.id, name, np.id, newname);
}

/* Only data/ inodes are counted (fsdata's path table); the rest are
 * computed and need no forgetting. */
static void
forget_one(struct tfs *fs, fuse_ino_t ino, guint64 nlookup)
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
	struct inode in;

	if (!decode_ino(req_fs(req), ino, &in) || in.kind != I_RESULT) {
		/* Everything else is always ready. */
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_poll(req, POLLIN | POLLRDNORM | POLLOUT);
		return;
	}
	call_poll(in.call, req, ph);
}

fuse_ino_t
fsops_data_ino(struct vm *vm, guint32 id)
{
	return make_ino(I_DATA, vm, id);
}

/* Called back from inject_create to describe the new file. */
void
fsops_reply_create(fuse_req_t req, struct vm *vm, struct injected *inj,
		   struct fuse_file_info *fi)
{
	struct inode in = { .kind = I_INJFILE, .vm = vm, .inj = inj };
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = inode_ino(&in);
	fill_attr(req_fs(req), &in, &e.attr);
	fuse_reply_create(req, &e, fi);
}

const struct fuse_lowlevel_ops tfs_ops = {
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
	.release = tfs_release,
	.create = tfs_create,
	.unlink = tfs_unlink,
	.mkdir = tfs_mkdir,
	.rmdir = tfs_rmdir,
	.rename = tfs_rename,
	.poll = tfs_poll,
	.forget = tfs_forget,
	.forget_multi = tfs_forget_multi,
};
