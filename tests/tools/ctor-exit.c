/*
 * ctor-exit.so - a library whose constructor calls exit(0): the trial
 * load must refuse it (local-ctor.sh), not take the clean status for a
 * load that got to its end.
 */
#include <stdlib.h>

__attribute__((constructor)) static void
leave(void)
{
	exit(0);
}

int
never(int argc, char **argv)
{
	return 0;
}
