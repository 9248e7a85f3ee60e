/*
 * supervisor.h - inside the node's top layer only: the process serving a
 * session (supervisor.c) and the files it takes in for its VMs
 * (transfer.c).
 */
#pragma once

#include <sys/types.h>
#include <glib.h>

#include "vet.h"
#include "vm.h"
#include "wire.h"

struct share;

struct node {
	struct fdstream *io;		/* the client; NULL while it is gone */
	int in, out;			/* our own client's fds, until the
					   session is open */
	struct wire_decoder dec;
	GByteArray *frame;		/* frames queued for the client */
	char *base;			/* where sessions are kept */
	char *dir;			/* this session's files */
	struct session *session;	/* NULL for a HELLO's */
	char *id;			/* the session's id */
	guint lease;			/* s to keep the session without a
					   client (0: end with the client) */
	gint64 last_heard;		/* monotonic: the client's last frame */
	gint64 last_tick;		/* monotonic: the lease tick last ran */
	guint lease_timer;
	gboolean handed_off;		/* a live process has our client */
	char *self;			/* our executable, to start workers */
	struct vmhost host;		/* what the VMs get of us */
	GPtrArray *vms;			/* struct vmnode * */
	GHashTable *xfers;		/* transfer key -> struct xfer * */
	struct nodecache *cache;	/* BASE/cache: files by SHA-256 */
	guint cache_days;		/* evict what was unused that long */
	GHashTable *vetted;		/* SHA-256s of shared objects that
					   loaded (checked once here) */
	GHashTable *vettings;		/* SHA-256 -> struct vetting *: its
					   load check under way */
	GMainLoop *loop;
	gboolean said_hello;
	gboolean shutdown;		/* the client asked us to end */
	gint64 started;			/* monotonic, for INFO */
	guint max_vms;			/* VMs a session may have */
	guint64 fd_limit;		/* open files, raised (fdlimit.h) */
	guint fd_vms;			/* VMs that many descriptors hold */
	char *failure;			/* why the session could not start */
	char *share_spec;		/* --share: the node's cores */
	struct share *share;		/* joined with the first VM */
	GSource *flusher;		/* writes frame before the loop waits */
};

/* A file being injected. */
struct xfer {
	struct node *node;
	guint vm;
	guint32 tag;
	char *name;
	char *part;			/* where the bytes go until checked */
	mode_t mode;
	int fd;
	int error;			/* a write failed: refuse at the end */
	struct check *check;		/* dlopen check under way */
	char *sum;			/* CACHE_PUT: the bytes' SHA-256 */
	struct sha256 *hash;		/* CACHE_PUT: of the bytes as they came */
	guint32 ckpt;			/* CKPT_PUT: the checkpoint's number */
};

/* A load check of a cached file, and the VMs waiting for its verdict. */
struct vetting {
	struct node *node;
	char *sum;
	struct check *check;
	GArray *waiting;		/* struct cached_install */
};

/* sendq.c: frames to the client (dropped while it is away) */
void node_send(struct node *n, guint type, guint vm, guint32 tag,
	       GVariant *body);
/* They are queued, and written before the main loop next waits (by the
 * source client_flusher_new makes) or at once by client_flush. */
GSource *client_flusher_new(struct node *n);
void client_flush(struct node *n);
void node_send_bytes(struct node *n, guint type, guint vm, guint32 tag,
		     const void *data, gsize len);
void reply(struct node *n, guint vm, guint32 tag, int err, const char *msg);
void reply_error(struct node *n, guint vm, guint32 tag, const GError *error);
/* Answer m with up to max bytes (at most WIRE_CHUNK) of the regular
 * file at path from off: DATA, or REPLY with the errno. */
void reply_file_bytes(struct node *n, struct wire_msg *m, const char *path,
		      guint64 off, guint32 max);

/* sharing.c: the node's cores, shared with its other trickle-nodes */
void node_share_init(struct node *n);
/* Join it (once the session's VMs are to be made). */
void node_share_join(struct node *n);
/* WIRE_SHARE to the client, if the share was joined. */
void node_share_send(struct node *n, guint32 tag);
void node_share_orphan(struct node *n, gboolean orphan);
void node_share_info(struct node *n, GString *s);
void node_share_free(struct node *n);

/* transfer.c: WIRE_INJECT_* and WIRE_UNINJECT; n->xfers frees with
 * xfer_free */
void xfer_free(struct xfer *x);
/* A new transfer for m's (vm, tag) named name, in n->xfers; NULL if
 * there is one (a confused client: its END answers). */
struct xfer *xfer_begin(struct node *n, struct wire_msg *m, const char *name);
guint64 xfer_key(guint vm, guint32 tag);
void do_inject_begin(struct node *n, struct vmnode *vm, struct wire_msg *m);
void do_inject_data(struct node *n, struct wire_msg *m);
void do_inject_end(struct node *n, struct wire_msg *m);
void do_uninject(struct node *n, struct vmnode *vm, struct wire_msg *m);
/* WIRE_CACHE_HAVE, WIRE_CACHE_PUT, WIRE_INJECT_CACHED; n->vettings frees
 * with vetting_free */
void do_cache_have(struct node *n, struct wire_msg *m);
void do_cache_put(struct node *n, struct wire_msg *m);
void do_inject_cached(struct node *n, struct wire_msg *m);
/* WIRE_INJECT_CACHED_VMS: the same into many VMs, answered once. */
void do_inject_cached_vms(struct node *n, struct wire_msg *m);
void vetting_free(struct vetting *v);

/* ckpt.c: WIRE_CKPT_* (issue 16) */
void do_ckpt(struct node *n, struct vmnode *vm, struct wire_msg *m);
/* WIRE_VM_ADD: a VM more in the session, for one moving here. */
void ckpt_vm_add(struct node *n, struct wire_msg *m);
/* INJECT_END of a CKPT_PUT: keep it if it is a whole checkpoint. */
void ckpt_put_done(struct xfer *x);
