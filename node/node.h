/*
 * node.h - node/ itself, the top of trickle-node: the process.  main.c
 * picks the mode (the supervisor, a VM's worker, the load check, the
 * announcer) and supervisor.c speaks the protocol with tricklefs on
 * stdin/stdout, keeping the VMs of node/vm.  Only main.c includes this.
 */
#pragma once

#include <glib.h>

/* The most VMs a trickle-node holds, and the default of --max-vms. */
#define NODE_MAX_VMS 1024

/* supervisor.c: serve one tricklefs session, its files in a new
 * directory under basedir, with at most max_vms VMs (0: NODE_MAX_VMS),
 * and injected files in basedir's cache, whose entries unused for
 * cache_days are removed first, its calls running in slots of the share
 * of cores share names (share.h: share_open); the exit status. */
int node_run(const char *basedir, guint max_vms, guint cache_days,
	     const char *share);

/* connect.c: trickle-node --connect: a TCP connection to where (HOST:PORT)
 * on which the mount and we proved we share the secret in
 * $TRICKLE_SECRET (cleared), as token (utils/proto/callback.h); the fd,
 * or -1 and error. */
int node_connect_back(const char *where, const char *token, GError **error);
