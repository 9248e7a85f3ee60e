/*
 * node-testmod.c - functions injected by test-node.c to look at the
 * worker from inside: the environment a function sees, stdio buffering,
 * a call that ignores SIGTERM, and a function overriding a built-in.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "trickle.h"

TRICKLE_DOC(showenv, "showenv NAME: the value of NAME, or \"unset\"");
int
showenv(int argc, char **argv)
{
	const char *v = argc > 1 ? getenv(argv[1]) : NULL;

	printf("%s\n", v ? v : "unset");
	return 0;
}

/* bufwrite SECONDS: a line left in stdio's buffer, then sleep */
int
bufwrite(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	printf("partial output\n");
	sleep(argc > 1 ? atoi(argv[1]) : 3);
	printf("done\n");
	return 0;
}

/* stubborn SECONDS: ignores SIGTERM (says so) while it sleeps */
int
stubborn(int argc, char **argv)
{
	signal(SIGTERM, SIG_IGN);
	printf("ignoring SIGTERM\n");
	fflush(stdout);
	sleep(argc > 1 ? atoi(argv[1]) : 30);
	return 0;
}

/* echo: takes precedence over the built-in */
int
echo(int argc, char **argv)
{
	printf("testmod echo %d\n", argc - 1);
	return 0;
}

/* A hidden function, and a name with a leading underscore: not listed. */
__attribute__((visibility("hidden"))) int
hidden_fn(int argc, char **argv)
{
	return 0;
}

int
_private(int argc, char **argv)
{
	return hidden_fn(argc, argv);
}
