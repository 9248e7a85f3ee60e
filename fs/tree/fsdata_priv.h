/*
 * fsdata_priv.h - what the fsdata*.c files share with one another and
 * with nothing else (fsops.c sees only fsdata.h).
 *
 *   fsdata.c     the per-VM table from inode ids to paths; names
 *                (lookup, getattr, setattr, mkdir, unlink, rmdir,
 *                rename) and directory listings
 *   fsdata_op.c  ops: a FUSE request sent as node requests, answered
 *                once the last of them has answered
 *   fsdata_io.c  open data files: open, create, read (ahead), write
 *                (pipelined), flush, fsync, release
 */
#pragma once

#include "fsdata.h"

/* The part index of the node request whose answer answers the op: the
 * STAT whose attributes the reply carries (other STATs count VMs), or a
 * listing's LIST. */
#define MAIN G_MAXUINT

/* An open data file.  Writes go to every target (one VM, or all of them
 * for .all), reads to the reader.  Here, not in fsdata_io.c, because an
 * op's answers fill in ends. */
struct data_file {
	struct handle h;	/* H_DATA */
	guint refs;		/* the handle, its writes out, its read-ahead */
	struct vm *vm;		/* as opened: a VM or .all */
	guint32 id;
	struct vm *reader;
	GPtrArray *targets;	/* struct vm * */
	gboolean append;
	guint64 *ends;		/* O_APPEND: next offset, per target */
	guint64 size_hint;	/* its size as last seen: read-ahead stops */
	/* Writes are answered when sent (fsdata_io.c); the nodes' answers
	 * come later.  The first that failed is the error of every later
	 * write until a flush or fsync reports it. */
	guint writing;		/* writes sent, not yet answered */
	int werr;
	GQueue syncs;		/* flush and fsync requests waiting for
				   writing to reach 0 */
};

struct data_dir;		/* an open data directory (fsdata.c) */

struct op;
typedef void (*op_done_fn)(struct op *op);

/* One FUSE request under data/, as node requests (fsdata_op.c). */
struct op {
	fuse_req_t req;
	struct vm *vm;		/* as addressed: a VM or .all */
	const char *what;	/* for the log */
	char *path, *path2;
	guint waiting;
	int err;
	gboolean fanout;	/* a change under .all: log each failure */
	guint changed;		/* VMs that made a change */
	int already;		/* a VM was there already (see on_answer) */
	op_done_fn done;
	/* A read (lookup, stat, open to read, read, listing) ends at once on
	 * Ctrl-C: then dropped, not done, runs when the answers are in, to
	 * free what done would have handed on (NULL: nothing). */
	gboolean interruptible;
	gboolean interrupted;	/* the request has its EINTR */
	op_done_fn dropped;

	/* the main STAT's answer */
	gboolean have_stat;
	guint32 mode, nlink;
	guint64 fsize, mtime;

	guint32 id;		/* the inode the answer is about */
	gboolean create;	/* open_done: answer a create */
	struct fuse_file_info fi;
	struct data_file *file;
	struct data_dir *dir;
	size_t size;
	off_t off;
	GVariant *list;		/* a LIST's answer, (a(sutt)b) */
	char *buf;		/* a read's chunks, at index * WIRE_CHUNK */
	guint32 *lens;		/* bytes each chunk got */
	guint parts;
	guint8 *rewound;	/* O_APPEND targets whose end was taken back */
};

extern const struct handle_ops data_file_ops, data_dir_ops;

/* The path table of vm, made at first use. */
struct fsdata *data_paths(struct vm *vm);

/* fsdata.c: what changed vm's data/ through the mount moves its
 * generation on (send_body does it for every change): pieces read ahead
 * at an older generation are not served. */
guint64 data_gen(struct vm *vm);
void data_changed(struct vm *vm);

/* fsdata.c: the id <-> path table, and the replies that hand ids out. */
const char *path_of(struct vm *vm, guint32 id);
guint32 id_of(struct vm *vm, const char *path);
char *child_path(struct vm *vm, guint32 parent, const char *name, int *err);
struct op *child_op(fuse_req_t req, struct vm *vm, guint32 parent,
		    const char *name, const char *what, op_done_fn done);
int reply_entry(struct op *op, struct fuse_file_info *fi);

/* fsdata_op.c: which VMs an op goes to, and the op itself. */
GPtrArray *targets_of(struct cluster *fs, struct vm *vm);
struct vm *reader_of(struct cluster *fs, struct vm *vm);
struct op *op_new(fuse_req_t req, struct vm *vm, const char *what,
		  char *path, op_done_fn done);
void op_go(struct op *op);
GVariant *fsop_body(guint8 fsop, const char *path, const char *path2,
		    guint64 offset, guint32 arg, const void *bytes, gsize len);
void send_body(struct op *op, struct vm *vm, GVariant *body, guint8 fsop,
	       guint index, guint32 want);
void send_op(struct op *op, struct vm *vm, guint8 fsop, const char *path,
	     const char *path2, guint64 offset, guint32 arg, guint index);
void send_all(struct op *op, guint8 fsop, const char *path,
	      const char *path2, guint64 offset, guint32 arg);
void send_stat(struct op *op, const char *path);
gboolean check_stat(struct op *op);
