/*
 * fskept.c - what inject/ keeps at the mount: a copy of every file
 * written there, so that it reads back (cat, cmp) and so that a file
 * held here can be sent later.
 *
 * Every file written into VM/inject/ or .all/inject/ is copied, as it
 * is written, to the mount's kept directory (KEPT/VM/NAME in a private
 * temporary directory, $TMPDIR or /tmp; removed at unmount).  It holds
 * no more than was injected, and a file's copy goes with its rm.  A
 * read of inject/NAME gives these bytes, and its mode shows read
 * permission only when they are there.
 *
 * A file is held here, not sent, while it has a hidden name (.NAME: the
 * temporary file of rsync and of editors, which rename it when it is
 * whole) or is a program without execute permission (install and cp -p
 * chmod after they write).  A rename onto a real name, or a chmod +x,
 * sends the kept copy then, to each VM as inject/ would (through each
 * node's cache, injcache.c).
 */
#include "tree.h"
#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A private directory of this mount's: not the state directory, which
 * is handed to the next mount of it as soon as this one is unmounted,
 * while the copies are still in use. */
static const char *
kept_dir(struct tree *t)
{
	g_autoptr(GError) error = NULL;

	if (!t->kept_dir &&
	    !(t->kept_dir = g_dir_make_tmp("tricklefs-kept-XXXXXX", &error)))
		g_warning("no copy of injected files at the mount (they will "
			  "not read back): %s", error->message);
	return t->kept_dir;
}

/* KEPT/vm/VM/name, the copy; KEPT/partial/VM/name while it is written
 * (the copy of a file being replaced still reads back meanwhile). */
static char *
path_in(struct tree *t, const char *part, struct vm *vm, const char *name)
{
	g_autofree char *d = NULL;

	if (!kept_dir(t))
		return NULL;
	d = g_build_filename(t->kept_dir, part, vm->name, NULL);
	if (g_mkdir_with_parents(d, 0700) < 0) {
		g_warning("kept copies of %s/inject: %s: %s", vm->name, d,
			  g_strerror(errno));
		return NULL;
	}
	return g_build_filename(d, name, NULL);
}

char *
kept_path(struct tree *t, struct vm *vm, const char *name)
{
	return path_in(t, "vm", vm, name);
}

char *
kept_partial_path(struct tree *t, struct vm *vm, const char *name)
{
	return path_in(t, "partial", vm, name);
}

int
kept_create(struct tree *t, struct vm *vm, const char *name)
{
	g_autofree char *path = path_in(t, "partial", vm, name);
	int fd;

	if (!path)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		g_warning("%s: inject/%s will not read back: %s: %s",
			  vm->name, name, path, g_strerror(errno));
	return fd;
}

gboolean
kept_commit(struct tree *t, struct vm *vm, const char *name, int fd)
{
	g_autofree char *part = NULL, *path = NULL;

	if (fd < 0) {
		kept_drop(t, vm, name);
		return FALSE;
	}
	close(fd);
	part = path_in(t, "partial", vm, name);
	path = kept_path(t, vm, name);
	if (part && path && rename(part, path) == 0)
		return TRUE;
	g_warning("%s: inject/%s will not read back: %s", vm->name, name,
		  g_strerror(errno));
	kept_drop(t, vm, name);
	return FALSE;
}

void
kept_abandon(struct tree *t, struct vm *vm, const char *name, int fd)
{
	g_autofree char *part = NULL;

	if (fd < 0)
		return;
	close(fd);
	if ((part = path_in(t, "partial", vm, name)))
		unlink(part);
}

void
kept_drop(struct tree *t, struct vm *vm, const char *name)
{
	g_autofree char *path = NULL;

	if (!t->kept_dir || !(path = kept_path(t, vm, name)))
		return;
	if (unlink(path) < 0 && errno != ENOENT)
		g_warning("%s: %s", path, g_strerror(errno));
}

int
kept_rename(struct tree *t, struct vm *vm, const char *from, const char *to)
{
	g_autofree char *a = kept_path(t, vm, from);
	g_autofree char *b = kept_path(t, vm, to);

	if (!a || !b)
		return EIO;
	return rename(a, b) < 0 ? errno : 0;
}

/* Where the bytes of inj are: its own kept copy; for a VM's file that
 * came through .all/inject/, the copy .all keeps; for .all, the spool's
 * copy from an earlier mount of the same state.  NULL if none. */
static char *
copy_path(struct tree *t, struct vm *vm, struct injected *inj)
{
	struct vm *all = t->cl->all;
	struct injected *a;

	if (inj->kept)
		return kept_path(t, vm, inj->name);
	a = g_hash_table_lookup(all->injected, inj->name);
	if (vm->host && inj->installed && a && a->installed && a->kept)
		return kept_path(t, all, a->name);
	if (a && a->installed && t->cl->spool_dir)
		return g_build_filename(t->cl->spool_dir, a->name, NULL);
	return NULL;
}

gboolean
kept_readable(struct tree *t, struct vm *vm, struct injected *inj)
{
	g_autofree char *path = NULL;

	if (inj->kept)
		return TRUE;
	path = copy_path(t, vm, inj);
	return path && g_file_test(path, G_FILE_TEST_IS_REGULAR);
}

struct kept_reader {
	struct handle h;
	int fd;
};

static void
reader_read(fuse_req_t req, size_t size, off_t off,
	    struct fuse_file_info *fi)
{
	struct kept_reader *r = (struct kept_reader *)(uintptr_t)fi->fh;
	g_autofree char *buf = g_malloc(size);
	ssize_t n = pread(r->fd, buf, size, off);

	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, buf, n);
}

static void
reader_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct kept_reader *r = (struct kept_reader *)(uintptr_t)fi->fh;

	close(r->fd);
	g_free(r);
	fuse_reply_err(req, 0);
}

static const struct handle_ops reader_ops = {
	.read = reader_read,
	.release = reader_release,
};

void
inject_read_open(fuse_req_t req, struct vm *vm, struct injected *inj,
		 struct fuse_file_info *fi)
{
	g_autofree char *path = copy_path(req_tree(req), vm, inj);
	struct kept_reader *r;
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;

	if (fd < 0) {
		int err = path ? errno : ENOENT;

		g_message("%s: inject/%s: no copy at the mount to read back "
			  "(%s)", vm->name, inj->name, g_strerror(err));
		fuse_reply_err(req, err == ENOENT ? EACCES : err);
		return;
	}
	r = g_new0(struct kept_reader, 1);
	r->h.ops = &reader_ops;
	r->fd = fd;
	fi->fh = (uintptr_t)r;
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

/* Sending a held file: one part per VM. */
struct send;

struct send_part {
	struct send *s;
	struct vm *vm;
	struct injected *inj;	/* its entry in that VM's inject/ */
};

struct send {
	struct tree *t;
	struct vm *vm;		/* where it is held: a VM or .all */
	struct injected *inj;
	GPtrArray *parts;	/* struct send_part */
	guint waiting;		/* parts not answered yet */
	int error;
	char *why;		/* the first refusal */
	kept_sent_fn done;
	void *data;
};

/* One answer less to wait for; the last tells the caller. */
static void
one_less(struct send *s)
{
	if (--s->waiting)
		return;
	s->done(s->data, s->error, s->why);
	vm_injected_unref(s->vm, s->inj);
	g_ptr_array_unref(s->parts);
	g_free(s->why);
	g_free(s);
}

static void
part_answered(void *data, int err, const char *msg)
{
	struct send_part *p = data;
	struct send *s = p->s;

	if (err) {
		g_warning("%s: refusing inject/%s: %s", p->vm->name,
			  p->inj->name, msg);
		if (!s->error) {
			s->error = err;
			s->why = g_strdup(msg);
		}
	} else {
		p->inj->installed = TRUE;
		p->inj->size = s->inj->size;
		/* The held file keeps its time (written, or set). */
		if (p->inj != s->inj)
			p->inj->mtime = time(NULL);
	}
	vm_injected_unref(p->vm, p->inj);
	p->inj = NULL;
	one_less(s);
}

static void
start_part(struct send *s, struct vm *vm, const char *path, const char *sum)
{
	struct send_part *p = g_new0(struct send_part, 1);

	p->s = s;
	p->vm = vm;
	p->inj = vm_injected_add(vm, s->inj->name, s->inj->mode);
	p->inj->writers++;
	g_ptr_array_add(s->parts, p);
	s->waiting++;
	inject_install(vm, s->inj->name, s->inj->mode, path, sum,
		       part_answered, p);
}

int
kept_send(struct tree *t, struct vm *vm, struct injected *inj,
	  kept_sent_fn done, void *data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = kept_path(t, vm, inj->name);
	g_autofree char *sum = NULL;
	struct send *s;
	guint i;

	if (!path || !inj->kept)
		return EIO;
	if (!(sum = sha256_file(path, &error))) {
		g_warning("%s: cannot send inject/%s: %s", vm->name,
			  inj->name, error->message);
		return EIO;
	}
	s = g_new0(struct send, 1);
	s->t = t;
	s->vm = vm;
	s->inj = inj;
	s->parts = g_ptr_array_new_with_free_func(g_free);
	s->done = done;
	s->data = data;
	s->waiting = 1;		/* held until every part is started */
	inj->writers++;		/* it stays while it is sent */
	if (vm->host) {
		if (inject_reachable(vm))
			start_part(s, vm, path, sum);
	} else {
		for (i = 0; i < t->cl->vms->len; i++) {
			struct vm *v = t->cl->vms->pdata[i];

			if (vm_open(v) && inject_reachable(v))
				start_part(s, v, path, sum);
		}
	}
	if (s->parts->len == 0 && !s->error) {
		s->error = vm->host ? EHOSTUNREACH : EHOSTDOWN;
		s->why = g_strdup(vm->host && vm->host->down_reason
				  ? vm->host->down_reason : "no VM is up");
	}
	one_less(s);		/* the hold */
	return 0;
}

/* After a .all copy went to every VM: keep it for VMs that join later. */
void
kept_spool(struct tree *t, struct vm *all, struct injected *inj)
{
	g_autofree char *path = kept_path(t, all, inj->name);
	g_autoptr(GPtrArray) had = NULL;
	char buf[65536];
	guint i;
	ssize_t n;
	int in, out;

	if (!path || (in = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	out = spool_open(t->cl, inj->name);
	while (out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		spool_write(t->cl, inj->name, &out, buf, n);
	close(in);
	spool_commit(t->cl, inj->name, out, out >= 0);
	had = g_ptr_array_new();
	for (i = 0; i < t->cl->vms->len; i++) {
		struct vm *v = t->cl->vms->pdata[i];

		if (g_hash_table_contains(v->injected, inj->name))
			g_ptr_array_add(had, v);
	}
	/* VMs that joined while it was sent. */
	spool_give_rest(t->cl, inj, had);
}

static void
remove_tree(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *p = g_build_filename(dir, name, NULL);

		if (g_file_test(p, G_FILE_TEST_IS_DIR) &&
		    !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
			remove_tree(p);
		else
			unlink(p);
	}
	rmdir(dir);
}

/* Remove the kept directory: the mount ends. */
void
tree_free_kept(struct tree *t)
{
	if (!t->kept_dir)
		return;
	remove_tree(t->kept_dir);
	g_clear_pointer(&t->kept_dir, g_free);
}
