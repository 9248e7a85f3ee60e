/*
 * slurm.h - inside cluster/: what source_slurm.c (the source, the
 * allocation's nodes, watching jobs) and slurm_jobs.c (worker jobs it
 * submits, -o slurm_jobs=N) share.
 */
#pragma once

#include "cluster.h"

#include <gio/gio.h>

struct slurm_job {
	struct slurm_source *ss;
	char *id;			/* Slurm's job id; NULL while
					   sbatch runs */
	char *state;			/* squeue's %T: PENDING, RUNNING ... */
	gint64 end;			/* g_get_real_time() of its end; 0 */
	char *node;			/* squeue's %N, once running */
	char *token;			/* a worker job's node's token */
	GPtrArray *hosts;		/* struct host *, on it */
	gboolean ours;			/* submitted here: cancelled at end */
	gboolean arrived;		/* its node connected back */
	gboolean asked;			/* in the squeue poll under way */
	gboolean draining;		/* its nodes take no new calls */
	gboolean ended;
};

struct slurm_source {
	struct member_source src;
	struct link_listener *listener;	/* NULL: srun's stdio links */
	GPtrArray *jobs;		/* struct slurm_job * */
	guint timer, soon;		/* the poll's; soon: for a join */
	gboolean polling, poll_again;
	gboolean joins_waiting;		/* arrived jobs squeue has not
					   seen run yet */
	GCancellable *cancel;
	guint next_token;		/* worker jobs' tokens: w1, w2 ... */
};

/* source_slurm.c */
struct slurm_job *slurm_job_new(struct slurm_source *ss, const char *id);
struct slurm_job *slurm_job_of_host(struct slurm_source *ss, struct host *h);
GArray *slurm_parse_cpus(const char *text, GError **error);
/* Run a Slurm command (env: NULL for ours) and wait: its stdout. */
char *slurm_run(const char *const *argv, char **env, GError **error);
char *slurm_node_command(struct slurm_source *ss, const char *token);
struct host *slurm_add_host(struct slurm_source *ss, struct slurm_job *j,
			    const char *node, const char *command,
			    const char *token, guint nvms);
void slurm_poll_now(struct slurm_source *ss);
/* squeue's time (local, "2026-12-05T10:15:00"); 0 for none. */
gint64 slurm_parse_time(const char *text);

/* slurm_jobs.c: the factory */
gboolean slurm_jobs_start(struct slurm_source *ss, GError **error);
void slurm_jobs_arrival(void *user, const char *token);
/* The poll says where arrived job j runs (squeue's %N and %C). */
void slurm_jobs_join(struct slurm_source *ss, struct slurm_job *j,
		     const char *nodes, const char *cpus);
/* j ended: out of the list (and its token out of the listener). */
void slurm_jobs_forget(struct slurm_source *ss, struct slurm_job *j);
/* Unmounting: cancel what was submitted. */
void slurm_jobs_stop(struct slurm_source *ss);
void slurm_jobs_describe(struct member_source *src, GString *out);
gboolean slurm_jobs_scale(struct member_source *src, guint n,
			  GError **error);
