/*
 * worker_priv.h - inside node/worker only: the table of remote objects
 * (objects.c, behind trickle.h's trickle_object_*) as worker.c drives it
 * between calls, and what worker.c shares with contain.c (a call's
 * processes and limits).  Nothing outside node/worker includes this; the
 * layers above use worker.h.
 */
#pragma once

#include <glib.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

/* objects.c: the worker's remote objects (trickle.h) */
void objects_init(guint32 first_id);
/* The id the next object will get (async-signal-safe). */
guint32 objects_next_id(void);
/* Destroy object id: 0, or ENOENT. */
int objects_destroy_id(guint32 id);
/* Could the list differ from the one last taken? */
gboolean objects_maybe_changed(void);
/* The live objects, "a(uss)" (floating). */
GVariant *objects_list(void);

/* worker.c and contain.c (which keeps a call's processes and limits in
 * bounds): what the worker process shares between them. */
struct lib {
	char *path;
	void *handle;
};

extern GPtrArray *libs;		/* struct lib *, in load order */
extern int devnull;
extern int logfd;		/* the supervisor's stderr */
extern GVariant *objects_sent;	/* the W_OBJECTS last sent */
extern pid_t worker_pid;	/* handlers inherited by a call's fork do nothing */
extern int wsock;		/* the line to the supervisor */
extern char *self_exe;		/* argv[0] for restart_self() */
extern long page_size;
extern int home_fd;		/* the worker's own directory while a call
				   runs in its TRICKLE_WORKDIR; -1 */

/* The running call's limits (0: none) and, while a function runs with
 * one, what restart_self() needs, built beforehand: its handler may not
 * allocate. */
struct limits {
	guint64 memory;			/* TRICKLE_MEMORY, bytes */
	guint cpu_s;			/* TRICKLE_CPU, seconds */
	volatile sig_atomic_t armed;	/* the worker's own rlimits are set */
	guint64 data_limit;		/* RLIMIT_DATA set for the call */
	struct rlimit old_data, old_cpu;
	char **argv, **envp;
	char first_arg[40];		/* --first-object=N, filled in late */
	char *why;			/* "KSS" in envp: kind, signal */
};
extern struct limits lim;

/* The variable restart_self() hands over: "KSS\nVM\nTAG\nMEMORY\nCPU\n
 * OBJECTS\nLIB..." with K 'c' (CPU) or 'm' (memory), SS the signal. */
#define RESTART_VAR "TRICKLE_WORKER_RESTART"

/* worker.c: a frame to the supervisor; the worker ends if it is gone. */
void send_frame(int fd, GByteArray *frame);

/* worker.c: W_OBJECTS if the list changed since it was last sent. */
void send_objects(int fd, GByteArray *out, guint vm);

/* wsave.c: W_SAVE and W_RESTORE, answered with W_SAVED, W_RESTORED */
struct wire_msg;
void worker_save(int fd, GByteArray *out, const struct wire_msg *m);
void worker_restore(int fd, GByteArray *out, const struct wire_msg *m);

/* contain.c */
void end_descendants(void);
void end_descendants_at_exit(void);
void restart_self(char kind, int sig);
void install_handlers(void);
void take_limits(char **env);
void prepare_restart(guint16 vm, guint32 tag);
void arm_limits(void);
void disarm_limits(void);
void child_limits(void);
void clear_limits(void);
char *program_limit_detail(int status, const struct rusage *ru);
gboolean finish_restart(int fd, GByteArray *out, const char *spec);

/* wfiles.c: the running call's files, from W_RUN's spec.  Its stdin
 * (devnull if it has none; -1 if it cannot be opened); its stdout (which
 * 0) or stderr (1): a path, or "=PATH" for the memfd it had last call,
 * kept open between calls; closed by the _close functions unless kept. */
struct worker_spec;
int call_input_open(const char *path);
void call_input_close(int fd);
int call_output_open(int which, const char *spec);
void call_output_close(int which);
/* The call's output kept and its end logged (FALSE: the supervisor is to
 * keep it), before the supervisor hears of the end. */
gboolean call_log_end(const char *ended, const struct worker_spec *sp,
		      int ofd, int efd, guint32 id, guint state, int code,
		      const char *detail);
