/*
 * slurm_jobs.c - -o slurm_jobs=N: the factory.  From a login node, the
 * mount submits N worker jobs (sbatch, with slurm_args= before its own
 * words), each running `trickle-node --connect ADDR:PORT --token wN`
 * with the mount's secret in the job's environment only; a node joins the
 * mount when its job starts and connects back, and .ctl lists the jobs
 * still pending.  `scale N` submits more, or cancels pending jobs and
 * drains running ones (a drained node ends, and its job with it).  A
 * cancelled job's node is lost with its calls (source_slurm.c's watch);
 * unmounting cancels every job submitted here.
 */
#include "slurm.h"
#include "callback.h"
#include "nodeset.h"
#include "nodespec.h"

#include <string.h>

static struct slurm_job *
job_with_token(struct slurm_source *ss, const char *token)
{
	guint i;

	for (i = 0; i < ss->jobs->len; i++) {
		struct slurm_job *j = ss->jobs->pdata[i];

		if (g_strcmp0(j->token, token) == 0)
			return j;
	}
	return NULL;
}

/* One worker job; FALSE with why. */
static gboolean
submit(struct slurm_source *ss, GError **error)
{
	struct cluster *cl = ss->src.cl;
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_auto(GStrv) extra = NULL;
	g_autofree char *token = g_strdup_printf("w%u", ++ss->next_token);
	g_autofree char *cmd = slurm_node_command(ss, token);
	g_autofree char *wrap = g_strconcat("exec ", cmd, NULL);
	g_autofree char *out = NULL;
	g_autofree char *id = NULL;
	g_auto(GStrv) env = NULL;
	struct slurm_job *j;
	char **e;

	if (cl->opt.slurm_args && *cl->opt.slurm_args &&
	    !g_shell_parse_argv(cl->opt.slurm_args, NULL, &extra, error)) {
		g_prefix_error(error, "slurm_args: ");
		return FALSE;
	}
	g_ptr_array_add(argv, "sbatch");
	g_ptr_array_add(argv, "--parsable");
	g_ptr_array_add(argv, "--job-name=trickle-node");
	g_ptr_array_add(argv, "--output=/dev/null");
	for (e = extra; e && *e; e++)
		g_ptr_array_add(argv, *e);
	g_ptr_array_add(argv, "--wrap");
	g_ptr_array_add(argv, wrap);
	g_ptr_array_add(argv, NULL);
	/* The secret goes in sbatch's environment, which the job gets
	 * (--export=ALL, Slurm's default): never on a command line. */
	env = g_environ_setenv(g_get_environ(), CALLBACK_SECRET_ENV,
			       link_listener_secret(ss->listener), TRUE);
	if (!(out = slurm_run((const char *const *)argv->pdata, env, error)))
		return FALSE;
	/* "ID" or "ID;CLUSTER" */
	id = g_strndup(out, strcspn(out, ";\n"));
	if (!*id || strspn(id, "0123456789") != strlen(id)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "sbatch said \"%s\", not a job id", g_strstrip(out));
		return FALSE;
	}
	j = slurm_job_new(ss, id);
	j->token = g_steal_pointer(&token);
	j->ours = TRUE;
	link_listener_expect(ss->listener, j->token);
	g_message("slurm: submitted job %s (node %s)", j->id, j->token);
	return TRUE;
}

gboolean
slurm_jobs_start(struct slurm_source *ss, GError **error)
{
	int i;

	if (!ss->listener) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "slurm_jobs= needs the nodes to connect back "
			    "(not slurm_link=stdio)");
		return FALSE;
	}
	for (i = 0; i < ss->src.cl->opt.slurm_jobs; i++)
		if (!submit(ss, error))
			return FALSE;
	return TRUE;
}

/* A worker job's node connected back: it joins, named after its node,
 * with the job's CPUs as VMs (vms_per_node= beats them). */
void
slurm_jobs_arrival(void *user, const char *token)
{
	struct slurm_source *ss = user;
	struct cluster *cl = ss->src.cl;
	struct slurm_job *j = job_with_token(ss, token);
	g_autoptr(GError) error = NULL;
	g_autofree char *out = NULL, *node = NULL;
	g_auto(GStrv) f = NULL;
	guint n = cl->opt.vms_per_node;

	if (!j || j->hosts->len || j->draining || j->ended ||
	    !ss->src.started) {
		link_listener_forget(ss->listener, token);
		return;
	}
	{
		const char *argv[] = { "squeue", "-h", "-o", "%N|%C", "-j",
				       j->id, NULL };

		out = slurm_run(argv, NULL, &error);
	}
	if (out && (f = g_strsplit(g_strstrip(out), "|", 2)) && f[0] &&
	    f[1] && *f[0]) {
		g_auto(GStrv) names = nodeset_expand(f[0], 1, NULL);

		node = g_strdup(names && names[0] ? names[0] : f[0]);
		if (!n)
			n = CLAMP(g_ascii_strtoull(f[1], NULL, 10), 1,
				  NODE_MAX_VMS);
	}
	if (!node || !nodespec_valid_name(node)) {
		g_free(node);
		node = g_strdup_printf("job%s", j->id);
	}
	g_free(j->state);
	j->state = g_strdup("RUNNING");
	g_message("slurm: job %s started on %s", j->id, node);
	slurm_add_host(ss, j, node, NULL, token, n ? n : 1);
}

void
slurm_jobs_forget(struct slurm_source *ss, struct slurm_job *j)
{
	if (j->token && ss->listener)
		link_listener_forget(ss->listener, j->token);
	g_ptr_array_remove(ss->jobs, j);
}

static void
cancel(GPtrArray *ids)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *out = NULL;

	if (ids->len <= 1)
		return;
	g_ptr_array_add(ids, NULL);
	if (!(out = slurm_run((const char *const *)ids->pdata, NULL, &error)))
		g_warning("slurm: %s", error->message);
}

void
slurm_jobs_stop(struct slurm_source *ss)
{
	g_autoptr(GPtrArray) ids = g_ptr_array_new();
	guint i;

	g_ptr_array_add(ids, "scancel");
	for (i = 0; i < ss->jobs->len; i++) {
		struct slurm_job *j = ss->jobs->pdata[i];

		if (j->ours && !j->ended)
			g_ptr_array_add(ids, j->id);
	}
	if (ids->len > 1)
		g_message("slurm: cancelling %u job%s", ids->len - 1,
			  ids->len == 2 ? "" : "s");
	cancel(ids);
}

void
slurm_jobs_describe(struct member_source *src, GString *out)
{
	struct slurm_source *ss = (struct slurm_source *)src;
	guint i;

	if (!ss->jobs)
		return;
	/* As a VM's line: NAME WHERE STATE and four counts. */
	for (i = 0; i < ss->jobs->len; i++) {
		struct slurm_job *j = ss->jobs->pdata[i];

		if (j->ours && !j->hosts->len && !j->ended)
			g_string_append_printf(out, "job%s slurm:%s %s 0 0 0 0\n",
					       j->id, j->id,
					       j->draining ? "cancelled"
					       : "pending");
	}
}

gboolean
slurm_jobs_scale(struct member_source *src, guint n, GError **error)
{
	struct slurm_source *ss = (struct slurm_source *)src;
	g_autoptr(GPtrArray) ids = g_ptr_array_new();
	guint i, live = 0;

	if (!ss->listener || !ss->src.cl->opt.slurm_jobs) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
			    "scale: this mount submits no jobs (-o "
			    "slurm_jobs=N)");
		return FALSE;
	}
	for (i = 0; i < ss->jobs->len; i++) {
		struct slurm_job *j = ss->jobs->pdata[i];

		live += j->ours && !j->draining && !j->ended;
	}
	g_message("slurm: scale %u (%u jobs now)", n, live);
	while (live < n) {
		if (!submit(ss, error))
			return FALSE;
		live++;
	}
	/* Fewer: pending jobs go first, then the newest running ones. */
	g_ptr_array_add(ids, "scancel");
	for (i = ss->jobs->len; live > n && i-- > 0;) {
		struct slurm_job *j = ss->jobs->pdata[i];

		if (j->ours && !j->draining && !j->ended && !j->hosts->len) {
			j->draining = TRUE;
			g_ptr_array_add(ids, j->id);
			live--;
		}
	}
	for (i = ss->jobs->len; live > n && i-- > 0;) {
		struct slurm_job *j = ss->jobs->pdata[i];
		guint k;

		if (!j->ours || j->draining || j->ended)
			continue;
		j->draining = TRUE;
		/* Its node ends once its VMs have drained, and the job
		 * with it. */
		for (k = 0; k < j->hosts->len; k++)
			members_host_leaves(j->hosts->pdata[k], "scale down");
		live--;
	}
	cancel(ids);
	slurm_poll_now(ss);
	return TRUE;
}
