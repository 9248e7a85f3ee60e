/*
 * errno-of - run one file operation and print how it ended, as the errno
 * name: "OK", or "EIO", "ENOEXEC", "EBUSY"...  For tests, which check the
 * errno exactly instead of grepping a program's strerror text (which
 * depends on the C library and the locale).
 *
 *   errno-of [-n] OP ARG...
 *
 *   open PATH          open(2) O_RDONLY, close(2)
 *   read PATH          open(2) O_RDONLY, read(2) to the end (the data is
 *                      thrown away; what cat does), close(2)
 *   write PATH TEXT    open(2) O_WRONLY, TEXT and a newline in one
 *                      write(2), close(2)
 *   append PATH TEXT   the same with O_APPEND
 *   writefd FD TEXT    TEXT and a newline in one write(2) to an inherited
 *                      file descriptor (bash: exec 3<>FILE)
 *   cp SRC DST         what cp does: open(2) DST O_WRONLY|O_CREAT|O_TRUNC,
 *                      write(2) SRC's bytes, close(2)
 *   stat PATH          stat(2)
 *   ls PATH            opendir(3), readdir(3) to the end
 *   unlink PATH | rmdir PATH | mkdir PATH
 *   rename FROM TO
 *   strerror NAME      print strerror() of the errno named NAME, in the
 *                      locale's language (to compare a program's message
 *                      with, exactly)
 *
 * -n: no newline after TEXT.  The first step that fails decides; its
 * name goes to stdout and "errno-of: STEP PATH: NAME (text)" to stderr.
 * Exit status: 0 for OK, 1 for an errno, 2 for a usage error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define E(x) { x, #x }
static const struct {
	int err;
	const char *name;
} names[] = {
	E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(ENXIO), E(E2BIG),
	E(ENOEXEC), E(EBADF), E(ECHILD), E(EAGAIN), E(ENOMEM), E(EACCES),
	E(EFAULT), E(EBUSY), E(EEXIST), E(EXDEV), E(ENODEV), E(ENOTDIR),
	E(EISDIR), E(EINVAL), E(ENFILE), E(EMFILE), E(ENOTTY), E(ETXTBSY),
	E(EFBIG), E(ENOSPC), E(ESPIPE), E(EROFS), E(EMLINK), E(EPIPE),
	E(ERANGE), E(EDEADLK), E(ENAMETOOLONG), E(ENOSYS), E(ENOTEMPTY),
	E(ELOOP), E(ENODATA), E(ETIME), E(EPROTO), E(EOVERFLOW), E(EBADMSG),
	E(EOPNOTSUPP), E(EADDRINUSE), E(ENETDOWN), E(ENETUNREACH),
	E(ECONNABORTED), E(ECONNRESET), E(ENOBUFS), E(ENOTCONN),
	E(ETIMEDOUT), E(ECONNREFUSED), E(EHOSTDOWN), E(EHOSTUNREACH),
	E(EALREADY), E(EINPROGRESS), E(ESTALE), E(EDQUOT), E(ECANCELED),
	E(ENOTSUP), E(ENOTSOCK), E(ENOLINK), E(ENOMSG), E(EILSEQ),
};

static const char *
name_of(int err)
{
	static char buf[32];
	size_t i;

	/* EWOULDBLOCK == EAGAIN and ENOTSUP == EOPNOTSUPP on Linux: the
	 * first in the table wins. */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].err == err)
			return names[i].name;
	snprintf(buf, sizeof(buf), "E#%d", err);
	return buf;
}

static int
errno_named(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i].name, name) == 0)
			return names[i].err;
	return 0;
}

static int
failed(const char *step, const char *path)
{
	int err = errno;

	printf("%s\n", name_of(err));
	fprintf(stderr, "errno-of: %s %s: %s (%s)\n", step, path,
		name_of(err), strerror(err));
	return 1;
}

static int
ok(void)
{
	printf("OK\n");
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: errno-of [-n] open|read|stat|ls|unlink|rmdir|"
		"mkdir PATH\n"
		"       errno-of [-n] write|append PATH TEXT\n"
		"       errno-of [-n] writefd FD TEXT\n"
		"       errno-of cp SRC DST | rename FROM TO\n"
		"       errno-of strerror ENAME\n");
	exit(2);
}

/* Write all of buf, in as few write(2)s as the file takes. */
static int
write_all(int fd, const char *buf, size_t len, const char *path)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return failed("write", path);
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
do_write(const char *path, int flags, const char *text, int newline)
{
	size_t len = strlen(text);
	char *buf = malloc(len + 2);
	int fd, rc;

	if (!buf)
		return failed("malloc", path);
	memcpy(buf, text, len);
	if (newline)
		buf[len++] = '\n';
	fd = open(path, flags);
	if (fd < 0) {
		free(buf);
		return failed("open", path);
	}
	rc = write_all(fd, buf, len, path);
	free(buf);
	if (rc) {
		close(fd);
		return rc;
	}
	if (close(fd) < 0)
		return failed("close", path);
	return ok();
}

static int
do_read(const char *path)
{
	char buf[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return failed("open", path);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno != EINTR) {
			int rc = failed("read", path);

			close(fd);
			return rc;
		}
	}
	if (close(fd) < 0)
		return failed("close", path);
	return ok();
}

static int
do_cp(const char *src, const char *dst)
{
	char buf[131072];
	int in = open(src, O_RDONLY), out;
	ssize_t n;

	if (in < 0)
		return failed("open", src);
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0) {
		close(in);
		return failed("open", dst);
	}
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(in);
			close(out);
			return failed("read", src);
		}
		if (write_all(out, buf, (size_t)n, dst)) {
			close(in);
			close(out);
			return 1;
		}
	}
	close(in);
	if (close(out) < 0)
		return failed("close", dst);
	return ok();
}

static int
do_ls(const char *path)
{
	DIR *d = opendir(path);

	if (!d)
		return failed("opendir", path);
	for (;;) {
		errno = 0;
		if (!readdir(d)) {
			if (errno) {
				int rc = failed("readdir", path);

				closedir(d);
				return rc;
			}
			break;
		}
	}
	closedir(d);
	return ok();
}

int
main(int argc, char **argv)
{
	int newline = 1;
	const char *op;
	struct stat st;

	if (argc > 1 && strcmp(argv[1], "-n") == 0) {
		newline = 0;
		argv++;
		argc--;
	}
	if (argc < 3)
		usage();
	op = argv[1];
	if (argc == 3) {
		const char *p = argv[2];

		if (strcmp(op, "open") == 0) {
			int fd = open(p, O_RDONLY);

			if (fd < 0)
				return failed("open", p);
			close(fd);
			return ok();
		}
		if (strcmp(op, "read") == 0)
			return do_read(p);
		if (strcmp(op, "stat") == 0)
			return stat(p, &st) < 0 ? failed("stat", p) : ok();
		if (strcmp(op, "ls") == 0)
			return do_ls(p);
		if (strcmp(op, "unlink") == 0)
			return unlink(p) < 0 ? failed("unlink", p) : ok();
		if (strcmp(op, "rmdir") == 0)
			return rmdir(p) < 0 ? failed("rmdir", p) : ok();
		if (strcmp(op, "mkdir") == 0)
			return mkdir(p, 0755) < 0 ? failed("mkdir", p) : ok();
		if (strcmp(op, "strerror") == 0) {
			int err = errno_named(p);

			if (!err) {
				fprintf(stderr, "errno-of: unknown errno %s\n", p);
				return 2;
			}
			/* In the locale's language, as programs print it. */
			setlocale(LC_ALL, "");
			printf("%s\n", strerror(err));
			return 0;
		}
		usage();
	}
	if (argc != 4)
		usage();
	if (strcmp(op, "write") == 0)
		return do_write(argv[2], O_WRONLY, argv[3], newline);
	if (strcmp(op, "append") == 0)
		return do_write(argv[2], O_WRONLY | O_APPEND, argv[3], newline);
	if (strcmp(op, "writefd") == 0) {
		char *end;
		long fd = strtol(argv[2], &end, 10);
		size_t len = strlen(argv[3]);
		char *buf = malloc(len + 2);
		int rc;

		if (*end || fd < 0 || !buf)
			usage();
		memcpy(buf, argv[3], len);
		if (newline)
			buf[len++] = '\n';
		rc = write_all((int)fd, buf, len, argv[2]);
		free(buf);
		return rc ? rc : ok();
	}
	if (strcmp(op, "cp") == 0)
		return do_cp(argv[2], argv[3]);
	if (strcmp(op, "rename") == 0)
		return rename(argv[2], argv[3]) < 0 ? failed("rename", argv[2])
						    : ok();
	usage();
	return 2;
}
