/*
 * datapath.c - the lexical half of keeping data/ paths beneath the data
 * directory (datapath.h); datafs.c does the other half, resolving the
 * normal form with openat2(RESOLVE_BENEATH).
 */
#include "datapath.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

int
datapath_normalize(const char *path, GString *out)
{
	g_auto(GStrv) parts = NULL;
	guint i;

	g_string_truncate(out, 0);
	if (path[0] == '/')
		return EPERM;
	parts = g_strsplit(path, "/", -1);
	for (i = 0; parts[i]; i++) {
		if (!*parts[i] || strcmp(parts[i], ".") == 0)
			continue;
		if (strcmp(parts[i], "..") == 0)
			return EPERM;
		if (out->len)
			g_string_append_c(out, '/');
		g_string_append(out, parts[i]);
	}
	if (out->len >= PATH_MAX)
		return ENAMETOOLONG;
	return 0;
}
