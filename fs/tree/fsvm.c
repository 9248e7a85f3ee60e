/*
 * fsvm.c - the files that show and steer a VM: info, ctl, calls/N/ctl,
 * functions/, objects/, and rmdir of a finished call.
 *
 * What the node pushes (functions, objects, call states) is answered from
 * here without asking it, so a hung node never hangs ls or cat of them;
 * commands (restart, cancel, destroy, forget) and info's node half are
 * requests with the usual deadline.  A read of info that waits on its
 * node ends at once on Ctrl-C; the node's late answer is then dropped.
 */
#include "tree.h"

#include <errno.h>
#include <string.h>

struct info_handle;

struct ctl_handle {
	struct handle h;
	struct vm *vm;
	guint32 call;		/* 0: the VM's own ctl */
	GString *partial;
};

/* A FUSE request waiting on one node request. */
struct pending {
	fuse_req_t req;
	struct vm *vm;
	guint32 id;
	size_t size;		/* for writes: what to acknowledge */
	gboolean write;		/* answer with a write count, else 0 */
	off_t off;		/* for info: the read's offset */
	struct info_handle *handle;	/* for info: keep the text here */
	char *what;
};

static void
pending_free(struct pending *p)
{
	g_free(p->what);
	g_free(p);
}

static struct pending *
pending_new(fuse_req_t req, struct vm *vm, guint32 id, const char *what)
{
	struct pending *p = g_new0(struct pending, 1);

	p->req = req;
	p->vm = vm;
	p->id = id;
	p->what = g_strdup(what);
	return p;
}

/* The half of info the mount knows by itself. */
static GString *
info_local(struct vm *vm)
{
	struct host *h = vm->host;
	GString *s = g_string_new(NULL);
	g_autofree char *hstate = NULL, *last = NULL;
	guint queued, running;

	vm_count_calls(vm, &queued, &running);
	g_string_append_printf(s, "vm: %s\n", vm->name);
	g_string_append_printf(s, "host: %s%s%s%s\n", h->label,
			       h->node_name ? " (" : "",
			       h->node_name ? h->node_name : "",
			       h->node_name ? ")" : "");
	if (h->source_info)
		g_string_append(s, h->source_info);
	if (h->state == HOST_DOWN)
		g_string_append_printf(s, "state: down: %s\n", h->down_reason);
	else if (h->state == HOST_RECONNECTING)
		g_string_append_printf(s, "state: %s\n",
				       (hstate = host_state_text(h)));
	else if (h->state == HOST_CONNECTING)
		g_string_append(s, "state: starting\n");
	else if (vm->state == VM_RESTARTING)
		g_string_append_printf(s, "state: restarting (%s)\n",
				       vm->detail);
	else
		g_string_append_printf(s, "state: %s%s%s\n",
				       wire_vm_state_name(vm->state),
				       vm->state == VM_DOWN ? ": " : "",
				       vm->state == VM_DOWN ? vm->detail : "");
	g_string_append_printf(s, "pid: %u\n", vm->pid);
	g_string_append_printf(s, "calls queued: %u\ncalls running: %u\n",
			       queued, running);
	g_string_append_printf(s, "calls done: %u\ncalls failed: %u\n"
			       "calls cancelled: %u\n", vm->ended[CALL_DONE],
			       vm->ended[CALL_FAILED],
			       vm->ended[CALL_CANCELLED]);
	g_string_append_printf(s, "bytes sent: %" G_GUINT64_FORMAT "\n"
			       "bytes received: %" G_GUINT64_FORMAT "\n",
			       h->bytes_out, h->bytes_in);
	g_string_append_printf(s, "mounted: %lld s ago\n",
			       (long long)(time(NULL) - vm->created));
	if (ckpt_list(vm)->len)
		g_string_append_printf(s, "checkpoints: %u (last %u)\n",
			ckpt_list(vm)->len, ((struct checkpoint *)ckpt_list(
				vm)->pdata[ckpt_list(vm)->len - 1])->n);
	if ((last = vm_last_error_text(vm)))
		g_string_append_printf(s, "last error: %s\n", last);
	return s;
}

static void
reply_slice(fuse_req_t req, const GString *s, size_t size, off_t off)
{
	reply_bytes(req, s->str, s->len, size, off);
}

/* The node's lines, but for keys the mount has already said better (the
 * VM's name, its host, the calls it counts). */
static void
append_new_keys(GString *s, const char *text, gsize len)
{
	g_autofree char *copy = g_strndup(text, len);
	g_auto(GStrv) lines = g_strsplit(copy, "\n", -1);
	char **l;

	for (l = lines; *l; l++) {
		const char *colon = strchr(*l, ':');
		g_autofree char *key = NULL;

		if (!colon)
			continue;
		key = g_strdup_printf("\n%.*s:", (int)(colon - *l), *l);
		if (strstr(s->str, key) || strncmp(s->str, key + 1,
						   strlen(key + 1)) == 0)
			continue;
		g_string_append_printf(s, "%s\n", *l);
	}
}

/* An open info file: the text is put together at the first read and kept,
 * so that reading it through costs at most one request to the node. */
struct info_handle {
	struct handle h;
	struct tree *tree;
	struct vm *vm;
	GString *text;
	guint inflight;		/* requests out; free after the last */
	gboolean released;
};

static void
info_free(struct info_handle *ih)
{
	if (ih->text)
		g_string_free(ih->text, TRUE);
	g_free(ih);
}

GString *
info_compose(struct vm *vm, int err, const char *msg, const guint8 *bytes,
	     gsize len)
{
	GString *s = info_local(vm);

	if (err)
		g_string_append_printf(s, "node: %s\n", msg ? msg :
				       g_strerror(err));
	else if (bytes)
		append_new_keys(s, (const char *)bytes, len);
	return s;
}

static void
on_info(void *data, int err, const char *msg, const guint8 *bytes, gsize len)
{
	struct pending *p = data;
	struct info_handle *ih = p->handle;
	GString *s = info_compose(p->vm, err, msg, bytes, len);

	/* What stat tells next is what was read (fsinfo.c). */
	info_cache_put(ih->tree, p->vm, g_string_new_len(s->str, s->len));
	/* Interrupted: the reader has its EINTR; the text is still good
	 * for the next read. */
	if (p->req)
		reply_slice(p->req, s, p->size, p->off);
	if (!ih->text)
		ih->text = g_steal_pointer(&s);
	if (s)
		g_string_free(s, TRUE);
	if (--ih->inflight == 0 && ih->released)
		info_free(ih);
	pending_free(p);
}

static const struct handle_ops info_ops;

/* Ctrl-C on a read of info waiting for the node: libfuse calls this from
 * the loop when the kernel's INTERRUPT comes. */
static void
info_interrupted(fuse_req_t req, void *data)
{
	struct pending *p = data;

	p->req = NULL;
	fuse_reply_err(req, EINTR);
}

void
info_open(fuse_req_t req, struct vm *vm, struct fuse_file_info *fi)
{
	struct info_handle *ih = g_new0(struct info_handle, 1);

	ih->h.ops = &info_ops;
	ih->tree = req_tree(req);
	ih->vm = vm;
	fi->fh = (uintptr_t)ih;
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

static void
info_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct info_handle *ih = (struct info_handle *)(uintptr_t)fi->fh;
	struct vm *vm = ih->vm;
	const GString *fresh;
	struct pending *p;

	if (ih->text) {
		reply_slice(req, ih->text, size, off);
		return;
	}
	/* The text a stat just sized (fsinfo.c). */
	if ((fresh = info_cache_fresh(ih->tree, vm))) {
		ih->text = g_string_new_len(fresh->str, fresh->len);
		reply_slice(req, ih->text, size, off);
		return;
	}
	/* Down or being reconnected: what the mount knows, at once. */
	if (vm->host->state != HOST_UP) {
		ih->text = info_local(vm);
		reply_slice(req, ih->text, size, off);
		return;
	}
	/* Interrupted before it got here (libfuse kept the news). */
	if (fuse_req_interrupted(req)) {
		fuse_reply_err(req, EINTR);
		return;
	}
	p = pending_new(req, vm, 0, "info");
	p->size = size;
	p->off = off;
	p->handle = ih;
	ih->inflight++;
	fuse_req_interrupt_func(req, info_interrupted, p);
	host_request(vm->host, WIRE_INFO, vm->index, 0, NULL, on_info, p);
}

static void
info_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct info_handle *ih = (struct info_handle *)(uintptr_t)fi->fh;

	/* A reader killed mid-read leaves its request out: free on its
	 * answer, not before. */
	if (ih->inflight)
		ih->released = TRUE;
	else
		info_free(ih);
	fuse_reply_err(req, 0);
}

/* Answers of commands: the write that carried the command gets the
 * node's verdict. */
static void
on_command(void *data, int err, const char *msg, const guint8 *bytes,
	   gsize len)
{
	struct pending *p = data;

	/* The call ended while the cancel was on its way. */
	if (err == EALREADY && strcmp(p->what, "cancel") == 0)
		err = ESRCH;
	if (err == ESRCH) {
		g_message("%s/calls/%u: cancel: the call has already ended",
			  p->vm->name, p->id);
		fuse_reply_err(p->req, err);
	} else if (err) {
		vm_error(p->vm, err, "%s: %s", p->what,
			 msg && *msg ? msg : g_strerror(err));
		fuse_reply_err(p->req, err);
	} else if (p->write) {
		fuse_reply_write(p->req, p->size);
	} else {
		fuse_reply_err(p->req, 0);
	}
	pending_free(p);
}

static const struct handle_ops ctl_ops;

void
ctl_open(fuse_req_t req, struct vm *vm, guint32 call,
	 struct fuse_file_info *fi)
{
	struct ctl_handle *c = g_new0(struct ctl_handle, 1);

	c->h.ops = &ctl_ops;
	c->vm = vm;
	c->call = call;
	c->partial = g_string_new(NULL);
	fi->fh = (uintptr_t)c;
	fi->direct_io = 1;
	fi->nonseekable = 1;
	fuse_reply_open(req, fi);
}

/* One command per write: "restart" for a VM, "cancel" for a call. */
static void
ctl_write(fuse_req_t req, const char *buf, size_t size, off_t off,
	  struct fuse_file_info *fi)
{
	struct ctl_handle *c = (struct ctl_handle *)(uintptr_t)fi->fh;
	g_autofree char *cmd = g_strstrip(g_strndup(buf, size));
	struct host *h = c->vm->host;
	struct pending *p;

	if (c->call && strcmp(cmd, "cancel") == 0) {
		struct call *call = vm_call(c->vm, c->call);

		if (call && !tree_may_see_call(req, call, "cancel")) {
			fuse_reply_err(req, EACCES);
			return;
		}
		if (!call || call_ended(call)) {
			if (call)
				g_message("%s/calls/%u: cancel: the call has "
					  "already ended (%s)", c->vm->name,
					  call->id,
					  wire_call_state_name(call->state));
			fuse_reply_err(req, call ? ESRCH : ENOENT);
			return;
		}
		/* A call not sent yet just goes; once sent, it is the
		 * node that cancels it (a .any call's VM call). */
		if (call_cancel_unsent(call)) {
			fuse_reply_write(req, size);
			return;
		}
		call = call_output(call);
		if (!call->vm->host) {
			fuse_reply_err(req, EALREADY);
			return;
		}
		p = pending_new(req, call->vm, call->id, "cancel");
		p->size = size;
		p->write = TRUE;
		host_request(call->vm->host, WIRE_CANCEL, call->vm->index, 0,
			     g_variant_new_uint32(call->id), on_command, p);
	} else if (!h) {
		fuse_reply_err(req, EPERM);
	} else if (!c->call && ckpt_ctl_command(req, c->vm, cmd, size)) {
		/* checkpoint, restore N: fsckpt.c answered */
	} else if (!c->call && strcmp(cmd, "restart") == 0) {
		p = pending_new(req, c->vm, 0, "restart");
		p->size = size;
		p->write = TRUE;
		host_request(h, WIRE_RESTART, c->vm->index, 0, NULL,
			     on_command, p);
	} else {
		g_warning("%s: unknown command \"%s\" (%s)", c->vm->name, cmd,
			  c->call ? "a call's ctl takes: cancel"
				  : "a VM's ctl takes: restart, checkpoint, "
				    "restore N, migrate NODE");
		fuse_reply_err(req, EINVAL);
	}
}

static void
ctl_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct ctl_handle *c = (struct ctl_handle *)(uintptr_t)fi->fh;

	g_string_free(c->partial, TRUE);
	g_free(c);
	fuse_reply_err(req, 0);
}

static void
on_forgotten(void *data, int err)
{
	fuse_reply_err(data, err);
}

/* rmdir calls/N: forget a call that has ended, here and on the node. */
void
rmdir_call(fuse_req_t req, struct vm *vm, guint32 id)
{
	struct call *c = vm_call(vm, id);
	int err;

	if (!c) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if ((err = call_removable(req, c))) {
		fuse_reply_err(req, err);
		return;
	}
	call_forget(c, on_forgotten, req);
}

void
object_destroy(fuse_req_t req, struct vm *vm, guint32 id)
{
	if (!vm_object(vm, id, NULL, NULL)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	host_request(vm->host, WIRE_OBJ_DESTROY, vm->index, 0,
		     g_variant_new_uint32(id), on_command,
		     pending_new(req, vm, id, "destroy"));
}

static const struct handle_ops info_ops = {
	.read = info_read,
	.release = info_release,
};

static const struct handle_ops ctl_ops = {
	.write = ctl_write,
	.release = ctl_release,
};
