/*
 * fsctl.c - MOUNT/.ctl, membership from the shell.
 *
 * Reading gives a line per VM: name, host, state, calls queued, running,
 * done, failed (taken once per open, so a read never waits on a node).
 * Each line written is a command:
 *
 *   connect SPEC     add VMs as a NODE argument would (a node set, N/);
 *                    the write returns once its nodes are up, or fails
 *                    with an errno that names the cause (ECONNREFUSED,
 *                    ETIMEDOUT, EACCES for a host key or login refused,
 *                    EPROTO, EINVAL for a bad SPEC, EHOSTUNREACH for a
 *                    name that does not resolve and the rest), the
 *                    reason in the log
 *   disconnect VM    drain it: no new calls, the ones it has finish, then
 *                    it goes
 *   discover         probe for announcing nodes now
 *   scale N          with -o slurm_jobs: N worker jobs (more submitted,
 *                    or pending ones cancelled and running ones drained)
 */
#include "tree.h"
#include "nodespec.h"

#include <errno.h>
#include <string.h>

struct mctl_handle {
	struct handle h;
	struct cluster *fs;
	char *text;		/* what a read gives */
};

/* A write waiting for the hosts it connects. */
struct mctl_write {
	fuse_req_t req;
	size_t size;
};

static const struct handle_ops mctl_ops;

void
mctl_open(fuse_req_t req, struct fuse_file_info *fi)
{
	struct mctl_handle *m = g_new0(struct mctl_handle, 1);
	struct cluster *fs = req_fs(req);

	m->h.ops = &mctl_ops;
	m->fs = fs;
	m->text = members_text(fs);
	fi->fh = (uintptr_t)m;
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

static void
mctl_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct mctl_handle *m = (struct mctl_handle *)(uintptr_t)fi->fh;

	reply_bytes(req, m->text, strlen(m->text), size, off);
}

static void
written(void *data, int err)
{
	struct mctl_write *w = data;

	if (err)
		fuse_reply_err(w->req, err);
	else
		fuse_reply_write(w->req, w->size);
	g_free(w);
}

static void
on_joined(void *data, struct host *h, const char *error)
{
	struct fanin *f = data;

	if (error)
		g_warning(".ctl: connect %s: %s", h->label, error);
	fanin_answer(f, error ? host_failure_errno(h) : 0);
}

/* Check one command line; 0 or the errno for the write. */
static int
check_command(struct cluster *fs, char **argv)
{
	g_autoptr(GError) error = NULL;

	if (!argv[0])
		return 0;
	if (strcmp(argv[0], "connect") == 0 && argv[1] && !argv[2]) {
		g_autoptr(GPtrArray) specs = g_ptr_array_new_with_free_func(
			(GDestroyNotify)nodespec_free);
		guint i;

		if (!nodespec_parse_set(argv[1], 0, specs, &error)) {
			g_warning(".ctl: connect: %s", error->message);
			return EINVAL;
		}
		for (i = 0; i < specs->len; i++) {
			const struct nodespec *ns = specs->pdata[i];

			if (ns->name && members_name_taken(fs, ns->name)) {
				g_warning(".ctl: connect: a VM is named %s "
					  "already", ns->name);
				return EEXIST;
			}
		}
		return 0;
	}
	if (strcmp(argv[0], "disconnect") == 0 && argv[1] && !argv[2]) {
		if (cluster_vm_named(fs, argv[1]))
			return 0;
		g_warning(".ctl: disconnect: no VM %s", argv[1]);
		return ENOENT;
	}
	if (strcmp(argv[0], "discover") == 0 && !argv[1])
		return 0;
	if (strcmp(argv[0], "scale") == 0 && argv[1] && !argv[2]) {
		guint64 n;

		if (!g_ascii_string_to_unsigned(argv[1], 10, 0, 4096, &n,
						&error)) {
			g_warning(".ctl: scale: %s", error->message);
			return EINVAL;
		}
		if (!fs->opt.slurm_jobs) {
			g_warning(".ctl: scale: this mount submits no jobs "
				  "(-o slurm_jobs=N)");
			return ENOTSUP;
		}
		return 0;
	}
	g_warning(".ctl: unknown command \"%s\" (connect SPEC, disconnect VM,"
		  " discover, scale N)", argv[0]);
	return EINVAL;
}

static void
run_command(struct cluster *fs, char **argv, struct fanin *f)
{
	g_autoptr(GError) error = NULL;

	if (!argv[0])
		return;
	if (strcmp(argv[0], "connect") == 0) {
		g_autoptr(GPtrArray) specs = g_ptr_array_new_with_free_func(
			(GDestroyNotify)nodespec_free);
		guint i;

		/* Checked already: a node set connects each of its nodes,
		 * N/ (else vms_per_node, else one) VMs on each. */
		nodespec_parse_set(argv[1], 0, specs, NULL);
		for (i = 0; i < specs->len; i++) {
			const struct nodespec *ns = specs->pdata[i];

			fanin_expect(f);
			members_connect(fs, ns, nodespec_vms(ns,
					fs->opt.vms_per_node), NULL,
					on_joined, f);
		}
	} else if (strcmp(argv[0], "disconnect") == 0) {
		members_disconnect(cluster_vm_named(fs, argv[1]));
	} else if (strcmp(argv[0], "scale") == 0) {
		if (!cluster_scale(fs, (guint)g_ascii_strtoull(argv[1], NULL,
							       10), &error)) {
			g_warning(".ctl: scale: %s", error->message);
			fanin_expect(f);
			fanin_answer(f, EIO);
		}
	} else if (!cluster_discover(fs, &error)) {
		g_warning(".ctl: discover: %s", error->message);
		fanin_expect(f);
		fanin_answer(f, EIO);
	}
}

/* The whole write is checked before any of it runs: a bad line does
 * nothing, as with calls/new. */
static void
mctl_write(fuse_req_t req, const char *buf, size_t size, off_t off,
	   struct fuse_file_info *fi)
{
	struct mctl_handle *m = (struct mctl_handle *)(uintptr_t)fi->fh;
	g_autofree char *text = g_strndup(buf, size);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	g_autoptr(GPtrArray) cmds = g_ptr_array_new_with_free_func(
		(GDestroyNotify)g_strfreev);
	struct mctl_write *w;
	struct fanin *f;
	guint i;
	int err;

	for (i = 0; lines[i]; i++) {
		g_autoptr(GError) error = NULL;
		char **argv = NULL;

		g_strstrip(lines[i]);
		if (!*lines[i])
			continue;
		if (!g_shell_parse_argv(lines[i], NULL, &argv, &error)) {
			g_warning(".ctl: bad line \"%s\": %s", lines[i],
				  error->message);
			fuse_reply_err(req, EINVAL);
			return;
		}
		g_ptr_array_add(cmds, argv);
		if ((err = check_command(m->fs, argv))) {
			fuse_reply_err(req, err);
			return;
		}
	}
	w = g_new0(struct mctl_write, 1);
	w->req = req;
	w->size = size;
	f = fanin_new(written, w);
	for (i = 0; i < cmds->len; i++)
		run_command(m->fs, cmds->pdata[i], f);
	fanin_release(f);
}

static void
mctl_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct mctl_handle *m = (struct mctl_handle *)(uintptr_t)fi->fh;

	g_free(m->text);
	g_free(m);
	fuse_reply_err(req, 0);
}

static const struct handle_ops mctl_ops = {
	.read = mctl_read,
	.write = mctl_write,
	.release = mctl_release,
};
