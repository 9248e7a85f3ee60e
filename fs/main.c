/*
 * tricklefs - mount a cluster of Trickle VMs as a filesystem.
 *
 * One process, one GMainLoop: the FUSE device, every SSH socket and local
 * node pipe, and every timer are sources of the same loop.  Nodes are
 * connected before the mount appears, so that a refused host key or an
 * unreachable host is reported on the terminal that ran tricklefs.
 */
#include "tfs.h"
#include "daemon.h"
#include "options.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <glib-unix.h>

#define SHUTDOWN_WAIT_S 5

struct fuse_source {
	struct tfs *fs;
	struct fuse_buf buf;
};

static gboolean
on_fuse(int fd, GIOCondition cond, gpointer data)
{
	struct fuse_source *src = data;
	struct fuse_session *se = src->fs->se;
	int i, res;

	/* A handful per wake-up: fair to the other sources, cheap under a
	 * burst of requests. */
	for (i = 0; i < 64; i++) {
		res = fuse_session_receive_buf(se, &src->buf);
		if (res == -EINTR || res == -EAGAIN)
			break;
		if (res <= 0 || fuse_session_exited(se)) {
			g_main_loop_quit(src->fs->loop);
			return G_SOURCE_REMOVE;
		}
		fuse_session_process_buf(se, &src->buf);
	}
	return G_SOURCE_CONTINUE;
}

static gboolean
on_signal(gpointer data)
{
	struct tfs *fs = data;

	g_message("signal received, unmounting");
	g_main_loop_quit(fs->loop);
	return G_SOURCE_CONTINUE;
}

/* Run the loop until done(fs) or seconds pass. */
static void
run_until(struct tfs *fs, gboolean (*done)(struct tfs *), guint seconds)
{
	GMainContext *ctx = g_main_context_default();
	gint64 end = g_get_monotonic_time() + seconds * G_USEC_PER_SEC;

	while (!done(fs) && g_get_monotonic_time() < end)
		g_main_context_iteration(ctx, TRUE);
}

static gboolean
tick(gpointer data)
{
	return G_SOURCE_CONTINUE;	/* wakes run_until to check the time */
}

static gboolean
never(struct tfs *fs)
{
	return FALSE;
}

/* With -o discover: listen for discover_timeout seconds, probing every
 * second (nodes answer a probe once a second at most). */
static gboolean
discover_nodes(struct tfs *fs, GError **error)
{
	int s;

	if (!discovery_start(fs, error))
		return FALSE;
	for (s = 0; s < fs->opt.discover_timeout; s++) {
		if (s)
			discovery_probe(fs);
		run_until(fs, never, 1);
	}
	return TRUE;
}

/* Connect every host, and those discovery finds; the VMs up (or, if some
 * host is still connecting, at least min: it may yet come up). */
static guint
connect_hosts(struct tfs *fs, GError **error)
{
	guint i, up = 0, t;

	for (i = 0; i < fs->hosts->len; i++)
		host_start(fs->hosts->pdata[i]);
	t = g_timeout_add(100, tick, NULL);
	if (fs->opt.discover && !discover_nodes(fs, error)) {
		g_source_remove(t);
		return 0;
	}
	run_until(fs, hosts_ready, fs->opt.connect_timeout + 2);
	g_source_remove(t);
	for (i = 0; i < fs->vms->len; i++) {
		struct vm *vm = fs->vms->pdata[i];

		if (vm_listed(vm) && vm->host->state == HOST_UP)
			up++;
	}
	for (i = 0; i < fs->hosts->len; i++) {
		struct host *h = fs->hosts->pdata[i];

		if (h->state != HOST_CONNECTING)
			continue;
		g_warning("%s: still connecting; its VMs will appear as they "
			  "come up", h->label);
		up = MAX(up, (guint)fs->opt.min);
	}
	return up;
}

static void
free_all(struct tfs *fs)
{
	guint i;

	spool_cleanup(fs);
	for (i = 0; i < fs->hosts->len; i++)
		host_free(fs->hosts->pdata[i]);
	g_ptr_array_unref(fs->hosts);
	if (fs->all)
		vm_free(fs->all);
	while (!g_queue_is_empty(&fs->any_queue))
		((struct call *)g_queue_pop_head(&fs->any_queue))->queued =
			NULL;
	if (fs->any)
		vm_free(fs->any);
	g_ptr_array_unref(fs->vms);
	discovery_stop(fs);
	g_free(fs->opt.discover_group);
	g_free(fs->opt.discover_user);
	g_free(fs->opt.allow_text);
	g_strfreev(fs->opt.allow);
	g_clear_pointer(&fs->loop, g_main_loop_unref);
	g_free(fs->opt.identity);
	g_free(fs->opt.known_hosts);
	g_free(fs->opt.node_command);
	g_free(fs->opt.hostfile);
	g_free(fs->opt.logfile);
}

int
main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts co = { 0 };
	struct fuse_source src = { 0 };
	g_autoptr(GError) error = NULL;
	struct tfs fs = { 0 };
	int status = 1;
	guint t, up;

	signal(SIGPIPE, SIG_IGN);
	fs.hosts = g_ptr_array_new();
	fs.vms = g_ptr_array_new();
	fs.uid = getuid();
	fs.gid = getgid();
	fs.started = time(NULL);
	if (!tfs_parse_args(&fs, &args, &co, &error)) {
		fprintf(stderr, "tricklefs: %s\n", error->message);
		goto out;
	}
	if (!co.foreground)
		daemon_start();
	tfs_log_init(&fs.opt);
	fs.loop = g_main_loop_new(NULL, FALSE);

	up = connect_hosts(&fs, &error);
	if (error) {
		fprintf(stderr, "tricklefs: %s\n", error->message);
		goto stop;
	}
	if (up == 0 && fs.opt.min > 0) {
		fprintf(stderr, "tricklefs: no node could be reached%s\n",
			fs.opt.discover ? " or discovered" : "");
		goto stop;
	}
	if (up < (guint)fs.opt.min) {
		fprintf(stderr, "tricklefs: only %u VM%s up, fewer than "
			"min=%d\n", up, up == 1 ? "" : "s", fs.opt.min);
		goto stop;
	}
	fs.se = fuse_session_new(&args, &tfs_ops, sizeof(tfs_ops), &fs);
	if (!fs.se)
		goto stop;
	if (fuse_session_mount(fs.se, co.mountpoint) != 0)
		goto stop;
	g_unix_set_fd_nonblocking(fuse_session_fd(fs.se), TRUE, NULL);
	src.fs = &fs;
	g_unix_fd_add(fuse_session_fd(fs.se), G_IO_IN | G_IO_ERR | G_IO_HUP,
		      on_fuse, &src);
	g_unix_signal_add(SIGINT, on_signal, &fs);
	g_unix_signal_add(SIGTERM, on_signal, &fs);
	g_unix_signal_add(SIGHUP, on_signal, &fs);
	g_message("mounted %u VMs on %s", up, co.mountpoint);
	if (!co.foreground) {
		tfs_log_detach();
		daemon_ready(0);
	}

	g_main_loop_run(fs.loop);
	status = 0;

	fuse_session_unmount(fs.se);
stop:
	/* End the nodes' VMs and remove what was injected. */
	fs.stopping = TRUE;
	discovery_stop(&fs);		/* no node joins from here on */
	hosts_shutdown(&fs);
	t = g_timeout_add(100, tick, NULL);
	run_until(&fs, hosts_gone, SHUTDOWN_WAIT_S);
	g_source_remove(t);
	/* Links of hosts that went down are freed from idle callbacks. */
	while (g_main_context_iteration(NULL, FALSE))
		;
	if (!co.foreground)
		daemon_ready(status ? 1 : 0);
	free_all(&fs);
	if (fs.se)
		fuse_session_destroy(fs.se);
	free(src.buf.mem);
out:
	free(co.mountpoint);
	fuse_opt_free_args(&args);
	return status;
}
