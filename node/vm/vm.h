/*
 * vm.h - node/vm: the supervisor's VMs.  Each has its directories
 * (inject/, calls/, data/), a worker process (node/worker) that it keeps
 * going, what is injected into it and the functions that makes, its
 * calls, and its data directory as the mount sees it (WIRE_FSOP).
 *
 * For node/ (the supervisor) only.  A VM talks to the client only
 * through the struct vmhost the supervisor registers: it never calls
 * into the layer above.
 */
#pragma once

#include <glib.h>
#include "vet.h"
#include "wire.h"

struct vmnode;

/* What the process keeping the VMs lends them; it outlives them all. */
struct vmhost {
	const char *dir;		/* the session's files: VM i is vm<i>/ */
	const char *self;		/* our executable, to start workers */
	/* A frame to the client (encoded and queued by the host). */
	void (*send)(void *data, guint type, guint vm, guint32 tag,
		     GVariant *body);
	void (*send_bytes)(void *data, guint type, guint vm, guint32 tag,
			   const void *bytes, gsize len);
	/* Is the node ending?  A worker that exits then is left down, and
	 * nothing is said about it. */
	gboolean (*ending)(void *data);
	/* The node's cores (node/share): a slot for VM vm's next call.
	 * TRUE if it has one now; else vmnode_slot_granted() comes. */
	gboolean (*slot_take)(void *data, guint vm);
	/* VM vm's call ended; more: it has another to start now.  TRUE if
	 * it keeps its slot for it, else the slot is given back (and with
	 * more, the VM is in line again). */
	gboolean (*slot_give)(void *data, guint vm, gboolean more);
	/* VM vm wants no slot any more (it ends). */
	void (*slot_drop)(void *data, guint vm);
	/* What a call waiting for a slot shows (a new string). */
	char *(*slot_why)(void *data);
	void *data;			/* for the callbacks */
};

/* vmnode.c: a VM's worker process and what is injected into it */
/* adopt: the VM's directory is a dead process's: install what its
 * inject/ holds. */
struct vmnode *vmnode_new(const struct vmhost *host, guint index,
			  gboolean adopt, GError **error);
/* To a client that came back: the VM's state, functions, objects and
 * every call it knows; the number of calls told. */
guint vmnode_resync(struct vmnode *vm);
void vmnode_free(struct vmnode *vm);
/* Its inject/ (made on first use: a VM may never have any). */
const char *vmnode_inject_dir(struct vmnode *vm);
/* The file is in inject/ under name and passed its checks; sum is its
 * SHA-256 if known (NULL: it is read to take it). */
void vmnode_install(struct vmnode *vm, const char *name,
		    enum inject_kind kind, const char *sum);
/* The same for a file installed into many VMs at once (the node's
 * cache): its functions listed once (funcs, a reference is taken; NULL
 * if they could not be), and neither the load into the worker nor the
 * log of what it shadows done here.  TRUE if the running worker is to
 * load it: vmnode_load() once the install is answered. */
gboolean vmnode_install_listed(struct vmnode *vm, const char *name,
			       enum inject_kind kind, const char *sum,
			       GPtrArray *funcs);
void vmnode_load(struct vmnode *vm, const char *name);
/* vmfuncs.c: what file shadows or is shadowed by in vm, one line per
 * name without the VM's name ("" if nothing); vmfuncs_log_shadows logs
 * the same lines. */
char *vmfuncs_shadows(struct vmnode *vm, const char *file);
gboolean vmnode_uninstall(struct vmnode *vm, const char *name,
			  GError **error);
/* WIRE_RESTART: answered once the new worker is up. */
void vmnode_restart(struct vmnode *vm, guint32 tag);
/* WIRE_OBJ_DESTROY: answered once the worker has destroyed it. */
void vmnode_destroy_object(struct vmnode *vm, guint32 tag, guint32 id);
/* The VM's lines of WIRE_INFO. */
void vmnode_info(struct vmnode *vm, GString *s);

/* vmckpt.c: checkpoints (issue 16), kept in vm<i>/checkpoints/N.
 * WIRE_CKPT_TAKE: answered with the file's STAT, or a REPLY. */
void vmnode_ckpt_take(struct vmnode *vm, guint32 tag, guint32 n,
		      guint32 wait_ms, guint32 flags);
/* WIRE_CKPT_RESTORE: answered with TEXT (the injected files, "MODE SIZE NAME"
 * lines) once the VM runs from it, or a REPLY. */
void vmnode_ckpt_restore(struct vmnode *vm, guint32 tag, guint32 n,
			 guint32 wait_ms, guint32 flags);
char *vmnode_ckpt_path(struct vmnode *vm, guint32 n);
/* WIRE_CKPT_REMOVE: 0 or an errno, with why. */
int vmnode_ckpt_remove(struct vmnode *vm, guint32 n, const char **why);

/* vmcalls.c: a VM's calls */
/* The slot vmhost.slot_take() made it wait for: its next call starts. */
void vmnode_slot_granted(struct vmnode *vm);
void vmnode_call(struct vmnode *vm, guint32 id, char **argv);
/* Bytes of call id's stdin (TRICKLE_STDIN=1); none: its end. */
void vmnode_stdin(struct vmnode *vm, guint32 id, const guint8 *bytes,
		  gsize len);
/* Up to max bytes of a call's stream (WIRE_STDOUT, WIRE_STDERR) at off
 * (callstore.c): how many, or -1 with *err (ENOENT: no such call). */
gssize vmnode_call_pread(struct vmnode *vm, guint32 id, guint stream,
			 void *buf, gsize max, guint64 off, int *err);
/* WIRE_CANCEL: answers the request tag itself (for a running call, once
 * the call has ended and its CALL_STATE is out). */
void vmnode_cancel(struct vmnode *vm, guint32 tag, guint32 id);
/* WIRE_FORGET: 0 or an errno, with a message for the REPLY. */
int vmnode_forget(struct vmnode *vm, guint32 id, const char **why);

/* datafs.c: WIRE_FSOP on the VM's data directory, answered to m->tag */
void datafs_op(struct vmnode *vm, struct wire_msg *m);

/* cache.c: the node's content cache of injected files, BASE/cache/
 * sha256/HEX, shared by the user's sessions under BASE.  Opening it
 * removes entries that no VM links to and that were not linked for
 * max_age_days. */
struct nodecache;
struct nodecache *nodecache_open(const char *base, guint max_age_days,
				 GError **error);
void nodecache_free(struct nodecache *c);
/* 64 lowercase hex digits? */
gboolean nodecache_valid_sum(const char *sum);
char *nodecache_path(struct nodecache *c, const char *sum);
/* Does the cache hold those bytes?  Summed before its first use here
 * and whenever the file changed; an entry whose bytes do not match is
 * removed. */
gboolean nodecache_has(struct nodecache *c, const char *sum);
/* A new entry: an fd on a temporary file (*tmp, its path), or -1 with
 * errno. */
int nodecache_put_begin(struct nodecache *c, char **tmp);
/* Its bytes are all written (and closed): 0 once they are in the cache
 * under sum; else an errno (EBADMSG: they do not have that sum) and why,
 * and the temporary file is gone.  got: the SHA-256 of the bytes taken
 * as they were written, or NULL to read the file for it. */
int nodecache_put_commit(struct nodecache *c, const char *tmp,
			 const char *sum, const char *got, char **why);
/* Put the bytes at dest (a hard link, else a copy): 0 or an errno
 * (ESTALE: the cache does not have them). */
int nodecache_link(struct nodecache *c, const char *sum, const char *dest);
/* A hard link at dest, where nothing is: 0 or link()'s errno (EEXIST:
 * something is; the rest as nodecache_link would find them). */
int nodecache_link_new(struct nodecache *c, const char *sum,
		       const char *dest);

/* store.c: the files a node keeps on disk */
gboolean rm_rf(const char *path);
gboolean valid_file_name(const char *name, GError **error);
