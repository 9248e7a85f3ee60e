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

/* The SHA-256 of a file's bytes, in lower-case hex (the sum an injected
 * file goes by, at the mount and in the node's cache); NULL with error
 * set if it cannot be read. */
char *fdio_file_sha256(const char *path, GError **error);
