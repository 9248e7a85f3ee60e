/*
 * fdio.h - plain blocking I/O on file descriptors, shared by the mount,
 * the node and the tools: the one copy of the write-everything loop.
 */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <sys/types.h>

/* Write all of buf to fd, going on after short writes and EINTR.
 * 0, or -1 with errno set by the write that failed. */
int fdio_write_all(int fd, const void *buf, size_t len);

