/*
 * cluster_opts.h - the mount's options as the model takes them (filled by
 * fs/options.c; cluster.h includes this).
 */
#pragma once

#include <glib.h>

struct cluster_options {
	char *identity;
	char *known_hosts;
	char *node_command;
	/* SSH as ssh reads it (issue 14; sshhost.c) */
	char *ssh_config;		/* -F, ssh_config=: NULL ~/.ssh/config
					   and /etc/ssh/ssh_config; "none" */
	char *ssh_command;		/* sshfs's: this ssh, not libssh2 */
	char *proxy_jump;		/* ProxyJump= ("none": no proxy) */
	int port;			/* port=: NODEs without :PORT */
	int connect_timeout_given;	/* beats the config's ConnectTimeout */
	int alive_interval_given;	/* ... ServerAliveInterval */
	char *hostfile;
	int local;			/* VMs on this machine, no SSH */
	int reply_timeout;		/* seconds for any node request */
	int connect_timeout;
	int alive_interval;		/* ServerAliveInterval */
	int alive_count;		/* ServerAliveCountMax */
	int timeout;			/* default TRICKLE_TIMEOUT of calls */
	int any_window;			/* .any calls at a VM at once */
	/* Slurm (issue 15; source_slurm.c) */
	int slurm;			/* the nodes of this allocation */
	int slurm_jobs;			/* worker jobs to submit */
	char *slurm_args;		/* sbatch's words for them */
	char *slurm_addr;		/* where nodes connect back to */
	char *slurm_link;		/* "connect" (default) or "stdio" */
	int slurm_margin;		/* s before a job's end: drained */
	int discover;			/* find nodes by their beacons */
	int discover_timeout;		/* s to wait for them at mount */
	char *discover_group;
	int discover_port;
	char *discover_user;
	int vms_per_node;		/* 0: the node's cores */
	int max;			/* discovered VMs at most; 0: any */
	int min;			/* VMs up, or the mount fails */
	char *allow_text;		/* allow=PAT:PAT */
	char **allow;
	char *allow_users;		/* allow_users=: who else may act, as
					   uids "1001:1002" once parsed */
	int reconnect;			/* reconnect dropped nodes */
	int lease;			/* s a node keeps a lost session */
	int retries;			/* runs again of a lost .any call */
	char *state_dir;		/* the journal's directory */
	char *name;			/* names the default state_dir */
	int keep;			/* a clean unmount keeps the state and
					   the node sessions, to remount */
	int keep_calls;			/* ended calls kept per VM (reap.c);
					   -1: all */
	int reap_unread;		/* reap calls nobody read too */
	int restore_on_crash, checkpoint_interval, checkpoint_every; /* ckpt.c */
	char *logfile;
	int foreground;
	int debug;
};
