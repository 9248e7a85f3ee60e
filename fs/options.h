/* options.h - the command line (see options.c). */
#pragma once
#include "tree.h"

/* Parse argv in args: tricklefs's own -o options into fs->opt, NODEs and
 * host files into fs->hosts and fs->vms, and FUSE's own options into co;
 * what is left in args is for fuse_session_new. */
gboolean tfs_parse_args(struct cluster *fs, struct fuse_args *args,
			struct fuse_cmdline_opts *co, GError **error);
