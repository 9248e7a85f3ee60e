/*
 * inode.h - the names, inode numbers and attributes of the tree.
 *
 * Inode numbers are computed, not allocated: the kind of node, the VM's
 * slot and the call, function, object or data id are packed into 64 bits,
 * so there is no inode table to keep in step with lookups and forgets
 * (data/ paths, kept by fsdata.c, are the one exception).
 */
#pragma once

#include "tree.h"

enum ikind {
	I_ROOT, I_VM, I_INJECT, I_INJFILE, I_CALLS, I_NEW,
	I_LAST,			/* calls/last: a symlink to the last call
				   forked on this mount, not listed */
	I_DATA,			/* id: fsdata's path id, 0 = data/ */
	I_FUNCS, I_FUNC,	/* id: vm_func_id() */
	I_OBJECTS, I_OBJECT,	/* id: the object's id on the VM */
	I_INFO, I_CTL, I_DONE,
	I_MCTL,			/* MOUNT/.ctl */
	/* in a call directory, id = the call's id */
	I_CALL, I_ARGS, I_STATUS, I_RESULT, I_STDOUT, I_STDERR, I_CALLCTL,
	I_CALLVM,		/* .any/calls/N/vm */
	I_ATTEMPTS,		/* calls/N/attempts */
	I_STDIN,		/* calls/N/stdin, if it takes one */
	I_LOG,			/* MOUNT/.log */
	I_CKPTS, I_CKPT,	/* VM/checkpoints/, N (id N; 0: a file being
				   imported) */
	I_KIND_MAX
};

struct inode {
	enum ikind kind;
	struct vm *vm;
	struct call *call;
	struct injected *inj;
	guint32 id;		/* data, function and object ids */
};

struct dirent_ent {
	char *name;
	fuse_ino_t ino;
	mode_t mode;
};

/* How long the kernel may keep what we tell it.  The tree's skeleton
 * never changes; calls' sizes and states do, all the time. */
#define STATIC_TIMEOUT 60.0
#define LIVE_TIMEOUT 0.0
/* VM directories come and go with membership, but a path walk through
 * one must not cost a lookup every time. */
#define MEMBER_TIMEOUT 1.0
/* A done call's final output (output_final): long enough for a reader's
 * lookup, open and reads, short enough that a call reaped meanwhile
 * (-o keep_calls) is not stat'ed from the kernel's cache for long. */
#define FINAL_TIMEOUT 1.0

fuse_ino_t make_ino(enum ikind kind, const struct vm *vm, guint32 id);
gboolean decode_ino(struct cluster *fs, fuse_ino_t ino, struct inode *in);
fuse_ino_t inode_ino(const struct inode *in);
void fill_attr(struct tree *t, const struct inode *in, struct stat *st);
double attr_timeout(const struct inode *in);
gboolean output_final(const struct inode *in);
/* The child of parent called name, or FALSE. */
gboolean find_child(struct cluster *fs, const struct inode *parent,
		    const char *name, struct inode *child);
/* calls/last's target ("N"), or NULL when vm has no last call now. */
char *last_call_target(struct vm *vm);
/* Fill a (struct dirent_ent) with the listing of in, . and .. first. */
void list_dir(struct cluster *fs, const struct inode *in, GArray *a);
void dirent_clear(gpointer p);
