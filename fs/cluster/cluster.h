/*
 * cluster.h - the cluster layer: hosts (one trickle-node each), their
 * VMs, the calls forked on them, .any's queue, and where VMs come from.
 *
 *   struct cluster  the whole: options, hosts, VMs in directory order
 *   struct host     one connection (a link of some kind) to a trickle-node
 *   struct vm       one VM; a host carries one or more
 *   struct call     one forked call and what is known of it here
 *
 * It knows nothing of FUSE.  Inside it, lowest first: events.c (the news
 * list), host.c (the node session: frames, requests, liveness; it tells
 * cluster.c through struct host_events), vm.c (the model: calls and their
 * states; runs.c, a call's runs), fanin.c, feed.c (a file to a node at
 * the link's pace), then the users of the model: anysched.c (.any) and
 * anyindex.c (which VM it sends to, without looking at every VM),
 * members.c (joining, draining, leaving), spool.c, callin.c (a call's
 * stdin), journal.c, and the membership
 * sources (source_static.c, source_discover.c); cluster.c ties host news
 * to the model.  Beside them: lasterr.c (the last error of a host or VM,
 * typed) and logring.c (the recent messages MOUNT/.log shows).  The layer above (the FUSE tree) hears news as typed
 * events (cluster_listen) and calls down through the functions here.
 *
 * Everything runs in one GMainLoop; a request to a node is answered from
 * a callback when its reply arrives, or its deadline passes.
 */
#pragma once

#include <glib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "transport.h"
#include "wire.h"
#include "cluster_opts.h"
#include "journal.h"

struct host;
struct vm;
struct nodespec;

/* The last error of a host or a VM, for its info (lasterr.c). */
struct last_error {
	gint64 when;			/* g_get_real_time(); 0: none yet */
	int err;			/* an errno that names the cause */
	char *msg;
};


/* News from the cluster, typed.  Listeners run in the order they were
 * registered, synchronously; the pointers are valid during the call. */
enum cluster_event_type {
	CL_HOST_UP,		/* host: its node said WELCOME */
	CL_HOST_DOWN,		/* host, reason, when: it will say no more */
	CL_HOST_UNREACHABLE,	/* host, reason: its link is lost; it is
				   being reconnected, its calls kept */
	CL_HOST_DRAINED,	/* host: its link takes bytes again */
	CL_VM_JOINED,		/* vm: has a directory now */
	CL_VM_LEFT,		/* vm: drained and gone from the tree */
	CL_VM_CHANGED,		/* vm: state, functions or objects changed */
	CL_HOST_SHARE,		/* host: its node's cores, shared with other
				   clients, changed (host->share) */
	CL_CALL_CHANGED,	/* call: a new state, not an end */
	CL_CALL_ENDED,		/* call: done, failed or cancelled */
};

struct cluster_event {
	enum cluster_event_type type;
	struct host *host;
	struct vm *vm;
	struct call *call;
	const char *reason;	/* CL_HOST_DOWN, CL_VM_LEFT */
	gint64 when;		/* g_get_real_time() of the news */
};

typedef void (*cluster_listener_fn)(void *data, const struct cluster_event *ev);

/* A place VMs come from (source_static.c, source_discover.c): it finds
 * nodes and hands them to members_connect(), and says when one is gone
 * (members_host_leaves()).  NULL methods do nothing. */
struct member_source;
struct member_source_ops {
	const char *name;
	gboolean (*start)(struct member_source *src, GError **error);
	void (*probe)(struct member_source *src);
	void (*stop)(struct member_source *src);
	/* A host this source made could not be joined, or was let go by
	 * the user (.ctl disconnect): what to do about its node. */
	void (*failed)(struct member_source *src, struct host *h);
	void (*let_go)(struct member_source *src, struct host *h);
	/* .ctl lines for nodes still to come (pending jobs). */
	void (*describe)(struct member_source *src, GString *out);
	/* .ctl scale N: this many nodes. */
	gboolean (*scale)(struct member_source *src, guint n, GError **error);
	/* Its memory, after every host is freed. */
	void (*destroy)(struct member_source *src);
};

struct member_source {
	const struct member_source_ops *ops;
	struct cluster *cl;
	gboolean started;
};

struct cluster {
	struct cluster_options opt;
	GPtrArray *hosts;		/* struct host * */
	GPtrArray *vms;			/* struct vm *, the root directory */
	struct vm *all;			/* .all: acts on every VM */
	struct vm *any;			/* .any: calls run where free first */
	GQueue any_queue;		/* struct call *, on .any: .any calls
					   not yet handed to a VM */
	struct any_index *any_index;	/* anyindex.c: VMs by what they run
					   and how busy they are */
	GHashTable *vm_names;		/* name -> struct vm *, listed or
					   not (cluster_vm_named) */
	guint vm_names_seen;		/* VMs of vms in it so far */
	GHashTable *names_held;		/* name -> VMs not gone holding it
					   (members.c) */
	gboolean any_kicking, any_again;	/* any_kick re-entered */
	gboolean stopping;		/* unmounting: quiet about hosts ending */
	GArray *listeners;		/* events.c */
	guint emitting;			/* events.c: nested emits */
	struct member_source *static_src;	/* command line, hostfile */
	struct member_source *discover_src;	/* -o discover, once used */
	struct member_source *slurm_src;	/* -o slurm, slurm_jobs= */
	char *spool_dir;		/* copies of .all/inject (spool.c) */
	struct journal *journal;	/* journal.c; NULL: none */
	gboolean keep_sessions;		/* leave node sessions when ending */
	GList *replays;			/* spool.c: copies on their way */
	GList *feeds;			/* feed.c: files on their way */
	guint feed_kick_gen;		/* feed.c: feed_kick rounds */
	GHashTable *fills;		/* injcache.c: contents on their way
					   to a node's cache */
	GHashTable *spool_sums;		/* spool.c: name -> SHA-256 */
};

/* CONNECTING -> UP -> DOWN, or UP -> RECONNECTING (link lost; requests
 * fail at once, calls wait) -> UP again (or DOWN, if given up). */
enum host_state { HOST_CONNECTING, HOST_UP, HOST_RECONNECTING, HOST_DOWN };

/* How a host tells what its node said (cluster.c listens): the session
 * knows frames and requests, not what VMs and calls mean. */
/* A node's cores as its share keeper counts them (WIRE_SHARE; node/share
 * on the node): what this mount's session runs, of a budget that every
 * client of the node shares. */
struct host_share {
	gboolean known;			/* a WIRE_SHARE came */
	gboolean shared;		/* FALSE: the node runs them unshared */
	guint clients, users;		/* of the node, us included */
	guint held, budget;		/* slots running our calls, of all */
	guint waiting;			/* our VMs waiting for a slot */
};

struct host_events {
	void (*up)(struct host *h);
	void (*down)(struct host *h, const char *why);
	/* The link is lost; reconnecting (calls are not lost yet). */
	void (*unreachable)(struct host *h, const char *why);
	/* After WELCOME: the node told all it knows of the session (resumed)
	 * or started it anew; back: this is a reconnect. */
	void (*synced)(struct host *h, gboolean resumed, gboolean back);
	/* Unreachable for a whole lease: its calls are lost. */
	void (*lease_over)(struct host *h, const char *why);
	void (*drained)(struct host *h);
	void (*vm_state)(struct host *h, struct vm *vm, guint state,
			 guint32 pid, const char *detail);
	void (*call_state)(struct host *h, struct vm *vm, guint32 id,
			   guint state, const char *detail, int code,
			   guint64 out, guint64 err);
	void (*funcs)(struct host *h, struct vm *vm, GVariant *funcs);
	void (*objects)(struct host *h, struct vm *vm, GVariant *objects);
	/* WIRE_SHARE: h->share changed. */
	void (*share)(struct host *h);
	/* A small result, just before its call's CALL_STATE done. */
	void (*result)(struct host *h, struct vm *vm, guint32 id,
		       const guint8 *bytes, gsize len);
};

/* A request to the node waiting for its REPLY, DATA, STAT or LIST.  done
 * gets err and msg from a REPLY; for DATA err 0, msg NULL and the bytes;
 * for STAT and LIST err 0, msg the type's name (wire_type_name()) and
 * bytes the body as a serialized GVariant in normal form, valid only
 * during the call. */
struct request;
typedef void (*request_done_fn)(void *data, int err, const char *msg,
				const guint8 *bytes, gsize len);

struct host {
	struct cluster *fs;
	const struct host_events *ev;
	char *label;			/* user@host:port, or "local" */
	struct link_spec spec;		/* what its link is made of */
	struct member_source *source;	/* where it came from */
	struct link *link;
	struct wire_decoder dec;
	GByteArray *frame;
	GPtrArray *vms;			/* struct vm *, by index on the node */
	enum host_state state;
	char *down_reason;
	char *node_name;		/* what the node calls itself */
	guint cores;
	struct host_share share;	/* WIRE_SHARE: the node's cores */
	GHashTable *requests;		/* tag -> struct request * */
	guint32 next_tag;
	guint ping_timer;
	gboolean ending;		/* SHUTDOWN sent, link closing */
	char session[33];		/* ATTACH's id: hex, ours alone */
	char attached[33];		/* the id the current link asked for */
	gboolean lease_out;		/* unreachable past the lease: its
					   calls were given up */
	gboolean was_up;		/* WELCOME once: reconnect if lost */
	gboolean back;			/* reconnecting: the next SYNCED is a
					   resume */
	guint sync_gen;			/* bumped at each WELCOME */
	guint attempt;			/* reconnect attempts since lost */
	guint reconnect_timer;
	gint64 next_attempt;		/* monotonic */
	gint64 lost_since;		/* monotonic; 0: not lost */
	guint lease_timer;
	gint64 last_heard;
	guint64 bytes_out, bytes_in;	/* through the link, for info */
	/* members.c */
	gboolean joining;		/* added while mounted, not up yet:
					   its VMs have no directory */
	gboolean transient;		/* its source's nodes come and go:
					   it leaves when it goes down */
	gboolean leaving;		/* its VMs are gone; ending it */
	GList *join_waits;		/* .ctl connect writes waiting */
	guint join_timer;
	char *beacon_name;		/* discovery: the name it announces */
	char *source_info;		/* info lines its source adds */
	struct last_error last_error;	/* lasterr.c */
};

struct injected {
	guint32 id;			/* inode number part */
	char *name;
	mode_t mode;
	guint64 size;
	time_t mtime;
	gboolean installed;		/* the node accepted it */
	int writers;			/* open transfers */
	/* Held at the mount, not sent (fs/tree/fskept.c): a hidden name
	 * (.NAME, until renamed), or a program without +x (until chmod). */
	char *held;			/* why, or NULL */
	gboolean kept;			/* its bytes are at the mount: a read
					   gives them back */
};

/* One run of a call on a VM: a line of the call's attempts file. */
struct attempt {
	char *vm;			/* the VM's name */
	char *node;			/* its host's label */
	gint64 start, end;		/* g_get_real_time(); end 0: running */
	char *outcome;			/* "done", "failed exit 3", "lost: why" */
};

struct call {
	struct vm *vm;
	guint32 id;
	char *args;			/* the line as written */
	guint state;			/* enum wire_call_state */
	char *detail;			/* "exit 3", "signal 11 (SIGSEGV)" */
	int code;
	guint64 out_size, err_size;
	struct timespec created, changed;	/* CLOCK_REALTIME: when forked,
					   when its state last changed (ns,
					   so ls -t orders quick forks) */
	/* A call forked through .any is two: the .any call the user sees
	 * and, once a VM is free, the call on that VM.  The .any one
	 * mirrors the other's state; output is read from the VM. */
	struct call *any;		/* on a VM: the .any call it serves */
	struct call *real;		/* on .any: the VM's call, once sent */
	char **argv;			/* the words, without the mount's own
					   options, until it ends (to send
					   it again); not on a .any call's
					   VM half */
	GList *queued;			/* on .any: its link in any_queue */
	char *where;			/* on .any: the VM it was sent to */
	guint sync_gen;			/* its host's generation when sent or
					   last heard of; 0: not sent yet */
	gboolean absent;		/* on .any, recovered: sent to a VM
					   not mounted now */
	GBytes *result;			/* a small result, kept here once the
					   call is done: it outlives its node */
	GPtrArray *attempts;		/* struct attempt *, on the call the
					   user forked (.any's, or the VM's) */
	guint retries;			/* lost runs it may still have again */
	gboolean retry_failed;		/* TRICKLE_RETRIES_ON_FAILURE: runs
					   that failed count as lost */
	gboolean withdrawn;		/* on a VM, serving .any: cancelled
					   before it ran, its VM draining; it
					   runs elsewhere */
	uid_t uid;			/* who forked it (the tree's; 0 also
					   when not known) */
	guint holds;			/* what the layer above holds: open
					   output files, waiting reads; the
					   call is not forgotten meanwhile */
	/* callin.c: its stdin (TRICKLE_STDIN=1), on the call the user
	 * forked; the feed on the VM's call it is sent with. */
	enum { STDIN_NONE, STDIN_OPEN, STDIN_CLOSED } stdin_state;
	guint stdin_writers;		/* open calls/N/stdin for writing */
	int stdin_fd;			/* the copy, while written; -1 */
	guint64 stdin_size;
	int stdin_error;		/* errno: part of it was not kept */
	struct feed *stdin_feed;
	/* reap.c (-o keep_calls): its place among its VM's ended calls */
	GList *reap_link;
	unsigned was_read : 1;		/* its result or stdout was read */
	unsigned reap_pending : 1;	/* old enough to go, once read and
					   let go of */
	unsigned reaping : 1;		/* its FORGET is on its way */
};

struct vm {
	struct cluster *fs;
	struct host *host;		/* NULL for .all and .any */
	guint index;			/* on its node */
	guint slot;			/* in tfs->vms, for inode numbers */
	char *name;
	guint state;			/* enum wire_vm_state */
	char *detail;
	guint32 pid;
	GHashTable *calls;		/* id -> struct call * */
	GQueue reap_q;			/* the newest ended calls, oldest
					   first (reap.c) */
	guint32 last_call;
	GHashTable *injected;		/* name -> struct injected * */
	GHashTable *injected_ids;	/* id -> struct injected * */
	guint32 last_injected;
	time_t created;
	void *tree_data;		/* the layer above's (data/ paths);
					   it frees it before cluster_free */
	GVariant *funcs;		/* a(sssss) name, origin, doc, sha256,
					   shadows (node) */
	GHashTable *func_ids;		/* name -> id, stable for inodes */
	GPtrArray *func_names;		/* id - 1 -> name */
	GArray *func_at;		/* guint, id - 1 -> 1 + its place in
					   funcs; 0: not listed now */
	guint funcs_gen;		/* bumped when funcs changes */
	GVariant *objects;		/* a(uss) id, class, description */
	guint ended[CALL_STATE_MAX];	/* calls that ended, by state */
	guint any_load;			/* .any calls sent here, not ended */
	/* anyindex.c: where .any finds it (a class of VMs that run the
	 * same functions, a queue of those with room). */
	struct any_class *any_class;	/* NULL: in none */
	guint any_class_gen;		/* funcs_gen its class was made for */
	int any_level;			/* the queue it is in; -1: none */
	GList any_link;			/* its link in that queue */
	guint64 any_stamp;		/* when it went in: first in, first
					   picked, across classes */
	gboolean any_live;		/* counted live */
	gboolean draining;		/* takes no new calls; goes when idle */
	gboolean any_withdrawn;		/* draining: .any calls queued on its
					   node were taken back (anysched.c) */
	gboolean gone;			/* no longer in the tree; set with
					   vm_set_gone */
	gboolean holds_name;		/* counted in names_held */
	struct last_error last_error;	/* lasterr.c */
	struct vm_ckpts *ckpts;		/* ckpt.c; NULL: none yet */
};

/* Results up to this size are kept at the mount once done (vm.c). */
#define RESULT_KEEP WIRE_RESULT_MAX

/* The slots of the .all and .any pseudo-VMs in inode numbers. */
#define ALL_SLOT 0xffffffu
#define ANY_SLOT 0xfffffeu

/* cluster.c: the whole */
struct cluster *cluster_new(void);
/* After the options are in: .all and .any, and the sources' hosts. */
void cluster_setup(struct cluster *cl);
/* Open the state (-o state=): what a mount before this one left there
 * comes back (calls, ids, node sessions); then it records. */
gboolean cluster_recover(struct cluster *cl, GError **error);
/* Unmounted: close the state (removed, unless the sessions are kept) and
 * let go of its lock, before the nodes are ended. */
void cluster_release_state(struct cluster *cl);
/* Connect every host, and start discovery if asked. */
gboolean cluster_start(struct cluster *cl, GError **error);
/* Stop finding nodes; ask every host to end its VMs. */
void cluster_shutdown(struct cluster *cl);
void cluster_free(struct cluster *cl);
/* No host is still connecting. */
gboolean cluster_ready(struct cluster *cl);
/* Every host still connecting is silent: its link has not answered (no
 * SSH key exchange yet), or it has none (waiting to try again). */
gboolean cluster_rest_silent(struct cluster *cl);
/* Every link is closed. */
gboolean cluster_gone(struct cluster *cl);
/* VMs listed whose node is up. */
guint cluster_vms_up(struct cluster *cl);
/* The listed VM called name, or NULL; O(1). */
struct vm *cluster_vm_named(struct cluster *cl, const char *name);
/* Probe the sources that can (discovery), starting it if need be. */
gboolean cluster_discover(struct cluster *cl, GError **error);

/* Hosts are made here only: a host of any link kind, or one reaching a
 * NODE over SSH with the mount's SSH options and its ssh_config
 * (sshhost.c; or through -o ssh_command); src is where it came from
 * (NULL: the user, by .ctl connect). */
struct nodespec;
struct host *cluster_add_host(struct cluster *cl, const char *label,
			      const struct link_spec *spec,
			      struct member_source *src);
struct host *cluster_add_ssh_host(struct cluster *cl,
				  const struct nodespec *ns,
				  struct member_source *src);

/* events.c */
void cluster_listen(struct cluster *cl, cluster_listener_fn fn, void *data);
void cluster_unlisten(struct cluster *cl, cluster_listener_fn fn, void *data);
void cluster_emit(struct cluster *cl, enum cluster_event_type type,
		  struct host *h, struct vm *vm, struct call *c,
		  const char *reason);

/* host.c: the session with one node */
/* A request to the node waiting for its REPLY, DATA, STAT, LIST or TEXT.
 * done gets err and msg from a REPLY; for DATA and TEXT err 0, msg NULL
 * and the bytes; for STAT and LIST err 0, msg the type's name
 * (wire_type_name()) and bytes the body as a serialized GVariant in
 * normal form, valid only during the call. */
typedef void (*request_done_fn)(void *data, int err, const char *msg,
				const guint8 *bytes, gsize len);
struct host *host_new(struct cluster *cl, const char *label,
		      const struct link_spec *spec,
		      const struct host_events *ev);
void host_start(struct host *h);
void host_free(struct host *h);
/* FALSE if the body does not fit in a frame (nothing is sent). */
gboolean host_send(struct host *h, guint type, guint vm, guint32 tag,
		   GVariant *body);
void host_send_bytes(struct host *h, guint type, guint vm, guint32 tag,
		     const void *data, gsize len);
/* Bytes from the node, as its link hands them over (and as
 * tests/fuzz/fuzz-host.c does, with no link at all). */
void host_feed(struct host *h, const guint8 *data, gsize len);
/* Declare the host down now (why for the log and its calls). */
void host_fail(struct host *h, const char *why);
/* Use session id (from the journal) and treat the next SYNCED as a
 * return: calls sent before that the node does not tell of are lost. */
void host_resume_session(struct host *h, const char *id);
/* Its state for people: "up", "connecting", "unreachable: reconnecting
 * (attempt 3, next in 4 s): why", "down: why". */
char *host_state_text(const struct host *h);
/* Send a frame that the node answers; done runs once, with the answer,
 * or with an error after reply_timeout or if the host goes down.  tag 0
 * picks a new one; the node answers with the tag. */
guint32 host_request(struct host *h, guint type, guint vm, guint32 tag,
		     GVariant *body, request_done_fn done, void *data);
/* A request_done_fn for requests whose answer does not matter. */
void host_no_answer(void *data, int err, const char *msg,
		    const guint8 *bytes, gsize len);
guint32 host_next_tag(struct host *h);
/* Its link holds more than LINK_HIGH_WATER: writers should wait for
 * CL_HOST_DRAINED. */
gboolean host_throttled(const struct host *h);
/* Bytes queued on its link, not yet taken. */
gsize host_pending(const struct host *h);
/* Ask the node to end its VMs and close the link once that is sent. */
void host_shutdown(struct host *h);
/* Errno for a node's answer. */
int errno_from_node(int err);

/* lasterr.c: the last error of a host or VM, as its info shows it */
/* h failed so (err: an errno that names the cause). */
void host_set_error(struct host *h, int err, const char *msg);
/* Keep msg as vm's last error (logged elsewhere, or by the node). */
void vm_set_error(struct vm *vm, int err, const char *msg);
/* Log an error of vm (a warning "VM: text") and keep it as its last. */
void vm_error(struct vm *vm, int err, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);
/* "TIME message" of the latest error of vm or of its host; NULL: none. */
char *vm_last_error_text(const struct vm *vm);
/* The errno for a .ctl connect that failed: what h's last error was
 * (connection refused, timed out, ...), else EHOSTUNREACH. */
int host_failure_errno(const struct host *h);
/* The bytes a node sent before its first frame were text (a banner of
 * its shell's start-up files): the message that says so, else NULL. */
char *host_banner_error(const guint8 *data, gsize len);
void last_error_clear(struct last_error *e);

/* fanin.c: a FUSE request (or anything) waiting for N node answers.
 * It starts held once, so that an answer arriving while requests still
 * go out cannot end it early; done runs once, when the last answer and
 * the hold are in, with the first error (0 if none).  Every part is a
 * host_request, so the whole is bounded by reply_timeout. */
struct fanin;
typedef void (*fanin_done_fn)(void *data, int err);
typedef int (*fanin_part_fn)(void *data, void *part, int err,
			     const char *msg, const guint8 *bytes, gsize len);
struct fanin *fanin_new(fanin_done_fn done, void *data);
/* Ask h; part_fn (if not NULL) sees the answer, with part, and returns
 * the error to count (0: none). */
void fanin_request(struct fanin *f, struct host *h, guint type, guint vm,
		   guint32 tag, GVariant *body, fanin_part_fn part_fn,
		   void *part);
/* One more answer will come through fanin_answer(). */
void fanin_expect(struct fanin *f);
void fanin_answer(struct fanin *f, int err);
/* Let go of the hold: done may run from here. */
void fanin_release(struct fanin *f);

/* vm.c: the model */
struct vm *vm_new(struct cluster *cl, struct host *h, const char *name);
/* members.c: vm holds its name (vm_new) until it leaves the tree. */
void members_name_hold(struct vm *vm);
void vm_set_gone(struct vm *vm);
void vm_free(struct vm *vm);
/* Fork a call on vm; any: the .any call it runs for, or NULL. */
struct call *vm_fork(struct vm *vm, char **argv, const char *line,
		     struct call *any);
struct call *vm_call(struct vm *vm, guint32 id);
/* A new call in vm's table, queued, not sent anywhere. */
struct call *call_new(struct vm *vm, const char *line);
/* A call the journal knew, with its id: sent before, in no generation of
 * its host's that the node told of (so a SYNCED not telling of it makes
 * it lost). */
struct call *call_restore(struct vm *vm, guint32 id);
/* The journal saw it forgotten: out of the table, without a word. */
void call_restore_drop(struct call *c);
/* After the journal: .any's calls go back to its queue, or mirror the
 * VM call they were sent as. */
void any_restore(struct cluster *cl);
/* The call has ended: tell every listener. */
void call_ended_now(struct call *c);
void call_set_state(struct call *c, guint state, const char *detail);
void vm_call_state(struct vm *vm, guint32 id, guint state, const char *detail,
		   int code, guint64 out, guint64 err);
void vm_down(struct vm *vm, const char *why);
/* The node sent call id's small result: kept if the call is done so. */
void vm_call_result(struct vm *vm, guint32 id, const guint8 *bytes,
		    gsize len);
/* A call sent to vm's node is lost (why): a .any call runs again
 * elsewhere, a VM's call again on its VM (now, or when its node is back
 * if may_wait), while retries last; else it fails. */
void call_lost(struct call *c, const char *why, gboolean may_wait);
/* runs.c: a call's runs.  A run of c (the call the user forked: .any's,
 * or the VM's own) starts on vm; the last one ended so. */
void call_attempt_start(struct call *c, struct vm *vm);
void call_attempt_end(struct call *c, const char *outcome);
/* The same, as the journal recorded them (times: g_get_real_time()). */
void call_attempt_add(struct call *c, const char *vm, const char *node,
		      gint64 start);
void call_attempt_close(struct call *c, gint64 end, const char *outcome);
/* vm.c: send c to its VM's node now (a new run), or keep it until the
 * node is back (vm_send_waiting). */
void call_send(struct call *c);
/* c (a VM's call) may go now: sent, kept until its node is back, or
 * failed if it cannot be. */
void call_go(struct call *c);
/* Cancel c here if no node has it (waiting for its stdin, for its node,
 * in .any's queue); FALSE if it was sent. */
gboolean call_cancel_unsent(struct call *c);
/* vm leaves: its calls still waiting for their stdin fail so. */
void vm_fail_waiting_stdin(struct vm *vm, const char *why);
void call_wait(struct call *c, const char *why);
/* c's run ended without the result wanted (outcome): run it again while
 * its retries last (.any elsewhere; a VM's call on its VM, now or, if
 * may_wait, when its node is back), else it fails so. */
void call_rerun(struct call *c, const char *outcome, gboolean may_wait);
/* vm's node is back: send the calls forked while it was away. */
void vm_send_waiting(struct vm *vm);
/* call_lost() every call of vm not ended; only_unknown: only those sent
 * before its node's last WELCOME that the node did not tell of since
 * (after a SYNCED), which may wait for the node to run again. */
void vm_lose_calls(struct vm *vm, const char *why, gboolean only_unknown);
gint call_cmp_id(const struct call *a, const struct call *b);
/* Take the mount's own call options (TRICKLE_RETRIES=N,
 * TRICKLE_RETRIES_ON_FAILURE=0|1) off argv into c: the words left, or
 * NULL with why. */
char **call_options(struct call *c, char **argv, char **why);
char *call_status_text(const struct call *c);
/* The attempts file: a line per run (number, VM, node, start, end,
 * outcome), for a VM's call or a .any call alike. */
char *call_attempts_text(const struct call *c);
/* A .any call's vm file: where it was sent, or nothing yet. */
char *call_vm_text(const struct call *c);
gboolean call_ended(const struct call *c);
/* The call whose output a read of c's streams gets: a .any call's is the
 * VM's call it was sent as. */
struct call *call_output(struct call *c);
/* A read reached end in a stream: its size is at least that. */
void call_saw_size(struct call *c, guint stream, guint64 end);
/* The layer above takes or lets go of a hold on c (an open file, a
 * parked read); a leaving VM may go once nothing holds its calls. */
void call_hold(struct call *c);
void call_release(struct call *c);
/* c and its other half, if any, are held. */
gboolean call_held(const struct call *c);
/* reap.c, -o keep_calls: c ended (kept among its VM's newest, or
 * reaped), its result or stdout was read, the layer above let go of it,
 * it is being freed. */
void reap_ended(struct call *c);
void reap_read(struct call *c);
void reap_released(struct call *c);
void reap_forget(struct call *c);
/* After the journal's replay: the ended calls recovered, oldest first,
 * in their VMs' queues (reaped as new calls end). */
void reap_recovered(struct cluster *cl);
/* Forget an ended call here and on its node; done hears the verdict. */
void call_forget(struct call *c, void (*done)(void *data, int err),
		 void *data);
struct injected *vm_injected_add(struct vm *vm, const char *name,
				 mode_t mode);
void vm_injected_remove(struct vm *vm, struct injected *inj);
/* Its node started the session anew: what was installed is gone. */
void vm_forget_injected(struct vm *vm);
/* A transfer into inject/ let go of inj: a VM may go now. */
void vm_injected_unref(struct vm *vm, struct injected *inj);
void vm_set_funcs(struct vm *vm, GVariant *funcs);
/* The id of a function name for inode numbers, 0 if the VM has none. */
guint32 vm_func_id(struct vm *vm, const char *name);
/* Origin and doc of a function by id; FALSE if the VM has no such. */
gboolean vm_func(struct vm *vm, guint32 id, const char **name,
		 const char **origin, const char **doc);
void vm_set_objects(struct vm *vm, GVariant *objects);
gboolean vm_object(struct vm *vm, guint32 id, const char **cls,
		   const char **desc);
char *vm_func_text(struct vm *vm, guint32 id);
char *vm_object_text(struct vm *vm, guint32 id);
/* The calls of vm, by state. */
void vm_count_calls(struct vm *vm, guint *queued, guint *running);

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

/* anysched.c: .any, the initiator's queue of calls for the first free VM */
struct call *any_fork(struct cluster *cl, char **argv, const char *line);
/* A .any call may go now: into .any's queue. */
void any_go(struct call *a);
/* Cancel a .any call still queued here; FALSE if it was sent. */
gboolean any_cancel_queued(struct call *c);
/* A .any call's run was lost (or failed, with TRICKLE_RETRIES_ON_FAILURE):
 * queue it again while it has retries, else it ends so (outcome). */
void any_run_again(struct call *a, const char *outcome);
void any_init(struct cluster *cl);

/* anyindex.c: the VMs .any may send to, by the functions they list and
 * their load, so that no step of .any looks at every VM (costs there). */
struct any_class;
struct any_index;
/* Place vm again after something of it changed (state, functions, load,
 * membership); any_index_drop takes it out for good. */
void any_index_update(struct vm *vm);
void any_index_drop(struct vm *vm);
void any_index_free(struct cluster *cl);
/* Up and open, its node up: it may be sent a call now. */
gboolean any_vm_live(const struct vm *vm);
guint any_index_live(struct cluster *cl);
/* A live VM has fewer than window .any calls. */
gboolean any_index_room(struct cluster *cl, guint window);
/* The live VM listing func with the fewest .any calls (below window),
 * the one that waited longest among equals; NULL: none. */
struct vm *any_index_pick(struct cluster *cl, const char *func,
			  guint window);
/* Could a call of func run: a VM that is not down lists it, or has not
 * said yet what it runs?  If not, why says so. */
gboolean any_index_runnable(struct cluster *cl, const char *func,
			    const char **why);

/* members.c: VMs joining and leaving while mounted */
typedef void (*members_joined_fn)(void *data, struct host *h,
				  const char *error);
struct nodespec;
/* Connect a host with nvms VMs named after ns, over SSH; they appear
 * once its node is up.  done (if not NULL) hears once: error NULL when
 * up.  src: the source it comes from (NULL: the user, by .ctl). */
struct host *members_connect(struct cluster *cl, const struct nodespec *ns,
			     guint nvms, struct member_source *src,
			     members_joined_fn done, void *data);
/* The same for a host made by its source (cluster_add_host): nvms VMs
 * named base (one) or base.0, base.1 ... */
void members_add(struct cluster *cl, struct host *h, const char *base,
		 guint nvms, members_joined_fn done, void *data);
char *members_unique_name(struct cluster *cl, const char *base);
gboolean members_name_taken(struct cluster *cl, const char *name);
/* The node of a transient host said goodbye or went quiet. */
void members_host_leaves(struct host *h, const char *why);
/* No new calls; the VM goes once what it has ends.  By the user: its
 * node's source is told to let it go. */
void members_drain(struct vm *vm, const char *why);
void members_disconnect(struct vm *vm);
/* .ctl's text: a line per VM. */
char *members_text(struct cluster *cl);
void members_init(struct cluster *cl);

/* feed.c: a file to a node, at the pace of its link, as frames of type
 * (tag, vm); sent hears of each chunk, finish of the end, once: 0 (all
 * sent), errno (the file), ECONNRESET (the link was lost under it) or
 * ECANCELED (feed_cancel_all).  feed_cancel ends it without a word. */
struct feed;
typedef void (*feed_sent_fn)(void *data, gsize n);
typedef void (*feed_finish_fn)(void *data, int err);
struct feed *feed_start(struct host *h, guint vm, guint type, guint32 tag,
			int fd, feed_sent_fn sent, feed_finish_fn finish,
			void *data);
void feed_cancel(struct feed *f);
/* h's link drained: its feeds send more now. */
void feed_kick(struct host *h);
void feed_cancel_all(struct cluster *cl);

/* callin.c: a call's stdin (TRICKLE_STDIN=1): calls/N/stdin, written
 * until its last writer closes it; then the call goes.  0 or errno. */
int call_stdin_open(struct call *c);
int call_stdin_write(struct call *c, const void *buf, gsize len, off_t off);
int call_stdin_truncate(struct call *c, guint64 size);
void call_stdin_release(struct call *c);
/* Its bytes as kept here, to read: an fd, or -1. */
int call_stdin_reader(const struct call *c);
/* c (a VM's call) was sent for owner: its stdin follows. */
void call_stdin_feed(struct call *c, const struct call *owner);
/* After the journal: a call whose stdin was still being written when the
 * mount ended fails (its writer is gone). */
void callin_restore(struct cluster *cl);
/* c goes: stop feeding it; remove: its stdin too (forgotten). */
void call_stdin_drop(struct call *c, gboolean remove);

/* injcache.c: an injected file into a VM through its node's cache: the
 * node gets the bytes at path once (none if it has that sum), however
 * many VMs install them; then vm installs them as name with mode.  done
 * runs once, never from inside inject_install(), with the node's verdict
 * for that VM (as its REPLY).  Cancelled, done is not called. */
typedef void (*install_done_fn)(void *data, int err, const char *msg);
struct install;
struct install *inject_install(struct vm *vm, const char *name, mode_t mode,
			       const char *path, const char *sum,
			       install_done_fn done, void *data);
void inject_install_cancel(struct install *in);

/* spool.c: what .all/inject installed, kept to give VMs that join */
/* The spool's directory (in the state directory if there is one), made
 * if need be; NULL if it cannot be. */
const char *spool_dir(struct cluster *cl);
int spool_open(struct cluster *cl, const char *name);
void spool_write(struct cluster *cl, const char *name, int *fd,
		 const void *buf, gsize len);
void spool_commit(struct cluster *cl, const char *name, int fd,
		  gboolean ok);
void spool_remove(struct cluster *cl, const char *name);
/* .all/inject/ installed all: give it to the VMs that joined while it was
 * on its way (had: the VMs it went to). */
void spool_give_rest(struct cluster *cl, const struct injected *all,
		     GPtrArray *had);
/* Give vm what .all/inject/ installed that it lacks (it joined, or its
 * node is back after being unreachable). */
void spool_replay(struct vm *vm);
void spool_init(struct cluster *cl);
void spool_cleanup(struct cluster *cl);

/* source_static.c: NODE arguments, host files, -o local */
struct member_source *source_static_new(struct cluster *cl);
/* A NODE word: VMs on the hosts it names (one host per SSH address):
 * N/ of them, else -o vms_per_node, else one; a node set names several
 * hosts. */
gboolean source_static_add(struct member_source *src, const char *word,
			   GError **error);
/* -o local=N: N VMs on this machine; command: the node to run. */
void source_static_add_local(struct member_source *src, guint n,
			     const char *command);

/* source_slurm.c: nodes of a Slurm allocation (-o slurm), or of worker
 * jobs it submits (-o slurm_jobs=N) */
struct member_source *source_slurm_new(struct cluster *cl);
/* .ctl scale N; FALSE with why if there is no Slurm source. */
gboolean cluster_scale(struct cluster *cl, guint n, GError **error);

/* source_discover.c: nodes found by their beacons (-o discover) */
struct member_source *source_discover_new(struct cluster *cl);
void member_source_free(struct member_source *src);
