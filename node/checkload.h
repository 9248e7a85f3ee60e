/*
 * checkload.h - load an injected shared object once in a throw-away
 * process before any VM does (see checkload.c).
 */
#pragma once

#include <glib.h>

struct check;

/* ok, or why not in words for the user. */
typedef void (*check_done_fn)(void *data, gboolean ok, const char *why);

/* Start checking path; done runs once, from the main loop, unless the
 * check is cancelled first.  NULL with error if it cannot start. */
struct check *check_load_start(const char *self, const char *path,
			       guint timeout_s, check_done_fn done,
			       void *data, GError **error);
/* Stop it (its whole process group); done is not called. */
void check_load_cancel(struct check *c);
