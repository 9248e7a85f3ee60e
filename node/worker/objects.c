/*
 * objects.c - remote objects (trickle.h): the table of objects a VM's
 * worker holds for injected code, and its list for the supervisor.
 *
 * These functions are exported from trickle-node (it is linked with
 * --export-dynamic), so an injected object that calls them resolves them
 * from the worker that loaded it.  The worker is single-threaded as far
 * as calls go: one call at a time, and the table is only touched by the
 * call's thread and by the worker between calls.
 */
#include "trickle.h"
#include "worker_priv.h"
#include "wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DESC_MAX 256			/* bytes of a description */
#define CLASS_MAX 64			/* bytes of a class name */
/* Keep a W_OBJECTS body well inside WIRE_MAX_BODY: past the first
 * budget descriptions are left out, past the second objects are. */
#define DESC_BUDGET (128 * 1024)
#define LIST_BUDGET (WIRE_MAX_BODY - 16 * 1024)

struct object {
	guint32 id;
	const struct trickle_class *cls;
	void *obj;
};

static GHashTable *objects;		/* id -> struct object * */
static guint32 next_id = 1;
static gboolean changed;		/* since the last objects_list() */

void
objects_init(guint32 first_id)
{
	objects = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	next_id = first_id ? first_id : 1;
}

/* A plain read of one word: worker.c calls it from a signal handler when
 * the worker starts over (its objects go, their ids are not reused). */
guint32
objects_next_id(void)
{
	return next_id;
}

long
trickle_object_new(const struct trickle_class *cls, void *obj)
{
	struct object *o;

	if (!objects || !cls || !cls->name || !*cls->name ||
	    next_id == G_MAXUINT32) {
		errno = EINVAL;
		return -1;
	}
	o = g_new0(struct object, 1);
	o->id = next_id++;
	o->cls = cls;
	o->obj = obj;
	g_hash_table_insert(objects, GUINT_TO_POINTER(o->id), o);
	changed = TRUE;
	return o->id;
}

long
trickle_object_put(const struct trickle_class *cls, long id, void *obj)
{
	struct object *o;

	if (!objects || !cls || !cls->name || !*cls->name || id <= 0 ||
	    id >= G_MAXUINT32) {
		errno = EINVAL;
		return -1;
	}
	if (g_hash_table_contains(objects, GUINT_TO_POINTER((guint32)id))) {
		errno = EEXIST;
		return -1;
	}
	o = g_new0(struct object, 1);
	o->id = (guint32)id;
	o->cls = cls;
	o->obj = obj;
	g_hash_table_insert(objects, GUINT_TO_POINTER(o->id), o);
	if (o->id >= next_id)
		next_id = o->id + 1;
	changed = TRUE;
	return id;
}

static gint by_id(gconstpointer a, gconstpointer b);

int
trickle_object_each(const struct trickle_class *cls,
		    int (*fn)(long id, void *obj, void *data), void *data)
{
	g_autoptr(GPtrArray) ids = g_ptr_array_new();
	GHashTableIter it;
	gpointer key, value;
	guint i;

	if (!objects || !fn)
		return 0;
	g_hash_table_iter_init(&it, objects);
	while (g_hash_table_iter_next(&it, &key, &value))
		if (!cls || ((struct object *)value)->cls == cls)
			g_ptr_array_add(ids, key);
	g_ptr_array_sort(ids, by_id);
	for (i = 0; i < ids->len; i++) {
		struct object *o = g_hash_table_lookup(objects, ids->pdata[i]);
		int r;

		if (o && (r = fn(o->id, o->obj, data)) != 0)
			return r;
	}
	return 0;
}

int
trickle_object_return(const struct trickle_class *cls, void *obj)
{
	long id = trickle_object_new(cls, obj);

	if (id < 0) {
		fprintf(stderr, "cannot keep the object: %s\n",
			!cls || !cls->name || !*cls->name
				? "its class has no name" : "out of ids");
		return 1;
	}
	printf("@%ld\n", id);
	return 0;
}

/* "@12" (or "12") -> 12; 0 if it is not a handle. */
static guint32
parse_handle(const char *handle)
{
	guint64 id;

	if (!handle)
		return 0;
	if (*handle == '@')
		handle++;
	if (!g_ascii_string_to_unsigned(handle, 10, 1, G_MAXUINT32, &id,
					NULL))
		return 0;
	return (guint32)id;
}

static struct object *
find(const char *handle)
{
	guint32 id = parse_handle(handle);

	if (!objects || !id)
		return NULL;
	return g_hash_table_lookup(objects, GUINT_TO_POINTER(id));
}

void *
trickle_object_get(const struct trickle_class *cls, const char *handle)
{
	struct object *o = find(handle);

	return o && o->cls == cls ? o->obj : NULL;
}

/* Take the object out of the table first: its destroy may destroy
 * others, or crash, and either way it is gone. */
static void
destroy(struct object *o)
{
	g_hash_table_steal(objects, GUINT_TO_POINTER(o->id));
	changed = TRUE;
	if (o->cls->destroy)
		o->cls->destroy(o->obj);
	g_free(o);
}

int
trickle_object_destroy(const char *handle)
{
	struct object *o = find(handle);

	if (!o) {
		errno = ENOENT;
		return -1;
	}
	destroy(o);
	return 0;
}

int
objects_destroy_id(guint32 id)
{
	struct object *o = objects ? g_hash_table_lookup(objects,
		GUINT_TO_POINTER(id)) : NULL;

	if (!o)
		return ENOENT;
	destroy(o);
	return 0;
}

static char *
cut(const char *s, gsize max)
{
	g_autofree char *valid = g_utf8_make_valid(s, -1);
	GString *out = g_string_new(NULL);
	const char *p;

	for (p = valid; *p; p = g_utf8_next_char(p)) {
		gsize n = g_utf8_next_char(p) - p;

		if (out->len + n > max)
			break;
		if (g_unichar_iscntrl(g_utf8_get_char(p)))
			g_string_append_c(out, ' ');
		else
			g_string_append_len(out, p, n);
	}
	return g_string_free(out, FALSE);
}

static gint
by_id(gconstpointer a, gconstpointer b)
{
	guint32 x = GPOINTER_TO_UINT(*(gconstpointer *)a);
	guint32 y = GPOINTER_TO_UINT(*(gconstpointer *)b);

	return x < y ? -1 : x > y;
}

gboolean
objects_maybe_changed(void)
{
	/* describe() may say something new after any call. */
	return changed || (objects && g_hash_table_size(objects) > 0);
}

/*
 * The live objects as "a(uss)": id, class, description.  describe() is
 * injected code and runs here, after the call, with the worker's own
 * stdout and stderr.
 */
GVariant *
objects_list(void)
{
	GVariantBuilder b;
	g_autoptr(GPtrArray) ids = g_ptr_array_new();
	GHashTableIter it;
	gpointer key;
	gsize size = 0;
	guint i;

	changed = FALSE;
	g_variant_builder_init(&b, G_VARIANT_TYPE("a(uss)"));
	if (objects) {
		g_hash_table_iter_init(&it, objects);
		while (g_hash_table_iter_next(&it, &key, NULL))
			g_ptr_array_add(ids, key);
	}
	g_ptr_array_sort(ids, by_id);
	for (i = 0; i < ids->len; i++) {
		struct object *o = g_hash_table_lookup(objects, ids->pdata[i]);
		g_autofree char *cls = NULL;
		g_autofree char *desc = NULL;

		if (!o)
			continue;	/* a describe() destroyed it */
		if (size > LIST_BUDGET) {
			g_warning("worker: %u objects, listing the first %u",
				  ids->len, i);
			break;
		}
		cls = cut(o->cls->name, CLASS_MAX);
		if (o->cls->describe && size < DESC_BUDGET) {
			char *d = o->cls->describe(o->obj);

			desc = cut(d ? d : "", DESC_MAX);
			free(d);
		}
		if (!desc)
			desc = g_strdup("");
		size += 16 + strlen(cls) + strlen(desc);
		g_variant_builder_add(&b, "(uss)", o->id, cls, desc);
	}
	return g_variant_builder_end(&b);
}
