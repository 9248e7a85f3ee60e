/*
 * ckptar.h - the checkpoint archive (issue 16): one file holding a VM's
 * state, written by trickle-node and read back by it (restore), checked
 * by tricklefs before it imports one.
 *
 *   header   8 bytes "TRKCKPT\n", u32 version (CKPT_VERSION)
 *   records  u32 type, u32 mode, u32 name length, u64 data length,
 *            the name (no NUL), the data
 *   last     a CKPT_REC_END record whose data is the SHA-256 of every
 *            byte before it (header and records), and nothing after it
 *
 * All integers big endian.  The decoder never trusts a length: a name
 * longer than CKPT_NAME_MAX, data longer than what is left of the file,
 * an unknown type, a name that is not a clean relative path, a missing
 * or wrong END, or bytes after it are errors, never a crash or a read
 * past the end.  Data is handed over in pieces, so neither side ever
 * holds a whole file.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

#define CKPT_MAGIC "TRKCKPT\n"
#define CKPT_MAGIC_LEN 8
#define CKPT_VERSION 1u
#define CKPT_NAME_MAX 4096
#define CKPT_REC_HEADER 20

enum ckpt_rec_type {
	CKPT_REC_INFO = 1,	/* data: "key=value\n" lines (vm, time,
				   next_object) */
	CKPT_REC_ENV,		/* name NAME, data VALUE: a setenv */
	CKPT_REC_INJECT,	/* name: the file's name, mode, data: bytes;
				   in the order they were loaded */
	CKPT_REC_DIR,		/* name: a path under data/, mode */
	CKPT_REC_FILE,		/* name: a path under data/, mode, bytes */
	CKPT_REC_SYMLINK,	/* name: a path under data/, data: target */
	CKPT_REC_STATE,		/* name: an injected library, data: what its
				   trickle_save() wrote */
	CKPT_REC_OBJECTS,	/* data: the live objects, a serialized
				   GVariant a(uss) (id, class, description) */
	CKPT_REC_END,		/* data: SHA-256 of all before it */
	CKPT_REC_MAX
};

#define CKPT_ERROR (ckpt_error_quark())
GQuark ckpt_error_quark(void);
enum { CKPT_ERROR_MALFORMED, CKPT_ERROR_IO };

const char *ckpt_rec_name(guint type);
/* A path a record may name: relative, components not empty, "." or "..",
 * no NUL, at most CKPT_NAME_MAX bytes; single: one component only (an
 * injected file, a library, an environment name). */
gboolean ckpt_name_valid(const char *name, gsize len, gboolean single);

/* Writing: to fd, from its current offset. */
struct ckpt_writer;
struct ckpt_writer *ckpt_writer_new(int fd);
/* Each FALSE with error; the writer is then unusable but must be freed. */
gboolean ckpt_write(struct ckpt_writer *w, guint type, guint32 mode,
		    const char *name, const void *data, gsize len,
		    GError **error);
/* A record whose data is len bytes read from src (a file). */
gboolean ckpt_write_fd(struct ckpt_writer *w, guint type, guint32 mode,
		       const char *name, int src, guint64 len,
		       GError **error);
gboolean ckpt_write_end(struct ckpt_writer *w, GError **error);
void ckpt_writer_free(struct ckpt_writer *w);

/* Reading: fd from offset 0 to its size (fstat). */
struct ckpt_reader;
struct ckpt_rec {
	guint type;
	guint32 mode;
	char *name;		/* owned by the reader, until the next */
	guint64 len;		/* data length */
};
struct ckpt_reader *ckpt_reader_new(int fd, GError **error);
/* The next record: 1 (rec filled; its data may then be read, what is
 * not read is skipped), 0 after a valid END (the archive is whole and
 * its sum right), -1 with error. */
int ckpt_read_next(struct ckpt_reader *r, struct ckpt_rec *rec,
		   GError **error);
/* The current record's data: all of it into memory (at most max bytes,
 * else an error), or copied to fd. */
GBytes *ckpt_read_bytes(struct ckpt_reader *r, gsize max, GError **error);
gboolean ckpt_read_to_fd(struct ckpt_reader *r, int fd, GError **error);
void ckpt_reader_free(struct ckpt_reader *r);
/* Read the whole archive at path without keeping anything: TRUE if it
 * is well formed and whole. */
gboolean ckpt_check_file(const char *path, GError **error);
