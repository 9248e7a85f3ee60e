/*
 * spool.c - a copy of what .all/inject/ installed, for VMs that join
 * later.
 *
 * .all/inject/ promises every VM the file, including VMs that are not
 * there yet.  The bytes went to the nodes as they were written and are
 * not kept in memory, so a copy is written here alongside (in a private
 * directory of this mount, removed at unmount) and replayed to each VM
 * that joins, or comes back after its node was unreachable and lacks it,
 * through its node's cache (injcache.c: VMs of one node that join
 * together get one copy, and a node that has it gets none).  The VM
 * shows the file in inject/ once its node has accepted it, and until
 * then .any sends it no call that needs it.
 */
#include "cluster.h"
#include "fdio.h"
#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* One file on its way to one VM. */
struct replay {
	struct vm *vm;
	struct injected *inj;
	struct install *install;	/* injcache.c */
};

const char *
spool_dir(struct cluster *fs)
{
	g_autoptr(GError) error = NULL;

	/* In the state directory: a remount finds it there. */
	if (!fs->spool_dir && journal_dir(fs)) {
		g_autofree char *d = g_build_filename(journal_dir(fs), "spool",
						      NULL);

		if (g_mkdir_with_parents(d, 0700) == 0)
			fs->spool_dir = g_steal_pointer(&d);
	}
	if (!fs->spool_dir &&
	    !(fs->spool_dir = g_dir_make_tmp("tricklefs-spool-XXXXXX",
					     &error)))
		g_warning("no spool for .all/inject/ (VMs that join later "
			  "will not get it): %s", error->message);
	return fs->spool_dir;
}

static char *
spool_path(struct cluster *fs, const char *name, gboolean partial)
{
	g_autofree char *base = g_strconcat(partial ? ".partial." : "", name,
					    NULL);

	return g_build_filename(fs->spool_dir, base, NULL);
}

int
spool_open(struct cluster *fs, const char *name)
{
	g_autofree char *path = NULL;
	int fd;

	if (!spool_dir(fs))
		return -1;
	path = spool_path(fs, name, TRUE);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		g_warning("spool %s: %s", path, g_strerror(errno));
	return fd;
}

/* Keep the copy once every VM has accepted the file, else drop it. */
void
spool_commit(struct cluster *fs, const char *name, int fd, gboolean ok)
{
	g_autofree char *partial = NULL, *path = NULL;

	if (fd < 0)
		return;
	partial = spool_path(fs, name, TRUE);
	path = spool_path(fs, name, FALSE);
	if (close(fd) < 0)
		ok = FALSE;
	if (ok && rename(partial, path) < 0) {
		g_warning("spool %s: %s", path, g_strerror(errno));
		ok = FALSE;
	}
	if (fs->spool_sums)
		g_hash_table_remove(fs->spool_sums, name);
	if (!ok) {
		unlink(partial);
	} else {
		struct injected *all = g_hash_table_lookup(fs->all->injected,
							   name);

		journal_all_inject(fs, name, all ? all->mode : 0644, TRUE);
	}
}

/* Add buf to the copy; on failure the copy is dropped (*fd = -1). */
void
spool_write(struct cluster *fs, const char *name, int *fd, const void *buf,
	    gsize len)
{
	if (*fd < 0 || fdio_write_all(*fd, buf, len) == 0)
		return;
	g_warning("spool of .all/inject/%s: %s (VMs that join later will not "
		  "get it)", name, g_strerror(errno));
	spool_commit(fs, name, *fd, FALSE);
	*fd = -1;
}

void
spool_remove(struct cluster *fs, const char *name)
{
	g_autofree char *path = NULL;

	if (!fs->spool_dir)
		return;
	path = spool_path(fs, name, FALSE);
	unlink(path);
	if (fs->spool_sums)
		g_hash_table_remove(fs->spool_sums, name);
	journal_all_inject(fs, name, 0, FALSE);
}

static void
replay_free(struct replay *r)
{
	r->vm->fs->replays = g_list_remove(r->vm->fs->replays, r);
	inject_install_cancel(r->install);
	vm_injected_unref(r->vm, r->inj);
	g_free(r);
}

static void
on_replayed(void *data, int err, const char *msg)
{
	struct replay *r = data;
	struct injected *all = g_hash_table_lookup(r->vm->fs->all->injected,
						   r->inj->name);

	r->install = NULL;
	if (err == EHOSTUNREACH || err == ECONNRESET) {
		/* Away: the VM gets it once its node is back
		 * (spool_replay). */
	} else if (err) {
		g_warning("%s: .all/inject/%s refused: %s", r->vm->name,
			  r->inj->name, msg);
	} else {
		r->inj->installed = TRUE;
		r->inj->mtime = time(NULL);
		r->inj->size = all ? all->size : 0;
		g_message("%s: given .all/inject/%s", r->vm->name,
			  r->inj->name);
	}
	replay_free(r);
}

/* The SHA-256 of the spool's copy of name: taken once. */
static const char *
spool_sum(struct cluster *fs, const char *name, const char *path)
{
	g_autoptr(GError) error = NULL;
	char *sum;

	if (!fs->spool_sums)
		fs->spool_sums = g_hash_table_new_full(g_str_hash, g_str_equal,
						       g_free, g_free);
	if ((sum = g_hash_table_lookup(fs->spool_sums, name)))
		return sum;
	if (!(sum = sha256_file(path, &error))) {
		g_warning("cannot give .all/inject/%s: %s", name,
			  error->message);
		return NULL;
	}
	g_hash_table_insert(fs->spool_sums, g_strdup(name), sum);
	return sum;
}

static void
replay_one(struct vm *vm, const struct injected *all)
{
	struct cluster *fs = vm->fs;
	g_autofree char *path = spool_path(fs, all->name, FALSE);
	const char *sum = spool_sum(fs, all->name, path);
	struct replay *r;

	if (!sum)
		return;
	r = g_new0(struct replay, 1);
	fs->replays = g_list_prepend(fs->replays, r);
	r->vm = vm;
	r->inj = vm_injected_add(vm, all->name, all->mode);
	r->inj->writers++;
	r->install = inject_install(vm, all->name, all->mode, path, sum,
				    on_replayed, r);
}

void
spool_give_rest(struct cluster *fs, const struct injected *all, GPtrArray *had)
{
	guint i;

	if (!spool_dir(fs))
		return;
	for (i = 0; i < fs->vms->len; i++) {
		struct vm *vm = fs->vms->pdata[i];

		if (vm_open(vm) && vm->host->state == HOST_UP &&
		    !g_ptr_array_find(had, vm, NULL))
			replay_one(vm, all);
	}
}

void
spool_replay(struct vm *vm)
{
	struct cluster *fs = vm->fs;
	GHashTableIter it;
	gpointer val;

	if (!spool_dir(fs))
		return;
	g_hash_table_iter_init(&it, fs->all->injected);
	while (g_hash_table_iter_next(&it, NULL, &val)) {
		struct injected *all = val, *mine;

		/* A VM back from unreachable may have it already. */
		mine = g_hash_table_lookup(vm->injected, all->name);
		if (all->installed && !(mine && (mine->installed ||
						 mine->writers)))
			replay_one(vm, all);
	}
}

static void
on_event(void *data, const struct cluster_event *ev)
{
	if (ev->type == CL_VM_JOINED)
		spool_replay(ev->vm);
}

void
spool_init(struct cluster *fs)
{
	cluster_listen(fs, on_event, fs);
}

void
spool_cleanup(struct cluster *fs)
{
	g_autoptr(GDir) dir = NULL;
	const char *name;
	GList *l, *next;

	/* Before the hosts and VMs go: a replay points at its VM. */
	for (l = fs->replays; l; l = next) {
		next = l->next;
		replay_free(l->data);
	}
	g_clear_pointer(&fs->spool_sums, g_hash_table_unref);
	if (!fs->spool_dir)
		return;
	if (fs->keep_sessions) {	/* for the next mount of the state */
		g_clear_pointer(&fs->spool_dir, g_free);
		return;
	}
	if ((dir = g_dir_open(fs->spool_dir, 0, NULL)))
		while ((name = g_dir_read_name(dir))) {
			g_autofree char *p = g_build_filename(fs->spool_dir,
							      name, NULL);
			unlink(p);
		}
	rmdir(fs->spool_dir);
	g_clear_pointer(&fs->spool_dir, g_free);
}
