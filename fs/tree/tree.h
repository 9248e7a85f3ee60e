/*
 * tree.h - the FUSE layer: the mount's tree of files over the cluster.
 *
 * The top of the mount's layers (fs/README.md): the ops table
 * (fsops.c), inode numbers and attributes (inode.c), and one file per
 * kind of file: inject/ (fsinject.c), calls/new (fscalls.c), joins and
 * stream reads of calls (fsjoin.c), data/ (fsdata*.c), info, ctl,
 * functions/ and objects/ (fsvm.c; info's size for stat: fsinfo.c),
 * .ctl (fsctl.c), .done (fsdone.c), .log (fslog.c).
 * Only this layer sees FUSE.  It calls the cluster (cluster.h) and hears
 * its news through one listener (fsjoin.c: calls ending, links draining,
 * hosts going down).
 */
#pragma once

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include "cluster.h"
#include "ckpt.h"

/* A call's path from the mount, "VM/calls/N" (".any/calls/N" for a call
 * of .any), with the directory's name and the call's number: how
 * .all/calls/new and .done name a call, so that MOUNT/ID/result and
 * trickle-join MOUNT/ID work as they are.  A VM's own calls/new and
 * .any/calls/new answer the bare N instead (the clone idiom). */
#define CALL_PATH_FMT "%s/calls/%u"

/* The mount's tree: fuse_req_userdata() of every request. */
struct tree {
	struct cluster *cl;
	uid_t uid;		/* the mount's owner: all its calls run as */
	gid_t gid;
	GArray *allowed;	/* uid_t: -o allow_users, may act as uid */
	time_t started;
	GList *done_readers;	/* open .done files (fsdone.c) */
	GHashTable *waits;	/* struct call * -> its parked joins and
				   pollers (fsjoin.c) */
	GHashTable *held;	/* struct host * -> writes held back by its
				   link's flow control (fsjoin.c) */
	GHashTable *ahead;	/* struct call * or struct data_file * ->
				   reads sent ahead of its reader
				   (fsread.c) */
	GHashTable *info_cache;	/* struct vm * -> its info text, kept
				   briefly for stat (fsinfo.c) */
	char *kept_dir;		/* copies of injected files (fskept.c) */
};

struct tree *tree_new(struct cluster *cl);
/* Answer every parked request (EIO) and let go of what the tree holds,
 * before the cluster is freed. */
void tree_free(struct tree *t);
extern const struct fuse_lowlevel_ops tree_ops;

static inline struct tree *
req_tree(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline struct cluster *
req_fs(fuse_req_t req)
{
	return req_tree(req)->cl;
}

/*
 * Every open file's fi->fh points at a struct that starts with a struct
 * handle, whose ops serve it: a new kind of file is its own file and its
 * own table.  A NULL op answers as a plain file would (EBADF for writes,
 * success for flush, fsync and release).
 */
struct handle;
struct handle_ops {
	void (*read)(fuse_req_t req, size_t size, off_t off,
		     struct fuse_file_info *fi);
	void (*write)(fuse_req_t req, const char *buf, size_t size,
		      off_t off, struct fuse_file_info *fi);
	void (*flush)(fuse_req_t req, struct fuse_file_info *fi);
	void (*fsync)(fuse_req_t req, int datasync,
		      struct fuse_file_info *fi);
	void (*release)(fuse_req_t req, struct fuse_file_info *fi);
	void (*poll)(fuse_req_t req, struct fuse_file_info *fi,
		     struct fuse_pollhandle *ph);
	void (*readdir)(fuse_req_t req, size_t size, off_t off,
			struct fuse_file_info *fi);
	void (*releasedir)(fuse_req_t req, struct fuse_file_info *fi);
};

struct handle {
	const struct handle_ops *ops;
};

/* fsjoin.c: joins, reads of a call's streams, poll, held writes */
/* Reply to a read of result now or when the call ends. */
void call_join(struct call *c, fuse_req_t req, size_t size, off_t off);

/* fsread.c: reads of a call's streams from its node */
/* Read size bytes at off of a call's stream from the node into req. */
void call_read(struct call *c, guint stream, fuse_req_t req, size_t size,
	       off_t off);
/* Forget the reads sent ahead for c's output (its file was closed). */
void read_ahead_drop(struct tree *t, struct call *c);
/* What a read-ahead reads, for its kind of file (key: a call, an open
 * data/ file): how to ask its node for a piece, how to read without
 * pieces (one failed, or another read waits), and how to hold key while
 * pieces are out. */
struct ahead_ops {
	void (*ask)(void *key, guint stream, guint64 off, guint32 want,
		    request_done_fn done, void *data);
	void (*direct)(void *key, guint stream, fuse_req_t req, size_t size,
		       off_t off);
	/* The stream has end bytes at least (full: the piece was whole, it
	 * may have more); NULL: nothing to note. */
	void (*saw)(void *key, guint stream, guint64 end, gboolean full);
	void (*hold)(void *key);
	void (*release)(void *key);
	/* 0: the source never changes (an ended call's output).  Else
	 * pieces answered longer ago than this (µs) are asked again, and a
	 * short piece (the end) is served to one read only. */
	gint64 fresh_us;
};
/* Serve a read of key's stream from pieces asked ahead, asking up to end
 * (at least the read itself); pieces of another generation gen of the
 * source are dropped first.  FALSE: not this way (a read of key waits
 * already): the caller reads by itself. */
gboolean read_ahead(struct tree *t, const struct ahead_ops *ops, void *key,
		    guint stream, guint64 end, guint64 gen, fuse_req_t req,
		    size_t size, off_t off);
/* key's file was closed (not while a read of it waits). */
void read_ahead_forget(struct tree *t, void *key);
void read_ahead_init(struct tree *t);
void read_ahead_free(struct tree *t);
void call_poll(struct call *c, fuse_req_t req, struct fuse_pollhandle *ph);
/* Answer a FUSE write now, or once h's link has room again. */
void tree_reply_write(struct tree *t, struct host *h, fuse_req_t req,
		      size_t size);
/* Open result, stdout, stderr: the call is held while open.  A result
 * or stdout (joins) read(2) and closed after its call ended counts as
 * read (-o keep_calls may reap it then); output_read_seen notes a
 * read. */
void output_open(fuse_req_t req, struct call *c, gboolean joins,
		 struct fuse_file_info *fi);
void output_read_seen(struct fuse_file_info *fi);

/* fsvm.c */
void info_open(fuse_req_t req, struct vm *vm, struct fuse_file_info *fi);
void ctl_open(fuse_req_t req, struct vm *vm, guint32 call,
	      struct fuse_file_info *fi);
void rmdir_call(fuse_req_t req, struct vm *vm, guint32 id);
/* rm -rf calls/N: unlinking the files of an ended call is accepted (they
 * go with its rmdir); of a running one, refused (EBUSY). */
void unlink_call_file(fuse_req_t req, struct call *c, const char *name);
/* 0 if the caller may remove c now, else the errno (EBUSY with the
 * reason and what to do first logged). */
int call_removable(fuse_req_t req, const struct call *c);
void object_destroy(fuse_req_t req, struct vm *vm, guint32 id);

/* The whole text of info: the mount's half, then the node's answer
 * (bytes, or err and msg; all 0/NULL: the mount's half alone). */
GString *info_compose(struct vm *vm, int err, const char *msg,
		      const guint8 *bytes, gsize len);

/* fsinfo.c: info's text kept briefly, so that stat gives its size */
typedef void (*info_ready_fn)(fuse_req_t req, void *data);
/* Call ready(req, data) once info_cache_size() of vm is worth telling:
 * at once if a fresh text is kept, else when the node answers, or in at
 * most a second. */
void info_when_sized(fuse_req_t req, struct vm *vm, info_ready_fn ready,
		     void *data);
gsize info_cache_size(struct tree *t, struct vm *vm);
/* The text kept if it is fresh (a read then gives the size stat gave),
 * or NULL. */
const GString *info_cache_fresh(struct tree *t, struct vm *vm);
/* Keep text (taken) as vm's info now. */
void info_cache_put(struct tree *t, struct vm *vm, GString *text);
void info_cache_free(struct tree *t);

/* fsckpt.c: VM/checkpoints/ and the ctl's checkpoint commands */
/* "checkpoint", "restore N": TRUE if cmd was one (req is answered). */
gboolean ckpt_ctl_command(fuse_req_t req, struct vm *vm, const char *cmd,
			  size_t size);
void ckpt_file_open(fuse_req_t req, struct vm *vm, guint32 n,
		    struct fuse_file_info *fi);
void ckpt_file_create(fuse_req_t req, struct vm *vm, const char *name,
		      struct fuse_file_info *fi);
void ckpt_file_unlink(fuse_req_t req, struct vm *vm, const char *name);

/* fsctl.c: MOUNT/.ctl */
void mctl_open(fuse_req_t req, struct fuse_file_info *fi);

/* fslog.c: MOUNT/.log */
void log_open(fuse_req_t req, struct fuse_file_info *fi);
/* Its size: where the next line will start. */
guint64 log_size(void);

/* fsdone.c */
void done_open(fuse_req_t req, struct fuse_file_info *fi);
/* A call ended: tell the open .done files. */
void done_announce(struct tree *t, struct call *c);

/* fsinject.c */
void inject_create(fuse_req_t req, struct vm *vm, const char *name,
		   mode_t mode, struct fuse_file_info *fi);
void inject_open(fuse_req_t req, struct vm *vm, struct injected *inj,
		 struct fuse_file_info *fi);
void inject_unlink(fuse_req_t req, struct vm *vm, const char *name);
/* Its node takes a transfer now (not down, not reconnecting). */
gboolean inject_reachable(const struct vm *vm);
/* inj stays at the mount, not installed, for why (logged). */
void inject_hold(struct vm *vm, struct injected *inj, const char *why);
#define INJECT_WHY_HIDDEN "a hidden name (.NAME): renaming it to a name " \
	"without the dot installs it"
#define INJECT_WHY_NOEXEC "a program without execute permission: chmod " \
	"+x installs it"

/* fsheld.c: chmod, utimens (install, cp -p) and rename (rsync, editors)
 * in inject/ */
void inject_setattr(fuse_req_t req, struct vm *vm, struct injected *inj,
		    struct stat *attr, int to_set);
void inject_rename(fuse_req_t req, struct vm *vm, const char *name,
		   const char *newname);

/* fskept.c: the copy of every injected file at the mount */
typedef void (*kept_sent_fn)(void *data, int err, const char *why);
/* KEPT/VM/name, or NULL if there is no kept directory. */
char *kept_path(struct tree *t, struct vm *vm, const char *name);
/* Where kept_create() writes, until kept_commit(). */
char *kept_partial_path(struct tree *t, struct vm *vm, const char *name);
/* Start a new copy of vm's inject/name: an fd to write, or -1.  The
 * copy there reads back until kept_commit (TRUE: the new one does now;
 * fd -1: none does) or kept_abandon. */
int kept_create(struct tree *t, struct vm *vm, const char *name);
gboolean kept_commit(struct tree *t, struct vm *vm, const char *name,
		     int fd);
void kept_abandon(struct tree *t, struct vm *vm, const char *name, int fd);
void kept_drop(struct tree *t, struct vm *vm, const char *name);
int kept_rename(struct tree *t, struct vm *vm, const char *from,
		const char *to);
/* Its bytes can be read back (its mode shows r). */
gboolean kept_readable(struct tree *t, struct vm *vm, struct injected *inj);
void inject_read_open(fuse_req_t req, struct vm *vm, struct injected *inj,
		      struct fuse_file_info *fi);
/* Send the kept copy of inj to vm (or every VM up, for .all); done runs
 * once every VM answered, with the first refusal.  0, or an errno and
 * done does not run. */
int kept_send(struct tree *t, struct vm *vm, struct injected *inj,
	      kept_sent_fn done, void *data);
/* .all's file was installed: the spool keeps it for VMs that join. */
void kept_spool(struct tree *t, struct vm *all, struct injected *inj);
void tree_free_kept(struct tree *t);

/* fsstdin.c: calls/N/stdin */
void stdin_open(fuse_req_t req, struct call *c, struct fuse_file_info *fi);

/* fscalls.c */
void calls_new_open(fuse_req_t req, struct vm *vm, struct fuse_file_info *fi);

/*
 * reply.c: who may do what.  With -o allow_other anyone may reach the
 * mount, but everything that runs code on the nodes runs it as the
 * mount's owner: forking, injecting, writing a ctl, changing data/ are
 * for the owner, root and -o allow_users.  A call's output and its ctl
 * are its forker's (and root's), not the owner's.  Checked on every such
 * request from its uid; a refusal is logged, and the request gets EACCES.
 */
gboolean tree_may_act(fuse_req_t req, const char *what);
gboolean tree_may_see_call(fuse_req_t req, const struct call *c,
			   const char *what);
/* Who forked c (a .any call's VM half: who forked the .any call). */
uid_t call_uid(const struct call *c);
uid_t req_uid(fuse_req_t req);

/* reply.c: replies the files share */
/* Reply to a read of size at off of a text held here. */
void reply_bytes(fuse_req_t req, const char *text, size_t len, size_t size,
		 off_t off);
void reply_text(fuse_req_t req, const char *text, size_t size, off_t off);
/* Reply to a create in inject/ with the new file's entry. */
void reply_create_injected(fuse_req_t req, struct vm *vm,
			   struct injected *inj, struct fuse_file_info *fi);
