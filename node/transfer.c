/*
 * transfer.c - files injected into a VM: the bytes go to a .part file in
 * its inject/ while they come, then the file is checked (what it is; a
 * shared object is loaded once in a throw-away process, node/vet) and
 * only then installed under its name and given to the VM.
 */
#include "supervisor.h"
#include "fdio.h"
#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#define CHECK_TIMEOUT_S 20

guint64
xfer_key(guint vm, guint32 tag)
{
	return ((guint64)vm << 32) | tag;
}

void
xfer_free(struct xfer *x)
{
	/* An END waiting for its check still gets its answer. */
	if (x->check) {
		check_load_cancel(x->check);
		reply(x->node, x->vm, x->tag, ECANCELED,
		      "the transfer was abandoned");
	}
	if (x->fd >= 0)
		close(x->fd);
	if (x->part)
		unlink(x->part);
	g_free(x->part);
	g_free(x->name);
	g_free(x->sum);
	sha256_free(x->hash);
	g_free(x);
}

struct xfer *
xfer_begin(struct node *n, struct wire_msg *m, const char *name)
{
	struct xfer *x;

	if (g_hash_table_contains(n->xfers,
				  GSIZE_TO_POINTER(xfer_key(m->vm, m->tag))))
		return NULL;	/* a confused client; END will answer */
	x = g_new0(struct xfer, 1);
	x->node = n;
	x->vm = m->vm;
	x->tag = m->tag;
	x->name = g_strdup(name);
	x->fd = -1;
	g_hash_table_insert(n->xfers,
			    GSIZE_TO_POINTER(xfer_key(m->vm, m->tag)), x);
	return x;
}

void
do_inject_begin(struct node *n, struct vmnode *vm, struct wire_msg *m)
{
	g_autoptr(GError) error = NULL;
	const char *name;
	guint32 mode;
	struct xfer *x;

	g_variant_get(m->body, "(&su)", &name, &mode);
	if (!(x = xfer_begin(n, m, name)))
		return;
	x->mode = mode & 07777;
	if (!valid_file_name(name, &error)) {
		x->error = EINVAL;
	} else {
		x->part = g_strdup_printf("%s/.part-%u", vmnode_inject_dir(vm),
					  m->tag);
		x->fd = open(x->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			     0700);
		if (x->fd < 0)
			x->error = errno;
	}
}

void
do_inject_data(struct node *n, struct wire_msg *m)
{
	struct xfer *x = g_hash_table_lookup(n->xfers,
		GSIZE_TO_POINTER(xfer_key(m->vm, m->tag)));
	const guint8 *p;
	gsize len;

	if (!x || x->error)
		return;
	p = wire_msg_bytes(m, &len);
	if (fdio_write_all(x->fd, p, len) < 0)
		x->error = errno;
	else if (x->hash)
		sha256_update(x->hash, p, len);
}

/* The file passed every check: put it in place and tell the VM. */
static void
install(struct xfer *x, enum inject_kind kind)
{
	struct node *n = x->node;
	struct vmnode *vm = n->vms->pdata[x->vm];
	g_autofree char *dest = g_build_filename(vmnode_inject_dir(vm),
						 x->name, NULL);

	if (rename(x->part, dest) < 0) {
		reply(n, x->vm, x->tag, errno, g_strerror(errno));
	} else {
		g_clear_pointer(&x->part, g_free);
		vmnode_install(vm, x->name, kind, NULL);
		g_message("vm%u: installed %s (%s)", x->vm, x->name,
			  kind == INJECT_SHARED ? "shared object" : "program");
		reply(n, x->vm, x->tag, 0, "");
	}
	g_hash_table_remove(n->xfers, GSIZE_TO_POINTER(xfer_key(x->vm,
								x->tag)));
}

static void
on_check_done(void *data, gboolean ok, const char *why)
{
	struct xfer *x = data;
	struct node *n = x->node;

	x->check = NULL;
	if (ok) {
		install(x, INJECT_SHARED);
		return;
	}
	g_warning("vm%u: refusing %s: cannot be loaded: %s", x->vm, x->name,
		  why);
	reply(n, x->vm, x->tag, ENOEXEC, why);
	g_hash_table_remove(n->xfers, GSIZE_TO_POINTER(xfer_key(x->vm,
								x->tag)));
}

static void
check_load(struct xfer *x)
{
	g_autoptr(GError) error = NULL;

	x->check = check_load_start(x->node->self, x->part, CHECK_TIMEOUT_S,
				    on_check_done, x, &error);
	if (!x->check) {
		reply(x->node, x->vm, x->tag, EIO, error->message);
		g_hash_table_remove(x->node->xfers,
				    GSIZE_TO_POINTER(xfer_key(x->vm, x->tag)));
	}
}

/* A CACHE_PUT's bytes are all in: into the cache, if they have the
 * sum they were sent as (taken as they came: the file is not read
 * again). */
static void
put_done(struct xfer *x)
{
	g_autofree char *why = NULL;
	int err = nodecache_put_commit(x->node->cache, x->part, x->sum,
				       sha256_hex(x->hash), &why);

	g_clear_pointer(&x->part, g_free);	/* renamed, or removed */
	if (err)
		g_warning("cache: refusing %s: %s", x->sum, why);
	reply(x->node, x->vm, x->tag, err, err ? why : "");
	g_hash_table_remove(x->node->xfers,
			    GSIZE_TO_POINTER(xfer_key(x->vm, x->tag)));
}

void
do_inject_end(struct node *n, struct wire_msg *m)
{
	guint64 key = xfer_key(m->vm, m->tag);
	struct xfer *x = g_hash_table_lookup(n->xfers, GSIZE_TO_POINTER(key));
	g_autoptr(GError) error = NULL;
	enum inject_kind kind;

	if (!x) {
		reply(n, m->vm, m->tag, EINVAL, "no such transfer");
		return;
	}
	if (x->check)
		return;
	if (x->fd >= 0) {
		if (close(x->fd) < 0 && !x->error)
			x->error = errno;
		x->fd = -1;
	}
	if (x->error) {
		reply(n, m->vm, m->tag, x->error,
		      x->error == EINVAL ? "invalid file name"
					 : g_strerror(x->error));
		g_hash_table_remove(n->xfers, GSIZE_TO_POINTER(key));
		return;
	}
	if (x->sum) {
		put_done(x);
		return;
	}
	if (x->ckpt) {
		ckpt_put_done(x);
		return;
	}
	if (!elfcheck_classify(x->part, x->mode, &kind, &error)) {
		g_warning("vm%u: refusing %s: %s", m->vm, x->name,
			  error->message);
		reply_error(n, m->vm, m->tag, error);
		g_hash_table_remove(n->xfers, GSIZE_TO_POINTER(key));
		return;
	}
	if (kind == INJECT_SHARED)
		check_load(x);
	else
		install(x, kind);
}

void
do_uninject(struct node *n, struct vmnode *vm, struct wire_msg *m)
{
	g_autoptr(GError) error = NULL;
	const char *name = g_variant_get_string(m->body, NULL);

	if (!valid_file_name(name, &error) ||
	    !vmnode_uninstall(vm, name, &error))
		reply_error(n, m->vm, m->tag, error);
	else
		reply(n, m->vm, m->tag, 0, "");
}


void
do_cache_have(struct node *n, struct wire_msg *m)
{
	const char *sum = g_variant_get_string(m->body, NULL);

	if (!n->cache)
		reply(n, m->vm, m->tag, EIO, "the node has no cache");
	else if (!nodecache_valid_sum(sum))
		reply(n, m->vm, m->tag, EINVAL, "not a SHA-256 sum");
	else if (nodecache_has(n->cache, sum))
		reply(n, m->vm, m->tag, 0, "");
	else
		reply(n, m->vm, m->tag, ENOENT, "not in the cache");
}

void
do_cache_put(struct node *n, struct wire_msg *m)
{
	const char *sum;
	guint64 size;
	struct xfer *x;

	g_variant_get(m->body, "(&st)", &sum, &size);
	if (!(x = xfer_begin(n, m, sum)))
		return;
	x->sum = g_strdup(sum);
	if (!nodecache_valid_sum(sum))
		x->error = EINVAL;
	else if (!n->cache)
		x->error = EIO;
	else if ((x->fd = nodecache_put_begin(n->cache, &x->part)) < 0)
		x->error = errno;
	else
		x->hash = sha256_new();
}

/* A VM, or many (INJECT_CACHED_VMS), waiting for a cached file's load
 * check. */
struct cached_install {
	guint vm;			/* the frame's: 0 for many */
	guint32 tag;
	char *name;
	GArray *vms;			/* many: their indexes (guint32) */
};

/* The VM a refusal is named after: the first that asked. */
static guint
first_vm(const struct cached_install *w)
{
	return w->vms && w->vms->len ? g_array_index(w->vms, guint32, 0)
				     : w->vm;
}

static void install_cached_vms(struct node *n, guint32 tag, const char *name,
			       const char *sum, enum inject_kind kind,
			       const guint32 *vms, gsize nvms);

/* The cached file into vm's inject/ under name: 0 or an errno. */
static int
link_cached(struct node *n, struct vmnode *vm, guint32 tag, const char *name,
	    const char *sum)
{
	g_autofree char *dest = g_build_filename(vmnode_inject_dir(vm), name,
						 NULL);
	g_autofree char *part = NULL;
	int err;

	/* A new name: one link() (a thousand VMs, a thousand calls). */
	if (nodecache_link_new(n->cache, sum, dest) == 0)
		return 0;
	/* Else in place of the file there, all at once. */
	part = g_strdup_printf("%s/.part-%u", vmnode_inject_dir(vm), tag);
	err = nodecache_link(n->cache, sum, part);
	if (err == 0 && rename(part, dest) < 0) {
		err = errno;
		unlink(part);
	}
	return err;
}

/* The cached file passed every check: link it into the VM's inject/. */
static void
install_cached(struct node *n, guint index, guint32 tag, const char *name,
	       const char *sum, enum inject_kind kind)
{
	struct vmnode *vm = n->vms->pdata[index];
	int err = link_cached(n, vm, tag, name, sum);

	if (err) {
		reply(n, index, tag, err, err == ESTALE
		      ? "the node's cache lost the file" : g_strerror(err));
		return;
	}
	vmnode_install(vm, name, kind, sum);
	g_debug("vm%u: installed %s (%s) from the cache", index, name,
		kind == INJECT_SHARED ? "shared object" : "program");
	reply(n, index, tag, 0, "");
}

void
vetting_free(struct vetting *v)
{
	guint i;

	if (v->check)
		check_load_cancel(v->check);
	for (i = 0; i < v->waiting->len; i++) {
		struct cached_install *w = &g_array_index(v->waiting,
			struct cached_install, i);

		if (v->check)
			reply(v->node, w->vm, w->tag, ECANCELED,
			      "the node is ending");
		g_free(w->name);
		if (w->vms)
			g_array_unref(w->vms);
	}
	g_array_unref(v->waiting);
	g_free(v->sum);
	g_free(v);
}

/* How many VMs wait for v. */
static guint
asking(const struct vetting *v)
{
	guint i, k = 0;

	for (i = 0; i < v->waiting->len; i++) {
		const struct cached_install *w = &g_array_index(v->waiting,
			struct cached_install, i);

		k += w->vms ? w->vms->len : 1;
	}
	return k;
}

static void
on_vetted(void *data, gboolean ok, const char *why)
{
	struct vetting *v = data;
	struct node *n = v->node;
	guint i;

	v->check = NULL;
	if (ok)
		g_hash_table_add(n->vetted, g_strdup(v->sum));
	else if (v->waiting->len)	/* named as the first VM named it */
		g_warning("vm%u: refusing %s: cannot be loaded: %s (sha256 "
			  "%.12s, %u VMs asked)", first_vm(&g_array_index(
			  v->waiting, struct cached_install, 0)), g_array_index(
			  v->waiting, struct cached_install, 0).name, why,
			  v->sum, asking(v));
	else
		g_warning("refusing sha256 %s: cannot be loaded: %s", v->sum,
			  why);
	for (i = 0; i < v->waiting->len; i++) {
		struct cached_install *w = &g_array_index(v->waiting,
			struct cached_install, i);

		if (ok && w->vms)
			install_cached_vms(n, w->tag, w->name, v->sum,
					   INJECT_SHARED, (guint32 *)w->vms->data,
					   w->vms->len);
		else if (ok)
			install_cached(n, w->vm, w->tag, w->name, v->sum,
				       INJECT_SHARED);
		else
			reply(n, w->vm, w->tag, ENOEXEC, why);
	}
	g_hash_table_remove(n->vettings, v->sum);
}

/* A shared object is loaded once per content in a throw-away process;
 * every VM asking meanwhile waits for that one verdict, and a content
 * that loaded is not checked again by this process. */
static void
vet_then_install(struct node *n, struct cached_install w, const char *sum)
{
	g_autoptr(GError) error = NULL;
	struct vetting *v = g_hash_table_lookup(n->vettings, sum);

	if (!v) {
		g_autofree char *path = nodecache_path(n->cache, sum);

		v = g_new0(struct vetting, 1);
		v->node = n;
		v->sum = g_strdup(sum);
		v->waiting = g_array_new(FALSE, FALSE,
					 sizeof(struct cached_install));
		v->check = check_load_start(n->self, path, CHECK_TIMEOUT_S,
					    on_vetted, v, &error);
		if (!v->check) {
			reply(n, w.vm, w.tag, EIO, error->message);
			g_free(w.name);
			if (w.vms)
				g_array_unref(w.vms);
			vetting_free(v);
			return;
		}
		g_hash_table_insert(n->vettings, v->sum, v);
	}
	g_array_append_val(v->waiting, w);
}

void
do_inject_cached(struct node *n, struct wire_msg *m)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = NULL;
	const char *name, *sum;
	guint32 mode;
	enum inject_kind kind;

	g_variant_get(m->body, "(&s&su)", &name, &sum, &mode);
	if (!valid_file_name(name, &error)) {
		reply_error(n, m->vm, m->tag, error);
		return;
	}
	if (!n->cache || !nodecache_has(n->cache, sum)) {
		reply(n, m->vm, m->tag, ESTALE, "not in the node's cache");
		return;
	}
	path = nodecache_path(n->cache, sum);
	if (!elfcheck_classify(path, mode & 07777, &kind, &error)) {
		g_warning("vm%u: refusing %s: %s", m->vm, name,
			  error->message);
		reply_error(n, m->vm, m->tag, error);
		return;
	}
	if (kind == INJECT_SHARED &&
	    !g_hash_table_contains(n->vetted, sum)) {
		struct cached_install w = { m->vm, m->tag, g_strdup(name),
					    NULL };

		vet_then_install(n, w, sum);
	} else
		install_cached(n, m->vm, m->tag, name, sum, kind);
}

/* What a file shadows, logged once for the VMs of a batch that see the
 * same (every VM of an .all/inject/, as a rule), not once per VM. */
struct shadow_log {
	char *text;			/* the first VM's lines */
	guint first, same, last;
};

static void
log_lines(guint vm, const char *text)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	guint i;

	for (i = 0; lines[i]; i++)
		if (*lines[i])
			g_message("vm%u: %s", vm, lines[i]);
}

static void
shadow_note(struct shadow_log *l, struct vmnode *vm, guint index,
	    const char *name)
{
	g_autofree char *text = vmfuncs_shadows(vm, name);

	if (!l->text) {
		l->first = index;
		l->text = g_steal_pointer(&text);
		log_lines(index, l->text);
	} else if (strcmp(text, l->text) == 0) {
		l->same++;
		l->last = index;
	} else {
		log_lines(index, text);
	}
}

static void
shadow_done(struct shadow_log *l, const char *name)
{
	if (l->same && l->text && *l->text)
		g_message("vm%u: %s shadows the same on %u more VMs (to vm%u)",
			  l->first, name, l->same, l->last);
	g_free(l->text);
}

/* The cached file passed every check: link it into each VM's inject/,
 * answer once, then have the workers load it.  A worker's load can take
 * a millisecond of CPU: sent after the answer, the loads of a thousand
 * VMs do not hold it up. */
static void
install_cached_vms(struct node *n, guint32 tag, const char *name,
		   const char *sum, enum inject_kind kind, const guint32 *vms,
		   gsize nvms)
{
	g_autoptr(GPtrArray) funcs = NULL;
	g_autoptr(GString) failed = g_string_new(NULL);
	g_autoptr(GPtrArray) to_load = g_ptr_array_new();
	struct shadow_log shadows = { NULL, 0, 0, 0 };
	gsize i;

	if (kind == INJECT_SHARED) {
		g_autoptr(GError) error = NULL;
		g_autofree char *path = nodecache_path(n->cache, sum);

		/* Listed once for every VM: the same bytes. */
		if (!(funcs = elfsyms_functions(path, &error)))
			g_warning("cannot list the functions of %s: %s", name,
				  error->message);
	}
	for (i = 0; i < nvms; i++) {
		struct vmnode *vm = vms[i] < n->vms->len
				    ? n->vms->pdata[vms[i]] : NULL;
		int err = vm ? link_cached(n, vm, tag, name, sum) : ENOENT;

		if (err) {
			g_string_append_printf(failed, "%u %d %s\n", vms[i],
				err, !vm ? "no such VM" : err == ESTALE
				? "the node's cache lost the file"
				: g_strerror(err));
			continue;
		}
		if (vmnode_install_listed(vm, name, kind, sum, funcs))
			g_ptr_array_add(to_load, vm);
		shadow_note(&shadows, vm, vms[i], name);
	}
	shadow_done(&shadows, name);
	g_debug("installed %s (%s) from the cache into %zu VMs", name,
		kind == INJECT_SHARED ? "shared object" : "program", nvms);
	node_send(n, WIRE_TEXT, 0, tag, g_variant_new_string(failed->str));
	for (i = 0; i < to_load->len; i++)
		vmnode_load(to_load->pdata[i], name);
}

void
do_inject_cached_vms(struct node *n, struct wire_msg *m)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) av = NULL;
	const char *name, *sum;
	const guint32 *vms;
	guint32 mode;
	gsize nvms;
	enum inject_kind kind;

	g_variant_get(m->body, "(&s&su@au)", &name, &sum, &mode, &av);
	vms = g_variant_get_fixed_array(av, &nvms, sizeof(guint32));
	if (!valid_file_name(name, &error)) {
		reply_error(n, m->vm, m->tag, error);
		return;
	}
	if (!n->cache || !nodecache_has(n->cache, sum)) {
		reply(n, m->vm, m->tag, ESTALE, "not in the node's cache");
		return;
	}
	{
		g_autofree char *path = nodecache_path(n->cache, sum);

		/* What the file is: once, not once per VM. */
		if (!elfcheck_classify(path, mode & 07777, &kind, &error)) {
			g_warning("vm%u: refusing %s: %s", nvms ? vms[0] : 0,
				  name, error->message);
			reply_error(n, m->vm, m->tag, error);
			return;
		}
	}
	if (kind == INJECT_SHARED &&
	    !g_hash_table_contains(n->vetted, sum)) {
		struct cached_install w = { m->vm, m->tag, g_strdup(name),
			g_array_sized_new(FALSE, FALSE, sizeof(guint32), nvms) };

		g_array_append_vals(w.vms, vms, nvms);
		vet_then_install(n, w, sum);
	} else {
		install_cached_vms(n, m->tag, name, sum, kind, vms, nvms);
	}
}
