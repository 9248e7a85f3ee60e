/* log.h - where tricklefs's messages go (log.c). */
#pragma once

#include "cluster.h"

void tfs_log_init(const struct cluster_options *opt);
/* The mount is ready: from here on, no more terminal. */
void tfs_log_detach(void);
