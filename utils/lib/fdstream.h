/*
 * fdstream.h - a non-blocking byte stream over a pair of file descriptors,
 * driven by the default GMainContext.  trickle-node speaks to tricklefs
 * over its stdin/stdout with one, and to each VM worker over a socketpair.
 */
#pragma once

#include <glib.h>

struct fdstream;

struct fdstream_callbacks {
	void (*data)(void *user, const guint8 *data, gsize len);
	/* End of input, or a read/write error (error set).  The stream stops
	 * watching its fds; the owner frees it (also from here). */
	void (*closed)(void *user, const GError *error);
};

/* rfd and wfd may be the same descriptor; the stream owns them. */
struct fdstream *fdstream_new(int rfd, int wfd,
			      const struct fdstream_callbacks *cb, void *user);
void fdstream_write(struct fdstream *s, const void *data, gsize len);
gsize fdstream_pending(const struct fdstream *s);
/* Write out what is queued, blocking for at most timeout_ms. */
gboolean fdstream_flush(struct fdstream *s, int timeout_ms);
/* Hand over whatever input is already there (the peer may be gone). */
void fdstream_drain(struct fdstream *s);
void fdstream_free(struct fdstream *s);
