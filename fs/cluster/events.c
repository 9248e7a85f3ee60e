/*
 * events.c - the cluster's news, typed (struct cluster_event), for the
 * parts of the cluster that act on it (.any, membership, the spool) and
 * for the layer above.  Listeners run in the order they registered; an
 * event raised while another is told nests, as a function call would.
 */
#include "cluster.h"

struct listener {
	cluster_listener_fn fn;
	void *data;
};

void
cluster_listen(struct cluster *cl, cluster_listener_fn fn, void *data)
{
	struct listener l = { fn, data };

	if (!cl->listeners)
		cl->listeners = g_array_new(FALSE, FALSE,
					    sizeof(struct listener));
	g_array_append_val(cl->listeners, l);
}

void
cluster_unlisten(struct cluster *cl, cluster_listener_fn fn, void *data)
{
	guint i;

	for (i = 0; cl->listeners && i < cl->listeners->len; i++) {
		struct listener *l = &g_array_index(cl->listeners,
						    struct listener, i);
		if (l->fn == fn && l->data == data) {
			g_array_remove_index(cl->listeners, i);
			return;
		}
	}
}

void
cluster_emit(struct cluster *cl, enum cluster_event_type type,
	     struct host *h, struct vm *vm, struct call *c,
	     const char *reason)
{
	struct cluster_event ev = {
		.type = type, .host = h, .vm = vm, .call = c,
		.reason = reason, .when = g_get_real_time(),
	};
	guint i;

	for (i = 0; cl->listeners && i < cl->listeners->len; i++) {
		struct listener *l = &g_array_index(cl->listeners,
						    struct listener, i);
		l->fn(l->data, &ev);
	}
}
