/*
 * ckpt.h - the cluster layer's checkpoints of VMs (issue 16), beside
 * cluster.h: for the tree (VM/checkpoints/, the ctl's commands) and
 * cluster.c (the schedule).
 */
#pragma once

#include "cluster.h"

/* ckpt.c: checkpoints of VMs (issue 16), made and kept by their nodes,
 * copies fetched into the state directory.  Each done runs once, with 0
 * or an errno (the node's reason logged and kept as the VM's last
 * error) and the checkpoint's number. */
struct checkpoint {
	guint32 n;			/* VM/checkpoints/N */
	guint64 size;
	gint64 mtime;			/* seconds since the epoch */
};
typedef void (*ckpt_done_fn)(void *data, int err, guint32 n);
typedef void (*ckpt_fetched_fn)(void *data, int err, const char *path);
/* A new checkpoint of vm, once a running call has ended (EBUSY past half
 * of -o reply_timeout; EOPNOTSUPP: a library has no hooks).  done may be
 * NULL. */
void ckpt_take(struct vm *vm, ckpt_done_fn done, void *data);
/* Bring vm back to checkpoint n (its injected files as the node lists
 * them then). */
void ckpt_restore(struct vm *vm, guint32 n, ckpt_done_fn done, void *data);
void ckpt_remove(struct vm *vm, guint32 n, ckpt_done_fn done, void *data);
/* A copy of checkpoint n at the mount (mode 0600): its path in done. */
void ckpt_fetch(struct vm *vm, guint32 n, ckpt_fetched_fn done, void *data);
/* The archive at path, checked, becomes vm's next checkpoint. */
void ckpt_import(struct vm *vm, const char *path, ckpt_done_fn done,
		 void *data);
/* The same as checkpoint n (a number ckpt_next() gave; 0: the next). */
void ckpt_import_as(struct vm *vm, guint32 n, const char *path,
		    ckpt_done_fn done, void *data);
guint32 ckpt_next(struct vm *vm);
/* The list forgets them (they stay on a node the VM left). */
void ckpt_forget_all(struct vm *vm);
/* migrate.c: vm is moving; its new calls wait at the mount meanwhile. */
gboolean vm_moving(const struct vm *vm);
void ckpt_set_moving(struct vm *vm, gboolean on);
/* Move vm to host to with its state (stop taking calls, wait for those
 * its node has, checkpoint, fetch, a new VM on to, import, restore, then
 * the calls that waited go there).  Its directory, calls and ids stay. */
void vm_migrate(struct vm *vm, struct host *to, ckpt_done_fn done,
		void *data);
/* The host a "migrate NODE" names: another VM's, or one whose label is
 * NODE ([USER@]HOST:PORT); NULL if the mount has none. */
struct host *migrate_target(struct cluster *cl, const char *node);
/* vm's checkpoints (struct checkpoint *), oldest first. */
GPtrArray *ckpt_list(struct vm *vm);
const struct checkpoint *ckpt_find(struct vm *vm, guint32 n);
/* Where the copy of checkpoint n is kept at the mount, or NULL. */
char *ckpt_cache_path(struct vm *vm, guint32 n);
void ckpt_vm_free(struct vm *vm);
/* The schedule: -o checkpoint_interval, -o checkpoint_every. */
void ckpt_init(struct cluster *cl);
void ckpt_cleanup(struct cluster *cl);

