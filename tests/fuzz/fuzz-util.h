/*
 * fuzz-util.h - what the fuzz targets share: the libFuzzer entry points,
 * a check that crashes (so that libFuzzer keeps the input), and a scratch
 * directory.  Each target is built twice (tests/fuzz/meson.build): with
 * -fsanitize=fuzzer under -Dfuzz=true, and with replay.c's main() for
 * `meson test`, which runs the target's seeds through the same code.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: check failed: %s\n",       \
				__FILE__, __LINE__, #cond);                 \
			abort();                                            \
		}                                                           \
	} while (0)

/* Malloc for GLib (so ASan sees it) and a crash on any GLib critical or
 * warning, which is a bug here.  A warning the code under test gives on
 * purpose (a refused path, say) is let through if its message holds
 * quiet (NULL: none is). */
void fuzz_init(const char *quiet);
/* A directory of this process's own, made once, removed at exit. */
const char *fuzz_tmpdir(void);
/* Write a file whole, without g_file_set_contents()'s fsync: an input a
 * target writes each run would make it a few hundred runs a second. */
void fuzz_write_file(const char *path, const void *data, gsize len);
/* Remove path and everything below it (modes permitting or not). */
void fuzz_rm_rf(const char *path);
