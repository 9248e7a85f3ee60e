/*
 * ctor-segv.so - a library whose constructor crashes: refused at inject
 * (local-ctor.sh), never loaded into a VM.
 */
#include <signal.h>

__attribute__((constructor)) static void
crash(void)
{
	raise(SIGSEGV);
}

int
unreachable(int argc, char **argv)
{
	return 0;
}
