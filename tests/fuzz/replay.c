/*
 * replay.c - main() for a fuzz target without libFuzzer: runs each file
 * named, or each file in each directory named, through
 * LLVMFuzzerTestOneInput once.  `meson test` replays the seeds this way;
 * under gdb it replays a crash file without ASan's noise.
 */
#include "fuzz-util.h"

#include <string.h>

static gint
by_name(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
run_file(const char *path)
{
	g_autofree char *buf = NULL;
	g_autoptr(GError) error = NULL;
	gsize len;

	if (!g_file_get_contents(path, &buf, &len, &error)) {
		fprintf(stderr, "%s\n", error->message);
		return 1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
	return 0;
}

int
main(int argc, char **argv)
{
	int n = 0, err = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int a = 1; a < argc; a++) {
		g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(
			g_free);

		if (g_file_test(argv[a], G_FILE_TEST_IS_DIR)) {
			g_autoptr(GDir) dir = g_dir_open(argv[a], 0, NULL);
			const char *name;

			if (!dir) {
				perror(argv[a]);
				err = 1;
				continue;
			}
			while ((name = g_dir_read_name(dir)))
				g_ptr_array_add(files, g_build_filename(
					argv[a], name, NULL));
		} else {
			g_ptr_array_add(files, g_strdup(argv[a]));
		}
		/* Sorted: a failure names the same file every run. */
		g_ptr_array_sort(files, by_name);
		for (guint i = 0; i < files->len; i++) {
			if (!g_file_test(files->pdata[i],
					 G_FILE_TEST_IS_REGULAR))
				continue;
			err |= run_file(files->pdata[i]);
			n++;
		}
	}
	printf("ran %d inputs\n", n);
	return err || n == 0;
}
