/*
 * map_output.c - trickle-map: the output of ended jobs, copied from their
 * calls' files to ours (with --tag, every line tagged), or held until
 * their turn with --keep-order, and the message for a failed one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "map.h"

#define READ_SIZE	(64 * 1024)

/* Some of a call's output: written now, or held in h for its turn;
 * with --tag every line starts with the job's tag (*bol: at a line's
 * start). */
void
map_put_output(struct map *m, struct job *j, int out, struct tc_held *h,
	   const char *buf, size_t n, gboolean *bol)
{
	g_autoptr(GString) tagged = NULL;
	g_autoptr(GError) error = NULL;

	if (j->tag) {
		tagged = g_string_sized_new(n + 64);
		for (size_t i = 0; i < n; i++) {
			if (*bol)
				g_string_append(tagged, j->tag);
			g_string_append_c(tagged, buf[i]);
			*bol = buf[i] == '\n';
		}
		buf = tagged->str;
		n = tagged->len;
	}
	if (h) {
		if (!tc_hold_bytes(&m->spill, h, buf, n, &error))
			map_die("%s", error->message);
		return;
	}
	bar_clear();	/* output does not share its line */
	if (fdio_write_all(out, buf, n) < 0) {
		g_set_error(&error, G_FILE_ERROR,
			    g_file_error_from_errno(errno),
			    "writing output: %s", strerror(errno));
		map_output_failed(error);
	}
}

/* Copy (or hold) one of the call's files; -1 with errno set. */
int
map_take_file(struct map *m, struct job *j, const char *name, int out,
	  struct tc_held *h)
{
	char path[32], buf[READ_SIZE];
	gboolean bol = TRUE;
	struct stat st;
	int fd, r = 0, e;
	ssize_t n;

	snprintf(path, sizeof(path), "%u/%s", j->id, name);
	/* The call has ended, so its sizes are final: an empty stream (the
	 * usual stderr, a function that keeps its result in VM state)
	 * costs one stat, not an open, a read and a close. */
	if (fstatat(j->tg->callsfd, path, &st, 0) == 0 && st.st_size == 0)
		return 0;
	if ((fd = openat(j->tg->callsfd, path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -1;
			break;
		}
		map_put_output(m, j, out, h, buf, n, &bol);
		if (out == STDOUT_FILENO)
			j->received += n;
	}
	e = errno;
	close(fd);
	errno = e;
	return r;
}

/* A failed job says so on stderr, as GNU parallel's "This job failed". */
void
map_emit_status(struct job *j)
{
	const char *why;

	if (j->code == 0 || j->skipped)
		return;
	why = g_str_has_prefix(j->status, "failed ") ? j->status + 7
						    : j->status;
	bar_clear();
	fprintf(stderr, "%s: item %" G_GUINT64_FORMAT " failed (%s): %s\n",
		"trickle-map", j->seq, why, j->line);
}

/* --ordered: print the waiting calls whose turn has come. */
void
map_flush_ready(struct map *m, gboolean skip_holes)
{
	g_autoptr(GError) error = NULL;
	struct job *j;

	for (;;) {
		j = g_hash_table_lookup(m->ready, &m->print_seq);
		if (!j && skip_holes && g_hash_table_size(m->ready)) {
			m->print_seq++;
			continue;
		}
		if (!j)
			return;
		g_hash_table_steal(m->ready, &m->print_seq);
		if (j->out.len || j->err.len)
			bar_clear();	/* output does not share its line */
		if (!tc_release(&m->spill, &j->out, STDOUT_FILENO, &error) ||
		    !tc_release(&m->spill, &j->err, STDERR_FILENO, &error))
			map_output_failed(error);
		map_emit_status(j);
		job_free(j);
		m->print_seq++;
	}
}

