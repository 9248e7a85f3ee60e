/*
 * options.c - the command line: -o options, NODE arguments and host
 * files (handed to the static membership source), FUSE's own options.
 */
#include "options.h"
#include "mountopts.h"
#include "nodespec.h"

#include <errno.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { KEY_HELP, KEY_VERSION };

/* Offsets into struct cluster, the data fuse_opt_parse fills. */
#define OPT(t, field) { t, offsetof(struct cluster, opt.field), 0 }
static const struct fuse_opt tfs_opts[] = {
	OPT("identity=%s", identity),
	OPT("known_hosts=%s", known_hosts),
	OPT("node_command=%s", node_command),
	OPT("hostfile=%s", hostfile),
	OPT("local=%d", local),
	OPT("reply_timeout=%d", reply_timeout),
	OPT("connect_timeout=%d", connect_timeout),
	OPT("ServerAliveInterval=%d", alive_interval),
	OPT("ServerAliveCountMax=%d", alive_count),
	OPT("logfile=%s", logfile),
	OPT("timeout=%d", timeout),
	OPT("any_window=%d", any_window),
	{ "discover", offsetof(struct cluster, opt.discover), 1 },
	OPT("discover_timeout=%d", discover_timeout),
	OPT("discover_group=%s", discover_group),
	OPT("discover_port=%d", discover_port),
	OPT("discover_user=%s", discover_user),
	OPT("vms_per_node=%d", vms_per_node),
	OPT("max=%d", max),
	OPT("min=%d", min),
	OPT("allow=%s", allow_text),
	/* Who may act on an allow_other mount (issue 10). */
	OPT("allow_users=%s", allow_users),
	/* Failures (issue 10): reconnect, the node's lease, retries. */
	{ "reconnect", offsetof(struct cluster, opt.reconnect), 1 },
	{ "noreconnect", offsetof(struct cluster, opt.reconnect), 0 },
	OPT("lease=%d", lease),
	OPT("retries=%d", retries),
	/* The initiator can crash (issue 11): its state on disk. */
	OPT("state=%s", state_dir),
	OPT("name=%s", name),
	{ "keep", offsetof(struct cluster, opt.keep), 1 },
	/* Bounded memory for a long-lived mount (issue 18): reap.c. */
	OPT("keep_calls=%d", keep_calls),
	{ "reap_unread", offsetof(struct cluster, opt.reap_unread), 1 },
	/* Checkpoints (issue 16): fs/cluster/ckpt.c. */
	{ "restore_on_crash", offsetof(struct cluster, opt.restore_on_crash),
	  1 },
	OPT("checkpoint_interval=%d", checkpoint_interval),
	OPT("checkpoint_every=%d", checkpoint_every),
	/* SSH as ssh reads it, and sshfs's spellings (issue 14): the
	 * "NAME=" entries without a format only note that NAME was given. */
	OPT("ssh_config=%s", ssh_config),
	OPT("-F %s", ssh_config),
	OPT("ssh_command=%s", ssh_command),
	OPT("IdentityFile=%s", identity),
	OPT("UserKnownHostsFile=%s", known_hosts),
	OPT("ProxyJump=%s", proxy_jump),
	OPT("port=%d", port),
	OPT("Port=%d", port),
	OPT("-p %d", port),
	OPT("ConnectTimeout=%d", connect_timeout),
	{ "connect_timeout=", offsetof(struct cluster,
				       opt.connect_timeout_given), 1 },
	{ "ConnectTimeout=", offsetof(struct cluster,
				      opt.connect_timeout_given), 1 },
	{ "ServerAliveInterval=", offsetof(struct cluster,
					   opt.alive_interval_given), 1 },
	/* Nodes from Slurm (issue 15): source_slurm.c, slurm_jobs.c. */
	{ "slurm", offsetof(struct cluster, opt.slurm), 1 },
	OPT("slurm_jobs=%d", slurm_jobs),
	OPT("slurm_args=%s", slurm_args),
	OPT("slurm_addr=%s", slurm_addr),
	OPT("slurm_link=%s", slurm_link),
	OPT("slurm_margin=%d", slurm_margin),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_END
};

static void
usage(const char *prog)
{
	printf(
"usage: %s [-f] [-d] [-o OPT[,OPT...]] [NODE...] MOUNTPOINT\n"
"\n"
"Mount a cluster of Trickle VMs: each NODE is [N/][NAME=][USER@]HOST[:PORT]\n"
"and becomes the VM directory NAME (else HOST), or N of them NAME.0 ...;\n"
"HOST may be a node set, node[1-8] or a,b[01-16].  The NODE none (fstab's\n"
"source field) names no node.  See tricklefs(1).\n"
"\n"
"tricklefs options:\n"
"    -o local=N             N VMs on this machine, no SSH\n"
"    -o hostfile=FILE       more NODEs, one per line (# comments)\n"
"    -o identity=FILE       SSH private key (default: agent, then\n"
"                           ~/.ssh/id_ed25519, id_ecdsa, id_rsa)\n"
"    -o known_hosts=FILE    host keys to trust (~/.ssh/known_hosts)\n"
"    -o node_command=CMD    what to run on a node (trickle-node)\n"
"    -F FILE, -o ssh_config=FILE  the ssh configuration to read (default\n"
"                           ~/.ssh/config, then /etc/ssh/ssh_config; none:\n"
"                           none); the command line beats it\n"
"    -p N, -o port=N        SSH port of NODEs without :PORT\n"
"    -o ProxyJump=[USER@]HOST[:PORT][,...]  reach the nodes through these\n"
"                           bastions (with the OpenSSH client; none: not)\n"
"    -o ssh_command=CMD     reach nodes with CMD (an ssh) instead of\n"
"                           libssh2, as sshfs: CMD [-p PORT] [-l USER] HOST\n"
"    -o IdentityFile=FILE -o UserKnownHostsFile=FILE -o ConnectTimeout=S\n"
"                           ssh's names for identity=, known_hosts=,\n"
"                           connect_timeout=\n"
"    -o connect_timeout=S   give up connecting after S s (15)\n"
"    -o reply_timeout=S     a node request fails after S s (30)\n"
"    -o ServerAliveInterval=S  ping every node every S s (3)\n"
"    -o ServerAliveCountMax=N  node unreachable after N silent intervals\n"
"                           (3)\n"
"    -o reconnect           reconnect a node whose link drops, with\n"
"                           backoff (the default; -o noreconnect: not)\n"
"    -o lease=S             a node keeps a session whose mount is gone\n"
"                           for S s, and calls not heard of for S s are\n"
"                           lost and run again (60)\n"
"    -o retries=N           run a .any call lost to the system (node\n"
"                           down, lease out) again up to N times (3)\n"
"    -o state=DIR           keep the mount's calls here, to remount after\n"
"                           a crash (default $XDG_STATE_HOME/tricklefs/\n"
"                           NAME, NAME from -o name= or the mount point)\n"
"    -o keep                a clean unmount keeps the state and the node\n"
"                           sessions (for the lease) to be remounted\n"
"    -o keep_calls=N        keep each VM's (and .any's) N newest ended\n"
"                           calls; older ones go as with rmdir once read\n"
"                           (default: keep all)\n"
"    -o reap_unread         with keep_calls, unread calls go too\n"
"    -o restore_on_crash    a VM whose worker dies comes back from its\n"
"                           last checkpoint (trickle(7), CHECKPOINTS)\n"
"    -o checkpoint_interval=S  checkpoint every VM every S s\n"
"    -o checkpoint_every=N  checkpoint a VM after each N calls it ran\n"
"    -o logfile=FILE        log here (default: stderr with -f, else\n"
"                           syslog, else $XDG_STATE_HOME/tricklefs/\n"
"                           NAME.log); MOUNT/.log has the recent lines\n"
"    -o timeout=S           calls fail after S s unless their line sets\n"
"                           TRICKLE_TIMEOUT (default: no limit)\n"
"    -o any_window=N        .any sends a VM at most N calls at a time (2)\n"
"    -o discover            also use nodes that announce themselves on the\n"
"                           LAN (trickle-node --announce), as they come\n"
"    -o discover_timeout=S  wait S s for answers when mounting (2)\n"
"    -o discover_group=ADDR -o discover_port=N  where nodes announce\n"
"                           (239.255.84.76, 7479)\n"
"    -o discover_user=USER  log in to discovered nodes as USER\n"
"    -o vms_per_node=N      VMs per node (1 for a NODE, a discovered\n"
"                           node's cores; N/NODE says it per NODE)\n"
"    -o max=N               use at most N discovered VMs\n"
"    -o min=N               fail unless N VMs are up after mounting (1)\n"
"    -o allow=PAT[:PAT...]  only discovered nodes whose name or address\n"
"                           matches a glob PAT\n"
"    -o allow_users=USER[:USER...]  with -o allow_other, these users (names\n"
"                           or uids) may fork, inject and write ctl too;\n"
"                           their calls run as the mount's owner\n"
"    -o slurm               inside a Slurm allocation: its nodes, a\n"
"                           trickle-node on each through srun\n"
"    -o slurm_jobs=N        submit N worker jobs with sbatch; nodes join\n"
"                           as their jobs start (.ctl: scale N)\n"
"    -o slurm_args=WORDS    sbatch's options for them (\"-p p -t 1:00:00\")\n"
"    -o slurm_addr=ADDR     where nodes connect back to (default: this\n"
"                           machine's address toward slurmctld)\n"
"    -o slurm_link=stdio    srun's stdin/stdout as the link instead\n"
"    -o slurm_margin=S      drain a job's nodes S s before its end (120)\n"
"\n", prog);
}

/*
 * allow_users=alice:1001 as the uids it names, "1000:1001", for the tree
 * (which must not look names up while it serves requests).  FALSE with
 * why for a user that does not exist.
 */
static gboolean
parse_users(char **text, GError **error)
{
	g_auto(GStrv) names = g_strsplit(*text, ":", -1);
	g_autoptr(GString) uids = g_string_new(NULL);
	char **n;

	for (n = names; *n; n++) {
		const struct passwd *pw;
		guint64 uid;
		char *end;

		if (!**n)
			continue;
		uid = g_ascii_strtoull(*n, &end, 10);
		if (*end || uid >= (uid_t)-1) {
			errno = 0;
			if (!(pw = getpwnam(*n))) {
				g_set_error(error, G_OPTION_ERROR,
					    G_OPTION_ERROR_BAD_VALUE,
					    "allow_users: no user %s%s%s", *n,
					    errno ? ": " : "",
					    errno ? g_strerror(errno) : "");
				return FALSE;
			}
			uid = pw->pw_uid;
		}
		g_string_append_printf(uids, "%s%" G_GUINT64_FORMAT,
				       uids->len ? ":" : "", uid);
	}
	g_free(*text);
	*text = g_string_free(g_steal_pointer(&uids), FALSE);
	return TRUE;
}

static GPtrArray *words;	/* NODEs and the mount point, while parsing */
static char *unknown_opt;	/* the first option no one takes */

static int
opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		g_ptr_array_add(words, g_strdup(arg));
		return 0;
	case FUSE_OPT_KEY_OPT:
		/* fstab's and mount(8)'s words go; what libfuse does not
		 * take either is named before anything happens. */
		if (mountopts_ignored(arg))
			return 0;
		if (!unknown_opt && !mountopts_fuse_takes(arg))
			unknown_opt = g_strndup(arg, strcspn(arg, "="));
		return 1;
	case KEY_HELP:
		usage(outargs->argv[0]);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		exit(0);
	case KEY_VERSION:
		printf("tricklefs %s (protocol %d)\n", TRICKLE_VERSION,
		       WIRE_PROTO_VERSION);
		printf("FUSE library version %s\n", fuse_pkgversion());
		exit(0);
	}
	return 1;
}

/* A trickle-node beside us (installed, or in the build tree) before one
 * on PATH: local VMs should run the node that matches this mount. */
static char *
default_local_node(void)
{
	g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
	g_autofree char *dir = self ? g_path_get_dirname(self) : NULL;
	const char *rel[] = { "trickle-node", "../node/trickle-node" };
	guint i;

	for (i = 0; dir && i < G_N_ELEMENTS(rel); i++) {
		g_autofree char *p = g_build_filename(dir, rel[i], NULL);
		if (g_file_test(p, G_FILE_TEST_IS_EXECUTABLE))
			return g_shell_quote(p);
	}
	return g_strdup("trickle-node");
}

static gboolean parse(struct cluster *fs, struct fuse_args *args,
		      struct fuse_cmdline_opts *co, GError **error);

gboolean
tfs_parse_args(struct cluster *fs, struct fuse_args *args,
	       struct fuse_cmdline_opts *co, GError **error)
{
	struct cluster_options *o = &fs->opt;
	gboolean ok;

	o->reply_timeout = 30;
	o->connect_timeout = 15;
	o->alive_interval = 3;
	o->alive_count = 3;
	o->reconnect = 1;
	o->lease = 60;
	o->retries = 3;
	o->keep_calls = -1;
	o->any_window = 2;
	o->discover_timeout = 2;
	o->slurm_margin = 120;
	o->min = -1;		/* 1 unless given */
	words = g_ptr_array_new_with_free_func(g_free);
	ok = parse(fs, args, co, error);
	g_clear_pointer(&words, g_ptr_array_unref);
	g_clear_pointer(&unknown_opt, g_free);
	return ok;
}

static gboolean
parse(struct cluster *fs, struct fuse_args *args, struct fuse_cmdline_opts *co,
      GError **error)
{
	g_autofree char *mountpoint = NULL;
	struct cluster_options *o = &fs->opt;
	guint i;

	if (fuse_opt_parse(args, fs, tfs_opts, opt_proc) < 0) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
			    "cannot parse the options");
		return FALSE;
	}
	if (unknown_opt) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION,
			    "unknown option `%s' (see tricklefs --help)",
			    unknown_opt);
		return FALSE;
	}
	if (words->len == 0) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
			    "no mount point given (try --help)");
		return FALSE;
	}
	mountpoint = g_ptr_array_steal_index(words, words->len - 1);
	if (!mountopts_check_mountpoint(mountpoint, error))
		return FALSE;
	/* mount(8)'s source field, when it names no node. */
	for (i = words->len; i-- > 0;)
		if (mountopts_no_node(words->pdata[i]))
			g_ptr_array_remove_index(words, i);
	fuse_opt_add_arg(args, mountpoint);
	if (fuse_parse_cmdline(args, co) != 0) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
			    "bad FUSE options");
		return FALSE;
	}
	o->foreground = co->foreground;
	o->debug = co->debug;
	if (!o->state_dir) {
		g_autofree char *mp = realpath(co->mountpoint, NULL);

		o->state_dir = journal_default_dir(o->name ? o->name
					: mp ? mp : co->mountpoint);
	}
	if (o->reply_timeout <= 0 || o->connect_timeout <= 0 ||
	    o->alive_interval <= 0 || o->alive_count <= 0 || o->local < 0 ||
	    o->timeout < 0 || o->any_window <= 0 ||
	    o->discover_timeout < 0 || o->vms_per_node < 0 || o->max < 0 ||
	    o->lease <= 0 || o->retries < 0 ||
	    o->discover_port < 0 || o->discover_port > 65535) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "timeouts, intervals and counts must be positive");
		return FALSE;
	}
	if (o->checkpoint_interval < 0 || o->checkpoint_every < 0) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "checkpoint_interval and checkpoint_every must be "
			    "0 (off) or more");
		return FALSE;
	}
	if (o->keep_calls < -1) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "keep_calls=%d: must be 0 or more", o->keep_calls);
		return FALSE;
	}
	if (o->reap_unread && o->keep_calls < 0) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "reap_unread needs keep_calls=N");
		return FALSE;
	}
	if (o->vms_per_node > NODE_MAX_VMS || o->local > NODE_MAX_VMS) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "%s=%d: a node holds at most %d VMs",
			    o->local > NODE_MAX_VMS ? "local" : "vms_per_node",
			    o->local > NODE_MAX_VMS ? o->local
			    : o->vms_per_node, NODE_MAX_VMS);
		return FALSE;
	}
	if ((gint64)o->lease <= (gint64)o->alive_interval * o->alive_count) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "lease=%d must be longer than ServerAliveInterval "
			    "x ServerAliveCountMax (%d s): a node would end the "
			    "session before the mount knew it was gone",
			    o->lease, o->alive_interval * o->alive_count);
		return FALSE;
	}
	if (o->port < 0 || o->port > 65535) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "port=%d: must be 1-65535", o->port);
		return FALSE;
	}
	/* A bad ssh configuration fails now (not a mount without SSH). */
	if (!o->ssh_command && (o->ssh_config || words->len > 0 ||
				o->hostfile || o->discover)) {
		struct ssh_host_config hc;
		gboolean ok = ssh_config_lookup(o->ssh_config, NULL, &hc,
						 error);

		ssh_host_config_clear(&hc);
		if (!ok)
			return FALSE;
	}
	if (o->hostfile &&
	    !nodespec_read_file(o->hostfile, words, error)) {
		g_prefix_error(error, "hostfile: ");
		return FALSE;
	}
	for (i = 0; i < words->len; i++)
		if (!source_static_add(fs->static_src, words->pdata[i], error))
			return FALSE;
	if (o->slurm_jobs < 0 || o->slurm_margin < 0 ||
	    (o->slurm_link && strcmp(o->slurm_link, "connect") != 0 &&
	     strcmp(o->slurm_link, "stdio") != 0)) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "slurm_jobs= and slurm_margin= take a count, "
			    "slurm_link= connect or stdio");
		return FALSE;
	}
	if (o->slurm && o->slurm_jobs) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "-o slurm (this allocation's nodes) and "
			    "slurm_jobs= (jobs of their own) exclude each "
			    "other");
		return FALSE;
	}
	if (fs->vms->len == 0 && o->local == 0 && !o->discover &&
	    !o->slurm && !o->slurm_jobs) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
			    "no VMs: give NODE arguments, -o hostfile=FILE, "
			    "-o local=N, -o discover or -o slurm");
		return FALSE;
	}
	/* Worker jobs may wait in Slurm's queue: their nodes join later. */
	if (o->min < 0)
		o->min = o->slurm_jobs ? 0 : 1;
	if (o->allow_text && *o->allow_text)
		o->allow = g_strsplit(o->allow_text, ":", -1);
	if (o->allow_users && !parse_users(&o->allow_users, error))
		return FALSE;
	if (o->local > 0) {
		g_autofree char *node = o->node_command
			? g_strdup(o->node_command) : default_local_node();

		source_static_add_local(fs->static_src, o->local, node);
	}
	cluster_setup(fs);
	return TRUE;
}
