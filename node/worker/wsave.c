/*
 * wsave.c - the worker's part of a checkpoint (issue 16): each loaded
 * shared object's trickle_save() and trickle_restore() (trickle.h), run
 * between calls when the supervisor asks (W_SAVE, W_RESTORE).  The rest
 * of a VM's state (environment, injected files, data/) the supervisor
 * saves itself, in node/vm/vmckpt.c.
 */
#include "trickle.h"
#include "worker_priv.h"
#include "wire.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef int (*hook_fn)(int fd);

static struct lib *
find_lib(const char *path)
{
	guint i;

	for (i = 0; i < libs->len; i++) {
		struct lib *l = libs->pdata[i];

		if (strcmp(l->path, path) == 0)
			return l;
	}
	return NULL;
}

/* The library's own definition of name (not one of its dependencies'). */
static hook_fn
own_symbol(struct lib *l, const char *name)
{
	void *sym = dlsym(l->handle, name);
	Dl_info info;

	if (sym && dladdr(sym, &info) && info.dli_fname &&
	    strcmp(info.dli_fname, l->path) == 0)
		return (hook_fn)sym;
	return NULL;
}

static void
answer(int fd, GByteArray *out, guint type, const struct wire_msg *m,
       int err, const char *msg)
{
	wire_encode(out, type, m->vm, m->tag, g_variant_new("(is)", err, msg));
	send_frame(fd, out);
}

/*
 * Every library asked for must be loaded and have both hooks before any
 * runs; then each hook runs with its file, in order.  FALSE with the
 * errno and why in *why.
 */
static gboolean
run_hooks(const struct wire_msg *m, gboolean save, int *err, char **why)
{
	const char *hook = save ? "trickle_save" : "trickle_restore";
	GVariantIter it;
	const char *lpath, *file;

	g_variant_iter_init(&it, m->body);
	while (g_variant_iter_next(&it, "(&s&s)", &lpath, &file)) {
		struct lib *l = find_lib(lpath);
		g_autofree char *name = g_path_get_basename(lpath);

		if (!l) {
			*err = ENOENT;
			*why = g_strdup_printf("%s is not loaded in the VM", name);
			return FALSE;
		}
		if (!own_symbol(l, "trickle_save") ||
		    !own_symbol(l, "trickle_restore")) {
			*err = EOPNOTSUPP;
			*why = g_strdup_printf("%s has no trickle_save and "
				"trickle_restore (trickle.h): its state cannot "
				"be saved", name);
			return FALSE;
		}
	}
	g_variant_iter_init(&it, m->body);
	while (g_variant_iter_next(&it, "(&s&s)", &lpath, &file)) {
		hook_fn fn = own_symbol(find_lib(lpath), hook);
		g_autofree char *name = g_path_get_basename(lpath);
		int fd = save ? open(file, O_WRONLY | O_CREAT | O_TRUNC |
				     O_CLOEXEC, 0600)
			      : open(file, O_RDONLY | O_CLOEXEC);
		int r;

		if (fd < 0) {
			*err = errno;
			*why = g_strdup_printf("%s: cannot open %s: %s", name,
					       file, g_strerror(errno));
			return FALSE;
		}
		fflush(stdout);
		r = fn(fd);
		fflush(stdout);
		fflush(stderr);
		if (close(fd) < 0 && r == 0 && save) {
			*err = errno;
			*why = g_strdup_printf("%s: cannot write its state: %s",
					       name, g_strerror(errno));
			return FALSE;
		}
		if (r != 0) {
			*err = EIO;
			*why = g_strdup_printf("%s: %s returned %d", name, hook,
					       r);
			return FALSE;
		}
	}
	return TRUE;
}

void
worker_save(int fd, GByteArray *out, const struct wire_msg *m)
{
	g_autofree char *why = NULL;
	int err = 0;

	if (!run_hooks(m, TRUE, &err, &why))
		answer(fd, out, WIRE_W_SAVED, m, err, why);
	else
		answer(fd, out, WIRE_W_SAVED, m, 0, "");
}

void
worker_restore(int fd, GByteArray *out, const struct wire_msg *m)
{
	g_autofree char *why = NULL;
	int err = 0;
	gboolean ok = run_hooks(m, FALSE, &err, &why);

	/* The objects restore put back are listed before the answer. */
	send_objects(fd, out, m->vm);
	answer(fd, out, WIRE_W_RESTORED, m, ok ? 0 : err, ok ? "" : why);
}
