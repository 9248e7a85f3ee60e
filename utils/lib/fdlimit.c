/*
 * fdlimit.c - room for many file descriptors (fdlimit.h).
 */
#include "fdlimit.h"

#include <sys/resource.h>

static struct rlimit before;
static gboolean raised;

guint64
fdlimit_raise(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) < 0)
		return 0;
	if (!raised) {
		before = r;
		raised = TRUE;
	}
	/* Past 2^20 nothing gains: the kernel's nr_open default. */
	if (r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max == RLIM_INFINITY ? 1u << 20
			     : MIN(r.rlim_max, (rlim_t)1 << 20);
		if (r.rlim_cur < before.rlim_cur)
			r.rlim_cur = before.rlim_cur;
		if (setrlimit(RLIMIT_NOFILE, &r) < 0)
			getrlimit(RLIMIT_NOFILE, &r);
	}
	return r.rlim_cur;
}

void
fdlimit_restore(void)
{
	if (raised)
		setrlimit(RLIMIT_NOFILE, &before);
}
