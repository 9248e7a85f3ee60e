/* log.h - where tricklefs's messages go (log.c). */
#pragma once

#include "cluster.h"

/* mountpoint names the log file used when there is no syslog. */
void tfs_log_init(const struct cluster_options *opt, const char *mountpoint);
/* The mount is ready: from here on, no more terminal (it is told where
 * the messages go if not to syslog). */
void tfs_log_detach(const char *mountpoint);
