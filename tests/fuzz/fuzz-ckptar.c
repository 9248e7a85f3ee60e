/*
 * fuzz-ckptar.c - libFuzzer target for the checkpoint archive decoder
 * (utils/proto/ckptar.c).
 *
 * The input is an archive file.  It is read record by record, the data
 * of every other record into memory (bounded) and the rest copied to a
 * file or skipped.  Checked:
 *
 *   - the reader never reads past the file and never says "whole" (0)
 *     for a file whose last 32 bytes are not the SHA-256 of the rest;
 *   - every record it hands over has a known type, a name that
 *     ckpt_name_valid() accepts for its kind, and data that fits in
 *     what was left of the file;
 *   - an error always comes with a message.
 */
#include "fuzz-util.h"
#include "ckptar.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static char *path, *out;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init(NULL);
	path = g_build_filename(fuzz_tmpdir(), "archive", NULL);
	out = g_build_filename(fuzz_tmpdir(), "out", NULL);
	return 0;
}

static gboolean
sum_matches(const uint8_t *data, size_t size)
{
	guint8 digest[32];
	gsize len = sizeof(digest);
	GChecksum *c;

	if (size < 32)
		return FALSE;
	c = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(c, data, size - 32);
	g_checksum_get_digest(c, digest, &len);
	g_checksum_free(c);
	return memcmp(digest, data + size - 32, 32) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	struct ckpt_reader *r;
	struct ckpt_rec rec;
	guint64 total = 0;
	guint i = 0;
	int fd, n = -1;

	fuzz_write_file(path, data, size);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	if ((r = ckpt_reader_new(fd, &error))) {
		while ((n = ckpt_read_next(r, &rec, &error)) == 1) {
			gboolean single = rec.type != CKPT_REC_DIR &&
					  rec.type != CKPT_REC_FILE &&
					  rec.type != CKPT_REC_SYMLINK;

			CHECK(rec.type > 0 && rec.type < CKPT_REC_END);
			if (*rec.name)
				CHECK(ckpt_name_valid(rec.name,
					strlen(rec.name), single));
			total += CKPT_REC_HEADER + strlen(rec.name) + rec.len;
			CHECK(total <= size);
			if (i++ % 3 == 0) {
				GBytes *b = ckpt_read_bytes(r, 1 << 16,
							    &error);

				if (!b) {
					n = -1;
					break;
				}
				CHECK(g_bytes_get_size(b) == rec.len);
				g_bytes_unref(b);
			} else if (i % 3 == 1) {
				int ofd = open(out, O_WRONLY | O_CREAT |
					       O_TRUNC, 0600);
				gboolean ok = ckpt_read_to_fd(r, ofd, &error);

				close(ofd);
				if (!ok) {
					n = -1;
					break;
				}
			}
		}
		ckpt_reader_free(r);
	}
	close(fd);
	if (n == 0)
		CHECK(sum_matches(data, size));
	else
		CHECK(error && error->message && *error->message);
	return 0;
}
