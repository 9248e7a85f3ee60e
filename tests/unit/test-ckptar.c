/*
 * test-ckptar.c - the checkpoint archive codec (utils/proto/ckptar.c):
 * a written archive reads back record by record; every truncation of it,
 * every single flipped byte, random garbage and hand-made lying headers
 * are refused with an error, never read past or taken for whole.
 */
#include "ckptar.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static char *tmpdir;

static char *
tmp_path(const char *name)
{
	return g_build_filename(tmpdir, name, NULL);
}

/* A small archive with one record of each kind, as bytes. */
static GBytes *
make_archive(void)
{
	g_autofree char *p = tmp_path("good");
	g_autofree char *src = tmp_path("src");
	g_autoptr(GError) error = NULL;
	struct ckpt_writer *w;
	char *bytes;
	gsize len;
	int fd, in;

	g_assert_true(g_file_set_contents(src, "file bytes\n", -1, NULL));
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	g_assert_cmpint(fd, >=, 0);
	w = ckpt_writer_new(fd);
	g_assert_true(ckpt_write(w, CKPT_REC_INFO, 0, "", "vm=0\n", 5,
				 &error));
	g_assert_true(ckpt_write(w, CKPT_REC_ENV, 0, "GREETING", "hello", 5,
				 &error));
	g_assert_true(ckpt_write(w, CKPT_REC_INJECT, 0755, "lib.so", "ELF", 3,
				 &error));
	g_assert_true(ckpt_write(w, CKPT_REC_DIR, 0700, "sub", NULL, 0,
				 &error));
	in = open(src, O_RDONLY);
	g_assert_true(ckpt_write_fd(w, CKPT_REC_FILE, 0644, "sub/f", in, 11,
				    &error));
	close(in);
	g_assert_true(ckpt_write(w, CKPT_REC_SYMLINK, 0, "sub/l", "f", 1,
				 &error));
	g_assert_true(ckpt_write(w, CKPT_REC_STATE, 0, "lib.so", "\1\2\3", 3,
				 &error));
	g_assert_true(ckpt_write_end(w, &error));
	ckpt_writer_free(w);
	close(fd);
	g_assert_true(g_file_get_contents(p, &bytes, &len, NULL));
	return g_bytes_new_take(bytes, len);
}

/* Write bytes to a file and read it through: 0 (whole), -1 (refused). */
static int
read_through(const void *bytes, gsize len, guint *records)
{
	g_autofree char *p = tmp_path("probe");
	g_autoptr(GError) error = NULL;
	struct ckpt_reader *r;
	struct ckpt_rec rec;
	int fd, n = -1;

	g_assert_true(g_file_set_contents(p, bytes, len, NULL));
	fd = open(p, O_RDONLY);
	g_assert_cmpint(fd, >=, 0);
	*records = 0;
	if ((r = ckpt_reader_new(fd, &error))) {
		while ((n = ckpt_read_next(r, &rec, &error)) == 1) {
			(*records)++;
			/* Every other record read, the rest skipped. */
			if (*records % 2) {
				GBytes *b = ckpt_read_bytes(r, 1 << 20,
							    &error);

				if (!b) {
					n = -1;
					break;
				}
				g_assert_cmpuint(g_bytes_get_size(b), ==,
						 rec.len);
				g_bytes_unref(b);
			}
		}
		ckpt_reader_free(r);
	}
	close(fd);
	if (n < 0)
		g_assert_nonnull(error);
	return n;
}

static void
test_roundtrip(void)
{
	g_autoptr(GBytes) a = make_archive();
	g_autofree char *p = tmp_path("good");
	g_autofree char *out = tmp_path("out");
	g_autoptr(GError) error = NULL;
	struct ckpt_reader *r;
	struct ckpt_rec rec;
	g_autofree char *got = NULL;
	guint n = 0;
	int fd, ofd;

	g_assert_true(ckpt_check_file(p, &error));
	fd = open(p, O_RDONLY);
	r = ckpt_reader_new(fd, &error);
	g_assert_nonnull(r);
	while (ckpt_read_next(r, &rec, &error) == 1) {
		n++;
		if (rec.type == CKPT_REC_ENV) {
			g_autoptr(GBytes) b = ckpt_read_bytes(r, 100, &error);

			g_assert_cmpstr(rec.name, ==, "GREETING");
			g_assert_cmpstr(g_bytes_get_data(b, NULL), ==, "hello");
		} else if (rec.type == CKPT_REC_FILE) {
			g_assert_cmpstr(rec.name, ==, "sub/f");
			g_assert_cmpuint(rec.mode, ==, 0644);
			ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			g_assert_true(ckpt_read_to_fd(r, ofd, &error));
			close(ofd);
		}
	}
	g_assert_no_error(error);
	g_assert_cmpuint(n, ==, 7);
	ckpt_reader_free(r);
	close(fd);
	g_assert_true(g_file_get_contents(out, &got, NULL, NULL));
	g_assert_cmpstr(got, ==, "file bytes\n");
}

static void
test_truncated(void)
{
	g_autoptr(GBytes) a = make_archive();
	gsize len, cut;
	const guint8 *d = g_bytes_get_data(a, &len);
	guint recs;

	g_assert_cmpint(read_through(d, len, &recs), ==, 0);
	for (cut = 0; cut < len; cut++)
		g_assert_cmpint(read_through(d, cut, &recs), ==, -1);
	/* One byte more at the end is refused too. */
	{
		g_autofree guint8 *more = g_malloc(len + 1);

		memcpy(more, d, len);
		more[len] = 0;
		g_assert_cmpint(read_through(more, len + 1, &recs), ==, -1);
	}
}

static void
test_flipped(void)
{
	g_autoptr(GBytes) a = make_archive();
	gsize len, i;
	const guint8 *d = g_bytes_get_data(a, &len);
	g_autofree guint8 *copy = g_memdup2(d, len);
	guint recs;

	for (i = 0; i < len; i++) {
		copy[i] ^= 0x5a;
		g_assert_cmpint(read_through(copy, len, &recs), ==, -1);
		copy[i] = d[i];
	}
}

static void
test_garbage(void)
{
	GRand *rand = g_rand_new_with_seed(16);
	guint8 buf[512];
	guint i, j, recs;

	for (i = 0; i < 2000; i++) {
		gsize len = g_rand_int_range(rand, 0, sizeof(buf));

		for (j = 0; j < len; j++)
			buf[j] = g_rand_int(rand);
		/* Half of them with a right header, so that the records'
		 * decoding is reached. */
		if (i % 2 && len >= CKPT_MAGIC_LEN + 4) {
			memcpy(buf, CKPT_MAGIC, CKPT_MAGIC_LEN);
			buf[8] = buf[9] = buf[10] = 0;
			buf[11] = CKPT_VERSION;
		}
		g_assert_cmpint(read_through(buf, len, &recs), ==, -1);
	}
	g_rand_free(rand);
}

/* A header whose lengths lie: huge data, huge names, unknown types, bad
 * paths. */
static void
test_lying_headers(void)
{
	static const struct {
		guint32 type, nlen;
		guint64 dlen;
		const char name[9];	/* zero-padded: 8 bytes are read */
	} cases[] = {
		{ CKPT_REC_FILE, 1, G_MAXUINT64, "a" },
		{ CKPT_REC_FILE, 1, G_MAXUINT64 - 10, "a" },
		{ CKPT_REC_FILE, G_MAXUINT32, 0, "a" },
		{ CKPT_REC_FILE, CKPT_NAME_MAX + 1, 0, "a" },
		{ 0, 1, 0, "a" },
		{ CKPT_REC_MAX, 1, 0, "a" },
		{ CKPT_REC_FILE, 5, 0, "../x/" },
		{ CKPT_REC_FILE, 2, 0, ".." },
		{ CKPT_REC_FILE, 4, 0, "/etc" },
		{ CKPT_REC_FILE, 4, 0, "a//b" },
		{ CKPT_REC_INJECT, 3, 0, "a/b" },
		{ CKPT_REC_ENV, 3, 0, "a\0b" },
		{ CKPT_REC_END, 0, 3, "" },
	};
	guint i, recs;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GByteArray) b = g_byte_array_new();
		guint8 h[CKPT_REC_HEADER], v[4] = { 0, 0, 0, CKPT_VERSION };
		guint32 x;
		guint64 y;
		gsize nl = MIN(cases[i].nlen, 8u);

		g_byte_array_append(b, (const guint8 *)CKPT_MAGIC,
				    CKPT_MAGIC_LEN);
		g_byte_array_append(b, v, 4);
		x = GUINT32_TO_BE(cases[i].type);
		memcpy(h, &x, 4);
		x = 0;
		memcpy(h + 4, &x, 4);
		x = GUINT32_TO_BE(cases[i].nlen);
		memcpy(h + 8, &x, 4);
		y = GUINT64_TO_BE(cases[i].dlen);
		memcpy(h + 12, &y, 8);
		g_byte_array_append(b, h, sizeof(h));
		g_byte_array_append(b, (const guint8 *)cases[i].name, nl);
		g_byte_array_append(b, (const guint8 *)"0123456789abcdef"
				    "0123456789abcdef", 32);
		g_assert_cmpint(read_through(b->data, b->len, &recs), ==, -1);
	}
	g_assert_true(ckpt_name_valid("a/b.c", 5, FALSE));
	g_assert_false(ckpt_name_valid("a/b.c", 5, TRUE));
	g_assert_false(ckpt_name_valid("a/./b", 5, FALSE));
	g_assert_false(ckpt_name_valid("a/", 2, FALSE));
}

int
main(int argc, char **argv)
{
	int r;

	g_test_init(&argc, &argv, NULL);
	tmpdir = g_dir_make_tmp("test-ckptar-XXXXXX", NULL);
	g_assert_nonnull(tmpdir);
	g_test_add_func("/ckptar/roundtrip", test_roundtrip);
	g_test_add_func("/ckptar/truncated", test_truncated);
	g_test_add_func("/ckptar/flipped", test_flipped);
	g_test_add_func("/ckptar/garbage", test_garbage);
	g_test_add_func("/ckptar/lying-headers", test_lying_headers);
	r = g_test_run();
	{
		g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmpdir);

		if (system(cmd) != 0)
			r = 1;
	}
	g_free(tmpdir);
	return r;
}
