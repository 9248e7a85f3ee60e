/*
 * wfreq-driver.c - calls functions of an injectable object in one process,
 * as a VM would, without a mount (for test-wfreq.sh):
 *
 *   wfreq-driver SO FUNC [ARG...] [-- FUNC [ARG...]]...
 *
 * Each FUNC is looked up with dlsym and called as FUNC(argc, argv) with
 * argv[0] = FUNC; globals persist from call to call.  Stdout is the calls'
 * output; a call that fails is reported on stderr and the rest still run,
 * and the driver exits with the first failure's status.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef int (*trickle_fn)(int, char **);

int
main(int argc, char **argv)
{
	void *h;
	trickle_fn fn;
	int i, j, rc, status = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: wfreq-driver SO FUNC [ARG...] [-- FUNC [ARG...]]...\n");
		return 2;
	}
	if (!(h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL))) {
		fprintf(stderr, "wfreq-driver: %s\n", dlerror());
		return 2;
	}
	for (i = 2; i < argc; i = j + 1) {
		for (j = i; j < argc && strcmp(argv[j], "--") != 0; j++)
			;
		argv[j] = NULL;		/* argv[argc] is NULL already */
		if (j == i) {
			fprintf(stderr, "wfreq-driver: empty call\n");
			return 2;
		}
		*(void **)&fn = dlsym(h, argv[i]);
		if (!fn) {
			fprintf(stderr, "wfreq-driver: %s: no such function\n", argv[i]);
			return 2;
		}
		rc = fn(j - i, argv + i);
		if (fflush(stdout) != 0) {
			fprintf(stderr, "wfreq-driver: write error\n");
			return 1;
		}
		if (rc != 0) {
			fprintf(stderr, "wfreq-driver: %s failed with %d\n", argv[i], rc);
			if (!status)
				status = rc;
		}
	}
	return status;
}
