/*
 * vmfuncs.c - the functions a VM answers to, and where each comes from.
 *
 * A name can be defined more than once: by a built-in, by one or more
 * injected shared objects, by an injected program.  One rule picks what
 * a call of it runs, the same here (FUNCS, functions/NAME) as in the
 * worker: an injected program first, then the shared object injected
 * last, then the built-in.  What it hides is listed with it ("shadows")
 * and logged when a file is installed.  Each injected file's SHA-256 is
 * taken when it is installed, so that functions/NAME can be checked
 * against the file a user has.
 */
#include "vm_priv.h"
#include "vet.h"
#include "worker.h"
#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Keep a FUNCS body well inside WIRE_MAX_BODY. */
#define FUNCS_BUDGET (WIRE_MAX_BODY - 16 * 1024)

/* Does the shared object lib define name? */
static gboolean
lib_defines(struct vmnode *vm, const char *lib, const char *name)
{
	GPtrArray *fs = g_hash_table_lookup(vm->lib_funcs, lib);
	guint j;

	for (j = 0; fs && j < fs->len; j++)
		if (strcmp(((struct elf_func *)fs->pdata[j])->name, name) == 0)
			return TRUE;
	return FALSE;
}

static gboolean
is_builtin(const char *name)
{
	const struct builtin_info *b;

	for (b = worker_builtins; b->name; b++)
		if (strcmp(b->name, name) == 0)
			return TRUE;
	return FALSE;
}

/* Every source of name, the one a call runs first. */
static GPtrArray *
sources(struct vmnode *vm, const char *name)
{
	GPtrArray *a = g_ptr_array_new();
	guint i;

	if (g_hash_table_contains(vm->programs, name))
		g_ptr_array_add(a, "program");
	for (i = vm->libs->len; i-- > 0;)
		if (lib_defines(vm, vm->libs->pdata[i], name))
			g_ptr_array_add(a, vm->libs->pdata[i]);
	if (is_builtin(name))
		g_ptr_array_add(a, "built-in");
	return a;
}

const char *
vmnode_func_origin(struct vmnode *vm, const char *name)
{
	g_autoptr(GPtrArray) a = sources(vm, name);

	return a->len ? a->pdata[0] : NULL;
}

void
vmfuncs_note_sum(struct vmnode *vm, const char *name, const char *known)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = g_build_filename(vm->inject_dir, name, NULL);
	char *sum = known ? g_strdup(known) : sha256_file(path, &error);

	if (!sum) {
		g_warning("vm%u: no checksum of %s: %s", vm->index, name,
			  error->message);
		g_hash_table_remove(vm->sums, name);
		return;
	}
	g_hash_table_insert(vm->sums, g_strdup(name), sum);
}

/* The file a source is, and its checksum ("" for a built-in). */
static void
source_file(struct vmnode *vm, const char *name, const char *origin,
	    const char **file, const char **sum)
{
	*file = strcmp(origin, "program") == 0 ? name : origin;
	*sum = "";
	if (strcmp(origin, "built-in") != 0)
		*sum = g_hash_table_lookup(vm->sums, *file);
	if (!*sum)
		*sum = "";
}

/* "a.so, built-in": what the first source hides. */
static char *
hidden(struct vmnode *vm, const char *name, GPtrArray *src)
{
	GString *s = g_string_new(NULL);
	guint i;

	for (i = 1; i < src->len; i++) {
		const char *file, *sum;

		source_file(vm, name, src->pdata[i], &file, &sum);
		g_string_append_printf(s, "%s%s", s->len ? ", " : "", file);
	}
	return g_string_free(s, FALSE);
}

static char *
shadows_text(struct vmnode *vm, const char *file)
{
	g_autoptr(GPtrArray) names = g_ptr_array_new();
	GPtrArray *fs = g_hash_table_lookup(vm->lib_funcs, file);
	GString *s = g_string_new(NULL);
	guint i;

	if (g_hash_table_contains(vm->programs, file))
		g_ptr_array_add(names, (char *)file);
	for (i = 0; fs && i < fs->len; i++)
		g_ptr_array_add(names, ((struct elf_func *)fs->pdata[i])->name);
	for (i = 0; i < names->len; i++) {
		const char *name = names->pdata[i];
		g_autoptr(GPtrArray) src = sources(vm, name);
		g_autofree char *h = NULL;
		const char *top, *sum;

		if (src->len < 2)
			continue;
		source_file(vm, name, src->pdata[0], &top, &sum);
		h = hidden(vm, name, src);
		g_string_append_printf(s, "%s: a call runs the one in %s, "
				       "which shadows %s (a program, then the "
				       "shared object injected last, then a "
				       "built-in)\n", name, top, h);
	}
	return g_string_free(s, FALSE);
}

void
vmfuncs_log_shadows(struct vmnode *vm, const char *file)
{
	g_autofree char *text = vmfuncs_shadows(vm, file);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	guint i;

	for (i = 0; lines[i]; i++)
		if (*lines[i])
			g_message("vm%u: %s", vm->index, lines[i]);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *
doc_of(struct vmnode *vm, const char *name, const char *origin)
{
	const struct builtin_info *b;
	GPtrArray *fs;
	guint j;

	if (strcmp(origin, "built-in") == 0) {
		for (b = worker_builtins; b->name; b++)
			if (strcmp(b->name, name) == 0)
				return b->doc;
		return "";
	}
	fs = g_hash_table_lookup(vm->lib_funcs, origin);
	for (j = 0; fs && j < fs->len; j++) {
		struct elf_func *f = fs->pdata[j];

		if (strcmp(f->name, name) == 0)
			return f->doc;
	}
	return "";
}

/* Every name a call can use, once: where a call of it goes, its doc, the
 * checksum of that file and what it hides. */
static GVariant *
build_funcs(struct vmnode *vm)
{
	g_autoptr(GHashTable) t = g_hash_table_new(g_str_hash, g_str_equal);
	g_autofree const char **names = NULL;
	const struct builtin_info *b;
	GVariantBuilder vb;
	GHashTableIter it;
	gpointer key;
	gsize size = 0;
	guint i, j, n;

	for (b = worker_builtins; b->name; b++)
		g_hash_table_add(t, (char *)b->name);
	for (i = 0; i < vm->libs->len; i++) {
		GPtrArray *fs = g_hash_table_lookup(vm->lib_funcs,
						    vm->libs->pdata[i]);

		for (j = 0; fs && j < fs->len; j++)
			g_hash_table_add(t, ((struct elf_func *)
					     fs->pdata[j])->name);
	}
	g_hash_table_iter_init(&it, vm->programs);
	while (g_hash_table_iter_next(&it, &key, NULL))
		g_hash_table_add(t, key);
	names = (const char **)g_hash_table_get_keys_as_array(t, &n);
	qsort(names, n, sizeof(*names), cmp_names);
	g_variant_builder_init(&vb, G_VARIANT_TYPE("a(sssss)"));
	for (i = 0; i < n; i++) {
		g_autoptr(GPtrArray) src = sources(vm, names[i]);
		g_autofree char *h = hidden(vm, names[i], src);
		const char *origin = src->pdata[0];
		const char *doc = doc_of(vm, names[i], origin);
		const char *file, *sum;

		source_file(vm, names[i], origin, &file, &sum);
		size += 24 + strlen(names[i]) + strlen(origin) + strlen(doc) +
			strlen(sum) + strlen(h);
		if (size > FUNCS_BUDGET) {
			g_warning("vm%u: %u functions, listing the first %u",
				  vm->index, n, i);
			break;
		}
		g_variant_builder_add(&vb, "(sssss)", names[i], origin, doc,
				      sum, h);
	}
	return g_variant_builder_end(&vb);
}

/* What a VM's FUNCS and shadowing follow from: its injected files in
 * the order a call looks at them, each with its SHA-256 (the built-ins
 * are the same everywhere).  VMs with the same key list the same.  NULL
 * if a file's sum is not known: no key then. */
static char *
state_key(struct vmnode *vm)
{
	g_autofree const char **progs = NULL;
	GString *k = g_string_new(NULL);
	const char *sum = "";
	guint i, n;

	progs = (const char **)g_hash_table_get_keys_as_array(vm->programs,
							      &n);
	qsort(progs, n, sizeof(*progs), cmp_names);
	for (i = 0; i < n && sum; i++) {
		if ((sum = g_hash_table_lookup(vm->sums, progs[i])))
			g_string_append_printf(k, "p/%s/%s\n", progs[i], sum);
	}
	for (i = vm->libs->len; i-- > 0 && sum;) {
		const char *lib = vm->libs->pdata[i];

		if ((sum = g_hash_table_lookup(vm->sums, lib)))
			g_string_append_printf(k, "l/%s/%s/%c\n", lib, sum,
				g_hash_table_contains(vm->lib_funcs, lib)
				? '+' : '-');
	}
	return g_string_free(k, sum == NULL);
}

/* The last FUNCS built, and the shadowing last logged, by state key: a
 * file installed into a thousand VMs that were alike is listed once. */
static struct {
	char *key;
	GVariant *funcs;
	char *shadows_key;		/* key + the file */
	char *shadows;
} memo;

static GVariant *
funcs_of(struct vmnode *vm)
{
	g_autofree char *key = state_key(vm);

	if (!key)
		return g_variant_ref_sink(build_funcs(vm));
	if (memo.key && strcmp(memo.key, key) == 0)
		return g_variant_ref(memo.funcs);
	g_free(memo.key);
	if (memo.funcs)
		g_variant_unref(memo.funcs);
	memo.key = g_steal_pointer(&key);
	memo.funcs = g_variant_ref_sink(build_funcs(vm));
	return g_variant_ref(memo.funcs);
}

char *
vmfuncs_shadows(struct vmnode *vm, const char *file)
{
	g_autofree char *state = state_key(vm);
	g_autofree char *key = NULL;

	if (!state)
		return shadows_text(vm, file);
	key = g_strconcat(state, "f/", file, NULL);
	if (!memo.shadows_key || strcmp(memo.shadows_key, key) != 0) {
		g_free(memo.shadows_key);
		g_free(memo.shadows);
		memo.shadows = shadows_text(vm, file);
		memo.shadows_key = g_steal_pointer(&key);
	}
	return g_strdup(memo.shadows);
}

void
vmfuncs_send(struct vmnode *vm)
{
	GVariant *f = funcs_of(vm);

	if (vm->funcs_sent && (f == vm->funcs_sent ||
			       g_variant_equal(f, vm->funcs_sent))) {
		g_variant_unref(f);
		return;
	}
	g_clear_pointer(&vm->funcs_sent, g_variant_unref);
	vm->funcs_sent = f;
	vmnode_send(vm, WIRE_FUNCS, 0, f);
}
