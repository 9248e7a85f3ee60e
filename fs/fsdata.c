/* fsdata.c - VM/data/: to be written (see fsdata.h). */
#include "fsdata.h"
#include <errno.h>

struct fsdata { int unused; };
struct fsdata *fsdata_new(void) { return g_new0(struct fsdata, 1); }
void fsdata_free(struct fsdata *d) { g_free(d); }
void data_lookup(fuse_req_t req, struct vm *vm, guint32 parent, const char *name) { fuse_reply_err(req, ENOENT); }
void data_getattr(fuse_req_t req, struct vm *vm, guint32 id) { fuse_reply_err(req, ENOENT); }
void data_setattr(fuse_req_t req, struct vm *vm, guint32 id, struct stat *attr, int to_set, struct fuse_file_info *fi) { fuse_reply_err(req, ENOSYS); }
void data_opendir(fuse_req_t req, struct vm *vm, guint32 id, struct fuse_file_info *fi) { fuse_reply_err(req, ENOSYS); }
void data_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi) { fuse_reply_err(req, ENOSYS); }
void data_releasedir(fuse_req_t req, struct fuse_file_info *fi) { fuse_reply_err(req, 0); }
void data_open(fuse_req_t req, struct vm *vm, guint32 id, struct fuse_file_info *fi) { fuse_reply_err(req, ENOSYS); }
void data_create(fuse_req_t req, struct vm *vm, guint32 parent, const char *name, mode_t mode, struct fuse_file_info *fi) { fuse_reply_err(req, ENOSYS); }
void data_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi) { fuse_reply_err(req, ENOSYS); }
void data_write(fuse_req_t req, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) { fuse_reply_err(req, ENOSYS); }
void data_release(fuse_req_t req, struct fuse_file_info *fi) { fuse_reply_err(req, 0); }
void data_mknod_dir(fuse_req_t req, struct vm *vm, guint32 parent, const char *name, mode_t mode) { fuse_reply_err(req, ENOSYS); }
void data_unlink(fuse_req_t req, struct vm *vm, guint32 parent, const char *name) { fuse_reply_err(req, ENOSYS); }
void data_rmdir(fuse_req_t req, struct vm *vm, guint32 parent, const char *name) { fuse_reply_err(req, ENOSYS); }
void data_rename(fuse_req_t req, struct vm *vm, guint32 parent, const char *name, guint32 newparent, const char *newname) { fuse_reply_err(req, ENOSYS); }
