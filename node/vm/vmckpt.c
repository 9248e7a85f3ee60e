/*
 * vmckpt.c - checkpoint and restore of a VM on the node (issue 16).
 *
 * The engine is application-level: the worker runs each injected
 * library's trickle_save() / trickle_restore() (node/worker/wsave.c);
 * this file adds the VM's environment, injected files and data/ and
 * keeps the result as one archive (vmckpt_ar.c) in vm<i>/checkpoints/N,
 * mode 0600.
 *
 * Both wait for the worker to be free: no queued call starts while one
 * is under way (vmcalls_pump asks vmckpt_busy), a running call is waited
 * for up to the time the client gave, then the request fails with EBUSY.
 *
 *   take:    W_SAVE to the worker (each library into a file of its own),
 *            then the archive is written; answered with its STAT.
 *   restore: the archive is unpacked and checked beside the VM first
 *            (a bad one changes nothing), the worker is ended, its
 *            inject/ and data/ are swapped for the staged ones as the
 *            next worker starts (vmckpt_before_spawn), which loads the
 *            restored libraries and gets W_RESTORE; answered once that
 *            is done, with the injected files.
 *
 * A VM whose take asked for CKPT_ON_CRASH is restored from that
 * checkpoint, as above, whenever its worker dies unasked (a crash, a
 * kill, a cancelled or timed-out call), not when the user restarted it
 * or replaced a library.
 */
#include "vm_priv.h"
#include "ckptar.h"
#include "vet.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum ckpt_op { OP_TAKE, OP_RESTORE };
enum ckpt_phase {
	PH_WAITING,		/* for the running call to end */
	PH_SAVING,		/* W_SAVE sent */
	PH_STAGED,		/* restore: unpacked, the worker ending */
	PH_RESTORING,		/* W_RESTORE sent */
};

struct vmckpt {
	enum ckpt_op op;
	enum ckpt_phase phase;
	guint32 tag;		/* 0: no one to answer (a crash's restore) */
	guint32 n, flags;
	guint wait_timer;
	char *blobs;		/* take: the libraries' files */
	char *path;		/* restore: the archive */
	struct vmckpt_staged *staged;
};

char *
vmnode_ckpt_path(struct vmnode *vm, guint32 n)
{
	return g_strdup_printf("%s/%u", vm->ckpt_dir, n);
}

static void
op_free(struct vmnode *vm)
{
	struct vmckpt *c = vm->ckpt;

	if (!c)
		return;
	vm->ckpt = NULL;
	if (c->wait_timer)
		g_source_remove(c->wait_timer);
	if (c->blobs)
		rm_rf(c->blobs);
	if (c->staged) {
		rm_rf(c->staged->dir);
		vmckpt_staged_free(c->staged);
	}
	g_free(c->blobs);
	g_free(c->path);
	g_free(c);
}

/* The operation ends: its answer (an error, or for a restore of no one's
 * asking just a line in the log), then the calls go on. */
static void
op_fail(struct vmnode *vm, int err, const char *msg)
{
	struct vmckpt *c = vm->ckpt;

	g_warning("vm%u: %s %u: %s", vm->index, c->op == OP_TAKE ?
		  "checkpoint" : "restore of checkpoint", c->n, msg);
	if (c->tag)
		vmnode_reply(vm, c->tag, err, msg);
	op_free(vm);
	vmcalls_pump(vm);
}

gboolean
vmckpt_busy(struct vmnode *vm)
{
	return vm->ckpt != NULL;
}

static gboolean
wait_over(gpointer data)
{
	struct vmnode *vm = data;
	g_autofree char *msg = NULL;

	vm->ckpt->wait_timer = 0;
	msg = g_strdup("a call is still running: the VM is checkpointed "
		       "between calls");
	op_fail(vm, EBUSY, msg);
	return G_SOURCE_REMOVE;
}

/* The operation, or NULL if another is under way (answered EBUSY).  It
 * starts when vmcalls_pump finds the worker free (vmckpt_idle). */
static struct vmckpt *
new_op(struct vmnode *vm, enum ckpt_op op, guint32 tag, guint32 n,
       guint32 wait_ms, guint32 flags)
{
	struct vmckpt *c;

	if (vm->ckpt) {
		vmnode_reply(vm, tag, EBUSY, "a checkpoint or restore of this "
			     "VM is under way");
		return NULL;
	}
	c = g_new0(struct vmckpt, 1);
	c->op = op;
	c->tag = tag;
	c->n = n;
	c->flags = flags;
	vm->ckpt = c;
	c->wait_timer = g_timeout_add(MAX(wait_ms, 1), wait_over, vm);
	return c;
}

void
vmnode_ckpt_take(struct vmnode *vm, guint32 tag, guint32 n, guint32 wait_ms,
		 guint32 flags)
{
	if (n == 0) {
		vmnode_reply(vm, tag, EINVAL, "checkpoints are numbered from 1");
		return;
	}
	if (new_op(vm, OP_TAKE, tag, n, wait_ms, flags))
		vmcalls_pump(vm);
}

void
vmnode_ckpt_restore(struct vmnode *vm, guint32 tag, guint32 n,
		    guint32 wait_ms, guint32 flags)
{
	g_autofree char *path = vmnode_ckpt_path(vm, n);
	struct vmckpt *c;

	if (n == 0 || !g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
		vmnode_reply(vm, tag, ENOENT, "no such checkpoint");
		return;
	}
	if ((c = new_op(vm, OP_RESTORE, tag, n, wait_ms, flags))) {
		c->path = g_steal_pointer(&path);
		vmcalls_pump(vm);
	}
}

/* Taking. */

static void
begin_save(struct vmnode *vm)
{
	struct vmckpt *c = vm->ckpt;
	GVariantBuilder b;
	guint i;

	c->blobs = g_build_filename(vm->dir, "save.XXXXXX", NULL);
	if (!g_mkdtemp(c->blobs)) {
		g_autofree char *msg = g_strdup_printf("cannot create %s: %s",
			c->blobs, g_strerror(errno));

		g_clear_pointer(&c->blobs, g_free);
		op_fail(vm, EIO, msg);
		return;
	}
	g_variant_builder_init(&b, G_VARIANT_TYPE("a(ss)"));
	for (i = 0; i < vm->libs->len; i++) {
		g_autofree char *lib = g_build_filename(vm->inject_dir,
			vm->libs->pdata[i], NULL);
		g_autofree char *n = g_strdup_printf("%u", i);
		g_autofree char *file = g_build_filename(c->blobs, n, NULL);

		g_variant_builder_add(&b, "(ss)", lib, file);
	}
	c->phase = PH_SAVING;
	vmnode_to_worker(vm, WIRE_W_SAVE, 0, g_variant_builder_end(&b));
}

static void
saved(struct vmnode *vm, int err, const char *msg)
{
	struct vmckpt *c = vm->ckpt;
	g_autoptr(GError) error = NULL;
	g_autofree char *path = vmnode_ckpt_path(vm, c->n);
	struct stat st;

	if (err) {
		op_fail(vm, err, msg);
		return;
	}
	if (!vmckpt_write_archive(vm, path, c->blobs, &error) ||
	    stat(path, &st) < 0) {
		op_fail(vm, EIO, error ? error->message : g_strerror(errno));
		return;
	}
	g_message("vm%u: checkpoint %u taken (%" G_GINT64_FORMAT " bytes)",
		  vm->index, c->n, (gint64)st.st_size);
	if (c->flags & CKPT_ON_CRASH) {
		g_free(vm->crash_ckpt);
		vm->crash_ckpt = g_strdup(path);
	}
	vmnode_send(vm, WIRE_STAT, c->tag, g_variant_new("(uttu)",
		    (guint32)st.st_mode, (guint64)st.st_size,
		    (guint64)st.st_mtime, (guint32)1));
	op_free(vm);
	vmcalls_pump(vm);
}

/* Restoring. */

static void
begin_restore(struct vmnode *vm)
{
	struct vmckpt *c = vm->ckpt;
	g_autoptr(GError) error = NULL;

	if (!(c->staged = vmckpt_stage(vm, c->path, &error))) {
		op_fail(vm, error->code == G_FILE_ERROR_NOENT ? ENOENT
			: EINVAL, error->message);
		return;
	}
	c->phase = PH_STAGED;
	/* on_worker_exit starts the next worker, which takes the staged
	 * state (vmckpt_before_spawn). */
	vmnode_stop_worker(vm);
}

void
vmckpt_idle(struct vmnode *vm)
{
	struct vmckpt *c = vm->ckpt;

	if (!c || c->phase != PH_WAITING)
		return;
	if (c->wait_timer)
		g_source_remove(c->wait_timer);
	c->wait_timer = 0;
	if (c->op == OP_TAKE)
		begin_save(vm);
	else
		begin_restore(vm);
}

/* Swap one of the VM's directories for the staged one. */
static gboolean
swap_dir(struct vmnode *vm, const char *live, const char *sub)
{
	struct vmckpt *c = vm->ckpt;
	g_autofree char *staged = g_build_filename(c->staged->dir, sub, NULL);
	g_autofree char *old = g_strconcat(staged, ".old", NULL);

	/* inject/ is not there if nothing was ever injected. */
	if ((rename(live, old) < 0 && errno != ENOENT) ||
	    rename(staged, live) < 0) {
		g_warning("vm%u: restore: cannot put %s in place: %s",
			  vm->index, sub, g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

void
vmckpt_before_spawn(struct vmnode *vm)
{
	struct vmckpt *c = vm->ckpt;
	struct vmckpt_staged *s;
	guint i;

	if (!c || c->phase != PH_STAGED)
		return;
	s = c->staged;
	if (!swap_dir(vm, vm->inject_dir, "inject") ||
	    !swap_dir(vm, vm->data_dir, "data")) {
		op_fail(vm, EIO, "cannot put the checkpoint's files in place");
		return;
	}
	/* What was injected is what the checkpoint holds, in its order. */
	g_ptr_array_set_size(vm->libs, 0);
	g_hash_table_remove_all(vm->programs);
	g_hash_table_remove_all(vm->lib_funcs);
	g_hash_table_remove_all(vm->sums);
	for (i = 0; i < s->inject->len; i++) {
		g_autoptr(GError) error = NULL;
		g_autofree char *p = g_build_filename(vm->inject_dir,
			s->inject->pdata[i], NULL);
		enum inject_kind kind;
		struct stat st;

		if (lstat(p, &st) < 0 ||
		    !elfcheck_classify(p, st.st_mode & 07777, &kind, &error)) {
			g_warning("vm%u: restore: leaving out %s: %s",
				  vm->index, (char *)s->inject->pdata[i],
				  error ? error->message : g_strerror(errno));
			unlink(p);
			continue;
		}
		vmnode_install(vm, s->inject->pdata[i], kind, NULL);
	}
	g_ptr_array_set_size(vm->env, 0);
	for (i = 0; i < s->env->len; i++)
		g_ptr_array_add(vm->env, g_strdup(s->env->pdata[i]));
	if (s->next_object > vm->next_object)
		vm->next_object = s->next_object;
	c->phase = PH_RESTORING;
}

void
vmckpt_after_spawn(struct vmnode *vm)
{
	struct vmckpt *c = vm->ckpt;
	GVariantBuilder b;
	guint i;

	if (!c || c->phase != PH_RESTORING || !vm->ws)
		return;
	g_variant_builder_init(&b, G_VARIANT_TYPE("a(ss)"));
	for (i = 0; i < vm->libs->len; i++) {
		g_autofree char *lib = g_build_filename(vm->inject_dir,
			vm->libs->pdata[i], NULL);
		g_autofree char *file = g_build_filename(c->staged->dir,
			"state", vm->libs->pdata[i], NULL);

		/* A library saved without state (none: a checkpoint made
		 * elsewhere) starts fresh. */
		if (g_file_test(file, G_FILE_TEST_EXISTS))
			g_variant_builder_add(&b, "(ss)", lib, file);
	}
	vmnode_to_worker(vm, WIRE_W_RESTORE, 0, g_variant_builder_end(&b));
}

/* The TEXT a restore answers with: "MODE SIZE NAME" per injected file
 * (mode in octal). */
static char *
injected_text(struct vmnode *vm)
{
	g_autoptr(GDir) d = g_dir_open(vm->inject_dir, 0, NULL);
	GString *s = g_string_new(NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *p = g_build_filename(vm->inject_dir, name,
						      NULL);
		struct stat st;

		if (*name != '.' && lstat(p, &st) == 0 && S_ISREG(st.st_mode))
			g_string_append_printf(s, "%o %" G_GINT64_FORMAT
					       " %s\n", st.st_mode & 07777,
					       (gint64)st.st_size, name);
	}
	return g_string_free(s, FALSE);
}

static void
restored(struct vmnode *vm, int err, const char *msg)
{
	struct vmckpt *c = vm->ckpt;
	g_autofree char *text = NULL;

	if (err) {
		op_fail(vm, err, msg);
		return;
	}
	g_message("vm%u: restored from checkpoint %u%s", vm->index, c->n,
		  c->tag ? "" : " after its worker died");
	if (c->flags & CKPT_ON_CRASH) {
		g_free(vm->crash_ckpt);
		vm->crash_ckpt = g_strdup(c->path);
	}
	text = injected_text(vm);
	if (c->tag)
		vmnode_send(vm, WIRE_TEXT, c->tag, g_variant_new_string(text));
	op_free(vm);
	vmcalls_pump(vm);
}

void
vmckpt_worker_msg(struct vmnode *vm, struct wire_msg *m)
{
	struct vmckpt *c = vm->ckpt;
	const char *msg;
	int err;

	g_variant_get(m->body, "(i&s)", &err, &msg);
	if (m->type == WIRE_W_SAVED && c && c->phase == PH_SAVING)
		saved(vm, err, msg);
	else if (m->type == WIRE_W_RESTORED && c && c->phase == PH_RESTORING)
		restored(vm, err, msg);
	else
		g_warning("vm%u: unexpected %s from the worker", vm->index,
			  wire_type_name(m->type));
}

gboolean
vmckpt_worker_exited(struct vmnode *vm, gboolean asked, const char *why)
{
	struct vmckpt *c = vm->ckpt;
	g_autoptr(GError) error = NULL;
	g_autofree char *msg = NULL;
	gboolean in_restore = FALSE;

	if (c && (c->phase == PH_SAVING || c->phase == PH_RESTORING)) {
		in_restore = c->phase == PH_RESTORING;
		msg = g_strdup_printf("the VM's worker ended (%s) while %s",
				      why, in_restore ? "restoring"
						      : "saving");
		op_fail(vm, EIO, msg);
		c = NULL;
	}
	/* A restore's own crash is not restored again: that would loop. */
	if (asked || in_restore || c || !vm->crash_ckpt ||
	    !g_file_test(vm->crash_ckpt, G_FILE_TEST_IS_REGULAR))
		return FALSE;
	c = g_new0(struct vmckpt, 1);
	c->op = OP_RESTORE;
	c->flags = CKPT_ON_CRASH;
	c->path = g_strdup(vm->crash_ckpt);
	c->n = (guint32)g_ascii_strtoull(strrchr(c->path, '/') + 1, NULL, 10);
	vm->ckpt = c;
	if (!(c->staged = vmckpt_stage(vm, c->path, &error))) {
		op_fail(vm, EIO, error->message);
		return FALSE;
	}
	g_message("vm%u: worker ended (%s): restoring checkpoint %u", vm->index,
		  why, c->n);
	c->phase = PH_STAGED;
	return TRUE;
}

int
vmnode_ckpt_remove(struct vmnode *vm, guint32 n, const char **why)
{
	g_autofree char *path = vmnode_ckpt_path(vm, n);

	if (vm->ckpt && vm->ckpt->path && strcmp(vm->ckpt->path, path) == 0) {
		*why = "it is being restored";
		return EBUSY;
	}
	if (unlink(path) < 0) {
		*why = errno == ENOENT ? "no such checkpoint"
				       : "cannot remove it";
		return errno;
	}
	if (g_strcmp0(vm->crash_ckpt, path) == 0)
		g_clear_pointer(&vm->crash_ckpt, g_free);
	*why = "";
	return 0;
}

void
vmckpt_clear(struct vmnode *vm)
{
	op_free(vm);
	g_clear_pointer(&vm->crash_ckpt, g_free);
}
