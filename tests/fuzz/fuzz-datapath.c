/*
 * fuzz-datapath.c - libFuzzer target for data/ on the node: the lexical
 * check (node/vm/datapath.c) and the operations that resolve what it
 * lets through (node/vm/datafs.c), run on a real directory.
 *
 * The input is a list of WIRE_FSOPs, each
 *
 *   op  offset  arg  n  PATH \0 PATH2 \0  n bytes
 *
 * (op modulo FS_OP_MAX + 1, so that an unknown one comes too; offset and
 * arg are scaled per op; missing fields are empty).  Every path also goes
 * through datapath_normalize() on its own, which must refuse exactly the
 * absolute paths and those with a ".." component, and otherwise give an
 * idempotent normal form that stays beneath any directory it is joined to.
 *
 * The operations run in a scratch tree:
 *
 *   t/data/     the VM's data directory: files, a FIFO, a loop, and
 *               symbolic links that lead out (../outside, an absolute
 *               path, ../data2 whose name starts like data's) and in
 *   t/outside/  and t/data2/: what must stay out of reach
 *
 * Nothing outside t/data may change, no answer may show what is there:
 * the outside files are 0xff bytes, which no written byte is (they are
 * masked to 7 bits), and of sizes no file in data/ can reach; their
 * names hold a '~', which no fuzzed path may.  t/data is made anew for
 * each input.
 */
#include "fuzz-util.h"
#include "datapath.h"
#include "vm_priv.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_OPS 16
#define SECRET_SIZE 7919	/* more than a fuzzed file can grow to */
#define SECRET_SIZE2 7907

static char *top, *data_dir, *outside, *data2;

/* What must not change (a directory's stat changes with its names). */
static const char *const watched[] = {
	"outside", "outside/secret~", "outside/dir~", "data2",
	"data2/x~",
};
static struct stat watched_st[G_N_ELEMENTS(watched)];

/* datafs.c's calls into the rest of the VM. */
const char *
vmnode_data_dir(struct vmnode *vm)
{
	return data_dir;
}

static void
no_secret(const guint8 *p, gsize len)
{
	CHECK(!memchr(p, 0xff, len));
}

void
vmnode_send(struct vmnode *vm, guint type, guint32 tag, GVariant *body)
{
	g_autoptr(GVariant) b = g_variant_ref_sink(body);

	switch (type) {
	case WIRE_STAT: {
		guint32 mode, nlink;
		guint64 size, mtime;

		g_variant_get(b, "(uttu)", &mode, &size, &mtime, &nlink);
		CHECK(size != SECRET_SIZE && size != SECRET_SIZE2);
		break;
	}
	case WIRE_LIST: {
		g_autoptr(GVariantIter) it = NULL;
		const char *name;
		guint32 mode;
		guint64 size, mtime;
		gboolean more;

		g_variant_get(b, "(a(sutt)b)", &it, &more);
		while (g_variant_iter_next(it, "(&sutt)", &name, &mode, &size,
					   &mtime)) {
			CHECK(!strchr(name, '~'));
			CHECK(size != SECRET_SIZE && size != SECRET_SIZE2);
		}
		break;
	}
	case WIRE_REPLY: {
		gint32 err;
		const char *msg;

		g_variant_get(b, "(i&s)", &err, &msg);
		CHECK(err >= 0);
		break;
	}
	default:
		CHECK(!"an answer datafs.c does not give");
	}
}

void
vmnode_send_bytes(struct vmnode *vm, guint type, guint32 tag,
		  const void *bytes, gsize len)
{
	CHECK(type == WIRE_DATA);
	CHECK(len <= WIRE_CHUNK);
	no_secret(bytes, len);
}

static void
put_file(const char *dir, const char *name, int c, gsize len, mode_t mode)
{
	g_autofree char *p = g_build_filename(dir, name, NULL);
	g_autofree char *text = g_malloc(len);

	memset(text, c, len);
	fuzz_write_file(p, text, len);
	if (chmod(p, mode) < 0)
		abort();
}

static void
put_link(const char *target, const char *name)
{
	g_autofree char *p = g_build_filename(data_dir, name, NULL);

	if (symlink(target, p) < 0)
		abort();
}

static void
make_data_dir(void)
{
	g_autofree char *sub = g_build_filename(data_dir, "sub", NULL);
	g_autofree char *fifo = g_build_filename(data_dir, "fifo", NULL);
	g_autofree char *abs = g_build_filename(outside, "secret~", NULL);

	if (mkdir(data_dir, 0755) < 0 || mkdir(sub, 0755) < 0 ||
	    mkfifo(fifo, 0644) < 0)
		abort();
	put_file(data_dir, "f", 'i', 6, 0644);
	put_file(sub, "g", 'j', 300, 0644);
	put_link("../outside", "up");
	put_link("../outside/secret~", "upsecret");
	put_link(outside, "abs");
	put_link(abs, "abssecret");
	put_link("../data2", "sibling");
	put_link("../../outside/secret~", "sub/upup");
	put_link("/", "root");
	put_link(".", "self");
	put_link("sub", "dirlink");
	put_link("sub/g", "filelink");
	put_link("loop", "loop");
	put_link("gone", "dangling");
}

static void
take_watch(struct stat *st)
{
	for (guint i = 0; i < G_N_ELEMENTS(watched); i++) {
		g_autofree char *p = g_build_filename(top, watched[i], NULL);

		if (lstat(p, &st[i]) < 0)
			abort();
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	g_autofree char *dir = NULL;

	fuzz_init("refusing path outside the data directory");
	top = g_build_filename(fuzz_tmpdir(), "t", NULL);
	data_dir = g_build_filename(top, "data", NULL);
	outside = g_build_filename(top, "outside", NULL);
	data2 = g_build_filename(top, "data2", NULL);
	dir = g_build_filename(outside, "dir~", NULL);
	if (mkdir(top, 0755) < 0 || mkdir(outside, 0755) < 0 ||
	    mkdir(dir, 0755) < 0 || mkdir(data2, 0755) < 0)
		abort();
	put_file(outside, "secret~", 0xff, SECRET_SIZE, 0600);
	put_file(data2, "x~", 0xff, SECRET_SIZE2, 0644);
	make_data_dir();
	take_watch(watched_st);
	return 0;
}

/* Paths alone: what datapath_normalize() promises. */
static void
check_path(const char *path)
{
	g_autoptr(GString) out = g_string_new("junk");
	g_autoptr(GString) again = g_string_new(NULL);
	g_auto(GStrv) in = g_strsplit(path, "/", -1);
	g_auto(GStrv) parts = NULL;
	g_autofree char *joined = NULL;
	gboolean dotdot = FALSE;
	gsize want = 0;
	guint i, k;
	int err = datapath_normalize(path, out);

	for (i = 0; in[i]; i++)
		dotdot |= strcmp(in[i], "..") == 0;
	if (path[0] == '/' || dotdot) {
		CHECK(err == EPERM);
		return;
	}
	/* What is left: the components that are not "" or "." */
	for (i = 0; in[i]; i++)
		if (*in[i] && strcmp(in[i], ".") != 0)
			want += strlen(in[i]) + (want ? 1 : 0);
	if (want >= PATH_MAX) {
		CHECK(err == ENAMETOOLONG);
		return;
	}
	CHECK(err == 0);
	CHECK(out->len == want);
	CHECK(out->str[0] != '/');
	parts = g_strsplit(out->str, "/", -1);
	for (i = k = 0; in[i]; i++) {
		if (!*in[i] || strcmp(in[i], ".") == 0)
			continue;
		CHECK(parts[k] && strcmp(parts[k], in[i]) == 0);
		k++;
	}
	CHECK(out->len == 0 ? !parts[0] : !parts[k]);
	CHECK(datapath_normalize(out->str, again) == 0);
	CHECK(strcmp(out->str, again->str) == 0);
	/* Lexically beneath whatever directory it is joined to. */
	joined = g_canonicalize_filename(out->str, "/d/data");
	CHECK(strcmp(joined, "/d/data") == 0 ||
	      g_str_has_prefix(joined, "/d/data/"));
}

/* One op from the input, or FALSE at its end. */
static gboolean
next_op(const guint8 **pp, const guint8 *end, GVariant **body)
{
	const guint8 *p = *pp;
	const char *path, *path2;
	guint8 op, off, arg, n;
	guint64 offset;
	guint32 a;
	g_autofree guint8 *bytes = NULL;
	const guint8 *nul;

	if (end - p < 4)
		return FALSE;
	op = p[0] % (FS_OP_MAX + 1);
	off = p[1];
	arg = p[2];
	n = p[3];
	p += 4;
	path = g_strndup((const char *)p, end - p);
	nul = memchr(p, 0, end - p);
	p = nul ? nul + 1 : end;
	path2 = g_strndup((const char *)p, end - p);
	nul = memchr(p, 0, end - p);
	p = nul ? nul + 1 : end;
	n = MIN(n, end - p);
	bytes = g_memdup2(p, n);
	for (guint i = 0; i < n; i++)
		bytes[i] &= 0x7f;	/* never a secret byte */
	p += n;
	*pp = p;

	switch (op) {
	case FS_SETMTIME:
		offset = (guint64)off << 24;
		break;
	case FS_LIST:
		offset = off & 15;
		break;
	default:
		offset = off;
	}
	a = op == FS_READ ? arg * 64u : (arg * 7u) & 07777;
	if (!g_utf8_validate(path, -1, NULL) ||
	    !g_utf8_validate(path2, -1, NULL) || strchr(path, '~') ||
	    strchr(path2, '~')) {
		/* The wire takes no other strings; '~' is the outside's. */
		*body = NULL;
	} else {
		check_path(path);
		check_path(path2);
		*body = g_variant_ref_sink(g_variant_new("(ysstu@ay)", op,
			path, path2, offset, a, g_variant_new_fixed_array(
				G_VARIANT_TYPE_BYTE, bytes, n, 1)));
	}
	g_free((char *)path);
	g_free((char *)path2);
	return TRUE;
}

static void
check_outside(void)
{
	struct stat now[G_N_ELEMENTS(watched)];

	g_autoptr(GDir) d = g_dir_open(top, 0, NULL);
	const char *name;
	guint names = 0;

	/* Nothing new beside data/ either. */
	CHECK(d);
	while ((name = g_dir_read_name(d))) {
		CHECK(strcmp(name, "data") == 0 ||
		      strcmp(name, "outside") == 0 ||
		      strcmp(name, "data2") == 0);
		names++;
	}
	CHECK(names == 3);
	take_watch(now);
	for (guint i = 0; i < G_N_ELEMENTS(watched); i++) {
		const struct stat *a = &watched_st[i], *b = &now[i];

		if (a->st_ino != b->st_ino || a->st_mode != b->st_mode ||
		    a->st_size != b->st_size || a->st_nlink != b->st_nlink ||
		    a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
		    a->st_mtim.tv_nsec != b->st_mtim.tv_nsec ||
		    a->st_ctim.tv_sec != b->st_ctim.tv_sec ||
		    a->st_ctim.tv_nsec != b->st_ctim.tv_nsec) {
			fprintf(stderr, "t/%s changed\n", watched[i]);
			abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char vm_dummy;
	const guint8 *p = data, *end = data + size;
	GVariant *body;
	guint n = 0;

	while (n++ < MAX_OPS && next_op(&p, end, &body)) {
		struct wire_msg m = {
			.type = WIRE_FSOP, .tag = n, .body = body,
		};

		if (!body)
			continue;
		datafs_op((struct vmnode *)&vm_dummy, &m);
		g_variant_unref(body);
	}
	check_outside();
	fuzz_rm_rf(data_dir);
	make_data_dir();
	return 0;
}
