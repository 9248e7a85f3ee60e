/*
 * vm_priv.h - inside node/vm only: what the parts of a VM share.
 * vmnode.c keeps its worker process going (and what it has loaded),
 * vmcalls.c feeds it calls, datafs.c serves its data directory.  Nothing
 * outside node/vm includes this; the supervisor goes through vm.h.
 */
#pragma once

#include "vm.h"
#include "fdstream.h"
#include "wire.h"

struct ncall;				/* a call: vmcalls.c only */

struct vmnode {
	const struct vmhost *host;	/* the client, through the supervisor */
	guint index;
	char *dir, *inject_dir, *calls_dir, *data_dir;
	gboolean inject_made;		/* inject_dir is there (made lazily) */

	/* The worker (vmnode.c). */
	GPid pid;			/* worker; 0 while there is none */
	struct fdstream *ws;
	GByteArray *wframe;		/* scratch for frames to it */
	struct wire_decoder dec;
	guint child_watch;
	guint restart_timer;
	guint crashes;			/* in a row, for back-off */
	gboolean restart_pending;	/* once the running call ends */
	gboolean draining;		/* reading a dead worker's last words */
	gboolean stopping;		/* SIGTERM sent, the worker is ending */
	guint kill_timer;		/* SIGKILL after the grace period */
	gint64 started;			/* the worker, monotonic */
	guint restarts;			/* workers started after the first */
	struct worker_exit *exit_later;	/* an end told after a grace */
	struct zygote_req *spawning;	/* asked of the zygote, not answered */
	int spawn_sock;			/* meanwhile: our end of its socket */

	/* Its calls (vmcalls.c). */
	GQueue queue;			/* struct ncall *, waiting */
	struct ncall *running;
	gboolean has_slot;		/* of the node's cores (vmhost) */
	guint32 told_waiting;		/* the call told it waits for one */
	guint call_timer;		/* its TRICKLE_TIMEOUT */
	guint tick_timer;		/* its output sizes */
	guint64 sent_out, sent_err;	/* the sizes last sent for it */
	int ended_fd;			/* vm<i>/ended: a line per call that
					   ended, so that a later process
					   adopting the session knows */

	/* What is injected (vmnode.c). */
	GPtrArray *libs;		/* names of shared objects, in order */
	GHashTable *programs;		/* names of injected programs */
	GHashTable *lib_funcs;		/* lib name -> GPtrArray elf_func */
	GVariant *funcs_sent;		/* the last FUNCS */
	GHashTable *sums;		/* injected name -> SHA-256 hex */
	GPtrArray *owed_loads;		/* paths its worker is to load (loadgate.c) */
	guint gate_loading;		/* of them sent, not yet loaded */
	gboolean gate_queued;		/* waiting for its turn */

	GPtrArray *env;			/* "NAME=VALUE" from setenv calls */
	GArray *restart_tags;		/* RESTARTs answered once up again */
	GArray *destroy_tags;		/* OBJ_DESTROYs sent to the worker */
	GVariant *objects;		/* the last OBJECTS sent (a(uss)) */
	guint32 next_object;		/* first id for the next worker */

	/* Checkpoints (vmckpt.c). */
	char *ckpt_dir;			/* vm<i>/checkpoints: N, mode 0600 */
	struct vmckpt *ckpt;		/* a take or restore under way */
	char *crash_ckpt;		/* restore from it if the worker dies */

	/* Where its calls' output is (callstore.c). */
	struct callstore *cstore;
};

/* vmnode.c */
/* A frame about this VM to the client, through the host. */
void vmnode_send(struct vmnode *vm, guint type, guint32 tag, GVariant *body);
void vmnode_send_bytes(struct vmnode *vm, guint type, guint32 tag,
		       const void *data, gsize len);
/* A frame to the worker (which must be there: vm->ws). */
void vmnode_to_worker(struct vmnode *vm, guint type, guint32 tag,
		      GVariant *body);
/* WIRE_REPLY to request tag. */
void vmnode_reply(struct vmnode *vm, guint32 tag, int err, const char *msg);
/* The same to every tag in tags, which is emptied. */
void vmnode_reply_all(struct vmnode *vm, GArray *tags, int err,
		      const char *msg);
/* SIGTERM the worker, SIGKILL after a grace period; its exit ends the
 * running call with the reason the call was given. */
void vmnode_stop_worker(struct vmnode *vm);
/* End the worker once it is idle (replaced or removed code must be
 * unloaded); the next worker loads what is installed then. */
void vmnode_restart_when_idle(struct vmnode *vm);
/* Its data directory, the worker's working directory. */
const char *vmnode_data_dir(struct vmnode *vm);
/* Where a call of name goes: "program", a shared object's name or
 * "built-in"; NULL if nothing answers to it. */
const char *vmnode_func_origin(struct vmnode *vm, const char *name);

/* vminject.c: install again what a resumed session's inject/ holds, in
 * the order it came. */
void vminject_adopt(struct vmnode *vm);

/* loadgate.c: loads of a library into running workers, a few at a time;
 * loadgate_flush before any other frame to the worker, loadgate_loaded
 * on W_LOADED, loadgate_forget once the worker is gone. */
void loadgate_owe(struct vmnode *vm, const char *path);
void loadgate_flush(struct vmnode *vm);
void loadgate_loaded(struct vmnode *vm, guint32 tag);
void loadgate_forget(struct vmnode *vm);

/* vmfuncs.c */
/* WIRE_FUNCS to the client if the set changed since it was last sent. */
void vmfuncs_send(struct vmnode *vm);
/* Note the SHA-256 of inject/name, for FUNCS: sum, or (NULL) read the
 * file to take it. */
void vmfuncs_note_sum(struct vmnode *vm, const char *name, const char *sum);
/* Log every name file defines that hides, or is hidden by, another. */
void vmfuncs_log_shadows(struct vmnode *vm, const char *file);

/* vmcalls.c */
/* CALL_STATE of every call the VM knows (ended, running, queued), to a
 * client that came back; the number of calls. */
guint vmcalls_resync(struct vmnode *vm);
/* Start the next queued call if the worker can take one now. */
void vmcalls_pump(struct vmnode *vm);
/* WIRE_W_DONE from the worker: TRUE if that ended the running call, so
 * that the worker is free for the next one. */
gboolean vmcalls_done(struct vmnode *vm, guint32 id, GVariant *body);
/* The worker ended with status (why, in words): end the running call,
 * with the reason it was stopped for if it was. */
void vmcalls_worker_ended(struct vmnode *vm, int status, const char *why);
/* A restart was asked for: the running call ends as restarted, unless
 * it is already being stopped for something else. */
void vmcalls_restarting(struct vmnode *vm);
/* Drop every call and timer, without telling anyone (vmnode_free). */
void vmcalls_clear(struct vmnode *vm);

/* callstore.c: where the calls' output is kept (issue 12) */
struct worker_where;
/* Append the end of call id to vm<i>/ended (with where its output is,
 * w NULL: nowhere new). */
void cstore_log(struct vmnode *vm, guint32 id, guint state, int code,
		const char *detail, const struct worker_where *w);
/* Does the VM know call id (queued, running or ended)? */
gboolean cstore_known(struct vmnode *vm, guint32 id);
/* A new call, or one sent again (from nothing again): 0 or an errno. */
int cstore_add(struct vmnode *vm, guint32 id);
/* calls/ID/stdin, its directory made; NULL with errno. */
char *cstore_stdin_path(struct vmnode *vm, guint32 id);
/* W_RUN's first field for the call (worker_parse_spec), its output
 * files made; func: its function, whose last output was large or not.
 * NULL with errno. */
char *cstore_spec(struct vmnode *vm, guint32 id, const char *func);
void cstore_sizes(struct vmnode *vm, guint32 id, guint64 *out,
		  guint64 *err);
/* The call ended (logged: its worker logged it, and kept its output):
 * its output goes where it is kept, and its end in the log. */
void cstore_end(struct vmnode *vm, guint32 id, guint state, int code,
		const char *detail, gboolean logged, const char *func);
/* How an ended call ended; FALSE if it has not. */
gboolean cstore_ended(struct vmnode *vm, guint32 id, guint *state,
		      int *code, const char **detail);
/* Every call known (ids as pointers); g_list_free it. */
GList *cstore_ids(struct vmnode *vm);
/* Forget an ended call: 0 or an errno. */
int cstore_forget(struct vmnode *vm, guint32 id);
void cstore_free(struct vmnode *vm);

/* vmckpt.c: checkpoint and restore (issue 16) */
/* A take or restore holds the calls: none starts meanwhile. */
gboolean vmckpt_busy(struct vmnode *vm);
/* vmcalls_pump found the worker free: the operation waiting starts. */
void vmckpt_idle(struct vmnode *vm);
/* W_SAVED, W_RESTORED from the worker. */
void vmckpt_worker_msg(struct vmnode *vm, struct wire_msg *m);
/* spawn_worker: before it starts the worker (a staged restore's files go
 * in place) and once the libraries' loads are sent (W_RESTORE). */
void vmckpt_before_spawn(struct vmnode *vm);
void vmckpt_after_spawn(struct vmnode *vm);
/* The worker ended (asked: by us, for a restart, cancel, timeout or a
 * restore).  TRUE if a restore from the crash checkpoint is staged for
 * the next worker. */
gboolean vmckpt_worker_exited(struct vmnode *vm, gboolean asked,
			      const char *why);
void vmckpt_clear(struct vmnode *vm);

/* vmckpt_ar.c: the archive */
struct vmckpt_staged {
	char *dir;			/* vm<i>/restore.XXXXXX: inject/,
					   data/, state/LIB */
	GPtrArray *inject;		/* names, in the order they loaded */
	GPtrArray *env;			/* "NAME=VALUE" */
	GPtrArray *links;		/* path, target, path, target... */
	guint32 next_object;
};
/* Write the VM's checkpoint at path (through path.part), the libraries'
 * saved state being blobs/<i> for vm->libs[i]. */
gboolean vmckpt_write_archive(struct vmnode *vm, const char *path,
			      const char *blobs, GError **error);
/* Unpack and check archive beside the VM; NULL with error (nothing
 * left behind) if it is not a whole, valid checkpoint. */
struct vmckpt_staged *vmckpt_stage(struct vmnode *vm, const char *archive,
				   GError **error);
void vmckpt_staged_free(struct vmckpt_staged *s);
