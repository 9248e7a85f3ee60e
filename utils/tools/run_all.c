/*
 * run_all.c - trickle-run --all: one line on MOUNT/.all/calls/new forks a
 * call on every VM; each VM's output is printed as its call ends, every
 * line labelled "VM: " as pdsh does, or with -b gathered: VMs whose
 * output is the same print it once, under a header naming them, as
 * clush -b (and dshbak -c) do.  The exit status is the largest of the
 * calls'.
 *
 * The calls' ends come from poll(2) on their result files, with the
 * signals let in only there (ppoll), so that SIGINT cancels every call.
 * Standard input, when it is forwarded, goes to every call (as clush
 * does): each is forked with TRICKLE_STDIN=1 and gets the same bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "run.h"

struct vm_call {
	char *vm;
	guint32 id;
	int callsfd;		/* MOUNT/VM/calls */
	int resultfd;		/* -1 once it has ended */
	int code;
	GString *out;		/* -b: its stdout */
};

static volatile sig_atomic_t all_signal;

static void
on_signal(int sig)
{
	if (!all_signal)
		all_signal = sig;
}

static void
vm_call_free(struct vm_call *c)
{
	if (c->resultfd >= 0)
		close(c->resultfd);
	if (c->callsfd >= 0)
		close(c->callsfd);
	if (c->out)
		g_string_free(c->out, TRUE);
	g_free(c->vm);
	g_free(c);
}

/* Write text to fd with "VM: " before every line (and a newline after a
 * last line without one).  FALSE with errno set if the write failed. */
static gboolean
write_labelled(int fd, const char *vm, const char *text, gsize len)
{
	g_autoptr(GString) s = g_string_sized_new(len + 64);
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		const char *e = nl ? nl : end;

		g_string_append_printf(s, "%s: ", vm);
		g_string_append_len(s, p, e - p);
		g_string_append_c(s, '\n');
		p = e + 1;
	}
	return fdio_write_all(fd, s->str, s->len) == 0;
}

/* The whole of one of an ended call's files. */
static GString *
read_all(int callsfd, guint32 id, const char *name)
{
	char path[32], buf[1 << 16];
	GString *s = g_string_new(NULL);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%u/%s", id, name);
	if ((fd = openat(callsfd, path, O_RDONLY | O_CLOEXEC)) < 0)
		return s;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		g_string_append_len(s, buf, n);
	}
	close(fd);
	return s;
}

/* A call has ended: its status, its output (printed, or kept for -b),
 * and it is forgotten.  FALSE if our output is closed. */
static gboolean
ended(struct vm_call *c, gboolean gather)
{
	g_autoptr(GString) err = NULL;
	g_autoptr(GString) out = NULL;
	g_autofree char *status = NULL;
	char path[32];
	int signo;
	gboolean ok = TRUE;

	snprintf(path, sizeof(path), "%u/status", c->id);
	if ((status = tc_read_small(c->callsfd, path, 4096, NULL)))
		tc_chomp(status);
	c->code = status ? tc_status_code(status, &signo) : -1;
	if (c->code < 0)
		c->code = TC_EXIT_OTHER;
	out = read_all(c->callsfd, c->id, "stdout");
	err = read_all(c->callsfd, c->id, "stderr");
	if (gather)
		c->out = g_steal_pointer(&out);
	else
		ok = write_labelled(STDOUT_FILENO, c->vm, out->str, out->len);
	if (ok)
		write_labelled(STDERR_FILENO, c->vm, err->str, err->len);
	if (c->code != 0)
		fprintf(stderr, "trickle-run: %s: %s\n", c->vm,
			status ? status : "no status");
	/* An open file of the call keeps it (EBUSY): close it first. */
	close(c->resultfd);
	c->resultfd = -1;
	snprintf(path, sizeof(path), "%u", c->id);
	if (unlinkat(c->callsfd, path, AT_REMOVEDIR) < 0)
		fprintf(stderr, "trickle-run: rmdir %s/calls/%s: %s\n", c->vm,
			path, strerror(errno));
	return ok;
}

static gint
by_vm(gconstpointer a, gconstpointer b)
{
	const struct vm_call *x = *(struct vm_call *const *)a;
	const struct vm_call *y = *(struct vm_call *const *)b;

	return strcmp(x->vm, y->vm);
}

static gint
by_number(gconstpointer a, gconstpointer b)
{
	guint x = *(const guint *)a, y = *(const guint *)b;

	return (x > y) - (x < y);
}

/*
 * VM names folded as clush folds a node set: local0 local1 local2 local5
 * are "local[0-2,5]"; a name without a number (or with a leading 0) is
 * itself.  names are sorted.
 */
static char *
fold_names(GPtrArray *names)
{
	GString *s = g_string_new(NULL);
	guint i = 0;

	while (i < names->len) {
		const char *n = names->pdata[i];
		gsize plen = strlen(n);
		guint k, first, last, v;

		while (plen && g_ascii_isdigit(n[plen - 1]))
			plen--;
		if (s->len)
			g_string_append_c(s, ',');
		if (!n[plen] || (n[plen] == '0' && n[plen + 1])) {
			g_string_append(s, n);
			i++;
			continue;
		}
		/* Every name with this prefix and a number, by number. */
		g_autoptr(GArray) nums = g_array_new(FALSE, FALSE,
						     sizeof(guint));
		for (k = i; k < names->len; k++) {
			const char *m = names->pdata[k];
			gsize ml = strlen(m);

			if (ml <= plen || strncmp(m, n, plen) != 0 ||
			    strspn(m + plen, "0123456789") != ml - plen ||
			    (m[plen] == '0' && m[plen + 1]))
				break;
			v = strtoul(m + plen, NULL, 10);
			g_array_append_val(nums, v);
		}
		i = k;
		g_array_sort(nums, by_number);
		if (nums->len == 1) {
			g_string_append_printf(s, "%.*s%u", (int)plen, n,
					       g_array_index(nums, guint, 0));
			continue;
		}
		g_string_append_printf(s, "%.*s[", (int)plen, n);
		for (k = 0; k < nums->len; k = last + 1) {
			first = last = k;
			while (last + 1 < nums->len &&
			       g_array_index(nums, guint, last + 1) ==
			       g_array_index(nums, guint, last) + 1)
				last++;
			g_string_append_printf(s, "%s%u", k ? "," : "",
					       g_array_index(nums, guint,
							     first));
			if (last > first)
				g_string_append_printf(s, "-%u",
					g_array_index(nums, guint, last));
		}
		g_string_append_c(s, ']');
	}
	return g_string_free(s, FALSE);
}

/* -b: each distinct output once, under the VMs that printed it. */
static gboolean
print_gathered(GPtrArray *calls)
{
	g_autoptr(GString) s = g_string_new(NULL);
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash,
						      g_str_equal);
	guint i, k;

	g_ptr_array_sort(calls, by_vm);
	for (i = 0; i < calls->len; i++) {
		struct vm_call *c = calls->pdata[i];
		g_autoptr(GPtrArray) names = g_ptr_array_new();
		g_autofree char *folded = NULL;

		if (g_hash_table_contains(seen, c->out->str))
			continue;
		g_hash_table_add(seen, c->out->str);
		for (k = i; k < calls->len; k++) {
			struct vm_call *d = calls->pdata[k];

			if (g_string_equal(d->out, c->out))
				g_ptr_array_add(names, d->vm);
		}
		folded = fold_names(names);
		g_string_append_printf(s, "---------------\n%s (%u)\n"
				       "---------------\n", folded,
				       names->len);
		g_string_append_len(s, c->out->str, c->out->len);
		if (c->out->len && c->out->str[c->out->len - 1] != '\n')
			g_string_append_c(s, '\n');
	}
	return fdio_write_all(STDOUT_FILENO, s->str, s->len) == 0;
}

static void cancel_rest(GPtrArray *calls);

/* Our stdin into every call's, to our end of file; closing them lets the
 * calls start.  FALSE (reported, or a signal came) on errors: then every
 * call is cancelled before its stdin is closed, so that none starts on
 * part of the input.  Signals are let in while we read (open_mask). */
static gboolean
send_stdin_all(GPtrArray *calls, const sigset_t *open_mask)
{
	g_autofree int *fds = g_new(int, calls->len);
	gboolean ok = TRUE;
	sigset_t blocked;
	char path[32];
	guint i, n = 0;
	int which;

	for (; n < calls->len && ok; n++) {
		struct vm_call *c = calls->pdata[n];

		snprintf(path, sizeof(path), "%u/stdin", c->id);
		if ((fds[n] = openat(c->callsfd, path, O_WRONLY |
				     O_CLOEXEC)) < 0) {
			fprintf(stderr, "trickle-run: %s/calls/%s: %s\n",
				c->vm, path, strerror(errno));
			ok = FALSE;
		}
	}
	sigprocmask(SIG_SETMASK, open_mask, &blocked);
	if (ok && tc_tee(STDIN_FILENO, fds, n, &all_signal, &which) < 0) {
		ok = FALSE;
		if (all_signal)		/* the caller says so */
			which = -2;
		if (which == -1)
			fprintf(stderr, "trickle-run: reading standard input: "
				"%s\n", strerror(errno));
		else if (which >= 0)
			fprintf(stderr, "trickle-run: %s/calls/%u/stdin: %s\n",
				((struct vm_call *)calls->pdata[which])->vm,
				((struct vm_call *)calls->pdata[which])->id,
				strerror(errno));
	}
	sigprocmask(SIG_SETMASK, &blocked, NULL);
	if (all_signal)
		ok = FALSE;
	for (i = 0; !ok && i < calls->len; i++) {
		struct vm_call *c = calls->pdata[i];

		snprintf(path, sizeof(path), "%u/ctl", c->id);
		tc_write_file(c->callsfd, path, "cancel\n");
	}
	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* Closed now, the calls can be forgotten. */
	if (!ok)
		cancel_rest(calls);
	return ok;
}

static void
cancel_rest(GPtrArray *calls)
{
	char path[32];
	guint i;

	for (i = 0; i < calls->len; i++) {
		struct vm_call *c = calls->pdata[i];

		if (c->resultfd < 0)
			continue;
		snprintf(path, sizeof(path), "%u/ctl", c->id);
		tc_write_file(c->callsfd, path, "cancel\n");
		close(c->resultfd);
		c->resultfd = -1;
		snprintf(path, sizeof(path), "%u", c->id);
		/* Cancelled calls end at once; forget what has. */
		unlinkat(c->callsfd, path, AT_REMOVEDIR);
	}
}

int
run_all(const char *mount, const char *line, gboolean gather,
	gboolean forward)
{
	g_autofree char *newpath = g_build_filename(mount, ".all", "calls",
						    "new", NULL);
	g_autoptr(GPtrArray) calls = g_ptr_array_new_with_free_func(
		(GDestroyNotify)vm_call_free);
	g_autoptr(GPtrArray) ids = NULL;
	g_autofree struct pollfd *p = NULL;
	sigset_t open_mask;
	int fd, worst = 0;
	guint i, left;

	tc_signals_for_ppoll(on_signal, &open_mask);

	if ((fd = open(newpath, O_RDWR | O_CLOEXEC)) < 0) {
		fprintf(stderr, "trickle-run: %s: %s\n", newpath,
			strerror(errno));
		return TC_EXIT_OTHER;
	}
	if (fdio_write_all(fd, line, strlen(line)) < 0 ||
	    !(ids = tc_read_ids(fd))) {
		fprintf(stderr, "trickle-run: %s: %s\n", newpath,
			strerror(errno));
		close(fd);
		return TC_EXIT_OTHER;
	}
	close(fd);
	for (i = 0; i < ids->len; i++) {
		struct vm_call *c = g_new0(struct vm_call, 1);
		g_autofree char *dir = NULL;
		char path[32];

		c->callsfd = c->resultfd = -1;
		g_ptr_array_add(calls, c);
		if (!tc_parse_call_id(ids->pdata[i], &c->vm, &c->id)) {
			fprintf(stderr, "trickle-run: %s: not a call id: %s\n",
				newpath, (char *)ids->pdata[i]);
			cancel_rest(calls);
			return TC_EXIT_OTHER;
		}
		dir = g_build_filename(mount, c->vm, "calls", NULL);
		snprintf(path, sizeof(path), "%u/result", c->id);
		if ((c->callsfd = open(dir, O_RDONLY | O_DIRECTORY |
				       O_CLOEXEC)) < 0 ||
		    (c->resultfd = openat(c->callsfd, path, O_RDONLY |
					  O_CLOEXEC)) < 0) {
			fprintf(stderr, "trickle-run: %s/%s: %s\n", dir, path,
				strerror(errno));
			cancel_rest(calls);
			return TC_EXIT_OTHER;
		}
	}
	if (!calls->len) {
		fprintf(stderr, "trickle-run: %s: no VM took the call\n",
			newpath);
		return TC_EXIT_OTHER;
	}
	if (forward && !send_stdin_all(calls, &open_mask))
		return all_signal ? 128 + all_signal : TC_EXIT_OTHER;
	p = g_new0(struct pollfd, calls->len);
	for (left = calls->len; left > 0;) {
		for (i = 0; i < calls->len; i++) {
			p[i].fd = ((struct vm_call *)calls->pdata[i])->resultfd;
			p[i].events = POLLIN;
			p[i].revents = 0;
		}
		if (ppoll(p, calls->len, NULL, &open_mask) < 0 &&
		    errno != EINTR) {
			fprintf(stderr, "trickle-run: poll: %s\n",
				strerror(errno));
			cancel_rest(calls);
			return TC_EXIT_OTHER;
		}
		if (all_signal) {
			cancel_rest(calls);
			return 128 + all_signal;
		}
		for (i = 0; i < calls->len; i++) {
			struct vm_call *c = calls->pdata[i];

			if (c->resultfd < 0 || !p[i].revents)
				continue;
			if (!ended(c, gather)) {
				cancel_rest(calls);
				return TC_EXIT_OTHER;
			}
			worst = MAX(worst, c->code);
			left--;
		}
	}
	if (gather && !print_gathered(calls))
		return TC_EXIT_OTHER;
	return worst;
}
