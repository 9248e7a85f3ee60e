/*
 * vmcalls.c - a VM's calls on the node side: their options and
 * environment, their queue, handing them to the worker one at a time in
 * order, their results, live output sizes, cancel, timeout and forget.
 *
 * A running call is stopped (cancelled, timed out, or its VM restarted)
 * by stopping its worker (vmnode_stop_worker).  The call ends with the
 * reason it was stopped for rather than the signal, and the worker comes
 * back as after a crash.  What the worker may say about the call in
 * between is ignored.
 *
 * A call's output is kept by callstore.c (no inode per call in the
 * common case); it stays after the call has ended, until forgotten.
 */
#include "vm_priv.h"
#include "fdio.h"
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TICK_MS 500			/* live output sizes */

enum stop_reason {
	STOP_NONE = 0,
	STOP_CANCEL,
	STOP_TIMEOUT,
	STOP_RESTART,
};

struct ncall {
	guint32 id;
	char **argv;			/* without the environment words */
	char **env;			/* NAME=VALUE for this call only */
	guint timeout_ms;		/* TRICKLE_TIMEOUT; 0: none */
	enum stop_reason stop;		/* why it is being stopped */
	GArray *cancels;		/* guint32 CANCEL tags to answer */
	gboolean setenv;		/* the built-in: record it if done */
	int stdin_fd;			/* TRICKLE_STDIN=1: calls/N/stdin, open
					   while its bytes come; -1 */
};

static void
ncall_free(struct ncall *c)
{
	g_strfreev(c->argv);
	g_strfreev(c->env);
	if (c->stdin_fd >= 0)
		close(c->stdin_fd);
	if (c->cancels)
		g_array_unref(c->cancels);
	g_free(c);
}

static void
send_result(struct vmnode *vm, guint32 id, guint64 size)
{
	guint8 buf[WIRE_RESULT_MAX];
	int err;
	gssize n = vmnode_call_pread(vm, id, WIRE_STDOUT, buf, sizeof(buf), 0,
				     &err);

	if (n == (gssize)size)
		vmnode_send_bytes(vm, WIRE_RESULT, id, buf, n);
}

/* The client hears of a call's new state; logged first if it ended,
 * unless its worker logged it. */
static void
tell_call_state(struct vmnode *vm, guint32 id, guint state, int code,
		const char *detail, gboolean logged)
{
	guint64 out, err;

	if (state >= CALL_DONE)
		cstore_end(vm, id, state, code, detail, logged,
			   vm->running && vm->running->id == id ?
			   vm->running->argv[0] : NULL);
	cstore_sizes(vm, id, &out, &err);
	/* A small result travels with the end, so the client has it even
	 * if this node is gone when it is read. */
	if (state == CALL_DONE && out > 0 && out <= WIRE_RESULT_MAX)
		send_result(vm, id, out);

	if (vm->running && vm->running->id == id) {
		vm->sent_out = out;
		vm->sent_err = err;
	}
	vmnode_send(vm, WIRE_CALL_STATE, id,
		    g_variant_new("(ysitt)", state, detail, code, out, err));
}

static void
send_call_state(struct vmnode *vm, guint32 id, guint state, int code,
		const char *detail)
{
	tell_call_state(vm, id, state, code, detail, FALSE);
}

/* Running. */

static gboolean
on_tick(gpointer data)
{
	struct vmnode *vm = data;
	struct ncall *c = vm->running;
	guint64 out, err;

	if (!c) {
		vm->tick_timer = 0;
		return G_SOURCE_REMOVE;
	}
	cstore_sizes(vm, c->id, &out, &err);
	if (out != vm->sent_out || err != vm->sent_err)
		send_call_state(vm, c->id, CALL_RUNNING, 0, "");
	return G_SOURCE_CONTINUE;
}

static gboolean
on_call_timeout(gpointer data)
{
	struct vmnode *vm = data;

	vm->call_timer = 0;
	if (vm->running && vm->running->stop == STOP_NONE) {
		g_message("vm%u: call %u timed out", vm->index,
			  vm->running->id);
		vm->running->stop = STOP_TIMEOUT;
		vmnode_stop_worker(vm);
	}
	return G_SOURCE_REMOVE;
}

/* Slots of the node's cores (vmhost.slot_*): a VM takes one to start a
 * call and keeps it while calls follow one another, unless others wait
 * for it. */

static gboolean
worker_ready(const struct vmnode *vm)
{
	return vm->ws && !vm->restart_pending && !vm->stopping &&
	       !vm->draining;
}

/* The first call in line that is not waiting for its stdin. */
static GList *
first_ready(struct vmnode *vm)
{
	GList *l;

	for (l = vm->queue.head; l; l = l->next)
		if (((struct ncall *)l->data)->stdin_fd < 0)
			return l;
	return NULL;
}

static void
give_slot(struct vmnode *vm, gboolean more)
{
	if (vm->has_slot)
		vm->has_slot = vm->host->slot_give(vm->host->data, vm->index,
						   more);
}

void
vmnode_slot_granted(struct vmnode *vm)
{
	vm->has_slot = TRUE;
	vmcalls_pump(vm);
}

static void finish_running(struct vmnode *vm, guint state, int code,
			   const char *detail, gboolean logged);

void
vmcalls_pump(struct vmnode *vm)
{
	struct ncall *c;
	g_autofree char *spec = NULL;
	g_autofree char *prog = NULL;
	g_autofree char *ended = NULL;

	GList *l;

	if (vm->running || !worker_ready(vm))
		return;
	/* A checkpoint or restore goes before the next call. */
	if (vmckpt_busy(vm)) {
		vmckpt_idle(vm);
		return;
	}
	l = first_ready(vm);
	if (!l) {
		/* A slot granted for a call cancelled meanwhile. */
		give_slot(vm, FALSE);
		return;
	}
	c = l->data;
	if (!vm->has_slot &&
	    !(vm->has_slot = vm->host->slot_take(vm->host->data, vm->index))) {
		if (vm->told_waiting != c->id) {
			g_autofree char *why =
				vm->host->slot_why(vm->host->data);

			vm->told_waiting = c->id;
			send_call_state(vm, c->id, CALL_QUEUED, 0, why);
		}
		return;
	}
	g_queue_delete_link(&vm->queue, l);
	vm->running = c;
	spec = cstore_spec(vm, c->id, c->argv[0]);
	if (!spec) {
		g_autofree char *d = g_strdup_printf("cannot make the call's "
			"output on the node: %s", g_strerror(errno));

		finish_running(vm, CALL_FAILED, -1, d, FALSE);
		vmcalls_pump(vm);
		return;
	}
	ended = g_build_filename(vm->dir, "ended", NULL);
	if (g_hash_table_contains(vm->programs, c->argv[0]))
		prog = g_build_filename(vm->inject_dir, c->argv[0], NULL);
	c->setenv = strcmp(c->argv[0], "setenv") == 0 &&
		    g_strcmp0(vmnode_func_origin(vm, "setenv"),
			      "built-in") == 0;
	vmnode_to_worker(vm, WIRE_W_RUN, c->id,
			 g_variant_new("(sss^as^as)", spec, ended,
				       prog ? prog : "",
				       c->argv, c->env));
	/* Its output starts empty (fresh or emptied memfds, or files the
	 * worker makes): no need to ask their sizes. */
	vm->sent_out = vm->sent_err = 0;
	vmnode_send(vm, WIRE_CALL_STATE, c->id,
		    g_variant_new("(ysitt)", CALL_RUNNING, "", 0, 0, 0));
	if (c->timeout_ms)
		vm->call_timer = g_timeout_add(c->timeout_ms, on_call_timeout,
					       vm);
	vm->tick_timer = g_timeout_add(TICK_MS, on_tick, vm);
}

/* Ending. */

/* A setenv built-in that succeeded: the next worker gets it too. */
static void
record_setenv(struct vmnode *vm, char **argv)
{
	g_autofree char *value = NULL;
	gsize n;
	guint i;

	if (!argv[1])
		return;
	value = g_strjoinv(" ", argv + 2);
	n = strlen(argv[1]);
	for (i = 0; i < vm->env->len; i++) {
		const char *e = vm->env->pdata[i];

		if (strncmp(e, argv[1], n) == 0 && e[n] == '=') {
			g_ptr_array_remove_index(vm->env, i);
			break;
		}
	}
	g_ptr_array_add(vm->env, g_strdup_printf("%s=%s", argv[1], value));
}

/* logged: its worker logged its end (it returned there). */
static void
finish_running(struct vmnode *vm, guint state, int code, const char *detail,
	       gboolean logged)
{
	struct ncall *c = vm->running;

	if (!c)
		return;
	if (vm->call_timer)
		g_source_remove(vm->call_timer);
	if (vm->tick_timer)
		g_source_remove(vm->tick_timer);
	vm->call_timer = vm->tick_timer = 0;
	if (state == CALL_DONE && c->setenv)
		record_setenv(vm, c->argv);
	tell_call_state(vm, c->id, state, code, detail, logged);
	vm->running = NULL;
	give_slot(vm, worker_ready(vm) && first_ready(vm));
	if (c->cancels)
		vmnode_reply_all(vm, c->cancels, 0, "");
	ncall_free(c);
}

gboolean
vmcalls_done(struct vmnode *vm, guint32 id, GVariant *body)
{
	const char *detail;
	guint8 state;
	int code;
	gboolean logged;

	if (!vm->running || vm->running->id != id) {
		g_warning("vm%u: result for call %u not running",
			  vm->index, id);
		return FALSE;
	}
	if (vm->running->stop != STOP_NONE)
		return FALSE;	/* too late: it ends when the worker does */
	g_variant_get(body, "(yi&sb)", &state, &code, &detail, &logged);
	finish_running(vm, state == CALL_DONE ? CALL_DONE : CALL_FAILED,
		       code, detail,
		       logged && (state == CALL_DONE || state == CALL_FAILED));
	return TRUE;
}

/* The state, exit code and detail a stopped call ends with. */
static void
stopped_state(enum stop_reason why, guint *state, const char **detail)
{
	switch (why) {
	case STOP_CANCEL:
		*state = CALL_CANCELLED;
		*detail = "";
		break;
	case STOP_TIMEOUT:
		*state = CALL_FAILED;
		*detail = "timeout";
		break;
	default:
		*state = CALL_FAILED;
		*detail = "restarted";
		break;
	}
}

void
vmcalls_worker_ended(struct vmnode *vm, int status, const char *why)
{
	if (vm->running && vm->running->stop != STOP_NONE) {
		guint state;
		const char *detail;

		stopped_state(vm->running->stop, &state, &detail);
		finish_running(vm, state, -1, detail, FALSE);
	} else {
		finish_running(vm, CALL_FAILED,
			       WIFSIGNALED(status) ? 128 + WTERMSIG(status)
						   : WEXITSTATUS(status), why, FALSE);
	}
}

void
vmcalls_restarting(struct vmnode *vm)
{
	if (vm->running && vm->running->stop == STOP_NONE)
		vm->running->stop = STOP_RESTART;
}

void
vmcalls_clear(struct vmnode *vm)
{
	if (vm->call_timer)
		g_source_remove(vm->call_timer);
	if (vm->tick_timer)
		g_source_remove(vm->tick_timer);
	vm->call_timer = vm->tick_timer = 0;
	if (vm->running)
		ncall_free(vm->running);
	vm->running = NULL;
	g_queue_clear_full(&vm->queue, (GDestroyNotify)ncall_free);
	vm->host->slot_drop(vm->host->data, vm->index);
	vm->has_slot = FALSE;
	cstore_free(vm);
}

/* Queueing. */

/*
 * Take the leading NAME=VALUE words off argv into c->env, and the
 * TRICKLE_ ones, the call's options, into c.  FALSE with why if an
 * option is unknown or its value is not valid.
 */
static gboolean
parse_call(struct ncall *c, char **argv, char **why)
{
	g_autoptr(GPtrArray) env = g_ptr_array_new_with_free_func(g_free);
	char **a;

	for (a = argv; *a && wire_is_assignment(*a); a++) {
		const char *value = strchr(*a, '=') + 1;

		if (!g_str_has_prefix(*a, "TRICKLE_")) {
			g_ptr_array_add(env, g_strdup(*a));
		} else if (g_str_has_prefix(*a, "TRICKLE_TIMEOUT=")) {
			char *end = NULL;
			double s = g_ascii_strtod(value, &end);

			if (end == value || *end || !isfinite(s) || s < 0) {
				*why = g_strdup_printf("bad call option %s "
					"(seconds wanted)", *a);
				return FALSE;
			}
			/* 0: no time limit, as with timeout(1). */
			c->timeout_ms = s == 0 ? 0
				: (guint)MIN(MAX(ceil(s * 1000), 1), G_MAXINT);
		} else if (g_str_has_prefix(*a, "TRICKLE_STDIN=")) {
			if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0) {
				*why = g_strdup_printf("bad call option %s "
					"(0 or 1 wanted)", *a);
				return FALSE;
			}
			/* -2: wanted, opened by vmnode_call */
			c->stdin_fd = *value == '1' ? -2 : -1;
		} else if (g_str_has_prefix(*a, "TRICKLE_VM=") ||
			   g_str_has_prefix(*a, "TRICKLE_WORKDIR=")) {
			/* The VM's name, from the client; the directory the
			 * call runs in: the worker takes them. */
			g_ptr_array_add(env, g_strdup(*a));
		} else if (g_str_has_prefix(*a, "TRICKLE_MEMORY=") ||
			   g_str_has_prefix(*a, "TRICKLE_CPU=")) {
			/* Limits the worker sets while the call runs: bytes
			 * with K, M or G, or whole CPU seconds; 0 for none.
			 * It gets them as environment words, in plain
			 * numbers, and takes them out of the call's
			 * environment. */
			static const char units[] = "KMG";
			gboolean mem = (*a)[8] == 'M';
			const char *u = NULL;
			char *end = NULL;
			guint64 n = g_ascii_isdigit(*value) ?
				    g_ascii_strtoull(value, &end, 10) : 0;
			guint shift = 0;

			if (mem && end && *end && !end[1] &&
			    (u = strchr(units, g_ascii_toupper(*end))))
				shift = 10 * (guint)(u - units + 1);
			if (!end || (*end && !u) ||
			    n > (mem ? G_MAXUINT64 >> shift : G_MAXUINT)) {
				*why = g_strdup_printf("bad call option %s (%s "
					"wanted)", *a, mem ? "bytes, or a number "
					"with K, M or G" : "whole seconds");
				return FALSE;
			}
			if (n)
				g_ptr_array_add(env, g_strdup_printf(
					"%.*s%" G_GUINT64_FORMAT,
					(int)(value - *a), *a, n << shift));
		} else {
			*why = g_strdup_printf("unknown call option %.*s",
					       (int)(value - 1 - *a), *a);
			return FALSE;
		}
	}
	g_ptr_array_add(env, NULL);
	c->env = (char **)g_ptr_array_free(g_steal_pointer(&env), FALSE);
	c->argv = g_strdupv(a);
	return TRUE;
}

void
vmnode_call(struct vmnode *vm, guint32 id, char **argv)
{
	g_autofree char *why = NULL;
	struct ncall *c;
	int made;

	/* Reading a queued call's stdout gives nothing rather than an
	 * error.  A call the client sends again (its last run was lost, or
	 * failed and is retried) starts from nothing, and its earlier end
	 * no longer counts. */
	if ((made = cstore_add(vm, id))) {
		g_warning("vm%u: call %u: cannot clear its last run: %s",
			  vm->index, id, g_strerror(made));
		send_call_state(vm, id, CALL_FAILED, -1, "cannot clear the "
				"call's last run on the node");
		return;
	}
	c = g_new0(struct ncall, 1);
	c->id = id;
	c->stdin_fd = -1;
	if (!parse_call(c, argv, &why) || !c->argv[0]) {
		send_call_state(vm, id, CALL_FAILED, -1,
				why ? why : "empty call");
		ncall_free(c);
		return;
	}
	/* Its stdin follows in STDIN frames, up to an empty one; it waits
	 * in line until then. */
	if (c->stdin_fd == -2) {
		g_autofree char *p = cstore_stdin_path(vm, id);

		c->stdin_fd = !p ? -1 : open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				   0600);
		if (c->stdin_fd < 0) {
			g_autofree char *d = g_strdup_printf(
				"cannot create the call's stdin on the node: "
				"%s", g_strerror(errno));

			send_call_state(vm, id, CALL_FAILED, -1, d);
			ncall_free(c);
			return;
		}
	}
	g_queue_push_tail(&vm->queue, c);
	vmcalls_pump(vm);
}

/* Cancel and forget. */

static gint
has_id(gconstpointer call, gconstpointer id)
{
	return ((const struct ncall *)call)->id != GPOINTER_TO_UINT(id);
}

static gboolean
call_exists(struct vmnode *vm, guint32 id)
{
	return cstore_known(vm, id);
}

void
vmnode_stdin(struct vmnode *vm, guint32 id, const guint8 *bytes, gsize len)
{
	GList *l = g_queue_find_custom(&vm->queue, GUINT_TO_POINTER(id),
				       has_id);
	struct ncall *c = l ? l->data : NULL;

	if (!c || c->stdin_fd < 0) {
		g_warning("vm%u: stdin for call %u, which is not waiting for "
			  "it", vm->index, id);
		return;
	}
	if (len && fdio_write_all(c->stdin_fd, bytes, len) < 0) {
		g_autofree char *d = g_strdup_printf("cannot write the call's "
			"stdin on the node: %s", g_strerror(errno));

		g_queue_delete_link(&vm->queue, l);
		send_call_state(vm, id, CALL_FAILED, -1, d);
		ncall_free(c);
		return;
	}
	if (len)
		return;
	close(c->stdin_fd);
	c->stdin_fd = -1;
	vmcalls_pump(vm);
}

void
vmnode_cancel(struct vmnode *vm, guint32 tag, guint32 id)
{
	GList *l = g_queue_find_custom(&vm->queue, GUINT_TO_POINTER(id),
				       has_id);
	struct ncall *c;

	if (l) {
		c = l->data;
		g_queue_delete_link(&vm->queue, l);
		send_call_state(vm, id, CALL_CANCELLED, -1, "");
		ncall_free(c);
		vmnode_reply(vm, tag, 0, "");
		return;
	}
	c = vm->running;
	if (c && c->id == id) {
		/* Answered once it has ended, after its CALL_STATE. */
		if (!c->cancels)
			c->cancels = g_array_new(FALSE, FALSE,
						 sizeof(guint32));
		g_array_append_val(c->cancels, tag);
		if (c->stop == STOP_NONE) {
			g_message("vm%u: cancelling call %u", vm->index, id);
			c->stop = STOP_CANCEL;
		}
		vmnode_stop_worker(vm);
		return;
	}
	if (call_exists(vm, id))
		vmnode_reply(vm, tag, EALREADY, "the call has already ended");
	else
		vmnode_reply(vm, tag, ENOENT, "no such call");
}

int
vmnode_forget(struct vmnode *vm, guint32 id, const char **why)
{
	int err;

	if ((vm->running && vm->running->id == id) ||
	    g_queue_find_custom(&vm->queue, GUINT_TO_POINTER(id), has_id)) {
		*why = "the call has not ended";
		return EBUSY;
	}
	err = cstore_forget(vm, id);
	*why = err == ENOENT ? "no such call"
	     : err ? "cannot remove the call's files" : "";
	return err;
}

/* Resuming. */

static void
resend_state(struct vmnode *vm, guint32 id, guint state, int code,
	     const char *detail)
{
	guint64 out, err;

	cstore_sizes(vm, id, &out, &err);
	vmnode_send(vm, WIRE_CALL_STATE, id,
		    g_variant_new("(ysitt)", state, detail, code, out, err));
}

guint
vmcalls_resync(struct vmnode *vm)
{
	GList *ids, *l, *next;
	guint n = 0;

	/* A call whose stdin was still coming lost the rest with the link:
	 * it is not told, so the client sends it again, whole. */
	for (l = vm->queue.head; l; l = next) {
		next = l->next;
		if (((struct ncall *)l->data)->stdin_fd >= 0) {
			ncall_free(l->data);
			g_queue_delete_link(&vm->queue, l);
		}
	}
	/* A call that neither ended nor is here was cut off with the
	 * process that ran it (an adopted session's log has no end for
	 * it): it is not told, so the client takes it as lost. */
	ids = cstore_ids(vm);
	for (l = ids; l; l = l->next) {
		guint32 id = GPOINTER_TO_UINT(l->data);
		guint state;
		int code;
		const char *detail;

		if (vm->running && vm->running->id == id) {
			resend_state(vm, id, CALL_RUNNING, 0, "");
		} else if (g_queue_find_custom(&vm->queue,
					       GUINT_TO_POINTER(id), has_id)) {
			resend_state(vm, id, CALL_QUEUED, 0, "");
		} else if (cstore_ended(vm, id, &state, &code, &detail)) {
			resend_state(vm, id, state, code, detail);
		} else {
			continue;
		}
		n++;
	}
	g_list_free(ids);
	return n;
}
