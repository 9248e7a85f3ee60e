/*
 * basic.c - small functions to inject into a Trickle VM; see README.md.
 *
 *   cp basic.so /mnt/t/VM/inject/
 *   echo "foo 10" > ... -> 20
 *
 * Each has the shape of main(): argv[0] is the function's name, stdout is
 * the result, the return value the exit status.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trickle.h"

/* foo N: twice N */
TRICKLE_DOC(foo, "foo N: twice N");
int
foo(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: foo NUMBER\n");
		return 2;
	}
	printf("%lld\n", 2 * strtoll(argv[1], NULL, 10));
	return 0;
}

/* upper: its stdin in capitals (a call forked with TRICKLE_STDIN=1) */
TRICKLE_DOC(upper, "upper: stdin in capitals (fork it with TRICKLE_STDIN=1)");
int
upper(int argc, char **argv)
{
	int c;

	while ((c = getchar()) != EOF)
		putchar(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
	return ferror(stdin) ? 1 : 0;
}

/* counter: 1, then 2, ...: VM state persists between calls */
int
counter(int argc, char **argv)
{
	static long n;

	printf("%ld\n", ++n);
	return 0;
}

/* add A B ...: the sum */
int
add(int argc, char **argv)
{
	long long sum = 0;
	int i;

	for (i = 1; i < argc; i++)
		sum += strtoll(argv[i], NULL, 10);
	printf("%lld\n", sum);
	return 0;
}

/* fail N: writes to both streams and exits with N */
int
fail(int argc, char **argv)
{
	printf("some output\n");
	fprintf(stderr, "failing with %s\n", argc > 1 ? argv[1] : "1");
	return argc > 1 ? atoi(argv[1]) : 1;
}

/* crash: dies with SIGSEGV, taking its VM down (it comes back) */
int
crash(int argc, char **argv)
{
	raise(SIGSEGV);
	return 0;
}

/* sleeper SECONDS: sleeps, then says so */
int
sleeper(int argc, char **argv)
{
	unsigned s = argc > 1 ? (unsigned)atoi(argv[1]) : 1;

	sleep(s);
	printf("slept %u\n", s);
	return 0;
}

/* bulk MIB: writes MIB mebibytes of a repeating pattern */
int
bulk(int argc, char **argv)
{
	static char buf[1 << 20];
	long mib = argc > 1 ? atol(argv[1]) : 1, i;
	size_t j;

	for (j = 0; j < sizeof(buf); j++)
		buf[j] = 'a' + j % 26;
	for (i = 0; i < mib; i++)
		if (fwrite(buf, 1, sizeof(buf), stdout) != sizeof(buf))
			return 1;
	return 0;
}
