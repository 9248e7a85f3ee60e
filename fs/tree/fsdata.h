/*
 * fsdata.h - VM/data/ (the VM's working directory on its node) and
 * .all/data/ (the same operations on every VM).
 *
 * Names under data/ are paths on the node: fsdata keeps, per VM, a table
 * from inode id to path (id 0 is data/ itself), and every operation is a
 * WIRE_FSOP request answered when the node replies (bounded by
 * reply_timeout), but for writes, answered when sent, and reads, served
 * from pieces read ahead (fsdata_io.c).  Reads and writes stream in
 * chunks: no file is ever held whole.  For the .all pseudo-VM (vm->host == NULL) changes go to every VM
 * and are answered when all have answered; reads and listings come from
 * the first VM that is up.
 *
 * fsops.c calls these for inodes of kind I_DATA, passing the id part.
 */
#pragma once

#include "tree.h"

struct fsdata;			/* per-VM path table, in vm->data */

/* Free every VM's path table (before the cluster goes). */
void tree_free_data(struct tree *t);

/*
 * The kernel may cache data/ names and attributes this long (seconds).
 * None: calls change the files under the mount's feet, and a cached size
 * would cut short a read of a file that grew, or a cached name hide one
 * that a call replaced by a directory.  Every path walk asks the node.
 */
#define DATA_TIMEOUT 0.0

void data_lookup(fuse_req_t req, struct vm *vm, guint32 parent,
		 const char *name);
void data_getattr(fuse_req_t req, struct vm *vm, guint32 id);
void data_setattr(fuse_req_t req, struct vm *vm, guint32 id,
		  struct stat *attr, int to_set, struct fuse_file_info *fi);
void data_opendir(fuse_req_t req, struct vm *vm, guint32 id,
		  struct fuse_file_info *fi);
void data_open(fuse_req_t req, struct vm *vm, guint32 id,
	       struct fuse_file_info *fi);
void data_create(fuse_req_t req, struct vm *vm, guint32 parent,
		 const char *name, mode_t mode, struct fuse_file_info *fi);
void data_mknod_dir(fuse_req_t req, struct vm *vm, guint32 parent,
		    const char *name, mode_t mode);	/* mkdir */
void data_unlink(fuse_req_t req, struct vm *vm, guint32 parent,
		 const char *name);
void data_rmdir(fuse_req_t req, struct vm *vm, guint32 parent,
		const char *name);
void data_rename(fuse_req_t req, struct vm *vm, guint32 parent,
		 const char *name, guint32 newparent, const char *newname);

/*
 * The kernel forgets nlookup lookups of data id id (FUSE forget and
 * forget_multi; no reply).  Ids live while the kernel holds them: without
 * this the table only grows, by one entry per path ever looked up.
 */
void data_forget(struct vm *vm, guint32 id, guint64 nlookup);

/* The inode number of data id id of vm (inode.c). */
fuse_ino_t data_ino(struct vm *vm, guint32 id);

