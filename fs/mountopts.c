/*
 * mountopts.c - mount(8) and fstab conventions (see mountopts.h).
 *
 * mount(8) runs `tricklefs SOURCE DIR -o OPTS` through mount.fuse3 for
 * a fuse.tricklefs line; util-linux takes its own words (noauto, user,
 * _netdev, nofail, x-*) off first and turns user/users into
 * nosuid,nodev,noexec, which libfuse takes.  Run by hand with the same
 * words, or by other mount front ends, tricklefs ignores them.
 *
 * An option neither tricklefs nor libfuse knows is named at once: the
 * libfuse at hand is asked (fuse_parse_cmdline, then fuse_session_new
 * on that option alone, with libfuse's log silenced), so the check
 * follows its version instead of a copied list.
 */
#include "mountopts.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

gboolean
mountopts_ignored(const char *opt)
{
	static const char *const words[] = {
		"defaults", "auto", "noauto", "user", "nouser", "users",
		"owner", "noowner", "group", "nogroup", "_netdev", "nofail",
		"rw", "dev", "suid", "exec", NULL,
	};
	guint i;

	if (g_str_has_prefix(opt, "x-") || g_str_has_prefix(opt, "comment="))
		return TRUE;
	for (i = 0; words[i]; i++)
		if (strcmp(opt, words[i]) == 0)
			return TRUE;
	return FALSE;
}

static void
quiet(enum fuse_log_level level, const char *fmt, va_list ap)
{
}

gboolean
mountopts_fuse_takes(const char *opt)
{
	static const struct fuse_lowlevel_ops none;
	char *argv[] = { "tricklefs", "-o", (char *)opt, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct fuse_cmdline_opts co = { 0 };
	struct fuse_session *se = NULL;
	gboolean takes = FALSE;

	if (opt[0] == '-') {		/* "-s": an option of its own */
		argv[1] = (char *)opt;
		argv[2] = NULL;
		args.argc = 2;
	}
	fuse_set_log_func(quiet);
	/* Copies argv into args on the first change: freed below. */
	if (fuse_parse_cmdline(&args, &co) == 0) {
		if (args.argc <= 1)
			takes = TRUE;	/* fuse_parse_cmdline's own */
		else if ((se = fuse_session_new(&args, &none, sizeof(none),
						NULL))) {
			takes = TRUE;
			fuse_session_destroy(se);
		}
	}
	fuse_set_log_func(NULL);
	free(co.mountpoint);
	fuse_opt_free_args(&args);
	return takes;
}

gboolean
mountopts_no_node(const char *word)
{
	return strcmp(word, "none") == 0 || strcmp(word, "tricklefs") == 0;
}

gboolean
mountopts_check_mountpoint(const char *path, GError **error)
{
	struct stat st;
	int fd;
	char end;

	/* A file descriptor of /dev/fuse handed over (fusermount3 style,
	 * libfuse's /dev/fd/N): nothing to check here. */
	if (sscanf(path, "/dev/fd/%d%c", &fd, &end) == 1)
		return TRUE;
	if (stat(path, &st) != 0) {
		int e = errno;
		g_autofree char *q = g_shell_quote(path);
		g_autofree char *fix = e == ENOENT ?
			g_strdup_printf(" (create it first: mkdir -p %s)", q) :
			e == ENOTCONN ? g_strdup_printf(" (a mount whose "
			"tricklefs died: fusermount3 -uz %s first)", q) :
			g_strdup("");

		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
			    "mount point %s: %s%s", path, g_strerror(e), fix);
		return FALSE;
	}
	if (!S_ISDIR(st.st_mode)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR,
			    "mount point %s: not a directory", path);
		return FALSE;
	}
	return TRUE;
}
