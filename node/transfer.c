/*
 * transfer.c - files injected into a VM: the bytes go to a .part file in
 * its inject/ while they come, then the file is checked (what it is; a
 * shared object is loaded once in a throw-away process, node/vet) and
 * only then installed under its name and given to the VM.
 */
#include "supervisor.h"
#include "fdio.h"

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
	g_free(x);
}

void
do_inject_begin(struct node *n, struct vmnode *vm, struct wire_msg *m)
{
	g_autoptr(GError) error = NULL;
	const char *name;
	guint32 mode;
	struct xfer *x;

	g_variant_get(m->body, "(&su)", &name, &mode);
	if (g_hash_table_contains(n->xfers,
				  GSIZE_TO_POINTER(xfer_key(m->vm, m->tag))))
		return;		/* a confused client; END will answer */
	x = g_new0(struct xfer, 1);
	x->node = n;
	x->vm = m->vm;
	x->tag = m->tag;
	x->name = g_strdup(name);
	x->mode = mode & 07777;
	x->fd = -1;
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
	g_hash_table_insert(n->xfers,
			    GSIZE_TO_POINTER(xfer_key(m->vm, m->tag)), x);
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
		vmnode_install(vm, x->name, kind);
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

