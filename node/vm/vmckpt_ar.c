/*
 * vmckpt_ar.c - a VM's checkpoint as a file (utils/proto/ckptar.h): what
 * the supervisor writes once the worker has saved its libraries, and the
 * staging of one to restore: everything unpacked and checked in a
 * directory of its own first, so that a bad archive leaves the VM as it
 * was.  vmckpt.c drives both.
 */
#include "vm_priv.h"
#include "ckptar.h"
#include "vet.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENV_MAX (128 * 1024)
#define INFO_MAX 4096

static gboolean
add_file(struct ckpt_writer *w, guint type, const char *path,
	 const char *name, GError **error)
{
	struct stat st;
	gboolean ok;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0 || fstat(fd, &st) < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
			    "cannot read %s: %s", path, g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return FALSE;
	}
	ok = ckpt_write_fd(w, type, st.st_mode & 07777, name, fd, st.st_size,
			   error);
	close(fd);
	return ok;
}

/* data/ below rel ("" for data/ itself), directories before what they
 * hold.  What is neither a file, a directory nor a link is left out. */
static gboolean
add_tree(struct vmnode *vm, struct ckpt_writer *w, const char *rel,
	 GError **error)
{
	g_autofree char *dir = g_build_filename(vm->data_dir, rel, NULL);
	g_autoptr(GDir) d = g_dir_open(dir, 0, error);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const char *name;
	guint i;

	if (!d)
		return FALSE;
	while ((name = g_dir_read_name(d)))
		g_ptr_array_add(names, g_strdup(name));
	g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
	for (i = 0; i < names->len; i++) {
		g_autofree char *r = *rel ? g_build_filename(rel,
			names->pdata[i], NULL) : g_strdup(names->pdata[i]);
		g_autofree char *p = g_build_filename(vm->data_dir, r, NULL);
		struct stat st;

		if (lstat(p, &st) < 0)
			continue;	/* gone meanwhile */
		if (S_ISDIR(st.st_mode)) {
			if (!ckpt_write(w, CKPT_REC_DIR, st.st_mode & 07777, r,
					NULL, 0, error) ||
			    !add_tree(vm, w, r, error))
				return FALSE;
		} else if (S_ISREG(st.st_mode)) {
			if (!add_file(w, CKPT_REC_FILE, p, r, error))
				return FALSE;
		} else if (S_ISLNK(st.st_mode)) {
			g_autofree char *t = g_file_read_link(p, NULL);

			if (t && !ckpt_write(w, CKPT_REC_SYMLINK, 0, r, t,
					     strlen(t), error))
				return FALSE;
		} else {
			g_message("vm%u: checkpoint: leaving out data/%s (not "
				  "a file, directory or link)", vm->index, r);
		}
	}
	return TRUE;
}

static gboolean
write_records(struct vmnode *vm, struct ckpt_writer *w, const char *blobs,
	      GError **error)
{
	g_autofree char *info = g_strdup_printf(
		"vm=%u\ntime=%" G_GINT64_FORMAT "\nnext_object=%u\n",
		vm->index, g_get_real_time() / G_USEC_PER_SEC,
		vm->next_object);
	g_autoptr(GList) progs = g_hash_table_get_keys(vm->programs);
	GList *l;
	guint i;

	if (!ckpt_write(w, CKPT_REC_INFO, 0, "", info, strlen(info), error))
		return FALSE;
	for (i = 0; i < vm->env->len; i++) {
		const char *e = vm->env->pdata[i];
		const char *eq = strchr(e, '=');
		g_autofree char *name = g_strndup(e, eq - e);

		if (!ckpt_write(w, CKPT_REC_ENV, 0, name, eq + 1,
				strlen(eq + 1), error))
			return FALSE;
	}
	/* Shared objects in the order they were loaded, then programs. */
	for (i = 0; i < vm->libs->len; i++) {
		g_autofree char *p = g_build_filename(vm->inject_dir,
						      vm->libs->pdata[i], NULL);

		if (!add_file(w, CKPT_REC_INJECT, p, vm->libs->pdata[i],
			      error))
			return FALSE;
	}
	progs = g_list_sort(progs, (GCompareFunc)g_strcmp0);
	for (l = progs; l; l = l->next) {
		g_autofree char *p = g_build_filename(vm->inject_dir, l->data,
						      NULL);

		if (!add_file(w, CKPT_REC_INJECT, p, l->data, error))
			return FALSE;
	}
	if (!add_tree(vm, w, "", error))
		return FALSE;
	for (i = 0; i < vm->libs->len; i++) {
		g_autofree char *n = g_strdup_printf("%u", i);
		g_autofree char *p = g_build_filename(blobs, n, NULL);

		if (!add_file(w, CKPT_REC_STATE, p, vm->libs->pdata[i], error))
			return FALSE;
	}
	if (vm->objects && !ckpt_write(w, CKPT_REC_OBJECTS, 0, "",
				       g_variant_get_data(vm->objects),
				       g_variant_get_size(vm->objects), error))
		return FALSE;
	return ckpt_write_end(w, error);
}

gboolean
vmckpt_write_archive(struct vmnode *vm, const char *path, const char *blobs,
		     GError **error)
{
	g_autofree char *part = g_strconcat(path, ".part", NULL);
	struct ckpt_writer *w;
	gboolean ok;
	int fd;

	if (g_mkdir_with_parents(vm->ckpt_dir, 0700) < 0 ||
	    (fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		       0600)) < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
			    "cannot create %s: %s", part, g_strerror(errno));
		return FALSE;
	}
	w = ckpt_writer_new(fd);
	ok = write_records(vm, w, blobs, error);
	ckpt_writer_free(w);
	if (ok && fsync(fd) < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
			    "cannot write %s: %s", part, g_strerror(errno));
		ok = FALSE;
	}
	if (close(fd) < 0 && ok) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
			    "cannot write %s: %s", part, g_strerror(errno));
		ok = FALSE;
	}
	if (ok && rename(part, path) < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
			    "cannot rename %s: %s", part, g_strerror(errno));
		ok = FALSE;
	}
	if (!ok)
		unlink(part);
	return ok;
}

/* Staging. */

void
vmckpt_staged_free(struct vmckpt_staged *s)
{
	if (!s)
		return;
	g_ptr_array_unref(s->inject);
	g_ptr_array_unref(s->env);
	g_ptr_array_unref(s->links);
	g_free(s->dir);
	g_free(s);
}

static gboolean
io_error(GError **error, const char *what, const char *path)
{
	g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		    "cannot %s %s: %s", what, path, g_strerror(errno));
	return FALSE;
}

/* The current record's data into a new file at path. */
static gboolean
stage_file(struct ckpt_reader *r, const char *path, guint32 mode,
	   GError **error)
{
	gboolean ok;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		      O_CLOEXEC, (mode & 0777) | 0600);

	if (fd < 0)
		return io_error(error, "create", path);
	ok = ckpt_read_to_fd(r, fd, error);
	if (close(fd) < 0 && ok)
		return io_error(error, "write", path);
	return ok;
}

static gboolean
stage_info(struct vmckpt_staged *s, struct ckpt_reader *r, GError **error)
{
	g_autoptr(GBytes) b = ckpt_read_bytes(r, INFO_MAX, error);
	const char *p;

	if (!b)
		return FALSE;
	p = strstr(g_bytes_get_data(b, NULL), "next_object=");
	if (p) {
		guint64 n = g_ascii_strtoull(p + strlen("next_object="), NULL,
					     10);

		s->next_object = (guint32)MIN(n, G_MAXUINT32 - 1);
	}
	return TRUE;
}

static gboolean
stage_env(struct vmckpt_staged *s, struct ckpt_reader *r,
	  const char *name, GError **error)
{
	g_autofree char *word = g_strconcat(name, "=", NULL);
	g_autoptr(GBytes) b = NULL;
	gsize len;
	const char *v;

	if (!wire_is_assignment(word) || strchr(name, '=') != NULL) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "a bad environment name in the checkpoint");
		return FALSE;
	}
	if (!(b = ckpt_read_bytes(r, ENV_MAX, error)))
		return FALSE;
	v = g_bytes_get_data(b, &len);
	if (memchr(v, '\0', len)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "a bad value of %s in the checkpoint", name);
		return FALSE;
	}
	g_ptr_array_add(s->env, g_strconcat(word, v, NULL));
	return TRUE;
}

static gboolean
has_name(GPtrArray *a, const char *name)
{
	guint i;

	for (i = 0; i < a->len; i++)
		if (strcmp(a->pdata[i], name) == 0)
			return TRUE;
	return FALSE;
}

static gboolean
stage_record(struct vmckpt_staged *s, struct ckpt_reader *r,
	     const struct ckpt_rec *rec, GError **error)
{
	g_autofree char *path = NULL;

	switch (rec->type) {
	case CKPT_REC_INFO:
		return stage_info(s, r, error);
	case CKPT_REC_ENV:
		return stage_env(s, r, rec->name, error);
	case CKPT_REC_INJECT:
		if (!valid_file_name(rec->name, error))
			return FALSE;
		path = g_build_filename(s->dir, "inject", rec->name, NULL);
		if (!stage_file(r, path, rec->mode, error))
			return FALSE;
		g_ptr_array_add(s->inject, g_strdup(rec->name));
		return TRUE;
	case CKPT_REC_DIR:
		path = g_build_filename(s->dir, "data", rec->name, NULL);
		if (mkdir(path, (rec->mode & 0777) | 0700) < 0)
			return io_error(error, "create", path);
		return TRUE;
	case CKPT_REC_FILE:
		path = g_build_filename(s->dir, "data", rec->name, NULL);
		return stage_file(r, path, rec->mode, error);
	case CKPT_REC_SYMLINK: {
		/* Made last: no later record may reach through one. */
		GBytes *b = ckpt_read_bytes(r, CKPT_NAME_MAX, error);
		gsize len;
		const char *t;

		if (!b)
			return FALSE;
		t = g_bytes_get_data(b, &len);
		if (!len || memchr(t, '\0', len)) {
			g_bytes_unref(b);
			g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
				    "a bad link in the checkpoint");
			return FALSE;
		}
		g_ptr_array_add(s->links, g_strdup(rec->name));
		g_ptr_array_add(s->links, g_strndup(t, len));
		g_bytes_unref(b);
		return TRUE;
	}
	case CKPT_REC_STATE:
		if (!has_name(s->inject, rec->name)) {
			g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
				    "saved state of %s, which the checkpoint "
				    "does not hold", rec->name);
			return FALSE;
		}
		path = g_build_filename(s->dir, "state", rec->name, NULL);
		return stage_file(r, path, 0600, error);
	default:
		return TRUE;	/* OBJECTS: for people; the rest skipped */
	}
}

struct vmckpt_staged *
vmckpt_stage(struct vmnode *vm, const char *archive, GError **error)
{
	struct vmckpt_staged *s = g_new0(struct vmckpt_staged, 1);
	struct ckpt_reader *r = NULL;
	struct ckpt_rec rec;
	guint i;
	int fd, n = -1;

	s->inject = g_ptr_array_new_with_free_func(g_free);
	s->env = g_ptr_array_new_with_free_func(g_free);
	s->links = g_ptr_array_new_with_free_func(g_free);
	s->dir = g_build_filename(vm->dir, "restore.XXXXXX", NULL);
	if (!g_mkdtemp(s->dir)) {
		io_error(error, "create", s->dir);
		g_clear_pointer(&s->dir, g_free);
		vmckpt_staged_free(s);
		return NULL;
	}
	for (i = 0; i < 3; i++) {
		static const char *const sub[] = { "inject", "data", "state" };
		g_autofree char *p = g_build_filename(s->dir, sub[i], NULL);

		if (mkdir(p, 0700) < 0) {
			io_error(error, "create", p);
			goto fail;
		}
	}
	if ((fd = open(archive, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		io_error(error, "open", archive);
		goto fail;
	}
	if ((r = ckpt_reader_new(fd, error)))
		while ((n = ckpt_read_next(r, &rec, error)) == 1)
			if (!stage_record(s, r, &rec, error)) {
				n = -1;
				break;
			}
	ckpt_reader_free(r);
	close(fd);
	if (n != 0)
		goto fail;
	for (i = 0; i + 1 < s->links->len; i += 2) {
		g_autofree char *p = g_build_filename(s->dir, "data",
						      s->links->pdata[i], NULL);

		if (symlink(s->links->pdata[i + 1], p) < 0) {
			io_error(error, "create the link", p);
			goto fail;
		}
	}
	return s;
fail:
	rm_rf(s->dir);
	vmckpt_staged_free(s);
	return NULL;
}
