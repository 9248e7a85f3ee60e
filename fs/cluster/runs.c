/*
 * runs.c - the runs of a call: its attempts (the attempts file), the
 * mount's own call options (TRICKLE_RETRIES, TRICKLE_RETRIES_ON_FAILURE),
 * and what becomes of a run that was lost with its node, or failed and
 * may be retried: a .any call goes back to .any's queue, a VM's own call
 * is sent to its VM again (the same id), while retries last.
 *
 * A run is lost when the node that had it says, once reconnected, that
 * it does not know it (its process died with it, or it never arrived),
 * when the node stays unreachable for a whole lease (it ends the session
 * after that long, so the run cannot go on unseen), or when the node is
 * down for good.
 */
#include "cluster.h"

#include <string.h>

static void
attempt_free(struct attempt *a)
{
	g_free(a->vm);
	g_free(a->node);
	g_free(a->outcome);
	g_free(a);
}


/* The call whose attempts a call shows: a VM's call serving .any shows
 * the .any call's. */
static const struct call *
attempts_owner(const struct call *c)
{
	return c->any ? c->any : c;
}

static char *
time_text(gint64 t)
{
	g_autoptr(GDateTime) d = g_date_time_new_from_unix_local(
		t / G_USEC_PER_SEC);
	g_autofree char *s = d ? g_date_time_format(d, "%FT%T") : NULL;

	return g_strdup_printf("%s.%03d", s ? s : "?",
			       (int)(t % G_USEC_PER_SEC / 1000));
}

char *
call_attempts_text(const struct call *c)
{
	const struct call *o = attempts_owner(c);
	GString *s = g_string_new(NULL);
	guint i;

	for (i = 0; o->attempts && i < o->attempts->len; i++) {
		const struct attempt *a = o->attempts->pdata[i];
		g_autofree char *start = time_text(a->start);
		g_autofree char *end = a->end ? time_text(a->end)
					      : g_strdup("-");

		g_string_append_printf(s, "%u %s %s %s %s %s\n", i + 1, a->vm,
				       a->node, start, end,
				       a->outcome ? a->outcome : "running");
	}
	return g_string_free(s, FALSE);
}

void
call_attempt_add(struct call *c, const char *vm, const char *node,
		 gint64 start)
{
	struct attempt *a = g_new0(struct attempt, 1);

	if (!c->attempts)
		c->attempts = g_ptr_array_new_with_free_func(
			(GDestroyNotify)attempt_free);
	a->vm = g_strdup(vm);
	a->node = g_strdup(node);
	a->start = start;
	g_ptr_array_add(c->attempts, a);
}

void
call_attempt_close(struct call *c, gint64 end, const char *outcome)
{
	struct attempt *a;

	if (!c->attempts || !c->attempts->len)
		return;
	a = c->attempts->pdata[c->attempts->len - 1];
	if (a->end)
		return;
	a->end = end;
	a->outcome = g_strdup(outcome);
}

void
call_attempt_start(struct call *c, struct vm *vm)
{
	call_attempt_add(c, vm->name, vm->host ? vm->host->label : "-",
			 g_get_real_time());
	journal_attempt(c);
}

void
call_attempt_end(struct call *c, const char *outcome)
{
	struct attempt *a;

	if (!c->attempts || !c->attempts->len)
		return;
	a = c->attempts->pdata[c->attempts->len - 1];
	if (a->end)
		return;
	call_attempt_close(c, g_get_real_time(), outcome);
	journal_attempt(c);
}

/*
 * The call options the mount itself takes off a line: TRICKLE_RETRIES=N
 * (lost runs it may have again), TRICKLE_RETRIES_ON_FAILURE=1 (runs
 * that fail count too) and TRICKLE_STDIN=1 (it waits for calls/N/stdin:
 * callin.c).  The words left, or NULL and why.
 */
char **
call_options(struct call *c, char **argv, char **why)
{
	g_autoptr(GPtrArray) v = g_ptr_array_new_with_free_func(g_free);
	gboolean leading = TRUE;

	c->retries = c->vm->fs->opt.retries;
	for (; *argv; argv++) {
		const char *w = *argv;
		guint64 n;
		char *end;

		/* Leading NAME=VALUE words, NAME as in a shell: the node's
		 * rule for where a call's options end (vmcalls.c). */
		leading = leading && wire_is_assignment(w);
		if (leading && g_str_has_prefix(w, "TRICKLE_RETRIES=")) {
			w += strlen("TRICKLE_RETRIES=");
			n = g_ascii_strtoull(w, &end, 10);
			if (!*w || *end || n > 100) {
				*why = g_strdup_printf("bad call option %s "
					"(a count of at most 100 wanted)",
					*argv);
				return NULL;
			}
			c->retries = n;
			continue;
		}
		if (leading && g_str_has_prefix(w, "TRICKLE_STDIN=")) {
			w += strlen("TRICKLE_STDIN=");
			if (strcmp(w, "0") != 0 && strcmp(w, "1") != 0) {
				*why = g_strdup_printf("bad call option %s "
					"(0 or 1 wanted)", *argv);
				return NULL;
			}
			c->stdin_state = *w == '1' ? STDIN_OPEN : STDIN_NONE;
			continue;
		}
		if (leading &&
		    g_str_has_prefix(w, "TRICKLE_RETRIES_ON_FAILURE=")) {
			w += strlen("TRICKLE_RETRIES_ON_FAILURE=");
			if (strcmp(w, "0") != 0 && strcmp(w, "1") != 0) {
				*why = g_strdup_printf("bad call option %s "
					"(0 or 1 wanted)", *argv);
				return NULL;
			}
			c->retry_failed = *w == '1';
			continue;
		}
		g_ptr_array_add(v, g_strdup(*argv));
	}
	g_ptr_array_add(v, NULL);
	return (char **)g_ptr_array_free(g_steal_pointer(&v), FALSE);
}


void
vm_send_waiting(struct vm *vm)
{
	g_autoptr(GList) calls = g_hash_table_get_values(vm->calls);
	GList *l;

	calls = g_list_sort(calls, (GCompareFunc)call_cmp_id);
	for (l = calls; l; l = l->next) {
		struct call *c = l->data;

		if (!c->sync_gen && !call_ended(c) && c->argv && !c->any &&
		    c->stdin_state != STDIN_OPEN &&
		    vm->host->state == HOST_UP) {
			call_set_state(c, CALL_QUEUED, NULL);
			call_send(c);
		}
	}
}

/*
 * c's run ended without the result the user wants (outcome: it was lost,
 * or failed and may be retried): run it again while it may.  A .any call
 * goes back to .any's queue, and its VM's call, only an attempt, is
 * forgotten; a VM's own call is sent again, with the same id, to its VM
 * (now if its node is up, else when it is back if may_wait).
 */
void
call_rerun(struct call *c, const char *outcome, gboolean may_wait)
{
	struct call *a = c->any;
	struct vm *vm = c->vm;
	struct host *h = vm->host;
	g_autofree char *detail = NULL;

	if (a) {
		call_attempt_end(a, outcome);
		vm->any_load--;
		a->real = NULL;
		c->any = NULL;
		call_set_state(c, CALL_FAILED, outcome);
		if (c->holds) {
			call_ended_now(c);	/* read through VM/calls/N */
		} else {
			if (h->state == HOST_UP)
				host_request(h, WIRE_FORGET, vm->index, 0,
					     g_variant_new_uint32(c->id),
					     host_no_answer, NULL);
			journal_forget(c);
			g_hash_table_remove(vm->calls,
					    GUINT_TO_POINTER(c->id));
		}
		any_run_again(a, outcome);
		cluster_emit(vm->fs, CL_VM_CHANGED, h, vm, NULL, NULL);
		return;
	}
	call_attempt_end(c, outcome);
	if (c->retries > 0 && c->argv && h->state == HOST_UP) {
		c->retries--;
		g_message("%s/calls/%u: %s; running it again", vm->name, c->id,
			  outcome);
		call_send(c);
		cluster_emit(vm->fs, CL_CALL_CHANGED, h, vm, c, NULL);
		return;
	}
	if (c->retries > 0 && c->argv && may_wait &&
	    h->state == HOST_RECONNECTING) {
		c->retries--;
		call_wait(c, outcome);
		cluster_emit(vm->fs, CL_CALL_CHANGED, h, vm, c, NULL);
		return;
	}
	detail = c->retries ? g_strdup(outcome)
			    : g_strdup_printf("%s (no retries left)", outcome);
	g_message("%s/calls/%u: %s", vm->name, c->id, detail);
	call_set_state(c, CALL_FAILED, detail);
	call_ended_now(c);
}

void
call_lost(struct call *c, const char *why, gboolean may_wait)
{
	g_autofree char *outcome = g_strdup_printf("lost: %s", why);

	if (call_ended(c))
		return;
	if (c->sync_gen == 0 && !c->any) {
		/* Never sent: it waited for a node that did not come back
		 * in time. */
		call_set_state(c, CALL_FAILED, outcome);
		call_ended_now(c);
		return;
	}
	call_rerun(c, outcome, may_wait);
}


gint
call_cmp_id(const struct call *a, const struct call *b)
{
	return (a->id > b->id) - (a->id < b->id);
}

void
vm_lose_calls(struct vm *vm, const char *why, gboolean only_unknown)
{
	g_autoptr(GList) calls = g_hash_table_get_values(vm->calls);
	g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(guint32));
	guint i;

	/* By id, in the order they were forked; looked up again each time,
	 * as running one again may forget another. */
	calls = g_list_sort(calls, (GCompareFunc)call_cmp_id);
	for (GList *l = calls; l; l = l->next) {
		struct call *c = l->data;

		if (call_ended(c))
			continue;
		if (only_unknown && (c->sync_gen == 0 ||
				     c->sync_gen == vm->host->sync_gen))
			continue;
		g_array_append_val(ids, c->id);
	}
	for (i = 0; i < ids->len; i++) {
		struct call *c = vm_call(vm, g_array_index(ids, guint32, i));

		if (c)
			call_lost(c, why, only_unknown);
	}
}

