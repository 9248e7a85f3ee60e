/*
 * map_transfer.c - trickle-map's files through a VM's data/ directory, as
 * GNU parallel's --transferfile, --return and --cleanup: a job's files
 * (the options' words with the job's replacement strings) are copied from
 * here into MOUNT/VM/data/ before its call is forked there, its --return
 * files are copied back after it ends, and with --cleanup both are
 * removed from data/ (with the directories that were made empty).
 *
 * Where a file goes, as parallel's rules, with data/ for its work dir:
 * FILE relative is data/FILE; with "/./" in it, what follows is the path
 * in data/ (/tmp/./a/b is data/a/b, here /tmp/a/b); an absolute FILE
 * without "/./" would be the same path on the node, outside data/, which
 * the mount does not reach: that job fails, saying so.  ".." may not
 * lead out of data/.
 *
 * Jobs on one VM that send the same file share one copy (counted): it is
 * copied by the first and removed by the last one's --cleanup.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "map.h"

static const char *prog = "trickle-map";

struct transfer {
	GPtrArray *send, *ret;	/* struct template, a word each */
	gboolean cleanup;
	mode_t umask;
	GHashTable *present;	/* "VMDIR\nPATH" -> jobs that sent it */
};

G_DEFINE_QUARK(trickle-map-transfer, map_transfer_error)

static void
templates(GPtrArray *to, GPtrArray *words)
{
	for (guint i = 0; words && i < words->len; i++) {
		char *w = words->pdata[i];

		g_ptr_array_add(to, template_new(&w, 1));
	}
}

struct transfer *
transfer_new(GPtrArray *send, GPtrArray *ret, gboolean cleanup)
{
	struct transfer *tr;

	if ((!send || !send->len) && (!ret || !ret->len))
		return NULL;
	tr = g_new0(struct transfer, 1);
	tr->send = g_ptr_array_new_with_free_func(
		(GDestroyNotify)template_free);
	tr->ret = g_ptr_array_new_with_free_func(
		(GDestroyNotify)template_free);
	templates(tr->send, send);
	templates(tr->ret, ret);
	tr->cleanup = cleanup;
	tr->umask = umask(0);
	umask(tr->umask);
	tr->present = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					    NULL);
	return tr;
}

void
transfer_free(struct transfer *tr)
{
	if (!tr)
		return;
	g_ptr_array_unref(tr->send);
	g_ptr_array_unref(tr->ret);
	g_hash_table_destroy(tr->present);
	g_free(tr);
}

static char **
expand(GPtrArray *tmpls, guint64 seq, GPtrArray *vals)
{
	GPtrArray *all = g_ptr_array_new();

	for (guint i = 0; i < tmpls->len; i++) {
		g_autoptr(GPtrArray) w = template_words(tmpls->pdata[i], seq,
							vals, FALSE);

		for (guint k = 0; k < w->len; k++)
			if (*(char *)w->pdata[k])	/* {2} of nothing */
				g_ptr_array_add(all, g_strdup(w->pdata[k]));
	}
	g_ptr_array_add(all, NULL);
	return (char **)g_ptr_array_free(all, FALSE);
}

void
transfer_names(struct transfer *tr, guint64 seq, GPtrArray *vals,
	       char ***send, char ***ret)
{
	*send = expand(tr->send, seq, vals);
	*ret = expand(tr->ret, seq, vals);
}

/* Where FILE is in data/ (see the top): NULL with error set. */
static char *
data_path(const char *opt, const char *file, GError **error)
{
	const char *p = strstr(file, "/./");
	g_auto(GStrv) parts = NULL;
	GString *s;

	if (p)
		p += 3;
	else if (g_path_is_absolute(file)) {
		g_set_error(error, MAP_TRANSFER_ERROR, MAP_TRANSFER_FAILED,
			    "%s %s: an absolute path would be outside the VM's "
			    "data/ (write DIR/./NAME to have NAME there)", opt,
			    file);
		return NULL;
	} else
		p = file;
	parts = g_strsplit(p, "/", -1);
	s = g_string_new(NULL);
	for (char **q = parts; *q; q++) {
		if (!**q || strcmp(*q, ".") == 0)
			continue;
		if (strcmp(*q, "..") == 0) {
			g_set_error(error, MAP_TRANSFER_ERROR,
				    MAP_TRANSFER_FAILED, "%s %s: \"..\" would "
				    "lead out of the VM's data/", opt, file);
			g_string_free(s, TRUE);
			return NULL;
		}
		g_string_append_printf(s, "%s%s", s->len ? "/" : "", *q);
	}
	if (!s->len) {
		g_set_error(error, MAP_TRANSFER_ERROR, MAP_TRANSFER_FAILED,
			    "%s %s: no file name in it", opt, file);
		g_string_free(s, TRUE);
		return NULL;
	}
	return g_string_free(s, FALSE);
}

/* An error of data/ on VM: a VM that is away, or another failure. */
static void
data_error(GError **error, int err, const char *opt, const char *file,
	   const char *vmdir, const char *rel)
{
	g_autofree char *vm = g_path_get_basename(vmdir);
	gboolean down = err == EHOSTUNREACH || err == EHOSTDOWN ||
			err == ENOTCONN;

	g_set_error(error, MAP_TRANSFER_ERROR,
		    down ? MAP_TRANSFER_VM_DOWN : MAP_TRANSFER_FAILED,
		    "%s %s: %s/data/%s: %s", opt, file, vm, rel,
		    g_strerror(err));
}

/* Copy in to out (a file in data/ or here): 0, or the errno of the side
 * that failed, *remote saying which. */
static int
copy_fd(int in, int out, gboolean out_remote, gboolean *remote)
{
	int which = 0;

	if (tc_copy(in, out, NULL, &which) == 0)
		return 0;
	*remote = out_remote ? which == 1 : which == 0;
	return errno;
}

/* One file into data/ (at rel). */
static gboolean
send_file(const char *vmdir, const char *file, const char *rel,
	  GError **error)
{
	g_autofree char *dst = g_build_filename(vmdir, "data", rel, NULL);
	g_autofree char *dir = g_path_get_dirname(dst);
	gboolean remote = TRUE;
	struct stat st;
	int in, out, err = 0;

	if ((in = open(file, O_RDONLY | O_CLOEXEC)) < 0 || fstat(in, &st) < 0)
		err = errno;
	else if (!S_ISREG(st.st_mode))
		err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
	if (err) {
		if (in >= 0)
			close(in);
		g_set_error(error, MAP_TRANSFER_ERROR, MAP_TRANSFER_FAILED,
			    "--transferfile %s: %s", file, err == EINVAL ?
			    "not a regular file" : g_strerror(err));
		return FALSE;
	}
	if (g_mkdir_with_parents(dir, 0755) < 0 ||
	    (out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			st.st_mode & 0777)) < 0) {
		err = errno;
		close(in);
		data_error(error, err, "--transferfile", file, vmdir, rel);
		return FALSE;
	}
	err = copy_fd(in, out, TRUE, &remote);
	close(in);
	if (close(out) < 0 && !err) {
		err = errno;
		remote = TRUE;
	}
	if (!err)
		return TRUE;
	if (remote)
		data_error(error, err, "--transferfile", file, vmdir, rel);
	else
		g_set_error(error, MAP_TRANSFER_ERROR, MAP_TRANSFER_FAILED,
			    "--transferfile %s: %s", file, g_strerror(err));
	return FALSE;
}

/* Remove data/rel, then the directories it leaves empty. */
static void
remove_in_data(const char *vmdir, const char *rel)
{
	g_autofree char *path = g_build_filename(vmdir, "data", rel, NULL);
	g_autofree char *vm = NULL;
	gsize datalen = strlen(vmdir) + strlen("/data");
	char *slash;

	if (unlink(path) < 0 && errno != ENOENT) {
		vm = g_path_get_basename(vmdir);
		fprintf(stderr, "%s: --cleanup: %s/data/%s: %s\n", prog, vm,
			rel, g_strerror(errno));
		return;
	}
	/* Up to data/ itself, not including it. */
	while ((slash = strrchr(path, '/')) && (gsize)(slash - path) > datalen) {
		*slash = '\0';
		if (rmdir(path) < 0)
			break;
	}
}

/* One job less uses data/rel on vmdir: the last one removes it. */
static void
release(struct transfer *tr, const char *vmdir, const char *rel)
{
	g_autofree char *key = g_strconcat(vmdir, "\n", rel, NULL);
	guint n = GPOINTER_TO_UINT(g_hash_table_lookup(tr->present, key));

	if (n > 1) {
		g_hash_table_insert(tr->present, g_steal_pointer(&key),
				    GUINT_TO_POINTER(n - 1));
		return;
	}
	g_hash_table_remove(tr->present, key);
	if (tr->cleanup)
		remove_in_data(vmdir, rel);
}

gboolean
transfer_send(struct transfer *tr, const char *vmdir, char **send,
	      GError **error)
{
	guint i;

	for (i = 0; send[i]; i++) {
		g_autofree char *rel = data_path("--transferfile", send[i],
						 error);
		g_autofree char *key = NULL;
		guint n;

		if (!rel)
			break;
		key = g_strconcat(vmdir, "\n", rel, NULL);
		n = GPOINTER_TO_UINT(g_hash_table_lookup(tr->present, key));
		if (!n && !send_file(vmdir, send[i], rel, error))
			break;
		g_hash_table_insert(tr->present, g_steal_pointer(&key),
				    GUINT_TO_POINTER(n + 1));
	}
	if (!send[i])
		return TRUE;
	/* The call will not run: what was sent for it goes. */
	while (i-- > 0) {
		g_autofree char *rel = data_path("", send[i], NULL);

		release(tr, vmdir, rel);
	}
	return FALSE;
}

/* One file back from data/rel to file, whole or not at all (a temp file
 * beside it, renamed).  0, or an errno (*remote: of data/). */
static int
return_file(struct transfer *tr, const char *vmdir, const char *file,
	    const char *rel, gboolean *remote)
{
	g_autofree char *src = g_build_filename(vmdir, "data", rel, NULL);
	g_autofree char *dir = g_path_get_dirname(file);
	g_autofree char *base = g_path_get_basename(file);
	g_autofree char *tmp = NULL;
	struct stat st;
	int in, out, err;

	*remote = TRUE;
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return errno;
	if (fstat(in, &st) < 0) {
		err = errno;
		close(in);
		return err;
	}
	*remote = FALSE;
	tmp = g_strdup_printf("%s/.%s.XXXXXX", dir, base);
	if (g_mkdir_with_parents(dir, 0777) < 0 ||
	    (out = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600)) < 0) {
		err = errno;
		close(in);
		return err;
	}
	err = copy_fd(in, out, FALSE, remote);
	close(in);
	if (!err && fchmod(out, st.st_mode & 0777 & ~tr->umask) < 0)
		err = errno;
	if (close(out) < 0 && !err)
		err = errno;
	if (!err && rename(tmp, file) < 0)
		err = errno;
	if (err)
		unlink(tmp);
	return err;
}

gboolean
transfer_return(struct transfer *tr, const char *vmdir, char **ret,
		gboolean call_ok, GError **error)
{
	g_autoptr(GString) why = g_string_new(NULL);
	g_autofree char *vm = g_path_get_basename(vmdir);

	for (guint i = 0; ret[i]; i++) {
		g_autoptr(GError) e = NULL;
		g_autofree char *rel = data_path("--return", ret[i], &e);
		gboolean remote = FALSE;
		int err = 0;

		if (rel && !(err = return_file(tr, vmdir, ret[i], rel,
					       &remote)))
			continue;
		/* A failed call need not have made its files. */
		if (rel && remote && err == ENOENT && !call_ok)
			continue;
		if (why->len)
			g_string_append(why, "; ");
		if (!rel)
			g_string_append(why, e->message);
		else if (remote && err == ENOENT)
			g_string_append_printf(why, "--return %s: the call did "
					       "not make %s/data/%s", ret[i],
					       vm, rel);
		else if (remote)
			g_string_append_printf(why, "--return %s: %s/data/%s: "
					       "%s", ret[i], vm, rel,
					       g_strerror(err));
		else
			g_string_append_printf(why, "--return %s: %s", ret[i],
					       g_strerror(err));
	}
	if (!why->len)
		return TRUE;
	g_set_error_literal(error, MAP_TRANSFER_ERROR, MAP_TRANSFER_FAILED,
			    why->str);
	return FALSE;
}

void
transfer_cleanup(struct transfer *tr, const char *vmdir, char **send,
		 char **ret)
{
	for (guint i = 0; send[i]; i++) {
		g_autofree char *rel = data_path("", send[i], NULL);

		if (rel)
			release(tr, vmdir, rel);
	}
	for (guint i = 0; tr->cleanup && ret[i]; i++) {
		g_autofree char *rel = data_path("", ret[i], NULL);

		/* One it was sent is the sent file's to remove. */
		if (rel && !g_strv_contains((const char *const *)send, ret[i]))
			remove_in_data(vmdir, rel);
	}
}

gboolean
transfer_stdin(int callsfd, guint32 id, GBytes *block, GError **error)
{
	char path[48];
	gsize len;
	const void *data = g_bytes_get_data(block, &len);
	int fd, err = 0;

	char ctl[48];

	snprintf(path, sizeof(path), "%u/stdin", id);
	snprintf(ctl, sizeof(ctl), "%u/ctl", id);
	if ((fd = openat(callsfd, path, O_WRONLY | O_CLOEXEC)) < 0 ||
	    fdio_write_all(fd, data, len) < 0) {
		err = errno;
		/* Before the close: it must not start on part of it. */
		tc_write_file(callsfd, ctl, "cancel\n");
	}
	if (fd >= 0 && close(fd) < 0 && !err) {
		err = errno;
		tc_write_file(callsfd, ctl, "cancel\n");
	}
	if (!err)
		return TRUE;
	g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err),
		    "its block to calls/%s: %s; cancelled", path,
		    g_strerror(err));
	return FALSE;
}
