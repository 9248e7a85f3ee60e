/*
 * vminject.c - what is injected into one VM: installing a program or a
 * shared object (a library's functions listed, then loaded into the
 * worker through the load gate), replacing or removing one (which
 * restarts the VM), and adopting what a resumed session's inject/
 * already holds.
 */
#include "vm_priv.h"
#include "vet.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static gint
cmp_mtime(gconstpointer a, gconstpointer b, gpointer dir)
{
	g_autofree char *pa = g_build_filename(dir, *(char *const *)a, NULL);
	g_autofree char *pb = g_build_filename(dir, *(char *const *)b, NULL);
	struct stat sa, sb;

	if (stat(pa, &sa) < 0 || stat(pb, &sb) < 0)
		return 0;
	if (sa.st_mtim.tv_sec != sb.st_mtim.tv_sec)
		return sa.st_mtim.tv_sec < sb.st_mtim.tv_sec ? -1 : 1;
	return (sa.st_mtim.tv_nsec > sb.st_mtim.tv_nsec) -
	       (sa.st_mtim.tv_nsec < sb.st_mtim.tv_nsec);
}

/* Adopting a session: what its inject/ holds was installed (it passed its
 * checks then), in the order it came (mtime), so it is installed again. */
void
vminject_adopt(struct vmnode *vm)
{
	g_autoptr(GDir) d = g_dir_open(vm->inject_dir, 0, NULL);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const char *name;
	guint i;

	while (d && (name = g_dir_read_name(d)))
		if (*name != '.')	/* .part-N: a transfer cut off */
			g_ptr_array_add(names, g_strdup(name));
	g_ptr_array_sort_with_data(names, cmp_mtime, vm->inject_dir);
	for (i = 0; i < names->len; i++) {
		g_autoptr(GError) error = NULL;
		g_autofree char *path = g_build_filename(vm->inject_dir,
			names->pdata[i], NULL);
		enum inject_kind kind;
		struct stat st;

		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
		    !elfcheck_classify(path, st.st_mode & 07777, &kind,
				       &error)) {
			g_warning("vm%u: not adopting %s: %s", vm->index,
				  (char *)names->pdata[i],
				  error ? error->message : "not a file");
			continue;
		}
		vmnode_install(vm, names->pdata[i], kind, NULL);
	}
}

void
vmnode_install(struct vmnode *vm, const char *name, enum inject_kind kind,
	       const char *sum)
{
	g_autoptr(GPtrArray) fs = NULL;

	if (kind == INJECT_SHARED) {
		g_autoptr(GError) error = NULL;
		g_autofree char *path = g_build_filename(vm->inject_dir, name,
							 NULL);

		if (!(fs = elfsyms_functions(path, &error)))
			g_warning("vm%u: cannot list the functions of %s: %s",
				  vm->index, name, error->message);
	}
	if (vmnode_install_listed(vm, name, kind, sum, fs))
		vmnode_load(vm, name);
	vmfuncs_log_shadows(vm, name);
}

gboolean
vmnode_install_listed(struct vmnode *vm, const char *name,
		      enum inject_kind kind, const char *sum, GPtrArray *funcs)
{
	guint i;
	gboolean replaced = FALSE;

	for (i = 0; i < vm->libs->len; i++) {
		if (strcmp(vm->libs->pdata[i], name) == 0) {
			g_ptr_array_remove_index(vm->libs, i);
			replaced = TRUE;
			break;
		}
	}
	g_hash_table_remove(vm->programs, name);
	g_hash_table_remove(vm->lib_funcs, name);
	if (kind == INJECT_PROGRAM) {
		g_hash_table_add(vm->programs, g_strdup(name));
	} else {
		if (funcs)
			g_hash_table_insert(vm->lib_funcs, g_strdup(name),
					    g_ptr_array_ref(funcs));
		g_ptr_array_add(vm->libs, g_strdup(name));
	}
	/* A loaded object cannot be swapped in place: start over with the
	 * new one.  The VM's state is lost, as with any restart. */
	if (replaced) {
		g_message("vm%u: %s replaced, restarting the VM", vm->index,
			  name);
		vmnode_restart_when_idle(vm);
	}
	vmfuncs_note_sum(vm, name, sum);
	vmfuncs_send(vm);
	return kind == INJECT_SHARED && !replaced;
}

void
vmnode_load(struct vmnode *vm, const char *name)
{
	g_autofree char *path = NULL;

	if (!vm->ws)
		return;
	path = g_build_filename(vm->inject_dir, name, NULL);
	loadgate_owe(vm, path);
}

gboolean
vmnode_uninstall(struct vmnode *vm, const char *name, GError **error)
{
	g_autofree char *path = g_build_filename(vm->inject_dir, name, NULL);
	guint i;

	if (unlink(path) < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
			    "%s: %s", name, g_strerror(errno));
		return FALSE;
	}
	g_hash_table_remove(vm->lib_funcs, name);
	g_hash_table_remove(vm->sums, name);
	if (g_hash_table_remove(vm->programs, name)) {
		vmfuncs_send(vm);
		return TRUE;
	}
	for (i = 0; i < vm->libs->len; i++) {
		if (strcmp(vm->libs->pdata[i], name) == 0) {
			g_ptr_array_remove_index(vm->libs, i);
			g_message("vm%u: %s removed, restarting the VM",
				  vm->index, name);
			vmnode_restart_when_idle(vm);
			break;
		}
	}
	vmfuncs_send(vm);
	return TRUE;
}
