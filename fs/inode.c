/*
 * inode.c - the names, inode numbers and attributes of the tree (see
 * inode.h).
 *
 *   /                        FUSE_ROOT_ID
 *   .all/, .done             a VM without a host (slot ALL_SLOT); I_DONE
 *   VM/                      I_VM
 *   VM/inject/ , VM/inject/X I_INJECT, I_INJFILE (id = injected id)
 *   VM/calls/ , VM/calls/new I_CALLS, I_NEW
 *   VM/calls/N/ and files    I_CALL ... I_CALLCTL (id = call id)
 *   VM/data/...              I_DATA (id = fsdata path id)
 *   VM/functions/, objects/  I_FUNCS, I_FUNC, I_OBJECTS, I_OBJECT
 *   VM/info, VM/ctl          I_INFO, I_CTL
 */
#include "inode.h"

#include <string.h>

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

fuse_ino_t
make_ino(enum ikind kind, const struct vm *vm, guint32 id)
{
	if (kind == I_ROOT)
		return FUSE_ROOT_ID;
	return ((fuse_ino_t)kind << 56) | ((fuse_ino_t)vm->slot << 32) | id;
}

gboolean
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

fuse_ino_t
inode_ino(const struct inode *in)
{
	guint32 id = in->call ? in->call->id : in->inj ? in->inj->id
				    : in->id;

	if (in->kind == I_DONE)
		return ((fuse_ino_t)I_DONE << 56);
	return make_ino(in->kind, in->vm, id);
}

void
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

double
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

/* The child of parent called name, or FALSE. */
gboolean
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



void
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

void
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

void
dirent_clear(gpointer p)
{
	g_free(((struct dirent_ent *)p)->name);
}
