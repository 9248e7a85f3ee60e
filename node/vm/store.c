/*
 * store.c - small helpers for the files a node keeps on disk.
 */
#include "vm.h"

#include <ftw.h>
#include <stdio.h>
#include <gio/gio.h>

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (remove(path) < 0)
		g_warning("cannot remove %s: %s", path, g_strerror(errno));
	return 0;
}

gboolean
rm_rf(const char *path)
{
	return nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) == 0;
}

/* A name for a file in a VM's inject/ directory: one path component that
 * is not hidden (our partial transfers are). */
gboolean
valid_file_name(const char *name, GError **error)
{
	if (!*name || name[0] == '.' || strchr(name, '/') ||
	    strlen(name) > 255) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
			    "invalid file name \"%s\"", name);
		return FALSE;
	}
	return TRUE;
}
