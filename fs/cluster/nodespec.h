/*
 * nodespec.h - NODE arguments: [NAME=][USER@]HOST[:PORT], and host files
 * holding one per line.
 */
#pragma once

#include <glib.h>

struct nodespec {
	char *name;		/* NULL: named after the host */
	char *user;		/* NULL: the local user */
	char *host;
	int port;		/* 0: 22 */
};

gboolean nodespec_parse(const char *text, struct nodespec *spec,
			GError **error);
void nodespec_clear(struct nodespec *spec);
/* "[USER@]HOST:PORT": where a spec leads, one SSH connection's name. */
char *nodespec_where(const struct nodespec *spec);
/* Append the NODE words of a host file (blank lines and # comments
 * skipped) to specs. */
gboolean nodespec_read_file(const char *path, GPtrArray *specs,
			    GError **error);
/* Is name usable as a directory name in the mount? */
gboolean nodespec_valid_name(const char *name);
