/*
 * counter.c - an injected library whose state survives checkpoints
 * (trickle.h, CHECKPOINTS): a global counter, and remote objects of
 * class Tally, each holding a number.
 *
 *   tick [SECONDS]   count one more call (after SECONDS); prints the count
 *   tally_new        a new Tally (0): prints its handle @ID
 *   tally_add @ID N  add N to it; prints its value
 *
 * With CKPT_LOG=FILE in the VM's environment (setenv, or on a call's
 * line) each call of tick appends "tick COUNT PID" to FILE, and each
 * restore "restore COUNT PID": the tests count the runs with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "trickle.h"

static struct {
	long count;
} state;

struct tally {
	long value;
};

static char *
tally_describe(void *obj)
{
	char *s = NULL;

	if (asprintf(&s, "Tally %ld", ((struct tally *)obj)->value) < 0)
		return NULL;
	return s;
}

static const struct trickle_class tally_class = {
	"Tally", free, tally_describe,
};

static void
note(const char *what)
{
	const char *path = getenv("CKPT_LOG");
	FILE *f;

	if (!path || !(f = fopen(path, "a")))
		return;
	fprintf(f, "%s %ld %d\n", what, state.count, (int)getpid());
	fclose(f);
}

TRICKLE_DOC(tick, "tick [SECONDS]: count one more call, print the count");
int
tick(int argc, char **argv)
{
	if (argc > 1)
		usleep((useconds_t)(atof(argv[1]) * 1e6));
	state.count++;
	note("tick");
	printf("%ld\n", state.count);
	return 0;
}

TRICKLE_DOC(tally_new, "tally_new: a new Tally at 0, its handle @ID");
int
tally_new(int argc, char **argv)
{
	struct tally *t = calloc(1, sizeof(*t));

	if (!t)
		return 1;
	return trickle_object_return(&tally_class, t);
}

TRICKLE_DOC(tally_add, "tally_add @ID N: add N to the Tally, print it");
int
tally_add(int argc, char **argv)
{
	struct tally *t = argc == 3 ? trickle_object_get(&tally_class,
							 argv[1]) : NULL;

	if (!t) {
		fprintf(stderr, "usage: tally_add @ID N (a Tally)\n");
		return 2;
	}
	t->value += atol(argv[2]);
	printf("%ld\n", t->value);
	return 0;
}

/* The checkpoint hooks: the globals as a block, then each Tally as its
 * id and value, ended by id 0. */
static int
save_tally(long id, void *obj, void *data)
{
	long rec[2] = { id, ((struct tally *)obj)->value };

	return trickle_write_all(*(int *)data, rec, sizeof(rec));
}

int
trickle_save(int fd)
{
	long end[2] = { 0, 0 };

	if (trickle_save_block(fd, &state, sizeof(state)) ||
	    trickle_object_each(&tally_class, save_tally, &fd))
		return 1;
	return trickle_write_all(fd, end, sizeof(end)) ? 1 : 0;
}

int
trickle_restore(int fd)
{
	long rec[2];

	if (trickle_restore_block(fd, &state, sizeof(state)))
		return 1;
	for (;;) {
		struct tally *t;

		if (trickle_read_all(fd, rec, sizeof(rec)))
			return 1;
		if (rec[0] == 0)
			break;
		if (!(t = calloc(1, sizeof(*t))))
			return 1;
		t->value = rec[1];
		if (trickle_object_put(&tally_class, rec[0], t) != rec[0]) {
			free(t);
			return 1;
		}
	}
	note("restore");
	return 0;
}
