/*
 * vm.c - the model: a VM as the mount sees it, its calls and their
 * states, what was injected, its functions and objects.
 *
 * Changes are told as events (events.c): a call that ends is
 * CL_CALL_ENDED, and whoever waits for it (a parked join in the tree,
 * the .any call it ran for, a VM draining) hears it there.
 */
#include "cluster.h"
#include "ckpt.h"

#include <errno.h>
#include <string.h>

static void
injected_free(struct injected *inj)
{
	g_free(inj->name);
	g_free(inj->held);
	g_free(inj);
}

static void
call_free(struct call *c)
{
	g_assert(!c->holds);
	g_assert(!c->queued);
	reap_forget(c);
	call_stdin_drop(c, FALSE);
	g_clear_pointer(&c->result, g_bytes_unref);
	/* The other half of a .any call keeps what it has, without us. */
	if (c->any)
		c->any->real = NULL;
	if (c->real)
		c->real->any = NULL;
	g_strfreev(c->argv);
	if (c->attempts)
		g_ptr_array_unref(c->attempts);
	g_free(c->where);
	g_free(c->args);
	g_free(c->detail);
	g_free(c);
}

struct vm *
vm_new(struct cluster *fs, struct host *h, const char *name)
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
	vm->func_ids = g_hash_table_new(g_str_hash, g_str_equal);
	vm->func_names = g_ptr_array_new_with_free_func(g_free);
	vm->func_at = g_array_new(FALSE, TRUE, sizeof(guint));
	vm->any_level = -1;
	if (h) {
		g_ptr_array_add(h->vms, vm);
		members_name_hold(vm);
	}
	return vm;
}

void
vm_free(struct vm *vm)
{
	GHashTableIter it;
	gpointer val;

	any_index_drop(vm);
	ckpt_vm_free(vm);
	/* Unmounting: what the layer above held is let go already. */
	g_hash_table_iter_init(&it, vm->calls);
	while (g_hash_table_iter_next(&it, NULL, &val))
		((struct call *)val)->holds = 0;
	g_hash_table_unref(vm->calls);
	g_hash_table_unref(vm->injected);
	g_hash_table_unref(vm->injected_ids);
	g_hash_table_unref(vm->func_ids);
	g_ptr_array_unref(vm->func_names);
	g_array_unref(vm->func_at);
	g_clear_pointer(&vm->funcs, g_variant_unref);
	g_clear_pointer(&vm->objects, g_variant_unref);
	g_free(vm->name);
	g_free(vm->detail);
	last_error_clear(&vm->last_error);
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
	clock_gettime(CLOCK_REALTIME, &c->changed);
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

/* The words go with the mount's: the VM's name, whether stdin follows,
 * the default time limit. */
static gboolean
send_call(struct vm *vm, guint32 id, char **argv, gboolean with_stdin)
{
	int timeout = vm->host->fs->opt.timeout;
	g_autoptr(GPtrArray) v = g_ptr_array_new_with_free_func(g_free);

	g_ptr_array_add(v, g_strconcat("TRICKLE_VM=", vm->name, NULL));
	if (with_stdin)
		g_ptr_array_add(v, g_strdup("TRICKLE_STDIN=1"));

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
	c->id = vm->last_call = journal_next_id(vm);
	c->args = g_strdup(line);
	clock_gettime(CLOCK_REALTIME, &c->created);
	c->stdin_fd = -1;
	call_set_state(c, CALL_QUEUED, NULL);
	g_hash_table_insert(vm->calls, GUINT_TO_POINTER(c->id), c);
	return c;
}

struct call *
call_restore(struct vm *vm, guint32 id)
{
	struct call *c = g_new0(struct call, 1);

	c->vm = vm;
	c->id = id;
	clock_gettime(CLOCK_REALTIME, &c->created);
	c->sync_gen = G_MAXUINT;
	c->stdin_fd = -1;
	c->retries = vm->fs->opt.retries;
	call_set_state(c, CALL_QUEUED, "recovered: waiting for its node");
	g_hash_table_insert(vm->calls, GUINT_TO_POINTER(c->id), c);
	return c;
}

void
call_restore_drop(struct call *c)
{
	if (c->any)
		c->any->real = NULL;
	if (c->real)
		c->real->any = NULL;
	c->any = c->real = NULL;
	g_hash_table_remove(c->vm->calls, GUINT_TO_POINTER(c->id));
}

/* A call is on its way to vm's node: a new run. */
void
call_send(struct call *c)
{
	struct vm *vm = c->vm;
	struct call *owner = c->any ? c->any : c;
	gboolean with_stdin = owner->stdin_state == STDIN_CLOSED;

	c->sync_gen = vm->host->sync_gen;
	call_attempt_start(owner, vm);
	if (!send_call(vm, c->id, owner->argv, with_stdin)) {
		call_set_state(c, CALL_FAILED, "call too large for the wire");
		call_attempt_end(owner, "failed call too large for the wire");
		call_ended_now(c);
		return;
	}
	if (with_stdin)
		call_stdin_feed(c, owner);
}

/* vm's node is away: c goes when it is back (vm_send_waiting). */
void
call_wait(struct call *c, const char *why)
{
	g_autofree char *detail = g_strdup_printf("waiting for node %s to "
		"come %s%s%s", c->vm->host->label,
		c->vm->host->was_up ? "back" : "up", why ? ": " : "",
		why ? why : "");

	c->sync_gen = 0;
	call_set_state(c, CALL_QUEUED, detail);
}

static gboolean call_refused(struct call *c);

struct call *
vm_fork(struct vm *vm, char **argv, const char *line, struct call *any)
{
	struct call *c = call_new(vm, line);
	g_autofree char *why = NULL;

	/* Linked first: a call that fails at once already speaks for it. */
	if ((c->any = any))
		any->real = c;
	else if (!(c->argv = call_options(c, argv, &why))) {
		call_set_state(c, CALL_FAILED, why);
		call_ended_now(c);
		return c;
	}
	journal_fork(c);
	if (call_refused(c))
		return c;
	if (c->stdin_state == STDIN_OPEN) {
		call_set_state(c, CALL_QUEUED, "waiting for its stdin");
		return c;
	}
	call_go(c);
	return c;
}

/* A call its VM cannot take now fails, saying why: TRUE then. */
static gboolean
call_refused(struct call *c)
{
	struct vm *vm = c->vm;

	if (vm->host->state == HOST_DOWN ||
	    (vm->host->state == HOST_RECONNECTING && !vm->host->was_up)) {
		/* Never up (host.c tries it again): nothing to wait for. */
		g_autofree char *why = g_strdup_printf("node %s: %s",
			vm->host->state == HOST_DOWN ? "down"
			: "not up yet (being tried again)",
			vm->host->down_reason);
		call_set_state(c, CALL_FAILED, why);
		call_ended_now(c);
		return TRUE;
	}
	if (vm->draining) {
		call_set_state(c, CALL_FAILED, "VM leaving: takes no new calls");
		call_ended_now(c);
		return TRUE;
	}
	if (vm->host->lease_out) {
		g_autofree char *why = g_strdup_printf("node unreachable for "
			"more than %d s: %s", vm->fs->opt.lease,
			vm->host->down_reason);

		call_set_state(c, CALL_FAILED, why);
		call_ended_now(c);
		return TRUE;
	}
	return FALSE;
}

void
call_go(struct call *c)
{
	struct vm *vm = c->vm;

	if (call_refused(c))
		return;
	/* Not up yet (connecting, or back after a loss): sent once its
	 * node has said what it knows (SYNCED), so that a call queued behind
	 * the ATTACH is never sent twice. */
	if (vm->host->state != HOST_UP)
		call_wait(c, NULL);
	else if (vm_moving(vm))
		call_wait(c, "the VM is moving");
	else
		call_send(c);
}

void
vm_fail_waiting_stdin(struct vm *vm, const char *why)
{
	g_autoptr(GList) calls = g_hash_table_get_values(vm->calls);
	GList *l;

	for (l = calls; l; l = l->next) {
		struct call *c = l->data;

		if (c->stdin_state == STDIN_OPEN && !c->any && !call_ended(c)) {
			g_clear_pointer(&c->argv, g_strfreev);
			call_set_state(c, CALL_FAILED, why);
			call_ended_now(c);
		}
	}
}

gboolean
call_cancel_unsent(struct call *c)
{
	if (any_cancel_queued(c))
		return TRUE;
	/* Sent: a .any call's VM call, a VM's call its node has. */
	if (call_ended(c) || c->real || c->any || (c->vm->host && c->sync_gen))
		return FALSE;
	if (!c->vm->host && c->stdin_state != STDIN_OPEN)
		return FALSE;
	g_clear_pointer(&c->argv, g_strfreev);
	call_set_state(c, CALL_CANCELLED, NULL);
	call_ended_now(c);
	return TRUE;
}

gboolean
call_ended(const struct call *c)
{
	return c->state >= CALL_DONE;
}

/* Everything that waits for a call's end hears of it: joins, pollers,
 * readers of .done, the .any call it ran for, its VM if draining. */
void
call_ended_now(struct call *c)
{
	/* Nothing more of its stdin to send. */
	feed_cancel(c->stdin_feed);
	c->stdin_feed = NULL;
	g_clear_pointer(&c->argv, g_strfreev);
	journal_end(c);
	c->vm->ended[c->state]++;
	cluster_emit(c->vm->fs, CL_CALL_ENDED, c->vm->host, c->vm, c, NULL);
	reap_ended(c);
}

void
vm_call_result(struct vm *vm, guint32 id, const guint8 *bytes, gsize len)
{
	struct call *c = vm_call(vm, id);

	if (!c || call_ended(c))
		return;
	g_clear_pointer(&c->result, g_bytes_unref);
	c->result = g_bytes_new(bytes, len);
}

void
vm_call_state(struct vm *vm, guint32 id, guint state, const char *detail,
	      int code, guint64 out, guint64 err)
{
	struct call *c = vm_call(vm, id);
	struct call *owner;
	g_autofree char *outcome = NULL;

	if (!c)
		return;
	c->sync_gen = vm->host->sync_gen;	/* the node knows it */
	if (call_ended(c)) {
		/* Told again after a reconnect or a remount: the sizes of
		 * its output (the journal does not keep them). */
		if (state == c->state) {
			call_saw_size(c, WIRE_STDOUT, out);
			call_saw_size(c, WIRE_STDERR, err);
		}
		return;
	}
	owner = c->any ? c->any : c;
	if (state >= CALL_DONE)
		outcome = state == CALL_DONE ? g_strdup("done")
			: g_strdup_printf("%s%s%s", wire_call_state_name(state),
					  *detail ? " " : "", detail);
	/* Taken back from a draining VM (anysched.c): elsewhere, no retry
	 * spent. */
	if (state == CALL_CANCELLED && c->withdrawn && c->any) {
		c->any->retries++;
		call_rerun(c, "taken back: its VM drains", FALSE);
		return;
	}
	/* Failed on its own, and asked to be retried for that too. */
	if (state == CALL_FAILED && owner->retry_failed && owner->retries) {
		call_rerun(c, outcome, TRUE);
		return;
	}
	call_set_state(c, state, detail);
	c->code = code;
	c->out_size = out;
	c->err_size = err;
	if (call_ended(c)) {
		call_attempt_end(owner, outcome);
		if (state == CALL_FAILED) {
			g_autofree char *m = g_strdup_printf(
				"calls/%u failed: %s", c->id, detail);

			g_message("%s: %s", vm->name, m);
			vm_set_error(vm, 0, m);
		}
		/* Kept only if it is the whole of a done call's output. */
		if (c->result && (state != CALL_DONE ||
				  g_bytes_get_size(c->result) != out))
			g_clear_pointer(&c->result, g_bytes_unref);
		call_ended_now(c);
	} else {
		cluster_emit(vm->fs, CL_CALL_CHANGED, vm->host, vm, c, NULL);
	}
}

void
vm_down(struct vm *vm, const char *why)
{
	g_autofree char *detail = g_strdup_printf("node down: %s", why);

	vm->state = VM_DOWN;
	g_free(vm->detail);
	vm->detail = g_strdup(why);
	/* Unmounting, the calls are not lost: a node keeping its session
	 * (-o keep) goes on with them, and a journal that said they had
	 * failed would make the next mount believe it. */
	if (!vm->fs->stopping)
		vm_lose_calls(vm, detail, FALSE);
}

struct call *
call_output(struct call *c)
{
	return c->real ? c->real : c;
}

/*
 * A read reached this far into a stream: its size is at least that.  The
 * node's size updates come every half second; without this a reader
 * that got ahead of them (tail -f) would see the file shrink.
 */
void
call_saw_size(struct call *c, guint stream, guint64 end)
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

void
call_hold(struct call *c)
{
	c->holds++;
}

void
call_release(struct call *c)
{
	struct vm *vm = call_output(c)->vm;

	g_assert(c->holds > 0);
	c->holds--;
	reap_released(c);	/* may free c */
	/* A leaving VM may go now. */
	cluster_emit(vm->fs, CL_VM_CHANGED, vm->host, vm, NULL, NULL);
}

gboolean
call_held(const struct call *c)
{
	return c->holds || (c->real && c->real->holds) ||
	       (c->any && c->any->holds);
}

/* Drop a call (and the other half of a .any call) from the tables. */
static void
call_drop(struct call *c)
{
	struct call *a = c->any ? c->any : c;
	struct call *real = a->real;
	struct host *h = real ? real->vm->host : NULL;

	if (call_held(a))
		return;		/* a read still holds it; it goes later */
	call_stdin_drop(a, TRUE);
	journal_forget(a);
	if (real) {
		journal_forget(real);
		g_hash_table_remove(real->vm->calls,
				    GUINT_TO_POINTER(real->id));
	}
	g_hash_table_remove(a->vm->calls, GUINT_TO_POINTER(a->id));
	/* Its node's output is forgotten: a leaving node may end. */
	if (h)
		cluster_emit(h->fs, CL_VM_CHANGED, h, NULL, NULL, NULL);
}

struct forget {
	struct vm *vm;
	guint32 id;
	void (*done)(void *data, int err);
	void *data;
};

static void
on_forgotten(void *data, int err, const char *msg, const guint8 *bytes,
	     gsize len)
{
	struct forget *f = data;
	struct call *c = vm_call(f->vm, f->id);

	/* Gone on the node, or the node is gone: either way forget it,
	 * and the .any call it ran for with it. */
	if (!err || err == ENOENT || err == EHOSTDOWN || err == EIO) {
		if (c)
			call_drop(c);
		err = 0;
	}
	f->done(f->data, err);
	g_free(f);
}

void
call_forget(struct call *c, void (*done)(void *data, int err), void *data)
{
	struct call *out = call_output(c);
	struct forget *f;

	/* A .any call never sent has nothing on a node. */
	if (!out->vm->host) {
		call_drop(c);
		done(data, 0);
		return;
	}
	f = g_new(struct forget, 1);
	f->vm = out->vm;
	f->id = out->id;
	f->done = done;
	f->data = data;
	host_request(out->vm->host, WIRE_FORGET, out->vm->index, 0,
		     g_variant_new_uint32(out->id), on_forgotten, f);
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
vm_forget_injected(struct vm *vm)
{
	g_autoptr(GList) all = g_hash_table_get_values(vm->injected_ids);
	GList *l;

	for (l = all; l; l = l->next) {
		struct injected *inj = l->data;

		if (inj->installed && !inj->writers) {
			g_warning("%s: its node lost the session: %s must be "
				  "injected again (.all/inject/ gives it back "
				  "what it installed)", vm->name, inj->name);
			vm_injected_remove(vm, inj);
		}
	}
	cluster_emit(vm->fs, CL_VM_CHANGED, vm->host, vm, NULL, NULL);
}

void
vm_injected_unref(struct vm *vm, struct injected *inj)
{
	/* A refused or abandoned first copy leaves no name behind. */
	if (--inj->writers == 0 && !inj->installed && !inj->held)
		vm_injected_remove(vm, inj);
	cluster_emit(vm->fs, CL_VM_CHANGED, vm->host, vm, NULL, NULL);
}

void
vm_count_calls(struct vm *vm, guint *queued, guint *running)
{
	GHashTableIter it;
	gpointer val;

	*queued = *running = 0;
	g_hash_table_iter_init(&it, vm->calls);
	while (g_hash_table_iter_next(&it, NULL, &val)) {
		guint st = ((struct call *)val)->state;

		*queued += st == CALL_QUEUED;
		*running += st == CALL_RUNNING;
	}
}

/* functions/NAME: the first line as before, then where it comes from,
 * that file's SHA-256 and what it hides. */
static gboolean func_entry(struct vm *vm, guint32 id, const char **name,
			   const char **origin, const char **doc,
			   const char **sum, const char **shadows);

char *
vm_func_text(struct vm *vm, guint32 id)
{
	const char *name, *origin, *doc, *sum, *shadows;
	GString *s;

	if (!func_entry(vm, id, &name, &origin, &doc, &sum, &shadows))
		return g_strdup("");
	s = g_string_new(NULL);
	g_string_append_printf(s, "%s: %s%s%s\n", name, origin,
			       *doc ? ": " : "", doc);
	g_string_append_printf(s, "source: %s\n",
			       strcmp(origin, "program") == 0 ? name : origin);
	if (*sum)
		g_string_append_printf(s, "sha256: %s\n", sum);
	if (*shadows)
		g_string_append_printf(s, "shadows: %s\n", shadows);
	return g_string_free(s, FALSE);
}

char *
vm_object_text(struct vm *vm, guint32 id)
{
	const char *cls, *desc;

	if (!vm_object(vm, id, &cls, &desc))
		return g_strdup("");
	/* Its own words if it has a describe callback, else what Python
	 * would print for an object without __str__. */
	if (*desc)
		return g_strdup_printf("%s\n", desc);
	return g_strdup_printf("<%s @%u>\n", cls, id);
}

/*
 * A VM's functions: funcs as its node sent them, an id per name that
 * stays the same while the mount lives (inode numbers: func_ids,
 * func_names), and where each id is in funcs now (func_at), so that a
 * name or an id is found in O(1), not by reading funcs again.
 */
void
vm_set_funcs(struct vm *vm, GVariant *funcs)
{
	GVariantIter it;
	const char *name;
	guint i = 0, id;

	g_clear_pointer(&vm->funcs, g_variant_unref);
	vm->funcs = g_variant_ref(funcs);
	vm->funcs_gen++;
	if (vm->func_at->len)
		memset(vm->func_at->data, 0,
		       vm->func_at->len * sizeof(guint));
	g_variant_iter_init(&it, funcs);
	while (g_variant_iter_next(&it, "(&s&s&s&s&s)", &name, NULL, NULL,
				   NULL, NULL)) {
		i++;
		id = GPOINTER_TO_UINT(g_hash_table_lookup(vm->func_ids, name));
		if (!id) {
			g_ptr_array_add(vm->func_names, g_strdup(name));
			id = vm->func_names->len;
			g_hash_table_insert(vm->func_ids,
					    vm->func_names->pdata[id - 1],
					    GUINT_TO_POINTER(id));
			g_array_set_size(vm->func_at, id);
		}
		/* A name told twice: the first is the one that runs. */
		if (!g_array_index(vm->func_at, guint, id - 1))
			g_array_index(vm->func_at, guint, id - 1) = i;
	}
}

guint32
vm_func_id(struct vm *vm, const char *name)
{
	guint32 id = GPOINTER_TO_UINT(g_hash_table_lookup(vm->func_ids, name));

	return id && g_array_index(vm->func_at, guint, id - 1) ? id : 0;
}

static gboolean
func_entry(struct vm *vm, guint32 id, const char **name, const char **origin,
	   const char **doc, const char **sum, const char **shadows)
{
	guint at;

	if (!vm->funcs || id == 0 || id > vm->func_at->len ||
	    !(at = g_array_index(vm->func_at, guint, id - 1)))
		return FALSE;
	g_variant_get_child(vm->funcs, at - 1, "(&s&s&s&s&s)", name, origin,
			    doc, sum, shadows);
	return TRUE;
}

gboolean
vm_func(struct vm *vm, guint32 id, const char **name, const char **origin,
	const char **doc)
{
	const char *n, *o, *d, *c, *h;

	if (!func_entry(vm, id, &n, &o, &d, &c, &h))
		return FALSE;
	if (name)
		*name = n;
	if (origin)
		*origin = o;
	if (doc)
		*doc = d;
	return TRUE;
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
