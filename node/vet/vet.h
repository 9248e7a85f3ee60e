/*
 * vet.h - node/vet, the lowest layer of trickle-node: what an injected
 * file is, before anything runs it.  Its kind, from its headers
 * (elfcheck.c); the functions a shared object exports (elfsyms.c); and
 * whether it loads at all, tried in a throw-away process (checkload.c).
 * It knows nothing of VMs or of the protocol.
 *
 * For the layers above: node/vm (the kinds, the function lists) and the
 * supervisor in node/ (classifying and trial-loading a transfer).
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* elfcheck.c: decide what an injected file is. */

enum inject_kind {
	INJECT_SHARED,		/* dlopen()ed into the VM */
	INJECT_PROGRAM,		/* run as a child process */
};

/* Classify the file at path, given the mode it was created with.  On
 * refusal returns FALSE with a message fit for the user in error. */
gboolean elfcheck_classify(const char *path, mode_t mode,
			   enum inject_kind *kind, GError **error);

/* elfsyms.c: the functions an injected shared object exports, read from
 * its dynamic symbol table, with the doc strings TRICKLE_DOC() left in
 * it. */

/* Doc strings are cut to this many bytes. */
#define ELFSYMS_DOC_MAX 256

struct elf_func {
	char *name;
	char *doc;			/* "" when the object has none */
};

void elf_func_free(struct elf_func *f);

/*
 * The global, defined STT_FUNC symbols of the ELF shared object at path
 * whose names do not start with '_', each with the string of its
 * trickle_doc_NAME symbol if there is one, sorted by name.  The file is
 * user input: every offset and size in it is checked against the file.
 * An object without a symbol table gives an empty array; NULL with error
 * only when the file cannot be read or is not a 64-bit little-endian ELF
 * file.
 */
GPtrArray *elfsyms_functions(const char *path, GError **error);

/* checkload.c: load an injected shared object once in a throw-away
 * process (self --check-load PATH, which node/worker answers, with its
 * verdict on its fd 3) before any VM does.  A constructor that exits,
 * even with status 0, or crashes refuses the file. */

struct check;

/* ok, or why not in words for the user. */
typedef void (*check_done_fn)(void *data, gboolean ok, const char *why);

/* Start checking path, running self (this executable); done runs once,
 * from the main loop, unless the check is cancelled first.  NULL with
 * error if it cannot start. */
struct check *check_load_start(const char *self, const char *path,
			       guint timeout_s, check_done_fn done,
			       void *data, GError **error);
/* Stop it (its whole process group); done is not called. */
void check_load_cancel(struct check *c);
