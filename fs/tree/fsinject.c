/*
 * fsinject.c - VM/inject/ and .all/inject/: cp a file in to install it, rm
 * it to remove it.
 *
 * The bytes go to the mount's copy of the file (fskept.c) as they are
 * written, and their SHA-256 is taken on the way; on close() (flush)
 * they go to the nodes by that sum (injcache.c): once per node, and not
 * at all to a node whose cache has them already, so a file of any size
 * passes through in bounded memory and travels once to a node of 1,000
 * VMs.  The node decides what the file is only when it is complete, so
 * the verdict comes back on close(): flush waits for it, and a refused
 * file fails the cp there.  Obvious junk fails the first write.
 *
 * A handle carries one transfer per VM it installs into: one for VM/inject/,
 * one for every VM whose node is up for .all/inject/.  The cp succeeds only
 * if every VM accepts the file.  .all/inject/ also keeps a copy (spool.c)
 * for VMs that join later, and for those whose node is unreachable now:
 * they get it once it is back.
 *
 * Every file is also kept at the mount as it is written (fskept.c): a
 * read gives back the bytes installed.  A file with a hidden name
 * (.NAME, what rsync and editors write before they rename it), or a
 * program without execute permission (install and cp -p chmod it only
 * after they wrote it) is held there rather than sent as a failing
 * install: a rename onto a real name or a chmod +x sends it.
 */
#include "tree.h"
#include "sha256.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

enum phase { X_OPEN, X_COMMITTING, X_DONE };

struct inject_handle;

/* The file's way to one VM. */
struct xfer {
	struct vm *vm;
	struct injected *inj;	/* its entry in that VM's inject/ */
	struct inject_handle *x;
	struct fanin *f;	/* the verdicts flush waits for */
	struct install *install;	/* under way (injcache.c) */
};

struct inject_handle {
	struct handle h;
	struct vm *vm;		/* where it was opened: a VM or .all */
	struct injected *inj;	/* the entry there */
	GPtrArray *xfers;	/* struct xfer */
	struct sha256 *sum;	/* of the bytes written */
	guint64 written;	/* bytes so far: the offset of the next write */
	int error;		/* sticky: the transfer is refused */
	gboolean told;		/* a write already failed with error */
	enum phase phase;
	GList *flushes;		/* fuse_req_t waiting for the verdict */
	gboolean released;	/* free once the verdict is in */
	int spool;		/* .all: the copy for later VMs, or -1 */
	struct tree *t;
	int kept;		/* the copy at the mount (fskept.c), or -1 */
	gboolean holding;	/* not sent (any more): held at the mount */
	char *why;		/* a node's reason to hold it (EACCES) */
	time_t begun;		/* inj's mtime then: unless touched since
				   (cp -p), it is the time of the verdict */
};

void
inject_hold(struct vm *vm, struct injected *inj, const char *why)
{
	g_free(inj->held);
	inj->held = g_strdup(why);
	g_message("%s: inject/%s is held at the mount, not installed: %s",
		  vm->name, inj->name, why);
}

static void
handle_free(struct inject_handle *x)
{
	guint i;

	/* First: x->inj of a VM's own inject/ is its transfer's entry,
	 * which may go with it below. */
	if (x->spool >= 0)
		spool_commit(x->vm->fs, x->inj->name, x->spool, FALSE);
	kept_abandon(x->t, x->vm, x->inj->name, x->kept);
	/* A VM's own entry was taken here when nothing was sent. */
	if (x->vm->host && x->xfers->len == 0)
		vm_injected_unref(x->vm, x->inj);
	g_free(x->why);
	for (i = 0; i < x->xfers->len; i++) {
		struct xfer *t = x->xfers->pdata[i];

		inject_install_cancel(t->install);
		vm_injected_unref(t->vm, t->inj);
	}
	if (x->vm->host == NULL)
		vm_injected_unref(x->vm, x->inj);
	g_ptr_array_unref(x->xfers);
	sha256_free(x->sum);
	g_free(x);
}

static void
add_xfer(struct inject_handle *x, struct vm *vm, const char *name,
	 mode_t mode)
{
	struct xfer *t = g_new0(struct xfer, 1);

	t->vm = vm;
	t->x = x;
	t->inj = vm_injected_add(vm, name, mode);
	t->inj->writers++;
	g_ptr_array_add(x->xfers, t);
}

/* A handle with transfers to every VM it reaches, or NULL (replied). */
static const struct handle_ops inject_ops;

/* Its node takes a transfer: not down, not being reconnected (a link
 * that is gone takes no bytes). */
gboolean
inject_reachable(const struct vm *vm)
{
	return vm->host->state != HOST_DOWN &&
	       vm->host->state != HOST_RECONNECTING;
}

static struct inject_handle *
begin(fuse_req_t req, struct vm *vm, const char *name, mode_t mode)
{
	struct cluster *fs = req_fs(req);
	struct inject_handle *x;
	guint i;

	x = g_new0(struct inject_handle, 1);
	x->h.ops = &inject_ops;
	x->vm = vm;
	x->spool = -1;
	x->t = req_tree(req);
	x->xfers = g_ptr_array_new_with_free_func(g_free);
	x->sum = sha256_new();
	/* A hidden name waits at the mount for its rename. */
	x->holding = name[0] == '.';
	if (x->holding) {
		x->inj = vm_injected_add(vm, name, mode);
		x->inj->writers++;
	} else if (vm->host) {
		if (inject_reachable(vm))
			add_xfer(x, vm, name, mode);
	} else {
		for (i = 0; i < fs->vms->len; i++) {
			struct vm *v = fs->vms->pdata[i];

			if (!vm_open(v))
				continue;
			if (inject_reachable(v))
				add_xfer(x, v, name, mode);
			else if (v->host->state == HOST_RECONNECTING)
				g_message("%s: inject/%s: later, %s is "
					  "unreachable now (%s)", v->name,
					  name, v->host->label,
					  v->host->down_reason);
		}
	}
	if (x->xfers->len == 0 && !x->holding) {
		g_warning("%s: cannot inject %s: %s", vm->name, name,
			  vm->host ? vm->host->down_reason : "no VM is up");
		g_ptr_array_unref(x->xfers);
		sha256_free(x->sum);
		g_free(x);
		fuse_reply_err(req, vm->host && vm->host->state ==
			       HOST_RECONNECTING ? EHOSTUNREACH : EHOSTDOWN);
		return NULL;
	}
	if (x->holding) {
		/* taken above */
	} else if (vm->host) {
		x->inj = ((struct xfer *)x->xfers->pdata[0])->inj;
	} else {
		x->inj = vm_injected_add(vm, name, mode);
		x->inj->writers++;
		x->spool = spool_open(fs, name);
	}
	g_clear_pointer(&x->inj->held, g_free);
	x->begun = x->inj->mtime;
	/* The nodes get the bytes from there. */
	if ((x->kept = kept_create(x->t, vm, name)) < 0) {
		handle_free(x);
		fuse_reply_err(req, EIO);
		return NULL;
	}
	return x;
}

void
inject_create(fuse_req_t req, struct vm *vm, const char *name, mode_t mode,
	      struct fuse_file_info *fi)
{
	struct inject_handle *x;

	/* Hidden names are held here (rsync's, editors' temporary files):
	 * the node's own partial transfers are never seen. */
	if (strlen(name) > 255 || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!(x = begin(req, vm, name, mode & 07777)))
		return;
	fi->fh = (uintptr_t)x;
	fi->direct_io = 1;
	reply_create_injected(req, vm, x->inj, fi);
}

void
inject_open(fuse_req_t req, struct vm *vm, struct injected *inj,
	    struct fuse_file_info *fi)
{
	struct inject_handle *x;

	/* Only a whole new copy makes sense: the node installs files whole. */
	if (!(fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (!(x = begin(req, vm, inj->name, inj->mode)))
		return;
	fi->fh = (uintptr_t)x;
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

/* Refuse at the first write what no node could install. */
static gboolean
plausible_start(const char *buf, size_t size)
{
	if (size >= 4 && memcmp(buf, "\177ELF", 4) == 0)
		return TRUE;
	if (size >= 2 && buf[0] == '#' && buf[1] == '!')
		return TRUE;
	return size < 4 && (buf[0] == '\177' || buf[0] == '#');
}

static int
check_write(struct inject_handle *x, const char *buf, size_t size, off_t off)
{
	guint i;

	if (x->phase != X_OPEN)
		return EBADF;
	for (i = 0; i < x->xfers->len && !x->holding; i++) {
		struct host *h = ((struct xfer *)x->xfers->pdata[i])->vm->host;

		/* It would not take the file at the end. */
		if (h->state == HOST_DOWN || h->state == HOST_RECONNECTING) {
			g_warning("%s: inject/%s: %s went away mid-copy (%s)",
				  x->vm->name, x->inj->name, h->label,
				  h->down_reason);
			return h->state == HOST_DOWN ? EHOSTDOWN
						     : EHOSTUNREACH;
		}
	}
	if ((guint64)off != x->written) {
		g_warning("%s: inject/%s: write at offset %lld, expected %llu:"
			  " files are installed whole, written front to back",
			  x->vm->name, x->inj->name, (long long)off,
			  (unsigned long long)x->written);
		return ESPIPE;
	}
	if (off == 0 && size > 0 && !plausible_start(buf, size)) {
		vm_error(x->vm, ENOEXEC, "refusing inject/%s: not an ELF "
			 "shared object, ELF program or #! script",
			 x->inj->name);
		return ENOEXEC;
	}
	return 0;
}

/* A #! script without +x is held here, not sent: the nodes would refuse
 * it, and install, cp -p chmod it after they wrote it. */
static void
maybe_hold_script(struct inject_handle *x, const char *buf, size_t size,
		  off_t off)
{
	if (x->holding || off != 0 || size < 2 || buf[0] != '#' ||
	    buf[1] != '!' || (x->inj->mode & 0111))
		return;
	x->holding = TRUE;
	spool_commit(x->vm->fs, x->inj->name, x->spool, FALSE);
	x->spool = -1;
}

/* Add buf to the copy at the mount, which the nodes get: 0, or the
 * errno that fails the write. */
static int
keep_bytes(struct inject_handle *x, const char *buf, size_t size, off_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < size) {
		n = pwrite(x->kept, buf + done, size - done, off + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;

			vm_error(x->vm, err, "inject/%s: no room for it at the "
				 "mount: %s", x->inj->name, g_strerror(err));
			return err;
		}
		done += n;
	}
	sha256_update(x->sum, buf, size);
	return 0;
}

static void
inject_write(fuse_req_t req, const char *buf, size_t size, off_t off,
	     struct fuse_file_info *fi)
{
	struct inject_handle *x = (struct inject_handle *)(uintptr_t)fi->fh;
	guint i;

	if (!x->error)
		x->error = check_write(x, buf, size, off);
	if (!x->error)
		x->error = keep_bytes(x, buf, size, off);
	if (x->error) {
		x->told = TRUE;
		fuse_reply_err(req, x->error);
		return;
	}
	maybe_hold_script(x, buf, size, off);
	for (i = 0; i < x->xfers->len && !x->holding; i++) {
		struct xfer *t = x->xfers->pdata[i];

		if (!t->inj->installed)
			t->inj->size = x->written + size;
	}
	x->written += size;
	if (!x->inj->installed)
		x->inj->size = x->written;
	if (x->holding) {
		fuse_reply_write(req, size);
		return;
	}
	spool_write(x->vm->fs, x->inj->name, &x->spool, buf, size);
	fuse_reply_write(req, size);
}

static void
reply_flushes(struct inject_handle *x)
{
	GList *l;

	for (l = x->flushes; l; l = l->next)
		fuse_reply_err(l->data, x->error);
	g_clear_pointer(&x->flushes, g_list_free);
}

static void verdicts_in(void *data, int err);

/* One VM's verdict on its copy. */
static void
on_verdict(void *data, int err, const char *msg)
{
	struct xfer *t = data;
	struct inject_handle *x = t->x;

	t->install = NULL;
	err = errno_from_node(err);

	/* A program without +x: held here until a chmod +x. */
	if (err == EACCES) {
		if (!x->why)
			x->why = g_strdup(msg);
		fanin_answer(t->f, 0);
		return;
	}
	if (err) {
		vm_error(t->vm, err, "refusing inject/%s: %s", t->inj->name,
			 msg);
	} else {
		t->inj->installed = TRUE;
		t->inj->size = x->written;
		if (t->inj != x->inj || x->inj->mtime == x->begun)
			t->inj->mtime = time(NULL);
	}
	fanin_answer(t->f, err);
}

/* VMs that joined while a .all copy was on its way get it now. */
static void
give_rest(struct inject_handle *x)
{
	g_autoptr(GPtrArray) had = g_ptr_array_new();
	guint i;

	for (i = 0; i < x->xfers->len; i++)
		g_ptr_array_add(had, ((struct xfer *)x->xfers->pdata[i])->vm);
	spool_give_rest(x->vm->fs, x->inj, had);
}

static void
finish(struct inject_handle *x)
{
	x->phase = X_DONE;
	reply_flushes(x);
	if (x->released)
		handle_free(x);
}

/* A held file sent once it could be (chmod +x while it was written). */
static void
held_sent(void *data, int err, const char *why)
{
	struct inject_handle *x = data;

	if (err == EACCES) {
		inject_hold(x->vm, x->inj, why);
	} else if (err) {
		x->error = err;
		x->inj->kept = FALSE;
		kept_drop(x->t, x->vm, x->inj->name);
	} else {
		x->inj->installed = TRUE;
		if (!x->vm->host)
			kept_spool(x->t, x->vm, x->inj);
	}
	finish(x);
}

/* Nothing went to the nodes, or they want +x: keep it here, or send it
 * now if it has +x by now. */
static void
settle_held(struct inject_handle *x)
{
	g_autofree char *why = NULL;

	x->inj->kept = kept_commit(x->t, x->vm, x->inj->name, x->kept);
	x->kept = -1;
	x->inj->size = x->written;
	if (x->inj->mtime == x->begun)
		x->inj->mtime = time(NULL);
	if (x->inj->name[0] != '.' && (x->inj->mode & 0111) &&
	    x->inj->kept && kept_send(x->t, x->vm, x->inj, held_sent, x) == 0)
		return;
	if (x->inj->name[0] == '.')
		why = g_strdup(INJECT_WHY_HIDDEN);
	else if (x->why)
		why = g_strdup_printf("%s; chmod +x installs it", x->why);
	else
		why = g_strdup(INJECT_WHY_NOEXEC);
	inject_hold(x->vm, x->inj, why);
	finish(x);
}

/* Every VM has answered. */
static void
verdicts_in(void *data, int err)
{
	struct inject_handle *x = data;

	if (err && !x->error)
		x->error = err;
	if (!x->error && x->why) {
		x->holding = TRUE;
		spool_commit(x->vm->fs, x->inj->name, x->spool, FALSE);
		x->spool = -1;
	}
	if (!x->error && x->holding) {
		settle_held(x);
		return;
	}
	if (!x->error) {
		x->inj->kept = kept_commit(x->t, x->vm, x->inj->name,
					   x->kept);
		x->kept = -1;
	}
	x->phase = X_DONE;
	if (!x->error && !x->vm->host) {
		x->inj->installed = TRUE;
		x->inj->size = x->written;
		x->inj->mtime = time(NULL);
	}
	if (x->spool >= 0) {
		spool_commit(x->vm->fs, x->inj->name, x->spool, !x->error);
		if (!x->error)
			give_rest(x);
	}
	x->spool = -1;
	reply_flushes(x);
	if (x->released)
		handle_free(x);
}

static void
inject_flush(fuse_req_t req, struct fuse_file_info *fi)
{
	struct inject_handle *x = (struct inject_handle *)(uintptr_t)fi->fh;
	g_autofree char *copy = NULL;
	struct fanin *f;
	guint i;

	switch (x->phase) {
	case X_OPEN:
		if (x->error) {
			x->phase = X_DONE;
			/* Once is enough: cp already reported the write. */
			fuse_reply_err(req, x->told ? 0 : x->error);
			return;
		}
		x->phase = X_COMMITTING;
		x->flushes = g_list_append(x->flushes, req);
		if (x->holding) {
			settle_held(x);
			return;
		}
		/* The copy at the mount is whole: each node gets it from
		 * there, once, by its sum. */
		copy = kept_partial_path(x->t, x->vm, x->inj->name);
		f = fanin_new(verdicts_in, x);
		for (i = 0; i < x->xfers->len; i++) {
			struct xfer *t = x->xfers->pdata[i];

			t->f = f;
			fanin_expect(f);
			t->install = inject_install(t->vm, x->inj->name,
				x->inj->mode, copy,
				sha256_hex(x->sum), on_verdict, t);
		}
		fanin_release(f);
		return;
	case X_COMMITTING:
		x->flushes = g_list_append(x->flushes, req);
		return;
	case X_DONE:
		fuse_reply_err(req, x->error);
		return;
	}
}

static void
inject_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct inject_handle *x = (struct inject_handle *)(uintptr_t)fi->fh;

	if (x->phase == X_COMMITTING)
		x->released = TRUE;
	else
		handle_free(x);
	fuse_reply_err(req, 0);
}

/* rm: uninstall from one VM, or from every VM for .all. */
struct unlink_op {
	fuse_req_t req;
	struct vm *vm;		/* where rm was run */
	char *name;
};

static void
forget_name(struct tree *t, struct vm *vm, const char *name)
{
	struct injected *inj = g_hash_table_lookup(vm->injected, name);

	if (inj && inj->writers == 0) {
		vm_injected_remove(vm, inj);
		kept_drop(t, vm, name);
	} else if (inj) {
		inj->installed = FALSE;
	}
}

static int
on_unlinked(void *data, void *part, int err, const char *msg,
	    const guint8 *bytes, gsize len)
{
	struct unlink_op *u = data;
	struct vm *vm = part;

	if (err && err != ENOENT) {
		g_warning("%s: rm inject/%s: %s", vm->name, u->name, msg);
		return err;
	}
	forget_name(req_tree(u->req), vm, u->name);
	return 0;
}

static void
unlinked(void *data, int err)
{
	struct unlink_op *u = data;

	if (!err && !u->vm->host) {
		forget_name(req_tree(u->req), u->vm, u->name);
		spool_remove(u->vm->fs, u->name);
	}
	fuse_reply_err(u->req, err);
	g_free(u->name);
	g_free(u);
}

static void
unlink_on(struct fanin *f, struct unlink_op *u, struct vm *vm)
{
	fanin_request(f, vm->host, WIRE_UNINJECT, vm->index, 0,
		      g_variant_new_string(u->name), on_unlinked, vm);
}

void
inject_unlink(fuse_req_t req, struct vm *vm, const char *name)
{
	struct cluster *fs = req_fs(req);
	struct injected *inj = g_hash_table_lookup(vm->injected, name);
	struct unlink_op *u;
	struct fanin *f;
	guint i;

	if (!inj) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* Held here: only here. */
	if (inj->held && !inj->writers && !inj->installed) {
		g_message("%s: inject/%s dropped (it was held at the mount)",
			  vm->name, name);
		forget_name(req_tree(req), vm, name);
		fuse_reply_err(req, 0);
		return;
	}
	if (!inj->installed) {
		fuse_reply_err(req, EBUSY);
		return;
	}
	u = g_new0(struct unlink_op, 1);
	u->req = req;
	u->vm = vm;
	u->name = g_strdup(name);
	f = fanin_new(unlinked, u);
	if (vm->host) {
		unlink_on(f, u, vm);
	} else {
		for (i = 0; i < fs->vms->len; i++) {
			struct vm *v = fs->vms->pdata[i];
			if (vm_listed(v) &&
			    g_hash_table_contains(v->injected, name))
				unlink_on(f, u, v);
		}
	}
	fanin_release(f);
}

static const struct handle_ops inject_ops = {
	.write = inject_write,
	.flush = inject_flush,
	.release = inject_release,
};
