/*
 * nodeset.h - node sets: "node[1-8]", "node[01-16,20]", "rack[1-2]-n[1-4]",
 * "a,b[1-2]", as clush, pdsh and Slurm write them (the syntax of
 * SLURM_JOB_NODELIST and `scontrol show hostnames`).
 */
#pragma once

#include <glib.h>

/* At most this many names from one set, unless the caller says less. */
#define NODESET_MAX 65536

/*
 * Expand text into the names it stands for, in order, as a NULL-ended
 * array (g_strfreev).  Commas outside brackets separate names; each
 * [RANGES] group in a name is a comma list of N or LO-HI ranges of
 * decimal numbers, written with LO's width (node[01-16] gives node01 ...
 * node16); several groups give every combination, the last group
 * varying fastest.  A bracket holding a ':' (and no ',') is an IPv6
 * address ("[::1]:22"), left as it is.  NULL with why for bad syntax, or when
 * the set would name more than max (0: NODESET_MAX) names.
 */
char **nodeset_expand(const char *text, guint max, GError **error);

/* Does text hold a node set group or a comma (more than a plain name)? */
gboolean nodeset_is_set(const char *text);
