/*
 * slurm_jobs.c - -o slurm_jobs=N: the factory.  From a login node, the
 * mount submits N worker jobs (sbatch, with slurm_args= before its own
 * words), each running `trickle-node --connect ADDR:PORT --token wN`
 * with the mount's secret in the job's environment only; a node joins the
 * mount when its job starts and connects back, and .ctl lists the jobs
 * not yet running.  `scale N` submits more, or cancels pending jobs and
 * drains running ones (a drained node ends, and its job with it).  A
 * cancelled job's node is lost with its calls (source_slurm.c's watch:
 * .any's run elsewhere); unmounting cancels every job submitted here.
 *
 * The mount's first jobs are submitted before it serves, so a wrong
 * slurm_args= fails the mount with sbatch's words.  After that no Slurm
 * command is waited for: sbatch and scancel run beside the main loop,
 * and a node that connects back joins once squeue (the watch's poll) has
 * said where its job runs and with how many CPUs.
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

/* sbatch's words for a worker job of node token (NULL-ended), or NULL
 * with why. */
static GPtrArray *
sbatch_argv(struct slurm_source *ss, const char *token, GError **error)
{
	struct cluster *cl = ss->src.cl;
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) extra = NULL;
	g_autofree char *cmd = slurm_node_command(ss, token);
	char **e;

	if (cl->opt.slurm_args && *cl->opt.slurm_args &&
	    !g_shell_parse_argv(cl->opt.slurm_args, NULL, &extra, error)) {
		g_prefix_error(error, "slurm_args: ");
		return NULL;
	}
	g_ptr_array_add(argv, g_strdup("sbatch"));
	g_ptr_array_add(argv, g_strdup("--parsable"));
	g_ptr_array_add(argv, g_strdup("--job-name=trickle-node"));
	g_ptr_array_add(argv, g_strdup("--output=/dev/null"));
	for (e = extra; e && *e; e++)
		g_ptr_array_add(argv, g_strdup(*e));
	g_ptr_array_add(argv, g_strdup("--wrap"));
	g_ptr_array_add(argv, g_strconcat("exec ", cmd, NULL));
	g_ptr_array_add(argv, NULL);
	return g_steal_pointer(&argv);
}

/* The secret goes in sbatch's environment, which the job gets
 * (--export=ALL, Slurm's default): never on a command line. */
static char **
sbatch_env(struct slurm_source *ss)
{
	return g_environ_setenv(g_get_environ(), CALLBACK_SECRET_ENV,
				link_listener_secret(ss->listener), TRUE);
}

/* A new worker job, its sbatch not answered yet. */
static struct slurm_job *
job_submitting(struct slurm_source *ss)
{
	struct slurm_job *j = slurm_job_new(ss, NULL);

	g_free(j->state);
	j->state = g_strdup("SUBMITTING");
	j->token = g_strdup_printf("w%u", ++ss->next_token);
	j->ours = TRUE;
	return j;
}

/* sbatch answered "ID" or "ID;CLUSTER": j has its id. */
static gboolean
job_submitted(struct slurm_source *ss, struct slurm_job *j, const char *out,
	      GError **error)
{
	g_autofree char *id = g_strndup(out, strcspn(out, ";\n"));

	if (!*id || strspn(id, "0123456789") != strlen(id)) {
		g_autofree char *said = g_strstrip(g_strdup(out));

		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "sbatch said \"%s\", not a job id", said);
		return FALSE;
	}
	j->id = g_steal_pointer(&id);
	g_free(j->state);
	j->state = g_strdup("PENDING");
	link_listener_expect(ss->listener, j->token);
	g_message("slurm: submitted job %s (node %s)", j->id, j->token);
	return TRUE;
}

/* At mount: one worker job, waited for; FALSE with why. */
static gboolean
submit_now(struct slurm_source *ss, GError **error)
{
	struct slurm_job *j = job_submitting(ss);
	g_autoptr(GPtrArray) argv = sbatch_argv(ss, j->token, error);
	g_auto(GStrv) env = sbatch_env(ss);
	g_autofree char *out = NULL;

	if (!argv ||
	    !(out = slurm_run((const char *const *)argv->pdata, env, error)) ||
	    !job_submitted(ss, j, out, error)) {
		slurm_jobs_forget(ss, j);
		return FALSE;
	}
	return TRUE;
}

static void cancel_jobs(struct slurm_source *ss, GPtrArray *ids);

static void
on_submitted(GObject *obj, GAsyncResult *res, gpointer data)
{
	GSubprocess *p = G_SUBPROCESS(obj);
	struct slurm_job *j = data;
	g_autoptr(GError) error = NULL;
	g_autofree char *out = NULL, *err = NULL;
	struct slurm_source *ss;

	if (!g_subprocess_communicate_utf8_finish(p, res, &out, &err,
						  &error) &&
	    g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		g_object_unref(p);
		return;		/* the source is gone, and j with it */
	}
	ss = j->ss;
	if (!error && !g_subprocess_get_successful(p))
		g_set_error(&error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s",
			    err && *g_strstrip(err) ? err : "failed");
	g_object_unref(p);
	if (error || !job_submitted(ss, j, out ? out : "", &error)) {
		g_warning("slurm: sbatch: %s", error->message);
		slurm_jobs_forget(ss, j);
		return;
	}
	if (j->draining) {
		/* Scaled down while sbatch ran. */
		g_autoptr(GPtrArray) ids = g_ptr_array_new();

		g_ptr_array_add(ids, j->id);
		cancel_jobs(ss, ids);
	}
	slurm_poll_now(ss);
}

/* After mount: sbatch runs beside the main loop; the job counts (as
 * SUBMITTING) at once.  FALSE with why if it cannot start. */
static gboolean
submit(struct slurm_source *ss, GError **error)
{
	struct slurm_job *j;
	g_autoptr(GPtrArray) argv = NULL;
	g_autoptr(GSubprocessLauncher) sl = NULL;
	g_auto(GStrv) env = NULL;
	GSubprocess *p;

	j = job_submitting(ss);
	if (!(argv = sbatch_argv(ss, j->token, error))) {
		slurm_jobs_forget(ss, j);
		return FALSE;
	}
	sl = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE |
				       G_SUBPROCESS_FLAGS_STDERR_PIPE);
	env = sbatch_env(ss);
	g_subprocess_launcher_set_environ(sl, env);
	if (!(p = g_subprocess_launcher_spawnv(sl,
			(const char *const *)argv->pdata, error))) {
		g_prefix_error(error, "sbatch: ");
		slurm_jobs_forget(ss, j);
		return FALSE;
	}
	g_subprocess_communicate_utf8_async(p, NULL, ss->cancel, on_submitted,
					    j);
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
		if (!submit_now(ss, error))
			return FALSE;
	return TRUE;
}

/* A worker job's node connected back (its connection is parked in the
 * listener): it joins once the poll says where its job runs. */
void
slurm_jobs_arrival(void *user, const char *token)
{
	struct slurm_source *ss = user;
	struct slurm_job *j = job_with_token(ss, token);

	if (!j || j->arrived || j->draining || j->ended || !ss->src.started) {
		link_listener_forget(ss->listener, token);
		return;
	}
	j->arrived = TRUE;
	slurm_poll_now(ss);
}

/* squeue says job j (arrived) runs on nodes, with cpus per node ("%C":
 * the job's total): it joins, named after its first node, with that
 * many VMs (vms_per_node= beats them). */
void
slurm_jobs_join(struct slurm_source *ss, struct slurm_job *j,
		const char *nodes, const char *cpus)
{
	struct cluster *cl = ss->src.cl;
	g_auto(GStrv) names = nodes && *nodes ? nodeset_expand(nodes, 1, NULL)
					       : NULL;
	g_autofree char *node = g_strdup(names && names[0] ? names[0] : nodes);
	guint n = cl->opt.vms_per_node;
	guint nn = names ? g_strv_length(names) : 1;

	if (!n && cpus)
		n = CLAMP(g_ascii_strtoull(cpus, NULL, 10) / MAX(nn, 1), 1,
			  NODE_MAX_VMS);
	if (!node || !nodespec_valid_name(node)) {
		g_free(node);
		node = g_strdup_printf("job%s", j->id);
	}
	g_message("slurm: job %s started on %s", j->id, node);
	slurm_add_host(ss, j, node, NULL, j->token, n ? n : 1);
}

void
slurm_jobs_forget(struct slurm_source *ss, struct slurm_job *j)
{
	if (j->token && ss->listener)
		link_listener_forget(ss->listener, j->token);
	g_ptr_array_remove(ss->jobs, j);
}

static void
on_cancelled(GObject *obj, GAsyncResult *res, gpointer data)
{
	GSubprocess *p = G_SUBPROCESS(obj);
	g_autoptr(GError) error = NULL;
	g_autofree char *err = NULL;

	if (!g_subprocess_communicate_utf8_finish(p, res, NULL, &err,
						  &error)) {
		if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			g_warning("slurm: scancel: %s", error->message);
	} else if (!g_subprocess_get_successful(p)) {
		g_warning("slurm: scancel: %s",
			  err && *g_strstrip(err) ? err : "failed");
	}
	g_object_unref(p);
}

/* scancel ids (job ids), beside the main loop. */
static void
cancel_jobs(struct slurm_source *ss, GPtrArray *ids)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	GSubprocess *p;

	if (!ids->len)
		return;
	g_ptr_array_add(argv, "scancel");
	g_ptr_array_extend(argv, ids, NULL, NULL);
	g_ptr_array_add(argv, NULL);
	p = g_subprocess_newv((const char *const *)argv->pdata,
			      G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
			      G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
	if (!p) {
		g_warning("slurm: scancel: %s", error->message);
		return;
	}
	g_subprocess_communicate_utf8_async(p, NULL, ss->cancel, on_cancelled,
					    NULL);
}

/* Unmounting: cancel what was submitted, waiting for scancel (the main
 * loop is ending). */
void
slurm_jobs_stop(struct slurm_source *ss)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	g_autofree char *out = NULL;
	guint i;

	g_ptr_array_add(argv, "scancel");
	for (i = 0; i < ss->jobs->len; i++) {
		struct slurm_job *j = ss->jobs->pdata[i];

		if (j->ours && j->id && !j->ended)
			g_ptr_array_add(argv, j->id);
	}
	if (argv->len == 1)
		return;
	g_message("slurm: cancelling %u job%s", argv->len - 1,
		  argv->len == 2 ? "" : "s");
	g_ptr_array_add(argv, NULL);
	if (!(out = slurm_run((const char *const *)argv->pdata, NULL,
			      &error)))
		g_warning("slurm: %s", error->message);
}

void
slurm_jobs_describe(struct member_source *src, GString *out)
{
	struct slurm_source *ss = (struct slurm_source *)src;
	guint i;

	if (!ss->jobs)
		return;
	/* As a VM's line: NAME WHERE STATE, four counts, and the share's
	 * two columns. */
	for (i = 0; i < ss->jobs->len; i++) {
		struct slurm_job *j = ss->jobs->pdata[i];

		if (!j->ours || j->hosts->len || j->ended)
			continue;
		if (!j->id)
			g_string_append_printf(out, "(%s) slurm:- submitting",
					       j->token);
		else
			g_string_append_printf(out, "job%s slurm:%s %s", j->id,
					       j->id, j->draining ? "cancelled"
					       : j->arrived ? "starting"
					       : "pending");
		g_string_append(out, " 0 0 0 0 0 -\n");
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
	/* Fewer: jobs not running go first, newest first; then the newest
	 * running ones are drained. */
	for (i = ss->jobs->len; live > n && i-- > 0;) {
		struct slurm_job *j = ss->jobs->pdata[i];

		if (j->ours && !j->draining && !j->ended && !j->hosts->len) {
			j->draining = TRUE;
			if (j->id)
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
	cancel_jobs(ss, ids);
	slurm_poll_now(ss);
	return TRUE;
}
