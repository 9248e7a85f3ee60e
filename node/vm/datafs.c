/*
 * datafs.c - WIRE_FSOP: the VM's data directory (its working directory) as
 * the mount sees it.
 *
 * Stateless: every operation opens what it needs, does its one thing and
 * closes it again, so file descriptors stay bounded whatever the client
 * does.  Reads answer at most WIRE_CHUNK bytes, listings come in pages
 * well under WIRE_MAX_BODY: nothing is ever held whole.
 *
 * No path may lead out of the data directory.  Paths are relative; an
 * absolute path or a ".." component is refused outright, and every path is
 * resolved with openat2(RESOLVE_BENEATH) from the data directory, so a
 * symbolic link (one a call made, say) is followed only while it stays
 * beneath it.  Operations on a name (unlink, mkdir, rmdir, rename) resolve
 * the parent directory that way and then act on the last component with
 * the *at() call, which never follows it.  This needs Linux 5.6 or later;
 * older kernels get ENOSYS rather than a weaker check.  The lexical
 * check is datapath.c's, on its own so that tests/fuzz can drive it.
 */
#include "vm_priv.h"
#include "datapath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

/* A LIST page: this many bytes of names and attributes at most. */
#define LIST_BUDGET (WIRE_CHUNK / 2)

struct fsop {
	guint8 op;
	const char *path, *path2;
	guint64 offset;
	guint32 arg;
	const guint8 *bytes;
	gsize len;
};

static void
reply(struct vmnode *vm, struct wire_msg *m, int err, const char *msg)
{
	vmnode_send(vm, WIRE_REPLY, m->tag,
		    g_variant_new("(is)", err, msg ? msg : g_strerror(err)));
}

/*
 * Open path (normal form, "" for the directory itself) beneath the data
 * directory root.  Returns a descriptor or -errno.  A path that would
 * leave the directory (through a symbolic link) is EPERM.
 */
static int
open_beneath(int root, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		/* openat2 refuses O_PATH with other flags than these. */
		.flags = flags | O_CLOEXEC | (flags & O_PATH ? 0 : O_NOCTTY),
		.mode = (flags & O_CREAT) ? (mode & 07777) : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	int tries, fd = -1;

	for (tries = 0; tries < 16; tries++) {
		fd = syscall(SYS_openat2, root, *path ? path : ".", &how,
			     sizeof(how));
		/* EAGAIN: a rename raced with the resolution; try again. */
		if (fd >= 0 || (errno != EAGAIN && errno != EINTR))
			break;
	}
	if (fd >= 0)
		return fd;
	if (errno == EXDEV)
		return -EPERM;		/* it leads out of the directory */
	if (errno == ENOSYS) {
		static gboolean told;
		if (!told)
			g_warning("openat2 is missing: data/ needs Linux 5.6 "
				  "or later to resolve paths safely");
		told = TRUE;
	}
	return -errno;
}

static int
open_data_dir(struct vmnode *vm)
{
	int fd = open(vmnode_data_dir(vm), O_PATH | O_DIRECTORY | O_CLOEXEC);

	return fd >= 0 ? fd : -errno;
}

/* Split a normal-form path into its parent (opened) and last name. */
static int
open_parent(int root, const char *path, const char **name)
{
	const char *slash = strrchr(path, '/');
	g_autofree char *parent = NULL;

	if (!*path)
		return -EBUSY;		/* the data directory itself */
	if (!slash) {
		*name = path;
		return open_beneath(root, "", O_PATH | O_DIRECTORY, 0);
	}
	*name = slash + 1;
	parent = g_strndup(path, slash - path);
	return open_beneath(root, parent, O_PATH | O_DIRECTORY, 0);
}

/* A regular file opened for reading or writing; -errno otherwise. */
static int
open_file(int root, const char *path, int flags, mode_t mode)
{
	struct stat st;
	int fd;

	/* O_NONBLOCK: a FIFO must not hang the node (nor a device). */
	fd = open_beneath(root, path, flags | O_NONBLOCK, mode);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	return fd;
}

static void
send_stat(struct vmnode *vm, struct wire_msg *m, const struct stat *st)
{
	vmnode_send(vm, WIRE_STAT, m->tag,
		    g_variant_new("(uttu)", (guint32)st->st_mode,
				  (guint64)st->st_size, (guint64)st->st_mtime,
				  (guint32)st->st_nlink));
}

/*
 * What path is: what it leads to, or, if it is a symbolic link that
 * leads nowhere beneath the data directory, the link itself (so that it
 * can still be listed and removed, though not followed).
 */
static int
do_stat(struct vmnode *vm, struct wire_msg *m, int root, const char *path)
{
	const char *name;
	struct stat st;
	int fd, e = 0, r;

	fd = open_beneath(root, path, O_PATH, 0);
	if (fd >= 0) {
		r = fstat(fd, &st);
	} else {
		e = -fd;
		if (e != EPERM && e != ENOENT && e != ELOOP)
			return e;
		fd = open_parent(root, path, &name);
		if (fd < 0)
			return e;
		r = fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW);
		if (r == 0 && !S_ISLNK(st.st_mode)) {
			close(fd);
			return e;
		}
	}
	if (r < 0)
		e = errno;
	close(fd);
	if (r == 0)
		send_stat(vm, m, &st);
	return r == 0 ? 0 : e;
}

/*
 * The attributes of an entry for a listing: a symbolic link shows what it
 * points to, if that is beneath the data directory, else itself.
 */
static gboolean
entry_stat(int root, int fd, const char *dir, const char *name,
	   struct stat *st)
{
	g_autofree char *path = NULL;
	int t;

	if (fstatat(fd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return FALSE;		/* gone meanwhile */
	if (!S_ISLNK(st->st_mode))
		return TRUE;
	path = *dir ? g_strconcat(dir, "/", name, NULL) : g_strdup(name);
	t = open_beneath(root, path, O_PATH, 0);
	if (t >= 0) {
		struct stat target;

		if (fstat(t, &target) == 0)
			*st = target;
		close(t);
	}
	return TRUE;
}

static int
do_list(struct vmnode *vm, struct wire_msg *m, int root, const char *path,
	guint64 first)
{
	g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(
		G_VARIANT_TYPE("a(sutt)"));
	gsize budget = LIST_BUDGET;
	gboolean more = FALSE;
	guint64 index = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	fd = open_beneath(root, path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return -fd;
	if (!(d = fdopendir(fd))) {
		int e = errno;
		close(fd);
		return e;
	}
	for (;;) {
		struct stat st;
		gsize cost;

		errno = 0;
		if (!(de = readdir(d)))
			break;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (index++ < first)
			continue;
		/* The protocol's strings are UTF-8: such a name cannot be
		 * told to the client (nor asked for). */
		if (!g_utf8_validate(de->d_name, -1, NULL))
			continue;
		cost = strlen(de->d_name) + 48;
		if (cost > budget) {
			more = TRUE;
			break;
		}
		if (!entry_stat(root, dirfd(d), path, de->d_name, &st))
			continue;
		budget -= cost;
		g_variant_builder_add(&b, "(sutt)", de->d_name,
				      (guint32)st.st_mode, (guint64)st.st_size,
				      (guint64)st.st_mtime);
	}
	if (!de && errno) {
		int e = errno;
		closedir(d);
		return e;
	}
	closedir(d);
	vmnode_send(vm, WIRE_LIST, m->tag,
		    g_variant_new("(a(sutt)b)", &b, more));
	return 0;
}

static int
do_read(struct vmnode *vm, struct wire_msg *m, int root,
	const struct fsop *o)
{
	guint32 max = MIN(o->arg, WIRE_CHUNK);
	g_autofree guint8 *buf = NULL;
	ssize_t got;
	int fd;

	if (o->offset > G_MAXINT64)
		return EINVAL;
	fd = open_file(root, o->path, O_RDONLY, 0);
	if (fd < 0)
		return -fd;
	buf = g_malloc(MAX(max, 1));
	do
		got = pread(fd, buf, max, o->offset);
	while (got < 0 && errno == EINTR);
	if (got < 0) {
		int e = errno;
		close(fd);
		return e;
	}
	close(fd);
	vmnode_send_bytes(vm, WIRE_DATA, m->tag, buf, got);
	return 0;
}

static int
do_write(int root, const struct fsop *o)
{
	const guint8 *p = o->bytes;
	gsize left = o->len;
	guint64 off = o->offset;
	int fd, e = 0;

	if (off > G_MAXINT64 || o->len > G_MAXINT64 - off)
		return EFBIG;
	fd = open_file(root, o->path, O_WRONLY, 0);
	if (fd < 0)
		return -fd;
	while (left > 0) {
		ssize_t w = pwrite(fd, p, left, off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			e = errno;
			break;
		}
		if (w == 0) {
			e = ENOSPC;
			break;
		}
		p += w;
		off += w;
		left -= w;
	}
	/* Errors of delayed allocation (ENOSPC, EDQUOT) may show here. */
	if (close(fd) < 0 && !e && errno != EINTR)
		e = errno;
	return e;
}

static int
do_create(int root, const struct fsop *o)
{
	/* The client's umask is already applied to the mode. */
	mode_t mask = umask(0);
	int fd = open_file(root, o->path, O_WRONLY | O_CREAT | O_TRUNC,
			   o->arg);

	umask(mask);
	if (fd < 0)
		return -fd;
	close(fd);
	return 0;
}

static int
do_truncate(int root, const struct fsop *o)
{
	int fd, e = 0;

	if (o->offset > G_MAXINT64)
		return EFBIG;
	fd = open_file(root, o->path, O_WRONLY, 0);
	if (fd < 0)
		return -fd;
	if (ftruncate(fd, o->offset) < 0)
		e = errno;
	close(fd);
	return e;
}

/* The file's data to the node's disk (the client's fsync, after its
 * writes: the frames come in order). */
static int
do_fsync(int root, const struct fsop *o)
{
	int fd, e = 0;

	fd = open_file(root, o->path, O_RDONLY, 0);
	if (fd < 0)
		return -fd;
	if (fsync(fd) < 0)
		e = errno;
	close(fd);
	return e;
}

/* chmod or set the mtime through an O_PATH descriptor of the file. */
static int
do_attr(int root, const struct fsop *o)
{
	char proc[64];
	int fd, r, e = 0;

	fd = open_beneath(root, o->path, O_PATH, 0);
	if (fd < 0)
		return -fd;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (o->op == FS_CHMOD) {
		r = chmod(proc, o->arg & 07777);
	} else {
		struct timespec ts[2] = {
			{ .tv_nsec = UTIME_OMIT },
			{ .tv_sec = (time_t)MIN(o->offset, (guint64)G_MAXINT64) },
		};
		r = utimensat(AT_FDCWD, proc, ts, 0);
	}
	if (r < 0)
		e = errno;
	close(fd);
	return e;
}

/* unlink, mkdir, rmdir: on the last name, never following it. */
static int
do_name(int root, const struct fsop *o)
{
	const char *name;
	int fd, r, e = 0;

	fd = open_parent(root, o->path, &name);
	if (fd < 0)
		return -fd;
	if (o->op == FS_MKDIR) {
		mode_t mask = umask(0);
		r = mkdirat(fd, name, o->arg & 07777);
		umask(mask);
	} else
		r = unlinkat(fd, name, o->op == FS_RMDIR ? AT_REMOVEDIR : 0);
	if (r < 0)
		e = errno;
	close(fd);
	return e;
}

static int
do_rename(int root, const char *from, const char *to)
{
	const char *name, *newname;
	int fd, newfd, e = 0;

	fd = open_parent(root, from, &name);
	if (fd < 0)
		return -fd;
	newfd = open_parent(root, to, &newname);
	if (newfd < 0) {
		close(fd);
		return -newfd;
	}
	if (renameat(fd, name, newfd, newname) < 0)
		e = errno;
	close(fd);
	close(newfd);
	return e;
}

static const char *const op_names[FS_OP_MAX] = {
	[FS_STAT] = "stat", [FS_LIST] = "list", [FS_READ] = "read",
	[FS_WRITE] = "write", [FS_CREATE] = "create",
	[FS_TRUNCATE] = "truncate", [FS_UNLINK] = "unlink",
	[FS_MKDIR] = "mkdir", [FS_RMDIR] = "rmdir", [FS_RENAME] = "rename",
	[FS_CHMOD] = "chmod", [FS_SETMTIME] = "setmtime",
	[FS_FSYNC] = "fsync",
};

void
datafs_op(struct vmnode *vm, struct wire_msg *m)
{
	g_autoptr(GVariant) bytes = NULL;
	g_autoptr(GString) path = g_string_new(NULL);
	g_autoptr(GString) path2 = g_string_new(NULL);
	struct fsop o;
	int root, err;

	g_variant_get(m->body, "(y&s&stu@ay)", &o.op, &o.path, &o.path2,
		      &o.offset, &o.arg, &bytes);
	o.bytes = g_variant_get_fixed_array(bytes, &o.len, 1);
	if (o.op >= FS_OP_MAX) {
		reply(vm, m, ENOSYS, "unknown file operation");
		return;
	}
	if ((err = datapath_normalize(o.path, path)) ||
	    (o.op == FS_RENAME &&
	     (err = datapath_normalize(o.path2, path2)))) {
		if (err == EPERM)
			g_warning("vm%u: %s: refusing path outside the data "
				  "directory", m->vm, op_names[o.op]);
		reply(vm, m, err, err == EPERM ? "path outside the data "
		      "directory" : NULL);
		return;
	}
	o.path = path->str;
	o.path2 = path2->str;
	if ((root = open_data_dir(vm)) < 0) {
		reply(vm, m, -root, NULL);
		return;
	}
	switch (o.op) {
	case FS_STAT:
		err = do_stat(vm, m, root, o.path);
		break;
	case FS_LIST:
		err = do_list(vm, m, root, o.path, o.offset);
		break;
	case FS_READ:
		err = do_read(vm, m, root, &o);
		break;
	case FS_WRITE:
		err = do_write(root, &o);
		break;
	case FS_CREATE:
		err = do_create(root, &o);
		break;
	case FS_TRUNCATE:
		err = do_truncate(root, &o);
		break;
	case FS_CHMOD:
	case FS_SETMTIME:
		err = do_attr(root, &o);
		break;
	case FS_UNLINK:
	case FS_MKDIR:
	case FS_RMDIR:
		err = do_name(root, &o);
		break;
	case FS_RENAME:
		err = do_rename(root, o.path, o.path2);
		break;
	case FS_FSYNC:
		err = do_fsync(root, &o);
		break;
	default:
		err = ENOSYS;
	}
	close(root);
	if (err)
		reply(vm, m, err, NULL);
	else if (o.op != FS_STAT && o.op != FS_LIST && o.op != FS_READ)
		reply(vm, m, 0, "");
}
