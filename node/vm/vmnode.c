/*
 * vmnode.c - one VM on the node side: its directories, its worker
 * process and the objects its worker holds.  Its calls are in
 * vmcalls.c, what is injected into it in vminject.c.
 *
 * Injected shared objects are loaded into the worker in the order they
 * came; when the worker dies (a call crashed, or a replaced library must
 * be unloaded) a new one is started and loads them all again before it
 * takes the next call.  A worker that keeps dying at once is started
 * again after a growing delay rather than in a loop.
 *
 * The worker is stopped (a call cancelled or timed out, the VM
 * restarted) with SIGTERM to its process group, which holds the programs
 * it runs too, then SIGKILL after STOP_GRACE_MS.
 */
#include "vm_priv.h"
#include "worker.h"
#include "evset.h"
#include "fdlimit.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <gio/gio.h>

#define STOP_GRACE_MS 2000

static void spawn_worker(struct vmnode *vm);

void
vmnode_send(struct vmnode *vm, guint type, guint32 tag, GVariant *body)
{
	vm->host->send(vm->host->data, type, vm->index, tag, body);
}

void
vmnode_send_bytes(struct vmnode *vm, guint type, guint32 tag,
		  const void *data, gsize len)
{
	vm->host->send_bytes(vm->host->data, type, vm->index, tag, data, len);
}

void
vmnode_to_worker(struct vmnode *vm, guint type, guint32 tag, GVariant *body)
{
	GByteArray *f = vm->wframe;

	/* A call after the code it may need. */
	if (type != WIRE_W_LOAD)
		loadgate_flush(vm);
	g_byte_array_set_size(f, 0);
	wire_encode(f, type, vm->index, tag, body);
	fdstream_write(vm->ws, f->data, f->len);
}

void
vmnode_reply(struct vmnode *vm, guint32 tag, int err, const char *msg)
{
	vmnode_send(vm, WIRE_REPLY, tag, g_variant_new("(is)", err, msg));
}

void
vmnode_reply_all(struct vmnode *vm, GArray *tags, int err, const char *msg)
{
	guint i;

	for (i = 0; i < tags->len; i++)
		vmnode_reply(vm, g_array_index(tags, guint32, i), err, msg);
	g_array_set_size(tags, 0);
}

static void
send_vm_state(struct vmnode *vm, guint state, const char *detail)
{
	vmnode_send(vm, WIRE_VM_STATE, 0,
		    g_variant_new("(yus)", state, (guint32)vm->pid, detail));
}

/* Objects. */

/* The VM's objects are now list (a(uss), consumed if floating): keep it
 * and tell the client. */
static void
set_objects(struct vmnode *vm, GVariant *list)
{
	GVariantIter it;
	guint32 id;

	list = g_variant_ref_sink(list);
	g_variant_iter_init(&it, list);
	while (g_variant_iter_next(&it, "(u&s&s)", &id, NULL, NULL))
		if (id >= vm->next_object && id < G_MAXUINT32)
			vm->next_object = id + 1;
	g_clear_pointer(&vm->objects, g_variant_unref);
	vm->objects = list;
	vmnode_send(vm, WIRE_OBJECTS, 0, list);
}

static gboolean
has_object(struct vmnode *vm, guint32 id)
{
	GVariantIter it;
	guint32 i;

	if (!vm->objects)
		return FALSE;
	g_variant_iter_init(&it, vm->objects);
	while (g_variant_iter_next(&it, "(u&s&s)", &i, NULL, NULL))
		if (i == id)
			return TRUE;
	return FALSE;
}

static gboolean
remove_tag(GArray *tags, guint32 tag)
{
	guint i;

	for (i = 0; i < tags->len; i++) {
		if (g_array_index(tags, guint32, i) == tag) {
			g_array_remove_index(tags, i);
			return TRUE;
		}
	}
	return FALSE;
}

/* The worker. */

/* Signal the worker's process group (its programs too). */
static void
signal_worker(struct vmnode *vm, int sig)
{
	if (vm->pid && kill(-vm->pid, sig) < 0)
		kill(vm->pid, sig);
}

static gboolean
kill_cb(gpointer data)
{
	struct vmnode *vm = data;

	vm->kill_timer = 0;
	g_message("vm%u: worker %d still there after %d ms, killing it",
		  vm->index, vm->pid, STOP_GRACE_MS);
	signal_worker(vm, SIGKILL);
	return G_SOURCE_REMOVE;
}

/* End the worker now, and with it whatever it runs. */
void
vmnode_stop_worker(struct vmnode *vm)
{
	if (!vm->pid || vm->stopping)
		return;
	vm->stopping = TRUE;
	signal_worker(vm, SIGTERM);
	vm->kill_timer = g_timeout_add(STOP_GRACE_MS, kill_cb, vm);
}

static void
on_worker_msg(struct vmnode *vm, struct wire_msg *m)
{
	const char *detail;
	guint32 id;
	int code;

	switch (m->type) {
	case WIRE_W_LOADED:
		g_variant_get(m->body, "(i&s)", &code, &detail);
		if (code)
			g_warning("vm%u: loading failed: %s", vm->index,
				  detail);
		loadgate_loaded(vm, m->tag);
		break;
	case WIRE_W_DONE:
		if (!vmcalls_done(vm, m->tag, m->body))
			break;
		/* A call got to its end: this worker is not crash-looping. */
		vm->crashes = 0;
		if (vm->restart_pending)
			vmnode_restart_when_idle(vm);
		else
			vmcalls_pump(vm);
		break;
	case WIRE_W_OBJECTS:
		set_objects(vm, m->body);
		break;
	case WIRE_W_DESTROYED:
		g_variant_get(m->body, "(ui&s)", &id, &code, &detail);
		if (remove_tag(vm->destroy_tags, m->tag))
			vmnode_reply(vm, m->tag, code, detail);
		break;
	case WIRE_W_SAVED:
	case WIRE_W_RESTORED:
		vmckpt_worker_msg(vm, m);
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
		signal_worker(vm, SIGKILL);
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

static gboolean restart_cb(gpointer data);

/* A worker that could not be started (no fds, no processes for now) is
 * tried again, backing off, so that queued calls still run once it can. */
static void
retry_spawn(struct vmnode *vm)
{
	vm->crashes++;
	if (!vm->restart_timer)
		vm->restart_timer = g_timeout_add(
			MIN(100u << MIN(vm->crashes, 6u), 5000u),
			restart_cb, vm);
}

static gboolean
restart_cb(gpointer data)
{
	struct vmnode *vm = data;

	vm->restart_timer = 0;
	spawn_worker(vm);
	return G_SOURCE_REMOVE;
}

/* How long a worker killed from outside waits to be told of (below). */
#define EXIT_GRACE_MS 300

struct worker_exit {
	struct vmnode *vm;
	GPid pid;
	int status;
	char *why;
	gboolean asked;
	guint timer;
};

static void
worker_exit_free(struct worker_exit *e)
{
	if (e->timer)
		g_source_remove(e->timer);
	g_free(e->why);
	g_free(e);
}

/* The worker's end, told: its calls, the client, the next worker. */
static void
worker_ended(struct vmnode *vm, GPid pid, int status, const char *why,
	     gboolean asked)
{
	guint delay;

	if (vm->host->ending(vm->host->data))
		return;
	g_message("vm%u: worker %d ended (%s)%s", vm->index, pid, why,
		  vm->running ? " during a call" : "");
	vmcalls_worker_ended(vm, status, why);
	/* Objects die with their worker; so does any destroy under way. */
	if (vm->objects && g_variant_n_children(vm->objects) > 0)
		set_objects(vm, g_variant_new("a(uss)", NULL));
	vmnode_reply_all(vm, vm->destroy_tags, 0, "");
	/* With -o restore_on_crash, the next worker starts from the last
	 * checkpoint (vmckpt.c); not after a restart or a new library. */
	vmckpt_worker_exited(vm, asked || vm->restart_tags->len > 0, why);
	/* Back off when it dies over and over, e.g. a library whose
	 * constructor crashes, instead of spinning; not when we ended it. */
	if (!asked && g_get_monotonic_time() - vm->started < G_USEC_PER_SEC)
		vm->crashes++;
	else
		vm->crashes = 0;
	delay = vm->crashes ? MIN(100u << MIN(vm->crashes, 6u), 5000u) : 0;
	send_vm_state(vm, VM_RESTARTING, why);
	vm->restarts++;
	vm->restart_timer = g_timeout_add(delay, restart_cb, vm);
}

/* Tell now of an end held back (a restart asked for meanwhile). */
static void
exit_now(struct vmnode *vm)
{
	struct worker_exit *e = g_steal_pointer(&vm->exit_later);

	if (!e)
		return;
	worker_ended(vm, e->pid, e->status, e->why, e->asked);
	worker_exit_free(e);
}

static gboolean
exit_later_cb(gpointer data)
{
	struct worker_exit *e = data;

	e->timer = 0;
	exit_now(e->vm);
	return G_SOURCE_REMOVE;
}

/* A signal a batch system (scancel, a walltime), a shutdown or the OOM
 * killer sends: to every process of the node at once, often. */
static gboolean
signal_from_outside(int sig)
{
	return sig == SIGTERM || sig == SIGKILL || sig == SIGHUP ||
	       sig == SIGINT;
}

static void
on_worker_exit(GPid pid, int status, gpointer data)
{
	struct vmnode *vm = data;
	g_autofree char *why = NULL;
	gboolean asked = vm->stopping || vm->restart_pending;

	vm->child_watch = 0;
	g_spawn_close_pid(pid);
	/* Its programs die with it: calls never outlive their VM. */
	kill(-pid, SIGKILL);
	if (vm->kill_timer)
		g_source_remove(vm->kill_timer);
	vm->kill_timer = 0;
	vm->stopping = FALSE;
	if (WIFSIGNALED(status))
		why = signal_description(WTERMSIG(status));
	else
		why = g_strdup_printf("exit %d", WEXITSTATUS(status));
	/* What it said before it went still counts: a call that finished
	 * just before the end is done, not failed with the signal. */
	if (vm->ws) {
		vm->draining = TRUE;
		fdstream_drain(vm->ws);
		vm->draining = FALSE;
	}
	g_clear_pointer(&vm->ws, fdstream_free);
	loadgate_forget(vm);
	wire_decoder_clear(&vm->dec);
	vm->pid = 0;
	vm->restart_pending = FALSE;
	/* Killed by a signal we did not send: if the node itself is being
	 * ended (scancel signals the whole job at once), its own signal
	 * comes within moments, and the call is lost with the node (and
	 * runs elsewhere) rather than failed here.  So wait a little. */
	if (!asked && WIFSIGNALED(status) &&
	    signal_from_outside(WTERMSIG(status)) &&
	    !vm->host->ending(vm->host->data)) {
		struct worker_exit *e = g_new0(struct worker_exit, 1);

		e->vm = vm;
		e->pid = pid;
		e->status = status;
		e->why = g_steal_pointer(&why);
		e->timer = g_timeout_add(EXIT_GRACE_MS, exit_later_cb, e);
		vm->exit_later = e;
		return;
	}
	worker_ended(vm, pid, status, why, asked);
}

static void
child_setup(gpointer data)
{
	/* A group of its own, so that stopping the VM stops its programs. */
	setpgid(0, 0);
	/* A supervisor killed -9 takes its workers with it: the calls they
	 * run are lost (the session's next trickle-node reports them so),
	 * never left running unseen beside their next attempt.  SIGTERM,
	 * which the worker takes as it does a cancel: it kills what the call
	 * started (a program's own children too), then dies. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	/* The supervisor's raised limit is not the calls' (fdlimit.h). */
	fdlimit_restore();
}

static void
load(struct vmnode *vm, const char *name)
{
	g_autofree char *path = g_build_filename(vm->inject_dir, name, NULL);

	vmnode_to_worker(vm, WIRE_W_LOAD, 0, g_variant_new_string(path));
}

/* The worker's environment: ours, its VM's name, what setenv calls set
 * (in the order they did). */
static char **
worker_envp(struct vmnode *vm)
{
	g_autofree char *index = g_strdup_printf("%u", vm->index);
	/* TRICKLE_VM: each call gets its VM's name from the client. */
	char **envp = g_environ_setenv(g_environ_setenv(g_get_environ(),
		"TRICKLE_VM_INDEX", index, TRUE), "TRICKLE_VM", index, TRUE);
	guint i;

	for (i = 0; i < vm->env->len; i++) {
		const char *e = vm->env->pdata[i];
		g_autofree char *name = g_strndup(e, strchr(e, '=') - e);

		envp = g_environ_setenv(envp, name, strchr(e, '=') + 1, TRUE);
	}
	return envp;
}

/* No worker could be started: down, and tried again later. */
static void
spawn_failed(struct vmnode *vm, int err, const char *why)
{
	g_warning("vm%u: cannot start worker: %s", vm->index, why);
	send_vm_state(vm, VM_DOWN, why);
	vmnode_reply_all(vm, vm->restart_tags, err, why);
	retry_spawn(vm);
}

/* The worker vm->pid is there, on the other end of sock: up. */
static void
worker_up(struct vmnode *vm, int sock)
{
	guint i;

	vm->started = g_get_monotonic_time();
	wire_decoder_init(&vm->dec);
	vm->ws = fdstream_new(sock, sock, &worker_cb, vm);
	vm->child_watch = evset_child(vm->pid, on_worker_exit, vm);
	for (i = 0; i < vm->libs->len; i++)
		load(vm, vm->libs->pdata[i]);
	vmckpt_after_spawn(vm);
	send_vm_state(vm, VM_UP, "");
	vmnode_reply_all(vm, vm->restart_tags, 0, "");
	vmcalls_pump(vm);
}

/* The old way, fork() + exec() now: for when the zygote cannot. */
static void
exec_worker(struct vmnode *vm)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *first = g_strdup_printf("--first-object=%u",
						 vm->next_object);
	g_auto(GStrv) envp = worker_envp(vm);
	char *argv[] = { (char *)vm->host->self, "--worker", first, NULL };
	int sv[2], target = 3;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		spawn_failed(vm, errno, g_strerror(errno));
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
		spawn_failed(vm, EIO, error->message);
		return;
	}
	close(sv[1]);
	worker_up(vm, sv[0]);
}

static void ask_zygote(struct vmnode *vm);

static void
zygote_answered(GPid pid, int sock, const GError *error, gpointer data)
{
	struct vmnode *vm = data;

	vm->spawning = NULL;
	if (pid) {
		vm->pid = pid;
		worker_up(vm, sock);
		return;
	}
	if (g_error_matches(error, ZYGOTE_ERROR, ZYGOTE_ERROR_LOST))
		ask_zygote(vm);
	else
		exec_worker(vm);
}

/* Forked by the zygote (zygote.c), answered later; exec()ed now if the
 * zygote cannot be asked. */
static void
ask_zygote(struct vmnode *vm)
{
	g_auto(GStrv) envp = worker_envp(vm);

	vm->spawning = zygote_spawn(vm->host->self, vm->data_dir,
				    (const char *const *)envp, vm->next_object,
				    zygote_answered, vm, NULL);
	if (!vm->spawning)
		exec_worker(vm);
}

static void
spawn_worker(struct vmnode *vm)
{
	/* A restore's files, environment and object ids go in place first. */
	vmckpt_before_spawn(vm);
	ask_zygote(vm);
}

/* End the worker once it is idle; on_worker_exit starts the next one. */
void
vmnode_restart_when_idle(struct vmnode *vm)
{
	/* No worker (between a crash and its restart): the next one loads
	 * the current injected code anyway, so there is nothing to wait for.
	 * Marking it pending here would stop every call from starting. */
	if (!vm->pid)
		return;
	vm->restart_pending = TRUE;
	if (!vm->running)
		signal_worker(vm, SIGKILL);
}

struct vmnode *
vmnode_new(const struct vmhost *host, guint index, gboolean adopt,
	   GError **error)
{
	struct vmnode *vm = g_new0(struct vmnode, 1);
	const char *const *d;

	vm->host = host;
	vm->index = index;
	vm->wframe = g_byte_array_new();
	vm->dir = g_strdup_printf("%s/vm%u", host->dir, index);
	vm->inject_dir = g_build_filename(vm->dir, "inject", NULL);
	vm->calls_dir = g_build_filename(vm->dir, "calls", NULL);
	vm->data_dir = g_build_filename(vm->dir, "data", NULL);
	vm->ckpt_dir = g_build_filename(vm->dir, "checkpoints", NULL);
	vm->libs = g_ptr_array_new_with_free_func(g_free);
	vm->programs = g_hash_table_new_full(g_str_hash, g_str_equal,
					     g_free, NULL);
	vm->lib_funcs = g_hash_table_new_full(g_str_hash, g_str_equal,
		g_free, (GDestroyNotify)g_ptr_array_unref);
	vm->sums = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					 g_free);
	vm->env = g_ptr_array_new_with_free_func(g_free);
	vm->restart_tags = g_array_new(FALSE, FALSE, sizeof(guint32));
	vm->destroy_tags = g_array_new(FALSE, FALSE, sizeof(guint32));
	vm->next_object = 1;
	vm->ended_fd = -1;
	g_queue_init(&vm->queue);
	/* The node's directory is there: a mkdir each, not a walk from /
	 * testing every parent (a thousand VMs paid 24 stats each).  inject/
	 * and calls/ wait for something to hold (vmnode_inject_dir,
	 * worker_make_call_dir): on ext4 a mkdir is dear (the inode
	 * allocator reads group descriptors), and most calls need no
	 * directory of their own. */
	for (d = (const char *const[]){ vm->dir, vm->data_dir, NULL };
	     *d; d++) {
		if (mkdir(*d, 0700) < 0 && errno != EEXIST) {
			g_set_error(error, G_FILE_ERROR,
				    g_file_error_from_errno(errno),
				    "cannot create %s: %s", *d,
				    g_strerror(errno));
			vmnode_free(vm);
			return NULL;
		}
	}
	if (adopt)
		vminject_adopt(vm);
	spawn_worker(vm);
	vmfuncs_send(vm);
	return vm;
}

guint
vmnode_resync(struct vmnode *vm)
{
	send_vm_state(vm, vm->ws ? VM_UP : VM_RESTARTING, "");
	g_clear_pointer(&vm->funcs_sent, g_variant_unref);
	vmfuncs_send(vm);
	if (vm->objects)
		vmnode_send(vm, WIRE_OBJECTS, 0, vm->objects);
	return vmcalls_resync(vm);
}

void
vmnode_free(struct vmnode *vm)
{
	if (!vm)
		return;
	if (vm->child_watch)
		evset_remove(vm->child_watch);
	if (vm->restart_timer)
		g_source_remove(vm->restart_timer);
	if (vm->kill_timer)
		g_source_remove(vm->kill_timer);
	g_clear_pointer(&vm->exit_later, worker_exit_free);
	loadgate_forget(vm);
	vmcalls_clear(vm);
	vmckpt_clear(vm);
	if (vm->spawning)
		zygote_cancel(vm->spawning);
	if (vm->pid) {
		signal_worker(vm, SIGKILL);
		waitpid(vm->pid, NULL, 0);
		g_spawn_close_pid(vm->pid);
		wire_decoder_clear(&vm->dec);
	}
	fdstream_free(vm->ws);
	g_byte_array_unref(vm->wframe);
	g_ptr_array_unref(vm->libs);
	g_hash_table_unref(vm->programs);
	g_hash_table_unref(vm->lib_funcs);
	g_hash_table_unref(vm->sums);
	g_clear_pointer(&vm->funcs_sent, g_variant_unref);
	g_clear_pointer(&vm->objects, g_variant_unref);
	g_ptr_array_unref(vm->env);
	if (vm->ended_fd >= 0)
		close(vm->ended_fd);
	g_array_unref(vm->restart_tags);
	g_array_unref(vm->destroy_tags);
	g_free(vm->dir);
	g_free(vm->inject_dir);
	g_free(vm->calls_dir);
	g_free(vm->data_dir);
	g_free(vm->ckpt_dir);
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
	/* Made on first use (vmnode_new); a failure shows in what the
	 * caller then does in it. */
	if (!vm->inject_made && mkdir(vm->inject_dir, 0700) < 0 &&
	    errno != EEXIST)
		g_warning("vm%u: cannot create %s: %s", vm->index,
			  vm->inject_dir, g_strerror(errno));
	else
		vm->inject_made = TRUE;
	return vm->inject_dir;
}

void
vmnode_restart(struct vmnode *vm, guint32 tag)
{
	g_array_append_val(vm->restart_tags, tag);
	g_message("vm%u: restart asked for", vm->index);
	exit_now(vm);
	vmcalls_restarting(vm);
	if (vm->pid) {
		vmnode_stop_worker(vm);
	} else if (!vm->spawning) {
		/* Between workers: start the next one now, without the
		 * back-off of a crash loop.  Down: try again. */
		if (vm->restart_timer)
			g_source_remove(vm->restart_timer);
		vm->restart_timer = 0;
		vm->crashes = 0;
		spawn_worker(vm);
	}
}

void
vmnode_destroy_object(struct vmnode *vm, guint32 tag, guint32 id)
{
	if (!vm->ws || vm->stopping || !has_object(vm, id)) {
		vmnode_reply(vm, tag, ENOENT, "no such object");
		return;
	}
	/* The worker takes it after the running call, in order. */
	g_array_append_val(vm->destroy_tags, tag);
	vmnode_to_worker(vm, WIRE_W_DESTROY, tag, g_variant_new_uint32(id));
}

void
vmnode_info(struct vmnode *vm, GString *s)
{
	g_string_append_printf(s, "vm: %u\n", vm->index);
	if (vm->pid) {
		g_string_append_printf(s, "worker pid: %d\n", vm->pid);
		g_string_append_printf(s, "vm uptime: %" G_GINT64_FORMAT
				       " s\n", (g_get_monotonic_time() -
						vm->started) / G_USEC_PER_SEC);
	} else {
		g_string_append(s, "worker pid: none\n");
		g_string_append(s, "vm uptime: 0 s\n");
	}
	g_string_append_printf(s, "calls queued: %u\n",
			       g_queue_get_length(&vm->queue));
	g_string_append_printf(s, "calls running: %u\n",
			       vm->running ? 1u : 0u);
	g_string_append_printf(s, "restarts: %u\n", vm->restarts);
}
