/*
 * journal.h - inside cluster/, part of cluster.h (which includes it):
 * journal.c, the mount's state on disk.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

struct cluster;
struct host;
struct vm;
struct call;

/* journal.c: the mount's state on disk, to remount after a crash */
struct journal;
/* Lock and replay the state in dir (the hosts and VMs of the command line
 * are made already), then record from here on. */
gboolean journal_open(struct cluster *cl, const char *dir, GError **error);
/* remove: a clean end without keep: the state goes. */
void journal_close(struct journal *j, gboolean remove);
/* $XDG_STATE_HOME/tricklefs/ and name (the mount point, or -o name=). */
char *journal_default_dir(const char *name);
const char *journal_dir(struct cluster *cl);
/* Calls the journal held when opened. */
guint journal_recovered(struct cluster *cl);
/* The id vm's next call gets (ids are reserved on disk in blocks, so
 * none is given twice, even across a crash). */
guint32 journal_next_id(struct vm *vm);
void journal_host(struct host *h);
void journal_fork(struct call *c);
void journal_sent(struct call *a);
void journal_end(struct call *c);
/* c's last run began or ended. */
void journal_attempt(struct call *c);
void journal_forget(struct call *c);
void journal_read(struct call *c);
/* c's stdin is whole. */
void journal_stdin(struct call *c);
void journal_all_inject(struct cluster *cl, const char *name, mode_t mode,
			gboolean installed);
