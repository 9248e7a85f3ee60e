/*
 * tclient.c - client helpers shared by trickle-run and trickle-map: they
 * reach a tricklefs mount only through its files, with plain syscalls.
 */
#include "tclient.h"
#include "fdio.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static gboolean set_errno_error(GError **error, const char *what);

/* Does path/name exist?  0, or the errno of the stat. */
static int
exists_in(const char *path, const char *name)
{
	g_autofree char *p = g_build_filename(path, name, NULL);
	struct stat st;

	return stat(p, &st) == 0 ? 0 : errno;
}

char *
tc_mount(const char *opt, GError **error)
{
	const char *m = opt ? opt : g_getenv("TRICKLE_MOUNT");
	int err;

	if (!m || !*m) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "no mount: give -C MOUNT or set TRICKLE_MOUNT");
		return NULL;
	}
	if ((err = exists_in(m, ".done")) != 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err),
			    "%s: not a tricklefs mount (%s/.done: %s)", m,
			    m, g_strerror(err));
		return NULL;
	}
	return g_strdup(m);
}

char *
tc_calls_parent(const char *mount, const char *vm, GError **error)
{
	g_autofree char *dir = g_build_filename(mount, vm ? vm : ".any",
						NULL);
	int err;

	/* .all and .any read back other ids than a VM's. */
	if (vm && (!*vm || *vm == '.' || strchr(vm, '/'))) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "bad VM name \"%s\"", vm);
		return NULL;
	}
	if ((err = exists_in(dir, "calls/new")) != 0) {
		if (vm)
			g_set_error(error, G_FILE_ERROR,
				    g_file_error_from_errno(err),
				    "%s: no VM %s here (%s/calls/new: %s)",
				    mount, vm, dir, g_strerror(err));
		else
			g_set_error(error, G_FILE_ERROR,
				    g_file_error_from_errno(err),
				    "%s: no .any in this mount (%s/calls/new: "
				    "%s); use --vm VM", mount, dir,
				    g_strerror(err));
		return NULL;
	}
	return g_steal_pointer(&dir);
}

const char *
tc_done_prefix(const char *vm)
{
	return vm ? vm : ".any";
}

gboolean
tc_append_word(GString *line, const char *word, GError **error)
{
	g_autofree char *q = NULL;

	/* A call line ends at its newline; quoting cannot hide one. */
	if (strchr(word, '\n')) {
		g_set_error(error, G_SHELL_ERROR, G_SHELL_ERROR_BAD_QUOTING,
			    "an argument holds a newline, which a call line "
			    "cannot carry");
		return FALSE;
	}
	q = g_shell_quote(word);
	if (line->len)
		g_string_append_c(line, ' ');
	g_string_append(line, q);
	return TRUE;
}

char *
tc_call_line(char **words, int n, GError **error)
{
	GString *line = g_string_new(NULL);
	int i;

	for (i = 0; i < n; i++)
		if (!tc_append_word(line, words[i], error)) {
			g_string_free(line, TRUE);
			return NULL;
		}
	return g_string_free(line, FALSE);
}

int
tc_fork(int newfd, const char *lines, size_t len, guint32 *ids,
	size_t nlines)
{
	char buf[4096];
	size_t got = 0, have = 0;
	ssize_t n;

	/*
	 * One write(2), so that the mount takes the batch or none of it; a
	 * short write would leave part of a line behind.
	 */
	while ((n = write(newfd, lines, len)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return -1;
	if ((size_t)n != len) {
		errno = EIO;
		return -1;
	}
	/* The ids are there once the write returns: one per line, in order.
	 * buf holds at most one partial id between reads. */
	while (got < nlines) {
		char *p, *nl, *end;

		n = read(newfd, buf + have, sizeof(buf) - have - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EPROTO;
			return -1;
		}
		have += n;
		buf[have] = '\0';
		for (p = buf; got < nlines && (nl = strchr(p, '\n')); p = nl + 1) {
			unsigned long v = strtoul(p, &end, 10);

			if (end != nl || end == p || v == 0 || v > G_MAXUINT32) {
				errno = EPROTO;
				return -1;
			}
			ids[got++] = v;
		}
		have -= p - buf;
		memmove(buf, p, have);
	}
	return 0;
}

GPtrArray *
tc_read_ids(int newfd)
{
	g_autoptr(GString) text = g_string_new(NULL);
	GPtrArray *ids;
	char buf[4096], **lines;
	ssize_t n;

	/* The ids are there once the write has returned; reading them
	 * all ends at end of file. */
	while ((n = read(newfd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return NULL;
		g_string_append_len(text, buf, n);
	}
	ids = g_ptr_array_new_with_free_func(g_free);
	lines = g_strsplit(text->str, "\n", -1);
	for (char **l = lines; *l; l++)
		if (**l)
			g_ptr_array_add(ids, g_strdup(*l));
	g_strfreev(lines);
	return ids;
}

gboolean
tc_parse_call_id(const char *s, char **vm, guint32 *id)
{
	const char *slash = strchr(s, '/'), *num;
	char *end;
	unsigned long v;

	if (!slash || slash == s || !g_str_has_prefix(slash + 1, "calls/"))
		return FALSE;
	num = slash + 1 + strlen("calls/");
	if (!g_ascii_isdigit(*num))
		return FALSE;
	v = strtoul(num, &end, 10);
	if (*end || v == 0 || v > G_MAXUINT32)
		return FALSE;
	*vm = g_strndup(s, slash - s);
	*id = v;
	return TRUE;
}

char **
tc_workdir_words(char **words, int n, const char *dir, GError **error)
{
	g_autofree char *cwd = NULL;
	GPtrArray *v;
	int k;

	if (!*dir) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "--workdir: an empty directory name");
		return NULL;
	}
	if (strcmp(dir, ".") == 0 && !(dir = cwd = g_get_current_dir()))
		return NULL;
	v = g_ptr_array_new();
	g_ptr_array_add(v, g_strconcat("TRICKLE_WORKDIR=", dir, NULL));
	for (k = 0; k < n; k++)
		g_ptr_array_add(v, g_strdup(words[k]));
	g_ptr_array_add(v, NULL);
	return (char **)g_ptr_array_free(v, FALSE);
}

static char copy_buf[1 << 17];

int
tc_copy(int in, int out, guint64 *copied, int *which)
{
	guint64 total = 0;
	ssize_t n;

	for (;;) {
		n = read(in, copy_buf, sizeof(copy_buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*which = 0;
			break;
		}
		if (n == 0)
			break;
		if (fdio_write_all(out, copy_buf, n) < 0) {
			*which = 1;
			break;
		}
		total += n;
	}
	if (copied)
		*copied = total;
	return n == 0 ? 0 : -1;
}

int
tc_tee(int in, const int *outs, guint n, volatile sig_atomic_t *stop,
       int *which)
{
	ssize_t got;
	guint i;

	for (;;) {
		if (stop && *stop) {
			errno = EINTR;
			*which = -1;
			return -1;
		}
		got = read(in, copy_buf, sizeof(copy_buf));
		if (got == 0)
			return 0;
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			*which = -1;
			return -1;
		}
		for (i = 0; i < n; i++)
			if (fdio_write_all(outs[i], copy_buf, got) < 0) {
				*which = i;
				return -1;
			}
	}
}

int
tc_done_open(const char *mount, GError **error)
{
	g_autofree char *path = g_build_filename(mount, ".done", NULL);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		set_errno_error(error, path);
	return fd;
}

char *
tc_read_small(int dirfd, const char *path, size_t max, size_t *len)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	char *buf;
	size_t have = 0;
	ssize_t n;

	if (fd < 0)
		return NULL;
	buf = g_malloc(max + 1);
	while (have < max) {
		n = read(fd, buf + have, max - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			g_free(buf);
			errno = e;
			return NULL;
		}
		if (n == 0)
			break;
		have += n;
	}
	close(fd);
	buf[have] = '\0';
	if (len)
		*len = have;
	return buf;
}

int
tc_write_file(int dirfd, const char *path, const char *text)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC), r, e;

	if (fd < 0)
		return -1;
	r = fdio_write_all(fd, text, strlen(text));
	e = errno;
	if (close(fd) < 0 && r == 0)
		return -1;
	errno = e;
	return r;
}

void
tc_chomp(char *s)
{
	size_t n = strlen(s);

	if (n && s[n - 1] == '\n')
		s[--n] = '\0';
	if (n && s[n - 1] == '\r')
		s[--n] = '\0';
}

int
tc_status_code(const char *status, int *signo)
{
	const char *p;
	char *end;
	long v;

	*signo = 0;
	if (strcmp(status, "done") == 0)
		return 0;
	if (strcmp(status, "cancelled") == 0)
		return 128 + 2;
	if (strcmp(status, "queued") == 0 || strcmp(status, "running") == 0)
		return -1;
	/* As timeout(1), so that scripts tell it from the call's own exit. */
	if (strcmp(status, "failed timeout") == 0)
		return TC_EXIT_TIMEOUT;
	if ((p = g_str_has_prefix(status, "failed exit ") ?
		 status + strlen("failed exit ") : NULL)) {
		v = strtol(p, &end, 10);
		/* An exit status of 0 is not a failure: keep it one. */
		if (end != p && *end == '\0' && v > 0 && v <= 255)
			return v;
	} else if ((p = g_str_has_prefix(status, "failed signal ") ?
			status + strlen("failed signal ") : NULL)) {
		v = strtol(p, &end, 10);
		if (end != p && (*end == '\0' || *end == ' ') && v > 0 &&
		    v < 128) {
			*signo = v;
			return 128 + v;
		}
	}
	return TC_EXIT_OTHER;
}

double
tc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

double
tc_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static gboolean
set_errno_error(GError **error, const char *what)
{
	int e = errno;

	g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "%s: %s",
		    what, g_strerror(e));
	return FALSE;
}

/* Move h (in memory so far) to the end of the spill file. */
static gboolean
spill(struct tc_spill *s, struct tc_held *h, GError **error)
{
	if (s->fd < 0) {
		g_autofree char *path = NULL;

		if ((s->fd = g_file_open_tmp("trickle-spill-XXXXXX", &path,
					     error)) < 0)
			return FALSE;
		unlink(path);
	}
	h->off = s->end;
	h->spilled = TRUE;
	s->nspilled++;
	if (h->mem) {
		if (pwrite(s->fd, h->mem->data, h->mem->len, h->off) !=
		    (ssize_t)h->mem->len)
			return set_errno_error(error, "writing the spill file");
		s->in_memory -= h->mem->len;
		g_clear_pointer(&h->mem, g_byte_array_unref);
	}
	s->end = h->off + h->len;
	return TRUE;
}

gboolean
tc_hold_bytes(struct tc_spill *s, struct tc_held *h, const void *buf,
	      size_t n, GError **error)
{
	if (!h->spilled && s->in_memory + n > s->limit && !spill(s, h, error))
		return FALSE;
	if (h->spilled) {
		if (pwrite(s->fd, buf, n, h->off + h->len) != (ssize_t)n)
			return set_errno_error(error, "writing the spill file");
		s->end = h->off + h->len + n;
	} else {
		if (!h->mem)
			h->mem = g_byte_array_new();
		g_byte_array_append(h->mem, buf, n);
		s->in_memory += n;
	}
	h->len += n;
	return TRUE;
}

int
tc_hold(struct tc_spill *s, struct tc_held *h, int fd, GError **error)
{
	char buf[1 << 16];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (!tc_hold_bytes(s, h, buf, n, error))
			return -2;
	}
	return 0;
}

gboolean
tc_release(struct tc_spill *s, struct tc_held *h, int out, GError **error)
{
	char buf[1 << 16];
	guint64 done = 0;
	ssize_t n;

	if (!h->spilled) {
		if (h->mem && fdio_write_all(out, h->mem->data, h->mem->len) < 0)
			return set_errno_error(error, "writing output");
		tc_drop(s, h);
		return TRUE;
	}
	while (done < h->len) {
		n = pread(s->fd, buf, MIN(sizeof(buf), h->len - done),
			  h->off + done);
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return set_errno_error(error, "reading the spill file");
		}
		if (fdio_write_all(out, buf, n) < 0)
			return set_errno_error(error, "writing output");
		done += n;
	}
	tc_drop(s, h);
	return TRUE;
}

void
tc_drop(struct tc_spill *s, struct tc_held *h)
{
	if (h->mem) {
		s->in_memory -= h->mem->len;
		g_clear_pointer(&h->mem, g_byte_array_unref);
	}
	/* Once nothing waits in the file, it starts over. */
	if (h->spilled && --s->nspilled == 0 && ftruncate(s->fd, 0) == 0)
		s->end = 0;
	h->spilled = FALSE;
	h->len = 0;
}

void
tc_signals_for_ppoll(void (*handler)(int), sigset_t *open_mask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, open_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}
