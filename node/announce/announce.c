/*
 * announce.c - trickle-node --announce (see announce.h).
 */
#include "announce.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib-unix.h>
#include <signal.h>
#include <string.h>

#include "beacon.h"
#include "discover.h"

/*
 * Replies to probes: at most REPLY_RATE a second on average (bursts of
 * REPLY_BURST), and one per prober (address and port) every PROBER_GAP.
 * With probes padded to BEACON_PROBE_MIN_SIZE and a HELLO of at most a
 * few hundred bytes, a forged source address gets little out of us.
 */
#define REPLY_RATE 10
#define REPLY_BURST 20
#define PROBER_SLOTS 64
#define PROBER_GAP_US (G_USEC_PER_SEC / 2)
#define READ_BUDGET 64
#define MAX_KEY_FILE (64 * 1024)

struct prober {
	guint32 addr;
	guint16 port;
	gint64 when;
};

struct announcer {
	struct mcast m;
	struct beacon hello;		/* nonce 0; seq counts every beacon */
	GMainLoop *loop;
	GByteArray *out;
	double tokens;
	gint64 refilled;
	struct prober probers[PROBER_SLOTS];
	struct ratelimit warn;
	guint answered, refused, ignored;
};

/* ------------------------------------------------------------ start-up */

static gboolean
add_fingerprint(struct beacon *b, const char *path, GError **error)
{
	g_autofree char *text = NULL;
	g_autofree char *fp = NULL;
	g_autoptr(GError) err = NULL;
	gsize len;
	guint i;

	if (!g_file_get_contents(path, &text, &len, error))
		return FALSE;
	if (len > MAX_KEY_FILE || memchr(text, '\0', len)) {
		g_set_error(error, BEACON_ERROR, BEACON_ERROR_KEY,
			    "%s: not an OpenSSH public key file", path);
		return FALSE;
	}
	fp = beacon_pubkey_fingerprint(text, &err);
	if (!fp) {
		g_set_error(error, BEACON_ERROR, BEACON_ERROR_KEY, "%s: %s",
			    path, err->message);
		return FALSE;
	}
	for (i = 0; i < b->n_fingerprints; i++)
		if (strcmp(b->fingerprints[i], fp) == 0)
			return TRUE;	/* the same key twice */
	if (b->n_fingerprints == BEACON_MAX_FINGERPRINTS) {
		g_set_error(error, BEACON_ERROR, BEACON_ERROR_KEY,
			    "%s: more than %d host keys", path,
			    BEACON_MAX_FINGERPRINTS);
		return FALSE;
	}
	g_strlcpy(b->fingerprints[b->n_fingerprints++], fp,
		  sizeof(b->fingerprints[0]));
	g_message("host key %s: %s", path, fp);
	return TRUE;
}

static gint
by_string(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* /etc/ssh/ssh_host_*_key.pub, in name order; unreadable ones skipped. */
static gboolean
default_keys(struct beacon *b, GError **error)
{
	g_autoptr(GDir) dir = NULL;
	g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
	const char *name;
	guint i;

	dir = g_dir_open(ANNOUNCE_KEY_DIR, 0, error);
	if (!dir)
		return FALSE;
	while ((name = g_dir_read_name(dir)))
		if (g_pattern_match_simple("ssh_host_*_key.pub", name))
			g_ptr_array_add(paths, g_build_filename(
				ANNOUNCE_KEY_DIR, name, NULL));
	g_ptr_array_sort(paths, by_string);
	for (i = 0; i < paths->len; i++) {
		g_autoptr(GError) err = NULL;

		if (!add_fingerprint(b, paths->pdata[i], &err))
			g_warning("%s", err->message);
	}
	if (b->n_fingerprints == 0) {
		g_set_error(error, BEACON_ERROR, BEACON_ERROR_KEY,
			    "no SSH host key in " ANNOUNCE_KEY_DIR
			    "/ssh_host_*_key.pub (give --host-key)");
		return FALSE;
	}
	return TRUE;
}

static int
check_options(const struct announce_options *opt)
{
	if (opt->port < 0 || opt->port > 65535) {
		g_printerr("trickle-node: --port %d out of range\n", opt->port);
		return 2;
	}
	if (opt->ssh_port < 0 || opt->ssh_port > 65535) {
		g_printerr("trickle-node: --ssh-port %d out of range\n",
			   opt->ssh_port);
		return 2;
	}
	if (opt->interval < 0 || opt->interval > BEACON_MAX_INTERVAL) {
		g_printerr("trickle-node: --interval %d out of range (1-%d)\n",
			   opt->interval, BEACON_MAX_INTERVAL);
		return 2;
	}
	if (opt->name && !beacon_name_valid(opt->name)) {
		g_printerr("trickle-node: --name '%s': use at most %d "
			   "letters, digits, '.', '_' and '-', starting with "
			   "a letter or digit\n", opt->name, BEACON_MAX_NAME);
		return 2;
	}
	return 0;
}

/* The HELLO we send, but for nonce and sequence; 0 or an exit status. */
static int
make_hello(struct beacon *b, const struct announce_options *opt)
{
	g_autoptr(GError) error = NULL;
	const char *name = opt->name ? opt->name : g_get_host_name();
	char **k;

	memset(b, 0, sizeof(*b));
	if (!beacon_name_valid(name)) {
		g_printerr("trickle-node: the host name '%s' cannot be a node "
			   "name: give --name\n", name);
		return 2;
	}
	b->kind = BEACON_HELLO;
	b->instance = beacon_random_id();
	g_strlcpy(b->name, name, sizeof(b->name));
	b->ssh_port = (guint16)(opt->ssh_port ? opt->ssh_port : 22);
	b->cores = MAX(g_get_num_processors(), 1);
	g_strlcpy(b->version, TRICKLE_VERSION, sizeof(b->version));
	b->interval = (guint32)(opt->interval ? opt->interval
					      : ANNOUNCE_INTERVAL);
	if (opt->host_keys && opt->host_keys[0]) {
		for (k = opt->host_keys; *k; k++)
			if (!add_fingerprint(b, *k, &error))
				break;
	} else {
		default_keys(b, &error);
	}
	if (error) {
		g_printerr("trickle-node: %s\n", error->message);
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------ running */

static void
complain(struct announcer *a, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
complain(struct announcer *a, const char *fmt, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;
	guint held;

	if (!ratelimit_ok(&a->warn, &held))
		return;
	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (held)
		g_warning("%s (and %u more in the last %d s)", msg, held,
			  DISCOVER_WARN_INTERVAL);
	else
		g_warning("%s", msg);
}

/* Send the HELLO or a BYE to the group, or the HELLO to one prober. */
static void
send_beacon(struct announcer *a, enum beacon_kind kind, guint64 nonce,
	    const struct sockaddr_in *to)
{
	g_autoptr(GError) error = NULL;
	struct beacon b = a->hello;

	b.kind = kind;
	b.nonce = nonce;
	b.seq = ++a->hello.seq;
	if (!beacon_encode(&b, a->out, &error) ||
	    !(to ? mcast_send_to(&a->m, to, a->out->data, a->out->len, &error)
		 : mcast_send_group(&a->m, a->out->data, a->out->len, &error)))
		complain(a, "%s: %s", beacon_kind_name(kind), error->message);
}

/*
 * May this prober have an answer now?  0 if so, else 1 if it asked too
 * often (a client probing twice, say: not worth a word) or 2 if every
 * prober together did.
 */
static int
may_answer(struct announcer *a, const struct sockaddr_in *from)
{
	guint32 addr = ntohl(from->sin_addr.s_addr);
	guint16 port = ntohs(from->sin_port);
	struct prober *p = &a->probers[(addr * 2654435761u ^ port) %
				       PROBER_SLOTS];
	gint64 now = g_get_monotonic_time();

	a->tokens = MIN((double)REPLY_BURST, a->tokens +
			(double)(now - a->refilled) * REPLY_RATE /
			G_USEC_PER_SEC);
	a->refilled = now;
	if (p->addr == addr && p->port == port && p->when &&
	    now - p->when < PROBER_GAP_US)
		return 1;
	if (a->tokens < 1)
		return 2;
	a->tokens -= 1;
	p->addr = addr;
	p->port = port;
	p->when = now;
	return 0;
}

/* A source we could answer: a unicast address and a port. */
static gboolean
answerable(const struct sockaddr_in *from)
{
	guint32 addr = ntohl(from->sin_addr.s_addr);

	return from->sin_family == AF_INET && from->sin_port != 0 &&
	       addr != INADDR_ANY && addr != INADDR_BROADCAST &&
	       !IN_MULTICAST(addr) && (addr >> 24) != 0;
}

static void
handle(struct announcer *a, const guint8 *buf, gsize len,
       gboolean truncated, const struct sockaddr_in *from)
{
	g_autoptr(GError) error = NULL;
	char addr[INET_ADDRSTRLEN] = "?";
	struct beacon b;

	if (from->sin_family == AF_INET)
		inet_ntop(AF_INET, &from->sin_addr, addr, sizeof(addr));
	if (truncated) {
		a->ignored++;
		complain(a, "ignored a datagram from %s: larger than %d bytes",
			 addr, BEACON_MAX_SIZE);
		return;
	}
	if (!beacon_decode(buf, len, &b, &error)) {
		a->ignored++;
		complain(a, "ignored a datagram from %s: %s", addr,
			 error->message);
		return;
	}
	/* Our own beacons and other nodes' come back: not for us. */
	if (b.kind != BEACON_PROBE)
		return;
	if (!answerable(from)) {
		a->ignored++;
		complain(a, "ignored a PROBE from %s port %u", addr,
			 ntohs(from->sin_port));
		return;
	}
	switch (may_answer(a, from)) {
	case 0:
		break;
	case 1:
		a->refused++;
		return;
	default:
		a->refused++;
		complain(a, "not answering a PROBE from %s: more than %d "
			 "probes a second", addr, REPLY_RATE);
		return;
	}
	a->answered++;
	send_beacon(a, BEACON_HELLO, b.nonce, from);
}

static gboolean
on_readable(gint fd, GIOCondition cond, gpointer data)
{
	struct announcer *a = data;
	guint8 buf[BEACON_MAX_SIZE + 1];
	struct sockaddr_in from;
	gboolean truncated;
	gsize len;
	int i, r;

	for (i = 0; i < READ_BUDGET; i++) {
		g_autoptr(GError) error = NULL;

		r = mcast_recv(&a->m, buf, sizeof(buf), &len, &from,
			       &truncated, &error);
		if (r < 0)
			complain(a, "%s", error->message);
		if (r <= 0)
			break;
		handle(a, buf, len, truncated || len > BEACON_MAX_SIZE, &from);
	}
	return G_SOURCE_CONTINUE;
}

static gboolean
on_interval(gpointer data)
{
	struct announcer *a = data;
	guint held;

	send_beacon(a, BEACON_HELLO, 0, NULL);
	if (a->warn.held && ratelimit_ok(&a->warn, &held))
		g_warning("%u more problems in the last %d s", held,
			  DISCOVER_WARN_INTERVAL);
	return G_SOURCE_CONTINUE;
}

static gboolean
on_signal(gpointer data)
{
	struct announcer *a = data;

	g_main_loop_quit(a->loop);
	return G_SOURCE_CONTINUE;
}

int
announce_main(const struct announce_options *opt)
{
	g_autoptr(GError) error = NULL;
	struct announcer a;
	guint src[5];
	int rc;

	memset(&a, 0, sizeof(a));
	if ((rc = check_options(opt)) || (rc = make_hello(&a.hello, opt)))
		return rc;
	a.tokens = REPLY_BURST;
	a.refilled = g_get_monotonic_time();
	a.warn.interval_us = DISCOVER_WARN_INTERVAL * G_USEC_PER_SEC;
	if (!mcast_open(&a.m, opt->group, (guint16)opt->port, opt->interface,
			TRUE, &error)) {
		g_printerr("trickle-node: %s\n", error->message);
		return 1;
	}
	a.out = g_byte_array_new();
	a.loop = g_main_loop_new(NULL, FALSE);
	src[0] = g_unix_fd_add(a.m.fd, G_IO_IN, on_readable, &a);
	src[1] = g_timeout_add_seconds(a.hello.interval, on_interval, &a);
	src[2] = g_unix_signal_add(SIGTERM, on_signal, &a);
	src[3] = g_unix_signal_add(SIGINT, on_signal, &a);
	src[4] = g_unix_signal_add(SIGHUP, on_signal, &a);

	g_message("announcing %s (SSH port %u, %u cores, %u host keys) on "
		  "%s:%u via %s, every %u s", a.hello.name, a.hello.ssh_port,
		  a.hello.cores, a.hello.n_fingerprints,
		  inet_ntoa(a.m.group.sin_addr), ntohs(a.m.group.sin_port),
		  a.m.where, a.hello.interval);
	send_beacon(&a, BEACON_HELLO, 0, NULL);
	g_main_loop_run(a.loop);
	send_beacon(&a, BEACON_BYE, 0, NULL);
	g_message("said goodbye: answered %u probes, refused %u, ignored %u "
		  "datagrams", a.answered, a.refused, a.ignored);

	for (guint i = 0; i < G_N_ELEMENTS(src); i++)
		g_source_remove(src[i]);
	g_main_loop_unref(a.loop);
	g_byte_array_unref(a.out);
	mcast_close(&a.m);
	return 0;
}
