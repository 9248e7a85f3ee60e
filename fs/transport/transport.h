/*
 * transport.h - the transport layer: a byte stream to one trickle-node.
 *
 * The lowest layer of the mount (fs/README.md): it knows nothing of
 * frames, VMs or FUSE, and reports upward only through the callbacks its
 * owner registers.  A link carries the framed protocol (wire.h) to a
 * trickle-node and back.  Its kinds (enum link_kind): an SSH exec channel
 * (link_ssh.c), and a command whose stdin/stdout is the link
 * (link_command.c): a trickle-node started here, or any program that
 * reaches one (srun, say).  Every link lives in the default GMainContext:
 * nothing here blocks, and every callback runs from the main loop.  The
 * known_hosts reader (ssh_knownhosts.c) serves SSH and discovery alike.
 */
#pragma once

#include <glib.h>

struct link;

struct link_callbacks {
	/* The node command runs and bytes can flow.  what describes the
	 * peer for logs ("127.0.0.1:2222 (ssh-ed25519 SHA256:...)"). */
	void (*up)(void *user, const char *what);
	/* Bytes the node wrote to its standard output. */
	void (*data)(void *user, const guint8 *data, gsize len);
	/* A line the node wrote to its standard error. */
	void (*log)(void *user, const char *line);
	/* The write queue fell below LINK_LOW_WATER after being above
	 * LINK_HIGH_WATER: writers held back may go on. */
	void (*drained)(void *user);
	/* The link is gone: connection refused, host key refused, the node
	 * exited, the network died.  error says why in words for a user.
	 * No callback follows this one and the link does not touch itself
	 * after calling it, so the owner may link_free() it from here. */
	void (*down)(void *user, const GError *error);
};

#define LINK_HIGH_WATER (4u << 20)
/* What a link reads at once: a whole stream chunk (WIRE_CHUNK) and more,
 * so a bulk frame is not taken in 16 pieces of a pipe's default size. */
#define LINK_READ_SIZE (512u * 1024)
#define LINK_LOW_WATER (1u << 20)

struct link_ssh_options {
	const char *host;		/* name or address */
	int port;			/* 0: 22 */
	const char *user;		/* NULL: the local user name */
	const char *identity;		/* private key file; NULL: agent,
					 * then ~/.ssh/id_{ed25519,ecdsa,rsa} */
	const char *known_hosts;	/* NULL: ~/.ssh/known_hosts */
	const char *command;		/* run on the node */
	guint connect_timeout;		/* seconds, whole set-up; 0: 15 */
	guint keepalive_interval;	/* seconds; 0: 15 */
	/* From ssh_config (ssh_config.c): */
	char **identity_files;		/* after identity; NULL-terminated */
	gboolean identities_only;	/* the agent is not asked */
	const char *proxy_jump;		/* [USER@]HOST[:PORT][,...] */
	const char *proxy_command;	/* %h %p %r %n expanded here */
	const char *ssh_config;		/* for the jump's ssh -F; NULL: its
					 * own default */
	const char *alias;		/* the host as typed (%n) */
};

/* Deep copies of the strings of src but command (shared), and their
 * freeing. */
void link_ssh_options_copy(struct link_ssh_options *dst,
			   const struct link_ssh_options *src);
void link_ssh_options_clear(struct link_ssh_options *opt);
/* Ask now, while a terminal may be there, for what opt's links will need:
 * the passphrases of its key files (ssh_passphrase.c).  No error: a key
 * left locked fails its link's authentication with the reason. */
void link_ssh_prepare(const struct link_ssh_options *opt);
/* Wipe the passphrases kept for reconnecting. */
void link_ssh_forget_secrets(void);

/* ~/.ssh/config as ssh(1) reads it (ssh_config.c).  Unset fields are
 * NULL, 0 (port) or -1. */
struct ssh_host_config {
	char *hostname;			/* %h expanded */
	char *user;
	int port;
	GPtrArray *identity_files;	/* ~ and %-tokens expanded */
	int identities_only;
	char *known_hosts;		/* UserKnownHostsFile, the first */
	char *proxy_jump;		/* ProxyJump, unless "none" */
	char *proxy_command;		/* ProxyCommand, unless "none" */
	int alive_interval;		/* ServerAliveInterval */
	int connect_timeout;		/* ConnectTimeout */
};

/* The settings for host (as typed) from file: NULL reads ~/.ssh/config
 * then /etc/ssh/ssh_config (either may be missing), "none" nothing, else
 * that file (which must exist).  FALSE and error for an unreadable file,
 * a bad value or an Include loop; out is then empty.  host NULL checks
 * the values of every block. */
gboolean ssh_config_lookup(const char *file, const char *host,
			   struct ssh_host_config *out, GError **error);
void ssh_host_config_init(struct ssh_host_config *c);
void ssh_host_config_clear(struct ssh_host_config *c);
/* Does a Host line's pattern list (globs, ! negates) take host? */
gboolean ssh_config_host_matches(const char *const *patterns,
				 const char *host);
/* s with ~ at its start and %% %h %p %r %u %d %n expanded. */
char *ssh_config_expand(const char *s, const char *host, int port,
			const char *ruser, const char *alias);

enum link_kind {
	LINK_LOCAL,		/* trickle-node on this machine, over pipes */
	LINK_SSH,		/* trickle-node run over SSH */
	LINK_COMMAND,		/* a command whose stdio reaches a node */
	LINK_CONNECT,		/* the node connects back (link_connect.c) */
};

/* Connect-back (link_listen.c): a TCP port on this machine that
 * trickle-node --connect dials, proving it knows the per-mount secret
 * (utils/proto/callback.h) and naming a token.  A node whose token no
 * link waits for is kept, and arrival told of it. */
struct link_listener;
typedef void (*link_arrival_fn)(void *user, const char *token);
/* Listen on address (numeric), on a port the kernel picks, with a new
 * secret. */
struct link_listener *link_listener_new(const char *address,
					link_arrival_fn arrival, void *user,
					GError **error);
/* ADDR:PORT, for --connect. */
const char *link_listener_where(const struct link_listener *ls);
/* For the environment of what starts a node, never a command line. */
const char *link_listener_secret(const struct link_listener *ls);
/* Let a node with token in (before any link waits for it). */
void link_listener_expect(struct link_listener *ls, const char *token);
/* No more of token: a connection kept for it is closed. */
void link_listener_forget(struct link_listener *ls, const char *token);
/* Every link made with it must be freed before it. */
void link_listener_free(struct link_listener *ls);
/* --- for link_connect.c --- */
gboolean link_listener_wait(struct link_listener *ls, const char *token,
			    struct link *waiter);
void link_listener_unwait(struct link_listener *ls, const char *token,
			  struct link *waiter);
void link_listener_deliver(struct link_listener *ls, const char *token,
			   int fd);
void link_connect_take(struct link *l, int fd);

/* What a link is made from; the membership source that found the node
 * picks the kind. */
struct link_spec {
	enum link_kind kind;
	const char *command;		/* LOCAL, COMMAND: run here; SSH: run
					 * on the node */
	struct link_ssh_options ssh;	/* SSH only */
	/* CONNECT: command (may be NULL) starts the node, with the
	 * listener's secret in its environment; the node is token, and has
	 * wait_s (0: 60) to connect. */
	struct link_listener *listener;
	const char *token;
	guint wait_s;
};

/* A new link of spec's kind; its set-up runs from the main loop, and a
 * failure is reported through cb->down (NULL only if it failed at once,
 * after cb->down). */
struct link *link_open(const struct link_spec *spec,
		       const struct link_callbacks *cb, void *user);
struct link *link_ssh_new(const struct link_ssh_options *opt,
			  const struct link_callbacks *cb, void *user);
struct link *link_connect_new(const struct link_spec *spec,
				const struct link_callbacks *cb, void *user);
/* command is split with shell rules and run with pipes on its stdio. */
struct link *link_command_new(const char *command,
			      const struct link_callbacks *cb, void *user);

/* known_hosts (ssh_knownhosts.c), without a session: does file hold, for
 * host:port, a key whose SHA256 fingerprint ("SHA256:base64", unpadded)
 * is one of fps, and not @revoked?  why says what is wrong if not. */
gboolean knownhosts_vouch(const char *file, const char *host, int port,
			  const char *const *fps, guint n_fps, char **why);

/* Queue bytes; they go out as the peer takes them. */
void link_write(struct link *l, const void *data, gsize len);
/* Make a pipe to or from a local node hold LINK_READ_SIZE (the default
 * 64 KiB made a bulk chunk take four wake-ups on each side); best
 * effort. */
void link_grow_pipe(int fd);
/* Bytes queued and not yet taken by the transport. */
gsize link_pending(const struct link *l);
/* No more writes: send end-of-file once the queue is empty. */
void link_close_write(struct link *l);
/* Tear down now (kill a local child, close the session).  No callback
 * runs after this; pending bytes are dropped. */
void link_free(struct link *l);

/* --- for the implementations --- */

struct link_class {
	/* Try to write l->out; called after link_write and when writable. */
	void (*kick)(struct link *l);
	void (*close_write)(struct link *l);
	void (*destroy)(struct link *l);
};

struct link {
	const struct link_class *klass;
	struct link_callbacks cb;
	void *user;
	GByteArray *out;		/* queued output starts at out_off */
	gsize out_off;
	gboolean throttled;		/* went above high water */
	gboolean want_close;		/* close_write once drained */
	/* The peer has answered: an SSH server its key exchange, a local
	 * command its start, a connection its connect.  A host that has
	 * not is silent (down, cut off, or not an SSH server at all). */
	gboolean answered;
};

void link_init(struct link *l, const struct link_class *klass,
	       const struct link_callbacks *cb, void *user);
/* The transport took n bytes from the head of the queue. */
void link_consumed(struct link *l, gsize n);
/* The errno that names why a link went down (its error's code):
 * ECONNREFUSED, ETIMEDOUT, EACCES (host key, authentication), EPROTO,
 * EINVAL (a bad spec), EHOSTUNREACH (name resolution, and the rest). */
int link_error_errno(const GError *error);
/* Calls cb.down once; the link must not be used after. */
void link_report_down(struct link *l, GError *error);
