/*
 * ckpt.c - checkpoints of VMs at the mount (issue 16): which a VM has
 * (numbered from 1, with their size and time), asking its node to take,
 * restore and remove them, copies fetched into the state directory when
 * one is read, imports sent to the node, and the schedule of
 * -o checkpoint_interval and -o checkpoint_every.
 *
 * The checkpoints themselves are made and kept by the VM's node
 * (node/vm/vmckpt.c).  Every step is a node request with its deadline;
 * a take or a restore waits on the node for a running call to end for
 * half of -o reply_timeout at most, then fails with EBUSY.
 */
#include "ckpt.h"
#include "ckptar.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* -o checkpoint_interval's timer (a process mounts one cluster). */
static guint interval_timer;

struct vm_ckpts {
	GPtrArray *list;		/* struct checkpoint *, by number */
	guint32 last;			/* the highest number given */
	guint calls;			/* ended since the last one */
	gboolean busy;			/* a take or restore under way */
	gboolean unsupported;		/* a scheduled take found no hooks */
	gboolean moving;		/* migrate.c: calls held here */
};

struct op {
	struct vm *vm;
	guint32 n;
	ckpt_done_fn done;
	void *data;
	/* fetch */
	int fd;
	char *part, *path;
	guint64 off, size;
	ckpt_fetched_fn fetched;
	/* import */
	struct feed *feed;
	guint32 tag;
};

static struct vm_ckpts *
ckpts_of(struct vm *vm)
{
	if (!vm->ckpts) {
		vm->ckpts = g_new0(struct vm_ckpts, 1);
		vm->ckpts->list = g_ptr_array_new_with_free_func(g_free);
	}
	return vm->ckpts;
}

void
ckpt_vm_free(struct vm *vm)
{
	if (!vm->ckpts)
		return;
	g_ptr_array_unref(vm->ckpts->list);
	g_clear_pointer(&vm->ckpts, g_free);
}

GPtrArray *
ckpt_list(struct vm *vm)
{
	return ckpts_of(vm)->list;
}

const struct checkpoint *
ckpt_find(struct vm *vm, guint32 n)
{
	GPtrArray *l = ckpt_list(vm);
	guint i;

	for (i = 0; i < l->len; i++)
		if (((struct checkpoint *)l->pdata[i])->n == n)
			return l->pdata[i];
	return NULL;
}

static void
add(struct vm *vm, guint32 n, guint64 size, gint64 mtime)
{
	struct checkpoint *c = g_new0(struct checkpoint, 1);

	c->n = n;
	c->size = size;
	c->mtime = mtime;
	g_ptr_array_add(ckpt_list(vm), c);
	cluster_emit(vm->fs, CL_VM_CHANGED, vm->host, vm, NULL, NULL);
}

static void
drop(struct vm *vm, guint32 n)
{
	GPtrArray *l = ckpt_list(vm);
	guint i;

	for (i = 0; i < l->len; i++)
		if (((struct checkpoint *)l->pdata[i])->n == n) {
			g_ptr_array_remove_index(l, i);
			break;
		}
}

/* Where copies of vm's checkpoints are kept at the mount (made 0700);
 * NULL if it cannot be. */
static char *
cache_dir(struct vm *vm)
{
	const char *base = journal_dir(vm->fs) ? journal_dir(vm->fs)
					       : spool_dir(vm->fs);
	char *d;

	if (!base)
		return NULL;
	d = g_build_filename(base, "checkpoints", vm->name, NULL);
	if (g_mkdir_with_parents(d, 0700) < 0) {
		g_warning("%s: cannot create %s: %s", vm->name, d,
			  g_strerror(errno));
		g_free(d);
		return NULL;
	}
	return d;
}

char *
ckpt_cache_path(struct vm *vm, guint32 n)
{
	g_autofree char *d = cache_dir(vm);
	g_autofree char *name = g_strdup_printf("%u", n);

	return d ? g_build_filename(d, name, NULL) : NULL;
}

static guint32
wait_ms(struct vm *vm)
{
	return (guint32)vm->fs->opt.reply_timeout * 1000 / 2;
}

static void
op_free(struct op *o)
{
	if (o->fd >= 0)
		close(o->fd);
	if (o->part)
		unlink(o->part);
	g_free(o->part);
	g_free(o->path);
	g_free(o);
}

static struct op *
op_new(struct vm *vm, guint32 n, ckpt_done_fn done, void *data)
{
	struct op *o = g_new0(struct op, 1);

	o->vm = vm;
	o->n = n;
	o->done = done;
	o->data = data;
	o->fd = -1;
	return o;
}

/* A node's refusal: logged, and kept as the VM's last error (info). */
static void
op_error(struct op *o, const char *what, int err, const char *msg)
{
	vm_error(o->vm, err, "%s: %s", what, msg && *msg ? msg
						       : g_strerror(err));
}

static void
finish(struct op *o, int err)
{
	if (o->done)
		o->done(o->data, err, o->n);
	op_free(o);
}

/* Taking. */

static void
on_taken(void *data, int err, const char *msg, const guint8 *bytes,
	 gsize len)
{
	struct op *o = data;
	struct vm_ckpts *k = ckpts_of(o->vm);
	g_autoptr(GVariant) st = NULL;
	g_autoptr(GBytes) b = NULL;
	g_autofree char *cached = NULL;
	guint32 mode, nlink;
	guint64 size, mtime;

	k->busy = FALSE;
	if (!err && (!msg || strcmp(msg, "STAT") != 0))
		err = EPROTO;
	if (err) {
		g_autofree char *what = g_strdup_printf("checkpoint %u", o->n);

		op_error(o, what, err, msg);
		if (err == EOPNOTSUPP && !o->done)
			k->unsupported = TRUE;
		finish(o, err);
		return;
	}
	/* A node's bytes: checked (not trusted), and copied for GVariant's
	 * alignment. */
	b = g_bytes_new(bytes, len);
	st = g_variant_ref_sink(g_variant_new_from_bytes(
		G_VARIANT_TYPE("(uttu)"), b, FALSE));
	g_variant_get(st, "(uttu)", &mode, &size, &mtime, &nlink);
	/* A copy of an older checkpoint of that number (an earlier mount
	 * of this state) is not this one. */
	if ((cached = ckpt_cache_path(o->vm, o->n)))
		unlink(cached);
	add(o->vm, o->n, size, (gint64)mtime);
	g_message("%s: checkpoint %u taken (%" G_GUINT64_FORMAT " bytes)",
		  o->vm->name, o->n, size);
	finish(o, 0);
}

void
ckpt_take(struct vm *vm, ckpt_done_fn done, void *data)
{
	struct vm_ckpts *k = ckpts_of(vm);
	struct op *o;

	if (k->busy) {
		if (done)
			done(data, EBUSY, 0);
		return;
	}
	k->busy = TRUE;
	k->calls = 0;
	o = op_new(vm, ++k->last, done, data);
	host_request(vm->host, WIRE_CKPT_TAKE, vm->index, 0,
		     g_variant_new("(uuu)", o->n, wait_ms(vm),
				   vm->fs->opt.restore_on_crash ?
				   CKPT_ON_CRASH : 0u), on_taken, o);
}

/* Restoring. */

/* The injected files are those the node lists ("MODE SIZE NAME"). */
static void
take_injected(struct vm *vm, const char *text, gsize len)
{
	g_autofree char *copy = g_strndup(text, len);
	g_auto(GStrv) lines = g_strsplit(copy, "\n", -1);
	g_autoptr(GHashTable) now = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GList) all = g_hash_table_get_values(vm->injected);
	GList *l;
	char **line;

	for (line = lines; *line; line++) {
		char *end, *name;
		guint64 mode = g_ascii_strtoull(*line, &end, 8), size;
		struct injected *inj;

		if (end == *line || *end != ' ')
			continue;
		size = g_ascii_strtoull(end + 1, &name, 10);
		if (*name != ' ' || !name[1])
			continue;
		name++;
		inj = vm_injected_add(vm, name, mode & 07777);
		inj->mode = mode & 07777;
		inj->size = size;
		inj->installed = TRUE;
		g_hash_table_add(now, inj->name);
	}
	for (l = all; l; l = l->next) {
		struct injected *inj = l->data;

		if (inj->installed && !inj->writers && !inj->held &&
		    !g_hash_table_contains(now, inj->name))
			vm_injected_remove(vm, inj);
	}
	cluster_emit(vm->fs, CL_VM_CHANGED, vm->host, vm, NULL, NULL);
}

static void
on_restored(void *data, int err, const char *msg, const guint8 *bytes,
	    gsize len)
{
	struct op *o = data;

	ckpts_of(o->vm)->busy = FALSE;
	if (err) {
		g_autofree char *what = g_strdup_printf("restore %u", o->n);

		op_error(o, what, err, msg);
		finish(o, err);
		return;
	}
	take_injected(o->vm, (const char *)bytes, len);
	g_message("%s: restored from checkpoint %u", o->vm->name, o->n);
	finish(o, 0);
}

void
ckpt_restore(struct vm *vm, guint32 n, ckpt_done_fn done, void *data)
{
	struct vm_ckpts *k = ckpts_of(vm);
	struct op *o;

	if (!ckpt_find(vm, n)) {
		done(data, ENOENT, n);
		return;
	}
	if (k->busy) {
		done(data, EBUSY, n);
		return;
	}
	k->busy = TRUE;
	o = op_new(vm, n, done, data);
	host_request(vm->host, WIRE_CKPT_RESTORE, vm->index, 0,
		     g_variant_new("(uuu)", n, wait_ms(vm),
				   vm->fs->opt.restore_on_crash ?
				   CKPT_ON_CRASH : 0u), on_restored, o);
}

/* Removing. */

static void
on_removed(void *data, int err, const char *msg, const guint8 *bytes,
	   gsize len)
{
	struct op *o = data;
	g_autofree char *cached = NULL;

	/* Gone from the node already: gone here too. */
	if (err && err != ENOENT) {
		g_autofree char *what = g_strdup_printf("rm checkpoint %u",
							o->n);

		op_error(o, what, err, msg);
		finish(o, err);
		return;
	}
	drop(o->vm, o->n);
	if ((cached = ckpt_cache_path(o->vm, o->n)))
		unlink(cached);
	cluster_emit(o->vm->fs, CL_VM_CHANGED, o->vm->host, o->vm, NULL, NULL);
	finish(o, 0);
}

void
ckpt_remove(struct vm *vm, guint32 n, ckpt_done_fn done, void *data)
{
	if (!ckpt_find(vm, n)) {
		done(data, ENOENT, n);
		return;
	}
	host_request(vm->host, WIRE_CKPT_REMOVE, vm->index, 0,
		     g_variant_new_uint32(n), on_removed,
		     op_new(vm, n, done, data));
}

/* Fetching: the node's bytes into the cache, a chunk per request. */

static void fetch_next(struct op *o);

static void
fetch_end(struct op *o, int err)
{
	if (!err && rename(o->part, o->path) < 0)
		err = errno;
	if (!err)
		g_clear_pointer(&o->part, g_free);
	o->fetched(o->data, err, err ? NULL : o->path);
	op_free(o);
}

static void
on_chunk(void *data, int err, const char *msg, const guint8 *bytes,
	 gsize len)
{
	struct op *o = data;
	gsize off = 0;

	if (err) {
		g_autofree char *what = g_strdup_printf("reading checkpoint %u",
							o->n);

		op_error(o, what, err, msg);
		fetch_end(o, err);
		return;
	}
	while (off < len) {
		ssize_t w = write(o->fd, bytes + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			g_warning("%s: cannot write %s: %s", o->vm->name,
				  o->part, g_strerror(errno));
			fetch_end(o, EIO);
			return;
		}
		off += w;
	}
	o->off += len;
	if (len == 0 || o->off >= o->size) {
		if (o->off != o->size) {
			g_warning("%s: checkpoint %u: %" G_GUINT64_FORMAT
				  " bytes where %" G_GUINT64_FORMAT " were "
				  "listed", o->vm->name, o->n, o->off, o->size);
			fetch_end(o, EIO);
			return;
		}
		err = close(o->fd) < 0 ? errno : 0;
		o->fd = -1;
		fetch_end(o, err);
		return;
	}
	fetch_next(o);
}

static void
fetch_next(struct op *o)
{
	host_request(o->vm->host, WIRE_CKPT_READ, o->vm->index, 0,
		     g_variant_new("(utu)", o->n, o->off,
				   (guint32)WIRE_CHUNK), on_chunk, o);
}

void
ckpt_fetch(struct vm *vm, guint32 n, ckpt_fetched_fn done, void *data)
{
	const struct checkpoint *c = ckpt_find(vm, n);
	struct op *o;
	struct stat st;

	if (!c) {
		done(data, ENOENT, NULL);
		return;
	}
	o = op_new(vm, n, NULL, data);
	o->fetched = done;
	o->size = c->size;
	if (!(o->path = ckpt_cache_path(vm, n))) {
		done(data, EIO, NULL);
		op_free(o);
		return;
	}
	if (stat(o->path, &st) == 0 && (guint64)st.st_size == c->size) {
		done(data, 0, o->path);
		op_free(o);
		return;
	}
	o->part = g_strdup_printf("%s.part-%p", o->path, (void *)o);
	o->fd = open(o->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (o->fd < 0) {
		g_warning("%s: cannot create %s: %s", vm->name, o->part,
			  g_strerror(errno));
		g_clear_pointer(&o->part, g_free);
		done(data, EIO, NULL);
		op_free(o);
		return;
	}
	if (c->size == 0) {
		fetch_end(o, 0);
		return;
	}
	fetch_next(o);
}

/* Importing: a file checked here, then sent to the node as the VM's
 * next checkpoint. */

static void
on_put(void *data, int err, const char *msg, const guint8 *bytes, gsize len)
{
	struct op *o = data;
	g_autofree char *cached = NULL;

	if (err) {
		g_autofree char *what = g_strdup_printf("import as checkpoint "
							"%u", o->n);

		op_error(o, what, err, msg);
		finish(o, err);
		return;
	}
	add(o->vm, o->n, o->size, g_get_real_time() / G_USEC_PER_SEC);
	/* The bytes are at the mount already: they are its copy. */
	if ((cached = ckpt_cache_path(o->vm, o->n)) &&
	    link(o->path, cached) < 0)
		g_debug("%s: no copy of checkpoint %u kept: %s", o->vm->name,
			o->n, g_strerror(errno));
	g_message("%s: imported checkpoint %u", o->vm->name, o->n);
	finish(o, 0);
}

static void
on_put_fed(void *data, int err)
{
	struct op *o = data;

	o->feed = NULL;
	if (err == 0) {
		host_request(o->vm->host, WIRE_INJECT_END, o->vm->index,
			     o->tag, NULL, on_put, o);
		return;
	}
	if (err != ECONNRESET && err != ECANCELED)
		host_send(o->vm->host, WIRE_INJECT_ABORT, o->vm->index, o->tag,
			  NULL);
	finish(o, err == ECONNRESET ? EHOSTUNREACH : err);
}

void
ckpt_import(struct vm *vm, const char *path, ckpt_done_fn done, void *data)
{
	ckpt_import_as(vm, 0, path, done, data);
}

guint32
ckpt_next(struct vm *vm)
{
	return ++ckpts_of(vm)->last;
}

gboolean
vm_moving(const struct vm *vm)
{
	return vm->ckpts && vm->ckpts->moving;
}

void
ckpt_set_moving(struct vm *vm, gboolean on)
{
	ckpts_of(vm)->moving = on;
}

void
ckpt_forget_all(struct vm *vm)
{
	g_ptr_array_set_size(ckpt_list(vm), 0);
}

void
ckpt_import_as(struct vm *vm, guint32 n, const char *path, ckpt_done_fn done,
	       void *data)
{
	g_autoptr(GError) error = NULL;
	struct op *o;
	struct stat st;
	int fd;

	if (!ckpt_check_file(path, &error)) {
		vm_error(vm, EINVAL, "import: %s", error->message);
		done(data, EINVAL, 0);
		return;
	}
	if (vm->host->state != HOST_UP) {
		done(data, EHOSTUNREACH, 0);
		return;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		done(data, err, 0);
		return;
	}
	/* Numbered once it passed: a refused file takes no number. */
	if (!n)
		n = ckpt_next(vm);
	o = op_new(vm, n, done, data);
	if (n > ckpts_of(vm)->last)
		ckpts_of(vm)->last = n;
	o->path = g_strdup(path);
	o->size = st.st_size;
	o->tag = host_next_tag(vm->host);
	host_send(vm->host, WIRE_CKPT_PUT, vm->index, o->tag,
		  g_variant_new("(ut)", o->n, (guint64)st.st_size));
	o->feed = feed_start(vm->host, vm->index, WIRE_INJECT_DATA, o->tag, fd,
			     NULL, on_put_fed, o);
}

/* The schedule. */

static gboolean
schedulable(struct vm *vm)
{
	return vm->host && vm_open(vm) && vm->host->state == HOST_UP &&
	       vm->state == VM_UP && !ckpts_of(vm)->busy &&
	       !ckpts_of(vm)->unsupported;
}

static gboolean
on_interval(gpointer data)
{
	struct cluster *cl = data;
	guint i;

	for (i = 0; i < cl->vms->len; i++)
		if (schedulable(cl->vms->pdata[i]))
			ckpt_take(cl->vms->pdata[i], NULL, NULL);
	return G_SOURCE_CONTINUE;
}

static void
on_event(void *data, const struct cluster_event *ev)
{
	struct cluster *cl = data;
	struct vm *vm;

	if (ev->type != CL_CALL_ENDED || !ev->call || !ev->call->vm->host)
		return;
	vm = ev->call->vm;
	if (++ckpts_of(vm)->calls >= (guint)cl->opt.checkpoint_every &&
	    schedulable(vm))
		ckpt_take(vm, NULL, NULL);
}

void
ckpt_init(struct cluster *cl)
{
	if (cl->opt.checkpoint_interval > 0)
		interval_timer = g_timeout_add_seconds(
			cl->opt.checkpoint_interval, on_interval, cl);
	if (cl->opt.checkpoint_every > 0)
		cluster_listen(cl, on_event, cl);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

void
ckpt_cleanup(struct cluster *cl)
{
	const char *base = journal_dir(cl) ? journal_dir(cl) : cl->spool_dir;

	/* The copies go with the state, unless it is kept for a remount. */
	if (base && !cl->keep_sessions) {
		g_autofree char *d = g_build_filename(base, "checkpoints",
						      NULL);

		nftw(d, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	}
	if (interval_timer)
		g_source_remove(interval_timer);
	interval_timer = 0;
	if (cl->opt.checkpoint_every > 0)
		cluster_unlisten(cl, on_event, cl);
}
