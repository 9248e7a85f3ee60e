/*
 * vmnode.c - one VM on the node side: its directory, its worker process
 * and its queue of calls.
 *
 * The VM runs one call at a time, in order.  Injected shared objects are
 * loaded into the worker in the order they came; when the worker dies
 * (a call crashed, or a replaced library must be unloaded) a new one is
 * started and loads them all again before it takes the next call.
 */
#include "node.h"
#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gio/gio.h>

struct ncall {
	guint32 id;
	char **argv;
};

struct vmnode {
	struct node *node;
	guint index;
	char *dir, *inject_dir, *calls_dir, *data_dir;

	GPid pid;			/* worker; 0 while there is none */
	struct fdstream *ws;
	struct wire_decoder dec;
	guint child_watch;
	guint restart_timer;
	guint crashes;			/* in a row, for back-off */
	gboolean restart_pending;	/* once the running call ends */
	gint64 started;

	GQueue queue;			/* struct ncall *, waiting */
	struct ncall *running;
	GPtrArray *libs;		/* names of shared objects, in order */
	GHashTable *programs;		/* names of injected programs */
};

static void spawn_worker(struct vmnode *vm);
static void restart(struct vmnode *vm);

static void
ncall_free(struct ncall *c)
{
	g_strfreev(c->argv);
	g_free(c);
}

static void
send_vm_state(struct vmnode *vm, guint state, const char *detail)
{
	node_send(vm->node, WIRE_VM_STATE, vm->index, 0,
		  g_variant_new("(yus)", state, (guint32)vm->pid, detail));
}

static guint64
file_size(const char *dir, guint32 id, const char *name)
{
	g_autofree char *p = g_strdup_printf("%s/%u/%s", dir, id, name);
	struct stat st;

	return stat(p, &st) == 0 ? (guint64)st.st_size : 0;
}

static void
send_call_state(struct vmnode *vm, guint32 id, guint state, int code,
		const char *detail)
{
	node_send(vm->node, WIRE_CALL_STATE, vm->index, id,
		  g_variant_new("(ysitt)", state, detail, code,
				file_size(vm->calls_dir, id, "stdout"),
				file_size(vm->calls_dir, id, "stderr")));
}

static void
pump(struct vmnode *vm)
{
	struct ncall *c;
	g_autofree char *dir = NULL;
	g_autofree char *prog = NULL;
	GByteArray *f = vm->node->frame;

	if (vm->running || !vm->ws || vm->restart_pending ||
	    !(c = g_queue_pop_head(&vm->queue)))
		return;
	vm->running = c;
	dir = g_strdup_printf("%s/%u", vm->calls_dir, c->id);
	if (c->argv[0] && g_hash_table_contains(vm->programs, c->argv[0]))
		prog = g_build_filename(vm->inject_dir, c->argv[0], NULL);
	g_byte_array_set_size(f, 0);
	wire_encode(f, WIRE_W_RUN, vm->index, c->id,
		    g_variant_new("(ss^as^as)", dir, prog ? prog : "",
				  c->argv, (char *[]){ NULL }));
	fdstream_write(vm->ws, f->data, f->len);
	send_call_state(vm, c->id, CALL_RUNNING, 0, "");
}

static void
finish_running(struct vmnode *vm, guint state, int code, const char *detail)
{
	struct ncall *c = vm->running;

	if (!c)
		return;
	vm->running = NULL;
	send_call_state(vm, c->id, state, code, detail);
	ncall_free(c);
}

static void
on_worker_msg(struct vmnode *vm, struct wire_msg *m)
{
	const char *detail;
	guint8 state;
	int code;

	switch (m->type) {
	case WIRE_W_LOADED:
		g_variant_get(m->body, "(i&s)", &code, &detail);
		if (code)
			g_warning("vm%u: loading failed: %s", vm->index,
				  detail);
		break;
	case WIRE_W_DONE:
		if (!vm->running || vm->running->id != m->tag) {
			g_warning("vm%u: result for call %u not running",
				  vm->index, m->tag);
			break;
		}
		g_variant_get(m->body, "(yi&s)", &state, &code, &detail);
		vm->crashes = 0;
		finish_running(vm, state == CALL_DONE ? CALL_DONE
			       : CALL_FAILED, code, detail);
		if (vm->restart_pending)
			restart(vm);
		else
			pump(vm);
		break;
	default:
		g_warning("vm%u: unexpected %s from worker", vm->index,
			  wire_type_name(m->type));
	}
}

static void
on_worker_data(void *user, const guint8 *data, gsize len)
{
	struct vmnode *vm = user;
	g_autoptr(GError) error = NULL;
	struct wire_msg m;
	int r;

	wire_decoder_feed(&vm->dec, data, len);
	while (vm->ws && (r = wire_decoder_next(&vm->dec, &m, &error)) == 1) {
		on_worker_msg(vm, &m);
		wire_msg_clear(&m);
	}
	if (error) {
		g_warning("vm%u: worker: %s", vm->index, error->message);
		kill(-vm->pid, SIGKILL);
	}
}

static void
on_worker_closed(void *user, const GError *error)
{
	/* The child watch says how it ended; nothing to do here. */
}

static const struct fdstream_callbacks worker_cb = {
	.data = on_worker_data,
	.closed = on_worker_closed,
};

static gboolean
restart_cb(gpointer data)
{
	struct vmnode *vm = data;

	vm->restart_timer = 0;
	spawn_worker(vm);
	return G_SOURCE_REMOVE;
}

static void
on_worker_exit(GPid pid, int status, gpointer data)
{
	struct vmnode *vm = data;
	g_autofree char *why = NULL;
	guint delay;

	vm->child_watch = 0;
	g_spawn_close_pid(pid);
	/* Its programs die with it: calls never outlive their VM. */
	kill(-pid, SIGKILL);
	if (WIFSIGNALED(status))
		why = signal_description(WTERMSIG(status));
	else
		why = g_strdup_printf("exit %d", WEXITSTATUS(status));
	g_clear_pointer(&vm->ws, fdstream_free);
	wire_decoder_clear(&vm->dec);
	vm->pid = 0;
	vm->restart_pending = FALSE;
	if (vm->node->shutdown)
		return;
	g_message("vm%u: worker %d ended (%s)%s", vm->index, pid, why,
		  vm->running ? " during a call" : "");
	finish_running(vm, CALL_FAILED,
		       WIFSIGNALED(status) ? 128 + WTERMSIG(status)
					   : WEXITSTATUS(status), why);
	/* Back off when it dies over and over, e.g. a library whose
	 * constructor crashes, instead of spinning. */
	if (g_get_monotonic_time() - vm->started < G_USEC_PER_SEC)
		vm->crashes++;
	else
		vm->crashes = 0;
	delay = vm->crashes ? MIN(100u << MIN(vm->crashes, 6u), 5000u) : 0;
	send_vm_state(vm, VM_RESTARTING, why);
	vm->restart_timer = g_timeout_add(delay, restart_cb, vm);
}

static void
child_setup(gpointer data)
{
	/* A group of its own, so that stopping the VM stops its programs. */
	setpgid(0, 0);
}

static void
load(struct vmnode *vm, const char *name)
{
	g_autofree char *path = g_build_filename(vm->inject_dir, name, NULL);
	GByteArray *f = vm->node->frame;

	g_byte_array_set_size(f, 0);
	wire_encode(f, WIRE_W_LOAD, vm->index, 0, g_variant_new_string(path));
	fdstream_write(vm->ws, f->data, f->len);
}

static void
spawn_worker(struct vmnode *vm)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *index = g_strdup_printf("%u", vm->index);
	g_auto(GStrv) envp = g_environ_setenv(g_get_environ(), "TRICKLE_VM",
					      index, TRUE);
	char *argv[] = { vm->node->self, "--worker", NULL };
	int sv[2], target = 3;
	guint i;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		send_vm_state(vm, VM_DOWN, g_strerror(errno));
		return;
	}
	if (!g_spawn_async_with_pipes_and_fds(vm->data_dir,
		    (const char *const *)argv, (const char *const *)envp,
		    G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL |
		    G_SPAWN_STDOUT_TO_DEV_NULL, child_setup, NULL,
		    -1, -1, -1, &sv[1], &target, 1, &vm->pid,
		    NULL, NULL, NULL, &error)) {
		close(sv[0]);
		close(sv[1]);
		g_warning("vm%u: cannot start worker: %s", vm->index,
			  error->message);
		send_vm_state(vm, VM_DOWN, error->message);
		return;
	}
	close(sv[1]);
	vm->started = g_get_monotonic_time();
	wire_decoder_init(&vm->dec);
	vm->ws = fdstream_new(sv[0], sv[0], &worker_cb, vm);
	vm->child_watch = g_child_watch_add(vm->pid, on_worker_exit, vm);
	for (i = 0; i < vm->libs->len; i++)
		load(vm, vm->libs->pdata[i]);
	send_vm_state(vm, VM_UP, "");
	pump(vm);
}

/* End the worker once it is idle; on_worker_exit starts the next one. */
static void
restart(struct vmnode *vm)
{
	vm->restart_pending = TRUE;
	if (!vm->running && vm->pid)
		kill(-vm->pid, SIGKILL);
}

struct vmnode *
vmnode_new(struct node *n, guint index, GError **error)
{
	struct vmnode *vm = g_new0(struct vmnode, 1);
	const char *const *d;

	vm->node = n;
	vm->index = index;
	vm->dir = g_strdup_printf("%s/vm%u", n->dir, index);
	vm->inject_dir = g_build_filename(vm->dir, "inject", NULL);
	vm->calls_dir = g_build_filename(vm->dir, "calls", NULL);
	vm->data_dir = g_build_filename(vm->dir, "data", NULL);
	vm->libs = g_ptr_array_new_with_free_func(g_free);
	vm->programs = g_hash_table_new_full(g_str_hash, g_str_equal,
					     g_free, NULL);
	g_queue_init(&vm->queue);
	for (d = (const char *const[]){ vm->inject_dir, vm->calls_dir,
					vm->data_dir, NULL }; *d; d++) {
		if (g_mkdir_with_parents(*d, 0700) < 0) {
			g_set_error(error, G_FILE_ERROR,
				    g_file_error_from_errno(errno),
				    "cannot create %s: %s", *d,
				    g_strerror(errno));
			vmnode_free(vm);
			return NULL;
		}
	}
	spawn_worker(vm);
	return vm;
}

void
vmnode_free(struct vmnode *vm)
{
	if (!vm)
		return;
	if (vm->child_watch)
		g_source_remove(vm->child_watch);
	if (vm->restart_timer)
		g_source_remove(vm->restart_timer);
	if (vm->pid) {
		kill(-vm->pid, SIGKILL);
		waitpid(vm->pid, NULL, 0);
		g_spawn_close_pid(vm->pid);
		wire_decoder_clear(&vm->dec);
	}
	fdstream_free(vm->ws);
	if (vm->running)
		ncall_free(vm->running);
	g_queue_clear_full(&vm->queue, (GDestroyNotify)ncall_free);
	g_ptr_array_unref(vm->libs);
	g_hash_table_unref(vm->programs);
	g_free(vm->dir);
	g_free(vm->inject_dir);
	g_free(vm->calls_dir);
	g_free(vm->data_dir);
	g_free(vm);
}

const char *
vmnode_data_dir(struct vmnode *vm)
{
	return vm->data_dir;
}

const char *
vmnode_inject_dir(struct vmnode *vm)
{
	return vm->inject_dir;
}

void
vmnode_call(struct vmnode *vm, guint32 id, char **argv)
{
	g_autofree char *dir = g_strdup_printf("%s/%u", vm->calls_dir, id);
	g_autofree char *args = g_strjoinv(" ", argv);
	g_autofree char *argsfile = g_build_filename(dir, "args", NULL);
	struct ncall *c;
	const char *const *f;

	if (g_mkdir_with_parents(dir, 0700) < 0 ||
	    !g_file_set_contents(argsfile, args, -1, NULL)) {
		send_call_state(vm, id, CALL_FAILED, -1, "cannot create the "
				"call's directory on the node");
		return;
	}
	/* The output files exist from the start: reading a queued call's
	 * stdout gives nothing rather than an error. */
	for (f = (const char *const[]){ "stdout", "stderr", NULL }; *f; f++) {
		g_autofree char *p = g_build_filename(dir, *f, NULL);
		g_file_set_contents(p, "", 0, NULL);
	}
	c = g_new0(struct ncall, 1);
	c->id = id;
	c->argv = g_strdupv(argv);
	g_queue_push_tail(&vm->queue, c);
	pump(vm);
}

void
vmnode_install(struct vmnode *vm, const char *name, enum inject_kind kind)
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
	if (kind == INJECT_PROGRAM) {
		g_hash_table_add(vm->programs, g_strdup(name));
	} else {
		g_ptr_array_add(vm->libs, g_strdup(name));
		if (vm->ws && !replaced)
			load(vm, name);
	}
	/* A loaded object cannot be swapped in place: start over with the
	 * new one.  The VM's state is lost, as with any restart. */
	if (replaced) {
		g_message("vm%u: %s replaced, restarting the VM", vm->index,
			  name);
		restart(vm);
	}
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
	if (g_hash_table_remove(vm->programs, name))
		return TRUE;
	for (i = 0; i < vm->libs->len; i++) {
		if (strcmp(vm->libs->pdata[i], name) == 0) {
			g_ptr_array_remove_index(vm->libs, i);
			g_message("vm%u: %s removed, restarting the VM",
				  vm->index, name);
			restart(vm);
			break;
		}
	}
	return TRUE;
}

char *
vmnode_call_file(struct vmnode *vm, guint32 id, guint stream)
{
	return g_strdup_printf("%s/%u/%s", vm->calls_dir, id,
			       stream == WIRE_STDERR ? "stderr" : "stdout");
}
