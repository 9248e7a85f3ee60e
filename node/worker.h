/*
 * worker.h - the VM process: holds injected shared objects and runs one
 * call at a time.  It is a separate process from the supervisor so that
 * a call that crashes takes down nothing but its own VM.
 */
#pragma once

#include <glib.h>

/* Serve W_LOAD, W_RUN and W_DESTROY frames on fd until it closes; the
 * exit status.  Object ids start at first_object (1 if 0). */
int worker_main(int fd, guint32 first_object);
/* trickle-node --check-load: can path be dlopen()ed here?  Exit status. */
int worker_check_load(const char *path);
/* "signal 11 (SIGSEGV)" */
char *signal_description(int sig);

/* What every VM answers without anything injected (worker.c). */
struct builtin_info {
	const char *name;
	const char *doc;
};
extern const struct builtin_info worker_builtins[];	/* NULL-terminated */

/* objects.c: the worker's remote objects (trickle.h) */
void objects_init(guint32 first_id);
/* Destroy object id: 0, or ENOENT. */
int objects_destroy_id(guint32 id);
/* Could the list differ from the one last taken? */
gboolean objects_maybe_changed(void);
/* The live objects, "a(uss)" (floating). */
GVariant *objects_list(void);
