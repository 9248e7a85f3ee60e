/*
 * wire.h - the framed protocol spoken between tricklefs and trickle-node,
 * and between trickle-node and its VM workers.
 *
 * A frame is a 12-byte header followed by a body:
 *
 *   u32 length   body length in bytes, big endian, at most WIRE_MAX_BODY
 *   u16 type     enum wire_type
 *   u16 vm       VM index on the node (0 when the message is per node)
 *   u32 tag      call id for call messages, request id for request/reply
 *   body         a GVariant in normal form of the type wire_body_type(type)
 *
 * The decoder never trusts the peer: an unknown type, an oversized length
 * or a body that is not in normal form of the expected type is an error
 * that ends the stream, never a crash.  Bulk data travels in DATA-like
 * messages of at most WIRE_CHUNK bytes, so neither side ever needs to hold
 * a whole file.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

#define WIRE_PROTO_VERSION 6
#define WIRE_SHA256_HEX 64	/* a SHA-256 sum as the cache names it */
#define WIRE_HEADER_SIZE 12
#define WIRE_CHUNK (256 * 1024)
#define WIRE_MAX_BODY (WIRE_CHUNK + 4096)
#define WIRE_RESULT_MAX 4096	/* results sent with their call's end */

enum wire_type {
	/* client -> node */
	WIRE_HELLO = 1,		/* (uu)   protocol version, number of VMs */
	WIRE_INJECT_BEGIN,	/* (su)   file name, mode; tag = transfer id */
	WIRE_INJECT_DATA,	/* ay     next chunk of the file */
	WIRE_INJECT_END,	/* ()     install it; answered by REPLY */
	WIRE_INJECT_ABORT,	/* ()     forget a transfer */
	WIRE_UNINJECT,		/* s      remove an installed file; REPLY */
	WIRE_CALL,		/* as     argv; tag = call id */
	WIRE_READ,		/* (uytu) call id, stream, offset, max; DATA */
	WIRE_PING,		/* ()     answered by PONG with the same tag */
	WIRE_SHUTDOWN,		/* ()     end every VM, remove their files */

	/* node -> client */
	WIRE_WELCOME,		/* (usuu) version, host name, cores, pid */
	WIRE_REPLY,		/* (is)   errno (0 = ok), message */
	WIRE_DATA,		/* ay     bytes read; empty at end of file */
	WIRE_CALL_STATE,	/* (ysitt) state, detail, exit code, sizes */
	WIRE_VM_STATE,		/* (yus)  state, worker pid, detail */
	WIRE_PONG,		/* () */
	WIRE_LOG,		/* (us)   GLogLevelFlags, message */

	/* node supervisor <-> worker */
	WIRE_W_LOAD,		/* s      load this file (shared object) */
	WIRE_W_LOADED,		/* (is)   errno, message */
	WIRE_W_RUN,		/* (sssasas) call directory, the VM's log of
				 *   ended calls, program or "", argv,
				 *   environment ("NAME=VALUE") */
	WIRE_W_DONE,		/* (yisb) state, exit code, detail, whether
				 *   the worker logged the end (worker.h) */

	/* client -> node, each answered as noted */
	WIRE_FSOP,		/* (ysstuay) enum wire_fsop, path, second path,
				 *   offset, mode or count, bytes; paths are
				 *   relative to the VM's data directory.
				 *   STAT and LIST answer with those types,
				 *   READ with DATA, the others with REPLY */
	WIRE_CANCEL,		/* u      call id; REPLY */
	WIRE_FORGET,		/* u      an ended call's id: remove its files;
				 *        REPLY */
	WIRE_RESTART,		/* ()     a fresh VM; REPLY */
	WIRE_INFO,		/* ()     TEXT: "key: value" lines */
	WIRE_OBJ_DESTROY,	/* u      object id; REPLY once destroyed */

	/* node -> client */
	WIRE_STAT,		/* (uttu) mode, size, mtime, nlink */
	WIRE_LIST,		/* (a(sutt)b) entries (name, mode, size,
				 *   mtime) from the offset asked, more? */
	WIRE_TEXT,		/* s */
	WIRE_FUNCS,		/* a(sssss) every callable name of a VM:
				 *   name, where a call goes ("built-in",
				 *   "basic.so", "program"), doc, SHA-256
				 *   of that file ("" for a built-in), what
				 *   it shadows ("a.so, built-in" or "");
				 *   sent when it changes (version 4) */
	WIRE_OBJECTS,		/* a(uss) live objects of a VM: id, class,
				 *   description; sent when they change */

	/* worker -> supervisor, supervisor -> worker */
	WIRE_W_OBJECTS,		/* a(uss) as WIRE_OBJECTS, after each call */
	WIRE_W_DESTROY,		/* u      destroy an object */
	WIRE_W_DESTROYED,	/* (uis)  object id, errno, message */

	/* client -> node: HELLO for a session that outlives the link */
	WIRE_ATTACH,		/* (uusu) protocol version, number of VMs,
				 *   session id ([0-9a-f], 8-64), lease in s:
				 *   resume that session if the node still has
				 *   it (in a live trickle-node, or on disk),
				 *   else start it.  Answered by WELCOME, then
				 *   the state of every VM and call the node
				 *   knows (VM_STATE, FUNCS, OBJECTS,
				 *   CALL_STATE), then SYNCED */
	/* node -> client */
	WIRE_SYNCED,		/* (bu)   resumed an existing session?, calls
				 *   reported; a call the client sent before
				 *   and the node did not report is lost */
	WIRE_RESULT,		/* ay     a small result (stdout of a call
				 *   that is done), sent just before its
				 *   CALL_STATE: the client keeps it */
	/* client -> node */
	WIRE_STDIN,		/* ay     bytes of the stdin of call tag, sent
				 *   with TRICKLE_STDIN=1; empty: its end */

	/* client -> node (version 5): an injected file goes once to a
	 * node's content cache (per user, shared by its sessions), then
	 * from there into each VM.  vm is 0 for the two per-node ones. */
	WIRE_CACHE_HAVE,	/* s      SHA-256 (64 lowercase hex): REPLY 0
				 *   if the node's cache has that content
				 *   (checked), ENOENT if not */
	WIRE_CACHE_PUT,		/* (st)   SHA-256, size: the content follows
				 *   as INJECT_DATA with the same tag, then
				 *   INJECT_END (REPLY: 0 once it is in the
				 *   cache, EBADMSG if the bytes do not have
				 *   that sum) or INJECT_ABORT */
	WIRE_INJECT_CACHED,	/* (ssu)  file name, SHA-256, mode: install
				 *   that content from the cache into VM vm
				 *   as INJECT_END does (REPLY the same);
				 *   ESTALE if the cache has it no more */

	/* node -> client (issue 17): the node's cores, shared by every
	 * trickle-node on it; vm 0.  Sent when it changes. */
	WIRE_SHARE,		/* (buuuuu) shared? (FALSE: no keeper, every
				 *   VM runs at once), clients of the node,
				 *   their users, slots this session runs
				 *   calls in, the node's budget of slots,
				 *   VMs waiting for one */
	/* Checkpoint and restore of a VM's state (issue 16), its files
	 * kept on the node in vm<i>/checkpoints/N (mode 0600).  client ->
	 * node: */
	WIRE_CKPT_TAKE,		/* (uuu)  number N, ms to wait for a running
				 *   call (then EBUSY), flags (CKPT_*):
				 *   answered by STAT of the file once it is
				 *   written, or REPLY with the error
				 *   (EOPNOTSUPP: a library without hooks,
				 *   named in the message) */
	WIRE_CKPT_RESTORE,	/* (uuu)  N, ms to wait, flags: TEXT (the
				 *   injected files now, "MODE SIZE NAME" lines)
				 *   once the VM runs from it, or REPLY */
	WIRE_CKPT_READ,		/* (utu)  N, offset, max: DATA */
	WIRE_CKPT_REMOVE,	/* u      N: REPLY */
	WIRE_CKPT_PUT,		/* (ut)   N, size: the archive follows as
				 *   INJECT_DATA with the same tag, then
				 *   INJECT_END (REPLY once checked and kept)
				 *   or INJECT_ABORT */
	/* supervisor -> worker, worker -> supervisor */
	WIRE_W_SAVE,		/* a(ss)  (library path, file): write each
				 *   library's trickle_save() into its file */
	WIRE_W_SAVED,		/* (is)   errno, message */
	WIRE_W_RESTORE,		/* a(ss)  (library path, file): give each
				 *   library's trickle_restore() its file */
	WIRE_W_RESTORED,	/* (is)   errno, message */
	/* client -> node: one more VM in the session (a VM moving here,
	 * "migrate"); vm 0 */
	WIRE_VM_ADD,		/* u      its index: the session's number of
				 *   VMs (else EINVAL); REPLY once made */

	/* client -> node (issue 18, inject once per node): install a
	 * cached content into many VMs in one frame; vm 0 */
	WIRE_INJECT_CACHED_VMS,	/* (ssuau) file name, SHA-256, mode, the
				 *   VMs: each as INJECT_CACHED would; REPLY
				 *   with the error they all get (ESTALE, a
				 *   refusal of the content), else TEXT: a
				 *   line "VM ERRNO MESSAGE" per VM that did
				 *   not install it, "" when all did */

	WIRE_TYPE_MAX
};

/* Flags of WIRE_CKPT_TAKE and WIRE_CKPT_RESTORE. */
#define CKPT_ON_CRASH 1u	/* a worker that dies is restored from it */

/* Streams of a call that WIRE_READ can read. */
enum wire_stream {
	WIRE_STDOUT = 0,
	WIRE_STDERR = 1,
};

/* Call states as sent in WIRE_CALL_STATE and WIRE_W_DONE. */
enum wire_call_state {
	CALL_QUEUED = 0,
	CALL_RUNNING,
	CALL_DONE,
	CALL_FAILED,
	CALL_CANCELLED,
	CALL_STATE_MAX
};

/* Operations of WIRE_FSOP on a VM's data directory. */
enum wire_fsop {
	FS_STAT = 0,		/* path */
	FS_LIST,		/* path, offset = first entry wanted */
	FS_READ,		/* path, offset, count */
	FS_WRITE,		/* path, offset, bytes */
	FS_CREATE,		/* path, mode: create or truncate to 0 */
	FS_TRUNCATE,		/* path, offset = new size */
	FS_UNLINK,		/* path */
	FS_MKDIR,		/* path, mode */
	FS_RMDIR,		/* path */
	FS_RENAME,		/* path -> second path */
	FS_CHMOD,		/* path, mode */
	FS_SETMTIME,		/* path, offset = seconds since the epoch */
	/* issue 12, pipelined data/ writes: */
	FS_FSYNC,		/* path: fsync(2) it (a node without it
				   answers ENOSYS) */
	FS_OP_MAX
};

/* VM states as sent in WIRE_VM_STATE. */
enum wire_vm_state {
	VM_STARTING = 0,
	VM_UP,
	VM_RESTARTING,
	VM_DOWN,
	VM_STATE_MAX
};

struct wire_msg {
	guint16 type;
	guint16 vm;
	guint32 tag;
	GVariant *body;		/* owned; of type wire_body_type(type) */
};

struct wire_decoder {
	guint8 *data;		/* bytes received; decoded up to start */
	gsize len, cap;		/* bytes in data, its size */
	gsize start;		/* bytes of data already decoded */
	gsize max_buffered;	/* refuse a peer that outruns this */
};

#define WIRE_ERROR (wire_error_quark())
GQuark wire_error_quark(void);
enum { WIRE_ERROR_MALFORMED, WIRE_ERROR_OVERFLOW };

const char *wire_type_name(guint type);
/* Is word NAME=VALUE with NAME a shell identifier?  A call line's leading
 * such words are its environment and options (TRICKLE_*), for the mount,
 * the node and the tools alike. */
gboolean wire_is_assignment(const char *word);
const GVariantType *wire_body_type(guint type);
const char *wire_call_state_name(guint state);
const char *wire_vm_state_name(guint state);

/*
 * Append one frame to out.  body is consumed if floating; NULL means the
 * empty tuple "()".  Returns FALSE (and appends nothing) if the body does
 * not have the type the protocol expects or is too large: that is a
 * programming error, and is logged as a critical.
 */
gboolean wire_encode(GByteArray *out, guint type, guint vm, guint32 tag,
		     GVariant *body);

/* Append a data-carrying frame without building a GVariant first. */
void wire_encode_bytes(GByteArray *out, guint type, guint vm, guint32 tag,
		       const void *data, gsize len);

void wire_decoder_init(struct wire_decoder *d);
void wire_decoder_clear(struct wire_decoder *d);
void wire_decoder_feed(struct wire_decoder *d, const void *data, gsize len);
/* The bytes fed and not yet decoded (a banner, a stream handed on). */
const guint8 *wire_decoder_rest(const struct wire_decoder *d, gsize *len);

/*
 * Take the next complete frame out of the decoder.  Returns 1 and fills
 * msg (free it with wire_msg_clear), 0 if more bytes are needed, or -1 with
 * error set if the stream is malformed; after -1 the stream is unusable.
 */
int wire_decoder_next(struct wire_decoder *d, struct wire_msg *msg,
		      GError **error);

void wire_msg_clear(struct wire_msg *msg);

/* For ay bodies: a pointer into the message and its length. */
const guint8 *wire_msg_bytes(const struct wire_msg *msg, gsize *len);
