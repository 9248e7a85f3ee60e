/*
 * source_slurm.c - Slurm as a membership source (issue 15).
 *
 * -o slurm, inside an allocation (salloc, an sbatch script): the nodes of
 * SLURM_JOB_NODELIST, each with its share of SLURM_JOB_CPUS_PER_NODE as
 * VMs (unless vms_per_node= says), each node's trickle-node started as a
 * step of the job: `srun --overlap -N1 -n1 -w NODE trickle-node --connect
 * ADDR:PORT --token T`.  The node connects back to the mount's listener
 * (fs/transport/link_listen.c), both sides proving they know a per-mount
 * secret that only srun's environment carries; -o slurm_link=stdio makes
 * srun's stdin/stdout the link instead (slower: srun forwards the bytes).
 *
 * -o slurm_jobs=N, from outside (slurm_jobs.c): N worker jobs submitted
 * with sbatch, each node joining when its job starts and connects back.
 *
 * Either way the jobs are watched with squeue (every SLURM_POLL_S, and at
 * once when a node's link is lost): a job that ended takes its nodes with
 * it (their calls lost, so .any calls run elsewhere), and a job within
 * slurm_margin= seconds of its end is drained first, so no call is cut
 * off by the walltime.
 */
#include "cluster.h"
#include "nodeset.h"
#include "nodespec.h"
#include "slurm.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gio/gio.h>

#define SLURM_POLL_S 3

static void poll_jobs(struct slurm_source *ss);

static gboolean
poll_tick(gpointer data)
{
	poll_jobs(data);
	return G_SOURCE_CONTINUE;
}

struct slurm_job *
slurm_job_new(struct slurm_source *ss, const char *id)
{
	struct slurm_job *j = g_new0(struct slurm_job, 1);

	j->ss = ss;
	j->id = g_strdup(id);
	j->state = g_strdup("PENDING");
	j->hosts = g_ptr_array_new();
	g_ptr_array_add(ss->jobs, j);
	return j;
}

static void
job_free(struct slurm_job *j)
{
	g_ptr_array_unref(j->hosts);
	g_free(j->id);
	g_free(j->state);
	g_free(j->token);
	g_free(j->node);
	g_free(j);
}

struct slurm_job *
slurm_job_of_host(struct slurm_source *ss, struct host *h)
{
	guint i;

	for (i = 0; i < ss->jobs->len; i++) {
		struct slurm_job *j = ss->jobs->pdata[i];

		if (g_ptr_array_find(j->hosts, h, NULL))
			return j;
	}
	return NULL;
}

/* "2(x3),1": the CPUs of each node in order, as SLURM_JOB_CPUS_PER_NODE
 * writes them; NULL with why. */
GArray *
slurm_parse_cpus(const char *text, GError **error)
{
	g_autoptr(GArray) a = g_array_new(FALSE, FALSE, sizeof(guint));
	g_auto(GStrv) parts = g_strsplit(text, ",", -1);
	char **p;

	for (p = parts; *p; p++) {
		guint64 n, times = 1;
		char *end;

		if (!g_ascii_isdigit(**p))
			goto bad;
		n = g_ascii_strtoull(*p, &end, 10);
		if (*end == '(') {
			if (end[1] != 'x' || !g_ascii_isdigit(end[2]))
				goto bad;
			times = g_ascii_strtoull(end + 2, &end, 10);
			if (*end++ != ')')
				goto bad;
		}
		if (*end || n == 0 || n > NODE_MAX_VMS || times == 0 ||
		    a->len + times > NODESET_MAX)
			goto bad;
		while (times--) {
			guint v = n;

			g_array_append_val(a, v);
		}
	}
	if (a->len == 0)
		goto bad;
	return g_steal_pointer(&a);
bad:
	g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
		    "cannot read SLURM_JOB_CPUS_PER_NODE=\"%s\"", text);
	return NULL;
}

/* Run a Slurm command and wait: its stdout, or NULL with why. */
char *
slurm_run(const char *const *argv, char **env, GError **error)
{
	g_autofree char *out = NULL, *err = NULL;
	int status;

	if (!g_spawn_sync(NULL, (char **)argv, env, G_SPAWN_SEARCH_PATH,
			  NULL, NULL, &out, &err, &status, error))
		return NULL;
	if (!g_spawn_check_wait_status(status, NULL)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s",
			    argv[0], g_strstrip(err));
		return NULL;
	}
	return g_steal_pointer(&out);
}

gint64
slurm_parse_time(const char *text)
{
	g_autoptr(GTimeZone) tz = g_time_zone_new_local();
	g_autoptr(GDateTime) t = NULL;

	if (!text || !g_ascii_isdigit(*text))
		return 0;	/* N/A, NONE, Unknown */
	if (!(t = g_date_time_new_from_iso8601(text, tz)))
		return 0;
	return g_date_time_to_unix(t) * G_USEC_PER_SEC;
}

/* The address this machine reaches Slurm's controller from: a UDP
 * socket's route to it (nothing is sent).  Compute nodes talk to the
 * controller too, so it is on their network; -o slurm_addr= if not. */
static char *
default_address(GError **error)
{
	const char *argv[] = { "scontrol", "show", "config", NULL };
	g_autofree char *conf = slurm_run(argv, NULL, error);
	g_autofree char *host = NULL;
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res;
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	char buf[NI_MAXHOST];
	const char *line;
	int fd, r;

	if (!conf)
		return NULL;
	if ((line = strstr(conf, "SlurmctldHost[0]"))) {
		const char *eq = strchr(line, '=');
		const char *open = eq ? strpbrk(eq, "(\n") : NULL;

		if (open && *open == '(')
			host = g_strndup(open + 1, strcspn(open + 1, ")\n"));
		else if (eq)
			host = g_strstrip(g_strndup(eq + 1,
						    strcspn(eq + 1, "\n")));
	}
	if (!host || !*host) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
			    "scontrol names no SlurmctldHost");
		return NULL;
	}
	if ((r = getaddrinfo(host, "6817", &hints, &res)) != 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
			    "Slurm's controller %s: %s", host,
			    gai_strerror(r));
		return NULL;
	}
	fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	r = fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0 ||
	    getnameinfo((struct sockaddr *)&sa, len, buf, sizeof(buf), NULL, 0,
			NI_NUMERICHOST) != 0;
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	if (r) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "no route to Slurm's controller %s", host);
		return NULL;
	}
	return g_strdup(buf);
}

/* The node command, with --connect and --token when connecting back. */
char *
slurm_node_command(struct slurm_source *ss, const char *token)
{
	struct cluster *cl = ss->src.cl;
	const char *node = cl->opt.node_command ? cl->opt.node_command
						: "trickle-node";
	g_autofree char *where = NULL;

	if (!ss->listener)
		return g_strdup(node);
	where = g_shell_quote(link_listener_where(ss->listener));
	return g_strdup_printf("%s --connect %s --token %s", node, where,
			       token);
}

/* A host for a node of job j: VMs named after node. */
struct host *
slurm_add_host(struct slurm_source *ss, struct slurm_job *j,
	       const char *node, const char *command, const char *token,
	       guint nvms)
{
	struct cluster *cl = ss->src.cl;
	struct link_spec spec = { 0 };
	g_autofree char *label = g_strdup_printf("slurm:%s/%s", j->id, node);
	struct host *h;

	spec.kind = ss->listener ? LINK_CONNECT : LINK_COMMAND;
	spec.command = command;
	spec.listener = ss->listener;
	spec.token = token;
	spec.wait_s = cl->opt.connect_timeout;
	h = cluster_add_host(cl, label, &spec, &ss->src);
	h->source_info = g_strdup_printf("slurm job: %s\nslurm node: %s\n",
					 j->id, node);
	g_ptr_array_add(j->hosts, h);
	members_add(cl, h, node, nvms, NULL, NULL);
	return h;
}

/* Inside an allocation: a step on each of its nodes. */
static gboolean
start_allocation(struct slurm_source *ss, GError **error)
{
	struct cluster *cl = ss->src.cl;
	const char *id = g_getenv("SLURM_JOB_ID");
	const char *list = g_getenv("SLURM_JOB_NODELIST");
	const char *cpus = g_getenv("SLURM_JOB_CPUS_PER_NODE");
	g_auto(GStrv) nodes = NULL;
	g_autoptr(GArray) per = NULL;
	struct slurm_job *j;
	guint i;

	if (!id || !list) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
			    "-o slurm: not inside a Slurm allocation "
			    "(SLURM_JOB_ID and SLURM_JOB_NODELIST unset); from "
			    "outside, -o slurm_jobs=N submits worker jobs");
		return FALSE;
	}
	if (!(nodes = nodeset_expand(list, 0, error))) {
		g_prefix_error(error, "SLURM_JOB_NODELIST: ");
		return FALSE;
	}
	if (!cl->opt.vms_per_node && cpus &&
	    !(per = slurm_parse_cpus(cpus, error)))
		return FALSE;
	j = slurm_job_new(ss, id);
	g_free(j->state);
	j->state = g_strdup("RUNNING");
	for (i = 0; nodes[i]; i++) {
		g_autofree char *token = g_strdup_printf("s%u", i);
		g_autofree char *node_cmd = slurm_node_command(ss, token);
		g_autofree char *qnode = g_shell_quote(nodes[i]);
		g_autofree char *cmd = NULL;
		guint n = cl->opt.vms_per_node ? (guint)cl->opt.vms_per_node
			: per && i < per->len ? g_array_index(per, guint, i)
			: per && per->len ? g_array_index(per, guint,
							  per->len - 1) : 1;

		if (!nodespec_valid_name(nodes[i])) {
			g_set_error(error, G_OPTION_ERROR,
				    G_OPTION_ERROR_BAD_VALUE, "SLURM_JOB_NODELIST:"
				    " \"%s\" cannot name a directory", nodes[i]);
			return FALSE;
		}
		/* -u: unbuffered, for srun's stdio as the link. */
		cmd = g_strdup_printf("srun%s --overlap -N1 -n1 --jobid=%s "
				      "-w %s %s", ss->listener ? "" : " -u",
				      id, qnode, node_cmd);
		slurm_add_host(ss, j, nodes[i], cmd, token, n);
	}
	return TRUE;
}

static gboolean
slurm_start(struct member_source *src, GError **error)
{
	struct slurm_source *ss = (struct slurm_source *)src;
	struct cluster *cl = src->cl;
	g_autofree char *addr = NULL;

	ss->jobs = g_ptr_array_new_with_free_func((GDestroyNotify)job_free);
	if (g_strcmp0(cl->opt.slurm_link, "stdio") != 0) {
		addr = cl->opt.slurm_addr ? g_strdup(cl->opt.slurm_addr)
					  : default_address(error);
		if (!addr) {
			g_prefix_error(error, "-o slurm: which address do "
				       "Slurm's nodes reach this machine at? "
				       "(-o slurm_addr=ADDR): ");
			return FALSE;
		}
		if (!(ss->listener = link_listener_new(addr,
						       slurm_jobs_arrival, ss,
						       error)))
			return FALSE;
	}
	if (cl->opt.slurm && !start_allocation(ss, error))
		return FALSE;
	if (cl->opt.slurm_jobs && !slurm_jobs_start(ss, error))
		return FALSE;
	ss->timer = g_timeout_add_seconds(SLURM_POLL_S, poll_tick, ss);
	return TRUE;
}

/* A node of job j is gone for good: its calls are lost (.any's run
 * elsewhere) and its VMs leave once they have nothing left. */
static void
job_ended(struct slurm_job *j, const char *why)
{
	guint i;

	j->ended = TRUE;
	for (i = 0; i < j->hosts->len; i++) {
		struct host *h = j->hosts->pdata[i];

		if (h->state != HOST_DOWN)
			host_fail(h, why);
	}
}

/* Drain j's nodes ahead of its end: no new calls. */
static void
job_drain(struct slurm_job *j, const char *why)
{
	guint i;

	if (j->draining)
		return;
	j->draining = TRUE;
	for (i = 0; i < j->hosts->len; i++)
		members_host_leaves(j->hosts->pdata[i], why);
}

/* What squeue says of our jobs: "ID|STATE|END|NODES|CPUS" lines. */
static void
apply_poll(struct slurm_source *ss, const char *out)
{
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash,
						      g_str_equal);
	g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
	gint64 now = g_get_real_time();
	char **l;
	guint i;

	ss->joins_waiting = FALSE;
	for (l = lines; *l; l++) {
		g_auto(GStrv) f = g_strsplit(g_strstrip(*l), "|", 5);
		struct slurm_job *j = NULL;

		if (g_strv_length(f) != 5)
			continue;
		for (i = 0; i < ss->jobs->len && !j; i++)
			if (g_strcmp0(((struct slurm_job *)
					ss->jobs->pdata[i])->id, f[0]) == 0)
				j = ss->jobs->pdata[i];
		if (!j || !j->asked)
			continue;
		g_hash_table_add(seen, j->id);
		if (strcmp(j->state, f[1]) != 0) {
			g_message("slurm: job %s %s", j->id, f[1]);
			g_free(j->state);
			j->state = g_strdup(f[1]);
		}
		j->end = slurm_parse_time(f[2]);
		if (*f[3] && !j->node)
			j->node = g_strdup(f[3]);
		if (j->arrived && !j->hosts->len && !j->draining &&
		    strcmp(j->state, "RUNNING") == 0 && j->node)
			slurm_jobs_join(ss, j, j->node, f[4]);
	}
	for (i = ss->jobs->len; i-- > 0;) {
		struct slurm_job *j = ss->jobs->pdata[i];
		gboolean live;

		if (!j->asked)
			continue;	/* not in this poll (sbatch had not
					   answered when it began) */
		live = g_hash_table_contains(seen, j->id) &&
			(strcmp(j->state, "PENDING") == 0 ||
			 strcmp(j->state, "RUNNING") == 0 ||
			 strcmp(j->state, "CONFIGURING") == 0);
		if (j->arrived && !j->hosts->len)
			ss->joins_waiting = TRUE;
		if (!live) {
			g_autofree char *why = g_strdup_printf(
				"slurm job %s ended (%s)", j->id,
				g_hash_table_contains(seen, j->id)
				? j->state : "gone from squeue");

			if (!j->ended)
				g_message("%s", why);
			job_ended(j, why);
			slurm_jobs_forget(ss, j);
			continue;
		}
		if (j->end && strcmp(j->state, "RUNNING") == 0 &&
		    now >= j->end - (gint64)ss->src.cl->opt.slurm_margin *
				    G_USEC_PER_SEC) {
			g_autofree char *why = g_strdup_printf(
				"slurm job %s ends in %d s", j->id,
				(int)MAX((j->end - now) / G_USEC_PER_SEC, 0));

			if (!j->draining)
				g_message("%s: draining its nodes", why);
			job_drain(j, why);
		}
	}
}

static gboolean
poll_soon(gpointer data)
{
	struct slurm_source *ss = data;

	ss->soon = 0;
	poll_jobs(ss);
	return G_SOURCE_REMOVE;
}

static void
on_polled(GObject *obj, GAsyncResult *res, gpointer data)
{
	struct slurm_source *ss = data;
	g_autoptr(GError) error = NULL;
	g_autofree char *out = NULL, *err = NULL;
	GSubprocess *p = G_SUBPROCESS(obj);

	if (!g_subprocess_communicate_utf8_finish(p, res, &out, &err,
						  &error)) {
		g_object_unref(p);
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			return;		/* the source is gone */
		g_warning("slurm: squeue: %s", error->message);
		ss->polling = FALSE;
		return;
	}
	if (ss->src.started) {
		/* Jobs squeue no longer knows make it fail; a controller it
		 * cannot reach says nothing of them. */
		if (g_subprocess_get_successful(p) ||
		    (err && strstr(err, "Invalid job id")))
			apply_poll(ss, out ? out : "");
		else
			g_warning("slurm: squeue: %s", err ? g_strstrip(err)
							    : "failed");
	}
	g_object_unref(p);
	ss->polling = FALSE;
	if (ss->poll_again && ss->src.started) {
		ss->poll_again = FALSE;
		poll_jobs(ss);
	} else if (ss->joins_waiting && ss->src.started && !ss->soon) {
		/* A node connected back before squeue saw its job run. */
		ss->soon = g_timeout_add(250, poll_soon, ss);
	}
}

static void
poll_jobs(struct slurm_source *ss)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) ids = g_string_new(NULL);
	GSubprocess *p;
	guint i;

	if (ss->polling) {
		ss->poll_again = TRUE;
		return;
	}
	for (i = 0; i < ss->jobs->len; i++) {
		struct slurm_job *j = ss->jobs->pdata[i];

		j->asked = j->id != NULL;
		if (j->id)
			g_string_append_printf(ids, "%s%s", ids->len ? "," : "",
					       j->id);
	}
	if (!ids->len)
		return;
	p = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE |
			     G_SUBPROCESS_FLAGS_STDERR_PIPE, &error, "squeue",
			     "-h", "-o", "%i|%T|%e|%N|%C", "-j", ids->str,
			     NULL);
	if (!p) {
		g_warning("slurm: squeue: %s", error->message);
		return;
	}
	ss->polling = TRUE;
	g_subprocess_communicate_utf8_async(p, NULL, ss->cancel, on_polled,
					    ss);
}

void
slurm_poll_now(struct slurm_source *ss)
{
	poll_jobs(ss);
}

/* A node of ours lost its link: ask Slurm now whether its job ended. */
static void
on_event(void *data, const struct cluster_event *ev)
{
	struct slurm_source *ss = data;

	if (ev->type == CL_HOST_UNREACHABLE && ev->host->source == &ss->src &&
	    ss->src.started)
		poll_jobs(ss);
}

static void
slurm_stop(struct member_source *src)
{
	struct slurm_source *ss = (struct slurm_source *)src;

	g_clear_handle_id(&ss->timer, g_source_remove);
	g_clear_handle_id(&ss->soon, g_source_remove);
	if (ss->jobs)
		slurm_jobs_stop(ss);
}

static void
slurm_destroy(struct member_source *src)
{
	struct slurm_source *ss = (struct slurm_source *)src;

	g_cancellable_cancel(ss->cancel);
	g_clear_object(&ss->cancel);
	/* The hosts, and so their links, are freed already. */
	g_clear_pointer(&ss->listener, link_listener_free);
	g_clear_pointer(&ss->jobs, g_ptr_array_unref);
	g_free(ss);
}

static const struct member_source_ops slurm_ops = {
	.name = "slurm",
	.start = slurm_start,
	.stop = slurm_stop,
	.describe = slurm_jobs_describe,
	.scale = slurm_jobs_scale,
	.destroy = slurm_destroy,
};

struct member_source *
source_slurm_new(struct cluster *cl)
{
	struct slurm_source *ss = g_new0(struct slurm_source, 1);

	ss->src.ops = &slurm_ops;
	ss->src.cl = cl;
	ss->cancel = g_cancellable_new();
	cluster_listen(cl, on_event, ss);
	return &ss->src;
}

gboolean
cluster_scale(struct cluster *cl, guint n, GError **error)
{
	struct member_source *src = cl->slurm_src;

	if (!src || !src->ops->scale || !src->started) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
			    "scale: this mount submits no jobs (-o "
			    "slurm_jobs=N)");
		return FALSE;
	}
	return src->ops->scale(src, n, error);
}
