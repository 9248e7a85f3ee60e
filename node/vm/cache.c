/*
 * cache.c - the node's content cache of injected files: BASE/cache/
 * sha256/HEX holds the bytes whose SHA-256 is HEX, for every session of
 * the user under BASE (one mount's, the next mount's).  A file injected
 * into many VMs travels to the node once: the mount asks whether the
 * cache has its sum (WIRE_CACHE_HAVE), sends it only if not
 * (WIRE_CACHE_PUT), and each VM takes it from here (WIRE_INJECT_CACHED)
 * as a hard link into its inject/, so N VMs share one inode and its
 * pages.
 *
 * Nothing is trusted for its name: an entry is read and summed before
 * this process first uses it, and again whenever its size or mtime
 * changed; one that does not match its name is removed (the mount then
 * sends the bytes again).  A new entry is written to a temporary file,
 * summed as it is written, and renamed into place, so a reader never sees half of one
 * and a concurrent writer of the same content loses nothing.
 *
 * Eviction, when a node starts serving a session: an entry no VM links
 * to any more (link count 1) and not linked into a VM for max_age days
 * (its ctime: every link to it sets it) is removed, and so are
 * temporary files a day old (a transfer cut off).
 */
#include "vm_priv.h"
#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <gio/gio.h>

#define TMP_MAX_AGE_S (24 * 3600)

struct nodecache {
	char *dir;			/* BASE/cache/sha256 */
	GHashTable *checked;		/* sum -> struct stamp: summed here */
};

/* What the file was when it was summed. */
struct stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

gboolean
nodecache_valid_sum(const char *sum)
{
	gsize i;

	for (i = 0; sum[i]; i++)
		if (!g_ascii_isxdigit(sum[i]) || g_ascii_isupper(sum[i]))
			return FALSE;
	return i == WIRE_SHA256_HEX;
}

static void
evict(struct nodecache *c, guint max_age_days)
{
	g_autoptr(GDir) d = g_dir_open(c->dir, 0, NULL);
	time_t now = time(NULL);
	const char *name;
	guint removed = 0;

	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *p = g_build_filename(c->dir, name, NULL);
		struct stat st;

		if (lstat(p, &st) < 0)
			continue;
		if (g_str_has_prefix(name, ".tmp-")) {
			if (now - st.st_mtime > TMP_MAX_AGE_S)
				unlink(p);
			continue;
		}
		if (!S_ISREG(st.st_mode) || st.st_nlink > 1 ||
		    now - st.st_ctime < (time_t)max_age_days * 24 * 3600)
			continue;
		if (unlink(p) == 0)
			removed++;
	}
	if (removed)
		g_message("cache: removed %u file%s unused for %u days or "
			  "more", removed, removed == 1 ? "" : "s",
			  max_age_days);
}

struct nodecache *
nodecache_open(const char *base, guint max_age_days, GError **error)
{
	g_autofree char *dir = g_build_filename(base, "cache", "sha256",
						NULL);
	struct nodecache *c;

	if (g_mkdir_with_parents(dir, 0700) < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
			    "cannot create %s: %s", dir, g_strerror(errno));
		return NULL;
	}
	/* Made by an older node, or by hand: the user's alone. */
	chmod(dir, 0700);
	c = g_new0(struct nodecache, 1);
	c->dir = g_steal_pointer(&dir);
	c->checked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					   g_free);
	evict(c, max_age_days);
	return c;
}

void
nodecache_free(struct nodecache *c)
{
	if (!c)
		return;
	g_hash_table_unref(c->checked);
	g_free(c->dir);
	g_free(c);
}

char *
nodecache_path(struct nodecache *c, const char *sum)
{
	return g_build_filename(c->dir, sum, NULL);
}

static void
stamp_of(const struct stat *st, struct stamp *s)
{
	memset(s, 0, sizeof(*s));
	s->dev = st->st_dev;
	s->ino = st->st_ino;
	s->size = st->st_size;
	s->mtime = st->st_mtim;
}

static gboolean
stamp_equal(const struct stamp *a, const struct stamp *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

gboolean
nodecache_has(struct nodecache *c, const char *sum)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = NULL, *got = NULL;
	struct stamp now, *was;
	struct stat st;

	if (!nodecache_valid_sum(sum))
		return FALSE;
	path = nodecache_path(c, sum);
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		g_hash_table_remove(c->checked, sum);
		return FALSE;
	}
	stamp_of(&st, &now);
	was = g_hash_table_lookup(c->checked, sum);
	if (was && stamp_equal(was, &now))
		return TRUE;
	got = sha256_file(path, &error);
	if (!got || strcmp(got, sum) != 0) {
		g_warning("cache: %s does not hold what its name says (%s): "
			  "removed, it will be sent again", path,
			  got ? got : error->message);
		g_hash_table_remove(c->checked, sum);
		unlink(path);
		return FALSE;
	}
	g_hash_table_insert(c->checked, g_strdup(sum),
			    g_memdup2(&now, sizeof(now)));
	return TRUE;
}

int
nodecache_put_begin(struct nodecache *c, char **tmp)
{
	g_autofree char *path = g_build_filename(c->dir, ".tmp-XXXXXX", NULL);
	int fd = g_mkstemp_full(path, O_WRONLY | O_CLOEXEC, 0500);

	if (fd < 0)
		return -1;
	*tmp = g_steal_pointer(&path);
	return fd;
}

int
nodecache_put_commit(struct nodecache *c, const char *tmp, const char *sum,
		     const char *got, char **why)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *read = got ? NULL : sha256_file(tmp, &error);
	g_autofree char *path = NULL;
	struct stat st;

	if (!got)
		got = read;
	if (!got) {
		*why = g_strdup(error->message);
		unlink(tmp);
		return EIO;
	}
	if (strcmp(got, sum) != 0) {
		*why = g_strdup_printf("the bytes sent have SHA-256 %s, not "
				       "%s", got, sum);
		unlink(tmp);
		return EBADMSG;
	}
	path = nodecache_path(c, sum);
	if (rename(tmp, path) < 0) {
		int err = errno;

		*why = g_strdup_printf("%s: %s", path, g_strerror(err));
		unlink(tmp);
		return err;
	}
	if (lstat(path, &st) == 0) {
		struct stamp s;

		stamp_of(&st, &s);
		g_hash_table_insert(c->checked, g_strdup(sum),
				    g_memdup2(&s, sizeof(s)));
	}
	return 0;
}

/* A copy, where a link cannot go (another file system, too many
 * links). */
static int
copy_file(const char *from, const char *to)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GFile) a = g_file_new_for_path(from);
	g_autoptr(GFile) b = g_file_new_for_path(to);

	if (g_file_copy(a, b, G_FILE_COPY_OVERWRITE |
			G_FILE_COPY_NOFOLLOW_SYMLINKS, NULL, NULL, NULL,
			&error))
		return 0;
	return error->domain == G_IO_ERROR &&
	       error->code == G_IO_ERROR_NO_SPACE ? ENOSPC : EIO;
}

int
nodecache_link(struct nodecache *c, const char *sum, const char *dest)
{
	g_autofree char *path = nodecache_path(c, sum);

	unlink(dest);
	if (link(path, dest) == 0)
		return 0;
	if (errno == ENOENT)
		return ESTALE;
	return copy_file(path, dest);
}

int
nodecache_link_new(struct nodecache *c, const char *sum, const char *dest)
{
	g_autofree char *path = nodecache_path(c, sum);

	return link(path, dest) == 0 ? 0 : errno;
}
