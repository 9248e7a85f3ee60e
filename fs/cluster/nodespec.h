/*
 * nodespec.h - NODE arguments: [N/][NAME=][USER@]HOST[:PORT], where HOST
 * may be a node set (nodeset.h: node[1-8]), and host files holding them.
 */
#pragma once

#include <glib.h>

struct nodespec {
	char *name;		/* NULL: named after the host */
	char *user;		/* NULL: the local user */
	char *host;
	int port;		/* 0: 22 */
	guint slots;		/* N/: VMs on the node; 0: not given */
};

/* VMs one trickle-node holds at most (node/supervisor.c's MAX_VMS). */
#define NODE_MAX_VMS 1024

gboolean nodespec_parse(const char *text, struct nodespec *spec,
			GError **error);
void nodespec_clear(struct nodespec *spec);
/*
 * A NODE word that may be a node set ("4/user@node[1-4]:22", "a,b[1-2]"):
 * append a struct nodespec * per node to specs (free each with
 * nodespec_free).  Refused: bad syntax, NAME= on more than one node, a
 * set of more than max (0: NODESET_MAX) nodes.
 */
gboolean nodespec_parse_set(const char *word, guint max, GPtrArray *specs,
			    GError **error);
void nodespec_free(struct nodespec *spec);
/* How many VMs a spec makes: its N/, else vms_per_node (if > 0), else 1. */
guint nodespec_vms(const struct nodespec *spec, int vms_per_node);
/* "[USER@]HOST:PORT": where a spec leads, one SSH connection's name. */
char *nodespec_where(const struct nodespec *spec);
/* Append the NODE words of a host file (blank lines and # comments
 * skipped) to specs. */
gboolean nodespec_read_file(const char *path, GPtrArray *specs,
			    GError **error);
/* Is name usable as a directory name in the mount? */
gboolean nodespec_valid_name(const char *name);
