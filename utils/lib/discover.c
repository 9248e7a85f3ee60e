/*
 * discover.c - the client side of node discovery (see discover.h), and
 * the multicast sockets that trickle-node --announce shares.
 */
#include "discover.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib-unix.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Datagrams read per wake-up, so that a flood cannot starve the loop. */
#define READ_BUDGET 64

/* ------------------------------------------------------------ sockets */

static gboolean
sock_error(GError **error, int err, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static gboolean
sock_error(GError **error, int err, const char *fmt, ...)
{
	g_autofree char *what = NULL;
	va_list ap;

	va_start(ap, fmt);
	what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err), "%s: %s",
		    what, g_strerror(err));
	return FALSE;
}

static void
add_iface(struct mcast *m, GString *where, int index, const char *name)
{
	guint i;

	for (i = 0; i < m->n_ifaces; i++)
		if (m->ifindex[i] == index)
			return;		/* another address of the same one */
	if (m->n_ifaces == MCAST_MAX_IFACES)
		return;
	m->ifindex[m->n_ifaces++] = index;
	g_string_append_printf(where, "%s%s", where->len ? ", " : "", name);
}

/*
 * The interfaces to use: the one named, or every up, multicast-capable,
 * non-loopback interface with an IPv4 address.  SIOCGIFCONF on our own
 * socket rather than getifaddrs(), which opens a netlink socket: the
 * announcer's service may only use AF_INET.
 */
static gboolean
find_ifaces(struct mcast *m, const char *iface, GError **error)
{
	g_autoptr(GString) where = g_string_new(NULL);
	struct ifreq reqs[128];
	struct ifconf ifc;
	struct ifreq ifr;
	gsize i, n;

	m->n_ifaces = 0;
	if (iface) {
		if (!iface[0] || strlen(iface) >= IFNAMSIZ) {
			g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
				    "bad interface name '%s'", iface);
			return FALSE;
		}
		memset(&ifr, 0, sizeof(ifr));
		strcpy(ifr.ifr_name, iface);
		if (ioctl(m->fd, SIOCGIFINDEX, &ifr) < 0)
			return sock_error(error, errno, "interface %s", iface);
		add_iface(m, where, ifr.ifr_ifindex, iface);
		m->where = g_string_free(g_steal_pointer(&where), FALSE);
		return TRUE;
	}

	memset(&ifc, 0, sizeof(ifc));
	ifc.ifc_len = sizeof(reqs);
	ifc.ifc_req = reqs;
	if (ioctl(m->fd, SIOCGIFCONF, &ifc) < 0)
		return sock_error(error, errno, "listing interfaces");
	n = (gsize)ifc.ifc_len / sizeof(struct ifreq);
	for (i = 0; i < n; i++) {
		memset(&ifr, 0, sizeof(ifr));
		memcpy(ifr.ifr_name, reqs[i].ifr_name, IFNAMSIZ);
		ifr.ifr_name[IFNAMSIZ - 1] = '\0';
		if (ioctl(m->fd, SIOCGIFFLAGS, &ifr) < 0)
			continue;	/* gone meanwhile */
		if (!(ifr.ifr_flags & IFF_UP) ||
		    !(ifr.ifr_flags & IFF_MULTICAST) ||
		    (ifr.ifr_flags & IFF_LOOPBACK))
			continue;
		if (ioctl(m->fd, SIOCGIFINDEX, &ifr) < 0)
			continue;
		add_iface(m, where, ifr.ifr_ifindex, ifr.ifr_name);
	}
	if (m->n_ifaces == 0)
		g_string_assign(where, "the interface of the route to the "
			       "group");
	m->where = g_string_free(g_steal_pointer(&where), FALSE);
	return TRUE;
}

static gboolean
set_int(int fd, int level, int name, int value, const char *what,
	GError **error)
{
	if (setsockopt(fd, level, name, &value, sizeof(value)) < 0)
		return sock_error(error, errno, "setting %s", what);
	return TRUE;
}

/* Join the group on each interface; keep those where that worked. */
static gboolean
join(struct mcast *m, GError **error)
{
	struct ip_mreqn mr;
	int err = 0;
	guint i, kept = 0;

	memset(&mr, 0, sizeof(mr));
	mr.imr_multiaddr = m->group.sin_addr;
	mr.imr_address.s_addr = htonl(INADDR_ANY);
	if (m->n_ifaces == 0) {
		if (setsockopt(m->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr,
			       sizeof(mr)) < 0)
			return sock_error(error, errno, "joining %s on %s",
					  inet_ntoa(m->group.sin_addr),
					  m->where);
		return TRUE;
	}
	for (i = 0; i < m->n_ifaces; i++) {
		mr.imr_ifindex = m->ifindex[i];
		if (setsockopt(m->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr,
			       sizeof(mr)) < 0) {
			err = errno;
			continue;
		}
		m->ifindex[kept++] = m->ifindex[i];
	}
	m->n_ifaces = kept;
	if (kept == 0)
		return sock_error(error, err, "joining %s on %s",
				  inet_ntoa(m->group.sin_addr), m->where);
	return TRUE;
}

gboolean
mcast_open(struct mcast *m, const char *group, guint16 port,
	   const char *iface, gboolean listen, GError **error)
{
	struct sockaddr_in local;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->group.sin_family = AF_INET;
	m->group.sin_port = htons(port ? port : BEACON_PORT);
	if (inet_pton(AF_INET, group ? group : BEACON_GROUP,
		      &m->group.sin_addr) != 1 ||
	    !IN_MULTICAST(ntohl(m->group.sin_addr.s_addr))) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "'%s' is not an IPv4 multicast address",
			    group ? group : BEACON_GROUP);
		return FALSE;
	}
	m->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->fd < 0)
		return sock_error(error, errno, "UDP socket");
	if (!find_ifaces(m, iface, error))
		goto fail;
	/* Link-local reach: a beacon describes a neighbour. */
	if (!set_int(m->fd, IPPROTO_IP, IP_MULTICAST_TTL, 1,
		     "the multicast TTL", error) ||
	    !set_int(m->fd, IPPROTO_IP, IP_MULTICAST_LOOP, 1,
		     "multicast loopback", error))
		goto fail;
	memset(&local, 0, sizeof(local));
	local.sin_family = AF_INET;
	if (listen) {
		/*
		 * Bound to the group, the socket gets only datagrams sent to
		 * it; other listeners on this host (a node and clients) get
		 * their copies too.
		 */
		if (!set_int(m->fd, SOL_SOCKET, SO_REUSEADDR, 1,
			     "SO_REUSEADDR", error) ||
		    !set_int(m->fd, IPPROTO_IP, IP_MULTICAST_ALL, 0,
			     "IP_MULTICAST_ALL", error))
			goto fail;
		local.sin_addr = m->group.sin_addr;
		local.sin_port = m->group.sin_port;
	} else {
		local.sin_addr.s_addr = htonl(INADDR_ANY);
	}
	if (bind(m->fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
		sock_error(error, errno, "binding to %s:%u",
			   inet_ntoa(local.sin_addr), ntohs(local.sin_port));
		goto fail;
	}
	if (listen && !join(m, error))
		goto fail;
	return TRUE;

fail:
	mcast_close(m);
	return FALSE;
}

void
mcast_close(struct mcast *m)
{
	if (m->fd >= 0 && close(m->fd) < 0)
		g_warning("closing a discovery socket: %s", g_strerror(errno));
	m->fd = -1;
	g_clear_pointer(&m->where, g_free);
}

static gboolean
send_one(struct mcast *m, const struct sockaddr_in *to, const void *data,
	 gsize len, int *err)
{
	ssize_t n;

	do
		n = sendto(m->fd, data, len, 0, (const struct sockaddr *)to,
			   sizeof(*to));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		*err = errno;
		return FALSE;
	}
	if ((gsize)n != len) {
		*err = EMSGSIZE;
		return FALSE;
	}
	return TRUE;
}

gboolean
mcast_send_group(struct mcast *m, const void *data, gsize len,
		 GError **error)
{
	struct ip_mreqn mr;
	gboolean sent = FALSE;
	int err = 0;
	guint i;

	if (m->n_ifaces == 0) {
		if (send_one(m, &m->group, data, len, &err))
			return TRUE;
		return sock_error(error, err, "sending to %s on %s",
				  inet_ntoa(m->group.sin_addr), m->where);
	}
	for (i = 0; i < m->n_ifaces; i++) {
		memset(&mr, 0, sizeof(mr));
		mr.imr_ifindex = m->ifindex[i];
		if (setsockopt(m->fd, IPPROTO_IP, IP_MULTICAST_IF, &mr,
			       sizeof(mr)) < 0) {
			err = errno;
			continue;
		}
		if (send_one(m, &m->group, data, len, &err))
			sent = TRUE;
	}
	if (!sent)
		return sock_error(error, err, "sending to %s on %s",
				  inet_ntoa(m->group.sin_addr), m->where);
	return TRUE;
}

gboolean
mcast_send_to(struct mcast *m, const struct sockaddr_in *to,
	      const void *data, gsize len, GError **error)
{
	int err = 0;

	if (send_one(m, to, data, len, &err))
		return TRUE;
	return sock_error(error, err, "sending to %s:%u",
			  inet_ntoa(to->sin_addr), ntohs(to->sin_port));
}

int
mcast_recv(struct mcast *m, void *buf, gsize size, gsize *len,
	   struct sockaddr_in *from, gboolean *truncated, GError **error)
{
	struct iovec iov = {.iov_base = buf, .iov_len = size};
	struct msghdr msg;
	ssize_t n;

	for (;;) {
		memset(&msg, 0, sizeof(msg));
		memset(from, 0, sizeof(*from));
		msg.msg_name = from;
		msg.msg_namelen = sizeof(*from);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		n = recvmsg(m->fd, &msg, MSG_DONTWAIT);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		/* A port unreachable for something we sent: not ours. */
		if (errno == ECONNREFUSED || errno == EHOSTUNREACH ||
		    errno == ENETUNREACH)
			continue;
		sock_error(error, errno, "receiving on the discovery socket");
		return -1;
	}
	*len = (gsize)n;
	*truncated = (msg.msg_flags & MSG_TRUNC) != 0;
	if (msg.msg_namelen < sizeof(*from) || from->sin_family != AF_INET)
		from->sin_family = AF_UNSPEC;
	return 1;
}

gboolean
ratelimit_ok(struct ratelimit *r, guint *held_back)
{
	gint64 now = g_get_monotonic_time();

	if (r->last && now - r->last < r->interval_us) {
		r->held++;
		return FALSE;
	}
	r->last = now;
	*held_back = r->held;
	r->held = 0;
	return TRUE;
}

/* ------------------------------------------------------------ the table */

struct discover {
	discover_func func;
	gpointer user;
	guint max_nodes, max_per_address;
	gint64 expire_us;		/* 0: by the node's interval */
	struct mcast group;		/* hears HELLO and BYE */
	struct mcast probe;		/* sends PROBE, hears replies */
	gboolean network;
	GMainContext *ctx;
	GSource *group_src, *probe_src, *tick_src;
	GHashTable *table;		/* "address/name" -> discover_node */
	guint64 nonce;
	struct discover_stats stats;
	struct ratelimit warn;
};

static char *
make_key(const char *address, const char *name)
{
	return g_strconcat(address, "/", name, NULL);
}

/* Something to say about a datagram: now and then. */
static void
complain(struct discover *d, const char *address, const char *why)
{
	guint held;

	if (!ratelimit_ok(&d->warn, &held))
		return;
	if (held)
		g_warning("discovery: ignored a datagram from %s: %s (and %u "
			  "others in the last %d s)", address, why, held,
			  DISCOVER_WARN_INTERVAL);
	else
		g_warning("discovery: ignored a datagram from %s: %s", address,
			  why);
}

static guint
count_address(struct discover *d, const char *address)
{
	GHashTableIter it;
	gpointer v;
	guint n = 0;

	g_hash_table_iter_init(&it, d->table);
	while (g_hash_table_iter_next(&it, NULL, &v))
		if (strcmp(((struct discover_node *)v)->address, address) == 0)
			n++;
	return n;
}

static gboolean
same_offer(const struct beacon *a, const struct beacon *b)
{
	guint i;

	if (a->ssh_port != b->ssh_port || a->cores != b->cores ||
	    a->interval != b->interval ||
	    a->n_fingerprints != b->n_fingerprints ||
	    strcmp(a->version, b->version) != 0)
		return FALSE;
	for (i = 0; i < a->n_fingerprints; i++)
		if (strcmp(a->fingerprints[i], b->fingerprints[i]) != 0)
			return FALSE;
	return TRUE;
}

/* Is seq after last, in serial number arithmetic? */
static gboolean
newer(guint32 seq, guint32 last)
{
	return (gint32)(seq - last) > 0;
}

static void
on_hello(struct discover *d, const struct beacon *b, const char *address)
{
	g_autofree char *key = make_key(address, b->name);
	struct discover_node *n = g_hash_table_lookup(d->table, key);
	gint64 now = g_get_monotonic_time();
	gboolean changed;

	if (!n) {
		if (g_hash_table_size(d->table) >= d->max_nodes ||
		    count_address(d, address) >= d->max_per_address) {
			d->stats.refused++;
			complain(d, address, "too many nodes, HELLO dropped");
			return;
		}
		n = g_new0(struct discover_node, 1);
		g_strlcpy(n->address, address, sizeof(n->address));
		n->hello = *b;
		n->first_seen = n->last_seen = now;
		g_hash_table_insert(d->table, g_steal_pointer(&key), n);
		d->func(DISCOVER_FOUND, n, d->user);
		return;
	}
	if (b->instance == n->hello.instance) {
		if (!newer(b->seq, n->hello.seq)) {
			d->stats.stale++;
			return;
		}
		changed = !same_offer(b, &n->hello);
		n->restarted = FALSE;
	} else {
		changed = TRUE;
		n->restarted = TRUE;
	}
	n->hello = *b;
	n->last_seen = now;
	if (changed)
		d->func(DISCOVER_CHANGED, n, d->user);
}

/* Take n out of the table, tell, and free it. */
static void
drop(struct discover *d, const char *key, enum discover_event event)
{
	gpointer k, v;

	if (!g_hash_table_steal_extended(d->table, key, &k, &v))
		return;
	d->func(event, v, d->user);
	g_free(k);
	g_free(v);
}

static void
on_bye(struct discover *d, const struct beacon *b, const char *address)
{
	g_autofree char *key = make_key(address, b->name);
	struct discover_node *n = g_hash_table_lookup(d->table, key);

	if (!n || n->hello.instance != b->instance ||
	    !newer(b->seq, n->hello.seq)) {
		d->stats.stale++;
		return;
	}
	drop(d, key, DISCOVER_BYE);
}

void
discover_feed(struct discover *d, const void *data, gsize len,
	      const char *address, gboolean reply)
{
	g_autoptr(GError) error = NULL;
	struct beacon b;

	d->stats.received++;
	if (!beacon_decode(data, len, &b, &error)) {
		d->stats.malformed++;
		complain(d, address, error->message);
		return;
	}
	switch (b.kind) {
	case BEACON_PROBE:
		/* Other clients probe the group: not for us. */
		if (reply) {
			d->stats.unexpected++;
			complain(d, address, "a PROBE sent to our own port");
		}
		return;
	case BEACON_HELLO:
		if (reply && b.nonce != d->nonce) {
			d->stats.unexpected++;
			complain(d, address, "a HELLO answering no probe of "
				 "ours");
			return;
		}
		if (!reply && b.nonce != 0) {
			d->stats.unexpected++;
			complain(d, address, "a HELLO reply sent to the group");
			return;
		}
		on_hello(d, &b, address);
		return;
	default:
		if (reply) {
			d->stats.unexpected++;
			complain(d, address, "a BYE sent to our own port");
			return;
		}
		on_bye(d, &b, address);
		return;
	}
}

static void
read_socket(struct discover *d, struct mcast *m, gboolean reply)
{
	g_autoptr(GError) error = NULL;
	guint8 buf[BEACON_MAX_SIZE + 1];
	struct sockaddr_in from;
	char address[INET_ADDRSTRLEN];
	gboolean truncated;
	gsize len;
	int i, r;

	for (i = 0; i < READ_BUDGET; i++) {
		r = mcast_recv(m, buf, sizeof(buf), &len, &from, &truncated,
			       &error);
		if (r < 0) {
			complain(d, "?", error->message);
			return;
		}
		if (r == 0)
			return;
		if (from.sin_family != AF_INET ||
		    !inet_ntop(AF_INET, &from.sin_addr, address,
			       sizeof(address))) {
			d->stats.received++;
			d->stats.unexpected++;
			continue;
		}
		if (truncated || len > BEACON_MAX_SIZE) {
			d->stats.received++;
			d->stats.malformed++;
			complain(d, address, "datagram too large");
			continue;
		}
		discover_feed(d, buf, len, address, reply);
	}
}

static gboolean
on_group(gint fd, GIOCondition cond, gpointer data)
{
	struct discover *d = data;

	read_socket(d, &d->group, FALSE);
	return G_SOURCE_CONTINUE;
}

static gboolean
on_probe(gint fd, GIOCondition cond, gpointer data)
{
	struct discover *d = data;

	read_socket(d, &d->probe, TRUE);
	return G_SOURCE_CONTINUE;
}

static gboolean
on_tick(gpointer data)
{
	struct discover *d = data;
	gint64 now = g_get_monotonic_time();
	g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func(g_free);
	GHashTableIter it;
	gpointer k, v;
	guint held, i;

	g_hash_table_iter_init(&it, d->table);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		struct discover_node *n = v;
		gint64 ttl = d->expire_us ? d->expire_us :
			     3 * (gint64)n->hello.interval * G_USEC_PER_SEC;

		if (now - n->last_seen > ttl)
			g_ptr_array_add(gone, g_strdup(k));
	}
	for (i = 0; i < gone->len; i++)
		drop(d, gone->pdata[i], DISCOVER_EXPIRED);
	/* Complaints held back: say how many, once the time has come. */
	if (d->warn.held && ratelimit_ok(&d->warn, &held))
		g_warning("discovery: ignored %u more datagrams in the last "
			  "%d s", held, DISCOVER_WARN_INTERVAL);
	return G_SOURCE_CONTINUE;
}

static GSource *
add_fd(struct discover *d, int fd, GUnixFDSourceFunc func)
{
	GSource *s = g_unix_fd_source_new(fd, G_IO_IN);

	g_source_set_callback(s, G_SOURCE_FUNC(func), d, NULL);
	g_source_attach(s, d->ctx);
	return s;
}

struct discover *
discover_new(const struct discover_options *opt, discover_func func,
	     gpointer user, GError **error)
{
	static const struct discover_options defaults;
	struct discover *d;
	guint tick_ms;

	if (!opt)
		opt = &defaults;
	d = g_new0(struct discover, 1);
	d->func = func;
	d->user = user;
	d->max_nodes = opt->max_nodes ? opt->max_nodes : DISCOVER_MAX_NODES;
	d->max_per_address = opt->max_per_address ? opt->max_per_address
						  : DISCOVER_MAX_PER_ADDRESS;
	d->expire_us = (gint64)opt->expire_ms * 1000;
	d->nonce = beacon_random_id();
	d->warn.interval_us = DISCOVER_WARN_INTERVAL * G_USEC_PER_SEC;
	d->table = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					 g_free);
	d->group.fd = d->probe.fd = -1;
	d->ctx = g_main_context_ref_thread_default();
	d->network = !opt->no_network;
	if (d->network) {
		if (!mcast_open(&d->group, opt->group, opt->port,
				opt->interface, TRUE, error) ||
		    !mcast_open(&d->probe, opt->group, opt->port,
				opt->interface, FALSE, error)) {
			discover_free(d);
			return NULL;
		}
		d->group_src = add_fd(d, d->group.fd, on_group);
		d->probe_src = add_fd(d, d->probe.fd, on_probe);
	}
	tick_ms = opt->expire_ms ? CLAMP(opt->expire_ms / 4, 10, 1000) : 1000;
	d->tick_src = g_timeout_source_new(tick_ms);
	g_source_set_callback(d->tick_src, on_tick, d, NULL);
	g_source_attach(d->tick_src, d->ctx);
	return d;
}

static void
source_gone(GSource **s)
{
	if (*s) {
		g_source_destroy(*s);
		g_source_unref(*s);
		*s = NULL;
	}
}

void
discover_free(struct discover *d)
{
	if (!d)
		return;
	source_gone(&d->group_src);
	source_gone(&d->probe_src);
	source_gone(&d->tick_src);
	mcast_close(&d->group);
	mcast_close(&d->probe);
	g_clear_pointer(&d->table, g_hash_table_unref);
	g_clear_pointer(&d->ctx, g_main_context_unref);
	g_free(d);
}

gboolean
discover_probe(struct discover *d, GError **error)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	struct beacon b = {.kind = BEACON_PROBE, .nonce = d->nonce};

	if (!d->network) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "discovery has no sockets");
		return FALSE;
	}
	if (!beacon_encode(&b, out, error))
		return FALSE;
	return mcast_send_group(&d->probe, out->data, out->len, error);
}

static gint
by_name(gconstpointer a, gconstpointer b)
{
	const struct discover_node *x = *(struct discover_node *const *)a;
	const struct discover_node *y = *(struct discover_node *const *)b;
	int c = strcmp(x->hello.name, y->hello.name);

	return c ? c : strcmp(x->address, y->address);
}

GPtrArray *
discover_nodes(struct discover *d)
{
	GPtrArray *all = g_ptr_array_new_with_free_func(g_free);
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, d->table);
	while (g_hash_table_iter_next(&it, NULL, &v))
		g_ptr_array_add(all, g_memdup2(v, sizeof(struct discover_node)));
	g_ptr_array_sort(all, by_name);
	return all;
}

const struct discover_node *
discover_lookup(struct discover *d, const char *address, const char *name)
{
	g_autofree char *key = make_key(address, name);

	return g_hash_table_lookup(d->table, key);
}

gboolean
discover_match(const struct discover_node *node, const char *const *patterns)
{
	if (!patterns || !patterns[0])
		return TRUE;
	for (; *patterns; patterns++)
		if (g_pattern_match_simple(*patterns, node->hello.name) ||
		    g_pattern_match_simple(*patterns, node->address))
			return TRUE;
	return FALSE;
}

void
discover_get_stats(struct discover *d, struct discover_stats *stats)
{
	*stats = d->stats;
}

guint64
discover_nonce(struct discover *d)
{
	return d->nonce;
}
