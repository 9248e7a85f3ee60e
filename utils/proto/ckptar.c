/*
 * ckptar.c - the checkpoint archive codec (see ckptar.h).
 */
#include "ckptar.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK(trickle-ckpt-error-quark, ckpt_error)

#define IO_CHUNK (64 * 1024)
#define SUM_LEN 32

static const char *const rec_names[CKPT_REC_MAX] = {
	[CKPT_REC_INFO] = "INFO",
	[CKPT_REC_ENV] = "ENV",
	[CKPT_REC_INJECT] = "INJECT",
	[CKPT_REC_DIR] = "DIR",
	[CKPT_REC_FILE] = "FILE",
	[CKPT_REC_SYMLINK] = "SYMLINK",
	[CKPT_REC_STATE] = "STATE",
	[CKPT_REC_OBJECTS] = "OBJECTS",
	[CKPT_REC_END] = "END",
};

const char *
ckpt_rec_name(guint type)
{
	return type < CKPT_REC_MAX && rec_names[type] ? rec_names[type]
						      : "UNKNOWN";
}

gboolean
ckpt_name_valid(const char *name, gsize len, gboolean single)
{
	gsize i, start = 0;

	if (len == 0 || len > CKPT_NAME_MAX || memchr(name, '\0', len))
		return FALSE;
	for (i = 0; i <= len; i++) {
		gsize n;

		if (i < len && name[i] != '/')
			continue;
		n = i - start;
		if (n == 0 || (n == 1 && name[start] == '.') ||
		    (n == 2 && name[start] == '.' && name[start + 1] == '.'))
			return FALSE;
		if (single && i < len)
			return FALSE;
		start = i + 1;
	}
	return TRUE;
}

static void
put32(guint8 *p, guint32 v)
{
	v = GUINT32_TO_BE(v);
	memcpy(p, &v, 4);
}

static void
put64(guint8 *p, guint64 v)
{
	v = GUINT64_TO_BE(v);
	memcpy(p, &v, 8);
}

static guint32
get32(const guint8 *p)
{
	guint32 v;

	memcpy(&v, p, 4);
	return GUINT32_FROM_BE(v);
}

static guint64
get64(const guint8 *p)
{
	guint64 v;

	memcpy(&v, p, 8);
	return GUINT64_FROM_BE(v);
}

/* Writing. */

struct ckpt_writer {
	int fd;
	GChecksum *sum;
	gboolean failed;
};

static gboolean
put(struct ckpt_writer *w, const void *buf, gsize len, GError **error)
{
	const guint8 *p = buf;

	g_checksum_update(w->sum, buf, len);
	while (len > 0) {
		ssize_t n = write(w->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			w->failed = TRUE;
			g_set_error(error, CKPT_ERROR, CKPT_ERROR_IO,
				    "cannot write the checkpoint: %s",
				    g_strerror(n < 0 ? errno : ENOSPC));
			return FALSE;
		}
		p += n;
		len -= n;
	}
	return TRUE;
}

struct ckpt_writer *
ckpt_writer_new(int fd)
{
	struct ckpt_writer *w = g_new0(struct ckpt_writer, 1);
	guint8 head[CKPT_MAGIC_LEN + 4];

	w->fd = fd;
	w->sum = g_checksum_new(G_CHECKSUM_SHA256);
	memcpy(head, CKPT_MAGIC, CKPT_MAGIC_LEN);
	put32(head + CKPT_MAGIC_LEN, CKPT_VERSION);
	put(w, head, sizeof(head), NULL);
	return w;
}

static gboolean
put_header(struct ckpt_writer *w, guint type, guint32 mode,
	   const char *name, guint64 len, GError **error)
{
	guint8 h[CKPT_REC_HEADER];
	gsize nlen = name ? strlen(name) : 0;

	if (w->failed) {
		g_set_error(error, CKPT_ERROR, CKPT_ERROR_IO,
			    "cannot write the checkpoint");
		return FALSE;
	}
	if (nlen > CKPT_NAME_MAX) {
		g_set_error(error, CKPT_ERROR, CKPT_ERROR_MALFORMED,
			    "name too long for a checkpoint: %.64s...", name);
		return FALSE;
	}
	put32(h, type);
	put32(h + 4, mode);
	put32(h + 8, (guint32)nlen);
	put64(h + 12, len);
	return put(w, h, sizeof(h), error) && put(w, name, nlen, error);
}

gboolean
ckpt_write(struct ckpt_writer *w, guint type, guint32 mode, const char *name,
	   const void *data, gsize len, GError **error)
{
	return put_header(w, type, mode, name, len, error) &&
	       put(w, data, len, error);
}

gboolean
ckpt_write_fd(struct ckpt_writer *w, guint type, guint32 mode,
	      const char *name, int src, guint64 len, GError **error)
{
	g_autofree guint8 *buf = g_malloc(IO_CHUNK);
	guint64 done = 0;

	if (!put_header(w, type, mode, name, len, error))
		return FALSE;
	while (done < len) {
		ssize_t n = read(src, buf, MIN(IO_CHUNK, len - done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* The file shrank under us: the record would lie. */
			w->failed = TRUE;
			g_set_error(error, CKPT_ERROR, CKPT_ERROR_IO,
				    "cannot read %s: %s", name,
				    n < 0 ? g_strerror(errno)
					  : "it shrank while being saved");
			return FALSE;
		}
		if (!put(w, buf, n, error))
			return FALSE;
		done += n;
	}
	return TRUE;
}

gboolean
ckpt_write_end(struct ckpt_writer *w, GError **error)
{
	guint8 digest[SUM_LEN];
	gsize dlen = sizeof(digest);

	if (!put_header(w, CKPT_REC_END, 0, "", SUM_LEN, error))
		return FALSE;
	/* The sum covers the END header too: what the reader has read when
	 * it gets to the data. */
	{
		GChecksum *c = g_checksum_copy(w->sum);

		g_checksum_get_digest(c, digest, &dlen);
		g_checksum_free(c);
	}
	return put(w, digest, dlen, error);
}

void
ckpt_writer_free(struct ckpt_writer *w)
{
	if (!w)
		return;
	g_checksum_free(w->sum);
	g_free(w);
}

/* Reading. */

struct ckpt_reader {
	int fd;
	guint64 size, pos;
	GChecksum *sum;
	char *name;
	guint64 left;		/* unread data of the current record */
	gboolean ended, failed;
};

static gboolean
malformed(struct ckpt_reader *r, GError **error, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);

static gboolean
malformed(struct ckpt_reader *r, GError **error, const char *fmt, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	r->failed = TRUE;
	g_set_error(error, CKPT_ERROR, CKPT_ERROR_MALFORMED,
		    "not a valid checkpoint (at byte %" G_GUINT64_FORMAT
		    "): %s", r->pos, msg);
	return FALSE;
}

/* Exactly len bytes, which the caller checked are left in the file. */
static gboolean
get(struct ckpt_reader *r, void *buf, gsize len, GError **error)
{
	guint8 *p = buf;
	gsize want = len;

	while (want > 0) {
		ssize_t n = read(r->fd, p, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r->failed = TRUE;
			g_set_error(error, CKPT_ERROR, CKPT_ERROR_IO,
				    "cannot read the checkpoint: %s",
				    g_strerror(errno));
			return FALSE;
		}
		if (n == 0)
			return malformed(r, error, "the file ends early");
		p += n;
		want -= n;
	}
	g_checksum_update(r->sum, buf, len);
	r->pos += len;
	return TRUE;
}

struct ckpt_reader *
ckpt_reader_new(int fd, GError **error)
{
	struct ckpt_reader *r = g_new0(struct ckpt_reader, 1);
	guint8 head[CKPT_MAGIC_LEN + 4];
	struct stat st;
	guint32 version;

	r->fd = fd;
	r->sum = g_checksum_new(G_CHECKSUM_SHA256);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		g_set_error(error, CKPT_ERROR, CKPT_ERROR_IO,
			    "a checkpoint is a regular file");
		ckpt_reader_free(r);
		return NULL;
	}
	r->size = st.st_size;
	if (r->size < sizeof(head) ||
	    !get(r, head, sizeof(head), error) ||
	    memcmp(head, CKPT_MAGIC, CKPT_MAGIC_LEN) != 0) {
		if (!r->failed)
			malformed(r, error, "no checkpoint header");
		ckpt_reader_free(r);
		return NULL;
	}
	version = get32(head + CKPT_MAGIC_LEN);
	if (version != CKPT_VERSION) {
		malformed(r, error, "version %u (this trickle reads %u)",
			  version, CKPT_VERSION);
		ckpt_reader_free(r);
		return NULL;
	}
	return r;
}

/* Read and hash what is left of the current record's data. */
static gboolean
skip(struct ckpt_reader *r, GError **error)
{
	guint8 buf[4096];

	while (r->left > 0) {
		gsize n = MIN(sizeof(buf), r->left);

		if (!get(r, buf, n, error))
			return FALSE;
		r->left -= n;
	}
	return TRUE;
}

static gboolean
check_end(struct ckpt_reader *r, const struct ckpt_rec *rec, GError **error)
{
	guint8 want[SUM_LEN], got[SUM_LEN];
	gsize glen = sizeof(got);

	if (rec->len != SUM_LEN || *rec->name)
		return malformed(r, error, "a bad END record");
	{
		GChecksum *c = g_checksum_copy(r->sum);

		g_checksum_get_digest(c, want, &glen);
		g_checksum_free(c);
	}
	if (!get(r, got, sizeof(got), error))
		return FALSE;
	r->left = 0;
	if (memcmp(want, got, SUM_LEN) != 0)
		return malformed(r, error, "its SHA-256 does not match: the "
				 "file is damaged");
	if (r->pos != r->size)
		return malformed(r, error, "bytes after its end");
	r->ended = TRUE;
	return TRUE;
}

int
ckpt_read_next(struct ckpt_reader *r, struct ckpt_rec *rec, GError **error)
{
	guint8 h[CKPT_REC_HEADER];
	guint32 nlen;

	memset(rec, 0, sizeof(*rec));
	if (r->failed || r->ended) {
		g_set_error(error, CKPT_ERROR, CKPT_ERROR_MALFORMED,
			    "the checkpoint was read already");
		return -1;
	}
	if (!skip(r, error))
		return -1;
	g_clear_pointer(&r->name, g_free);
	if (r->size - r->pos < CKPT_REC_HEADER)
		return malformed(r, error, "the file ends early (no END)") - 1;
	if (!get(r, h, sizeof(h), error))
		return -1;
	rec->type = get32(h);
	rec->mode = get32(h + 4);
	nlen = get32(h + 8);
	rec->len = get64(h + 12);
	if (rec->type == 0 || rec->type >= CKPT_REC_MAX)
		return malformed(r, error, "unknown record type %u",
				 rec->type) - 1;
	if (nlen > CKPT_NAME_MAX)
		return malformed(r, error, "a name of %u bytes", nlen) - 1;
	if (nlen > r->size - r->pos || rec->len > r->size - r->pos - nlen)
		return malformed(r, error, "a %s record longer than the file",
				 ckpt_rec_name(rec->type)) - 1;
	r->name = g_malloc(nlen + 1);
	if (!get(r, r->name, nlen, error))
		return -1;
	r->name[nlen] = '\0';
	rec->name = r->name;
	r->left = rec->len;
	switch (rec->type) {
	case CKPT_REC_END:
		return check_end(r, rec, error) ? 0 : -1;
	case CKPT_REC_INFO:
	case CKPT_REC_OBJECTS:
		if (nlen)
			return malformed(r, error, "a named %s record",
					 ckpt_rec_name(rec->type)) - 1;
		break;
	case CKPT_REC_DIR:
	case CKPT_REC_FILE:
	case CKPT_REC_SYMLINK:
		if (!ckpt_name_valid(rec->name, nlen, FALSE))
			return malformed(r, error, "a bad path in data/") - 1;
		break;
	default:
		if (!ckpt_name_valid(rec->name, nlen, TRUE))
			return malformed(r, error, "a bad %s name",
					 ckpt_rec_name(rec->type)) - 1;
	}
	return 1;
}

GBytes *
ckpt_read_bytes(struct ckpt_reader *r, gsize max, GError **error)
{
	g_autofree guint8 *buf = NULL;
	gsize len = r->left;

	if (r->left > max) {
		malformed(r, error, "a record of %" G_GUINT64_FORMAT " bytes "
			  "(at most %" G_GSIZE_FORMAT ")", r->left, max);
		return NULL;
	}
	buf = g_malloc(len + 1);
	if (!get(r, buf, len, error))
		return NULL;
	buf[len] = '\0';
	r->left = 0;
	return g_bytes_new_take(g_steal_pointer(&buf), len);
}

gboolean
ckpt_read_to_fd(struct ckpt_reader *r, int fd, GError **error)
{
	g_autofree guint8 *buf = g_malloc(IO_CHUNK);

	while (r->left > 0) {
		gsize n = MIN(IO_CHUNK, r->left);
		gsize off = 0;

		if (!get(r, buf, n, error))
			return FALSE;
		r->left -= n;
		while (off < n) {
			ssize_t w = write(fd, buf + off, n - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				r->failed = TRUE;
				g_set_error(error, CKPT_ERROR, CKPT_ERROR_IO,
					    "cannot write %s: %s", r->name,
					    g_strerror(w < 0 ? errno : ENOSPC));
				return FALSE;
			}
			off += w;
		}
	}
	return TRUE;
}

void
ckpt_reader_free(struct ckpt_reader *r)
{
	if (!r)
		return;
	g_checksum_free(r->sum);
	g_free(r->name);
	g_free(r);
}

gboolean
ckpt_check_file(const char *path, GError **error)
{
	struct ckpt_reader *r;
	struct ckpt_rec rec;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int n;

	if (fd < 0) {
		g_set_error(error, CKPT_ERROR, CKPT_ERROR_IO, "%s: %s", path,
			    g_strerror(errno));
		return FALSE;
	}
	if (!(r = ckpt_reader_new(fd, error))) {
		close(fd);
		return FALSE;
	}
	while ((n = ckpt_read_next(r, &rec, error)) == 1)
		;
	ckpt_reader_free(r);
	close(fd);
	return n == 0;
}
