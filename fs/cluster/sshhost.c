/*
 * sshhost.c - a host reached over SSH: the NODE as typed, the mount's SSH
 * options and the ssh configuration, merged as ssh(1) merges them.
 *
 * What the command line says beats the file, as ssh's -o and -p beat
 * ssh_config: NODE's USER@ and :PORT, then -o port=, identity= (then the
 * key alone is tried), known_hosts=, ProxyJump=, connect_timeout= and
 * ServerAliveInterval=; the file fills in the rest for the Host the NODE
 * names (HostName, User, Port, IdentityFile, IdentitiesOnly,
 * UserKnownHostsFile, ProxyJump/ProxyCommand, ConnectTimeout,
 * ServerAliveInterval).  With -o ssh_command=CMD the link is that command
 * instead of libssh2, and CMD (an ssh) reads its configuration itself.
 */
#include "cluster.h"
#include "nodespec.h"

#include <string.h>

static void
add_word(GString *s, const char *w)
{
	g_autofree char *q = g_shell_quote(w);

	g_string_append_c(s, ' ');
	g_string_append(s, q);
}

/* sshfs's ssh_command: CMD [-F FILE] [-i KEY] [-o UserKnownHostsFile=F]
 * [-p PORT] [-l USER] HOST NODE_COMMAND, HOST as typed. */
static char *
command_line(struct cluster *cl, const struct nodespec *ns,
	     const char *node_command)
{
	GString *s = g_string_new(cl->opt.ssh_command);

	if (cl->opt.ssh_config) {
		add_word(s, "-F");
		add_word(s, cl->opt.ssh_config);
	}
	if (cl->opt.identity) {
		add_word(s, "-i");
		add_word(s, cl->opt.identity);
	}
	if (cl->opt.known_hosts) {
		g_autofree char *o = g_strconcat("UserKnownHostsFile=",
						 cl->opt.known_hosts, NULL);

		add_word(s, "-o");
		add_word(s, o);
	}
	if (ns->port || cl->opt.port) {
		g_autofree char *p = g_strdup_printf("%d", ns->port ? ns->port
						     : cl->opt.port);

		add_word(s, "-p");
		add_word(s, p);
	}
	if (ns->user) {
		add_word(s, "-l");
		add_word(s, ns->user);
	}
	add_word(s, ns->host);
	add_word(s, node_command);
	return g_string_free(s, FALSE);
}

struct host *
cluster_add_ssh_host(struct cluster *cl, const struct nodespec *ns,
		     struct member_source *src)
{
	struct cluster_options *o = &cl->opt;
	struct link_spec spec = { .kind = LINK_SSH };
	g_autoptr(GError) e = NULL;
	g_autofree char *label = NULL, *line = NULL;
	struct nodespec eff = *ns;	/* for the label: borrows */
	struct ssh_host_config hc;
	struct host *h;

	spec.command = o->node_command ? o->node_command : "trickle-node";
	if (o->ssh_command) {
		eff.port = ns->port ? ns->port : o->port ? o->port : 22;
		label = nodespec_where(&eff);
		spec.kind = LINK_COMMAND;
		spec.command = line = command_line(cl, ns, spec.command);
		return cluster_add_host(cl, label, &spec, src);
	}
	/* Checked when the options were read: this fails only if the file
	 * changed since. */
	if (!ssh_config_lookup(o->ssh_config, ns->host, &hc, &e))
		g_warning("%s (going on without it)", e->message);
	g_ptr_array_add(hc.identity_files, NULL);

	spec.ssh.alias = ns->host;
	spec.ssh.host = hc.hostname ? hc.hostname : ns->host;
	spec.ssh.user = ns->user ? ns->user : hc.user;
	spec.ssh.port = ns->port ? ns->port : o->port ? o->port :
			hc.port ? hc.port : 22;
	spec.ssh.identity = o->identity;
	spec.ssh.identity_files = (char **)hc.identity_files->pdata;
	spec.ssh.identities_only = hc.identities_only == 1;
	spec.ssh.known_hosts = o->known_hosts ? o->known_hosts
					      : hc.known_hosts;
	spec.ssh.connect_timeout = !o->connect_timeout_given &&
		hc.connect_timeout > 0 ? hc.connect_timeout : o->connect_timeout;
	spec.ssh.keepalive_interval = !o->alive_interval_given &&
		hc.alive_interval > 0 ? hc.alive_interval : o->alive_interval;
	if (o->proxy_jump) {
		if (g_ascii_strcasecmp(o->proxy_jump, "none") != 0)
			spec.ssh.proxy_jump = o->proxy_jump;
	} else {
		spec.ssh.proxy_jump = hc.proxy_jump;
		spec.ssh.proxy_command = hc.proxy_command;
	}
	spec.ssh.ssh_config = o->ssh_config;

	eff.user = (char *)spec.ssh.user;
	eff.port = spec.ssh.port;
	label = nodespec_where(&eff);
	if (hc.hostname || spec.ssh.proxy_jump || spec.ssh.proxy_command)
		g_debug("%s: HostName %s%s%s%s%s", label, spec.ssh.host,
			spec.ssh.proxy_jump ? ", ProxyJump " : "",
			spec.ssh.proxy_jump ? spec.ssh.proxy_jump : "",
			spec.ssh.proxy_command ? ", ProxyCommand " : "",
			spec.ssh.proxy_command ? spec.ssh.proxy_command : "");
	h = cluster_add_host(cl, label, &spec, src);
	/* Passphrases now, while the mount command has a terminal. */
	link_ssh_prepare(&spec.ssh);
	ssh_host_config_clear(&hc);
	return h;
}
