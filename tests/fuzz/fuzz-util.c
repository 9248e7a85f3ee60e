/*
 * fuzz-util.c - see fuzz-util.h.
 */
#include "fuzz-util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *quiet;
static char *tmpdir;

static void
log_handler(const char *domain, GLogLevelFlags level, const char *message,
	    gpointer user)
{
	if (!(level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL |
		       G_LOG_LEVEL_WARNING)))
		return;
	if (quiet && !(level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) &&
	    strstr(message, quiet))
		return;
	fprintf(stderr, "%s: %s\n", domain ? domain : "", message);
	abort();
}

void
fuzz_init(const char *quiet_text)
{
	/* Let ASan/LSan see GLib's small allocations. */
	setenv("G_SLICE", "always-malloc", 1);
	quiet = quiet_text;
	g_log_set_default_handler(log_handler, NULL);
	/* g_warning() in a library with its own domain goes here too. */
	g_log_set_handler(NULL, G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL |
			  G_LOG_FLAG_RECURSION, log_handler, NULL);
}

void
fuzz_write_file(const char *path, const void *data, gsize len)
{
	const char *p = data;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		abort();
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			abort();
		p += n;
		len -= n;
	}
	if (close(fd) < 0)
		abort();
}

/* Children first; a directory is opened up so that a chmod 0 one (a
 * fuzzed FS_CHMOD, say) can still be emptied. */
static void
rm_below(int dfd)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;

	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		struct stat st;
		int sub;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			fchmodat(dirfd(d), de->d_name, 0700, 0);
			sub = openat(dirfd(d), de->d_name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				     O_CLOEXEC);
			if (sub >= 0)
				rm_below(sub);
			unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
		} else {
			unlinkat(dirfd(d), de->d_name, 0);
		}
	}
	closedir(d);
}

void
fuzz_rm_rf(const char *path)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	chmod(path, 0700);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		rm_below(fd);
	rmdir(path);
}

static void
tmpdir_remove(void)
{
	fuzz_rm_rf(tmpdir);
}

const char *
fuzz_tmpdir(void)
{
	if (!tmpdir) {
		g_autoptr(GError) e = NULL;

		tmpdir = g_dir_make_tmp("trickle-fuzz-XXXXXX", &e);
		if (!tmpdir) {
			fprintf(stderr, "%s\n", e->message);
			abort();
		}
		atexit(tmpdir_remove);
	}
	return tmpdir;
}
