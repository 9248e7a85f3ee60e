/*
 * worker_priv.h - inside node/worker only: the table of remote objects
 * (objects.c, behind trickle.h's trickle_object_*) as worker.c drives it
 * between calls.  Nothing outside node/worker includes this; the layers
 * above use worker.h.
 */
#pragma once

#include <glib.h>

/* objects.c: the worker's remote objects (trickle.h) */
void objects_init(guint32 first_id);
/* Destroy object id: 0, or ENOENT. */
int objects_destroy_id(guint32 id);
/* Could the list differ from the one last taken? */
gboolean objects_maybe_changed(void);
/* The live objects, "a(uss)" (floating). */
GVariant *objects_list(void);
