/*
 * vm.c - a VM as the mount sees it: its calls, what was injected, and the
 * joins waiting on its calls.
 *
 * A join (read of result) on a call still running is parked here without
 * a reply and without a thread; the node's CALL_STATE for the call wakes
 * it.  Ctrl-C interrupts it at once and leaves the call alone.
 */
#include "tfs.h"
#include "fsdata.h"

#include <errno.h>
#include <string.h>

/* A read of result waiting for its call to end. */
struct joiner {
	struct call *call;
	fuse_req_t req;
	size_t size;
	off_t off;
};

/*
 * A read of a call's stream waiting for the node's DATA.  A large FUSE read
 * goes out as several WIRE_READs at once, so that one round trip is paid
 * per FUSE read rather than per chunk.
 */
struct pending_read {
	fuse_req_t req;
	struct vm *vm;
	guint32 call;
	guint stream;
	off_t off;
	guint parts, waiting;
	int err;
	GBytes **chunks;
};

static void
injected_free(struct injected *inj)
{
	g_free(inj->name);
	g_free(inj);
}

static void
call_free(struct call *c)
{
	g_assert(!c->joiners);
	g_assert(!c->queued);
	/* The other half of a .any call keeps what it has, without us. */
	if (c->any)
		c->any->real = NULL;
	if (c->real)
		c->real->any = NULL;
	g_list_free_full(c->pollers, (GDestroyNotify)fuse_pollhandle_destroy);
	g_strfreev(c->argv);
	g_free(c->where);
	g_free(c->args);
	g_free(c->detail);
	g_free(c);
}

struct vm *
vm_new(struct tfs *fs, struct host *h, const char *name)
{
	struct vm *vm = g_new0(struct vm, 1);

	vm->fs = fs;
	vm->host = h;
	vm->index = h ? h->vms->len : 0;
	vm->name = g_strdup(name);
	vm->state = VM_STARTING;
	vm->detail = g_strdup("");
	vm->calls = g_hash_table_new_full(NULL, NULL, NULL,
					  (GDestroyNotify)call_free);
	vm->injected = g_hash_table_new(g_str_hash, g_str_equal);
	vm->injected_ids = g_hash_table_new_full(NULL, NULL, NULL,
		(GDestroyNotify)injected_free);
	vm->created = time(NULL);
	vm->data = fsdata_new();
	vm->func_ids = g_hash_table_new(g_str_hash, g_str_equal);
	vm->func_names = g_ptr_array_new_with_free_func(g_free);
	if (h)
		g_ptr_array_add(h->vms, vm);
	return vm;
}

void
vm_free(struct vm *vm)
{
	GHashTableIter it;
	gpointer val;

	/* Joins still parked get an answer before their call goes. */
	g_hash_table_iter_init(&it, vm->calls);
	while (g_hash_table_iter_next(&it, NULL, &val)) {
		struct call *c = val;
		while (c->joiners) {
			struct joiner *j = c->joiners->data;
			c->joiners = g_list_delete_link(c->joiners,
							c->joiners);
			fuse_reply_err(j->req, EIO);
			g_free(j);
		}
	}
	g_hash_table_unref(vm->calls);
	g_hash_table_unref(vm->injected);
	g_hash_table_unref(vm->injected_ids);
	fsdata_free(vm->data);
	g_hash_table_unref(vm->func_ids);
	g_ptr_array_unref(vm->func_names);
	g_clear_pointer(&vm->funcs, g_variant_unref);
	g_clear_pointer(&vm->objects, g_variant_unref);
	g_free(vm->name);
	g_free(vm->detail);
	g_free(vm);
}

struct call *
vm_call(struct vm *vm, guint32 id)
{
	return g_hash_table_lookup(vm->calls, GUINT_TO_POINTER(id));
}

char *
call_status_text(const struct call *c)
{
	const char *name = wire_call_state_name(c->state);

	if (c->detail && *c->detail)
		return g_strdup_printf("%s %s\n", name, c->detail);
	return g_strdup_printf("%s\n", name);
}

char *
call_vm_text(const struct call *c)
{
	return c->where ? g_strconcat(c->where, "\n", NULL) : g_strdup("");
}

void
call_set_state(struct call *c, guint state, const char *detail)
{
	c->state = state;
	g_free(c->detail);
	c->detail = g_strdup(detail ? detail : "");
	c->changed = time(NULL);
}

/* Does a leading NAME=VALUE word of argv set name? */
static gboolean
sets_option(char **argv, const char *name)
{
	gsize n = strlen(name);

	for (; *argv && strchr(*argv, '='); argv++)
		if (strncmp(*argv, name, n) == 0 && (*argv)[n] == '=')
			return TRUE;
	return FALSE;
}

static gboolean
send_call(struct vm *vm, guint32 id, char **argv)
{
	int timeout = vm->host->fs->opt.timeout;
	g_autoptr(GPtrArray) v = g_ptr_array_new_with_free_func(g_free);

	/* -o timeout=S: the default for lines that do not say. */
	if (timeout > 0 && !sets_option(argv, "TRICKLE_TIMEOUT"))
		g_ptr_array_add(v, g_strdup_printf("TRICKLE_TIMEOUT=%d",
						   timeout));
	for (; *argv; argv++)
		g_ptr_array_add(v, g_strdup(*argv));
	g_ptr_array_add(v, NULL);
	return host_send(vm->host, WIRE_CALL, vm->index, id,
			 g_variant_new_strv((const char *const *)v->pdata, -1));
}

struct call *
call_new(struct vm *vm, const char *line)
{
	struct call *c = g_new0(struct call, 1);

	c->vm = vm;
	c->id = ++vm->last_call;
	c->args = g_strdup(line);
	c->created = time(NULL);
	call_set_state(c, CALL_QUEUED, NULL);
	g_hash_table_insert(vm->calls, GUINT_TO_POINTER(c->id), c);
	return c;
}

struct call *
vm_fork(struct vm *vm, char **argv, const char *line, struct call *any)
{
	struct call *c = call_new(vm, line);

	/* Linked first: a call that fails at once already speaks for it. */
	if ((c->any = any))
		any->real = c;

	if (vm->host->state == HOST_DOWN) {
		g_autofree char *why = g_strdup_printf("node down: %s",
			vm->host->down_reason);
		call_set_state(c, CALL_FAILED, why);
		call_ended_now(c);
		return c;
	}
	if (vm->draining) {
		call_set_state(c, CALL_FAILED, "VM leaving: takes no new calls");
		call_ended_now(c);
		return c;
	}
	if (!send_call(vm, c->id, argv)) {
		call_set_state(c, CALL_FAILED, "call too large for the wire");
		call_ended_now(c);
	}
	return c;
}

static void
join_interrupted(fuse_req_t req, void *data)
{
	struct joiner *j = data;

	j->call->joiners = g_list_remove(j->call->joiners, j);
	fuse_reply_err(req, EINTR);
	g_free(j);
}

gboolean
call_ended(const struct call *c)
{
	return c->state >= CALL_DONE;
}

void
call_join(struct call *c, fuse_req_t req, size_t size, off_t off)
{
	struct joiner *j;

	if (call_ended(c)) {
		if (c->state != CALL_DONE)
			fuse_reply_err(req, EIO);
		else
			call_read(c, WIRE_STDOUT, req, size, off);
		return;
	}
	/* An interrupt that came before this read was handled (libfuse
	 * queues those): answer it here, not from inside libfuse. */
	if (fuse_req_interrupted(req)) {
		fuse_reply_err(req, EINTR);
		return;
	}
	j = g_new0(struct joiner, 1);
	j->call = c;
	j->req = req;
	j->size = size;
	j->off = off;
	c->joiners = g_list_prepend(c->joiners, j);
	/* May run join_interrupted at once if the interrupt came first. */
	fuse_req_interrupt_func(req, join_interrupted, j);
}

static void
wake_joiners(struct call *c)
{
	GList *js = g_steal_pointer(&c->joiners);
	GList *l;

	for (l = js; l; l = l->next) {
		struct joiner *j = l->data;

		/* From here the read is bounded by the node's reply; an
		 * interrupt no longer needs to end it. */
		fuse_req_interrupt_func(j->req, NULL, NULL);
		call_join(c, j->req, j->size, j->off);
		g_free(j);
	}
	g_list_free(js);
}

/* Everything that waits for a call's end hears of it: joins, pollers,
 * readers of .done, and the .any call it ran for (which tells .done in
 * its own name). */
void
call_ended_now(struct call *c)
{
	c->vm->ended[c->state]++;
	wake_joiners(c);
	call_notify_pollers(c);
	if (c->any)
		any_update(c);
	else
		done_announce(c);
	members_check(c->vm);
}

void
vm_call_state(struct vm *vm, guint32 id, guint state, const char *detail,
	      int code, guint64 out, guint64 err)
{
	struct call *c = vm_call(vm, id);

	if (!c || call_ended(c))
		return;
	call_set_state(c, state, detail);
	c->code = code;
	c->out_size = out;
	c->err_size = err;
	if (call_ended(c))
		call_ended_now(c);
	else if (c->any)
		any_update(c);
}

void
vm_down(struct vm *vm, const char *why)
{
	g_autofree char *detail = g_strdup_printf("node down: %s", why);
	GHashTableIter it;
	gpointer val;

	vm->state = VM_DOWN;
	g_free(vm->detail);
	vm->detail = g_strdup(why);
	g_hash_table_iter_init(&it, vm->calls);
	while (g_hash_table_iter_next(&it, NULL, &val)) {
		struct call *c = val;

		if (call_ended(c))
			continue;
		call_set_state(c, CALL_FAILED, detail);
		call_ended_now(c);
	}
}

/*
 * A read reached this far into a stream: its size is at least that.  The
 * node's size updates come every half second; without this a reader
 * that got ahead of them (tail -f) would see the file shrink.
 */
static void
saw_size(struct call *c, guint stream, guint64 end)
{
	guint64 *size;

	if (!c)
		return;
	size = stream == WIRE_STDERR ? &c->err_size : &c->out_size;
	if (end > *size)
		*size = end;
	if (c->any) {
		c->any->out_size = c->out_size;
		c->any->err_size = c->err_size;
	}
}

static void
finish_read(struct pending_read *r)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	guint i;

	/* Up to the first short chunk: that is where the stream ends. */
	for (i = 0; !r->err && i < r->parts; i++) {
		gsize len;
		const void *p = g_bytes_get_data(r->chunks[i], &len);

		g_byte_array_append(out, p, len);
		if (len < WIRE_CHUNK)
			break;
	}
	if (r->err)
		fuse_reply_err(r->req, r->err);
	else
		fuse_reply_buf(r->req, (const char *)out->data, out->len);
	if (!r->err)
		saw_size(vm_call(r->vm, r->call), r->stream,
			 r->off + out->len);
	for (i = 0; i < r->parts; i++)
		if (r->chunks[i])
			g_bytes_unref(r->chunks[i]);
	g_free(r->chunks);
	g_free(r);
}

struct read_part {
	struct pending_read *r;
	guint index;
};

static void
on_data(void *data, int err, const char *msg, const guint8 *bytes, gsize len)
{
	struct read_part *p = data;
	struct pending_read *r = p->r;

	/* A node that answers with more than asked (or not with DATA) is
	 * broken; the reader gets EIO rather than a reply FUSE refuses. */
	if (!err && ((!bytes && len) || len > WIRE_CHUNK))
		err = EIO;
	if (err && !r->err)
		r->err = err;
	else if (!err)
		r->chunks[p->index] = g_bytes_new(bytes, len);
	g_free(p);
	if (--r->waiting == 0)
		finish_read(r);
}

void
call_read(struct call *c, guint stream, fuse_req_t req, size_t size,
	  off_t off)
{
	struct host *h;
	struct pending_read *r;
	guint i;

	/* A .any call's output is on the VM it ran on; one never sent has
	 * none. */
	if (c->real)
		c = c->real;
	if (!(h = c->vm->host)) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	/* An ended call's sizes are final: a read at or past the end (an
	 * empty stderr, the reader's last read) needs no round trip. */
	if (call_ended(c) && (guint64)off >= (stream == WIRE_STDERR
					      ? c->err_size : c->out_size)) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (h->state == HOST_DOWN) {
		fuse_reply_err(req, EIO);
		return;
	}
	r = g_new0(struct pending_read, 1);
	r->req = req;
	r->vm = c->vm;
	r->call = c->id;
	r->stream = stream;
	r->off = off;
	r->parts = MAX(1, (size + WIRE_CHUNK - 1) / WIRE_CHUNK);
	r->waiting = r->parts;
	r->chunks = g_new0(GBytes *, r->parts);
	for (i = 0; i < r->parts; i++) {
		struct read_part *p = g_new(struct read_part, 1);
		guint32 want = MIN(size - (size_t)i * WIRE_CHUNK, WIRE_CHUNK);

		p->r = r;
		p->index = i;
		host_request(h, WIRE_READ, c->vm->index, 0,
			     g_variant_new("(uytu)", c->id, (guint8)stream,
					   (guint64)off + (guint64)i * WIRE_CHUNK,
					   want), on_data, p);
	}
}

struct injected *
vm_injected_add(struct vm *vm, const char *name, mode_t mode)
{
	struct injected *inj = g_hash_table_lookup(vm->injected, name);

	if (inj)
		return inj;
	inj = g_new0(struct injected, 1);
	inj->id = ++vm->last_injected;
	inj->name = g_strdup(name);
	inj->mode = mode;
	inj->mtime = time(NULL);
	g_hash_table_insert(vm->injected, inj->name, inj);
	g_hash_table_insert(vm->injected_ids, GUINT_TO_POINTER(inj->id), inj);
	return inj;
}

void
vm_injected_remove(struct vm *vm, struct injected *inj)
{
	g_hash_table_remove(vm->injected, inj->name);
	g_hash_table_remove(vm->injected_ids, GUINT_TO_POINTER(inj->id));
}

void
vm_set_funcs(struct vm *vm, GVariant *funcs)
{
	GVariantIter it;
	const char *name;

	g_clear_pointer(&vm->funcs, g_variant_unref);
	vm->funcs = g_variant_ref(funcs);
	g_variant_iter_init(&it, funcs);
	while (g_variant_iter_next(&it, "(&s&s&s)", &name, NULL, NULL)) {
		if (g_hash_table_contains(vm->func_ids, name))
			continue;
		g_ptr_array_add(vm->func_names, g_strdup(name));
		g_hash_table_insert(vm->func_ids,
				    vm->func_names->pdata[vm->func_names->len - 1],
				    GUINT_TO_POINTER(vm->func_names->len));
	}
}

guint32
vm_func_id(struct vm *vm, const char *name)
{
	guint32 id = GPOINTER_TO_UINT(g_hash_table_lookup(vm->func_ids, name));

	return id && vm_func(vm, id, NULL, NULL, NULL) ? id : 0;
}

gboolean
vm_func(struct vm *vm, guint32 id, const char **name, const char **origin,
	const char **doc)
{
	GVariantIter it;
	const char *n, *o, *d;

	if (!vm->funcs || id == 0 || id > vm->func_names->len)
		return FALSE;
	g_variant_iter_init(&it, vm->funcs);
	while (g_variant_iter_next(&it, "(&s&s&s)", &n, &o, &d)) {
		if (strcmp(n, vm->func_names->pdata[id - 1]) != 0)
			continue;
		if (name)
			*name = n;
		if (origin)
			*origin = o;
		if (doc)
			*doc = d;
		return TRUE;
	}
	return FALSE;
}

void
vm_set_objects(struct vm *vm, GVariant *objects)
{
	g_clear_pointer(&vm->objects, g_variant_unref);
	vm->objects = g_variant_ref(objects);
}

gboolean
vm_object(struct vm *vm, guint32 id, const char **cls, const char **desc)
{
	GVariantIter it;
	const char *c, *d;
	guint32 i;

	if (!vm->objects)
		return FALSE;
	g_variant_iter_init(&it, vm->objects);
	while (g_variant_iter_next(&it, "(u&s&s)", &i, &c, &d)) {
		if (i != id)
			continue;
		if (cls)
			*cls = c;
		if (desc)
			*desc = d;
		return TRUE;
	}
	return FALSE;
}
