/*
 * discover.h - find trickle-nodes on the local network (the client side
 * of beacon.h), for a GLib main loop.
 *
 *	struct discover_options opt = {0};	// defaults: BEACON_GROUP etc.
 *	d = discover_new(&opt, on_event, user, &error);
 *	discover_probe(d, &error);		// ask every node to say hello
 *	... run the main loop; on_event() is called for each change ...
 *	nodes = discover_nodes(d);		// the table, any time
 *	discover_free(d);
 *
 * A discover object has two UDP sockets: one bound to the group and port,
 * joined to the group on every up, multicast-capable, non-loopback IPv4
 * interface (or on the one named), which hears the HELLOs and BYEs nodes
 * multicast; and one on an ephemeral port that sends PROBEs to the group
 * and hears the HELLOs nodes send back to it, which must carry the nonce
 * of our probes.  IPv4 only: IPv6 is not done.
 *
 * What it learns goes into a table of candidates keyed by (sender's
 * address, node name), bounded in total and per address; a HELLO that
 * would go beyond either bound is dropped (and counted, and logged now and
 * then), so a flood of beacons never grows memory.  A node not heard from
 * for three of its announced intervals (or expire_ms) is dropped.
 * Malformed or unexpected datagrams are counted and logged with
 * g_warning(), at most once every DISCOVER_WARN_INTERVAL seconds with a
 * count of those held back.  Interfaces that appear after discover_new()
 * are not joined.
 *
 * Everything here is a hint: anyone on the network can send a HELLO with
 * any name and fingerprint, or a BYE for anyone.  Reach a candidate over
 * SSH and check its host key against known_hosts before using it; the
 * fingerprints only let a client skip a node whose key it already knows
 * does not match.
 *
 * Not thread-safe: use a discover object from the thread whose
 * thread-default main context was current when it was made; its sources
 * run there.
 */
#pragma once

#include <glib.h>
#include <netinet/in.h>

#include "beacon.h"

#define DISCOVER_MAX_NODES 256
#define DISCOVER_MAX_PER_ADDRESS 16
#define DISCOVER_WARN_INTERVAL 10	/* seconds */

struct discover_options {
	const char *group;	/* dotted IPv4 multicast group; NULL: default */
	guint16 port;		/* 0: BEACON_PORT */
	const char *interface;	/* interface name; NULL: every one (above) */
	guint max_nodes;	/* table bound; 0: DISCOVER_MAX_NODES */
	guint max_per_address;	/* 0: DISCOVER_MAX_PER_ADDRESS */
	guint expire_ms;	/* 0: three of the node's intervals */
	gboolean no_network;	/* for tests: no sockets; see discover_feed */
};

enum discover_event {
	DISCOVER_FOUND,		/* a HELLO from a new (address, name) */
	DISCOVER_CHANGED,	/* a HELLO from a new instance (restarted is
				 * set) or with other port, cores, version,
				 * interval or fingerprints */
	DISCOVER_BYE,		/* the node said BYE; no longer in the table */
	DISCOVER_EXPIRED,	/* not heard from; no longer in the table */
};

struct discover_node {
	char address[INET_ADDRSTRLEN];	/* the sender's, dotted */
	struct beacon hello;		/* its latest HELLO */
	gint64 first_seen;		/* g_get_monotonic_time() */
	gint64 last_seen;
	gboolean restarted;		/* DISCOVER_CHANGED by a new instance */
};

/*
 * Called from the main loop for each event.  node is valid only during
 * the call (copy what you keep).  It may call discover_probe(),
 * discover_nodes() and discover_lookup(), but not discover_free().
 */
typedef void (*discover_func)(enum discover_event event,
			      const struct discover_node *node,
			      gpointer user);

struct discover_stats {
	guint received;		/* datagrams read */
	guint malformed;	/* not decodable (beacon_decode failed) */
	guint unexpected;	/* decodable, but not where it came: a reply
				 * without our nonce, a reply multicast */
	guint stale;		/* out of order, a BYE for another instance */
	guint refused;		/* HELLOs dropped: table full */
};

/*
 * Open the sockets and start listening.  opt may be NULL (defaults).
 * Returns NULL with error set if the group is not a multicast address, the
 * interface does not exist, or a socket cannot be set up (e.g. no
 * interface can join the group).  Sends nothing by itself.
 */
struct discover *discover_new(const struct discover_options *opt,
			      discover_func func, gpointer user,
			      GError **error);

/* Stop listening, free the table.  NULL is fine. */
void discover_free(struct discover *d);

/*
 * Multicast one PROBE on every joined interface.  Each node answers with
 * a HELLO to us (rate-limited on its side: probe again after a second or
 * so, not in a loop).  FALSE with error if it could be sent on none.
 */
gboolean discover_probe(struct discover *d, GError **error);

/*
 * The table now: a new array of copies (struct discover_node *, freed
 * with the array), sorted by name and then address.
 */
GPtrArray *discover_nodes(struct discover *d);

/* The entry for (address, name), or NULL; valid until the loop runs. */
const struct discover_node *discover_lookup(struct discover *d,
					    const char *address,
					    const char *name);

/*
 * Does the node's name or address match one of the shell-style patterns
 * (g_pattern_match_simple: '*' and '?')?  NULL or empty patterns match
 * everything.
 */
gboolean discover_match(const struct discover_node *node,
			const char *const *patterns);

void discover_get_stats(struct discover *d, struct discover_stats *stats);

/*
 * Handle one datagram as if it had come from address: on the probe
 * socket (a reply to us) if reply, else on the group socket.  For tests;
 * events are delivered before it returns.
 */
void discover_feed(struct discover *d, const void *data, gsize len,
		   const char *address, gboolean reply);

/* The nonce our probes carry (for tests that forge replies). */
guint64 discover_nonce(struct discover *d);

/* ---------------------------------------------------------------------
 * Lower level, shared with `trickle-node --announce`.
 */

#define MCAST_MAX_IFACES 32

/* A UDP socket for beacons, and the interfaces it sends on. */
struct mcast {
	int fd;
	struct sockaddr_in group;	/* group address and port */
	guint n_ifaces;			/* 0: the kernel picks (by route) */
	int ifindex[MCAST_MAX_IFACES];
	char *where;			/* "eth0, wlan0", for messages */
};

/*
 * Open a non-blocking, close-on-exec UDP socket with multicast TTL 1 (the
 * local link only) and loopback on (nodes on this host are found too).
 * listen: bind it to group:port (shared with others on this host) and
 * join the group on the interfaces; else bind it to an ephemeral port.
 * Interfaces are found with ioctls on the socket itself: no other file is
 * opened.  On failure nothing is left open.
 */
gboolean mcast_open(struct mcast *m, const char *group, guint16 port,
		    const char *iface, gboolean listen, GError **error);
void mcast_close(struct mcast *m);

/* Send to the group on every interface; TRUE if sent on at least one. */
gboolean mcast_send_group(struct mcast *m, const void *data, gsize len,
			  GError **error);
gboolean mcast_send_to(struct mcast *m, const struct sockaddr_in *to,
		       const void *data, gsize len, GError **error);

/*
 * Read one datagram into buf (size bytes; make it larger than
 * BEACON_MAX_SIZE).  Returns 1 and sets *len, *from and *truncated (it
 * was longer than size), 0 if nothing is waiting, -1 on an error.
 */
int mcast_recv(struct mcast *m, void *buf, gsize size, gsize *len,
	       struct sockaddr_in *from, gboolean *truncated, GError **error);

/*
 * At most one message every interval_us: ratelimit_ok() says whether to
 * print one now, and how many were held back since the last one.
 */
struct ratelimit {
	gint64 interval_us;
	gint64 last;		/* 0: never */
	guint held;
};

gboolean ratelimit_ok(struct ratelimit *r, guint *held_back);
