/*
 * injcache.c - an injected file into a VM through its node's cache
 * (protocol 5): each node gets the bytes once, however many of its VMs
 * install them, and not at all if its cache has them already (from
 * another VM, an earlier cp, or another mount of the same user).
 *
 * A file is named by its SHA-256.  The first install of a content to a
 * host asks the node (CACHE_HAVE); if the node does not have it, the
 * bytes go once (CACHE_PUT, INJECT_DATA at the pace of the link, END),
 * and the node checks them against the sum.  Installs of the same
 * content to the same host meanwhile wait for that one fill.  Then the
 * VMs waiting for it are asked, in one frame for those that install it
 * under the same name and mode (INJECT_CACHED_VMS), to install the
 * cached file: one answer, with a verdict per VM that refused, where
 * INJECT_CACHED took a frame and an answer per VM.  A node that lost
 * the file between the two (ESTALE) is filled again, once.
 */
#include "cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

/* The bytes of one content on their way to one host. */
struct fill {
	struct cluster *cl;
	struct host *h;
	char *key;			/* in cl->fills: "HOSTPTR/SUM" */
	char sum[WIRE_SHA256_HEX + 1];
	char *path;			/* where the bytes are at the mount */
	guint32 tag;
	struct feed *feed;
	GList *waiting;			/* struct install * */
};

struct install {
	struct vm *vm;
	char *name;
	mode_t mode;
	char *path;
	char sum[WIRE_SHA256_HEX + 1];
	struct fill *fill;		/* waiting for it */
	gboolean asked;			/* INJECT_CACHED sent, not answered */
	gboolean cancelled;		/* free it when the answer comes */
	gboolean refilled;		/* ESTALE once already */
	guint idle;			/* an answer from the main loop */
	int err;
	char *msg;
	install_done_fn done;
	void *data;
};

static void
install_free(struct install *in)
{
	if (in->idle)
		g_source_remove(in->idle);
	g_free(in->name);
	g_free(in->path);
	g_free(in->msg);
	g_free(in);
}

static void
finish(struct install *in, int err, const char *msg)
{
	if (!in->cancelled)
		in->done(in->data, err, msg ? msg : "");
	install_free(in);
}

static void fill_join(struct install *in);

static void
on_installed(void *data, int err, const char *msg, const guint8 *bytes,
	     gsize len)
{
	struct install *in = data;

	in->asked = FALSE;
	if (err == ESTALE && !in->refilled && !in->cancelled) {
		in->refilled = TRUE;
		g_message("%s: %s lost inject/%s from its cache: sending it "
			  "again", in->vm->name, in->vm->host->label,
			  in->name);
		fill_join(in);
		return;
	}
	finish(in, err, msg);
}

/* Installs asked in one INJECT_CACHED_VMS. */
struct batch {
	GPtrArray *ins;			/* struct install * */
};

/* The node's answer: one error for all, or a line "VM ERRNO MESSAGE"
 * for each VM that did not install it. */
static void
on_batch(void *data, int err, const char *msg, const guint8 *bytes,
	 gsize len)
{
	struct batch *b = data;
	g_autoptr(GHashTable) refused = g_hash_table_new_full(NULL, NULL,
							      NULL, g_free);
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	guint i;

	if (!err && bytes) {
		text = g_strndup((const char *)bytes, len);
		lines = g_strsplit(text, "\n", -1);
		for (i = 0; lines[i]; i++) {
			char *end = NULL;
			guint64 vm = g_ascii_strtoull(lines[i], &end, 10);

			if (end != lines[i] && *end == ' ')
				g_hash_table_insert(refused,
					GUINT_TO_POINTER((guint)vm),
					g_strdup(end + 1));
		}
	}
	for (i = 0; i < b->ins->len; i++) {
		struct install *in = b->ins->pdata[i];
		const char *line = g_hash_table_lookup(refused,
			GUINT_TO_POINTER(in->vm->index));
		char *why = NULL;
		int e = err;

		if (line) {
			e = errno_from_node((int)g_ascii_strtoll(line, &why,
								 10));
			why = why && *why == ' ' ? why + 1 : why;
			e = e ? e : EIO;
		}
		on_installed(in, e, line ? why : msg, NULL, 0);
	}
	g_ptr_array_unref(b->ins);
	g_free(b);
}

/* Ask the host to install ins (the same name and mode) into their VMs. */
static void
ask_batch(struct host *h, GPtrArray *ins)
{
	struct install *first = ins->pdata[0];
	struct batch *b = g_new0(struct batch, 1);
	GVariantBuilder vms;
	guint i;

	g_variant_builder_init(&vms, G_VARIANT_TYPE("au"));
	for (i = 0; i < ins->len; i++) {
		struct install *in = ins->pdata[i];

		in->asked = TRUE;
		g_variant_builder_add(&vms, "u", (guint32)in->vm->index);
	}
	b->ins = g_ptr_array_ref(ins);
	host_request(h, WIRE_INJECT_CACHED_VMS, 0, 0,
		     g_variant_new("(ssuau)", first->name, first->sum,
				   (guint32)first->mode, &vms),
		     on_batch, b);
}

/* The host has the content: one request for each name and mode its
 * waiting installs use (one, for a cp to .all/inject/). */
static void
ask_installs(struct host *h, GList *ins)
{
	g_autoptr(GHashTable) groups = g_hash_table_new_full(g_str_hash,
		g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
	GHashTableIter it;
	gpointer val;
	GList *l;

	for (l = ins; l; l = l->next) {
		struct install *in = l->data;
		g_autofree char *key = g_strdup_printf("%o/%s",
						       (unsigned)in->mode,
						       in->name);
		GPtrArray *g = g_hash_table_lookup(groups, key);

		if (!g) {
			g = g_ptr_array_new();
			g_hash_table_insert(groups, g_steal_pointer(&key), g);
		}
		g_ptr_array_add(g, in);
	}
	g_hash_table_iter_init(&it, groups);
	while (g_hash_table_iter_next(&it, NULL, &val))
		ask_batch(h, val);
}

/* The host has the content (err 0), or will not get it now. */
static void
fill_done(struct fill *f, int err, const char *msg)
{
	g_autofree char *why = g_strdup(msg ? msg : g_strerror(err));
	GList *waiting = g_steal_pointer(&f->waiting), *l, *ask = NULL;
	struct host *h = f->h;

	g_hash_table_remove(f->cl->fills, f->key);
	g_free(f->key);
	g_free(f->path);
	g_free(f);
	for (l = waiting; l; l = l->next) {
		struct install *in = l->data;

		in->fill = NULL;
		if (in->cancelled)
			install_free(in);
		else if (err)
			finish(in, err, why);
		else
			ask = g_list_prepend(ask, in);
	}
	g_list_free(waiting);
	/* In the order they came (waiting is newest first). */
	ask_installs(h, ask);
	g_list_free(ask);
}

static void
on_put_end(void *data, int err, const char *msg, const guint8 *bytes,
	   gsize len)
{
	struct fill *f = data;

	if (err)
		g_warning("%s: the node refused %s into its cache: %s",
			  f->h->label, f->sum, msg);
	fill_done(data, err, msg);
}

static void
on_put_fed(void *data, int err)
{
	struct fill *f = data;

	f->feed = NULL;
	if (err == 0) {
		host_request(f->h, WIRE_INJECT_END, 0, f->tag, NULL,
			     on_put_end, f);
		return;
	}
	if (err != ECONNRESET && err != ECANCELED)
		host_send(f->h, WIRE_INJECT_ABORT, 0, f->tag, NULL);
	fill_done(f, err == ECONNRESET ? EHOSTUNREACH : err, NULL);
}

static void
on_have(void *data, int err, const char *msg, const guint8 *bytes,
	gsize len)
{
	struct fill *f = data;
	struct stat st;
	int fd;

	if (err != ENOENT) {
		fill_done(f, err, msg);
		return;
	}
	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		err = errno;
		g_warning("%s: cannot send %s: %s", f->h->label, f->path,
			  g_strerror(err));
		if (fd >= 0)
			close(fd);
		fill_done(f, EIO, g_strerror(err));
		return;
	}
	f->tag = host_next_tag(f->h);
	host_send(f->h, WIRE_CACHE_PUT, 0, f->tag,
		  g_variant_new("(st)", f->sum, (guint64)st.st_size));
	f->feed = feed_start(f->h, 0, WIRE_INJECT_DATA, f->tag, fd, NULL,
			     on_put_fed, f);
}

/* Wait for the host to have in's content: join its fill, or start one. */
static void
fill_join(struct install *in)
{
	struct cluster *cl = in->vm->fs;
	struct host *h = in->vm->host;
	g_autofree char *key = g_strdup_printf("%p/%s", (void *)h, in->sum);
	struct fill *f;

	if (!cl->fills)
		cl->fills = g_hash_table_new(g_str_hash, g_str_equal);
	f = g_hash_table_lookup(cl->fills, key);
	if (!f) {
		f = g_new0(struct fill, 1);
		f->cl = cl;
		f->h = h;
		f->key = g_steal_pointer(&key);
		memcpy(f->sum, in->sum, sizeof(f->sum));
		f->path = g_strdup(in->path);
		g_hash_table_insert(cl->fills, f->key, f);
		f->waiting = g_list_prepend(f->waiting, in);
		in->fill = f;
		host_request(h, WIRE_CACHE_HAVE, 0, 0,
			     g_variant_new_string(f->sum), on_have, f);
		return;
	}
	f->waiting = g_list_prepend(f->waiting, in);
	in->fill = f;
}

static gboolean
answer_later(gpointer data)
{
	struct install *in = data;

	in->idle = 0;
	finish(in, in->err, in->msg);
	return G_SOURCE_REMOVE;
}

struct install *
inject_install(struct vm *vm, const char *name, mode_t mode,
	       const char *path, const char *sum, install_done_fn done,
	       void *data)
{
	struct install *in = g_new0(struct install, 1);

	in->vm = vm;
	in->name = g_strdup(name);
	in->mode = mode;
	in->path = g_strdup(path);
	g_strlcpy(in->sum, sum, sizeof(in->sum));
	in->done = done;
	in->data = data;
	if (vm->host->state != HOST_UP) {
		in->err = vm->host->state == HOST_DOWN ? EHOSTDOWN
						       : EHOSTUNREACH;
		in->msg = g_strdup(vm->host->down_reason
				   ? vm->host->down_reason : "not up");
		in->idle = g_idle_add(answer_later, in);
		return in;
	}
	fill_join(in);
	return in;
}

void
inject_install_cancel(struct install *in)
{
	if (!in)
		return;
	in->cancelled = TRUE;
	/* Its fill or its request still holds it: freed when they end. */
	if (in->fill || in->asked)
		return;
	install_free(in);
}
