/* daemon.h - background the mount once it is ready (see daemon.c). */
#pragma once
#include <stdio.h>

/* Fork; only the child returns.  The parent exits with the status the
 * child passes to daemon_ready. */
void daemon_start(void);
/* Tell the waiting parent how it went; on 0, detach from the terminal. */
void daemon_ready(int status);
