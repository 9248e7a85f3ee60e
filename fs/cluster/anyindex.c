/*
 * anyindex.c - where .any finds a VM for a call without looking at every
 * VM (anysched.c decides when and what; this answers "which VM").
 *
 * VMs that list the same function names are one class; a mount has few
 * (often one: every VM runs what .all/inject/ gave them all, a second
 * while an injection is on its way).  A class keeps the set of its
 * names and, for each load below the window (any_window), the queue of
 * its live VMs with that many .any calls, first in first out.  So:
 *
 *   pick a VM for a call of f	  O(K * W): the head of the lowest queue
 *				  of the classes that list f
 *   could f run anywhere	  O(K): a class listing f has an open VM
 *   a VM's load changes	  O(1): it moves to the tail of a queue
 *   a VM's functions change	  O(F log F): its class is found by name
 *
 * with K classes, W the window, F the functions of a VM, none of them
 * N, the number of VMs.  A VM is placed again whenever the model says
 * something of it changed (anysched.c hears the events and calls
 * any_index_update); a pick checks its VM still is what the queue says,
 * so a change not told yet costs a retry, never a wrong VM.
 */
#include "cluster.h"
#include "ckpt.h"

#include <string.h>

struct any_class {
	char *key;		/* its names, sorted, one a line; NULL:
				   VMs that have not said what they run */
	GHashTable *names;	/* the set of them */
	guint vms;		/* VMs in it: open ones (could run a call
				   now or once their node is up) */
	GQueue *level;		/* [window]: live VMs with that load */
};

struct any_index {
	GHashTable *classes;	/* key -> struct any_class */
	struct any_class *unknown;
	guint window;
	guint *room;		/* [window]: live VMs with that load, all
				   classes */
	guint live, open;
	guint64 stamp;
};

static struct any_class *
class_new(const char *key, guint window)
{
	struct any_class *k = g_new0(struct any_class, 1);
	guint i;

	k->key = g_strdup(key);
	k->names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					 NULL);
	k->level = g_new(GQueue, window);
	for (i = 0; i < window; i++)
		g_queue_init(&k->level[i]);
	return k;
}

static void
class_free(struct any_class *k)
{
	g_hash_table_unref(k->names);
	g_free(k->level);
	g_free(k->key);
	g_free(k);
}

static struct any_index *
index_of(struct cluster *cl)
{
	struct any_index *x = cl->any_index;

	if (x)
		return x;
	x = cl->any_index = g_new0(struct any_index, 1);
	x->window = MAX(cl->opt.any_window, 1);
	x->room = g_new0(guint, x->window);
	x->classes = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
					   (GDestroyNotify)class_free);
	x->unknown = class_new(NULL, x->window);
	return x;
}

void
any_index_free(struct cluster *cl)
{
	struct any_index *x = cl->any_index;

	if (!x)
		return;
	g_hash_table_unref(x->classes);
	class_free(x->unknown);
	g_free(x->room);
	g_free(x);
	cl->any_index = NULL;
}

/* In the root directory: a VM made for a host still joining is not. */
static gboolean
published(const struct vm *vm)
{
	GPtrArray *vms = vm->fs->vms;

	return vm->slot < vms->len && vms->pdata[vm->slot] == vm;
}

/* Could it run a call, now or once its node is back? */
static gboolean
vm_could_run(const struct vm *vm)
{
	return vm->host && published(vm) && vm_open(vm) &&
	       vm->host->state != HOST_DOWN && vm->state != VM_DOWN;
}

gboolean
any_vm_live(const struct vm *vm)
{
	return vm->host && vm_open(vm) && vm->host->state == HOST_UP &&
	       (vm->state == VM_UP || vm->state == VM_STARTING) &&
	       !vm_moving(vm);
}

static gint
cmp_name(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The class of VMs listing what vm lists (made if need be). */
static struct any_class *
class_for(struct any_index *x, struct vm *vm)
{
	g_autoptr(GPtrArray) names = g_ptr_array_new();
	g_autoptr(GString) key = g_string_new(NULL);
	struct any_class *k;
	GVariantIter it;
	const char *name;
	guint i;

	if (!vm->funcs)
		return x->unknown;
	g_variant_iter_init(&it, vm->funcs);
	while (g_variant_iter_next(&it, "(&s&s&s&s&s)", &name, NULL, NULL,
				   NULL, NULL))
		g_ptr_array_add(names, (gpointer)name);
	g_ptr_array_sort(names, cmp_name);
	for (i = 0; i < names->len; i++)
		if (!i || strcmp(names->pdata[i], names->pdata[i - 1]) != 0)
			g_string_append_printf(key, "%s\n",
					       (char *)names->pdata[i]);
	if ((k = g_hash_table_lookup(x->classes, key->str)))
		return k;
	k = class_new(key->str, x->window);
	for (i = 0; i < names->len; i++)
		g_hash_table_add(k->names, g_strdup(names->pdata[i]));
	return k;
}

/* Out of its queue, if in one. */
static void
unqueue(struct any_index *x, struct vm *vm)
{
	if (vm->any_level < 0)
		return;
	g_queue_unlink(&vm->any_class->level[vm->any_level], &vm->any_link);
	x->room[vm->any_level]--;
	vm->any_level = -1;
}

/* Out of its class, and the class goes with its last VM. */
static void
unclass(struct any_index *x, struct vm *vm)
{
	struct any_class *k = vm->any_class;

	if (!k)
		return;
	unqueue(x, vm);
	if (vm->any_live)
		x->live--;
	vm->any_live = FALSE;
	x->open--;
	vm->any_class = NULL;
	if (--k->vms == 0 && k != x->unknown)
		g_hash_table_remove(x->classes, k->key);
}

void
any_index_drop(struct vm *vm)
{
	if (vm->fs->any_index)
		unclass(vm->fs->any_index, vm);
}

void
any_index_update(struct vm *vm)
{
	struct any_index *x = index_of(vm->fs);
	struct any_class *k;
	gboolean live;
	int level;

	if (!vm_could_run(vm)) {
		unclass(x, vm);
		return;
	}
	if (!vm->any_class || vm->any_class_gen != vm->funcs_gen ||
	    (vm->any_class == x->unknown) != !vm->funcs) {
		k = class_for(x, vm);
		if (k != vm->any_class) {
			unclass(x, vm);
			if (k != x->unknown && !k->vms)
				g_hash_table_insert(x->classes, k->key, k);
			vm->any_class = k;
			k->vms++;
			x->open++;
		}
		vm->any_class_gen = vm->funcs_gen;
	}
	live = any_vm_live(vm);
	if (live != vm->any_live)
		x->live += live ? 1 : -1;
	vm->any_live = live;
	/* A node whose cores all run calls (its other clients' too) while
	 * ours wait for one is full: .any sends elsewhere first. */
	level = live && vm->any_load < x->window &&
		!vm->host->share.waiting
		? (int)vm->any_load : -1;
	if (level == vm->any_level)
		return;
	unqueue(x, vm);
	if (level < 0)
		return;
	vm->any_link.data = vm;
	vm->any_link.prev = vm->any_link.next = NULL;
	g_queue_push_tail_link(&vm->any_class->level[level], &vm->any_link);
	vm->any_level = level;
	vm->any_stamp = ++x->stamp;
	x->room[level]++;
}

guint
any_index_live(struct cluster *cl)
{
	return index_of(cl)->live;
}

gboolean
any_index_room(struct cluster *cl, guint window)
{
	struct any_index *x = index_of(cl);
	guint i;

	for (i = 0; i < MIN(window, x->window); i++)
		if (x->room[i])
			return TRUE;
	return FALSE;
}

struct vm *
any_index_pick(struct cluster *cl, const char *func, guint window)
{
	struct any_index *x = index_of(cl);
	GHashTableIter it;
	gpointer val;
	guint i;

	if (!*func)
		return NULL;
	window = MIN(window, x->window);
again:
	for (i = 0; i < window; i++) {
		struct vm *best = NULL;

		if (!x->room[i])
			continue;
		g_hash_table_iter_init(&it, x->classes);
		while (g_hash_table_iter_next(&it, NULL, &val)) {
			struct any_class *k = val;
			GList *head = k->level[i].head;

			if (!head || !g_hash_table_contains(k->names, func))
				continue;
			if (!best || ((struct vm *)head->data)->any_stamp <
				     best->any_stamp)
				best = head->data;
		}
		if (!best)
			continue;
		/* Changed without a word yet: placed again (out of this
		 * queue), and look again. */
		if (!any_vm_live(best) || best->any_load != i ||
		    best->any_class_gen != best->funcs_gen) {
			any_index_update(best);
			goto again;
		}
		return best;
	}
	return NULL;
}

gboolean
any_index_runnable(struct cluster *cl, const char *func, const char **why)
{
	struct any_index *x = index_of(cl);
	GHashTableIter it;
	gpointer val;

	if (*func && x->unknown->vms)
		return TRUE;	/* may have it: it has not said yet */
	g_hash_table_iter_init(&it, x->classes);
	while (*func && g_hash_table_iter_next(&it, NULL, &val))
		if (g_hash_table_contains(((struct any_class *)val)->names,
					  func))
			return TRUE;
	*why = x->open ? "no VM has function" : "no VM is up to run";
	return FALSE;
}
