/*
 * ctor-fork.so - a library whose constructor forks a child that sleeps
 * with the loader's stdout open, so the trial load's exit is seen before
 * the end of its output: the case of the use-after-free in
 * node/vet/checkload.c (local-ctor.sh, under ASan).  Nothing wrong with
 * it otherwise: it loads and its function works.
 */
#include <stdio.h>
#include <unistd.h>

__attribute__((constructor)) static void
spawn(void)
{
	if (fork() == 0) {
		sleep(30);
		_exit(0);
	}
}

int
forked_ctor(int argc, char **argv)
{
	printf("loaded\n");
	return 0;
}
