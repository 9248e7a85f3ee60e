/*
 * host.c - the session with one trickle-node: frames out, frames in,
 * requests waiting for answers, liveness.  What the node says about VMs
 * and calls goes, decoded, to the host's struct host_events (cluster.c);
 * this file knows frames, not what they mean to the mount.
 *
 * Every request to a node has a deadline, and a node that stops answering
 * pings is declared unreachable: whatever the node does, nothing waits on
 * it without bound.  An unreachable host's pending requests fail at once,
 * and it is reconnected with back-off (1, 2, 4 ... 30 s): the ATTACH names
 * the same session, so the node (the live trickle-node, or a new one that
 * adopts the dead one's files) tells what became of every call, and the
 * calls it does not know are lost.  Unreachable for a whole lease, its
 * calls are lost anyway: the node ends a session after that long.  A host
 * is down for good only when it is ended, or reconnecting is off.
 */
#include "cluster.h"

#include <errno.h>
#include <string.h>

struct request {
	struct host *h;
	guint32 tag;
	guint timer;
	request_done_fn done;
	void *data;
};

static void host_down(struct host *h, const char *why);
static void host_lost(struct host *h, const char *why);
static void drop_link(struct host *h, const char *why, int err);
static void new_session_id(struct host *h);

guint32
host_next_tag(struct host *h)
{
	if (++h->next_tag == 0)
		h->next_tag = 1;
	return h->next_tag;
}

gboolean
host_send(struct host *h, guint type, guint vm, guint32 tag, GVariant *body)
{
	g_byte_array_set_size(h->frame, 0);
	if (!wire_encode(h->frame, type, vm, tag, body))
		return FALSE;
	if (!h->link)
		return TRUE;	/* down: the caller hears through host_down */
	h->bytes_out += h->frame->len;
	link_write(h->link, h->frame->data, h->frame->len);
	return TRUE;
}

void
host_send_bytes(struct host *h, guint type, guint vm, guint32 tag,
		const void *data, gsize len)
{
	if (!h->link)
		return;
	g_byte_array_set_size(h->frame, 0);
	wire_encode_bytes(h->frame, type, vm, tag, data, len);
	h->bytes_out += h->frame->len;
	link_write(h->link, h->frame->data, h->frame->len);
}

static void
request_finish(struct request *r, int err, const char *msg,
	       const guint8 *bytes, gsize len)
{
	g_hash_table_steal(r->h->requests, GUINT_TO_POINTER(r->tag));
	if (r->timer)
		g_source_remove(r->timer);
	r->done(r->data, err, msg, bytes, len);
	g_free(r);
}

static gboolean
request_timeout(gpointer data)
{
	struct request *r = data;
	g_autofree char *msg = g_strdup_printf("no reply from %s in %d s",
		r->h->label, r->h->fs->opt.reply_timeout);

	r->timer = 0;
	g_warning("%s", msg);
	host_set_error(r->h, ETIMEDOUT, msg);
	request_finish(r, ETIMEDOUT, msg, NULL, 0);
	return G_SOURCE_REMOVE;
}

void
host_no_answer(void *data, int err, const char *msg, const guint8 *bytes,
	       gsize len)
{
}

guint32
host_request(struct host *h, guint type, guint vm, guint32 tag,
	     GVariant *body, request_done_fn done, void *data)
{
	struct request *r;

	if (h->state == HOST_DOWN || h->state == HOST_RECONNECTING) {
		if (body)
			g_variant_unref(g_variant_ref_sink(body));
		done(data, h->state == HOST_DOWN ? EHOSTDOWN : EHOSTUNREACH,
		     h->down_reason, NULL, 0);
		return 0;
	}
	r = g_new0(struct request, 1);
	r->h = h;
	r->tag = tag ? tag : host_next_tag(h);
	r->done = done;
	r->data = data;
	r->timer = g_timeout_add_seconds(h->fs->opt.reply_timeout,
					 request_timeout, r);
	g_hash_table_insert(h->requests, GUINT_TO_POINTER(r->tag), r);
	/* A body too big for a frame never leaves: say so now rather than
	 * after the timeout. */
	if (!host_send(h, type, vm, r->tag, body))
		request_finish(r, EMSGSIZE, "request too large for the wire",
			       NULL, 0);
	return r->tag;
}

gboolean
host_throttled(const struct host *h)
{
	return h->link && h->link->throttled;
}

gsize
host_pending(const struct host *h)
{
	return h->link ? link_pending(h->link) : 0;
}

static struct vm *
msg_vm(struct host *h, const struct wire_msg *m)
{
	if (m->vm >= h->vms->len) {
		g_warning("%s: %s for VM %u of %u", h->label,
			  wire_type_name(m->type), m->vm, h->vms->len);
		return NULL;
	}
	return h->vms->pdata[m->vm];
}

static void
dispatch(struct host *h, struct wire_msg *m)
{
	struct request *r;
	struct vm *vm;
	const char *s;
	guint32 u, pid;
	guint8 state;
	guint64 out, err;
	int code;
	gsize len;

	switch (m->type) {
	case WIRE_WELCOME:
		if (strcmp(h->attached, h->session) != 0) {
			/* Asked for before the lease ran out, answered
			 * after: its calls were given up (and run
			 * elsewhere).  End that session, start ours. */
			host_send(h, WIRE_SHUTDOWN, 0, 0, NULL);
			host_lost(h, "the node kept a session that was "
				  "given up; ended it");
			break;
		}
		g_variant_get(m->body, "(u&suu)", &u, &s, &h->cores, &pid);
		g_free(h->node_name);
		h->node_name = g_strdup(s);
		h->state = HOST_UP;
		h->was_up = TRUE;
		h->sync_gen++;
		h->attempt = 0;
		h->lost_since = 0;
		h->lease_out = FALSE;
		if (h->lease_timer)
			g_source_remove(h->lease_timer);
		h->lease_timer = 0;
		g_message("%s: trickle-node %s on %s (pid %u, %u cores)",
			  h->label, h->back ? "back" : "up", s, pid, h->cores);
		h->ev->up(h);
		break;
	case WIRE_SYNCED: {
		gboolean resumed, back = h->back;

		g_variant_get(m->body, "(bu)", &resumed, &u);
		h->back = FALSE;
		if (back)
			g_message("%s: session %s (%u calls known)", h->label,
				  resumed ? "resumed" : "lost: started anew",
				  u);
		h->ev->synced(h, resumed, back);
		break;
	}
	case WIRE_VM_STATE:
		if (!(vm = msg_vm(h, m)))
			break;
		g_variant_get(m->body, "(yu&s)", &state, &pid, &s);
		h->ev->vm_state(h, vm, state < VM_STATE_MAX ? state : VM_DOWN,
				pid, s);
		break;
	case WIRE_CALL_STATE:
		if (!(vm = msg_vm(h, m)))
			break;
		g_variant_get(m->body, "(y&sitt)", &state, &s, &code, &out,
			      &err);
		if (state >= CALL_STATE_MAX)
			state = CALL_FAILED;
		h->ev->call_state(h, vm, m->tag, state, s, code, out, err);
		break;
	case WIRE_FUNCS:
		if ((vm = msg_vm(h, m)))
			h->ev->funcs(h, vm, m->body);
		break;
	case WIRE_RESULT: {
		const guint8 *b = wire_msg_bytes(m, &len);

		if ((vm = msg_vm(h, m)) && len <= WIRE_RESULT_MAX)
			h->ev->result(h, vm, m->tag, b, len);
		break;
	}
	case WIRE_OBJECTS:
		if ((vm = msg_vm(h, m)))
			h->ev->objects(h, vm, m->body);
		break;
	case WIRE_REPLY:
	case WIRE_DATA:
	case WIRE_STAT:
	case WIRE_LIST:
	case WIRE_TEXT:
		r = g_hash_table_lookup(h->requests, GUINT_TO_POINTER(m->tag));
		if (!r && m->type == WIRE_REPLY && m->tag == 0 &&
		    h->state != HOST_UP) {
			/* The node's answer to our ATTACH: it refuses. */
			g_variant_get(m->body, "(i&s)", &code, &s);
			host_set_error(h, errno_from_node(code), s);
			host_lost(h, s);
			break;
		}
		if (!r) {
			g_debug("%s: late %s %u", h->label,
				wire_type_name(m->type), m->tag);
			break;
		}
		if (m->type == WIRE_DATA) {
			const guint8 *b = wire_msg_bytes(m, &len);
			request_finish(r, 0, NULL, b, len);
		} else if (m->type == WIRE_TEXT) {
			s = g_variant_get_string(m->body, &len);
			request_finish(r, 0, NULL, (const guint8 *)s, len);
		} else if (m->type != WIRE_REPLY) {
			/* The body, serialized: see request_done_fn. */
			request_finish(r, 0, wire_type_name(m->type),
				       g_variant_get_data(m->body),
				       g_variant_get_size(m->body));
		} else {
			g_variant_get(m->body, "(i&s)", &code, &s);
			request_finish(r, errno_from_node(code), s, NULL, 0);
		}
		break;
	case WIRE_SHARE: {
		struct host_share *sh = &h->share;
		gboolean shared;

		g_variant_get(m->body, "(buuuuu)", &shared, &sh->clients,
			      &sh->users, &sh->held, &sh->budget,
			      &sh->waiting);
		sh->shared = shared;
		sh->known = TRUE;
		h->ev->share(h);
		break;
	}
	case WIRE_PONG:
		break;
	case WIRE_LOG:
		g_variant_get(m->body, "(u&s)", &u, &s);
		g_message("%s: %s", h->label, s);
		break;
	default:
		g_warning("%s: unexpected %s", h->label,
			  wire_type_name(m->type));
	}
}

static void
on_up(void *user, const char *what)
{
	struct host *h = user;

	g_message("%s: connected: %s", h->label, what);
}

static void
on_data(void *user, const guint8 *data, gsize len)
{
	struct host *h = user;
	struct link *l = h->link;
	g_autoptr(GError) error = NULL;
	struct wire_msg m;
	int r;

	h->last_heard = g_get_monotonic_time();
	h->bytes_in += len;
	wire_decoder_feed(&h->dec, data, len);
	/* Until the link is let go of: what follows is not ours. */
	while (h->state != HOST_DOWN && h->link == l &&
	       (r = wire_decoder_next(&h->dec, &m, &error)) == 1) {
		dispatch(h, &m);
		wire_msg_clear(&m);
	}
	if (error) {
		/* Before WELCOME: text where a frame should be is a banner
		 * of the node's shell, not a protocol error. */
		gsize rest_len;
		const guint8 *rest = wire_decoder_rest(&h->dec, &rest_len);
		g_autofree char *banner = h->state == HOST_UP ? NULL :
			host_banner_error(rest, rest_len);
		g_autofree char *why = banner ? g_steal_pointer(&banner) :
			g_strdup_printf("protocol error: %s", error->message);

		host_set_error(h, EPROTO, why);
		host_down(h, why);
	}
}

void
host_feed(struct host *h, const guint8 *data, gsize len)
{
	on_data(h, data, len);
}

static void
on_log(void *user, const char *line)
{
	struct host *h = user;

	g_message("%s: %s", h->label, line);
}

static void
on_drained(void *user)
{
	struct host *h = user;

	feed_kick(h);
	h->ev->drained(h);
}

static void
on_down(void *user, const GError *error)
{
	struct host *h = user;
	struct link *l = g_steal_pointer(&h->link);

	if (error && !h->ending && !h->leaving && !h->fs->stopping)
		host_set_error(h, link_error_errno(error), error->message);
	host_lost(h, error ? error->message : "connection closed");
	link_free(l);
}

static void ignore_str(void *user, const char *s) { }
static void ignore_data(void *user, const guint8 *d, gsize n) { }
static void ignore_void(void *user) { }
static void ignore_down(void *user, const GError *e) { }

/* What a link we have let go of may still call before it is freed. */
static const struct link_callbacks detached_cb = {
	.up = ignore_str,
	.data = ignore_data,
	.log = ignore_str,
	.drained = ignore_void,
	.down = ignore_down,
};

static gboolean
free_link(gpointer l)
{
	link_free(l);
	return G_SOURCE_REMOVE;
}

static const struct link_callbacks host_link_cb = {
	.up = on_up,
	.data = on_data,
	.log = on_log,
	.drained = on_drained,
	.down = on_down,
};

static gboolean
ping(gpointer data)
{
	struct host *h = data;
	struct cluster *fs = h->fs;
	gint64 quiet = g_get_monotonic_time() - h->last_heard;
	gint64 limit = (gint64)fs->opt.alive_interval * fs->opt.alive_count *
		       G_USEC_PER_SEC;

	/* Until WELCOME the node is still starting (a handshake, a new
	 * process, on a machine that may be busy): the link bounds its
	 * set-up, and the node has a reply's time after that. */
	if (h->state != HOST_UP)
		limit = MAX(limit, (gint64)(fs->opt.connect_timeout +
					    fs->opt.reply_timeout) *
				   G_USEC_PER_SEC);

	if (quiet > limit) {
		g_autofree char *why = g_strdup_printf(
			"no answer for %d s", (int)(quiet / G_USEC_PER_SEC));
		h->ping_timer = 0;
		host_set_error(h, ETIMEDOUT, why);
		host_lost(h, why);
		return G_SOURCE_REMOVE;
	}
	host_send(h, WIRE_PING, 0, 0, NULL);
	return G_SOURCE_CONTINUE;
}

static void
host_down(struct host *h, const char *why)
{
	if (h->state == HOST_DOWN)
		return;
	h->state = HOST_DOWN;
	g_free(h->down_reason);
	h->down_reason = g_strdup(why);
	if (h->reconnect_timer)
		g_source_remove(h->reconnect_timer);
	if (h->lease_timer)
		g_source_remove(h->lease_timer);
	h->reconnect_timer = h->lease_timer = 0;
	if (h->fs->stopping)
		g_debug("%s: ended: %s", h->label, why);
	else if (h->leaving)
		g_message("%s: ended: %s", h->label, why);
	else
		g_warning("%s: down: %s", h->label, why);
	drop_link(h, why, EIO);
	h->ev->down(h, why);
}

void
host_fail(struct host *h, const char *why)
{
	host_down(h, why);
}

/* Let go of the link (we may be inside one of its callbacks) and fail
 * what waits on the node. */
static void
drop_link(struct host *h, const char *why, int err)
{
	g_autoptr(GList) reqs = NULL;
	GList *l;

	if (h->ping_timer)
		g_source_remove(h->ping_timer);
	h->ping_timer = 0;
	if (h->link) {
		h->link->cb = detached_cb;
		g_idle_add(free_link, g_steal_pointer(&h->link));
	}
	reqs = g_hash_table_get_values(h->requests);
	for (l = reqs; l; l = l->next)
		request_finish(l->data, err, why, NULL, 0);
}

static void
new_session_id(struct host *h)
{
	for (guint i = 0; i < 4; i++)
		g_snprintf(h->session + 8 * i, 9, "%08x", g_random_int());
	journal_host(h);
}

void
host_resume_session(struct host *h, const char *id)
{
	g_strlcpy(h->session, id, sizeof(h->session));
	h->back = TRUE;
	/* Its calls may be running there: lost only under the lease. */
	h->was_up = TRUE;
}

static gboolean
reconnect(gpointer data)
{
	struct host *h = data;

	h->reconnect_timer = 0;
	if (h->fs->stopping) {	/* unmounting: no new link */
		host_down(h, "unmounted");
		return G_SOURCE_REMOVE;
	}
	h->attempt++;
	g_message("%s: reconnecting (attempt %u)", h->label, h->attempt);
	/* A frame cut in half by the old link is not the new one's. */
	wire_decoder_clear(&h->dec);
	wire_decoder_init(&h->dec);
	host_start(h);
	return G_SOURCE_REMOVE;
}

static gboolean
lease_over(gpointer data)
{
	struct host *h = data;
	g_autofree char *why = g_strdup_printf("node unreachable for %d s: %s",
		h->fs->opt.lease, h->down_reason);

	h->lease_timer = 0;
	h->lease_out = TRUE;
	g_warning("%s: %s; its calls are lost", h->label, why);
	/* Never resume what was given up: the next connection starts a
	 * session of its own (the old one ends on its node by itself). */
	new_session_id(h);
	h->ev->lease_over(h, why);
	return G_SOURCE_REMOVE;
}

/*
 * A host that never came up is tried again too, as long as what stopped
 * it may pass (a node not listening yet, a timeout on a loaded machine,
 * a network that is not there yet): not a refused key or login, and not
 * one that joins while mounted (its .ctl write or its source hears of
 * the failure and decides).
 */
static gboolean
retry_never_up(const struct host *h)
{
	switch (h->last_error.err) {
	case ETIMEDOUT:
	case ECONNREFUSED:
	case ECONNABORTED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ENETDOWN:
	case EHOSTDOWN:
		return !h->joining && !h->transient;
	default:
		return FALSE;
	}
}

/*
 * The link is gone or the node silent: reconnect if we may, else down.
 * The next attempt comes 0.1, 1, 2, 4, 8, 16, then every 30 s after a
 * loss; from the first loss, the lease.
 */
static void
host_lost(struct host *h, const char *why)
{
	struct cluster *fs = h->fs;
	guint delay_ms;

	if (!fs->opt.reconnect || fs->stopping || h->ending || h->leaving ||
	    (!h->was_up && !retry_never_up(h)) || h->state == HOST_DOWN) {
		host_down(h, why);
		return;
	}
	if (h->state != HOST_RECONNECTING) {
		/* Before the requests fail: their callbacks see it. */
		h->state = HOST_RECONNECTING;
		drop_link(h, why, EHOSTUNREACH);
		g_free(h->down_reason);
		h->down_reason = g_strdup(why);
		h->back = TRUE;
		if (!h->lost_since) {
			h->lost_since = g_get_monotonic_time();
			/* The node counts its lease from our last frame,
			 * at most the detection time before now, and checks
			 * it every lease/8 s (5 at most). */
			h->lease_timer = g_timeout_add_seconds(
				fs->opt.lease + MIN(fs->opt.lease / 8, 5) + 2,
				lease_over, h);
		}
		g_warning("%s: unreachable: %s", h->label, why);
		h->ev->unreachable(h, why);
	} else {
		drop_link(h, why, EHOSTUNREACH);
		g_message("%s: reconnect attempt %u failed: %s", h->label,
			  h->attempt, why);
	}
	if (h->reconnect_timer || h->state != HOST_RECONNECTING)
		return;
	delay_ms = h->attempt == 0 ? 100
		 : MIN(1000u << MIN(h->attempt - 1, 5u), 30000u);
	h->next_attempt = g_get_monotonic_time() + delay_ms * 1000;
	h->reconnect_timer = g_timeout_add(delay_ms, reconnect, h);
}

char *
host_state_text(const struct host *h)
{
	switch (h->state) {
	case HOST_CONNECTING:
		return g_strdup("connecting");
	case HOST_UP:
		return g_strdup("up");
	case HOST_RECONNECTING: {
		gint64 wait = h->next_attempt - g_get_monotonic_time();

		if (!h->reconnect_timer)
			return g_strdup_printf("unreachable: reconnecting "
					       "(attempt %u): %s", h->attempt,
					       h->down_reason);
		return g_strdup_printf("unreachable: reconnecting (attempt "
				       "%u, next in %d s): %s", h->attempt + 1,
				       (int)((MAX(wait, 0) + 999999) /
					     G_USEC_PER_SEC),
				       h->down_reason);
	}
	default:
		return g_strdup_printf("down: %s", h->down_reason);
	}
}

struct host *
host_new(struct cluster *fs, const char *label, const struct link_spec *spec,
	 const struct host_events *ev)
{
	struct host *h = g_new0(struct host, 1);

	h->fs = fs;
	h->ev = ev;
	h->label = g_strdup(label);
	h->spec.kind = spec->kind;
	h->spec.command = g_strdup(spec->command);
	h->spec.listener = spec->listener;
	h->spec.token = g_strdup(spec->token);
	h->spec.wait_s = spec->wait_s;
	link_ssh_options_copy(&h->spec.ssh, &spec->ssh);
	h->spec.ssh.command = h->spec.command;
	h->frame = g_byte_array_new();
	h->vms = g_ptr_array_new();
	h->requests = g_hash_table_new(NULL, NULL);
	wire_decoder_init(&h->dec);
	new_session_id(h);
	return h;
}

void
host_start(struct host *h)
{
	struct cluster *fs = h->fs;

	h->link = link_open(&h->spec, &host_link_cb, h);
	if (!h->link)
		return;		/* down already reported */
	h->last_heard = g_get_monotonic_time();
	g_strlcpy(h->attached, h->session, sizeof(h->attached));
	host_send(h, WIRE_ATTACH, 0, 0,
		  g_variant_new("(uusu)", WIRE_PROTO_VERSION, h->vms->len,
				h->session, (guint32)fs->opt.lease));
	h->ping_timer = g_timeout_add_seconds(fs->opt.alive_interval, ping, h);
}

void
host_shutdown(struct host *h)
{
	if (!h->link || h->ending)
		return;
	h->ending = TRUE;
	/* Still connecting (a silent host, a handshake, a node starting):
	 * nothing to end gracefully, and its time-out is not waited for.
	 * Dropping the link ends a node command already started. */
	if (h->state == HOST_CONNECTING) {
		host_down(h, "unmounted");
		return;
	}
	/* -o keep: the node keeps the session for its lease, to be
	 * resumed by the next mount of this state. */
	if (!h->fs->keep_sessions)
		host_send(h, WIRE_SHUTDOWN, 0, 0, NULL);
	link_close_write(h->link);
}

void
host_free(struct host *h)
{
	/* Not inside a link callback here: end the link now, so that a node
	 * still running is stopped (host_down would defer this to a loop
	 * that no longer runs). */
	if (h->link) {
		struct link *l = g_steal_pointer(&h->link);

		l->cb = detached_cb;
		host_down(h, "unmounted");
		link_free(l);
	}
	if (h->state != HOST_DOWN)
		host_down(h, "unmounted");
	g_ptr_array_unref(h->vms);	/* its VMs are cluster.c's */
	g_hash_table_unref(h->requests);
	wire_decoder_clear(&h->dec);
	g_byte_array_unref(h->frame);
	link_ssh_options_clear(&h->spec.ssh);
	g_free((char *)h->spec.command);
	g_free((char *)h->spec.token);
	g_free(h->label);
	g_free(h->down_reason);
	g_free(h->node_name);
	g_free(h->beacon_name);
	g_free(h->source_info);
	last_error_clear(&h->last_error);
	g_free(h);
}

int
errno_from_node(int err)
{
	/* The node's errno values are Linux's, like ours; keep them in the
	 * range a FUSE reply can carry. */
	if (err == 0)
		return 0;
	return err > 0 && err < 4096 ? err : EIO;
}
