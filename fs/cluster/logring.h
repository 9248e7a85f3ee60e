/*
 * logring.h - the mount's recent messages, kept in memory for MOUNT/.log.
 *
 * A ring of whole lines (at most LOGRING_LINES lines and LOGRING_BYTES
 * bytes; the oldest go first).  Every byte ever added has an offset that
 * never changes: the log's size only grows, so `tail -f` sees it grow,
 * and a read at an offset the ring has dropped gets the oldest line kept.
 * One ring per process (logring_default()), fed by fs/log.c; it may be
 * used from any thread.
 */
#pragma once

#include <glib.h>

#define LOGRING_LINES 1000
#define LOGRING_BYTES (256u << 10)

struct logring;

struct logring *logring_new(guint max_lines, gsize max_bytes);
void logring_free(struct logring *r);
/* The process's ring, made at first use. */
struct logring *logring_default(void);

/* Add a line: "TIME LEVEL: text\n" (text without its newline; a longer
 * line than the ring holds is cut). */
void logring_add(struct logring *r, gint64 when, const char *level,
		 const char *text);
/* Offsets: [start, end) is what is kept; end is the log's size. */
guint64 logring_start(struct logring *r);
guint64 logring_end(struct logring *r);
/* Copy at most size bytes kept from offset off into buf; the count.
 * off below the start reads from the start (see logring_read_skew). */
gsize logring_read(struct logring *r, guint64 off, char *buf,
		   gsize size);

/* A reader's view, so that a `cat` from 0 after lines were dropped
 * reads the ring once, in order: the first read fixes skew (what to
 * add to the reader's offsets), and it moves on if the ring moves past
 * it.  skew starts at G_MAXUINT64 ("not fixed yet"). */
gsize logring_read_skew(struct logring *r, guint64 *skew, guint64 off,
			char *buf, gsize size);
