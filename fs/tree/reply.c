/*
 * reply.c - the replies every kind of file shares: a slice of a text
 * held here, the entry of a file made in inject/.
 */
#include "tree.h"
#include "inode.h"

#include <string.h>

void
reply_bytes(fuse_req_t req, const char *text, size_t len, size_t size,
	    off_t off)
{
	if ((size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, text + off, MIN(size, len - off));
}

void
reply_text(fuse_req_t req, const char *text, size_t size, off_t off)
{
	reply_bytes(req, text, strlen(text), size, off);
}

void
reply_create_injected(fuse_req_t req, struct vm *vm, struct injected *inj,
		      struct fuse_file_info *fi)
{
	struct inode in = { .kind = I_INJFILE, .vm = vm, .inj = inj };
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = inode_ino(&in);
	fill_attr(req_tree(req), &in, &e.attr);
	fuse_reply_create(req, &e, fi);
}

