/*
 * session.h - a session outlives the link that made it.
 *
 * A session is a directory BASE/session-ID, named by the client (its
 * WIRE_ATTACH).  While a trickle-node serves it, that process holds the
 * directory's lock and listens on a socket in it.  A trickle-node started
 * for the same session later (the mount reconnected) finds the socket and
 * hands its client over to the live process: its stdin and stdout, with
 * what it has read of them, travel over the socket (SCM_RIGHTS), and it
 * then only waits for the live process to let the client go.  If the
 * socket does not answer and the lock is free, the process that served
 * the session is dead: the new one adopts the directory.
 *
 * Only a process of the same user can connect (the directory is 0700, and
 * the peer's uid is checked).
 */
#pragma once

#include <glib.h>

struct session;

enum session_how {
	SESSION_NEW,		/* made now: serve it */
	SESSION_ADOPTED,	/* on disk, its process dead: serve it */
	SESSION_HANDED_OFF,	/* its live process has our client now */
};

/* A client handed over by a later trickle-node: its fds (owned by the
 * callee now) and the bytes already read from in. */
typedef void (*session_client_fn)(void *data, int in, int out,
				  const guint8 *bytes, gsize len);

/* Is id a session id a client may give ([0-9a-f], 8 to 64 of them)? */
gboolean session_id_valid(const char *id);

/*
 * Open session id under base.  For SESSION_NEW and SESSION_ADOPTED the
 * returned session serves it: client() hears each client handed over
 * later.  For SESSION_HANDED_OFF, in and out (and the bytes) went to the
 * live process: the caller closes its copies, calls session_wait_released
 * and exits.  NULL with error if the session can be neither served nor
 * handed to.
 */
struct session *session_open(const char *base, const char *id, int in,
			     int out, const guint8 *bytes, gsize len,
			     session_client_fn client, void *data,
			     enum session_how *how, GError **error);
const char *session_dir(const struct session *s);
/* Note who serves it and its lease, for --list-sessions and the reaper. */
void session_set_lease(struct session *s, guint lease);
/* We ran just now (the lease tick): the reaper counts idleness from it. */
void session_touch(struct session *s);

/* Sessions under base whose process is gone and that stayed so for their
 * lease: removed. */
void session_reap(const char *base);
/* trickle-node --list-sessions / --remove-session ID (exit status). */
int session_list(const char *base);
int session_remove(const char *base, const char *id);
/* The client handed over last is gone or replaced: let its trickle-node
 * (waiting in session_wait_released) end. */
void session_release_client(struct session *s);
/* Block until the live process lets our client go; then free s. */
void session_wait_released(struct session *s);
/* Stop listening, unlock; the directory itself stays. */
void session_free(struct session *s);
