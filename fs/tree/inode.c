/*
 * inode.c - the names, inode numbers and attributes of the tree (see
 * inode.h).
 *
 *   /                        FUSE_ROOT_ID
 *   .all/, .any/, .done      VMs without a host (slots ALL_SLOT, ANY_SLOT);
 *                            I_DONE
 *   .ctl, .log               I_MCTL, I_LOG
 *   VM/                      I_VM
 *   VM/inject/ , VM/inject/X I_INJECT, I_INJFILE (id = injected id)
 *   VM/calls/ , VM/calls/new I_CALLS, I_NEW
 *   VM/calls/last            I_LAST (a symlink; found, not listed)
 *   VM/calls/N/ and files    I_CALL ... I_ATTEMPTS (id = call id)
 *   VM/data/...              I_DATA (id = fsdata path id)
 *   VM/functions/, objects/  I_FUNCS, I_FUNC, I_OBJECTS, I_OBJECT
 *   VM/info, VM/ctl          I_INFO, I_CTL
 */
#include "inode.h"

#include <string.h>

/* Which directories have a name: VMs, .all, .any. */
enum { ON_VM = 1, ON_ALL = 2, ON_ANY = 4 };

/* Names inside a VM directory, in listing order. */
static const struct {
	const char *name;
	enum ikind kind;
	unsigned on;
} vm_files[] = {
	{ "calls", I_CALLS, ON_VM | ON_ALL | ON_ANY },
	{ "checkpoints", I_CKPTS, ON_VM },
	{ "ctl", I_CTL, ON_VM },
	{ "data", I_DATA, ON_VM | ON_ALL },
	{ "functions", I_FUNCS, ON_VM },
	{ "info", I_INFO, ON_VM },
	{ "inject", I_INJECT, ON_VM | ON_ALL },
	{ "objects", I_OBJECTS, ON_VM },
};

/* Names inside a call directory, in listing order. */
static const struct {
	const char *name;
	enum ikind kind;
	unsigned on;
} call_files[] = {
	{ "args", I_ARGS, ON_VM | ON_ANY },
	{ "ctl", I_CALLCTL, ON_VM | ON_ANY },
	{ "status", I_STATUS, ON_VM | ON_ANY },
	{ "result", I_RESULT, ON_VM | ON_ANY },
	{ "stdout", I_STDOUT, ON_VM | ON_ANY },
	{ "stderr", I_STDERR, ON_VM | ON_ANY },
	{ "vm", I_CALLVM, ON_ANY },
	{ "attempts", I_ATTEMPTS, ON_VM | ON_ANY },
	{ "stdin", I_STDIN, ON_VM | ON_ANY },
};

/* Does call c have a file of this kind?  stdin only if it takes one. */
static gboolean
call_has(const struct call *c, enum ikind kind)
{
	return kind != I_STDIN || c->stdin_state != STDIN_NONE;
}

static unsigned
vm_is(const struct vm *vm)
{
	if (vm->host)
		return ON_VM;
	return vm == vm->fs->all ? ON_ALL : ON_ANY;
}

/* Does a directory like vm have inodes of this kind? */
static gboolean
vm_has_kind(const struct vm *vm, enum ikind kind)
{
	unsigned on = vm_is(vm);
	guint i;

	switch (kind) {
	case I_VM:
		return TRUE;
	case I_NEW:
		return TRUE;
	case I_LAST:
		return (on & (ON_VM | ON_ANY)) != 0;
	case I_INJFILE:
		return (on & (ON_VM | ON_ALL)) != 0;
	case I_CALL:
		return (on & (ON_VM | ON_ANY)) != 0;
	default:
		break;
	}
	for (i = 0; i < G_N_ELEMENTS(vm_files); i++)
		if (vm_files[i].kind == kind)
			return (vm_files[i].on & on) != 0;
	for (i = 0; i < G_N_ELEMENTS(call_files); i++)
		if (call_files[i].kind == kind)
			return (call_files[i].on & on) != 0;
	return on == ON_VM;	/* functions/ and objects/ entries */
}

/* The VM of an inode's slot, or NULL. */
static struct vm *
slot_vm(struct cluster *fs, guint slot)
{
	if (slot == ALL_SLOT)
		return fs->all;
	if (slot == ANY_SLOT)
		return fs->any;
	return slot < fs->vms->len ? fs->vms->pdata[slot] : NULL;
}

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
decode_ino(struct cluster *fs, fuse_ino_t ino, struct inode *in)
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
	if (in->kind == I_DONE || in->kind == I_MCTL || in->kind == I_LOG)
		return TRUE;
	/* A VM that left is no longer listed or found by name (find_child),
	 * but files opened in it before it went still answer. */
	if (!(in->vm = slot_vm(fs, slot)) || !vm_has_kind(in->vm, in->kind))
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
	if (in->kind == I_CKPTS)
		return TRUE;
	if (in->kind == I_CKPT)
		return id == 0 || ckpt_find(in->vm, id) != NULL;
	if (in->kind == I_INJFILE) {
		in->inj = g_hash_table_lookup(in->vm->injected_ids,
					      GUINT_TO_POINTER(id));
		return in->inj != NULL;
	}
	if (in->kind >= I_CALL) {
		in->call = vm_call(in->vm, id);
		return in->call != NULL && call_has(in->call, in->kind);
	}
	return TRUE;
}

fuse_ino_t
inode_ino(const struct inode *in)
{
	guint32 id = in->call ? in->call->id : in->inj ? in->inj->id
				    : in->id;

	if (in->kind == I_DONE || in->kind == I_MCTL || in->kind == I_LOG)
		return ((fuse_ino_t)in->kind << 56);
	return make_ino(in->kind, in->vm, id);
}

void
fill_attr(struct tree *t, const struct inode *in, struct stat *st)
{
	g_autofree char *status = NULL;
	struct call *c = in->call;

	memset(st, 0, sizeof(*st));
	st->st_ino = inode_ino(in);
	st->st_uid = t->uid;
	st->st_gid = t->gid;
	/* A call's directory, output and ctl are its forker's (and the
	 * owner's, and root's: tree_may_see_call). */
	if (c && call_uid(c))
		st->st_uid = call_uid(c);
	st->st_nlink = 1;
	st->st_mtime = st->st_ctime = st->st_atime =
		in->vm ? in->vm->created : t->started;
	g_autofree char *text = NULL;
	/* A call's files change with its state; its directory's mtime is
	 * when it was forked, to the nanosecond, so that ls -t lists the
	 * newest call first. */
	if (c) {
		st->st_mtim = st->st_ctim = st->st_atim = c->changed;
		if (in->kind == I_CALL)
			st->st_mtim = c->created;
	}
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
	case I_CKPTS:		/* the mount's owner's alone */
		st->st_mode = S_IFDIR | 0700;
		st->st_nlink = 2;
		break;
	case I_CKPT: {
		const struct checkpoint *k = ckpt_find(in->vm, in->id);

		st->st_mode = S_IFREG | 0600;
		if (k) {
			st->st_size = k->size;
			st->st_mtime = st->st_ctime = st->st_atime = k->mtime;
		}
		break;
	}
	/* Modes tell who may write (tree_may_act): the owner alone, as far
	 * as group and other know; -o allow_users are not shown. */
	case I_INJFILE:
		/* r only if it reads back (fskept.c). */
		st->st_mode = S_IFREG | (in->inj->mode & 0755 &
			(kept_readable(t, in->vm, in->inj) ? 07777 : ~0444));
		st->st_size = in->inj->size;
		st->st_mtime = st->st_ctime = in->inj->mtime;
		break;
	case I_NEW:
		st->st_mode = S_IFREG | 0600;
		break;
	case I_LAST:
		st->st_mode = S_IFLNK | 0777;
		text = last_call_target(in->vm);
		st->st_size = text ? strlen(text) : 0;
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
		st->st_mode = S_IFREG | 0400;
		st->st_size = c->state == CALL_DONE ? c->out_size : 0;
		break;
	case I_STDOUT:
		st->st_mode = S_IFREG | 0400;
		st->st_size = c->out_size;
		break;
	case I_STDERR:
		st->st_mode = S_IFREG | 0400;
		st->st_size = c->err_size;
		break;
	case I_FUNC:
		st->st_mode = S_IFREG | 0444;
		text = vm_func_text(in->vm, in->id);
		st->st_size = strlen(text);
		break;
	case I_OBJECT:
		st->st_mode = S_IFREG | 0444;
		text = vm_object_text(in->vm, in->id);
		st->st_size = strlen(text);
		break;
	case I_INFO:
		st->st_mode = S_IFREG | 0444;
		/* Built at lookup and getattr (fsinfo.c). */
		st->st_size = info_cache_size(t, in->vm);
		break;
	case I_DONE:
		st->st_mode = S_IFREG | 0444;
		break;
	case I_MCTL:
		st->st_mode = S_IFREG | 0644;
		text = members_text(t->cl);
		st->st_size = strlen(text);
		break;
	case I_LOG:
		st->st_mode = S_IFREG | 0400;
		st->st_size = log_size();
		st->st_mtime = st->st_ctime = time(NULL);
		break;
	case I_CTL:
	case I_CALLCTL:
		st->st_mode = S_IFREG | 0200;
		break;
	case I_CALLVM:
		st->st_mode = S_IFREG | 0444;
		text = call_vm_text(c);
		st->st_size = strlen(text);
		break;
	case I_ATTEMPTS:
		st->st_mode = S_IFREG | 0444;
		text = call_attempts_text(c);
		st->st_size = strlen(text);
		break;
	case I_STDIN:
		st->st_mode = S_IFREG |
			      (c->stdin_state == STDIN_OPEN ? 0600 : 0400);
		st->st_size = c->stdin_size;
		break;
	case I_KIND_MAX:
		break;
	}
}

/*
 * A done call's result (or stdout) that came whole with its end: its
 * size and bytes are final and kept here, so the kernel may cache them
 * (attributes for FINAL_TIMEOUT, the bytes in the page cache) and
 * answer the reader's last read, at the end, itself.  Not a failed
 * call's result, whose read is an error, nor output whose size a
 * remount has not heard again.
 */
gboolean
output_final(const struct inode *in)
{
	const struct call *o;

	if ((in->kind != I_RESULT && in->kind != I_STDOUT) || !in->call ||
	    !call_ended(in->call))
		return FALSE;
	o = call_output(in->call);
	return o->state == CALL_DONE && o->result &&
	       g_bytes_get_size(o->result) == in->call->out_size;
}

double
attr_timeout(const struct inode *in)
{
	if (output_final(in))
		return FINAL_TIMEOUT;
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
find_child(struct cluster *fs, const struct inode *parent, const char *name,
	   struct inode *child)
{
	guint i;
	guint64 id;
	char *end;

	memset(child, 0, sizeof(*child));
	child->vm = parent->vm;
	switch (parent->kind) {
	case I_ROOT:
		if (strcmp(name, ".all") == 0 || strcmp(name, ".any") == 0) {
			child->kind = I_VM;
			child->vm = name[2] == 'l' ? fs->all : fs->any;
			return TRUE;
		}
		if (strcmp(name, ".done") == 0) {
			child->kind = I_DONE;
			return TRUE;
		}
		if (strcmp(name, ".ctl") == 0) {
			child->kind = I_MCTL;
			return TRUE;
		}
		if (strcmp(name, ".log") == 0) {
			child->kind = I_LOG;
			return TRUE;
		}
		/* O(1): ls -l of a root of N VMs is N lookups, not N^2. */
		child->kind = I_VM;
		return (child->vm = cluster_vm_named(fs, name)) != NULL;
	case I_VM:
		for (i = 0; i < G_N_ELEMENTS(vm_files); i++) {
			if (strcmp(vm_files[i].name, name) != 0 ||
			    !(vm_files[i].on & vm_is(parent->vm)))
				continue;
			child->kind = vm_files[i].kind;
			return TRUE;
		}
		return FALSE;
	case I_FUNCS:
		child->kind = I_FUNC;
		child->id = vm_func_id(parent->vm, name);
		return child->id != 0;
	case I_CKPTS:
		id = g_ascii_strtoull(name, &end, 10);
		if (*end || end == name || id == 0 || id > G_MAXUINT32)
			return FALSE;
		child->kind = I_CKPT;
		child->id = id;
		return ckpt_find(parent->vm, id) != NULL;
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
		if (strcmp(name, "last") == 0 &&
		    vm_has_kind(parent->vm, I_LAST)) {
			g_autofree char *target =
				last_call_target(parent->vm);

			child->kind = I_LAST;
			return target != NULL;
		}
		id = g_ascii_strtoull(name, &end, 10);
		if (*end || end == name || id > G_MAXUINT32)
			return FALSE;
		child->kind = I_CALL;
		child->call = vm_call(parent->vm, id);
		return child->call != NULL;
	case I_CALL:
		for (i = 0; i < G_N_ELEMENTS(call_files); i++) {
			if (strcmp(call_files[i].name, name) == 0 &&
			    (call_files[i].on & vm_is(parent->vm)) &&
			    call_has(parent->call, call_files[i].kind)) {
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



/* The last call forked on this mount in vm (by its calls/new, .all's or
 * .any's), while it is there. */
char *
last_call_target(struct vm *vm)
{
	if (!vm->last_call || !vm_call(vm, vm->last_call))
		return NULL;
	return g_strdup_printf("%u", vm->last_call);
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
list_dir(struct cluster *fs, const struct inode *in, GArray *a)
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
		dir_add(a, ".any", make_ino(I_VM, fs->any, 0), S_IFDIR);
		dir_add(a, ".ctl", (fuse_ino_t)I_MCTL << 56, S_IFREG);
		dir_add(a, ".done", (fuse_ino_t)I_DONE << 56, S_IFREG);
		dir_add(a, ".log", (fuse_ino_t)I_LOG << 56, S_IFREG);
		for (i = 0; i < fs->vms->len; i++) {
			struct vm *vm = fs->vms->pdata[i];
			if (vm_listed(vm))
				dir_add(a, vm->name, make_ino(I_VM, vm, 0),
					S_IFDIR);
		}
		break;
	case I_VM:
		for (i = 0; i < G_N_ELEMENTS(vm_files); i++)
			if (vm_files[i].on & vm_is(in->vm))
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
			while (g_variant_iter_next(&vi, "(&s&s&s&s&s)",
						   &fname, NULL, NULL, NULL,
						   NULL))
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
	case I_CKPTS: {
		GPtrArray *l = ckpt_list(in->vm);

		for (i = 0; i < l->len; i++) {
			const struct checkpoint *k = l->pdata[i];
			char name[16];

			g_snprintf(name, sizeof(name), "%u", k->n);
			dir_add(a, name, make_ino(I_CKPT, in->vm, k->n),
				S_IFREG);
		}
		break;
	}
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
			if ((call_files[i].on & vm_is(in->vm)) &&
			    call_has(in->call, call_files[i].kind))
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

fuse_ino_t
data_ino(struct vm *vm, guint32 id)
{
	return make_ino(I_DATA, vm, id);
}
