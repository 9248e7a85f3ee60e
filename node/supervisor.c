/*
 * supervisor.c - trickle-node's side of the protocol: frames from tricklefs
 * on stdin, answers on stdout, work handed to the VMs (node/vm), injected
 * files vetted first (node/vet).  The VMs answer the client through the
 * struct vmhost registered here.
 *
 * Everything a call produces is kept in files under the session directory
 * and read on request (WIRE_READ), so output of any size streams in
 * bounded pieces and survives the connection that asked for it.
 */
#include "node.h"
#include "fdio.h"
#include "fdlimit.h"
#include "session.h"
#include "supervisor.h"
#include "fdstream.h"
#include "vet.h"
#include "vm.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
#include <glib-unix.h>
#include <gio/gio.h>

/* The most VMs one trickle-node holds (fds, processes: see
 * trickle-node(1), LIMITS); --max-vms lowers it. */
#define MAX_VMS NODE_MAX_VMS
/* Descriptors the node needs besides its VMs', and per VM (fdlimit.h). */
#define FDS_BASE 64
#define FDS_PER_VM 8


/* struct vmhost: how the VMs reach the client and learn that we end. */

static void
host_send(void *data, guint type, guint vm, guint32 tag, GVariant *body)
{
	node_send(data, type, vm, tag, body);
}

static void
host_send_bytes(void *data, guint type, guint vm, guint32 tag,
		const void *bytes, gsize len)
{
	node_send_bytes(data, type, vm, tag, bytes, len);
}

static gboolean
host_ending(void *data)
{
	return ((struct node *)data)->shutdown;
}

void
reply(struct node *n, guint vm, guint32 tag, int err, const char *msg)
{
	node_send(n, WIRE_REPLY, vm, tag, g_variant_new("(is)", err, msg));
}

void
reply_error(struct node *n, guint vm, guint32 tag, const GError *error)
{
	int err = EIO;

	if (error->domain == G_IO_ERROR &&
	    error->code == G_IO_ERROR_INVALID_DATA)
		err = ENOEXEC;
	else if (error->domain == G_IO_ERROR &&
		 error->code == G_IO_ERROR_PERMISSION_DENIED)
		err = EACCES;
	else if (error->domain == G_IO_ERROR &&
		 error->code == G_IO_ERROR_INVALID_FILENAME)
		err = EINVAL;
	else if (error->domain == G_FILE_ERROR &&
		 error->code == G_FILE_ERROR_NOENT)
		err = ENOENT;
	reply(n, vm, tag, err, error->message);
}

static void on_client_data(void *user, const guint8 *data, gsize len);
static void on_client_closed(void *user, const GError *error);

static const struct fdstream_callbacks client_cb = {
	.data = on_client_data,
	.closed = on_client_closed,
};

/* The session's VMs exist: the client hears WELCOME, all we know of them
 * (for a session that was there before), and SYNCED. */
static void
welcome(struct node *n, guint32 tag, gboolean resumed)
{
	guint i, calls = 0;

	node_send(n, WIRE_WELCOME, 0, tag,
		  g_variant_new("(usuu)", WIRE_PROTO_VERSION, g_get_host_name(),
				g_get_num_processors(), (guint32)getpid()));
	node_share_send(n, 0);
	if (!n->session)
		return;		/* a HELLO: no SYNCED */
	for (i = 0; resumed && i < n->vms->len; i++)
		calls += vmnode_resync(n->vms->pdata[i]);
	node_send(n, WIRE_SYNCED, 0, tag, g_variant_new("(bu)", resumed,
							 calls));
	node_share_orphan(n, FALSE);
}

static gboolean
make_vms(struct node *n, guint nvms, gboolean adopt)
{
	guint i;

	n->host.dir = n->dir;
	/* The node's cores: known from the start (VM/info, .ctl). */
	node_share_join(n);
	for (i = 0; i < nvms; i++) {
		g_autoptr(GError) error = NULL;
		struct vmnode *vm = vmnode_new(&n->host, i, adopt, &error);

		if (!vm) {
			g_warning("%s", error->message);
			g_free(n->failure);
			n->failure = g_strdup_printf("node cannot start VM %u "
				"of %u: %s", i, nvms, error->message);
			return FALSE;
		}
		g_ptr_array_add(n->vms, vm);
	}
	return TRUE;
}

/* A session that could not start: the client hears why, and its new
 * directory goes as the node ends. */
static void
attach_failed(struct node *n, guint32 tag)
{
	reply(n, 0, tag, EIO, n->failure ? n->failure
	      : "node cannot start its VMs");
	n->shutdown = TRUE;
	g_main_loop_quit(n->loop);
}

static void on_handed_client(void *data, int in, int out, const guint8 *bytes,
			     gsize len);

/*
 * Is the lease out?  Past it the client has given our calls up for lost
 * and may run them elsewhere, so we end rather than resume them beside
 * their next runs.  Out when the client has been silent that long, or
 * when we could not run for that long (stopped, or the machine hung):
 * what we read on waking may be old, and tells nothing of the client's
 * patience.  The lease tick notes that we run.
 */
static gboolean
lease_out(struct node *n)
{
	gint64 now = g_get_monotonic_time(), lease;

	if (!n->lease || !n->session || n->shutdown)
		return FALSE;
	lease = (gint64)n->lease * G_USEC_PER_SEC;
	if (now - n->last_heard <= lease && now - n->last_tick <= lease)
		return FALSE;
	g_message("%s for %u s: ending session %s",
		  now - n->last_tick > lease ? "frozen" :
		  "no word from the client", n->lease, n->id);
	if (n->lease_timer)
		g_source_remove(n->lease_timer);
	n->lease_timer = 0;
	n->shutdown = TRUE;	/* its files go */
	g_main_loop_quit(n->loop);
	return TRUE;
}

static gboolean
lease_tick(gpointer data)
{
	struct node *n = data;

	if (lease_out(n))
		return G_SOURCE_REMOVE;	/* lease_out removed us already */
	n->last_tick = g_get_monotonic_time();
	session_touch(n->session);
	return G_SOURCE_CONTINUE;
}

/*
 * A HELLO or ATTACH we cannot serve is answered with a REPLY on its tag
 * that says why (the mount reports it as the node's reason; an older
 * mount only logs it), then we end.  Nothing is on disk yet: the session
 * directory is made only after this.
 */
static gboolean
attach_acceptable(struct node *n, struct wire_msg *m, guint32 version,
		  guint32 nvms, const char *id)
{
	g_autofree char *why = NULL;
	int err = EPROTO;

	if (version != WIRE_PROTO_VERSION)
		why = g_strdup_printf("node speaks protocol %u (trickle-node "
				      "%s), the mount %u", WIRE_PROTO_VERSION,
				      TRICKLE_VERSION, version);
	else if (nvms == 0)
		why = g_strdup("node refuses 0 VMs");
	else if (nvms > n->max_vms) {
		why = g_strdup_printf("node refuses %u VMs: at most %u", nvms,
				      n->max_vms);
		err = EUSERS;
	} else if (nvms > n->fd_vms) {
		why = g_strdup_printf("node refuses %u VMs: its open-file "
				      "limit (%" G_GUINT64_FORMAT ", ulimit -Hn) "
				      "allows at most %u", nvms, n->fd_limit,
				      n->fd_vms);
		err = EMFILE;
	} else if (m->type == WIRE_ATTACH && !session_id_valid(id))
		why = g_strdup_printf("node refuses session id \"%s\"", id);
	if (!why)
		return TRUE;
	g_warning("refusing %s: %s", wire_type_name(m->type), why);
	reply(n, 0, m->tag, err, why);
	g_main_loop_quit(n->loop);
	return FALSE;
}

/* ATTACH (or HELLO, a session of our own that ends with its client). */
static void
do_attach(struct node *n, struct wire_msg *m)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GByteArray) ahead = NULL;
	const guint8 *rest;
	gsize rest_len;
	guint32 version, nvms, lease = 0;
	const char *id = "";
	enum session_how how;

	if (m->type == WIRE_ATTACH)
		g_variant_get(m->body, "(uu&su)", &version, &nvms, &id, &lease);
	else
		g_variant_get(m->body, "(uu)", &version, &nvms);
	if (n->said_hello) {
		/* A client handed over by a later trickle-node. */
		if (m->type == WIRE_ATTACH && n->session &&
		    g_strcmp0(id, n->id) == 0 && nvms == n->vms->len) {
			g_message("client back: resuming session %s", id);
			n->lease = lease ? lease : n->lease;
			session_set_lease(n->session, n->lease);
			welcome(n, m->tag, TRUE);
			return;
		}
		g_warning("refusing a second %s", wire_type_name(m->type));
		g_main_loop_quit(n->loop);
		return;
	}
	if (!attach_acceptable(n, m, version, nvms, id))
		return;
	n->said_hello = TRUE;
	if (m->type == WIRE_HELLO) {
		g_autofree char *tmpl = g_build_filename(n->base,
			"session-XXXXXX", NULL);

		if (!g_mkdtemp(tmpl)) {
			g_warning("cannot create a directory in %s: %s",
				  n->base, g_strerror(errno));
			g_main_loop_quit(n->loop);
			return;
		}
		n->dir = g_steal_pointer(&tmpl);
		if (make_vms(n, nvms, FALSE))
			welcome(n, m->tag, FALSE);
		else
			attach_failed(n, m->tag);
		return;
	}
	/* What the client sent, ATTACH first, goes with it if a live
	 * process takes it over. */
	ahead = g_byte_array_new();
	wire_encode(ahead, m->type, m->vm, m->tag, g_variant_ref(m->body));
	rest = wire_decoder_rest(&n->dec, &rest_len);
	g_byte_array_append(ahead, rest, rest_len);
	n->id = g_strdup(id);
	n->lease = lease;
	session_reap(n->base);
	client_flush(n);	/* before a live process may take the client */
	n->session = session_open(n->base, id, n->in, n->out, ahead->data,
				  ahead->len, on_handed_client, n, &how,
				  &error);
	if (!n->session) {
		g_warning("session %s: %s", id, error->message);
		g_main_loop_quit(n->loop);
		return;
	}
	if (how == SESSION_HANDED_OFF) {
		n->handed_off = TRUE;
		g_main_loop_quit(n->loop);
		return;
	}
	n->dir = g_strdup(session_dir(n->session));
	session_set_lease(n->session, lease);
	if (how == SESSION_ADOPTED)
		g_message("adopting session %s: its trickle-node is gone", id);
	if (!make_vms(n, nvms, how == SESSION_ADOPTED)) {
		/* A new session goes with its files; an adopted one is
		 * kept for a later try. */
		if (how == SESSION_NEW)
			attach_failed(n, m->tag);
		g_main_loop_quit(n->loop);
		return;
	}
	n->last_tick = g_get_monotonic_time();
	n->lease_timer = g_timeout_add_seconds(MAX(1, MIN(lease / 8, 5)),
					       lease_tick, n);
	welcome(n, m->tag, how == SESSION_ADOPTED);
}

void
reply_file_bytes(struct node *n, struct wire_msg *m, const char *path,
		 guint64 off, guint32 max)
{
	g_autofree guint8 *buf = NULL;
	struct stat st;
	ssize_t got;
	int fd;

	/* A call can put anything at that path: a FIFO would block the
	 * whole node in open(), a symlink lead out of its directory. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0) {
		reply(n, m->vm, m->tag, errno, g_strerror(errno));
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		reply(n, m->vm, m->tag, EINVAL, "not a regular file");
		return;
	}
	max = MIN(max, WIRE_CHUNK);
	buf = g_malloc(max);
	got = pread(fd, buf, max, off);
	close(fd);
	if (got < 0)
		reply(n, m->vm, m->tag, errno, g_strerror(errno));
	else
		node_send_bytes(n, WIRE_DATA, m->vm, m->tag, buf, got);
}

static void
do_read(struct node *n, struct vmnode *vm, struct wire_msg *m)
{
	guint32 id, max;
	guint8 stream;
	guint64 off;
	g_autofree guint8 *buf = NULL;
	gssize got;
	int err;

	g_variant_get(m->body, "(uytu)", &id, &stream, &off, &max);
	buf = g_malloc(MIN(max, WIRE_CHUNK));
	got = vmnode_call_pread(vm, id, stream, buf, MIN(max, WIRE_CHUNK), off,
				&err);
	if (got < 0)
		reply(n, m->vm, m->tag, err, g_strerror(err));
	else
		node_send_bytes(n, WIRE_DATA, m->vm, m->tag, buf, got);
}

/* "MemTotal:  16303832 kB" -> MiB, or -1. */
static gint64
meminfo_mib(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	guint64 kb;

	if (!p || (p != text && p[-1] != '\n'))
		return -1;
	p += strlen(key);
	while (*p == ' ' || *p == '\t')
		p++;
	kb = g_ascii_strtoull(p, NULL, 10);
	return (gint64)(kb / 1024);
}

static void
do_info(struct node *n, struct vmnode *vm, struct wire_msg *m)
{
	g_autoptr(GString) s = g_string_new(NULL);
	g_autofree char *load = NULL;
	g_autofree char *mem = NULL;
	double l1, l5, l15;

	g_string_append_printf(s, "host: %s\n", g_get_host_name());
	g_string_append_printf(s, "cores: %u\n", g_get_num_processors());
	if (g_file_get_contents("/proc/loadavg", &load, NULL, NULL) &&
	    sscanf(load, "%lf %lf %lf", &l1, &l5, &l15) == 3)
		g_string_append_printf(s, "loadavg: %.2f %.2f %.2f\n", l1, l5,
				       l15);
	if (g_file_get_contents("/proc/meminfo", &mem, NULL, NULL)) {
		gint64 total = meminfo_mib(mem, "MemTotal:");
		gint64 avail = meminfo_mib(mem, "MemAvailable:");

		if (total >= 0)
			g_string_append_printf(s, "memory total: %"
					       G_GINT64_FORMAT " MiB\n", total);
		if (avail >= 0)
			g_string_append_printf(s, "memory available: %"
					       G_GINT64_FORMAT " MiB\n", avail);
	}
	g_string_append_printf(s, "node uptime: %" G_GINT64_FORMAT " s\n",
			       (g_get_monotonic_time() - n->started) /
			       G_USEC_PER_SEC);
	g_string_append_printf(s, "node version: %s (protocol %d)\n",
			       TRICKLE_VERSION, WIRE_PROTO_VERSION);
	g_string_append_printf(s, "node pid: %d\n", (int)getpid());
	node_share_info(n, s);
	vmnode_info(vm, s);
	node_send(n, WIRE_TEXT, m->vm, m->tag,
		  g_variant_new_string(s->str));
}

static void
dispatch(struct node *n, struct wire_msg *m)
{
	struct vmnode *vm = NULL;

	if (m->type == WIRE_HELLO || m->type == WIRE_ATTACH) {
		do_attach(n, m);
		return;
	}
	if (!n->said_hello) {
		g_warning("%s before ATTACH", wire_type_name(m->type));
		g_main_loop_quit(n->loop);
		return;
	}
	if (m->type == WIRE_PING) {
		node_send(n, WIRE_PONG, m->vm, m->tag, NULL);
		return;
	}
	if (m->type == WIRE_SHUTDOWN) {
		n->shutdown = TRUE;
		g_main_loop_quit(n->loop);
		return;
	}
	if (m->type == WIRE_VM_ADD) {
		ckpt_vm_add(n, m);
		return;
	}
	if (m->vm < n->vms->len)
		vm = n->vms->pdata[m->vm];
	if (!vm) {
		g_warning("%s for VM %u, which does not exist",
			  wire_type_name(m->type), m->vm);
		reply(n, m->vm, m->tag, ENOENT, "no such VM");
		return;
	}
	switch (m->type) {
	case WIRE_INJECT_BEGIN:
		do_inject_begin(n, vm, m);
		break;
	case WIRE_INJECT_DATA:
		do_inject_data(n, m);
		break;
	case WIRE_INJECT_END:
		do_inject_end(n, m);
		break;
	case WIRE_INJECT_ABORT:
		g_hash_table_remove(n->xfers,
			GSIZE_TO_POINTER(xfer_key(m->vm, m->tag)));
		break;
	case WIRE_UNINJECT:
		do_uninject(n, vm, m);
		break;
	case WIRE_CACHE_HAVE:
		do_cache_have(n, m);
		break;
	case WIRE_CACHE_PUT:
		do_cache_put(n, m);
		break;
	case WIRE_INJECT_CACHED:
		do_inject_cached(n, m);
		break;
	case WIRE_INJECT_CACHED_VMS:
		do_inject_cached_vms(n, m);
		break;
	case WIRE_CALL: {
		g_autofree const char **argv =
			g_variant_get_strv(m->body, NULL);
		vmnode_call(vm, m->tag, (char **)argv);
		break;
	}
	case WIRE_STDIN: {
		gsize len;
		const guint8 *p = wire_msg_bytes(m, &len);

		vmnode_stdin(vm, m->tag, p, len);
		break;
	}
	case WIRE_READ:
		do_read(n, vm, m);
		break;
	case WIRE_FSOP:
		datafs_op(vm, m);
		break;
	case WIRE_CANCEL:
		vmnode_cancel(vm, m->tag, g_variant_get_uint32(m->body));
		break;
	case WIRE_FORGET: {
		const char *why;
		int err = vmnode_forget(vm, g_variant_get_uint32(m->body),
					&why);
		reply(n, m->vm, m->tag, err, why);
		break;
	}
	case WIRE_RESTART:
		vmnode_restart(vm, m->tag);
		break;
	case WIRE_INFO:
		do_info(n, vm, m);
		break;
	case WIRE_OBJ_DESTROY:
		vmnode_destroy_object(vm, m->tag,
				      g_variant_get_uint32(m->body));
		break;
	case WIRE_CKPT_TAKE:
	case WIRE_CKPT_RESTORE:
	case WIRE_CKPT_READ:
	case WIRE_CKPT_REMOVE:
	case WIRE_CKPT_PUT:
		do_ckpt(n, vm, m);
		break;
	default:
		g_warning("unexpected %s from the client",
			  wire_type_name(m->type));
	}
}

static void
on_client_data(void *user, const guint8 *data, gsize len)
{
	struct node *n = user;
	g_autoptr(GError) error = NULL;
	struct wire_msg m;
	int r;

	if (lease_out(n))
		return;
	n->last_heard = g_get_monotonic_time();
	wire_decoder_feed(&n->dec, data, len);
	while ((r = wire_decoder_next(&n->dec, &m, &error)) == 1) {
		dispatch(n, &m);
		wire_msg_clear(&m);
		if (n->shutdown || n->handed_off)
			return;
	}
	if (r < 0) {
		g_warning("bad frame from the client: %s", error->message);
		g_main_loop_quit(n->loop);
	}
}

static void
on_client_closed(void *user, const GError *error)
{
	struct node *n = user;

	if (error)
		g_warning("client connection: %s", error->message);
	if (!n->session || n->shutdown) {
		g_main_loop_quit(n->loop);
		return;
	}
	/* The calls go on; the session waits for its client for the lease,
	 * counted from the client's last frame. */
	g_message("client gone; keeping session %s for %u s", n->id,
		  n->lease);
	g_byte_array_set_size(n->frame, 0);
	fdstream_free(g_steal_pointer(&n->io));
	session_release_client(n->session);
	/* Its calls run on, on cores no mount with a user wants. */
	node_share_orphan(n, TRUE);
	/* A transfer cut off with its link cannot go on: bytes were lost
	 * with it (the client sends it again). */
	g_hash_table_remove_all(n->xfers);
}

/* A later trickle-node gave us its client (the mount reconnected): it
 * replaces ours, and its ATTACH (in bytes) resumes the session. */
static void
on_handed_client(void *data, int in, int out, const guint8 *bytes, gsize len)
{
	struct node *n = data;

	/* A process stopped past its lease gets here before its lease
	 * tick when it wakes. */
	if (lease_out(n)) {
		close(in);
		if (out != in)
			close(out);
		return;
	}
	if (n->io)
		g_message("a new connection replaces the client's old one");
	client_flush(n);
	fdstream_free(g_steal_pointer(&n->io));
	g_hash_table_remove_all(n->xfers);
	wire_decoder_clear(&n->dec);
	wire_decoder_init(&n->dec);
	n->io = fdstream_new(in, out, &client_cb, n);
	on_client_data(n, bytes, len);
}

static gboolean
on_signal(gpointer data)
{
	struct node *n = data;

	n->shutdown = TRUE;
	g_main_loop_quit(n->loop);
	return G_SOURCE_CONTINUE;
}

/*
 * Remove the session's files without making the client wait: a mount with
 * tens of thousands of calls has as many directories to delete.  The files
 * are moved out of the way first, then a detached child deletes them.
 */
static void
remove_later(const char *dir)
{
	g_autofree char *trash = g_strconcat(dir, ".trash", NULL);
	const char *victim = rename(dir, trash) == 0 ? trash : dir;
	pid_t pid = fork();

	if (pid != 0) {
		if (pid < 0)
			rm_rf(victim);
		return;
	}
	/* Let go of the channel so that the client sees us end now. */
	setsid();
	for (int fd = 0; fd < 3; fd++)
		dup2(open("/dev/null", O_RDWR), fd);
	close_range(3, ~0U, 0);
	if (fork() == 0)
		rm_rf(victim);
	_exit(0);
}

static void
node_finish(struct node *n)
{
	guint i;

	/* Workers first, so nothing writes into what we remove. */
	for (i = 0; i < n->vms->len; i++)
		vmnode_free(n->vms->pdata[i]);
	g_ptr_array_set_size(n->vms, 0);
	node_share_free(n);
	g_hash_table_remove_all(n->xfers);
	if (n->lease_timer)
		g_source_remove(n->lease_timer);
	n->lease_timer = 0;
	/* Out of the way (renamed) while still locked: a trickle-node
	 * starting meanwhile must not adopt what is being removed. */
	if (n->dir && n->shutdown)
		remove_later(n->dir);
	else if (n->dir && !n->handed_off)
		g_message("ending; keeping %s", n->dir);
	g_clear_pointer(&n->session, session_free);
}

int
node_run(const char *basedir, guint max_vms, guint cache_days,
	 const char *share)
{
	g_autoptr(GError) error = NULL;
	struct node n = { 0 };
	int devnull;

	signal(SIGPIPE, SIG_IGN);
	if (g_mkdir_with_parents(basedir, 0700) < 0) {
		g_printerr("trickle-node: cannot create %s: %s\n", basedir,
			   g_strerror(errno));
		return 1;
	}
	n.base = g_strdup(basedir);
	n.max_vms = max_vms ? MIN(max_vms, MAX_VMS) : MAX_VMS;
	/* FDS_PER_VM descriptors per VM (its worker's socket and pidfd, its
	 * store and log, its calls' output memfds, and while a call runs its
	 * stdin or output past the store): the soft limit of a login (1,024)
	 * held a node to ~580 VMs, failing the rest one by one.
	 * Raised to the hard limit (workers get the old one back: vmnode.c,
	 * zygote.c); what that cannot hold is refused at once. */
	n.fd_limit = fdlimit_raise();
	n.fd_vms = n.fd_limit > FDS_BASE + FDS_PER_VM
		   ? (guint)MIN((n.fd_limit - FDS_BASE) / FDS_PER_VM, G_MAXUINT)
		   : 1;
	/* Without a cache, files are still taken one VM at a time. */
	if (!(n.cache = nodecache_open(basedir, cache_days, &error)))
		g_warning("no cache of injected files: %s", error->message);
	n.vetted = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					 NULL);
	n.vettings = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
					   (GDestroyNotify)vetting_free);
	n.started = g_get_monotonic_time();
	n.self = g_file_read_link("/proc/self/exe", NULL);
	n.host = (struct vmhost){
		.self = n.self,
		.send = host_send,
		.send_bytes = host_send_bytes,
		.ending = host_ending,
		.data = &n,
	};
	n.share_spec = g_strdup(share);
	node_share_init(&n);
	/* Our stdout carries frames: keep stray writes away from it. */
	n.in = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
	n.out = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	dup2(devnull, STDIN_FILENO);
	dup2(STDERR_FILENO, STDOUT_FILENO);
	close(devnull);
	n.loop = g_main_loop_new(NULL, FALSE);
	n.frame = g_byte_array_new();
	n.vms = g_ptr_array_new();
	n.xfers = g_hash_table_new_full(NULL, NULL, NULL,
					(GDestroyNotify)xfer_free);
	wire_decoder_init(&n.dec);
	n.last_heard = g_get_monotonic_time();
	n.io = fdstream_new(n.in, n.out, &client_cb, &n);
	n.flusher = client_flusher_new(&n);
	/* Before a worker's end that the same signal caused (vmnode.c). */
	g_unix_signal_add_full(G_PRIORITY_HIGH, SIGTERM, on_signal, &n, NULL);
	g_unix_signal_add_full(G_PRIORITY_HIGH, SIGINT, on_signal, &n, NULL);

	g_main_loop_run(n.loop);

	if (n.handed_off) {
		/* Our client is the live process's now: let go of our copies
		 * and stay (the SSH session's command) while it serves it. */
		g_byte_array_set_size(n.frame, 0);
		fdstream_free(g_steal_pointer(&n.io));
		session_wait_released(g_steal_pointer(&n.session));
	}
	node_finish(&n);
	client_flush(&n);
	g_source_destroy(n.flusher);
	g_source_unref(n.flusher);
	if (n.io)
		fdstream_flush(n.io, 1000);
	fdstream_free(n.io);
	wire_decoder_clear(&n.dec);
	g_hash_table_unref(n.xfers);
	g_hash_table_unref(n.vettings);
	g_hash_table_unref(n.vetted);
	nodecache_free(n.cache);
	g_ptr_array_unref(n.vms);
	g_byte_array_unref(n.frame);
	g_main_loop_unref(n.loop);
	g_free(n.self);
	g_free(n.dir);
	g_free(n.failure);
	g_free(n.share_spec);
	g_free(n.id);
	g_free(n.base);
	return 0;
}
