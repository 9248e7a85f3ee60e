/*
 * tclient.h - helpers for the tools that drive a tricklefs mount through
 * its files (trickle-run, trickle-map): find the mount, fork lines on a
 * calls/new clone file, read small files, turn a status line into an exit
 * code, quote words into a call line.  Plain syscalls, no main loop: a
 * Makefile recipe may start thousands of these tools.
 */
#pragma once

#include <glib.h>
#include <signal.h>
#include <sys/types.h>

/* Exit code for a failure of the tool itself or of the call's machinery
 * (node down, timeout, unknown function...), as ssh(1) does. */
#define TC_EXIT_OTHER 255
/* Exit code for a call stopped by its time limit, as timeout(1) does. */
#define TC_EXIT_TIMEOUT 124

/*
 * The mount to use: opt (-C) if given, else $TRICKLE_MOUNT.  Checks that
 * it looks like a tricklefs mount (it has .done).  NULL with error set.
 */
char *tc_mount(const char *opt, GError **error);

/*
 * The directory whose calls/ to use: MOUNT/.any, or MOUNT/VM with a VM.
 * Checks that DIR/calls/new exists.  NULL with error set.
 */
char *tc_calls_parent(const char *mount, const char *vm, GError **error);

/* The directory of this VM's (or .any's) calls in .done's lines, the
 * "DIR" of their "DIR/calls/N": ".any" or "VM". */
const char *tc_done_prefix(const char *vm);

/*
 * FUNC ARG... as one call line (no newline), each word quoted with
 * g_shell_quote so that spaces and quotes arrive intact.  NULL with error
 * set when a word holds a newline, which no call line can carry.
 */
char *tc_call_line(char **words, int n, GError **error);

/* Append word, quoted, to line (with a space before it unless first). */
gboolean tc_append_word(GString *line, const char *word, GError **error);

/*
 * Read the ids an open calls/new (of .all, say) has to give back after a
 * write: every line up to its end of file, without the newlines.  NULL
 * with errno set.
 */
GPtrArray *tc_read_ids(int newfd);

/*
 * A call id as .all/calls/new and .done give it, its path from the mount,
 * "VM/calls/N" (".any/calls/N"): the VM (newly allocated) and N.  FALSE
 * if it is not one.
 */
gboolean tc_parse_call_id(const char *s, char **vm, guint32 *id);

/*
 * A call's words made to run in dir: TRICKLE_WORKDIR=DIR in front (the
 * node's call option: functions and programs alike run there).  "." is
 * the caller's current directory.  A new NULL-terminated vector, or NULL
 * with error set.
 */
char **tc_workdir_words(char **words, int n, const char *dir,
			GError **error);

/*
 * Write len bytes of lines (each ending in '\n') in one write(2) to an
 * open calls/new and read back one id per line into ids[0..nlines-1].
 * -1 with errno set on failure.
 */
int tc_fork(int newfd, const char *lines, size_t len, guint32 *ids,
	    size_t nlines);

/*
 * Open MOUNT/.done (O_RDONLY, close-on-exec): a stream of "DIR/calls/N
 * STATUS" lines for the calls that end after the open.  Its read(2)
 * blocks until a line is there; poll(2) on it says POLLIN once one is, so
 * a caller waits on it beside its other fds and reads only then.  The fd,
 * or -1 with error set.
 */
int tc_done_open(const char *mount, GError **error);

/*
 * Copy in to out until end of file; *copied (if not NULL) gets the bytes
 * copied.  0, or -1 with errno set; *which tells whether reading (0) or
 * writing (1) failed.
 */
int tc_copy(int in, int out, guint64 *copied, int *which);
/*
 * Copy in to each of the n fds of outs until end of file, or until *stop
 * (if not NULL) is set: a signal handler's flag, with the signal let in
 * without SA_RESTART, so that it interrupts a read.  0; or -1 with errno
 * set (EINTR when stopped), *which -1 if reading failed, else the index
 * of the out that failed.
 */
int tc_tee(int in, const int *outs, guint n, volatile sig_atomic_t *stop,
	   int *which);

/* The whole of a small file (at most max bytes) at dirfd/path, NUL
 * terminated.  NULL with errno set. */
char *tc_read_small(int dirfd, const char *path, size_t max, size_t *len);

/* Write text to dirfd/path in one write(2) ("cancel\n" to a ctl).
 * 0, or -1 with errno set. */
int tc_write_file(int dirfd, const char *path, const char *text);

/*
 * A status line ("done", "failed exit 3", "failed signal 11 (SIGSEGV)",
 * "cancelled", "failed timeout"...) as an exit code: 0, N, 128+N, 130 for
 * cancelled, TC_EXIT_TIMEOUT for a timeout, TC_EXIT_OTHER for any other
 * failure.  *signo gets the signal
 * number of a "failed signal N" status, else 0.  Returns -1 for a status
 * that is not an end (queued, running).
 */
int tc_status_code(const char *status, int *signo);

/* Strip one trailing newline (and any '\r' before it) in place. */
void tc_chomp(char *s);

/* Seconds since the epoch / on a monotonic clock, as doubles. */
double tc_now(void);
double tc_mono(void);

/*
 * Output held until its turn (trickle-map --ordered): in memory while the
 * held outputs together stay under a limit, past it in a temp file they
 * share.  Errors are in G_FILE_ERROR (G_FILE_ERROR_PIPE for a closed
 * output).
 */
struct tc_spill {
	int fd;			/* -1 until first needed */
	off_t end;
	guint nspilled;		/* held outputs in the file */
	guint64 in_memory, limit;
};

struct tc_held {
	GByteArray *mem;
	off_t off;		/* in the spill file, when spilled */
	guint64 len;
	gboolean spilled;
};

#define TC_SPILL_INIT(limit) { -1, 0, 0, 0, (limit) }

/* Read fd to its end into h: 0; -1 with errno set if reading fd failed;
 * -2 with error set if the spill file did. */
int tc_hold(struct tc_spill *s, struct tc_held *h, int fd, GError **error);
/* Add len bytes to h (as tc_hold does with what it reads): TRUE, or
 * FALSE with error set if the spill file failed. */
gboolean tc_hold_bytes(struct tc_spill *s, struct tc_held *h,
		       const void *buf, size_t len, GError **error);
/* Write h to out and let it go. */
gboolean tc_release(struct tc_spill *s, struct tc_held *h, int out,
		    GError **error);
/* Let h go unwritten. */
void tc_drop(struct tc_spill *s, struct tc_held *h);

/* SIGINT, SIGTERM and SIGHUP go to handler, blocked except while the
 * caller waits in ppoll(2) with open_mask (so no other call sees EINTR);
 * SIGPIPE is ignored. */
void tc_signals_for_ppoll(void (*handler)(int), sigset_t *open_mask);
