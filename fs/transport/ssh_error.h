/*
 * ssh_error.h - what a failed libssh2 call means for a link, in words
 * for a user.  Shared by the SSH link and its set-up steps so that every
 * failure reads the same and "connection lost" is told apart alike.
 */
#pragma once

#include <glib.h>
#include <libssh2.h>

/* After rc the session is of no more use: the connection is gone. */
gboolean ssh_broken(int rc);
/* A libssh2 call on ssh failed with rc while the link to where (a
 * "host:port") was doing what ("opening a channel"). */
GError *ssh_error_new(LIBSSH2_SESSION *ssh, int rc, const char *where,
		      const char *what);
/* Connecting to where (port) failed with e: an error in words that name
 * the cause (connection refused, an unknown name), of G_IO_ERROR. */
GError *ssh_connect_error(const char *where, int port, const GError *e);
