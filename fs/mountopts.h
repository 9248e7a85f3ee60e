/*
 * mountopts.h - what mount(8) and fstab bring to the command line: their
 * own words in -o (ignored), the source word that names no node, the
 * mount point; and whether libfuse takes an option tricklefs does not.
 */
#pragma once
#include "tree.h"

/* An fstab/mount(8) word tricklefs ignores: defaults, auto, noauto,
 * user, users, owner, group, _netdev, nofail, x-*, comment=, rw, dev,
 * suid, exec (and their no- forms where mount(8) has them). */
gboolean mountopts_ignored(const char *opt);
/* Does the libfuse we run take this option (as FUSE's own options, or
 * its mount options)?  opt is an argument as fuse_opt_parse hands it
 * over: "-s", or an -o word such as "allow_other" or "max_read=4096". */
gboolean mountopts_fuse_takes(const char *opt);
/* The source field of an fstab line that names no node: "none" or
 * "tricklefs" (nodes then come from local=, hostfile=, discover). */
gboolean mountopts_no_node(const char *word);
/* Is path a directory to mount on?  If not, why, with the fix. */
gboolean mountopts_check_mountpoint(const char *path, GError **error);
