/*
 * node.h - the trickle-node supervisor: speaks the protocol with tricklefs
 * on stdin/stdout and keeps one worker process per VM.
 */
#pragma once

#include <glib.h>
#include "elfcheck.h"
#include "fdstream.h"
#include "wire.h"

struct vmnode;

struct node {
	struct fdstream *io;		/* stdin/stdout: the client */
	struct wire_decoder dec;
	GByteArray *frame;		/* scratch for encoding */
	char *dir;			/* this session's files */
	char *self;			/* our executable, to start workers */
	GPtrArray *vms;			/* struct vmnode * */
	GHashTable *xfers;		/* transfer key -> struct xfer * */
	GMainLoop *loop;
	gboolean said_hello;
	gboolean shutdown;		/* the client asked us to end */
	gint64 started;			/* monotonic, for INFO */
};

/* supervisor.c */
int node_run(const char *basedir);
void node_send(struct node *n, guint type, guint vm, guint32 tag,
	       GVariant *body);
void node_send_bytes(struct node *n, guint type, guint vm, guint32 tag,
		     const void *data, gsize len);

/* vmnode.c: a VM's worker process and what is injected into it */
struct vmnode *vmnode_new(struct node *n, guint index, GError **error);
void vmnode_free(struct vmnode *vm);
const char *vmnode_inject_dir(struct vmnode *vm);
/* The file is in inject/ under name and passed its checks. */
void vmnode_install(struct vmnode *vm, const char *name,
		    enum inject_kind kind);
gboolean vmnode_uninstall(struct vmnode *vm, const char *name,
			  GError **error);
/* WIRE_RESTART: answered once the new worker is up. */
void vmnode_restart(struct vmnode *vm, guint32 tag);
/* WIRE_OBJ_DESTROY: answered once the worker has destroyed it. */
void vmnode_destroy_object(struct vmnode *vm, guint32 tag, guint32 id);
/* The VM's lines of WIRE_INFO. */
void vmnode_info(struct vmnode *vm, GString *s);

const char *vmnode_data_dir(struct vmnode *vm);

/* vmcalls.c: a VM's calls */
void vmnode_call(struct vmnode *vm, guint32 id, char **argv);
/* The file holding a call's stream, or NULL if there is no such call. */
char *vmnode_call_file(struct vmnode *vm, guint32 id, guint stream);
/* WIRE_CANCEL: answers the request tag itself (for a running call, once
 * the call has ended and its CALL_STATE is out). */
void vmnode_cancel(struct vmnode *vm, guint32 tag, guint32 id);
/* WIRE_FORGET: 0 or an errno, with a message for the REPLY. */
int vmnode_forget(struct vmnode *vm, guint32 id, const char **why);

/* datafs.c: WIRE_FSOP on a VM's data directory */
void datafs_op(struct node *n, struct vmnode *vm, struct wire_msg *m);

/* store.c */
gboolean rm_rf(const char *path);
gboolean valid_file_name(const char *name, GError **error);
