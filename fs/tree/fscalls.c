/*
 * fscalls.c - VM/calls/new, the clone file: each line written forks a call,
 * and reading the same open file gives back the new ids, one per line.
 *
 * The file is a stream (no offsets): a shell's `echo >&3` moves the
 * offset, and `read id <&3` must still get the id.  Lines are split with
 * shell quoting rules; a line may span several writes.  A read of the
 * ids ends a line still pending (no newline yet) and forks it, as a
 * close does: `echo -n LINE >&3; read id <&3` gets its id.
 *
 * A write that is refused (a line too long, a bad line, a NUL) forks
 * nothing, and refuses the line it ends in as a whole: what came of that
 * line in earlier writes is dropped, and so is what comes in later writes
 * up to its newline.  A writer that carries on after the error then goes
 * on at the next line, and never forks the tail of a refused one.
 */
#include "tree.h"
#include "inode.h"

#include <errno.h>
#include <string.h>

/* A call's line must fit in one frame to its node, with room to spare. */
#define MAX_LINE (WIRE_MAX_BODY / 2)

struct calls_handle {
	struct handle h;
	struct cluster *fs;
	struct vm *vm;
	GString *partial;	/* a line not yet ended */
	GString *ids;		/* "N\n" for each fork, not yet read */
	int skipping;		/* the errno that refused the line whose
				   rest is dropped up to its newline; 0 */
	uid_t uid;		/* who wrote the line last: it is theirs */
};

static const struct handle_ops calls_new_ops;

void
calls_new_open(fuse_req_t req, struct vm *vm, struct fuse_file_info *fi)
{
	struct calls_handle *c = g_new0(struct calls_handle, 1);

	c->h.ops = &calls_new_ops;
	c->fs = req_fs(req);
	c->vm = vm;
	c->partial = g_string_new(NULL);
	c->ids = g_string_new(NULL);
	fi->fh = (uintptr_t)c;
	fi->direct_io = 1;
	fi->nonseekable = 1;
	fuse_reply_open(req, fi);
}

/*
 * Fork one parsed line.  On a VM, that is one call, and its id is read
 * back.  On .any, the call waits here for the first free VM (anysched.c).
 * On .all, the line goes to every VM, or with a first word "@VM"
 * to that VM only (the paper's fork(vmlist, funclist, arglist) is a batch
 * of such lines), and each fork reads back as its path from the mount,
 * "VM/calls/ID" (CALL_PATH_FMT).
 */
static void
fork_line(struct calls_handle *c, char **argv, const char *line)
{
	struct cluster *fs = c->fs;
	struct call *call;
	guint i;

	if (c->vm->host || c->vm == fs->any) {
		call = c->vm->host ? vm_fork(c->vm, argv, line, NULL)
				   : any_fork(fs, argv, line);
		call->uid = c->uid;
		g_string_append_printf(c->ids, "%u\n", call->id);
		return;
	}
	if (argv[0][0] == '@') {
		const char *rest = line + strcspn(line, " \t");

		call = vm_fork(cluster_vm_named(fs, argv[0] + 1), argv + 1,
			       rest + strspn(rest, " \t"), NULL);
		call->uid = c->uid;
		g_string_append_printf(c->ids, CALL_PATH_FMT "\n",
				       call->vm->name, call->id);
		return;
	}
	for (i = 0; i < fs->vms->len; i++) {
		if (!vm_open(fs->vms->pdata[i]))
			continue;
		call = vm_fork(fs->vms->pdata[i], argv, line, NULL);
		call->uid = c->uid;
		g_string_append_printf(c->ids, CALL_PATH_FMT "\n",
				       call->vm->name, call->id);
	}
}

/* Parse every complete line of text first: one malformed line fails the
 * write and forks nothing from it.  0, or the errno for the write. */
static int
parse_lines(struct cluster *fs, struct vm *vm, const char *text, gsize len,
	    GPtrArray *argvs, GPtrArray *lines)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		g_autofree char *line = g_strndup(p, nl - p);
		g_autoptr(GError) error = NULL;
		char **argv = NULL;

		p = nl + 1;
		g_strstrip(line);
		if (!*line)
			continue;
		if (strlen(line) > MAX_LINE) {
			g_warning("%s: calls/new: a line of %zu bytes (at most "
				  "%d)", vm->name, strlen(line), MAX_LINE);
			return E2BIG;
		}
		/* The words travel as GVariant strings, which must be
		 * UTF-8: a line that is not would kill the mount there. */
		if (!g_utf8_validate(line, -1, NULL)) {
			g_warning("%s: calls/new: a line that is not UTF-8",
				  vm->name);
			return EINVAL;
		}
		if (!g_shell_parse_argv(line, NULL, &argv, &error)) {
			g_warning("%s: calls/new: bad line \"%s\": %s",
				  vm->name, line, error->message);
			return EINVAL;
		}
		if (vm == fs->all && argv[0][0] == '@' &&
		    (!argv[1] || !cluster_vm_named(fs, argv[0] + 1))) {
			g_warning(".all: calls/new: bad line \"%s\": %s", line,
				  argv[1] ? "no such VM" : "no call after it");
			g_strfreev(argv);
			return EINVAL;
		}
		g_ptr_array_add(argvs, argv);
		g_ptr_array_add(lines, g_steal_pointer(&line));
	}
	return 0;
}

/* Take a write's text: fork the lines it completes.  0, or the errno that
 * refuses it (then nothing of it is forked; see the top). */
static int
take_text(struct calls_handle *c, const char *buf, size_t size)
{
	g_autoptr(GPtrArray) argvs = g_ptr_array_new_with_free_func(
		(GDestroyNotify)g_strfreev);
	g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
	const char *nl;
	gsize whole;
	guint i;
	int err;

	if (c->skipping) {
		if (!(nl = memchr(buf, '\n', size)))
			return c->skipping;
		err = c->skipping;
		c->skipping = 0;
		size -= nl + 1 - buf;
		buf = nl + 1;
		/* A write that only ends the refused line is refused too;
		 * one with more after it is that more's. */
		if (size == 0)
			return err;
	}
	if (memchr(buf, '\0', size)) {
		g_warning("%s: calls/new: a NUL byte in a line", c->vm->name);
		err = EINVAL;
		goto refused;
	}
	g_string_append_len(c->partial, buf, size);
	if (!(nl = memrchr(c->partial->str, '\n', c->partial->len))) {
		if (c->partial->len <= MAX_LINE)
			return 0;
		g_warning("%s: calls/new: a line of more than %d bytes; the "
			  "rest of it is skipped", c->vm->name, MAX_LINE);
		err = E2BIG;
		goto refused;
	}
	whole = nl - c->partial->str + 1;
	err = parse_lines(c->fs, c->vm, c->partial->str, whole, argvs, lines);
	if (err)
		goto refused;
	g_string_erase(c->partial, 0, whole);
	for (i = 0; i < argvs->len; i++)
		fork_line(c, argvs->pdata[i], lines->pdata[i]);
	return 0;
refused:
	g_string_truncate(c->partial, 0);
	if (size && buf[size - 1] != '\n')
		c->skipping = err;
	return err;
}

static void
calls_new_write(fuse_req_t req, const char *buf, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	struct calls_handle *c = (struct calls_handle *)(uintptr_t)fi->fh;
	int err;

	c->uid = req_uid(req);
	if ((err = take_text(c, buf, size)))
		fuse_reply_err(req, err);
	else
		fuse_reply_write(req, size);
}

/* Fork the line still pending, without its newline: at a read of the
 * ids (`echo -n LINE >&3; read id <&3`) and at close (`printf f >&3`).
 * 0, or the errno that refused it (logged; nothing forked). */
static int
fork_pending(struct calls_handle *c)
{
	g_autoptr(GPtrArray) argvs = g_ptr_array_new_with_free_func(
		(GDestroyNotify)g_strfreev);
	g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
	guint i;
	int err;

	if (!c->partial->len)
		return 0;
	g_string_append_c(c->partial, '\n');
	err = parse_lines(c->fs, c->vm, c->partial->str, c->partial->len,
			  argvs, lines);
	g_string_truncate(c->partial, 0);
	if (err)
		return err;
	for (i = 0; i < argvs->len; i++)
		fork_line(c, argvs->pdata[i], lines->pdata[i]);
	return 0;
}

static void
calls_new_read(fuse_req_t req, size_t size, off_t off,
	       struct fuse_file_info *fi)
{
	struct calls_handle *c = (struct calls_handle *)(uintptr_t)fi->fh;
	int err;
	size_t n;

	/* A read of the ids ends the line being written: echo -n works. */
	if ((err = fork_pending(c))) {
		fuse_reply_err(req, err);
		return;
	}
	n = MIN(size, c->ids->len);

	fuse_reply_buf(req, c->ids->str, n);
	g_string_erase(c->ids, 0, n);
}

static void
calls_new_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct calls_handle *c = (struct calls_handle *)(uintptr_t)fi->fh;

	/* A last line without its newline is still a call: `printf f >&3`. */
	fork_pending(c);
	g_string_free(c->partial, TRUE);
	g_string_free(c->ids, TRUE);
	g_free(c);
	fuse_reply_err(req, 0);
}

static const struct handle_ops calls_new_ops = {
	.read = calls_new_read,
	.write = calls_new_write,
	.release = calls_new_release,
};

/*
 * rm -rf calls/N: rm unlinks each file of the call, then removes the
 * directory.  A call's files go with it (rmdir_call), so unlinking one
 * of an ended call is accepted and does nothing; while the call is
 * queued or running, or held (an output open, a join waiting), it is
 * refused with EBUSY and a word in the log on what to do.
 */

/* Say once (for rm -rf's many refusals) why c cannot be removed. */
static void
call_busy_warn(const struct call *c)
{
	static const struct call *last;
	static gint64 last_at;
	gint64 now = g_get_monotonic_time();

	if (c == last && now - last_at < 2 * G_USEC_PER_SEC)
		return;
	last = c;
	last_at = now;
	if (!call_ended(c))
		g_warning("%s: call %u is %s: cancel it first (echo cancel > "
			  "calls/%u/ctl)", c->vm->name, c->id,
			  c->state == CALL_QUEUED ? "queued" : "running",
			  c->id);
	else
		g_warning("%s: call %u is in use (a file of it is open, or a "
			  "read waits on it): remove it once that is closed",
			  c->vm->name, c->id);
}

void
unlink_call_file(fuse_req_t req, struct call *c, const char *name)
{
	struct inode dir = { .kind = I_CALL, .vm = c->vm, .call = c }, f;

	if (!find_child(c->vm->fs, &dir, name, &f)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (!tree_may_act(req, "remove a call")) {
		fuse_reply_err(req, EACCES);
		return;
	}
	fuse_reply_err(req, call_removable(req, c));
}

/* 0 if the caller may remove c now (rmdir, or rm -rf's unlinks), else
 * the errno, with the reason logged. */
int
call_removable(fuse_req_t req, const struct call *c)
{
	if (!tree_may_see_call(req, c, "remove"))
		return EACCES;
	if (!call_ended(c) || call_held(c)) {
		call_busy_warn(c);
		return EBUSY;
	}
	return 0;
}
