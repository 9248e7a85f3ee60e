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
 * content to the same host meanwhile wait for that one fill.  Then each
 * VM is asked to install the cached file under its name
 * (INJECT_CACHED), which the node answers as it answered INJECT_END: so
 * the verdicts, per VM, are what they were.  A node that lost the file
 * between the two (ESTALE) is filled again, once.
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

static void
ask_install(struct install *in)
{
	in->asked = TRUE;
	host_request(in->vm->host, WIRE_INJECT_CACHED, in->vm->index, 0,
		     g_variant_new("(ssu)", in->name, in->sum,
				   (guint32)in->mode),
		     on_installed, in);
}

/* The host has the content (err 0), or will not get it now. */
static void
fill_done(struct fill *f, int err, const char *msg)
{
	g_autofree char *why = g_strdup(msg ? msg : g_strerror(err));
	GList *waiting = g_steal_pointer(&f->waiting), *l;

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
			ask_install(in);
	}
	g_list_free(waiting);
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
