/*
 * announce.h - `trickle-node --announce`: a small daemon that makes this
 * host discoverable by tricklefs over UDP multicast (utils/beacon.h).
 *
 * It reads the SSH host keys' .pub files, opens one UDP socket joined to
 * the group, and then only answers PROBEs with a HELLO sent back to the
 * prober (rate-limited, in total and per prober), multicasts a HELLO at
 * start and every interval, and a BYE when it gets SIGTERM, SIGINT or
 * SIGHUP.  It runs no code, and opens no other socket or file after
 * start-up.
 */
#pragma once

#define ANNOUNCE_INTERVAL 30			/* seconds */
#define ANNOUNCE_KEY_DIR "/etc/ssh"		/* ssh_host_*_key.pub */

struct announce_options {
	const char *group;		/* NULL: BEACON_GROUP */
	int port;			/* 0: BEACON_PORT */
	const char *interface;		/* NULL: every multicast interface */
	const char *name;		/* NULL: the host name */
	int ssh_port;			/* 0: 22 */
	char **host_keys;		/* .pub files; NULL: ANNOUNCE_KEY_DIR's */
	int interval;			/* 0: ANNOUNCE_INTERVAL */
};

/* Run until a signal; the exit status (2: bad options, 1: errors). */
int announce_main(const struct announce_options *opt);
