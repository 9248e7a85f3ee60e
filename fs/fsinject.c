/*
 * fsinject.c - VM/inject/: cp a file in to install it, rm it to remove it.
 *
 * The bytes stream to the node as they are written (INJECT_DATA), held
 * back by the link's flow control, so a file of any size passes through
 * in bounded memory.  The node decides what the file is only when it is
 * complete, so the verdict comes back on close(): flush waits for it, and
 * a refused file fails the cp there.  Obvious junk fails the first write.
 */
#include "tfs.h"

#include <errno.h>
#include <string.h>

enum phase { X_OPEN, X_COMMITTING, X_DONE };

struct inject_handle {
	struct handle h;
	struct vm *vm;
	struct injected *inj;
	guint32 tag;
	guint64 written;	/* bytes so far: the offset of the next write */
	int error;		/* sticky: the transfer is refused */
	gboolean told;		/* a write already failed with error */
	enum phase phase;
	GList *flushes;		/* fuse_req_t waiting for the verdict */
	gboolean released;	/* free once the verdict is in */
};

static void
handle_free(struct inject_handle *x)
{
	struct injected *inj = x->inj;

	/* A refused or abandoned first copy leaves no name behind. */
	if (--inj->writers == 0 && !inj->installed)
		vm_injected_remove(x->vm, inj);
	g_free(x);
}

static struct inject_handle *
begin(struct tfs *fs, fuse_req_t req, struct vm *vm, const char *name,
      mode_t mode)
{
	struct host *h = vm->host;
	struct inject_handle *x;

	if (h->state == HOST_DOWN) {
		g_warning("%s: cannot inject %s: %s", vm->name, name,
			  h->down_reason);
		fuse_reply_err(req, EHOSTDOWN);
		return NULL;
	}
	x = g_new0(struct inject_handle, 1);
	x->h.type = H_INJECT;
	x->vm = vm;
	x->inj = vm_injected_add(vm, name, mode);
	x->inj->writers++;
	x->tag = host_next_tag(h);
	host_send(h, WIRE_INJECT_BEGIN, vm->index, x->tag,
		  g_variant_new("(su)", name, (guint32)mode));
	return x;
}

void
inject_create(struct tfs *fs, fuse_req_t req, struct vm *vm,
	      const char *name, mode_t mode, struct fuse_file_info *fi)
{
	struct inject_handle *x;

	/* Hidden names are the node's own (partial transfers). */
	if (name[0] == '.' || strlen(name) > 255) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!(x = begin(fs, req, vm, name, mode & 07777)))
		return;
	fi->fh = (uintptr_t)x;
	fi->direct_io = 1;
	fsops_reply_create(req, vm, x->inj, fi);
}

void
inject_open(struct tfs *fs, fuse_req_t req, struct vm *vm,
	    struct injected *inj, struct fuse_file_info *fi)
{
	struct inject_handle *x;

	/* Only a whole new copy makes sense: the node installs files whole. */
	if (!(fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (!(x = begin(fs, req, vm, inj->name, inj->mode)))
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

void
inject_write(fuse_req_t req, const char *buf, size_t size, off_t off,
	     struct fuse_file_info *fi)
{
	struct inject_handle *x = (struct inject_handle *)(uintptr_t)fi->fh;
	struct host *h = x->vm->host;
	size_t done;

	if (!x->error && x->phase != X_OPEN)
		x->error = EBADF;
	if (!x->error && h->state == HOST_DOWN)
		x->error = EHOSTDOWN;
	if (!x->error && (guint64)off != x->written) {
		g_warning("%s: inject/%s: write at offset %lld, expected %llu:"
			  " files are installed whole, written front to back",
			  x->vm->name, x->inj->name, (long long)off,
			  (unsigned long long)x->written);
		x->error = ESPIPE;
	}
	if (!x->error && off == 0 && size > 0 && !plausible_start(buf, size)) {
		g_warning("%s: refusing inject/%s: not an ELF shared object, "
			  "ELF program or #! script", x->vm->name,
			  x->inj->name);
		x->error = ENOEXEC;
	}
	if (x->error) {
		x->told = TRUE;
		fuse_reply_err(req, x->error);
		return;
	}
	for (done = 0; done < size; done += WIRE_CHUNK)
		host_send_bytes(h, WIRE_INJECT_DATA, x->vm->index, x->tag,
				buf + done, MIN(size - done, WIRE_CHUNK));
	x->written += size;
	if (!x->inj->installed)
		x->inj->size = x->written;
	host_reply_write(h, req, size);
}

static void
reply_flushes(struct inject_handle *x)
{
	GList *l;

	for (l = x->flushes; l; l = l->next)
		fuse_reply_err(l->data, x->error);
	g_clear_pointer(&x->flushes, g_list_free);
}

static void
on_verdict(void *data, int err, const char *msg, const guint8 *bytes,
	   gsize len)
{
	struct inject_handle *x = data;

	x->phase = X_DONE;
	x->error = err;
	if (err) {
		g_warning("%s: refusing inject/%s: %s", x->vm->name,
			  x->inj->name, msg);
	} else {
		x->inj->installed = TRUE;
		x->inj->size = x->written;
		x->inj->mtime = time(NULL);
	}
	reply_flushes(x);
	if (x->released)
		handle_free(x);
}

void
inject_flush(fuse_req_t req, struct fuse_file_info *fi)
{
	struct inject_handle *x = (struct inject_handle *)(uintptr_t)fi->fh;
	struct host *h = x->vm->host;

	switch (x->phase) {
	case X_OPEN:
		if (x->error) {
			host_send(h, WIRE_INJECT_ABORT, x->vm->index, x->tag,
				  NULL);
			x->phase = X_DONE;
			/* Once is enough: cp already reported the write. */
			fuse_reply_err(req, x->told ? 0 : x->error);
			return;
		}
		x->phase = X_COMMITTING;
		x->flushes = g_list_append(x->flushes, req);
		host_request(h, WIRE_INJECT_END, x->vm->index, x->tag, NULL,
			     on_verdict, x);
		return;
	case X_COMMITTING:
		x->flushes = g_list_append(x->flushes, req);
		return;
	case X_DONE:
		fuse_reply_err(req, x->error);
		return;
	}
}

void
inject_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct inject_handle *x = (struct inject_handle *)(uintptr_t)fi->fh;

	if (x->phase == X_OPEN)
		host_send(x->vm->host, WIRE_INJECT_ABORT, x->vm->index, x->tag,
			  NULL);
	if (x->phase == X_COMMITTING)
		x->released = TRUE;
	else
		handle_free(x);
	fuse_reply_err(req, 0);
}

struct unlink_op {
	fuse_req_t req;
	struct vm *vm;
	char *name;
};

static void
on_unlinked(void *data, int err, const char *msg, const guint8 *bytes,
	    gsize len)
{
	struct unlink_op *u = data;
	struct injected *inj = g_hash_table_lookup(u->vm->injected, u->name);

	if (err && err != ENOENT)
		g_warning("%s: rm inject/%s: %s", u->vm->name, u->name, msg);
	else if (inj && inj->writers == 0)
		vm_injected_remove(u->vm, inj);
	else if (inj)
		inj->installed = FALSE;
	fuse_reply_err(u->req, err == ENOENT ? 0 : err);
	g_free(u->name);
	g_free(u);
}

void
inject_unlink(fuse_req_t req, struct vm *vm, const char *name)
{
	struct injected *inj = g_hash_table_lookup(vm->injected, name);
	struct unlink_op *u;

	if (!inj) {
		fuse_reply_err(req, ENOENT);
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
	host_request(vm->host, WIRE_UNINJECT, vm->index, 0,
		     g_variant_new_string(name), on_unlinked, u);
}
