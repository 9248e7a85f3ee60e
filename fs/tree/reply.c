/*
 * reply.c - what every kind of file shares: who may do what (tree.h), and
 * the replies: a slice of a text held here, the entry of a file made in
 * inject/.
 */
#include "tree.h"
#include "inode.h"

#include <string.h>

uid_t
req_uid(fuse_req_t req)
{
	return fuse_req_ctx(req)->uid;
}

static gboolean
is_allowed(const struct tree *t, uid_t uid)
{
	guint i;

	if (uid == 0 || uid == t->uid)
		return TRUE;
	for (i = 0; t->allowed && i < t->allowed->len; i++)
		if (g_array_index(t->allowed, uid_t, i) == uid)
			return TRUE;
	return FALSE;
}

gboolean
tree_may_act(fuse_req_t req, const char *what)
{
	uid_t uid = req_uid(req);

	if (is_allowed(req_tree(req), uid))
		return TRUE;
	g_message("uid %u may not %s (only the mount's owner, root and "
		  "-o allow_users)", (unsigned)uid, what);
	return FALSE;
}

uid_t
call_uid(const struct call *c)
{
	return c->any ? c->any->uid : c->uid;
}

gboolean
tree_may_see_call(fuse_req_t req, const struct call *c, const char *what)
{
	uid_t uid = req_uid(req);

	/* Not the mount's owner's either: what one user's call printed
	 * is that user's (and root's), as in a shared spool. */
	if (uid == 0 || uid == call_uid(c))
		return TRUE;
	g_message("uid %u may not %s of %s/calls/%u: uid %u forked it",
		  (unsigned)uid, what, c->vm->name, c->id,
		  (unsigned)call_uid(c));
	return FALSE;
}

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

