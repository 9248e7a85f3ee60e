/*
 * elfsyms.h - the functions an injected shared object exports, read from
 * its dynamic symbol table, with the doc strings TRICKLE_DOC() left in it.
 */
#pragma once

#include <glib.h>

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
