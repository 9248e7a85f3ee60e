/*
 * fsheld.c - what changes a file in inject/ after it was written: chmod,
 * utimens, chown (install, cp -p) and rename (rsync, editors).
 *
 * A file held at the mount (fskept.c) goes to the nodes when it can: a
 * chmod +x of a held program, or a rename of a hidden .NAME onto a real
 * name, sends the kept copy, and the chmod or rename answers once the
 * nodes have.  A node that refuses it fails the chmod or rename with its
 * reason in the log; a refused rename leaves no file behind, a refused
 * chmod leaves the file held.  Only held files are renamed here: mv of
 * an installed file gets EXDEV and copies it (it reads back) instead.
 */
#include "tree.h"
#include "inode.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static void
reply_inj_attr(fuse_req_t req, struct vm *vm, struct injected *inj)
{
	struct inode in = { .kind = I_INJFILE, .vm = vm, .inj = inj };
	struct stat st;

	fill_attr(req_tree(req), &in, &st);
	fuse_reply_attr(req, &st, attr_timeout(&in));
}

/* The kept copy starts with #! (a script: the mount can tell). */
static gboolean
kept_script(struct tree *t, struct vm *vm, const char *name)
{
	g_autofree char *path = kept_path(t, vm, name);
	char head[2];
	int fd;
	gboolean yes;

	if (!path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return FALSE;
	yes = pread(fd, head, 2, 0) == 2 && head[0] == '#' && head[1] == '!';
	close(fd);
	return yes;
}

struct pending {
	fuse_req_t req;
	struct vm *vm;
	struct injected *inj;
	gboolean rename;
};

/* The kept copy went to the nodes, or was refused. */
static void
sent(void *data, int err, const char *why)
{
	struct pending *p = data;
	struct tree *t = req_tree(p->req);
	struct injected *inj = p->inj;

	if (err == EACCES) {
		g_autofree char *w = g_strdup_printf("%s; chmod +x installs "
						     "it", why);

		inject_hold(p->vm, inj, w);
		err = p->rename ? 0 : err;
	} else if (err && p->rename) {
		/* Refused: no file is left, as a cp that failed. */
		if (!inj->installed)
			kept_drop(t, p->vm, inj->name);
		inj->kept = inj->installed && inj->kept;
	} else if (err) {
		inject_hold(p->vm, inj, why);
	} else {
		g_clear_pointer(&inj->held, g_free);
		inj->installed = TRUE;
		if (!p->vm->host)
			kept_spool(t, p->vm, inj);
		g_message("%s: inject/%s installed (it was held at the mount)",
			  p->vm->name, inj->name);
	}
	if (p->rename || err)
		fuse_reply_err(p->req, err);
	else
		reply_inj_attr(p->req, p->vm, inj);
	g_free(p);
}

static void
send_held(fuse_req_t req, struct vm *vm, struct injected *inj,
	  gboolean rename)
{
	struct pending *p = g_new0(struct pending, 1);
	int err;

	p->req = req;
	p->vm = vm;
	p->inj = inj;
	p->rename = rename;
	if ((err = kept_send(req_tree(req), vm, inj, sent, p))) {
		g_free(p);
		fuse_reply_err(req, err);
	}
}

void
inject_setattr(fuse_req_t req, struct vm *vm, struct injected *inj,
	       struct stat *attr, int to_set)
{
	/* Truncating to 0 is how a new copy starts: open does it. */
	if ((to_set & FUSE_SET_ATTR_SIZE) && attr->st_size != 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		inj->mtime = time(NULL);
	else if (to_set & FUSE_SET_ATTR_MTIME)
		inj->mtime = attr->st_mtime;
	/* chown: every file runs as the mount's owner; nothing to change. */
	if (to_set & FUSE_SET_ATTR_MODE) {
		inj->mode = attr->st_mode & 07777;
		if (inj->held && !inj->writers && inj->kept &&
		    inj->name[0] != '.' && (inj->mode & 0111)) {
			g_message("%s: inject/%s: chmod +x, sending it",
				  vm->name, inj->name);
			send_held(req, vm, inj, FALSE);
			return;
		}
	}
	reply_inj_attr(req, vm, inj);
}

void
inject_rename(fuse_req_t req, struct vm *vm, const char *name,
	      const char *newname)
{
	struct tree *t = req_tree(req);
	struct injected *inj = g_hash_table_lookup(vm->injected, name);
	struct injected *dst = g_hash_table_lookup(vm->injected, newname);
	mode_t mode;
	guint64 size;
	time_t mtime;
	int err;

	if (!inj) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (strlen(newname) > 255) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	if (!inj->held || inj->writers || !inj->kept) {
		/* mv copies it instead, through the kept copy. */
		fuse_reply_err(req, inj->writers ? EBUSY : EXDEV);
		return;
	}
	if (dst == inj) {
		fuse_reply_err(req, 0);
		return;
	}
	if (dst && dst->writers) {
		fuse_reply_err(req, EBUSY);
		return;
	}
	if ((err = kept_rename(t, vm, name, newname))) {
		fuse_reply_err(req, err);
		return;
	}
	mode = inj->mode;
	size = inj->size;
	mtime = inj->mtime;
	vm_injected_remove(vm, inj);
	dst = vm_injected_add(vm, newname, mode);
	dst->mode = mode;
	dst->kept = TRUE;
	dst->mtime = mtime;
	if (!dst->installed)
		dst->size = size;
	g_clear_pointer(&dst->held, g_free);
	if (newname[0] == '.' ||
	    (!(mode & 0111) && kept_script(t, vm, newname))) {
		inject_hold(vm, dst, newname[0] == '.' ? INJECT_WHY_HIDDEN
						      : INJECT_WHY_NOEXEC);
		fuse_reply_err(req, 0);
		return;
	}
	send_held(req, vm, dst, TRUE);
}
