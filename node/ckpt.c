/*
 * ckpt.c - the client's checkpoint frames (issue 16): take, restore and
 * remove go to the VM (node/vm/vmckpt.c); a read gives the bytes of a
 * kept checkpoint; a put takes one in (an import, or a VM that moves
 * here), as a transfer (transfer.c's INJECT_DATA and INJECT_END), and
 * keeps it only if it is a whole, valid archive.
 */
#include "supervisor.h"
#include "ckptar.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>

static void
do_ckpt_read(struct node *n, struct vmnode *vm, struct wire_msg *m)
{
	g_autofree char *path = NULL;
	guint32 num, max;
	guint64 off;

	g_variant_get(m->body, "(utu)", &num, &off, &max);
	path = vmnode_ckpt_path(vm, num);
	reply_file_bytes(n, m, path, off, max);
}

static void
do_ckpt_put(struct node *n, struct vmnode *vm, struct wire_msg *m)
{
	g_autofree char *path = NULL;
	g_autofree char *dir = NULL;
	g_autofree char *name = NULL;
	struct xfer *x;
	guint32 num;
	guint64 size;

	g_variant_get(m->body, "(ut)", &num, &size);
	name = g_strdup_printf("checkpoint %u", num);
	if (!(x = xfer_begin(n, m, name)))
		return;
	x->ckpt = num;
	path = vmnode_ckpt_path(vm, num);
	dir = g_path_get_dirname(path);
	if (num == 0) {
		x->error = EINVAL;
	} else if (g_file_test(path, G_FILE_TEST_EXISTS)) {
		x->error = EEXIST;
	} else if (g_mkdir_with_parents(dir, 0700) < 0) {
		x->error = errno;
	} else {
		x->part = g_strdup_printf("%s.part-%u", path, m->tag);
		x->fd = open(x->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			     0600);
		if (x->fd < 0)
			x->error = errno;
	}
}

void
ckpt_put_done(struct xfer *x)
{
	struct node *n = x->node;
	struct vmnode *vm = n->vms->pdata[x->vm];
	g_autofree char *path = vmnode_ckpt_path(vm, x->ckpt);
	g_autoptr(GError) error = NULL;

	if (!ckpt_check_file(x->part, &error)) {
		g_warning("vm%u: refusing %s: %s", x->vm, x->name,
			  error->message);
		reply(n, x->vm, x->tag, EINVAL, error->message);
	} else if (link(x->part, path) < 0) {
		/* link, not rename: one that came meanwhile is kept. */
		reply(n, x->vm, x->tag, errno, g_strerror(errno));
	} else {
		g_message("vm%u: took in %s", x->vm, x->name);
		reply(n, x->vm, x->tag, 0, "");
	}
	g_hash_table_remove(n->xfers, GSIZE_TO_POINTER(xfer_key(x->vm,
								x->tag)));
}

void
do_ckpt(struct node *n, struct vmnode *vm, struct wire_msg *m)
{
	guint32 num, wait_ms, flags;
	const char *why;
	int err;

	switch (m->type) {
	case WIRE_CKPT_TAKE:
		g_variant_get(m->body, "(uuu)", &num, &wait_ms, &flags);
		vmnode_ckpt_take(vm, m->tag, num, wait_ms, flags);
		break;
	case WIRE_CKPT_RESTORE:
		g_variant_get(m->body, "(uuu)", &num, &wait_ms, &flags);
		vmnode_ckpt_restore(vm, m->tag, num, wait_ms, flags);
		break;
	case WIRE_CKPT_READ:
		do_ckpt_read(n, vm, m);
		break;
	case WIRE_CKPT_REMOVE:
		err = vmnode_ckpt_remove(vm, g_variant_get_uint32(m->body),
					 &why);
		reply(n, m->vm, m->tag, err, why);
		break;
	case WIRE_CKPT_PUT:
		do_ckpt_put(n, vm, m);
		break;
	default:
		break;
	}
}

void
ckpt_vm_add(struct node *n, struct wire_msg *m)
{
	g_autoptr(GError) error = NULL;
	guint32 index = g_variant_get_uint32(m->body);
	struct vmnode *vm;

	if (!n->dir || index != n->vms->len) {
		reply(n, 0, m->tag, EINVAL, "not the session's next VM");
		return;
	}
	if (index >= n->max_vms) {
		reply(n, 0, m->tag, EUSERS, "the node holds no more VMs");
		return;
	}
	if (!(vm = vmnode_new(&n->host, index, FALSE, &error))) {
		reply(n, 0, m->tag, EIO, error->message);
		return;
	}
	g_ptr_array_add(n->vms, vm);
	g_message("vm%u: added to the session (a VM moving here)", index);
	reply(n, 0, m->tag, 0, "");
}
