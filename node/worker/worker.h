/*
 * worker.h - node/worker: the VM process (trickle-node --worker).  It
 * holds injected shared objects and the remote objects they make, and
 * runs one call at a time.  It is a separate process from the supervisor
 * so that a call that crashes takes down nothing but its own VM; the
 * supervisor speaks to it only in W_* frames (wire.h) over a socket.
 *
 * For the layers above: main.c in node/ (the --worker and --check-load
 * modes) and node/vm (the built-ins' names and docs, signal names).
 */
#pragma once

#include <glib.h>

/* Serve W_LOAD, W_RUN and W_DESTROY frames on fd until it closes; the
 * exit status.  Object ids start at first_object (1 if 0). */
int worker_main(int fd, guint32 first_object);
/* trickle-node --check-load: can path be dlopen()ed here?  Exit status,
 * and "ok" or "failed" on fd 3 once dlopen() has returned (a constructor
 * that exits leaves nothing there; node/vet/checkload.c reads it). */
int worker_check_load(const char *path);
/* A VM's log of ended calls (vm<i>/ended): one line a call, "ID STATE
 * CODE DETAIL\n", appended in one write; the last line of an id wins.
 * The worker appends a call's end the moment it returns, before the
 * supervisor hears of it, so a call whose supervisor is killed then is
 * not taken for cut off and run again; node/vm appends the ends of calls
 * that end otherwise (cancelled, timed out, crashed).  FALSE with errno. */
gboolean worker_log_end(int fd, guint32 id, guint state, int code,
			const char *detail);

/* wstore.c: a call's output once it has ended (issue 12).  Its place:
 * stored, OFF in the VM's store file, OUT bytes of stdout then ERR of
 * stderr; else in files calls/ID/stdout and stderr. */
#define WORKER_STORE_MAX (1024 * 1024)	/* past it, its own files */
struct worker_where {
	guint64 off, out, err;
	gboolean stored;
};
/* Keep on disk what the call wrote to ofd and efd (memfds; store the
 * store file's fd, or -1: they are its files already), in the store or
 * in spill_dir's files; FALSE with errno. */
gboolean worker_keep_output(int store, const char *spill_dir, int ofd,
			    int efd, struct worker_where *w);
/* mkdir a call's directory, vm<i>/calls/ID, and calls/ first if it is
 * not there (it is made with the first call that needs one); FALSE with
 * errno. */
gboolean worker_make_call_dir(const char *dir);
/* worker_log_end, with where it was kept (w NULL or not stored: no
 * place line) in the same write. */
gboolean worker_log_end_at(int fd, guint32 id, guint state, int code,
			   const char *detail, const struct worker_where *w);
/* A place line "ID @ OFF OUT ERR" of the log: TRUE if it is one. */
gboolean worker_parse_where(const char *line, guint32 *id,
			    struct worker_where *w);
/* The call's files, W_RUN's first field: "IN\nOUT\nERR\nSTORE\nSPILL":
 * its stdin (empty: none), stdout, stderr (paths, /proc/PID/fd/N for
 * the supervisor's memfds; "=" first: the same memfd as the last call's,
 * emptied, which the worker may still have open), the store file
 * (empty: OUT and ERR are the call's own files) and the directory for
 * output past the store. */
struct worker_spec {
	char *in, *out, *err, *store, *spill;
};
gboolean worker_parse_spec(const char *spec, struct worker_spec *s);
void worker_spec_clear(struct worker_spec *s);

/* zygote.c: trickle-node --zygote, the process that forks workers on
 * request (served on fd until it closes); the exit status.  mode_arg is
 * argv's "--zygote", rewritten "--worker" in each worker for ps. */
int zygote_main(int fd, char *mode_arg);
/* In the supervisor: a worker started through the zygote (started on
 * first use, self being this executable), as `self --worker
 * --first-object=first_object` would be in cwd with envp.  Asynchronous:
 * cb is told from the loop, once, with the worker's PID (then the
 * caller's child) and sock, the caller's end of the worker's fd 3, or
 * with why the zygote could not (the caller then spawns it itself).
 * NULL with error if the zygote cannot be asked now. */
typedef void (*zygote_spawned_fn)(GPid pid, int sock, const GError *error,
				  gpointer data);
/* cb's error when the zygote went before it answered (killed, frozen):
 * asking again goes to the next zygote.  Any other error: it cannot. */
#define ZYGOTE_ERROR (zygote_error_quark())
GQuark zygote_error_quark(void);
enum { ZYGOTE_ERROR_LOST };
struct zygote_req;
struct zygote_req *zygote_spawn(const char *self, const char *cwd,
				const char *const *envp, guint32 first_object,
				zygote_spawned_fn cb, gpointer data,
				GError **error);
/* The caller does not want it any more (before cb was told): cb is not
 * told, and a worker forked for it is killed and reaped. */
void zygote_cancel(struct zygote_req *r);

/* "signal 11 (SIGSEGV)" */
char *signal_description(int sig);

/* What every VM answers without anything injected (worker.c). */
struct builtin_info {
	const char *name;
	const char *doc;
};
extern const struct builtin_info worker_builtins[];	/* NULL-terminated */

/* wstore.c (h-percall): worker_keep_output with the sizes known (from an
 * fstat the caller made). */
gboolean worker_keep_sized(int store, const char *spill_dir, int ofd,
			   guint64 out, int efd, guint64 err,
			   struct worker_where *w);
/* wstore.c: lines of the log in buf (len bytes, NUL after them), up to
 * the last whole one: the bytes they take.  If call id ended among them,
 * *ended is set and *w is where its last end says its output is (not
 * stored: nowhere said).  The lines are cut at their newlines. */
gsize worker_scan_log(char *buf, gsize len, guint32 id, gboolean *ended,
		      struct worker_where *w);
