/*
 * test-anyindex.c - what .any builds on, without a node: a VM's function
 * names and their ids (vm.c), and anyindex.c's choice of a VM for a call
 * (the least loaded VM listing the function, first in first out among
 * equals), whether a call could run at all, and that a VM changed
 * without a word is never picked; then the same on 5,000 VMs.
 */
#include <glib.h>
#include <string.h>

#include "cluster.h"

/* a(sssss) of the names, "built-in" each. */
static GVariant *
funcs_of(const char *names)
{
	g_auto(GStrv) v = g_strsplit(names, " ", -1);
	GVariantBuilder b;
	char **n;

	g_variant_builder_init(&b, G_VARIANT_TYPE("a(sssss)"));
	for (n = v; *n; n++)
		if (**n)
			g_variant_builder_add(&b, "(sssss)", *n, "built-in",
					      "doc", "", "");
	return g_variant_ref_sink(g_variant_builder_end(&b));
}

static void
set_funcs(struct vm *vm, const char *names)
{
	g_autoptr(GVariant) f = funcs_of(names);

	vm_set_funcs(vm, f);
	any_index_update(vm);
}

static struct cluster *
new_cluster(int window)
{
	struct cluster *cl = cluster_new();

	cl->opt.any_window = window;
	return cl;
}

static struct host *
new_host(struct cluster *cl)
{
	struct host *h = g_new0(struct host, 1);

	h->fs = cl;
	h->state = HOST_UP;
	h->vms = g_ptr_array_new();
	h->label = g_strdup("test");
	return h;
}

static struct vm *
new_vm(struct cluster *cl, struct host *h, const char *name,
       const char *funcs)
{
	struct vm *vm = vm_new(cl, h, name);

	vm->state = VM_UP;
	vm->slot = cl->vms->len;
	g_ptr_array_add(cl->vms, vm);
	if (funcs)
		set_funcs(vm, funcs);
	else
		any_index_update(vm);
	return vm;
}

static void
load(struct vm *vm, int delta)
{
	vm->any_load += delta;
	any_index_update(vm);
}

static void
free_all(struct cluster *cl, struct host *h)
{
	guint i;

	for (i = 0; i < h->vms->len; i++)
		vm_free(h->vms->pdata[i]);
	g_ptr_array_unref(h->vms);
	g_free(h->label);
	g_free(h);
	g_ptr_array_set_size(cl->vms, 0);
	cluster_free(cl);
}

static void
test_func_ids(void)
{
	struct cluster *cl = new_cluster(2);
	struct host *h = new_host(cl);
	struct vm *vm = new_vm(cl, h, "a", "echo exec foo");
	const char *name, *origin;
	guint32 foo;

	foo = vm_func_id(vm, "foo");
	g_assert_cmpuint(foo, !=, 0);
	g_assert_cmpuint(vm_func_id(vm, "echo"), !=, foo);
	g_assert_cmpuint(vm_func_id(vm, "nope"), ==, 0);
	g_assert_true(vm_func(vm, foo, &name, &origin, NULL));
	g_assert_cmpstr(name, ==, "foo");
	g_assert_cmpstr(origin, ==, "built-in");
	/* Gone from the list: no id now, no entry; back: the same id. */
	set_funcs(vm, "echo exec bar");
	g_assert_cmpuint(vm_func_id(vm, "foo"), ==, 0);
	g_assert_false(vm_func(vm, foo, NULL, NULL, NULL));
	g_assert_cmpuint(vm_func_id(vm, "bar"), >, foo);
	set_funcs(vm, "foo echo");
	g_assert_cmpuint(vm_func_id(vm, "foo"), ==, foo);
	g_assert_true(vm_func(vm, vm_func_id(vm, "echo"), &name, NULL, NULL));
	g_assert_cmpstr(name, ==, "echo");
	g_assert_false(vm_func(vm, 999, NULL, NULL, NULL));
	free_all(cl, h);
}

static void
test_pick(void)
{
	struct cluster *cl = new_cluster(2);
	struct host *h = new_host(cl);
	struct vm *a = new_vm(cl, h, "a", "echo foo");
	struct vm *b = new_vm(cl, h, "b", "foo echo");
	struct vm *c = new_vm(cl, h, "c", "echo");
	const char *why = NULL;

	g_assert_cmpuint(any_index_live(cl), ==, 3);
	/* First in, first picked; a VM given a call goes last. */
	g_assert_true(any_index_pick(cl, "echo", 1) == a);
	load(a, 1);
	g_assert_true(any_index_pick(cl, "echo", 1) == b);
	load(b, 1);
	g_assert_true(any_index_pick(cl, "foo", 1) == NULL);
	g_assert_true(any_index_room(cl, 1));
	g_assert_true(any_index_pick(cl, "echo", 1) == c);
	load(c, 1);
	g_assert_false(any_index_room(cl, 1));
	/* A window of two: the second place, in the order they filled. */
	g_assert_true(any_index_pick(cl, "foo", 2) == a);
	g_assert_true(any_index_pick(cl, "echo", 2) == a);
	load(a, 1);
	g_assert_true(any_index_pick(cl, "echo", 2) == b);
	load(b, 1);
	g_assert_true(any_index_pick(cl, "foo", 2) == NULL);
	g_assert_true(any_index_pick(cl, "echo", 2) == c);
	load(c, 1);
	g_assert_false(any_index_room(cl, 2));
	g_assert_true(any_index_pick(cl, "echo", 5) == NULL);
	/* One ends: the least loaded again. */
	load(b, -2);
	g_assert_true(any_index_pick(cl, "foo", 2) == b);

	/* Could it run: a VM lists it; nobody does; one has not said. */
	g_assert_true(any_index_runnable(cl, "foo", &why));
	g_assert_false(any_index_runnable(cl, "bar", &why));
	g_assert_cmpstr(why, ==, "no VM has function");
	set_funcs(c, "echo bar");
	g_assert_true(any_index_runnable(cl, "bar", &why));
	g_clear_pointer(&c->funcs, g_variant_unref);
	c->funcs_gen++;
	any_index_update(c);
	g_assert_true(any_index_runnable(cl, "baz", &why));
	g_assert_true(any_index_pick(cl, "baz", 2) == NULL);

	/* Changed without a word: never picked; a VM down is no VM. */
	b->state = VM_DOWN;
	g_assert_true(any_index_pick(cl, "foo", 2) == NULL);
	g_assert_true(any_index_pick(cl, "echo", 2) == NULL);
	h->state = HOST_DOWN;
	any_index_update(a);
	any_index_update(b);
	any_index_update(c);
	g_assert_cmpuint(any_index_live(cl), ==, 0);
	g_assert_false(any_index_runnable(cl, "echo", &why));
	g_assert_cmpstr(why, ==, "no VM is up to run");
	h->state = HOST_UP;
	b->state = VM_UP;
	any_index_update(a);
	any_index_update(b);
	g_assert_true(any_index_pick(cl, "foo", 1) == b);
	/* Draining: out. */
	load(a, -1);
	b->draining = TRUE;
	any_index_update(b);
	g_assert_true(any_index_pick(cl, "foo", 2) == a);
	free_all(cl, h);
}

/* A node whose cores are all taken while our calls wait there (its
 * share, WIRE_SHARE) is full: .any sends to another node first, and to
 * it again once a call of ours got a core. */
static void
test_full_node(void)
{
	struct cluster *cl = new_cluster(2);
	struct host *h1 = new_host(cl), *h2 = new_host(cl);
	struct vm *a = new_vm(cl, h1, "a", "foo");
	struct vm *b = new_vm(cl, h2, "b", "foo");

	g_assert_true(any_index_pick(cl, "foo", 2) == a);
	h1->share = (struct host_share){ .known = TRUE, .shared = TRUE,
		.clients = 2, .users = 1, .held = 0, .budget = 2,
		.waiting = 1 };
	any_index_update(a);
	g_assert_true(any_index_pick(cl, "foo", 2) == b);
	load(b, 2);
	/* Every node full or loaded: the call waits at the mount. */
	g_assert_true(any_index_pick(cl, "foo", 2) == NULL);
	h1->share.waiting = 0;
	h1->share.held = 1;
	any_index_update(a);
	g_assert_true(any_index_pick(cl, "foo", 2) == a);
	vm_free(b);
	g_ptr_array_unref(h2->vms);
	g_free(h2->label);
	g_free(h2);
	free_all(cl, h1);
}

/* Many VMs: every pick is the least loaded, and they take turns. */
static void
test_many(void)
{
	struct cluster *cl = new_cluster(2);
	struct host *h = new_host(cl);
	enum { N = 5000, ROUNDS = 3 };
	guint i, r;

	for (i = 0; i < N; i++) {
		g_autofree char *name = g_strdup_printf("vm%u", i);

		new_vm(cl, h, name, i % 2 ? "echo foo" : "echo");
	}
	for (r = 0; r < ROUNDS; r++) {
		/* Fill every VM to the window, then empty them. */
		for (i = 0; i < 2 * N; i++) {
			struct vm *vm = any_index_pick(cl, "echo", 2);

			g_assert_nonnull(vm);
			g_assert_cmpuint(vm->any_load, ==, i < N ? 0 : 1);
			load(vm, 1);
		}
		g_assert_null(any_index_pick(cl, "echo", 2));
		for (i = 0; i < N; i++) {
			struct vm *vm = h->vms->pdata[i];

			load(vm, -(int)vm->any_load);
		}
	}
	/* Only the odd ones run foo. */
	for (i = 0; i < N / 2; i++) {
		struct vm *vm = any_index_pick(cl, "foo", 1);

		g_assert_nonnull(vm);
		g_assert_cmpuint(vm->slot % 2, ==, 1);
		load(vm, 1);
	}
	g_assert_null(any_index_pick(cl, "foo", 1));
	g_assert_nonnull(any_index_pick(cl, "echo", 1));
	free_all(cl, h);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/anyindex/func-ids", test_func_ids);
	g_test_add_func("/anyindex/pick", test_pick);
	g_test_add_func("/anyindex/many", test_many);
	g_test_add_func("/anyindex/full-node", test_full_node);
	return g_test_run();
}
