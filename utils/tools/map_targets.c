/*
 * map_targets.c - where trickle-map forks its calls, and forgetting them.
 *
 * Calls go to MOUNT/.any (the first VM with room runs each), or to one VM
 * with --vm.  With files to transfer (--transferfile, --return) a call
 * must run where its files were copied, and a .any call's VM is known
 * only once it has started, too late to copy anything; so trickle-map
 * picks the VM itself: among the VMs .ctl lists as up (or starting) that
 * have FUNC in their functions/, the one with the fewest of our calls
 * outstanding, round-robin between equals.  Each VM runs its calls one
 * at a time, so a fast VM empties its queue sooner and gets the next
 * call: the paper's forkwork, as .any does it.  .ctl is read again at
 * most once a second.
 *
 * An ended call is forgotten with rmdir.  While its node is unreachable
 * the mount cannot tell the node and refuses (EHOSTUNREACH); such calls
 * are tried again later, and at the end for a few seconds, and the ones
 * left are named on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "map.h"

#define REFRESH_EVERY	1.0	/* seconds between reads of .ctl */
#define FORGET_EVERY	0.5	/* seconds between retries of rmdir */

static const char *prog = "trickle-map";

struct unforgotten {
	struct target *t;
	guint32 id;
};

struct targets {
	char *mount;
	char *func;		/* VMs must have it; NULL: no check */
	gboolean pick;		/* VMs chosen here, not by .any */
	GPtrArray *all;		/* struct target, index = place */
	guint next;		/* round-robin start */
	double refreshed;	/* tc_mono() of the last read of .ctl */
	gboolean ever_refreshed;
	GArray *unforgotten;	/* struct unforgotten */
	double forget_tried;
};

static void
target_free(struct target *t)
{
	if (t->callsfd >= 0)
		close(t->callsfd);
	if (t->newfd >= 0)
		close(t->newfd);
	g_free(t->name);
	g_free(t->dir);
	g_free(t);
}

static struct target *
target_add(struct targets *ts, const char *name)
{
	struct target *t = g_new0(struct target, 1);

	t->name = g_strdup(name);
	t->dir = g_build_filename(ts->mount, name, NULL);
	t->callsfd = t->newfd = -1;
	t->index = ts->all->len;
	g_ptr_array_add(ts->all, t);
	return t;
}

/* Open its calls/ and calls/new (once). */
static gboolean
target_open(struct target *t, GError **error)
{
	g_autofree char *calls = g_build_filename(t->dir, "calls", NULL);
	g_autofree char *newpath = g_build_filename(calls, "new", NULL);

	if (t->newfd >= 0)
		return TRUE;
	if (t->callsfd < 0 &&
	    (t->callsfd = open(calls, O_RDONLY | O_DIRECTORY |
			       O_CLOEXEC)) < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
			    "%s: %s", calls, g_strerror(errno));
		return FALSE;
	}
	if ((t->newfd = open(newpath, O_RDWR | O_CLOEXEC)) < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
			    "%s: %s", newpath, g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

struct targets *
targets_open(const char *mount, const char *vm, const char *func,
	     gboolean pick, GError **error)
{
	struct targets *ts = g_new0(struct targets, 1);
	g_autofree char *dir = NULL;

	ts->mount = g_strdup(mount);
	ts->all = g_ptr_array_new_with_free_func((GDestroyNotify)target_free);
	ts->unforgotten = g_array_new(FALSE, FALSE,
				      sizeof(struct unforgotten));
	/* --vm VM, or .any: one target, checked now. */
	if (vm || !pick) {
		if (!(dir = tc_calls_parent(mount, vm, error)) ||
		    !target_open(target_add(ts, tc_done_prefix(vm)), error)) {
			targets_free(ts);
			return NULL;
		}
		((struct target *)ts->all->pdata[0])->usable = TRUE;
		return ts;
	}
	ts->pick = TRUE;
	ts->func = g_strdup(func);
	return ts;
}

void
targets_free(struct targets *ts)
{
	if (!ts)
		return;
	g_ptr_array_unref(ts->all);
	g_array_unref(ts->unforgotten);
	g_free(ts->mount);
	g_free(ts->func);
	g_free(ts);
}

struct target *
targets_find(struct targets *ts, const char *name, gsize len)
{
	for (guint i = 0; i < ts->all->len; i++) {
		struct target *t = ts->all->pdata[i];

		if (strlen(t->name) == len && strncmp(t->name, name, len) == 0)
			return t;
	}
	return NULL;
}

struct target *
targets_get(struct targets *ts, guint index)
{
	return index < ts->all->len ? ts->all->pdata[index] : NULL;
}

/* Does VM have FUNC (a built-in, or injected code)? */
static gboolean
has_func(struct targets *ts, const char *vm)
{
	g_autofree char *path = NULL;
	struct stat st;

	if (!ts->func)
		return TRUE;
	path = g_build_filename(ts->mount, vm, "functions", ts->func, NULL);
	return stat(path, &st) == 0;
}

/* Read .ctl: every VM that is up (or on its way) and has FUNC is usable.
 * *coming: some VM may yet become usable (not up yet, or unreachable). */
static void
refresh(struct targets *ts, gboolean *coming)
{
	g_autofree char *ctl = g_build_filename(ts->mount, ".ctl", NULL);
	g_autofree char *text = tc_read_small(AT_FDCWD, ctl, 1 << 20, NULL);
	g_auto(GStrv) lines = NULL;

	ts->refreshed = tc_mono();
	ts->ever_refreshed = TRUE;
	*coming = FALSE;
	for (guint i = 0; i < ts->all->len; i++)
		((struct target *)ts->all->pdata[i])->usable = FALSE;
	if (!text) {
		fprintf(stderr, "%s: %s: %s\n", prog, ctl, g_strerror(errno));
		*coming = TRUE;
		return;
	}
	lines = g_strsplit(text, "\n", -1);
	/* No VM yet (a discovering mount): some may come. */
	*coming = !lines[0] || !*lines[0];
	for (char **l = lines; *l; l++) {
		g_auto(GStrv) f = g_strsplit_set(*l, " \t", -1);
		struct target *t;
		gboolean up;

		/* NAME HOST STATE QUEUED RUNNING DONE FAILED */
		if (g_strv_length(f) < 3 || !*f[0] || f[0][0] == '.')
			continue;
		up = strcmp(f[2], "up") == 0 || strcmp(f[2], "starting") == 0 ||
		     strcmp(f[2], "restarting") == 0;
		if (strcmp(f[2], "unreachable") == 0 ||
		    strcmp(f[2], "starting") == 0)
			*coming = TRUE;
		if (!up)
			continue;
		if (!has_func(ts, f[0]))
			continue;
		if (!(t = targets_find(ts, f[0], strlen(f[0]))))
			t = target_add(ts, f[0]);
		t->usable = TRUE;
	}
}

struct target *
targets_pick(struct targets *ts, GError **error)
{
	g_autoptr(GError) why = NULL;
	struct target *best = NULL;
	gboolean coming = TRUE;
	guint n = ts->all->len;

	/* The one target: after its node was found away, again a second
	 * later. */
	if (!ts->pick) {
		best = ts->all->pdata[0];
		if (!best->usable && tc_mono() - ts->refreshed < REFRESH_EVERY)
			return NULL;
		best->usable = TRUE;
		return best;
	}
	if (!ts->ever_refreshed || tc_mono() - ts->refreshed >= REFRESH_EVERY)
		refresh(ts, &coming);
	else
		coming = TRUE;	/* looked lately: wait for the next look */
	n = ts->all->len;
	for (guint k = 0; k < n; k++) {
		struct target *t = ts->all->pdata[(ts->next + k) % n];

		if (!t->usable)
			continue;
		if (!target_open(t, &why)) {
			fprintf(stderr, "%s: %s\n", prog, why->message);
			g_clear_error(&why);
			t->usable = FALSE;
			continue;
		}
		if (!best || t->outstanding < best->outstanding)
			best = t;
	}
	if (best) {
		ts->next = (best->index + 1) % n;
		return best;
	}
	if (!coming && ts->func)
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
			    "no VM that is up has function %s (in "
			    "%s/VM/functions/)", ts->func, ts->mount);
	else if (!coming)
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
			    "no VM is up (%s/.ctl)", ts->mount);
	return NULL;
}

void
targets_unusable(struct targets *ts, struct target *t)
{
	t->usable = FALSE;
	if (!ts->pick)
		ts->refreshed = tc_mono();
}

/* ---------------------------------------------------------------- forget */

static int
forget(struct target *t, guint32 id)
{
	char name[16];

	snprintf(name, sizeof(name), "%u", id);
	return unlinkat(t->callsfd, name, AT_REMOVEDIR) < 0 ? errno : 0;
}

void
targets_forget(struct targets *ts, struct target *t, guint32 id)
{
	struct unforgotten u = { t, id };
	int err = forget(t, id);

	if (err == EHOSTUNREACH)
		g_array_append_val(ts->unforgotten, u);
	else if (err)
		fprintf(stderr, "%s: rmdir %s/calls/%u: %s\n", prog, t->dir,
			id, g_strerror(err));
}

guint
targets_forget_again(struct targets *ts)
{
	guint i = 0;

	if (!ts->unforgotten->len ||
	    tc_mono() - ts->forget_tried < FORGET_EVERY)
		return ts->unforgotten->len;
	ts->forget_tried = tc_mono();
	while (i < ts->unforgotten->len) {
		struct unforgotten *u = &g_array_index(ts->unforgotten,
						       struct unforgotten, i);
		int err = forget(u->t, u->id);

		if (err == EHOSTUNREACH) {
			i++;
			continue;
		}
		if (err)
			fprintf(stderr, "%s: rmdir %s/calls/%u: %s\n", prog,
				u->t->dir, u->id, g_strerror(err));
		g_array_remove_index(ts->unforgotten, i);
	}
	return ts->unforgotten->len;
}

void
targets_forget_wait(struct targets *ts, double secs, const sigset_t *mask)
{
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	double end = tc_mono() + secs;
	GString *left;

	while (targets_forget_again(ts) && tc_mono() < end)
		if (ppoll(NULL, 0, &tick, mask) < 0 && errno == EINTR)
			break;
	if (!ts->unforgotten->len)
		return;
	left = g_string_new(NULL);
	for (guint i = 0; i < ts->unforgotten->len; i++) {
		struct unforgotten *u = &g_array_index(ts->unforgotten,
						       struct unforgotten, i);

		g_string_append_printf(left, " %s/calls/%u", u->t->dir, u->id);
	}
	fprintf(stderr, "%s: %u ended calls are not forgotten (their node is "
		"unreachable; rmdir them later):%s\n", prog,
		ts->unforgotten->len, left->str);
	g_string_free(left, TRUE);
}
