/*
 * share.h - node/share: one budget of running slots per node, shared by
 * every trickle-node on it, of any mount and any user.
 *
 * A slot is the right to run one call.  The slots of a share are handed
 * out by its keeper (keeper.c, `trickle-node --share-keeper`), a small
 * process that the first trickle-node to need it starts and that ends a
 * little after its last client.  Each trickle-node is one client
 * (client.c) on the keeper's socket: a SOCK_SEQPACKET socket in the
 * abstract namespace, so there is no file on the node to remove, take
 * over or tamper with, a dead keeper leaves nothing behind, and a network
 * namespace (a test's fake host) has shares of its own.  The keeper
 * learns a client's user from the kernel (SO_PEERCRED), and a client's
 * slots come back the moment its socket closes (it died).
 *
 * Fairness: a free slot goes to a waiting client of the user holding the
 * fewest slots, then to that user's client holding the fewest, then to
 * the one that has waited longest.  A client whose mount is gone (the
 * session waits out its lease) gets a slot only when no other client
 * wants one.  While some client waits ("contended"), every slot goes back
 * to the keeper at the end of each call, so that turns are taken call by
 * call; otherwise a client keeps its slots from call to call and says
 * nothing.
 *
 * The wire between the two: messages of four u32 in host order (the
 * socket never leaves the host), struct share_msg.  Both sides check
 * every message's size and values and drop a peer that sends nonsense.
 */
#pragma once

#include <glib.h>

/* The budget when nothing else says: the node's online CPUs, unless the
 * node's owner sets one in this file ([share] cores=N). */
#define SHARE_CONF "/etc/tricklefs/node.conf"
#define SHARE_MAX_SLOTS 4096
#define SHARE_MAX_NAME 64

enum share_op {
	/* client -> keeper */
	SHARE_HELLO = 1,	/* a = pid, b = slots held (after a keeper
				 * restart), c = orphaned (0 or 1) */
	SHARE_WANT,		/* a = slots wanted in all (held and more) */
	SHARE_RELEASE,		/* a = slots given back */
	SHARE_ORPHAN,		/* a = 1: the client's mount is gone; 0: back */
	/* keeper -> client */
	SHARE_WELCOME,		/* a = budget */
	SHARE_GRANT,		/* a = slots given */
	SHARE_STATE,		/* a = clients, b = users, c = contended */
};

struct share_msg {
	guint32 op, a, b, c;
};

/* keeper.c, for both sides: one message from fd: 1, 0 if none is
 * waiting, -1 at the end or for one of the wrong size. */
int share_recv(int fd, struct share_msg *m);
/* Send one without waiting: FALSE if it did not go. */
gboolean share_send(int fd, guint32 op, guint32 a, guint32 b, guint32 c);

/* The socket address of a share: "" is the node-wide one. */
gboolean share_name_valid(const char *name);
/* Fills sa (a struct sockaddr_un) and returns its length. */
unsigned share_address(const char *name, void *sa);

/* keeper.c: the keeper of share name with that many slots (0: the
 * node's budget, share_node_budget); its exit status.  Ends quietly if
 * another keeper of that share runs already, and, unless it stays, a
 * little after its last client. */
int share_keeper_main(const char *name, guint slots, gboolean stay);
/* The node's budget: SHARE_CONF's [share] cores, else its online CPUs. */
guint share_node_budget(void);

/* client.c */
struct share;

struct share_callbacks {
	/* unit (a VM), which share_take() made wait, has a slot now. */
	void (*granted)(void *data, guint unit);
	/* The numbers of share_get() changed. */
	void (*changed)(void *data);
};

struct share_state {
	gboolean shared;	/* FALSE: no keeper; every unit runs */
	guint clients;		/* trickle-nodes on the share, us included */
	guint users;		/* their users */
	guint budget;		/* slots of the share */
	guint held;		/* ours, running a call or about to */
	guint waiting;		/* our units waiting for one */
	gboolean contended;	/* somebody waits */
};

/*
 * Join the share a spec names: "off" (none: every unit runs at once), ""
 * (the node's), "NAME" or "NAME:SLOTS" (a share of its own, e.g. a
 * test's).  self: our executable, to start a keeper.  Never fails: a
 * spec that is not valid, or a keeper that cannot be reached, is logged
 * and leaves the units unshared.
 */
struct share *share_open(const char *spec, const char *self,
			 const struct share_callbacks *cb, void *data);
void share_free(struct share *s);
/* unit wants a slot for its next call: TRUE if it has one now; else it
 * waits in line and granted() comes. */
gboolean share_take(struct share *s, guint unit);
/* unit's call ended.  more: it has another to run now; TRUE if it keeps
 * its slot for it (no one waits), else the slot went back and unit is
 * in line again (if more) as share_take() would have put it. */
gboolean share_give(struct share *s, guint unit, gboolean more);
/* unit no longer wants or holds a slot (its VM ends, or stopped). */
void share_drop(struct share *s, guint unit);
/* Our mount is gone (TRUE) or back. */
void share_orphan(struct share *s, gboolean orphan);
void share_get(struct share *s, struct share_state *st);
