/*
 * ssh_proxy.h - the SSH link's way to its server: TCP, or a proxy
 * command's socket (ProxyJump through the OpenSSH client, ProxyCommand).
 */
#pragma once

#include <glib.h>

struct link_ssh_options;
struct ssh_dial;

/* fd: the connected socket (owned by the dial), or -1 with error. */
typedef void (*ssh_dial_fn)(void *data, int fd, const GError *error);

/* Reach host:port as opt says; done is called once, from the main loop,
 * unless the dial is freed first. */
struct ssh_dial *ssh_dial_start(const struct link_ssh_options *opt,
				const char *host, int port, ssh_dial_fn done,
				void *data);
/* A TCP connection (not a proxy's socket)? */
gboolean ssh_dial_is_tcp(const struct ssh_dial *d);
/* Add the proxy's last words, if any, to e's message. */
void ssh_dial_explain(struct ssh_dial *d, GError *e);
/* Close the socket, end the proxy. */
void ssh_dial_free(struct ssh_dial *d);
