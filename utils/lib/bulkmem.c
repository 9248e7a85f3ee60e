/*
 * bulkmem.c - see bulkmem.h.
 */
#include "bulkmem.h"

#include <malloc.h>

/* Buffers up to this come from the heap, not their own mmap. */
#define BULK_MMAP_THRESHOLD (4 << 20)
/* The heap keeps this much free at its top: a few frames' worth. */
#define BULK_TRIM_THRESHOLD (16 << 20)

void
bulkmem_init(void)
{
	/* Either failing leaves glibc's own (dynamic) choice: slower, not
	 * wrong. */
	mallopt(M_MMAP_THRESHOLD, BULK_MMAP_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, BULK_TRIM_THRESHOLD);
}
