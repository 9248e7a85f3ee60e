/*
 * ssh_config.c - ~/.ssh/config as ssh(1) reads it (ssh_config(5)), for
 * the keys a link uses.
 *
 * The file is read from the top for one host, the name as the user typed
 * it: a Host line's patterns (globs with * and ?, a leading ! negates)
 * decide whether the lines after it apply; the first value obtained for a
 * key wins, except IdentityFile, whose values add up.  Include reads
 * files (globs; relative names are under ~/.ssh, or /etc/ssh for the
 * system file) in place, as part of the block it appears in; Match
 * blocks are skipped with a note, but "Match all" applies as "Host *".
 * Keys we do not use are skipped.  %-tokens and ~ are expanded once the
 * whole file is read, since User or HostName may come after the line
 * that uses them.
 */
#include <errno.h>
#include <glob.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>

#include "transport.h"

#define MAX_DEPTH	16	/* Include nesting, as ssh */

struct reader {
	const char		*host;	/* as typed, lower case */
	struct ssh_host_config	*out;
	gboolean		 proxy_set;	/* ProxyJump or ProxyCommand */
};

static gboolean noted_match;	/* said once per process */

static gboolean read_file(struct reader *r, const char *file,
			  const char *base, gboolean never, gboolean *active,
			  int depth, gboolean must, GError **error);

void
ssh_host_config_init(struct ssh_host_config *c)
{
	memset(c, 0, sizeof(*c));
	c->identities_only = -1;
	c->alive_interval = -1;
	c->connect_timeout = -1;
	c->identity_files = g_ptr_array_new_with_free_func(g_free);
}

void
ssh_host_config_clear(struct ssh_host_config *c)
{
	g_clear_pointer(&c->hostname, g_free);
	g_clear_pointer(&c->user, g_free);
	g_clear_pointer(&c->known_hosts, g_free);
	g_clear_pointer(&c->proxy_jump, g_free);
	g_clear_pointer(&c->proxy_command, g_free);
	g_clear_pointer(&c->identity_files, g_ptr_array_unref);
}

/* One pattern of a Host line, case-insensitively (host is lower case). */
static gboolean
match_one(const char *pattern, const char *host)
{
	g_autofree char *p = g_ascii_strdown(pattern, -1);

	return g_pattern_match_simple(p, host);
}

gboolean
ssh_config_host_matches(const char *const *patterns, const char *host)
{
	g_autofree char *h = g_ascii_strdown(host, -1);
	gboolean yes = FALSE;

	for (; *patterns; patterns++) {
		if (**patterns == '!') {
			if (match_one(*patterns + 1, h))
				return FALSE;	/* a negation decides */
		} else if (match_one(*patterns, h)) {
			yes = TRUE;
		}
	}
	return yes;
}

/* A line's words after the keyword: separated by blanks, "quoted" words
 * may hold blanks; an unquoted word starting with # ends the line. */
static GPtrArray *
split_args(const char *s, gboolean *bad)
{
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
	GString *w;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || *s == '#')
			break;
		w = g_string_new(NULL);
		while (*s && *s != ' ' && *s != '\t') {
			if (*s == '"') {
				const char *end = strchr(s + 1, '"');

				if (!end) {
					*bad = TRUE;
					end = s + strlen(s);
				}
				g_string_append_len(w, s + 1, end - s - 1);
				s = *end ? end + 1 : end;
			} else {
				g_string_append_c(w, *s++);
			}
		}
		g_ptr_array_add(a, g_string_free(w, FALSE));
	}
	g_ptr_array_add(a, NULL);
	return a;
}

static gboolean
parse_int(const char *v, int lo, int hi, int *out)
{
	char *end;
	gint64 n;

	if (!v)
		return FALSE;
	n = g_ascii_strtoll(v, &end, 10);
	if (*end || end == v || n < lo || n > hi)
		return FALSE;
	*out = (int)n;
	return TRUE;
}

static void
set_str(char **field, const char *v)
{
	if (!*field && v)
		*field = g_strdup(v);
}

static gboolean
do_include(struct reader *r, char **args, const char *base, gboolean never,
	   gboolean *active, int depth, GError **error)
{
	for (; *args; args++) {
		g_autofree char *pat = NULL;
		glob_t gl;
		size_t i;
		int rc;

		if (**args == '~')
			pat = g_build_filename(g_get_home_dir(), *args + 1, NULL);
		else if (g_path_is_absolute(*args))
			pat = g_strdup(*args);
		else
			pat = g_build_filename(base, *args, NULL);
		rc = glob(pat, 0, NULL, &gl);
		if (rc == GLOB_NOMATCH)
			continue;	/* as ssh: nothing to include */
		if (rc) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
				    "Include %s: glob failed", pat);
			return FALSE;
		}
		for (i = 0; i < gl.gl_pathc; i++)
			if (!read_file(r, gl.gl_pathv[i], base, never, active,
				       depth + 1, FALSE, error)) {
				globfree(&gl);
				return FALSE;
			}
		globfree(&gl);
	}
	return TRUE;
}

/* One key with its values, in a block that applies. */
static gboolean
apply(struct reader *r, const char *key, char **args, const char *where,
      GError **error)
{
	struct ssh_host_config *c = r->out;
	const char *v = args[0];

#define IS(k) (g_ascii_strcasecmp(key, k) == 0)
	if (!v) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "%s: %s without a value", where, key);
		return FALSE;
	}
	if (IS("HostName")) {
		set_str(&c->hostname, v);
	} else if (IS("User")) {
		set_str(&c->user, v);
	} else if (IS("Port")) {
		int port;

		if (!parse_int(v, 1, 65535, &port))
			goto bad;
		if (!c->port)
			c->port = port;
	} else if (IS("IdentityFile")) {
		if (g_ascii_strcasecmp(v, "none") != 0)
			g_ptr_array_add(c->identity_files, g_strdup(v));
	} else if (IS("IdentitiesOnly")) {
		if (c->identities_only < 0)
			c->identities_only = g_ascii_strcasecmp(v, "yes") == 0;
	} else if (IS("UserKnownHostsFile")) {
		/* libssh2 reads one file: the first named. */
		set_str(&c->known_hosts, v);
	} else if (IS("ProxyJump") || IS("ProxyCommand")) {
		/* Whichever comes first wins, as ssh_config(5) says. */
		if (!r->proxy_set) {
			g_autofree char *cmd = g_strjoinv(" ", args);

			r->proxy_set = TRUE;
			if (g_ascii_strcasecmp(v, "none") == 0)
				;
			else if (IS("ProxyJump"))
				c->proxy_jump = g_strdup(v);
			else
				c->proxy_command = g_steal_pointer(&cmd);
		}
	} else if (IS("ServerAliveInterval")) {
		int n;

		if (!parse_int(v, 0, G_MAXINT, &n))
			goto bad;
		if (c->alive_interval < 0)
			c->alive_interval = n;
	} else if (IS("ConnectTimeout")) {
		int n;

		if (g_ascii_strcasecmp(v, "none") == 0)
			n = 0;
		else if (!parse_int(v, 0, G_MAXINT, &n))
			goto bad;
		if (c->connect_timeout < 0)
			c->connect_timeout = n;
	} else if (IS("StrictHostKeyChecking")) {
		if (g_ascii_strcasecmp(v, "yes") != 0)
			g_debug("%s: StrictHostKeyChecking %s ignored: "
				"tricklefs always checks host keys", where, v);
	} else {
		g_debug("%s: %s not used by tricklefs", where, key);
	}
	return TRUE;
#undef IS
bad:
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		    "%s: bad %s value \"%s\"", where, key, v);
	return FALSE;
}

static gboolean
read_file(struct reader *r, const char *file, const char *base,
	  gboolean never, gboolean *active, int depth, gboolean must,
	  GError **error)
{
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	gboolean outer = *active;
	guint no;

	if (depth > MAX_DEPTH) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "%s: Include nested more than %d deep", file,
			    MAX_DEPTH);
		return FALSE;
	}
	if (!g_file_get_contents(file, &text, NULL, error)) {
		if (!must && g_error_matches(*error, G_FILE_ERROR,
					     G_FILE_ERROR_NOENT)) {
			g_clear_error(error);
			return TRUE;
		}
		g_prefix_error(error, "ssh configuration: ");
		return FALSE;
	}
	lines = g_strsplit(text, "\n", -1);
	for (no = 0; lines[no]; no++) {
		g_autofree char *where = g_strdup_printf("%s:%u", file, no + 1);
		g_autoptr(GPtrArray) args = NULL;
		char *l = g_strstrip(lines[no]), *key, *p;
		gboolean bad = FALSE;

		if (!*l || *l == '#')
			continue;
		/* "Key value", "Key=value", "Key = value" */
		key = l;
		p = l + strcspn(l, " \t=");
		if (*p) {
			gboolean eq = *p == '=';

			*p++ = '\0';
			while (*p == ' ' || *p == '\t')
				p++;
			if (!eq && *p == '=')
				p++;
		}
		args = split_args(p, &bad);
		if (bad) {
			g_set_error(error, G_IO_ERROR,
				    G_IO_ERROR_INVALID_ARGUMENT,
				    "%s: unbalanced quotes", where);
			return FALSE;
		}
		if (g_ascii_strcasecmp(key, "Host") == 0) {
			*active = !r->host || (!never &&
				ssh_config_host_matches(
				(const char *const *)args->pdata, r->host));
		} else if (g_ascii_strcasecmp(key, "Match") == 0) {
			*active = !r->host || (!never && args->pdata[0] &&
				  g_ascii_strcasecmp(args->pdata[0], "all") == 0);
			if (!*active && !noted_match) {
				noted_match = TRUE;
				g_message("%s: Match blocks are not supported "
					  "by tricklefs: skipped", where);
			}
		} else if (g_ascii_strcasecmp(key, "Include") == 0) {
			if (!do_include(r, (char **)args->pdata, base,
					never || !*active, active, depth,
					error)) {
				g_prefix_error(error, "%s: ", where);
				return FALSE;
			}
		} else if (*active && !apply(r, key, (char **)args->pdata,
					     where, error)) {
			return FALSE;
		}
	}
	/* An included file's Host lines end with it. */
	if (depth > 0)
		*active = outer;
	return TRUE;
}

/* %% %h %p %r %u %d %n, and ~ at the start. */
char *
ssh_config_expand(const char *s, const char *host, int port,
		  const char *ruser, const char *alias)
{
	GString *o = g_string_new(NULL);

	if (s[0] == '~' && (s[1] == '/' || !s[1])) {
		g_string_append(o, g_get_home_dir());
		s++;
	}
	for (; *s; s++) {
		if (*s != '%' || !s[1]) {
			g_string_append_c(o, *s);
			continue;
		}
		switch (*++s) {
		case '%': g_string_append_c(o, '%'); break;
		case 'h': g_string_append(o, host); break;
		case 'n': g_string_append(o, alias); break;
		case 'p': g_string_append_printf(o, "%d", port); break;
		case 'r': g_string_append(o, ruser); break;
		case 'u': g_string_append(o, g_get_user_name()); break;
		case 'd': g_string_append(o, g_get_home_dir()); break;
		default: g_string_append_c(o, '%'); g_string_append_c(o, *s);
		}
	}
	return g_string_free(o, FALSE);
}

gboolean
ssh_config_lookup(const char *file, const char *host,
		  struct ssh_host_config *out, GError **error)
{
	g_autofree char *user_dir = NULL, *user_file = NULL, *h = NULL;
	struct reader r = { 0 };
	gboolean active = TRUE, ok;
	guint i;

	ssh_host_config_init(out);
	if (file && strcmp(file, "none") == 0)
		return TRUE;
	h = host ? g_ascii_strdown(host, -1) : NULL;
	r.host = h;	/* NULL: every block, to check the values */
	r.out = out;
	user_dir = g_build_filename(g_get_home_dir(), ".ssh", NULL);
	if (file) {	/* -F: that file alone, and it must be there */
		ok = read_file(&r, file, user_dir, FALSE, &active, 0, TRUE,
			       error);
	} else {
		user_file = g_build_filename(user_dir, "config", NULL);
		ok = read_file(&r, user_file, user_dir, FALSE, &active, 0,
			       FALSE, error);
		active = TRUE;
		ok = ok && read_file(&r, "/etc/ssh/ssh_config", "/etc/ssh",
				     FALSE, &active, 0, FALSE, error);
	}
	if (!ok) {
		ssh_host_config_clear(out);
		ssh_host_config_init(out);
		return FALSE;
	}
	if (!host)
		return TRUE;
	/* HostName's %h is the name typed; the others see the results. */
	if (out->hostname) {
		char *x = ssh_config_expand(out->hostname, host, 0, "", host);

		g_free(out->hostname);
		out->hostname = x;
	}
	for (i = 0; i < out->identity_files->len; i++) {
		char *x = ssh_config_expand(out->identity_files->pdata[i],
			out->hostname ? out->hostname : host, out->port ?
			out->port : 22, out->user ? out->user :
			g_get_user_name(), host);

		g_free(out->identity_files->pdata[i]);
		out->identity_files->pdata[i] = x;
	}
	if (out->known_hosts) {
		char *x = ssh_config_expand(out->known_hosts, out->hostname ?
			out->hostname : host, out->port ? out->port : 22,
			out->user ? out->user : g_get_user_name(), host);

		g_free(out->known_hosts);
		out->known_hosts = x;
	}
	return TRUE;
}

void
link_ssh_options_copy(struct link_ssh_options *dst,
		      const struct link_ssh_options *src)
{
	*dst = *src;
	dst->host = g_strdup(src->host);
	dst->user = g_strdup(src->user);
	dst->identity = g_strdup(src->identity);
	dst->known_hosts = g_strdup(src->known_hosts);
	dst->identity_files = g_strdupv(src->identity_files);
	dst->proxy_jump = g_strdup(src->proxy_jump);
	dst->proxy_command = g_strdup(src->proxy_command);
	dst->ssh_config = g_strdup(src->ssh_config);
	dst->alias = g_strdup(src->alias);
}

void
link_ssh_options_clear(struct link_ssh_options *opt)
{
	const char **s[] = { &opt->host, &opt->user, &opt->identity,
			     &opt->known_hosts, &opt->proxy_jump,
			     &opt->proxy_command, &opt->ssh_config,
			     &opt->alias };
	guint i;

	for (i = 0; i < G_N_ELEMENTS(s); i++) {
		g_free((char *)*s[i]);
		*s[i] = NULL;
	}
	g_clear_pointer(&opt->identity_files, g_strfreev);
}
