/*
 * tfs.h - the state of a tricklefs mount.
 *
 *   struct tfs    the mount: options, hosts, VMs in directory order
 *   struct host   one connection (SSH or local pipes) to one trickle-node
 *   struct vm     one VM directory; a host carries one or more
 *   struct call   one forked call and what is known of it here
 *
 * Everything runs in one GMainLoop; FUSE requests that need the node are
 * answered from callbacks when its reply arrives (or a timer fires).
 */
#pragma once

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <glib.h>
#include <sys/stat.h>

#include "link.h"
#include "wire.h"

struct host;
struct vm;
struct nodespec;

struct tfs_options {
	char *identity;
	char *known_hosts;
	char *node_command;
	char *hostfile;
	int local;			/* VMs on this machine, no SSH */
	int reply_timeout;		/* seconds for any node request */
	int connect_timeout;
	int alive_interval;		/* ServerAliveInterval */
	int alive_count;		/* ServerAliveCountMax */
	int timeout;			/* default TRICKLE_TIMEOUT of calls */
	int any_window;			/* .any calls at a VM at once */
	int discover;			/* find nodes by their beacons */
	int discover_timeout;		/* s to wait for them at mount */
	char *discover_group;
	int discover_port;
	char *discover_user;
	int vms_per_node;		/* 0: the node's cores */
	int max;			/* discovered VMs at most; 0: any */
	int min;			/* VMs up, or the mount fails */
	char *allow_text;		/* allow=PAT:PAT */
	char **allow;
	char *logfile;
	int foreground;
	int debug;
};

struct tfs {
	struct tfs_options opt;
	GPtrArray *hosts;		/* struct host * */
	GPtrArray *vms;			/* struct vm *, the root directory */
	struct vm *all;			/* .all: acts on every VM */
	struct vm *any;			/* .any: calls run where free first */
	GQueue any_queue;		/* .any calls not yet handed to a VM */
	guint any_next;			/* where the next search for a VM
					   starts, so ties rotate */
	gboolean any_kicking, any_again;	/* any_kick re-entered */
	struct fuse_session *se;
	GMainLoop *loop;
	uid_t uid;
	gid_t gid;
	time_t started;
	gboolean stopping;		/* unmounting: quiet about hosts ending */
	GList *done_readers;		/* open .done files (fsdone.c) */
	char *spool_dir;		/* copies of .all/inject (spool.c) */
	GList *replays;			/* spool.c: copies on their way */
	struct discover *discover;	/* -o discover (discovery.c) */
	GHashTable *refused;		/* "address name" logged as refused */
	GHashTable *disconnected;	/* "address name" let go by .ctl */
	GHashTable *retry_at;		/* "address name" -> when a node that
					   could not be joined is tried again */
	guint discover_timer;
};

enum host_state { HOST_CONNECTING, HOST_UP, HOST_DOWN };

/* A request to the node waiting for its REPLY, DATA, STAT or LIST.  done
 * gets err and msg from a REPLY; for DATA err 0, msg NULL and the bytes;
 * for STAT and LIST err 0, msg the type's name (wire_type_name()) and
 * bytes the body as a serialized GVariant in normal form, valid only
 * during the call. */
struct request;
typedef void (*request_done_fn)(void *data, int err, const char *msg,
				const guint8 *bytes, gsize len);

struct host {
	struct tfs *fs;
	char *label;			/* user@host:port, or "local" */
	struct link_ssh_options ssh;	/* unused for local */
	gboolean local;
	char *command;			/* trickle-node, as run there */
	struct link *link;
	struct wire_decoder dec;
	GByteArray *frame;
	GPtrArray *vms;			/* struct vm *, by index on the node */
	enum host_state state;
	char *down_reason;
	char *node_name;		/* what the node calls itself */
	guint cores;
	GHashTable *requests;		/* tag -> struct request * */
	guint32 next_tag;
	GQueue held_writes;		/* fuse_req_t held back by flow control */
	guint held_timer;		/* fails writes held too long */
	guint ping_timer;
	gint64 last_heard;
	guint64 bytes_out, bytes_in;	/* through the link, for info */
	/* members.c */
	gboolean joining;		/* added while mounted, not up yet:
					   its VMs have no directory */
	gboolean discovered;		/* found by discovery: leaves when
					   it goes down */
	gboolean leaving;		/* its VMs are gone; ending it */
	GList *join_waits;		/* .ctl connect writes waiting */
	guint join_timer;
	char *beacon_name;		/* discovery: the name it announces */
};

struct injected {
	guint32 id;			/* inode number part */
	char *name;
	mode_t mode;
	guint64 size;
	time_t mtime;
	gboolean installed;		/* the node accepted it */
	int writers;			/* open transfers */
};

struct call {
	struct vm *vm;
	guint32 id;
	char *args;			/* the line as written */
	guint state;			/* enum wire_call_state */
	char *detail;			/* "exit 3", "signal 11 (SIGSEGV)" */
	int code;
	guint64 out_size, err_size;
	time_t created, changed;
	GList *joiners;			/* struct joiner *, blocked reads */
	GList *pollers;			/* struct fuse_pollhandle * */
	/* A call forked through .any is two: the .any call the user sees
	 * and, once a VM is free, the call on that VM.  The .any one
	 * mirrors the other's state; output is read from the VM. */
	struct call *any;		/* on a VM: the .any call it serves */
	struct call *real;		/* on .any: the VM's call, once sent */
	char **argv;			/* on .any: the words, until sent */
	GList *queued;			/* on .any: its link in any_queue */
	char *where;			/* on .any: the VM it was sent to */
	guint opens;			/* open result/stdout/stderr files */
};

struct vm {
	struct tfs *fs;
	struct host *host;		/* NULL for .all and .any */
	guint index;			/* on its node */
	guint slot;			/* in tfs->vms, for inode numbers */
	char *name;
	guint state;			/* enum wire_vm_state */
	char *detail;
	guint32 pid;
	GHashTable *calls;		/* id -> struct call * */
	guint32 last_call;
	GHashTable *injected;		/* name -> struct injected * */
	GHashTable *injected_ids;	/* id -> struct injected * */
	guint32 last_injected;
	time_t created;
	struct fsdata *data;		/* data/ paths (fsdata.c) */
	GVariant *funcs;		/* a(sss) name, origin, doc (node) */
	GHashTable *func_ids;		/* name -> id, stable for inodes */
	GPtrArray *func_names;		/* id - 1 -> name */
	GVariant *objects;		/* a(uss) id, class, description */
	guint ended[CALL_STATE_MAX];	/* calls that ended, by state */
	guint any_load;			/* .any calls sent here, not ended */
	gboolean draining;		/* takes no new calls; goes when idle */
	gboolean gone;			/* no longer in the tree */
};

/* The slots of the .all and .any pseudo-VMs in inode numbers. */
#define ALL_SLOT 0xffffffu
#define ANY_SLOT 0xfffffeu

/* host.c */
struct host *host_new(struct tfs *fs, const char *label, gboolean local);
/* A host for a NODE's [USER@]HOST[:PORT], named so, not started. */
struct host *host_new_ssh(struct tfs *fs, const struct nodespec *ns);
void host_start(struct host *h);
void host_free(struct host *h);
/* FALSE if the body does not fit in a frame (nothing is sent). */
gboolean host_send(struct host *h, guint type, guint vm, guint32 tag,
		   GVariant *body);
void host_send_bytes(struct host *h, guint type, guint vm, guint32 tag,
		     const void *data, gsize len);
/* Declare the host down now (why for the log and its calls). */
void host_fail(struct host *h, const char *why);
/* Send a frame that the node answers with REPLY or DATA; done runs once,
 * with the answer, or with an error after reply_timeout or if the host
 * goes down.  tag 0 picks a new one; the node answers with the tag. */
guint32 host_request(struct host *h, guint type, guint vm, guint32 tag,
		     GVariant *body, request_done_fn done, void *data);
guint32 host_next_tag(struct host *h);
/* Answer a FUSE write now, or once the link has room again. */
void host_reply_write(struct host *h, fuse_req_t req, size_t size);
/* Ask every host to end its VMs and wait (bounded) for them to go. */
void hosts_shutdown(struct tfs *fs);
/* No host is still connecting. */
gboolean hosts_ready(struct tfs *fs);
/* Every link is closed. */
gboolean hosts_gone(struct tfs *fs);

/* vm.c */
struct vm *vm_new(struct tfs *fs, struct host *h, const char *name);
void vm_free(struct vm *vm);
/* Fork a call on vm; any: the .any call it runs for, or NULL. */
struct call *vm_fork(struct vm *vm, char **argv, const char *line,
		     struct call *any);
struct call *vm_call(struct vm *vm, guint32 id);
/* A new call in vm's table, queued, not sent anywhere. */
struct call *call_new(struct vm *vm, const char *line);
/* The call has ended: wake what waits for it. */
void call_ended_now(struct call *c);
void call_set_state(struct call *c, guint state, const char *detail);
void vm_call_state(struct vm *vm, guint32 id, guint state, const char *detail,
		   int code, guint64 out, guint64 err);
void vm_down(struct vm *vm, const char *why);
char *call_status_text(const struct call *c);
/* A .any call's vm file: where it was sent, or nothing yet. */
char *call_vm_text(const struct call *c);
gboolean call_ended(const struct call *c);
/* Reply to a read of result now or when the call ends. */
void call_join(struct call *c, fuse_req_t req, size_t size, off_t off);
/* Read size bytes at off of a call's stream from the node into req. */
void call_read(struct call *c, guint stream, fuse_req_t req, size_t size,
	       off_t off);
struct injected *vm_injected_add(struct vm *vm, const char *name,
				 mode_t mode);
void vm_set_funcs(struct vm *vm, GVariant *funcs);
/* The id of a function name for inode numbers, 0 if the VM has none. */
guint32 vm_func_id(struct vm *vm, const char *name);
/* Origin and doc of a function by id; FALSE if the VM has no such. */
gboolean vm_func(struct vm *vm, guint32 id, const char **name,
		 const char **origin, const char **doc);
void vm_set_objects(struct vm *vm, GVariant *objects);
gboolean vm_object(struct vm *vm, guint32 id, const char **cls,
		   const char **desc);
void vm_injected_remove(struct vm *vm, struct injected *inj);

/* anysched.c: .any, the initiator's queue of calls for the first free VM */
struct call *any_fork(struct tfs *fs, char **argv, const char *line);
/* Hand queued .any calls to VMs that have room; call when one may. */
void any_kick(struct tfs *fs);
/* c, a VM's call serving a .any call, changed state. */
void any_update(struct call *c);
/* Cancel a .any call still queued here; FALSE if it was sent. */
gboolean any_cancel_queued(struct call *c);
/* Drop a .any call and the VM's call behind it from the tables. */
void any_forgotten(struct call *c);

/* members.c: VMs joining and leaving while mounted */
typedef void (*members_joined_fn)(void *data, struct host *h,
				  const char *error);
/* Connect a host with nvms VMs named after ns; they appear once its node
 * is up.  done (if not NULL) hears once: error NULL when up. */
struct host *members_connect(struct tfs *fs, const struct nodespec *ns,
			     guint nvms, gboolean discovered,
			     members_joined_fn done, void *data);
char *members_unique_name(struct tfs *fs, const char *base);
gboolean members_name_taken(struct tfs *fs, const char *name);
void members_host_up(struct host *h);
void members_host_down(struct host *h);
void members_host_leaves(struct host *h, const char *why);
/* No new calls; the VM goes once what it has ends. */
void members_drain(struct vm *vm, const char *why);
/* Something of vm's ended: a draining VM may go now. */
void members_check(struct vm *vm);
/* A call of h's was forgotten: its node may be ended now. */
void members_host_check(struct host *h);
/* .ctl's text: a line per VM. */
char *members_text(struct tfs *fs);

/* The VM has a directory, and takes new work. */
static inline gboolean
vm_listed(const struct vm *vm)
{
	return !vm->gone;
}

static inline gboolean
vm_open(const struct vm *vm)
{
	return !vm->gone && !vm->draining;
}

/* spool.c: what .all/inject installed, kept to give VMs that join */
int spool_open(struct tfs *fs, const char *name);
void spool_commit(struct tfs *fs, const char *name, int fd, gboolean ok);
void spool_remove(struct tfs *fs, const char *name);
void spool_replay(struct vm *vm);
/* .all/inject/ installed all: give it to the VMs that joined while it was
 * on its way (had: the VMs it went to). */
void spool_give_rest(struct tfs *fs, const struct injected *all,
		     GPtrArray *had);
void spool_cleanup(struct tfs *fs);

/* fsvm.c */
void info_open(fuse_req_t req, struct vm *vm, struct fuse_file_info *fi);
void info_read(fuse_req_t req, size_t size, off_t off,
	       struct fuse_file_info *fi);
void info_release(fuse_req_t req, struct fuse_file_info *fi);
void ctl_open(fuse_req_t req, struct vm *vm, guint32 call,
	      struct fuse_file_info *fi);
void ctl_write(fuse_req_t req, const char *buf, size_t size,
	       struct fuse_file_info *fi);
void ctl_release(fuse_req_t req, struct fuse_file_info *fi);
void call_forget(fuse_req_t req, struct vm *vm, guint32 id);
void object_destroy(fuse_req_t req, struct vm *vm, guint32 id);
char *func_text(struct vm *vm, guint32 id);
char *object_text(struct vm *vm, guint32 id);

/* fsctl.c: MOUNT/.ctl */
void mctl_open(struct tfs *fs, fuse_req_t req, struct fuse_file_info *fi);
void mctl_read(fuse_req_t req, size_t size, off_t off,
	       struct fuse_file_info *fi);
void mctl_write(fuse_req_t req, const char *buf, size_t size,
		struct fuse_file_info *fi);
void mctl_release(fuse_req_t req, struct fuse_file_info *fi);

/* discovery.c: nodes found by their beacons (-o discover) */
gboolean discovery_start(struct tfs *fs, GError **error);
/* Probe now; answers arrive through the loop. */
void discovery_probe(struct tfs *fs);
void discovery_stop(struct tfs *fs);
/* .ctl disconnected a VM of h: do not bring its node back by itself. */
void discovery_let_go(struct host *h);
/* h, found by discovery, could not be joined: not again for a while. */
void discovery_failed(struct host *h);

/* fsdone.c */
void done_open(struct tfs *fs, fuse_req_t req, struct fuse_file_info *fi);
void done_read(fuse_req_t req, size_t size, struct fuse_file_info *fi);
void done_release(fuse_req_t req, struct fuse_file_info *fi);
void done_announce(struct call *c);
void done_poll(fuse_req_t req, struct fuse_file_info *fi,
	       struct fuse_pollhandle *ph);
void call_poll(struct call *c, fuse_req_t req, struct fuse_pollhandle *ph);
void call_notify_pollers(struct call *c);

/* fsops.c */
extern const struct fuse_lowlevel_ops tfs_ops;
void fsops_reply_create(fuse_req_t req, struct vm *vm, struct injected *inj,
			struct fuse_file_info *fi);

/* fsinject.c, fscalls.c: the per-directory parts of the ops.  Every open
 * file's fi->fh points at a struct that starts with a struct handle. */
enum handle_type {
	H_INJECT = 1, H_CALLS_NEW, H_DIR, H_DATA, H_DATA_DIR, H_DONE, H_CTL,
	H_INFO, H_MCTL, H_OUTPUT,
};
struct handle {
	enum handle_type type;
};

void inject_create(struct tfs *fs, fuse_req_t req, struct vm *vm,
		   const char *name, mode_t mode, struct fuse_file_info *fi);
void inject_open(struct tfs *fs, fuse_req_t req, struct vm *vm,
		 struct injected *inj, struct fuse_file_info *fi);
void inject_write(fuse_req_t req, const char *buf, size_t size, off_t off,
		  struct fuse_file_info *fi);
void inject_flush(fuse_req_t req, struct fuse_file_info *fi);
void inject_release(fuse_req_t req, struct fuse_file_info *fi);
void inject_unlink(fuse_req_t req, struct vm *vm, const char *name);

void calls_new_open(fuse_req_t req, struct vm *vm, struct fuse_file_info *fi);
void calls_new_write(fuse_req_t req, const char *buf, size_t size,
		     struct fuse_file_info *fi);
void calls_new_read(fuse_req_t req, size_t size, struct fuse_file_info *fi);
void calls_new_release(fuse_req_t req, struct fuse_file_info *fi);

/* Reply to a read of size at off of a text held here (fsops.c). */
void reply_bytes(fuse_req_t req, const char *text, size_t len, size_t size,
		 off_t off);

/* Errno for a node's answer, for the FUSE reply. */
int errno_from_node(int err);

/* logging */
void tfs_log_init(const struct tfs_options *opt);
void tfs_log_detach(void);
