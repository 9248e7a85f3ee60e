/*
 * elfcheck.h - decide what an injected file is before anything runs it.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

enum inject_kind {
	INJECT_SHARED,		/* dlopen()ed into the VM */
	INJECT_PROGRAM,		/* run as a child process */
};

/* Classify the file at path, given the mode it was created with.  On
 * refusal returns FALSE with a message fit for the user in error. */
gboolean elfcheck_classify(const char *path, mode_t mode,
			   enum inject_kind *kind, GError **error);
