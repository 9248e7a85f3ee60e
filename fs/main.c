/*
 * tricklefs - mount a cluster of Trickle VMs as a filesystem.
 *
 * The top of the mount: it makes the cluster (cluster/), starts its
 * nodes, puts the FUSE tree (tree/) over it, and runs the loop.
 * One process, one GMainLoop: the FUSE device, every SSH socket and local
 * node pipe, and every timer are sources of the same loop.  Nodes are
 * connected before the mount appears, so that a refused host key or an
 * unreachable host is reported on the terminal that ran tricklefs.
 */
#include "tree.h"
#include "bulkmem.h"
#include "daemon.h"
#include "options.h"
#include "log.h"
#include "fdwatch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <glib-unix.h>

#define SHUTDOWN_WAIT_S 15	/* for SHUTDOWN to reach the nodes: a node that
				   sees only EOF keeps its session for the lease */

struct mount {
	struct cluster *cl;
	struct tree *tree;
	struct fuse_session *se;
	GMainLoop *loop;
	struct fuse_buf buf;
};

static gboolean
on_fuse(int fd, GIOCondition cond, gpointer data)
{
	struct mount *m = data;
	int i, res;

	/* A handful per wake-up: fair to the other sources, cheap under a
	 * burst of requests. */
	for (i = 0; i < 64; i++) {
		res = fuse_session_receive_buf(m->se, &m->buf);
		if (res == -EINTR || res == -EAGAIN)
			break;
		if (res <= 0 || fuse_session_exited(m->se)) {
			g_main_loop_quit(m->loop);
			return G_SOURCE_REMOVE;
		}
		fuse_session_process_buf(m->se, &m->buf);
	}
	return G_SOURCE_CONTINUE;
}

static gboolean
on_signal(gpointer data)
{
	struct mount *m = data;

	g_message("signal received, unmounting");
	g_main_loop_quit(m->loop);
	return G_SOURCE_CONTINUE;
}

/* Run the loop until done(cl) or seconds pass. */
static void
run_until(struct cluster *cl, gboolean (*done)(struct cluster *),
	  guint seconds)
{
	GMainContext *ctx = g_main_context_default();
	gint64 end = g_get_monotonic_time() + seconds * G_USEC_PER_SEC;

	while (!done(cl) && g_get_monotonic_time() < end)
		g_main_context_iteration(ctx, TRUE);
}

static gboolean
tick(gpointer data)
{
	return G_SOURCE_CONTINUE;	/* wakes run_until to check the time */
}

static gboolean
never(struct cluster *cl)
{
	return FALSE;
}

/*
 * When the mount command stops waiting for hosts still connecting: once
 * none is, or once SILENT_S seconds have passed, enough VMs are up
 * (min, at least one) and every host still connecting is silent.  An SSH
 * server answers its key exchange in milliseconds, even a busy one; a
 * host that has not after seconds is down or cut off, and waiting the
 * whole connect_timeout for it held the mount of every other node back.
 * It goes on trying, and its VMs appear when it comes up.  A host that
 * has answered is slow, not gone: it is waited for.
 */
#define SILENT_S 3

static gint64 silent_after;

static gboolean
mount_ready(struct cluster *cl)
{
	if (cluster_ready(cl))
		return TRUE;
	return g_get_monotonic_time() >= silent_after &&
	       cluster_rest_silent(cl) &&
	       cluster_vms_up(cl) >= (guint)MAX(cl->opt.min, 1);
}

/* Connect every host, and with -o discover listen for discover_timeout
 * seconds, probing every second (nodes answer a probe once a second at
 * most); the VMs up (or, if some host is still connecting, at least min:
 * it may yet come up). */
static guint
connect_hosts(struct cluster *cl, GError **error)
{
	guint i, up, t;
	int s;

	t = g_timeout_add(100, tick, NULL);
	if (!cluster_start(cl, error)) {
		g_source_remove(t);
		return 0;
	}
	for (s = 0; cl->opt.discover && s < cl->opt.discover_timeout; s++) {
		if (s)
			cluster_discover(cl, NULL);
		run_until(cl, never, 1);
	}
	silent_after = g_get_monotonic_time() +
		       MIN(SILENT_S, cl->opt.connect_timeout) * G_USEC_PER_SEC;
	run_until(cl, mount_ready, cl->opt.connect_timeout + 2);
	g_source_remove(t);
	up = cluster_vms_up(cl);
	for (i = 0; i < cl->hosts->len; i++) {
		struct host *h = cl->hosts->pdata[i];

		if (h->state != HOST_CONNECTING)
			continue;
		g_warning("%s: still connecting; its VMs will appear as they "
			  "come up", h->label);
		up = MAX(up, (guint)cl->opt.min);
	}
	return up;
}

int
main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts co = { 0 };
	g_autoptr(GError) error = NULL;
	struct mount m = { 0 };
	int status = 1;
	guint t, up;

	signal(SIGPIPE, SIG_IGN);
	bulkmem_init();
	m.cl = cluster_new();
	if (!tfs_parse_args(m.cl, &args, &co, &error)) {
		fprintf(stderr, "tricklefs: %s\n", error->message);
		goto out;
	}
	if (!co.foreground)
		daemon_start();
	tfs_log_init(&m.cl->opt, co.mountpoint);
	m.loop = g_main_loop_new(NULL, FALSE);
	m.tree = tree_new(m.cl);
	if (!cluster_recover(m.cl, &error)) {
		fprintf(stderr, "tricklefs: %s\n", error->message);
		goto out_tree;
	}
	/* Until mounted, a failure leaves a recovered state and its
	 * sessions be. */
	m.cl->keep_sessions = journal_recovered(m.cl) > 0;

	up = connect_hosts(m.cl, &error);
	if (error) {
		fprintf(stderr, "tricklefs: %s\n", error->message);
		goto stop;
	}
	if (up == 0 && m.cl->opt.min > 0) {
		fprintf(stderr, "tricklefs: no node could be reached%s\n",
			m.cl->opt.discover ? " or discovered" : "");
		goto stop;
	}
	if (up < (guint)m.cl->opt.min) {
		fprintf(stderr, "tricklefs: only %u VM%s up, fewer than "
			"min=%d\n", up, up == 1 ? "" : "s", m.cl->opt.min);
		goto stop;
	}
	/* Options were checked with libfuse already (mountopts.c): these
	 * fail on what only the kernel or fusermount3 can say, above. */
	m.se = fuse_session_new(&args, &tree_ops, sizeof(tree_ops), m.tree);
	if (!m.se) {
		fprintf(stderr, "tricklefs: libfuse refused the options "
			"(see the line above)\n");
		goto stop;
	}
	if (fuse_session_mount(m.se, co.mountpoint) != 0) {
		fprintf(stderr, "tricklefs: cannot mount on %s (see the line "
			"above)\n", co.mountpoint);
		goto stop;
	}
	g_unix_set_fd_nonblocking(fuse_session_fd(m.se), TRUE, NULL);
	fd_watch_add(fuse_session_fd(m.se), G_IO_IN | G_IO_ERR | G_IO_HUP,
		     on_fuse, &m);
	g_unix_signal_add(SIGINT, on_signal, &m);
	g_unix_signal_add(SIGTERM, on_signal, &m);
	g_unix_signal_add(SIGHUP, on_signal, &m);
	m.cl->keep_sessions = m.cl->opt.keep;
	g_message("mounted %u VMs on %s", up, co.mountpoint);
	if (!co.foreground) {
		tfs_log_detach(co.mountpoint);
		daemon_ready(0);
	}

	g_main_loop_run(m.loop);
	status = 0;

	fuse_session_unmount(m.se);
	/* The state is free for the next mount of it now, while the nodes
	 * are still being ended (run.sh scripts mount again at once). */
	cluster_release_state(m.cl);
stop:
	/* End the nodes' VMs and remove what was injected. */
	cluster_shutdown(m.cl);
	t = g_timeout_add(100, tick, NULL);
	run_until(m.cl, cluster_gone, SHUTDOWN_WAIT_S);
	g_source_remove(t);
	/* Links of hosts that went down are freed from idle callbacks. */
	while (g_main_context_iteration(NULL, FALSE))
		;
out_tree:
	if (!co.foreground)
		daemon_ready(status ? 1 : 0);
	if (m.tree)
		tree_free(m.tree);
	if (m.se)
		fuse_session_destroy(m.se);
	free(m.buf.mem);
	g_clear_pointer(&m.loop, g_main_loop_unref);
out:
	cluster_free(m.cl);
	free(co.mountpoint);
	fuse_opt_free_args(&args);
	return status;
}
