/*
 * wstore.c - where a call's output goes once the call has ended (issue 12).
 *
 * While a call runs, its stdout and stderr are memfds the supervisor made
 * (no inode on the node's disk; the supervisor reads them for live
 * output).  At its end, whoever ends it (the worker when the call
 * returns, the supervisor when it was cut short) keeps that output on
 * disk, so that it survives the supervisor's death:
 *   - up to WORKER_STORE_MAX bytes in all: appended to the VM's store
 *     file (vm<i>/store), and its place noted in the VM's log of ended
 *     calls in the same write as the call's end: "ID @ OFF OUT ERR";
 *   - more: copied to calls/ID/stdout and calls/ID/stderr, as every
 *     call had before.
 * Calls the supervisor expects to be large get those files from the
 * start instead of memfds, and nothing moves at their end.
 */
#include "worker.h"
#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_CHUNK (256 * 1024)

static guint64
fd_size(int fd)
{
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 ? (guint64)st.st_size : 0;
}

/* len bytes of from (from offset 0) to to at off, through a buffer,
 * the first done of them already there: 0 or an errno. */
static int
copy_by_hand_from(int from, guint64 len, int to, guint64 off, guint64 done)
{
	g_autofree char *buf = g_malloc(MIN(len, COPY_CHUNK) + 1);

	while (done < len) {
		ssize_t n = pread(from, buf, MIN(len - done, COPY_CHUNK), done);
		ssize_t w;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? errno : EIO;	/* shrank under us */
		for (ssize_t put = 0; put < n; put += w) {
			w = pwrite(to, buf + put, n - put, off + done + put);
			if (w < 0 && errno == EINTR)
				w = 0;
			else if (w < 0)
				return errno;
		}
		done += n;
	}
	return 0;
}

/*
 * The same in the kernel (a large output moved from its memfd to its file
 * on the node's disk is not copied through this process: 256 MiB took
 * twice as long by hand).  copy_file_range() does not cross file systems
 * of different types (tmpfs to ext4), sendfile() does; either may be
 * missing, and then it is done by hand from where they stopped.  A small
 * output is copied by hand: two system calls.
 */
#define KERNEL_COPY_MIN (64 * 1024)

static int
copy_range(int from, guint64 len, int to, guint64 off)
{
	static gboolean cfr = TRUE;	/* memfd to this disk: same each time */
	loff_t in = 0, out = (loff_t)off;

	if (len < KERNEL_COPY_MIN)
		return copy_by_hand_from(from, len, to, off, 0);
	while ((guint64)in < len) {
		ssize_t n;

		if (cfr) {
			n = copy_file_range(from, &in, to, &out, len - in, 0);
		} else {
			if (lseek(to, out, SEEK_SET) < 0)
				break;
			n = sendfile(to, from, &in, MIN(len - in, 1u << 30));
			if (n > 0)
				out += n;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && cfr && (errno == EXDEV || errno == EINVAL ||
				     errno == ENOSYS || errno == EOPNOTSUPP)) {
			cfr = FALSE;
			continue;
		}
		if (n < 0 && !cfr && (errno == EINVAL || errno == ENOSYS))
			break;
		if (n < 0)
			return errno;
		if (n == 0)
			return EIO;	/* shrank under us */
	}
	if ((guint64)in >= len)
		return 0;
	return copy_by_hand_from(from, len, to, off, in);
}

static int
spill_one(const char *dir, const char *name, int from, guint64 len)
{
	g_autofree char *p = g_build_filename(dir, name, NULL);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int err;

	if (fd < 0)
		return errno;
	err = copy_range(from, len, fd, 0);
	if (close(fd) < 0 && !err)
		err = errno;
	return err;
}

gboolean
worker_keep_output(int store, const char *spill_dir, int ofd, int efd,
		   struct worker_where *w)
{
	return worker_keep_sized(store, spill_dir, ofd, fd_size(ofd), efd,
				 fd_size(efd), w);
}

gboolean
worker_keep_sized(int store, const char *spill_dir, int ofd, guint64 out,
		  int efd, guint64 errsize, struct worker_where *w)
{
	int err = 0;

	memset(w, 0, sizeof(*w));
	w->out = out;
	w->err = errsize;
	if (store < 0)
		return TRUE;	/* its files are where it lives */
	if (w->out + w->err <= WORKER_STORE_MAX) {
		w->off = fd_size(store);
		if ((err = copy_range(ofd, w->out, store, w->off)) ||
		    (err = copy_range(efd, w->err, store, w->off + w->out))) {
			errno = err;
			return FALSE;
		}
		w->stored = TRUE;
		return TRUE;
	}
	if (!worker_make_call_dir(spill_dir) ||
	    (err = spill_one(spill_dir, "stdout", ofd, w->out)) ||
	    (err = spill_one(spill_dir, "stderr", efd, w->err))) {
		if (err)
			errno = err;
		return FALSE;
	}
	return TRUE;
}

gboolean
worker_make_call_dir(const char *dir)
{
	g_autofree char *calls = NULL;

	if (mkdir(dir, 0700) == 0 || errno == EEXIST)
		return TRUE;
	if (errno != ENOENT)
		return FALSE;
	/* calls/ is made with the first call that needs a directory. */
	calls = g_path_get_dirname(dir);
	if (mkdir(calls, 0700) < 0 && errno != EEXIST)
		return FALSE;
	return mkdir(dir, 0700) == 0 || errno == EEXIST;
}

gboolean
worker_log_end_at(int fd, guint32 id, guint state, int code,
		  const char *detail, const struct worker_where *w)
{
	g_autofree char *line = g_strdup_printf("%u %u %d %s\n", id, state,
						code, detail);
	g_autofree char *all = NULL;
	char *p;

	for (p = line; p[1]; p++)
		if (*p == '\n')
			*p = ' ';
	if (w && w->stored)
		all = g_strdup_printf("%u @ %" G_GUINT64_FORMAT " %"
				      G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
				      "\n%s", id, w->off, w->out, w->err, line);
	return fdio_write_all(fd, all ? all : line,
			      strlen(all ? all : line)) == 0;
}

gboolean
worker_log_end(int fd, guint32 id, guint state, int code, const char *detail)
{
	return worker_log_end_at(fd, id, state, code, detail, NULL);
}

gboolean
worker_parse_where(const char *line, guint32 *id, struct worker_where *w)
{
	guint64 v[4];
	const char *p = line;
	char *end;

	for (int i = 0; i < 4; i++) {
		if (i == 1) {
			if (p[0] != '@' || p[1] != ' ')
				return FALSE;
			p += 2;
		}
		if (!g_ascii_isdigit(*p))
			return FALSE;
		v[i] = g_ascii_strtoull(p, &end, 10);
		if (end == p || (*end != ' ' && i < 3) || (i == 3 && *end &&
							    *end != '\n'))
			return FALSE;
		p = end + (i < 3);
	}
	if (v[0] == 0 || v[0] > G_MAXUINT32)
		return FALSE;
	*id = (guint32)v[0];
	w->off = v[1];
	w->out = v[2];
	w->err = v[3];
	w->stored = TRUE;
	return TRUE;
}

gsize
worker_scan_log(char *buf, gsize len, guint32 id, gboolean *ended,
		struct worker_where *w)
{
	struct worker_where place = { 0 };
	guint32 place_id = 0;
	char *line = buf, *nl;

	for (; (nl = memchr(line, '\n', buf + len - line)); line = nl + 1) {
		guint32 pid;
		struct worker_where lw;
		char *end;

		*nl = 0;
		if (worker_parse_where(line, &pid, &lw)) {
			place_id = pid;
			place = lw;
			continue;
		}
		/* An end of id: stored if the line before says where. */
		if (g_ascii_isdigit(*line) &&
		    g_ascii_strtoull(line, &end, 10) == id && *end == ' ') {
			*ended = TRUE;
			memset(w, 0, sizeof(*w));
			if (place_id == id)
				*w = place;
		}
		place_id = 0;
	}
	return (gsize)(line - buf);
}

/* "IN\nOUT\nERR\nSTORE\nSPILL", the first field of W_RUN. */
gboolean
worker_parse_spec(const char *spec, struct worker_spec *s)
{
	g_auto(GStrv) f = g_strsplit(spec, "\n", -1);

	if (g_strv_length(f) != 5)
		return FALSE;
	s->in = g_strdup(f[0]);
	s->out = g_strdup(f[1]);
	s->err = g_strdup(f[2]);
	s->store = g_strdup(f[3]);
	s->spill = g_strdup(f[4]);
	return TRUE;
}

void
worker_spec_clear(struct worker_spec *s)
{
	g_free(s->in);
	g_free(s->out);
	g_free(s->err);
	g_free(s->store);
	g_free(s->spill);
	memset(s, 0, sizeof(*s));
}
