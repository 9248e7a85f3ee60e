/*
 * test-sha256.c - utils/lib/sha256.c, the sum injected files go by:
 * known vectors, a sum taken in pieces equals the sum of the whole, the
 * hex read twice, and a file's sum (and the error for a missing file).
 * Built twice: with libcrypto when the build has it, and with the GLib
 * fallback (the same source without HAVE_LIBCRYPTO), so both agree.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "sha256.h"

static char *
sum_of(const void *buf, gsize len)
{
	struct sha256 *s = sha256_new();
	char *hex;

	sha256_update(s, buf, len);
	hex = g_strdup(sha256_hex(s));
	sha256_free(s);
	return hex;
}

static void
test_vectors(void)
{
	g_autofree char *empty = sum_of("", 0);
	g_autofree char *abc = sum_of("abc", 3);

	g_test_message("implementation: %s", sha256_impl());
	g_assert_cmpstr(empty, ==, "e3b0c44298fc1c149afbf4c8996fb924"
			"27ae41e4649b934ca495991b7852b855");
	g_assert_cmpstr(abc, ==, "ba7816bf8f01cfea414140de5dae2223"
			"b00361a396177a9cb410ff61f20015ad");
}

static void
test_pieces(void)
{
	gsize len = 3 * 1024 * 1024 + 17, i, off;
	g_autofree guint8 *buf = g_malloc(len);
	g_autofree char *want = NULL;
	struct sha256 *s = sha256_new();
	const char *got;

	for (i = 0; i < len; i++)
		buf[i] = (guint8)(i * 131 + (i >> 9));
	want = g_compute_checksum_for_data(G_CHECKSUM_SHA256, buf, len);
	/* Odd piece sizes, as FUSE writes and wire chunks come. */
	for (off = 0, i = 1; off < len; off += MIN(i, len - off), i = i * 7 + 3)
		sha256_update(s, buf + off, MIN(i, len - off));
	got = sha256_hex(s);
	g_assert_cmpstr(got, ==, want);
	g_assert_true(sha256_hex(s) == got);	/* the same string again */
	sha256_free(s);
}

static void
test_file(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp("test-sha256-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "f", NULL);
	g_autofree char *missing = g_build_filename(dir, "none", NULL);
	g_autofree char *got = NULL, *want = NULL, *none = NULL;
	gsize len = 2 * 1024 * 1024 + 5, i;
	g_autofree char *buf = g_malloc(len);

	for (i = 0; i < len; i++)
		buf[i] = (char)(i % 251);
	g_assert_true(g_file_set_contents(path, buf, len, NULL));
	want = g_compute_checksum_for_data(G_CHECKSUM_SHA256,
					   (const guchar *)buf, len);
	got = sha256_file(path, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(got, ==, want);
	none = sha256_file(missing, &error);
	g_assert_null(none);
	g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
	g_unlink(path);
	g_rmdir(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/sha256/vectors", test_vectors);
	g_test_add_func("/sha256/pieces", test_pieces);
	g_test_add_func("/sha256/file", test_file);
	return g_test_run();
}
