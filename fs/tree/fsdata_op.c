/*
 * fsdata_op.c - ops: how a FUSE request under data/ reaches the nodes.
 *
 * Every FUSE request becomes an "op": one or more node requests sent at
 * once (a chunk each for big reads and writes, one per VM for a change
 * under .all), answered when the last of them has answered.  host_request()
 * bounds each by reply_timeout and answers all of them when a host goes
 * down, so every op ends and every FUSE request gets exactly one reply.
 * The first error wins.  A read interrupted (Ctrl-C) is answered EINTR at
 * once; its op still waits for its answers, and then only frees.
 */
#include "fsdata_priv.h"

#include <errno.h>
#include <string.h>

/* One node request of an op. */
struct part {
	struct op *op;
	struct vm *vm;
	guint8 fsop;
	guint index;		/* read chunk, target (append STAT) or MAIN */
	guint32 want;		/* a read's count */
};

/* ------------------------------------------------------------ VMs */

/* The VMs a change of vm's data/ goes to. */
GPtrArray *
targets_of(struct cluster *fs, struct vm *vm)
{
	GPtrArray *t = g_ptr_array_new();
	guint i;

	if (vm->host)
		g_ptr_array_add(t, vm);
	else
		for (i = 0; i < fs->vms->len; i++)
			if (vm_open(fs->vms->pdata[i]))
				g_ptr_array_add(t, fs->vms->pdata[i]);
	return t;
}

/* The VM that answers reads and listings of vm's data/: itself, or for
 * .all the first that is up (or at least not down). */
struct vm *
reader_of(struct cluster *fs, struct vm *vm)
{
	guint i;

	if (vm->host)
		return vm;
	for (i = 0; i < fs->vms->len; i++) {
		struct vm *v = fs->vms->pdata[i];
		if (vm_listed(v) && v->host->state == HOST_UP)
			return v;
	}
	for (i = 0; i < fs->vms->len; i++) {
		struct vm *v = fs->vms->pdata[i];
		if (vm_listed(v) && v->host->state != HOST_DOWN)
			return v;
	}
	for (i = 0; i < fs->vms->len; i++)
		if (vm_listed(fs->vms->pdata[i]))
			return fs->vms->pdata[i];
	return NULL;
}

/* ------------------------------------------------------------ ops */

struct op *
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
	g_free(op->rewound);
	g_free(op);
}

static void
op_unref(struct op *op)
{
	if (--op->waiting > 0)
		return;
	if (!op->err && op->already && !op->changed)
		op->err = op->already;
	if (!op->interrupted)
		op->done(op);
	else if (op->dropped)
		op->dropped(op);
	op_free(op);
}

static void
op_interrupted(fuse_req_t req, void *data)
{
	struct op *op = data;

	op->interrupted = TRUE;
	fuse_reply_err(req, EINTR);
}

/* Everything is sent: the op ends when the answers are in. */
void
op_go(struct op *op)
{
	/* Registered only now: nothing above may reply yet.  An interrupt
	 * that came first (libfuse kept it) is answered here, not from
	 * inside libfuse, where the request would go under its feet. */
	if (op->interruptible && fuse_req_interrupted(op->req))
		op_interrupted(op->req, op);
	else if (op->interruptible)
		fuse_req_interrupt_func(op->req, op_interrupted, op);
	op_unref(op);
}

static void
op_fail(struct op *op, struct vm *vm, int err, const char *msg)
{
	/* A node down or being reconnected answers at once: say why. */
	if (op->fanout || err == EPROTO ||
	    (!op->err && (err == EHOSTDOWN || err == EHOSTUNREACH)))
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

/*
 * An O_APPEND write moves the file's end on every target when it goes
 * out (so that writes can follow each other); one that fails on a target
 * takes that back, once, or the next append would leave a hole.
 */
static void
unappend(struct op *op, struct part *p)
{
	struct data_file *f = op->file;

	if (p->fsop != FS_WRITE || !f || !f->append ||
	    p->index >= f->targets->len)
		return;
	if (!op->rewound)
		op->rewound = g_new0(guint8, f->targets->len);
	if (op->rewound[p->index])
		return;
	op->rewound[p->index] = 1;
	f->ends[p->index] -= MIN(f->ends[p->index], op->size);
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
		unappend(op, p);
		goto out;
	}
	switch (p->fsop) {
	case FS_STAT: {
		guint32 mode, nlink;
		guint64 size, mtime;

		if (!is_reply(msg, WIRE_STAT))
			goto unexpected;
		v = g_variant_ref_sink(g_variant_new_from_data(
			G_VARIANT_TYPE("(uttu)"), bytes, len, FALSE, NULL,
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
			G_VARIANT_TYPE("(a(sutt)b)"), copy, len, FALSE, g_free,
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
void
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
	/* What the node does after this change, it reads after it too (it
	 * takes a host's frames in order); pieces asked before are old. */
	if (fsop != FS_STAT && fsop != FS_LIST && fsop != FS_READ &&
	    fsop != FS_FSYNC)
		data_changed(vm);
	/* The answer may come at once (host down): op holds on. */
	host_request(vm->host, WIRE_FSOP, vm->index, 0, body, on_answer, p);
}

GVariant *
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

void
send_op(struct op *op, struct vm *vm, guint8 fsop, const char *path,
	const char *path2, guint64 offset, guint32 arg, guint index)
{
	GVariant *body = fsop_body(fsop, path, path2, offset, arg, NULL, 0);

	send_body(op, vm, body, fsop, index, 0);
	g_variant_unref(body);
}

/* The same change on every target of op->vm. */
void
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
void
send_stat(struct op *op, const char *path)
{
	send_op(op, reader_of(req_fs(op->req), op->vm), FS_STAT, path, NULL,
		0, 0, MAIN);
}

/* ------------------------------------------------------------ replies */

/* Whether the main STAT answered; if not, the op's reply is its error. */
gboolean
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
