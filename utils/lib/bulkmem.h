/*
 * bulkmem.h - malloc kept from handing bulk buffers back to the kernel
 * (issue 12).
 *
 * Every frame of a bulk stream (a data/ write, a read's DATA) passes
 * through buffers of WIRE_CHUNK bytes or more (a body, a copy, a reply),
 * each freed soon after.  glibc serves them from the heap once its mmap
 * threshold has risen past them, but trims the heap's top as soon as
 * twice that is free: the next buffer grows it again and faults every
 * page in anew (brk, page faults and the first touch were two thirds of
 * the node's CPU for cp into data/).  Called once at start, before any
 * thread.
 */
#pragma once

void bulkmem_init(void);
