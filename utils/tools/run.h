/*
 * run.h - the parts of trickle-run: one call (trickle-run.c), or one on
 * every VM (run_all.c).
 */
#pragma once

#include <glib.h>

#include "tclient.h"

/*
 * Fork line (with its newline) on MOUNT/.all/calls/new, wait for every
 * VM's call and print each one's output labelled with its VM, or with
 * gather the distinct outputs once each under the VMs that gave them.
 * Returns the exit status: the largest of the calls', 128+signal if
 * interrupted (the calls are cancelled), 255 on errors (reported).
 */
/* forward: our stdin goes to every call (line has TRICKLE_STDIN=1). */
int run_all(const char *mount, const char *line, gboolean gather,
	    gboolean forward);
