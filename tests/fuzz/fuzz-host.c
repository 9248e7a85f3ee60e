/*
 * fuzz-host.c - libFuzzer target for the mount's side of the protocol: a
 * node is a trust boundary (a compromised one must not crash or corrupt
 * the mount), so every byte stream a node can send goes through
 * host_feed() into the real model (cluster/): its hosts, VMs, calls,
 * .any's queue, membership and the spool, with no link and no FUSE.
 *
 * Input layout:
 *
 *   byte 0        bit 0: the host is back from unreachable (the next
 *                 SYNCED sweeps for lost calls); bit 1: a second host;
 *                 bits 2-4: how many chunk-size bytes follow (k)
 *   bytes 1..k    chunk sizes, used in turn (0: all the rest)
 *   the rest      what the node sent
 *
 * Before the bytes, the mount has two VMs on the host, three calls
 * forked on the first, a .any call sent to the second and one waiting.
 */
#include "fuzz-util.h"
#include "cluster.h"

#include <string.h>

static void
log_handler(const char *domain, GLogLevelFlags level, const char *message,
	    gpointer user)
{
	/* A node saying nonsense is warned about, on purpose; a critical
	 * (a g_return_if_fail) is a bug. */
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
		fprintf(stderr, "%s: %s\n", domain ? domain : "", message);
		abort();
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init(NULL);
	g_log_set_default_handler(log_handler, NULL);
	g_log_set_handler(NULL, G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL |
			  G_LOG_FLAG_RECURSION, log_handler, NULL);
	/* What GLib makes once per process (the main context, its wake-up
	 * fd, the quark table): made here, not counted as a leak of the
	 * first input. */
	LLVMFuzzerTestOneInput((const uint8_t *)"\0", 1);
	return 0;
}

static struct host *
add_host(struct cluster *cl, const char *label, guint nvms)
{
	struct link_spec spec = { .kind = LINK_LOCAL, .command = "true" };
	struct host *h = cluster_add_host(cl, label, &spec, cl->static_src);
	guint i;

	for (i = 0; i < nvms; i++) {
		g_autofree char *name = g_strdup_printf("%s%u", label, i);
		struct vm *vm = vm_new(cl, h, name);

		vm->slot = cl->vms->len;
		g_ptr_array_add(cl->vms, vm);
	}
	return h;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cluster *cl;
	struct host *h;
	char *words[] = { "echo", "hi", NULL };
	char *sleep2[] = { "sleep", "2", NULL };
	const uint8_t *sizes;
	size_t k, i, n, off;
	guint spins;

	if (size < 1)
		return 0;
	k = (data[0] >> 2) & 7;
	if (size < 1 + k)
		return 0;
	sizes = data + 1;
	off = 1 + k;

	cl = cluster_new();
	cl->opt.reply_timeout = 30;
	cl->opt.connect_timeout = 15;
	cl->opt.alive_interval = 3;
	cl->opt.alive_count = 3;
	cl->opt.any_window = 2;
	cl->opt.lease = 60;
	cl->opt.retries = 3;
	cl->opt.reconnect = 0;	/* no process is started */
	h = add_host(cl, "n", 2);
	if (data[0] & 2)
		add_host(cl, "m", 1);
	cluster_setup(cl);
	for (i = 0; i < h->vms->len; i++)
		vm_set_funcs(h->vms->pdata[i], g_variant_new_parsed(
			"[('echo', 'built-in', '', '', ''), "
			"('sleep', 'built-in', '', '', '')]"));
	h->back = data[0] & 1;
	h->was_up = h->back;
	for (i = 0; i < 3; i++)
		vm_fork(h->vms->pdata[0], words, "echo hi", NULL);
	h->state = HOST_UP;	/* so that .any sends one now */
	h->sync_gen = 1;
	any_fork(cl, sleep2, "sleep 2");
	any_fork(cl, sleep2, "sleep 2");
	h->state = HOST_CONNECTING;

	for (i = 0; off < size; i++) {
		n = k ? sizes[i % k] : 0;
		n = n ? MIN(n, size - off) : size - off;
		host_feed(h, data + off, n);
		off += n;
	}
	/* What the host left for the loop (links let go of, replays). */
	for (spins = 0; spins < 64 && g_main_context_iteration(NULL, FALSE);
	     spins++)
		;
	cluster_free(cl);
	while (g_main_context_iteration(NULL, FALSE))
		;
	return 0;
}
