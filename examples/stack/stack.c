/*
 * stack.c - a remote object: the Stack of the Trickle paper's Example 5.
 *
 *   cp stack.so /mnt/t/VM/inject/
 *   stack_new          -> @1       (a new, empty stack; items may follow)
 *   push @1 A B        ->          (pushes A, then B)
 *   peek @1            -> B
 *   pop @1             -> B
 *   size @1            -> 1
 *
 * The VM lists the stack among its objects with its items, bottom first,
 * and removing it there frees it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trickle.h"

struct stack {
	char **items;
	size_t n, cap;
};

static void
stack_free(void *obj)
{
	struct stack *s = obj;
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->items[i]);
	free(s->items);
	free(s);
}

/* "[A B C]", bottom first. */
static char *
stack_describe(void *obj)
{
	struct stack *s = obj;
	size_t i, len = 3;
	char *d, *p;

	for (i = 0; i < s->n; i++)
		len += strlen(s->items[i]) + 1;
	d = malloc(len);
	if (!d)
		return NULL;
	p = d;
	*p++ = '[';
	for (i = 0; i < s->n; i++) {
		if (i)
			*p++ = ' ';
		strcpy(p, s->items[i]);
		p += strlen(p);
	}
	strcpy(p, "]");
	return d;
}

static const struct trickle_class stack_class = {
	.name = "Stack",
	.destroy = stack_free,
	.describe = stack_describe,
};

static int
push_one(struct stack *s, const char *item)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 8;
		char **items = realloc(s->items, cap * sizeof(*items));

		if (!items)
			return -1;
		s->items = items;
		s->cap = cap;
	}
	if (!(s->items[s->n] = strdup(item)))
		return -1;
	s->n++;
	return 0;
}

/* The stack argv[1] names, or NULL after saying why on stderr. */
static struct stack *
get(int argc, char **argv, int min_args)
{
	struct stack *s;

	if (argc < min_args) {
		fprintf(stderr, "usage: %s @ID%s\n", argv[0],
			min_args > 2 ? " ITEM..." : "");
		return NULL;
	}
	s = trickle_object_get(&stack_class, argv[1]);
	if (!s)
		fprintf(stderr, "%s: no such Stack: %s\n", argv[0], argv[1]);
	return s;
}

TRICKLE_DOC(stack_new, "stack_new [ITEM...]: a new Stack holding the items; "
	    "prints its handle @ID");
int
stack_new(int argc, char **argv)
{
	struct stack *s = calloc(1, sizeof(*s));
	int i;

	if (!s)
		return 1;
	for (i = 1; i < argc; i++) {
		if (push_one(s, argv[i]) < 0) {
			stack_free(s);
			fprintf(stderr, "stack_new: out of memory\n");
			return 1;
		}
	}
	return trickle_object_return(&stack_class, s);
}

TRICKLE_DOC(push, "push @ID ITEM...: push the items onto the Stack");
int
push(int argc, char **argv)
{
	struct stack *s = get(argc, argv, 3);
	int i;

	if (!s)
		return 2;
	for (i = 2; i < argc; i++) {
		if (push_one(s, argv[i]) < 0) {
			fprintf(stderr, "push: out of memory\n");
			return 1;
		}
	}
	return 0;
}

TRICKLE_DOC(pop, "pop @ID: take the top item off the Stack and print it");
int
pop(int argc, char **argv)
{
	struct stack *s = get(argc, argv, 2);

	if (!s)
		return 2;
	if (s->n == 0) {
		fprintf(stderr, "pop: the stack is empty\n");
		return 1;
	}
	s->n--;
	printf("%s\n", s->items[s->n]);
	free(s->items[s->n]);
	return 0;
}

TRICKLE_DOC(peek, "peek @ID: print the top item of the Stack");
int
peek(int argc, char **argv)
{
	struct stack *s = get(argc, argv, 2);

	if (!s)
		return 2;
	if (s->n == 0) {
		fprintf(stderr, "peek: the stack is empty\n");
		return 1;
	}
	printf("%s\n", s->items[s->n - 1]);
	return 0;
}

TRICKLE_DOC(size, "size @ID: print how many items the Stack holds");
int
size(int argc, char **argv)
{
	struct stack *s = get(argc, argv, 2);

	if (!s)
		return 2;
	printf("%zu\n", s->n);
	return 0;
}
