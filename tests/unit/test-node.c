/*
 * test-node.c - trickle-node on its own: each test starts one over pipes,
 * speaks the protocol of wire.h to it as tricklefs would, and checks what
 * comes back.  TRICKLE_NODE, BASIC_SO, STACK_SO and TESTMOD_SO name the
 * programs and modules under test.
 *
 * Also exercises the ELF symbol reader (node/vet/elfsyms.c) directly on
 * corrupted copies of a real shared object.
 */
#include "wire.h"
#include "vet.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define WAIT_MS 10000

struct tnode {
	GPid pid;
	int to, from;			/* its stdin, its stdout */
	struct wire_decoder dec;
	GList *got;			/* struct wire_msg *, not yet taken */
	char *dir;
	guint32 tag;			/* requests */
	guint32 call;			/* call ids */
	guint32 pid_reported[4];	/* worker pids from VM_STATE */
	gboolean eof;			/* it closed its stdout */
};

typedef gboolean (*match_fn)(const struct wire_msg *m, gconstpointer data);

static const char *
env_path(const char *name)
{
	const char *p = g_getenv(name);

	if (!p)
		g_error("%s is not set (run through meson test)", name);
	return p;
}

static void
msg_free(struct wire_msg *m)
{
	wire_msg_clear(m);
	g_free(m);
}

static void
tsend(struct tnode *t, guint type, guint vm, guint32 tag, GVariant *body)
{
	g_autoptr(GByteArray) f = g_byte_array_new();
	gsize off = 0;

	g_assert_true(wire_encode(f, type, vm, tag, body));
	while (off < f->len) {
		ssize_t n = write(t->to, f->data + off, f->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		g_assert_cmpint(n, >, 0);
		off += n;
	}
}

/* Read what the node has sent, waiting up to ms for something. */
static gboolean
receive(struct tnode *t, int ms)
{
	struct pollfd p = { .fd = t->from, .events = POLLIN };
	guint8 buf[65536];
	struct wire_msg m;
	g_autoptr(GError) error = NULL;
	ssize_t n;
	int r;

	r = poll(&p, 1, ms);
	if (r <= 0)
		return FALSE;
	n = read(t->from, buf, sizeof(buf));
	if (n < 0 && errno == EINTR)
		return TRUE;
	if (n <= 0) {
		t->eof = TRUE;
		return FALSE;
	}
	wire_decoder_feed(&t->dec, buf, n);
	while ((r = wire_decoder_next(&t->dec, &m, &error)) == 1) {
		struct wire_msg *c = g_new(struct wire_msg, 1);

		*c = m;
		if (c->type == WIRE_VM_STATE && c->vm < 4) {
			guint8 st;
			guint32 pid;

			g_variant_get(c->body, "(yu&s)", &st, &pid, NULL);
			if (st == VM_UP)
				t->pid_reported[c->vm] = pid;
		}
		t->got = g_list_append(t->got, c);
	}
	g_assert_no_error(error);
	return TRUE;
}

/* The first message (received or to come within ms) that matches; it is
 * taken out.  NULL on timeout. */
static struct wire_msg *
wait_for_ms(struct tnode *t, match_fn match, gconstpointer data, int ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
	GList *l;

	for (;;) {
		gint64 left;

		for (l = t->got; l; l = l->next) {
			struct wire_msg *m = l->data;

			if (match(m, data)) {
				t->got = g_list_delete_link(t->got, l);
				return m;
			}
		}
		left = (end - g_get_monotonic_time()) / 1000;
		if (left <= 0)
			return NULL;
		receive(t, (int)left);
		if (t->eof)
			g_error("trickle-node went away");
	}
}

static struct wire_msg *
wait_for(struct tnode *t, match_fn match, gconstpointer data)
{
	struct wire_msg *m = wait_for_ms(t, match, data, WAIT_MS);

	g_assert_nonnull(m);
	return m;
}

struct want {
	guint type;
	guint vm;
	guint32 tag;
	gboolean any_tag;
};

static gboolean
match_want(const struct wire_msg *m, gconstpointer data)
{
	const struct want *w = data;

	return m->type == w->type && m->vm == w->vm &&
	       (w->any_tag || m->tag == w->tag);
}

static struct wire_msg *
wait_type(struct tnode *t, guint type, guint vm, guint32 tag)
{
	struct want w = { type, vm, tag, FALSE };

	return wait_for(t, match_want, &w);
}

static struct wire_msg *
wait_type_any(struct tnode *t, guint type, guint vm)
{
	struct want w = { type, vm, 0, TRUE };

	return wait_for(t, match_want, &w);
}

static struct tnode *
node_start(guint nvms)
{
	struct tnode *t = g_new0(struct tnode, 1);
	g_autoptr(GError) error = NULL;
	g_autofree char *dirarg = NULL;
	struct wire_msg *m;
	guint32 version, cores, pid;
	const char *host;
	char *argv[4];

	t->dir = g_dir_make_tmp("test-node-XXXXXX", &error);
	g_assert_no_error(error);
	dirarg = g_strdup_printf("--dir=%s", t->dir);
	argv[0] = (char *)env_path("TRICKLE_NODE");
	argv[1] = dirarg;
	argv[2] = NULL;
	g_assert_true(g_spawn_async_with_pipes(NULL, argv, NULL,
		G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &t->pid, &t->to,
		&t->from, NULL, &error));
	g_assert_no_error(error);
	wire_decoder_init(&t->dec);
	tsend(t, WIRE_HELLO, 0, 1, g_variant_new("(uu)", WIRE_PROTO_VERSION,
						 nvms));
	m = wait_type(t, WIRE_WELCOME, 0, 1);
	g_variant_get(m->body, "(u&suu)", &version, &host, &cores, &pid);
	g_assert_cmpuint(version, ==, WIRE_PROTO_VERSION);
	g_assert_cmpuint(pid, ==, (guint32)t->pid);
	g_assert_cmpuint(cores, >=, 1);
	msg_free(m);
	t->tag = 100;
	return t;
}

/* The next entry of the node's directory that is not its cache of
 * injected files (cache/, kept across sessions). */
static const char *
session_entry(GDir *d)
{
	const char *name;

	while ((name = g_dir_read_name(d)) && strcmp(name, "cache") == 0)
		;
	return name;
}

static void
remove_cache(const char *dir)
{
	g_autofree char *sha = g_build_filename(dir, "cache", "sha256", NULL);
	g_autofree char *cache = g_build_filename(dir, "cache", NULL);
	g_autoptr(GDir) d = g_dir_open(sha, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *p = g_build_filename(sha, name, NULL);

		g_unlink(p);
	}
	g_rmdir(sha);
	g_rmdir(cache);
}

static void
node_stop(struct tnode *t)
{
	int status;

	tsend(t, WIRE_SHUTDOWN, 0, 0, NULL);
	close(t->to);
	/* It answers SHUTDOWN at once and ends. */
	while (receive(t, 5000))
		;
	g_assert_cmpint(waitpid(t->pid, &status, 0), ==, t->pid);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	g_spawn_close_pid(t->pid);
	close(t->from);
	wire_decoder_clear(&t->dec);
	g_list_free_full(t->got, (GDestroyNotify)msg_free);
	/* The session directory goes in a detached child: give it time. */
	for (int i = 0; i < 100; i++) {
		g_autoptr(GDir) d = g_dir_open(t->dir, 0, NULL);

		if (!d || !session_entry(d))
			break;
		g_usleep(20000);
	}
	remove_cache(t->dir);
	g_rmdir(t->dir);
	g_free(t->dir);
	g_free(t);
}

/* A request answered by REPLY: its errno, and message in *msg. */
static int
request(struct tnode *t, guint type, guint vm, GVariant *body, char **msg)
{
	guint32 tag = ++t->tag;
	struct wire_msg *m;
	const char *s;
	int err;

	tsend(t, type, vm, tag, body);
	m = wait_type(t, WIRE_REPLY, vm, tag);
	g_variant_get(m->body, "(i&s)", &err, &s);
	if (msg)
		*msg = g_strdup(s);
	msg_free(m);
	return err;
}

static guint32
call_argv(struct tnode *t, guint vm, const char *const *argv)
{
	guint32 id = ++t->call;

	tsend(t, WIRE_CALL, vm, id, g_variant_new_strv(argv, -1));
	return id;
}

/* line is split as by sh, without expansions. */
static guint32
call(struct tnode *t, guint vm, const char *line)
{
	g_auto(GStrv) argv = NULL;

	g_assert_true(g_shell_parse_argv(line, NULL, &argv, NULL));
	return call_argv(t, vm, (const char *const *)argv);
}

struct state_want {
	guint vm;
	guint32 id;
	gboolean ended;			/* else: any state */
	guint state;			/* if ended is not set */
	guint64 min_out;
};

static gboolean
match_state(const struct wire_msg *m, gconstpointer data)
{
	const struct state_want *w = data;
	guint8 state;
	guint64 out;

	if (m->type != WIRE_CALL_STATE || m->vm != w->vm || m->tag != w->id)
		return FALSE;
	g_variant_get(m->body, "(y&sitt)", &state, NULL, NULL, &out, NULL);
	if (w->ended)
		return state >= CALL_DONE;
	return state == w->state && out >= w->min_out;
}

struct end {
	guint state;
	int code;
	char *detail;
	guint64 out, err;
};

static void
end_clear(struct end *e)
{
	g_free(e->detail);
}
typedef struct end End;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(End, end_clear)

static void
wait_end(struct tnode *t, guint vm, guint32 id, struct end *e)
{
	struct state_want w = { vm, id, TRUE, 0, 0 };
	struct wire_msg *m = wait_for(t, match_state, &w);
	guint8 state;
	const char *detail;

	g_variant_get(m->body, "(y&sitt)", &state, &detail, &e->code, &e->out,
		      &e->err);
	e->state = state;
	g_free(e->detail);
	e->detail = g_strdup(detail);
	msg_free(m);
}

/* The whole of a call's stream, read as tricklefs reads it. */
static char *
read_stream(struct tnode *t, guint vm, guint32 id, guint stream, int *err)
{
	GString *s = g_string_new(NULL);

	*err = 0;
	for (;;) {
		guint32 tag = ++t->tag;
		struct want w1 = { WIRE_DATA, vm, tag, FALSE };
		struct want w2 = { WIRE_REPLY, vm, tag, FALSE };
		struct wire_msg *m;
		const guint8 *p;
		gsize len;

		tsend(t, WIRE_READ, vm, tag,
		      g_variant_new("(uytu)", id, stream, (guint64)s->len,
				    (guint32)WIRE_CHUNK));
		for (m = NULL; !m;) {
			m = wait_for_ms(t, match_want, &w1, 0);
			if (!m)
				m = wait_for_ms(t, match_want, &w2, 0);
			if (!m)
				g_assert_true(receive(t, WAIT_MS) && !t->eof);
		}
		if (m->type == WIRE_REPLY) {
			g_variant_get(m->body, "(i&s)", err, NULL);
			msg_free(m);
			break;
		}
		p = wire_msg_bytes(m, &len);
		g_string_append_len(s, (const char *)p, len);
		msg_free(m);
		if (len == 0)
			break;
	}
	return g_string_free(s, FALSE);
}

/* Run a line to its end; its stdout. */
static char *
run(struct tnode *t, guint vm, const char *line, guint want_state,
    const char *want_detail)
{
	guint32 id = call(t, vm, line);
	g_auto(End) e = { 0 };
	int err;
	char *out;

	wait_end(t, vm, id, &e);
	if (e.state != want_state ||
	    (want_detail && strcmp(e.detail, want_detail) != 0))
		g_error("\"%s\": %s \"%s\", wanted %s \"%s\"", line,
			wire_call_state_name(e.state), e.detail,
			wire_call_state_name(want_state),
			want_detail ? want_detail : "(any)");
	out = read_stream(t, vm, id, WIRE_STDOUT, &err);
	g_assert_cmpint(err, ==, 0);
	return out;
}

static int
inject_err(struct tnode *t, guint vm, const char *path, const char *name,
	   guint32 mode, char **why)
{
	g_autofree char *data = NULL;
	g_autofree char *msg = NULL;
	g_autoptr(GError) error = NULL;
	guint32 tag = ++t->tag;
	struct wire_msg *m;
	gsize len, off;
	int err;

	g_assert_true(g_file_get_contents(path, &data, &len, &error));
	tsend(t, WIRE_INJECT_BEGIN, vm, tag, g_variant_new("(su)", name,
							   mode));
	for (off = 0; off < len; off += WIRE_CHUNK) {
		g_autoptr(GByteArray) f = g_byte_array_new();

		wire_encode_bytes(f, WIRE_INJECT_DATA, vm, tag, data + off,
				  MIN(len - off, (gsize)WIRE_CHUNK));
		g_assert_cmpint(write(t->to, f->data, f->len), ==, f->len);
	}
	tsend(t, WIRE_INJECT_END, vm, tag, NULL);
	m = wait_type(t, WIRE_REPLY, vm, tag);
	g_variant_get(m->body, "(is)", &err, why);
	msg_free(m);
	return err;
}

static void
inject(struct tnode *t, guint vm, const char *path, const char *name,
       guint32 mode)
{
	g_autofree char *why = NULL;

	g_assert_cmpint(inject_err(t, vm, path, name, mode, &why), ==, 0);
}

/* CACHE_PUT of data as sum: the node's REPLY. */
static int
cache_put(struct tnode *t, const char *sum, const char *data, gsize len,
	  char **why)
{
	guint32 tag = ++t->tag;
	g_autoptr(GByteArray) f = g_byte_array_new();
	struct wire_msg *m;
	gsize off;
	int err;

	tsend(t, WIRE_CACHE_PUT, 0, tag, g_variant_new("(st)", sum,
						       (guint64)len));
	for (off = 0; off < len; off += WIRE_CHUNK)
		wire_encode_bytes(f, WIRE_INJECT_DATA, 0, tag, data + off,
				  MIN(len - off, (gsize)WIRE_CHUNK));
	g_assert_cmpint(write(t->to, f->data, f->len), ==, f->len);
	tsend(t, WIRE_INJECT_END, 0, tag, NULL);
	m = wait_type(t, WIRE_REPLY, 0, tag);
	g_variant_get(m->body, "(is)", &err, why);
	msg_free(m);
	return err;
}

/* Protocol 5: a file goes once into the node's cache, checked against
 * its SHA-256, and each VM installs it from there. */
static void
test_cache(void)
{
	struct tnode *t = node_start(2);
	g_autoptr(GError) error = NULL;
	g_autofree char *data = NULL, *sum = NULL, *why = NULL;
	g_autofree char *entry = NULL;
	g_autofree char *wrong = g_strnfill(WIRE_SHA256_HEX, 'a');
	GStatBuf st;
	gsize len;
	guint vm;

	g_assert_true(g_file_get_contents(env_path("BASIC_SO"), &data, &len,
					  &error));
	sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256,
					  (const guchar *)data, len);
	g_assert_cmpint(request(t, WIRE_CACHE_HAVE, 0,
				g_variant_new_string(sum), NULL), ==, ENOENT);
	g_assert_cmpint(request(t, WIRE_CACHE_HAVE, 0,
				g_variant_new_string("../x"), NULL), ==, EINVAL);
	/* Not installed from a cache that lacks it. */
	g_assert_cmpint(request(t, WIRE_INJECT_CACHED, 1,
				g_variant_new("(ssu)", "basic.so", sum, 0644),
				NULL), ==, ESTALE);
	/* Bytes that do not have the sum they are sent as are refused. */
	g_assert_cmpint(cache_put(t, wrong, data, len, &why), ==, EBADMSG);
	g_clear_pointer(&why, g_free);
	g_assert_cmpint(request(t, WIRE_CACHE_HAVE, 0,
				g_variant_new_string(wrong), NULL), ==, ENOENT);
	g_assert_cmpint(cache_put(t, sum, data, len, &why), ==, 0);
	g_assert_cmpint(request(t, WIRE_CACHE_HAVE, 0,
				g_variant_new_string(sum), NULL), ==, 0);
	for (vm = 0; vm < 2; vm++) {
		g_assert_cmpint(request(t, WIRE_INJECT_CACHED, vm,
					g_variant_new("(ssu)", "basic.so",
						      sum, 0644), NULL), ==, 0);
		g_autofree char *out = run(t, vm, "foo 10", CALL_DONE, NULL);

		g_assert_cmpstr(out, ==, "20\n");
	}
	/* One inode: the cache's entry, linked into both VMs. */
	entry = g_build_filename(t->dir, "cache", "sha256", sum, NULL);
	g_assert_cmpint(g_stat(entry, &st), ==, 0);
	g_assert_cmpint(st.st_nlink, ==, 3);
	node_stop(t);
}

/* FUNCS: name -> "origin: doc", and "sha256 NAME" -> the checksum,
 * "shadows NAME" -> what it hides (keys no function name can be). */
static GHashTable *
funcs_table(const struct wire_msg *m)
{
	GHashTable *h = g_hash_table_new_full(g_str_hash, g_str_equal,
					      g_free, g_free);
	GVariantIter it;
	const char *name, *origin, *doc, *sum, *shadows;

	g_variant_iter_init(&it, m->body);
	while (g_variant_iter_next(&it, "(&s&s&s&s&s)", &name, &origin, &doc,
				   &sum, &shadows)) {
		g_hash_table_insert(h, g_strdup(name),
				    g_strdup_printf("%s: %s", origin, doc));
		g_hash_table_insert(h, g_strdup_printf("sha256 %s", name),
				    g_strdup(sum));
		g_hash_table_insert(h, g_strdup_printf("shadows %s", name),
				    g_strdup(shadows));
	}
	return h;
}

struct func_want {
	guint vm;
	const char *name;
	const char *origin;		/* NULL: the name is absent */
};

static gboolean
match_funcs(const struct wire_msg *m, gconstpointer data)
{
	const struct func_want *w = data;
	g_autoptr(GHashTable) h = NULL;
	const char *v;

	if (m->type != WIRE_FUNCS || m->vm != w->vm)
		return FALSE;
	h = funcs_table(m);
	v = g_hash_table_lookup(h, w->name);
	if (!w->origin)
		return v == NULL;
	return v && g_str_has_prefix(v, w->origin) &&
	       v[strlen(w->origin)] == ':';
}

/* The FUNCS in which name comes from origin (NULL: is absent). */
static GHashTable *
wait_funcs(struct tnode *t, guint vm, const char *name, const char *origin)
{
	struct func_want w = { vm, name, origin };
	struct wire_msg *m = wait_for(t, match_funcs, &w);
	GHashTable *h = funcs_table(m);

	msg_free(m);
	return h;
}

/* OBJECTS as "id class desc;..." */
static char *
objects_text(const struct wire_msg *m)
{
	GString *s = g_string_new(NULL);
	GVariantIter it;
	const char *cls, *desc;
	guint32 id;

	g_variant_iter_init(&it, m->body);
	while (g_variant_iter_next(&it, "(u&s&s)", &id, &cls, &desc))
		g_string_append_printf(s, "%u %s %s;", id, cls, desc);
	return g_string_free(s, FALSE);
}

static gboolean
match_objects(const struct wire_msg *m, gconstpointer data)
{
	g_autofree char *text = NULL;

	if (m->type != WIRE_OBJECTS)
		return FALSE;
	text = objects_text(m);
	return strcmp(text, data) == 0;
}

static void
wait_objects(struct tnode *t, const char *want)
{
	struct wire_msg *m = wait_for_ms(t, match_objects, want, WAIT_MS);
	GList *l;

	if (!m) {
		for (l = t->got; l; l = l->next)
			if (((struct wire_msg *)l->data)->type == WIRE_OBJECTS)
				g_printerr("got OBJECTS %s\n", objects_text(
					l->data));
		g_error("no OBJECTS \"%s\"", want);
	}
	msg_free(m);
}

static GHashTable *
info(struct tnode *t, guint vm)
{
	guint32 tag = ++t->tag;
	struct wire_msg *m;
	GHashTable *h = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					      g_free);
	g_auto(GStrv) lines = NULL;

	tsend(t, WIRE_INFO, vm, tag, NULL);
	m = wait_type(t, WIRE_TEXT, vm, tag);
	lines = g_strsplit(g_variant_get_string(m->body, NULL), "\n", -1);
	for (char **l = lines; *l && **l; l++) {
		char *colon = strstr(*l, ": ");

		g_assert_nonnull(colon);
		g_hash_table_insert(h, g_strndup(*l, colon - *l),
				    g_strdup(colon + 2));
	}
	msg_free(m);
	return h;
}

/* Tests. */

static void
test_hello(void)
{
	struct tnode *t = node_start(2);
	guint vm;

	for (vm = 0; vm < 2; vm++) {
		g_autoptr(GHashTable) f = wait_funcs(t, vm, "echo",
						     "built-in");
		struct wire_msg *m;
		guint8 st;

		g_assert_true(g_str_has_prefix(g_hash_table_lookup(f, "echo"),
					       "built-in: echo ARG"));
		g_assert_true(g_hash_table_contains(f, "sleep"));
		g_assert_true(g_hash_table_contains(f, "exec"));
		g_assert_true(g_hash_table_contains(f, "setenv"));
		g_assert_cmpuint(g_hash_table_size(f), ==, 4 * 3);	/* name, sha256, shadows */
		m = wait_type_any(t, WIRE_VM_STATE, vm);
		g_variant_get(m->body, "(yu&s)", &st, NULL, NULL);
		g_assert_cmpuint(st, ==, VM_UP);
		msg_free(m);
	}
	node_stop(t);
}

/* A session of more VMs than the node holds, or of a protocol it does not
 * speak, is refused with a REPLY that says why, and leaves no directory. */
static void
refused_attach(guint32 version, guint32 nvms, const char *want_msg,
	       int want_err)
{
	struct tnode t = { 0 };
	g_autoptr(GError) error = NULL;
	g_autofree char *dirarg = NULL;
	g_autoptr(GDir) d = NULL;
	struct wire_msg *m;
	const char *msg;
	char *argv[3];
	int err, status;

	t.dir = g_dir_make_tmp("test-node-XXXXXX", &error);
	g_assert_no_error(error);
	dirarg = g_strdup_printf("--dir=%s", t.dir);
	argv[0] = (char *)env_path("TRICKLE_NODE");
	argv[1] = dirarg;
	argv[2] = NULL;
	g_assert_true(g_spawn_async_with_pipes(NULL, argv, NULL,
		G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &t.pid, &t.to,
		&t.from, NULL, &error));
	g_assert_no_error(error);
	wire_decoder_init(&t.dec);
	tsend(&t, WIRE_ATTACH, 0, 0, g_variant_new("(uusu)", version, nvms,
		"0123456789abcdef0123456789abcdef", 60));
	m = wait_type(&t, WIRE_REPLY, 0, 0);
	g_variant_get(m->body, "(i&s)", &err, &msg);
	g_assert_cmpstr(msg, ==, want_msg);
	g_assert_cmpint(err, ==, want_err);
	msg_free(m);
	/* It ends, and nothing of the session is on disk (the cache of
	 * injected files, shared by the user's sessions, is not one). */
	while (!t.eof)
		g_assert_true(receive(&t, WAIT_MS) || t.eof);
	g_assert_cmpint(waitpid(t.pid, &status, 0), ==, t.pid);
	d = g_dir_open(t.dir, 0, &error);
	g_assert_no_error(error);
	g_assert_null(session_entry(d));
	remove_cache(t.dir);
	g_assert_cmpint(g_rmdir(t.dir), ==, 0);
	close(t.to);
	close(t.from);
	wire_decoder_clear(&t.dec);
	g_list_free_full(t.got, (GDestroyNotify)msg_free);
	g_free(t.dir);
}

static void
test_refuse(void)
{
	g_autofree char *proto = g_strdup_printf(
		"node speaks protocol %u (trickle-node %s), the mount %u",
		WIRE_PROTO_VERSION, TRICKLE_VERSION, WIRE_PROTO_VERSION + 1);

	refused_attach(WIRE_PROTO_VERSION, 1025,
		       "node refuses 1025 VMs: at most 1024", EUSERS);
	refused_attach(WIRE_PROTO_VERSION + 1, 2, proto, EPROTO);
}

static void
test_builtins(void)
{
	struct tnode *t = node_start(1);
	g_autofree char *o1 = NULL, *o2 = NULL, *o3 = NULL, *o4 = NULL;
	g_autofree char *o5 = NULL, *o6 = NULL, *o7 = NULL, *o8 = NULL;
	g_autofree char *o9 = NULL;
	const char *spaced[] = { "echo", "a  b", "", "c", NULL };
	g_auto(End) e = { 0 };
	guint32 id;
	gint64 t0;
	int err;

	o1 = run(t, 0, "echo hello world", CALL_DONE, "");
	g_assert_cmpstr(o1, ==, "hello world\n");
	o2 = run(t, 0, "echo", CALL_DONE, "");
	g_assert_cmpstr(o2, ==, "\n");
	id = call_argv(t, 0, spaced);
	wait_end(t, 0, id, &e);
	o3 = read_stream(t, 0, id, WIRE_STDOUT, &err);
	g_assert_cmpstr(o3, ==, "a  b  c\n");

	t0 = g_get_monotonic_time();
	o4 = run(t, 0, "sleep 0.3", CALL_DONE, "");
	g_assert_cmpint(g_get_monotonic_time() - t0, >=, 290000);
	g_free(run(t, 0, "sleep x", CALL_FAILED, "exit 2"));
	g_free(run(t, 0, "sleep", CALL_FAILED, "exit 2"));

	o5 = run(t, 0, "exec printf %s-%s a b", CALL_DONE, "");
	g_assert_cmpstr(o5, ==, "a-b");
	o6 = run(t, 0, "exec sh -c 'exit 3'", CALL_FAILED, NULL);
	g_free(run(t, 0, "exec false", CALL_FAILED, "exit 1"));
	o7 = run(t, 0, "exec no-such-program-here", CALL_FAILED, "exit 127");
	o8 = run(t, 0, "exec sh -c 'kill -9 $$'", CALL_FAILED,
		 "signal 9 (SIGKILL)");
	g_free(run(t, 0, "exec", CALL_FAILED, "exit 2"));
	/* stderr of a program is the call's */
	id = call(t, 0, "exec ls /no/such/dir");
	wait_end(t, 0, id, &e);
	o9 = read_stream(t, 0, id, WIRE_STDERR, &err);
	g_assert_nonnull(strstr(o9, "/no/such/dir"));
	g_free(run(t, 0, "nosuchfunction", CALL_FAILED,
		   "function not found: nosuchfunction"));
	node_stop(t);
}

static void
test_setenv(void)
{
	struct tnode *t = node_start(2);
	g_autofree char *o1 = NULL, *o2 = NULL, *o3 = NULL, *o4 = NULL;
	g_autoptr(GHashTable) i = NULL;

	g_free(run(t, 0, "setenv TFS_A one two", CALL_DONE, ""));
	g_free(run(t, 0, "setenv TFS_B x", CALL_DONE, ""));
	g_free(run(t, 0, "setenv TFS_B y", CALL_DONE, ""));
	g_free(run(t, 0, "setenv 1bad x", CALL_FAILED, "exit 2"));
	o1 = run(t, 0, "exec printenv TFS_A", CALL_DONE, "");
	g_assert_cmpstr(o1, ==, "one two\n");
	/* Only that VM. */
	g_free(run(t, 1, "exec printenv TFS_A", CALL_FAILED, "exit 1"));

	g_assert_cmpint(request(t, WIRE_RESTART, 0, NULL, NULL), ==, 0);
	o2 = run(t, 0, "exec printenv TFS_A", CALL_DONE, "");
	g_assert_cmpstr(o2, ==, "one two\n");
	o3 = run(t, 0, "exec printenv TFS_B", CALL_DONE, "");
	g_assert_cmpstr(o3, ==, "y\n");
	i = info(t, 0);
	g_assert_cmpstr(g_hash_table_lookup(i, "restarts"), ==, "1");

	/* A failed setenv is not recorded; the variable a call set for
	 * itself does not stay. */
	g_free(run(t, 0, "TFS_C=1 setenv TFS_D 2", CALL_DONE, ""));
	g_free(run(t, 0, "exec printenv TFS_C", CALL_FAILED, "exit 1"));
	o4 = run(t, 0, "exec printenv TFS_D", CALL_DONE, "");
	g_assert_cmpstr(o4, ==, "2\n");
	/* "NAME=x setenv NAME y" leaves y. */
	g_free(run(t, 0, "TFS_E=x setenv TFS_E y", CALL_DONE, ""));
	g_free(o4);
	o4 = run(t, 0, "exec printenv TFS_E", CALL_DONE, "");
	g_assert_cmpstr(o4, ==, "y\n");
	node_stop(t);
}

static void
test_call_env(void)
{
	struct tnode *t = node_start(1);
	g_autofree char *o1 = NULL, *o2 = NULL, *o3 = NULL, *o4 = NULL;
	g_autofree char *o5 = NULL, *o6 = NULL;

	o1 = run(t, 0, "FOO=1 exec printenv FOO", CALL_DONE, "");
	g_assert_cmpstr(o1, ==, "1\n");
	g_free(run(t, 0, "exec printenv FOO", CALL_FAILED, "exit 1"));
	o2 = run(t, 0, "FOO=1 BAR=a=b exec printenv BAR", CALL_DONE, "");
	g_assert_cmpstr(o2, ==, "a=b\n");
	/* Not an assignment: the call's name. */
	g_free(run(t, 0, "1X=2 echo", CALL_FAILED,
		   "function not found: 1X=2"));
	/* Only leading words. */
	o3 = run(t, 0, "echo FOO=1", CALL_DONE, "");
	g_assert_cmpstr(o3, ==, "FOO=1\n");
	g_free(run(t, 0, "FOO=1", CALL_FAILED, "empty call"));

	/* In-process functions see it for the call, then it is restored. */
	inject(t, 0, env_path("TESTMOD_SO"), "testmod.so", 0644);
	o4 = run(t, 0, "TFS_X=set showenv TFS_X", CALL_DONE, "");
	g_assert_cmpstr(o4, ==, "set\n");
	o5 = run(t, 0, "showenv TFS_X", CALL_DONE, "");
	g_assert_cmpstr(o5, ==, "unset\n");
	g_free(run(t, 0, "setenv TFS_Y old", CALL_DONE, ""));
	g_free(run(t, 0, "TFS_Y=new showenv TFS_Y", CALL_DONE, ""));
	o6 = run(t, 0, "showenv TFS_Y", CALL_DONE, "");
	g_assert_cmpstr(o6, ==, "old\n");
	node_stop(t);
}

static void
test_options(void)
{
	struct tnode *t = node_start(1);
	g_autofree char *o1 = NULL;
	gint64 t0;

	t0 = g_get_monotonic_time();
	g_free(run(t, 0, "TRICKLE_TIMEOUT=0.5 sleep 20", CALL_FAILED,
		   "timeout"));
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 4 * G_USEC_PER_SEC);
	o1 = run(t, 0, "TRICKLE_TIMEOUT=5 echo in time", CALL_DONE, "");
	g_assert_cmpstr(o1, ==, "in time\n");
	/* A program run by the call is stopped too. */
	t0 = g_get_monotonic_time();
	g_free(run(t, 0, "TRICKLE_TIMEOUT=0.3 exec sleep 20", CALL_FAILED,
		   "timeout"));
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 4 * G_USEC_PER_SEC);
	g_free(run(t, 0, "TRICKLE_TIMEOUT=0 echo", CALL_DONE, ""));
	g_free(run(t, 0, "TRICKLE_BOGUS=1 echo", CALL_FAILED,
		   "unknown call option TRICKLE_BOGUS"));
	g_free(run(t, 0, "A=1 TRICKLE_X=1 echo", CALL_FAILED,
		   "unknown call option TRICKLE_X"));
	g_free(run(t, 0, "TRICKLE_TIMEOUT=soon echo", CALL_FAILED,
		   "bad call option TRICKLE_TIMEOUT=soon (seconds wanted)"));
	g_free(run(t, 0, "echo still up", CALL_DONE, ""));
	node_stop(t);
}

static void
test_cancel(void)
{
	struct tnode *t = node_start(1);
	g_auto(End) e1 = { 0 };
	g_auto(End) e2 = { 0 };
	g_auto(End) e3 = { 0 };
	g_autofree char *o = NULL;
	struct state_want running = { 0, 0, FALSE, CALL_RUNNING, 0 };
	guint32 a, b, c;
	gint64 t0;
	char *msg = NULL;

	a = call(t, 0, "sleep 30");
	b = call(t, 0, "echo queued");
	running.id = a;
	msg_free(wait_for(t, match_state, &running));

	/* Queued: removed. */
	g_assert_cmpint(request(t, WIRE_CANCEL, 0, g_variant_new_uint32(b),
				NULL), ==, 0);
	wait_end(t, 0, b, &e2);
	g_assert_cmpuint(e2.state, ==, CALL_CANCELLED);

	/* Running: its state is out before the REPLY. */
	t0 = g_get_monotonic_time();
	g_assert_cmpint(request(t, WIRE_CANCEL, 0, g_variant_new_uint32(a),
				NULL), ==, 0);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 3 * G_USEC_PER_SEC);
	{
		struct state_want w = { 0, a, TRUE, 0, 0 };
		struct wire_msg *m = wait_for_ms(t, match_state, &w, 0);

		g_assert_nonnull(m);
		msg_free(m);
	}
	g_assert_cmpint(request(t, WIRE_CANCEL, 0, g_variant_new_uint32(a),
				&msg), ==, EALREADY);
	g_free(msg);
	g_assert_cmpint(request(t, WIRE_CANCEL, 0,
				g_variant_new_uint32(999), &msg), ==, ENOENT);
	g_free(msg);
	o = run(t, 0, "echo after", CALL_DONE, "");
	g_assert_cmpstr(o, ==, "after\n");

	/* A program, and a function that ignores SIGTERM: killed after
	 * the grace period. */
	c = call(t, 0, "exec sleep 30");
	running.id = c;
	msg_free(wait_for(t, match_state, &running));
	g_assert_cmpint(request(t, WIRE_CANCEL, 0, g_variant_new_uint32(c),
				NULL), ==, 0);
	wait_end(t, 0, c, &e1);
	g_assert_cmpuint(e1.state, ==, CALL_CANCELLED);

	inject(t, 0, env_path("TESTMOD_SO"), "testmod.so", 0644);
	c = call(t, 0, "stubborn 30");
	running.id = c;
	running.min_out = 1;		/* it has ignored SIGTERM */
	msg_free(wait_for(t, match_state, &running));
	t0 = g_get_monotonic_time();
	g_assert_cmpint(request(t, WIRE_CANCEL, 0, g_variant_new_uint32(c),
				NULL), ==, 0);
	g_assert_cmpint(g_get_monotonic_time() - t0, >=, 1900000);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC);
	wait_end(t, 0, c, &e3);
	g_assert_cmpuint(e3.state, ==, CALL_CANCELLED);
	g_free(run(t, 0, "echo fine", CALL_DONE, ""));
	node_stop(t);
}

static void
test_restart(void)
{
	struct tnode *t = node_start(1);
	g_auto(End) e1 = { 0 };
	g_auto(End) e2 = { 0 };
	g_autoptr(GHashTable) i = NULL;
	struct state_want running = { 0, 0, FALSE, CALL_RUNNING, 0 };
	guint32 a, b, pid0;

	inject(t, 0, env_path("BASIC_SO"), "basic.so", 0644);
	g_free(run(t, 0, "counter", CALL_DONE, ""));
	g_free(run(t, 0, "counter", CALL_DONE, ""));
	pid0 = t->pid_reported[0];
	a = call(t, 0, "sleep 30");
	b = call(t, 0, "counter");
	running.id = a;
	msg_free(wait_for(t, match_state, &running));
	g_assert_cmpint(request(t, WIRE_RESTART, 0, NULL, NULL), ==, 0);
	wait_end(t, 0, a, &e1);
	g_assert_cmpuint(e1.state, ==, CALL_FAILED);
	g_assert_cmpstr(e1.detail, ==, "restarted");
	/* The queued call waited for the fresh VM: its counter starts
	 * over. */
	wait_end(t, 0, b, &e2);
	g_assert_cmpuint(e2.state, ==, CALL_DONE);
	{
		int err;
		g_autofree char *o = read_stream(t, 0, b, WIRE_STDOUT, &err);

		g_assert_cmpstr(o, ==, "1\n");
	}
	g_assert_cmpuint(t->pid_reported[0], !=, pid0);
	/* Idle: restarts too. */
	g_assert_cmpint(request(t, WIRE_RESTART, 0, NULL, NULL), ==, 0);
	i = info(t, 0);
	g_assert_cmpstr(g_hash_table_lookup(i, "restarts"), ==, "2");
	g_free(run(t, 0, "counter", CALL_DONE, ""));
	node_stop(t);
}

static void
test_forget(void)
{
	struct tnode *t = node_start(1);
	struct state_want running = { 0, 0, FALSE, CALL_RUNNING, 0 };
	g_autofree char *calldir = NULL, *ended = NULL, *log = NULL;
	g_autofree char *place = NULL, *forgotten = NULL;
	g_autofree char *o = NULL;
	g_autoptr(GDir) d = NULL;
	g_auto(End) e = { 0 };
	const char *session;
	char *msg = NULL;
	guint32 a, b;
	int err;

	a = call(t, 0, "echo x");
	wait_end(t, 0, a, &e);
	b = call(t, 0, "sleep 30");
	running.id = b;
	msg_free(wait_for(t, match_state, &running));
	g_assert_cmpint(request(t, WIRE_FORGET, 0, g_variant_new_uint32(b),
				&msg), ==, EBUSY);
	g_free(msg);

	d = g_dir_open(t->dir, 0, NULL);
	session = session_entry(d);
	g_assert_nonnull(session);
	/* A small call has no directory on the node: its output is in
	 * vm0/store, its place logged in vm0/ended (node/vm/callstore.c);
	 * forgotten, that is logged too. */
	calldir = g_strdup_printf("%s/%s/vm0/calls/%u", t->dir, session, a);
	g_assert_false(g_file_test(calldir, G_FILE_TEST_EXISTS));
	ended = g_strdup_printf("%s/%s/vm0/ended", t->dir, session);
	g_assert_true(g_file_get_contents(ended, &log, NULL, NULL));
	place = g_strdup_printf("%u @ 0 2 0\n", a);
	g_assert_nonnull(strstr(log, place));
	g_clear_pointer(&log, g_free);
	g_assert_cmpint(request(t, WIRE_FORGET, 0, g_variant_new_uint32(a),
				NULL), ==, 0);
	g_assert_true(g_file_get_contents(ended, &log, NULL, NULL));
	forgotten = g_strdup_printf("%u 0 0 forgotten\n", a);
	g_assert_nonnull(strstr(log, forgotten));
	g_assert_cmpint(request(t, WIRE_FORGET, 0, g_variant_new_uint32(a),
				&msg), ==, ENOENT);
	g_free(msg);
	o = read_stream(t, 0, a, WIRE_STDOUT, &err);
	g_assert_cmpint(err, ==, ENOENT);
	g_assert_cmpint(request(t, WIRE_CANCEL, 0, g_variant_new_uint32(b),
				NULL), ==, 0);
	g_assert_cmpint(request(t, WIRE_FORGET, 0, g_variant_new_uint32(b),
				NULL), ==, 0);
	node_stop(t);
}

static void
test_info(void)
{
	struct tnode *t = node_start(2);
	g_autoptr(GHashTable) i = NULL;
	g_autofree char *pid = NULL;
	static const char *const keys[] = {
		"host", "cores", "loadavg", "memory total", "memory available",
		"node uptime", "node version", "vm", "worker pid",
		"vm uptime", "calls queued", "calls running", "restarts",
	};
	struct state_want running = { 1, 0, FALSE, CALL_RUNNING, 0 };
	g_auto(GStrv) load = NULL;

	running.id = call(t, 1, "sleep 30");
	call(t, 1, "echo");
	call(t, 1, "echo");
	msg_free(wait_for(t, match_state, &running));
	i = info(t, 1);
	for (guint k = 0; k < G_N_ELEMENTS(keys); k++)
		if (!g_hash_table_contains(i, keys[k]))
			g_error("INFO has no \"%s\"", keys[k]);
	g_assert_cmpstr(g_hash_table_lookup(i, "vm"), ==, "1");
	pid = g_strdup_printf("%u", t->pid_reported[1]);
	g_assert_cmpstr(g_hash_table_lookup(i, "worker pid"), ==, pid);
	g_assert_cmpstr(g_hash_table_lookup(i, "calls queued"), ==, "2");
	g_assert_cmpstr(g_hash_table_lookup(i, "calls running"), ==, "1");
	g_assert_cmpstr(g_hash_table_lookup(i, "restarts"), ==, "0");
	load = g_strsplit(g_hash_table_lookup(i, "loadavg"), " ", -1);
	g_assert_cmpuint(g_strv_length(load), ==, 3);
	g_assert_true(g_str_has_suffix(g_hash_table_lookup(i, "memory total"),
				       " MiB"));
	g_assert_true(g_str_has_prefix(g_hash_table_lookup(i, "node version"),
				       TRICKLE_VERSION));
	node_stop(t);
}

static void
test_funcs(void)
{
	struct tnode *t = node_start(1);
	g_autoptr(GHashTable) f1 = NULL, f2 = NULL, f3 = NULL, f4 = NULL;
	g_autofree char *o1 = NULL, *o2 = NULL, *o3 = NULL, *o4 = NULL;
	g_autofree char *script = NULL;

	g_hash_table_unref(wait_funcs(t, 0, "echo", "built-in"));
	inject(t, 0, env_path("BASIC_SO"), "basic.so", 0644);
	f1 = wait_funcs(t, 0, "foo", "basic.so");
	g_assert_cmpstr(g_hash_table_lookup(f1, "foo"), ==,
			"basic.so: foo N: twice N");
	g_assert_cmpstr(g_hash_table_lookup(f1, "counter"), ==, "basic.so: ");
	g_assert_cmpstr(g_hash_table_lookup(f1, "bulk"), ==, "basic.so: ");
	g_assert_false(g_hash_table_contains(f1, "trickle_doc_foo"));
	g_assert_false(g_hash_table_contains(f1, "_init"));
	g_assert_false(g_hash_table_contains(f1, "printf"));
	g_assert_true(g_hash_table_contains(f1, "echo"));
	o1 = run(t, 0, "foo 21", CALL_DONE, "");
	g_assert_cmpstr(o1, ==, "42\n");
	g_free(run(t, 0, "trickle_doc_foo", CALL_FAILED,
		   "function not found: trickle_doc_foo"));

	/* An injected function hides the built-in of its name. */
	inject(t, 0, env_path("TESTMOD_SO"), "testmod.so", 0644);
	f2 = wait_funcs(t, 0, "echo", "testmod.so");
	g_assert_false(g_hash_table_contains(f2, "hidden_fn"));
	g_assert_false(g_hash_table_contains(f2, "_private"));
	g_assert_cmpstr(g_hash_table_lookup(f2, "showenv"), ==,
			"testmod.so: showenv NAME: the value of NAME, or "
			"\"unset\"");
	o2 = run(t, 0, "echo a b", CALL_DONE, "");
	g_assert_cmpstr(o2, ==, "testmod echo 2\n");
	/* ... says so, with the checksum of the file it comes from. */
	g_assert_cmpstr(g_hash_table_lookup(f2, "shadows echo"), ==,
			"built-in");
	g_assert_cmpstr(g_hash_table_lookup(f2, "shadows showenv"), ==, "");
	g_assert_cmpstr(g_hash_table_lookup(f2, "sha256 echo"), ==,
			g_hash_table_lookup(f2, "sha256 showenv"));
	{
		g_autofree char *bytes = NULL, *sum = NULL;
		gsize blen;

		g_assert_true(g_file_get_contents(env_path("TESTMOD_SO"),
						  &bytes, &blen, NULL));
		sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256,
						  (const guchar *)bytes, blen);
		g_assert_cmpstr(g_hash_table_lookup(f2, "sha256 echo"), ==,
				sum);
	}
	g_assert_cmpstr(g_hash_table_lookup(f2, "sha256 printf"), ==, NULL);
	g_assert_cmpint(request(t, WIRE_UNINJECT, 0,
				g_variant_new_string("testmod.so"), NULL),
			==, 0);
	f3 = wait_funcs(t, 0, "showenv", NULL);
	g_assert_true(g_str_has_prefix(g_hash_table_lookup(f3, "echo"),
				       "built-in: "));
	o3 = run(t, 0, "echo a b", CALL_DONE, "");
	g_assert_cmpstr(o3, ==, "a b\n");

	/* A program. */
	script = g_build_filename(t->dir, "hello-src", NULL);
	g_assert_true(g_file_set_contents(script,
		"#!/bin/sh\necho \"hello $*\"\n", -1, NULL));
	/* Without +x: EACCES, and the reason. */
	{
		g_autofree char *why = NULL;

		g_assert_cmpint(inject_err(t, 0, script, "hello", 0644, &why),
				==, EACCES);
		g_assert_nonnull(strstr(why, "chmod +x"));
	}
	inject(t, 0, script, "hello", 0755);
	f4 = wait_funcs(t, 0, "hello", "program");
	o4 = run(t, 0, "hello you", CALL_DONE, "");
	g_assert_cmpstr(o4, ==, "hello you\n");
	g_unlink(script);
	node_stop(t);
}

static void
test_objects(void)
{
	struct tnode *t = node_start(1);
	g_autoptr(GHashTable) f = NULL;
	g_autofree char *o1 = NULL, *o2 = NULL, *o3 = NULL, *o4 = NULL;
	g_autofree char *o5 = NULL, *o6 = NULL;
	char *msg = NULL;

	inject(t, 0, env_path("STACK_SO"), "stack.so", 0644);
	f = wait_funcs(t, 0, "stack_new", "stack.so");
	g_assert_cmpstr(g_hash_table_lookup(f, "pop"), ==,
			"stack.so: pop @ID: take the top item off the Stack "
			"and print it");
	o1 = run(t, 0, "stack_new", CALL_DONE, "");
	g_assert_cmpstr(o1, ==, "@1\n");
	/* Listed by the time the call is seen to end. */
	{
		struct wire_msg *m = wait_for_ms(t, match_objects,
						 "1 Stack [];", 0);
		g_assert_nonnull(m);
		msg_free(m);
	}
	g_free(run(t, 0, "push @1 a b c", CALL_DONE, ""));
	wait_objects(t, "1 Stack [a b c];");
	o2 = run(t, 0, "pop @1", CALL_DONE, "");
	g_assert_cmpstr(o2, ==, "c\n");
	wait_objects(t, "1 Stack [a b];");
	o3 = run(t, 0, "peek @1", CALL_DONE, "");
	g_assert_cmpstr(o3, ==, "b\n");
	o4 = run(t, 0, "size @1", CALL_DONE, "");
	g_assert_cmpstr(o4, ==, "2\n");
	o5 = run(t, 0, "stack_new x", CALL_DONE, "");
	g_assert_cmpstr(o5, ==, "@2\n");
	wait_objects(t, "1 Stack [a b];2 Stack [x];");
	g_free(run(t, 0, "pop @9", CALL_FAILED, "exit 2"));
	g_free(run(t, 0, "pop @2", CALL_DONE, ""));
	g_free(run(t, 0, "pop @2", CALL_FAILED, "exit 1"));

	g_assert_cmpint(request(t, WIRE_OBJ_DESTROY, 0,
				g_variant_new_uint32(1), NULL), ==, 0);
	{
		struct wire_msg *m = wait_for_ms(t, match_objects,
						 "2 Stack [];", 0);
		g_assert_nonnull(m);
		msg_free(m);
	}
	g_assert_cmpint(request(t, WIRE_OBJ_DESTROY, 0,
				g_variant_new_uint32(1), &msg), ==, ENOENT);
	g_free(msg);
	g_free(run(t, 0, "pop @1", CALL_FAILED, "exit 2"));

	/* Objects die with the worker; ids are not used again. */
	g_assert_cmpint(request(t, WIRE_RESTART, 0, NULL, NULL), ==, 0);
	wait_objects(t, "");
	g_free(run(t, 0, "size @2", CALL_FAILED, "exit 2"));
	o6 = run(t, 0, "stack_new", CALL_DONE, "");
	g_assert_cmpstr(o6, ==, "@3\n");
	wait_objects(t, "3 Stack [];");
	node_stop(t);
}

static void
test_live_output(void)
{
	struct tnode *t = node_start(1);
	struct state_want grown = { 0, 0, FALSE, CALL_RUNNING, 1 };
	g_auto(End) e = { 0 };
	g_autofree char *o1 = NULL, *o2 = NULL;
	struct wire_msg *m;
	gint64 t0;
	int err;

	inject(t, 0, env_path("TESTMOD_SO"), "testmod.so", 0644);
	/* A function's buffered stdio reaches the file while it runs. */
	t0 = g_get_monotonic_time();
	grown.id = call(t, 0, "bufwrite 3");
	m = wait_for_ms(t, match_state, &grown, 2500);
	g_assert_nonnull(m);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 2500000);
	msg_free(m);
	o1 = read_stream(t, 0, grown.id, WIRE_STDOUT, &err);
	g_assert_cmpstr(o1, ==, "partial output\n");
	wait_end(t, 0, grown.id, &e);
	g_assert_cmpuint(e.state, ==, CALL_DONE);
	g_assert_cmpuint(e.out, ==, strlen("partial output\ndone\n"));

	/* And a program's output. */
	t0 = g_get_monotonic_time();
	grown.id = call(t, 0, "exec sh -c 'echo hi; sleep 3'");
	m = wait_for_ms(t, match_state, &grown, 2500);
	g_assert_nonnull(m);
	msg_free(m);
	o2 = read_stream(t, 0, grown.id, WIRE_STDOUT, &err);
	g_assert_cmpstr(o2, ==, "hi\n");
	node_stop(t);
}

/* elfsyms.c on a real object, then on broken copies of it. */
static void
test_elfsyms(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *data = NULL;
	g_autofree char *tmp = NULL;
	g_autoptr(GPtrArray) fs = NULL;
	GRand *r = g_rand_new_with_seed(1234);
	gsize len, i;
	int fd;

	fs = elfsyms_functions(env_path("BASIC_SO"), &error);
	g_assert_no_error(error);
	for (i = 0; i < fs->len; i++) {
		struct elf_func *f = fs->pdata[i];

		if (strcmp(f->name, "foo") == 0)
			g_assert_cmpstr(f->doc, ==, "foo N: twice N");
	}
	g_assert_cmpuint(fs->len, >=, 7);
	g_assert_null(elfsyms_functions("/nonexistent", &error));
	g_clear_error(&error);

	g_assert_true(g_file_get_contents(env_path("STACK_SO"), &data, &len,
					  NULL));
	fd = g_file_open_tmp("elfsyms-XXXXXX", &tmp, &error);
	g_assert_no_error(error);
	close(fd);
	for (int round = 0; round < 3000; round++) {
		g_autofree char *copy = g_memdup2(data, len);
		gsize n = len;
		int flips = g_rand_int_range(r, 1, 20);

		for (int k = 0; k < flips; k++) {
			/* Mostly in the headers and tables. */
			gsize at = g_rand_boolean(r)
				? (gsize)g_rand_int_range(r, 0, 64)
				: (gsize)g_rand_int_range(r, 0, (gint32)len);
			copy[at] = (char)g_rand_int(r);
		}
		if (round % 7 == 0)
			n = g_rand_int_range(r, 0, (gint32)len);
		g_assert_true(g_file_set_contents(tmp, copy, n, NULL));
		fs = (g_ptr_array_unref(fs), elfsyms_functions(tmp, NULL));
		if (!fs)
			fs = g_ptr_array_new();
		for (i = 0; i < fs->len; i++) {
			struct elf_func *f = fs->pdata[i];

			g_assert_true(g_utf8_validate(f->name, -1, NULL));
			g_assert_true(g_utf8_validate(f->doc, -1, NULL));
			g_assert_cmpuint(strlen(f->doc), <=, ELFSYMS_DOC_MAX);
		}
	}
	g_unlink(tmp);
	g_rand_free(r);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	signal(SIGPIPE, SIG_IGN);
	g_test_add_func("/node/hello", test_hello);
	g_test_add_func("/node/refuse", test_refuse);
	g_test_add_func("/node/builtins", test_builtins);
	g_test_add_func("/node/setenv", test_setenv);
	g_test_add_func("/node/call-env", test_call_env);
	g_test_add_func("/node/options", test_options);
	g_test_add_func("/node/cancel", test_cancel);
	g_test_add_func("/node/restart", test_restart);
	g_test_add_func("/node/forget", test_forget);
	g_test_add_func("/node/cache", test_cache);
	g_test_add_func("/node/info", test_info);
	g_test_add_func("/node/funcs", test_funcs);
	g_test_add_func("/node/objects", test_objects);
	g_test_add_func("/node/live-output", test_live_output);
	g_test_add_func("/node/elfsyms", test_elfsyms);
	return g_test_run();
}
