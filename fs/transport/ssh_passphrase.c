/*
 * ssh_passphrase.c - passphrases of private key files: asked once, as ssh
 * asks, and kept in memory for reconnecting; wiped at exit.
 *
 * Where to ask, as ssh(1) does: SSH_ASKPASS_REQUIRE=force uses the
 * SSH_ASKPASS program; otherwise the terminal (/dev/tty: a mount being
 * made, or running with -f), and without one SSH_ASKPASS if DISPLAY or
 * WAYLAND_DISPLAY is set (SSH_ASKPASS_REQUIRE=never: the terminal only).
 * A detached mount has no terminal, so passphrases are asked before
 * connecting (link_ssh_prepare), while the mount command still has one.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <gio/gio.h>

#include "ssh_passphrase.h"
#include "transport.h"

static GHashTable *kept;	/* key file -> passphrase */

static void
wipe(gpointer p)
{
	explicit_bzero(p, strlen(p));
	g_free(p);
}

void
link_ssh_forget_secrets(void)
{
	g_clear_pointer(&kept, g_hash_table_unref);
}

gboolean
ssh_key_encrypted(const char *file)
{
	static const char begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
	static const char magic[] = "openssh-key-v1";
	g_autofree char *text = NULL;
	g_autofree guchar *bin = NULL;
	char *b, *e;
	gsize len;
	guint32 n;

	if (!g_file_get_contents(file, &text, NULL, NULL))
		return FALSE;	/* libssh2 will say what is wrong */
	if (!(b = strstr(text, begin)))	/* PEM: its header says */
		return strstr(text, "ENCRYPTED") != NULL;
	b += sizeof(begin) - 1;
	if ((e = strstr(b, "-----END")))
		*e = '\0';
	bin = g_base64_decode(b, &len);
	/* "openssh-key-v1\0", then the cipher's name as an SSH string */
	if (len < sizeof(magic) + 4 || memcmp(bin, magic, sizeof(magic)))
		return FALSE;
	memcpy(&n, bin + sizeof(magic), 4);
	n = GUINT32_FROM_BE(n);
	return !(n == 4 && len >= sizeof(magic) + 8 &&
		 memcmp(bin + sizeof(magic) + 4, "none", 4) == 0);
}

static struct termios saved;
static int tty_fd = -1;

static void
on_signal(int sig)
{
	if (tty_fd >= 0)
		tcsetattr(tty_fd, TCSAFLUSH, &saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* On the terminal without echo; NULL if there is no terminal. */
static char *
ask_tty(const char *prompt, GError **error)
{
	struct sigaction sa = { .sa_handler = on_signal }, oint, oterm;
	struct termios t;
	GString *line;
	char c;
	ssize_t n;

	if ((tty_fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) < 0)
		return NULL;
	if (tcgetattr(tty_fd, &saved) < 0) {
		close(tty_fd);
		tty_fd = -1;
		return NULL;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &oint);
	sigaction(SIGTERM, &sa, &oterm);
	t = saved;
	t.c_lflag &= ~(ECHO | ECHONL);
	tcsetattr(tty_fd, TCSAFLUSH, &t);
	(void)!write(tty_fd, prompt, strlen(prompt));
	line = g_string_new(NULL);
	while ((n = read(tty_fd, &c, 1)) == 1 && c != '\n' && c != '\r')
		g_string_append_c(line, c);
	tcsetattr(tty_fd, TCSAFLUSH, &saved);
	(void)!write(tty_fd, "\n", 1);
	sigaction(SIGINT, &oint, NULL);
	sigaction(SIGTERM, &oterm, NULL);
	close(tty_fd);
	tty_fd = -1;
	if (n < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "reading the passphrase from the terminal: %s",
			    g_strerror(errno));
		explicit_bzero(line->str, line->len);
		g_string_free(line, TRUE);
		return NULL;
	}
	return g_string_free(line, FALSE);
}

static char *
ask_program(const char *prompt, GError **error)
{
	const char *prog = g_getenv("SSH_ASKPASS");
	const char *argv[] = { prog && *prog ? prog : "/usr/bin/ssh-askpass",
			       prompt, NULL };
	g_autofree char *err = NULL;
	char *out = NULL;
	int status;

	if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH,
			  NULL, NULL, &out, &err, &status, error)) {
		g_prefix_error(error, "cannot run SSH_ASKPASS %s: ", argv[0]);
		return NULL;
	}
	if (!g_spawn_check_wait_status(status, NULL)) {
		wipe(out);
		g_strstrip(err);
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
			    "SSH_ASKPASS %s gave no passphrase%s%s%s",
			    argv[0], *err ? " (" : "", err, *err ? ")" : "");
		return NULL;
	}
	out[strcspn(out, "\r\n")] = '\0';
	return out;
}

const char *
ssh_passphrase_get(const char *file, GError **error)
{
	const char *req = g_getenv("SSH_ASKPASS_REQUIRE");
	gboolean display = g_getenv("DISPLAY") || g_getenv("WAYLAND_DISPLAY");
	g_autofree char *prompt = NULL;
	GError *e = NULL;
	char *p = NULL;

	if (kept && (p = g_hash_table_lookup(kept, file)))
		return p;
	prompt = g_strdup_printf("tricklefs: enter passphrase for key '%s': ",
				 file);
	if (g_strcmp0(req, "force") == 0 ||
	    (g_strcmp0(req, "prefer") == 0 && display))
		p = ask_program(prompt, &e);
	else if (!(p = ask_tty(prompt, &e)) && !e && display &&
		 g_strcmp0(req, "never") != 0)
		p = ask_program(prompt, &e);
	if (!p) {
		if (e)
			g_propagate_error(error, e);
		else
			g_set_error(error, G_IO_ERROR,
				    G_IO_ERROR_PERMISSION_DENIED,
				    "it has a passphrase and there is no "
				    "terminal to ask on: mount from a "
				    "terminal, load it into ssh-agent, or set "
				    "SSH_ASKPASS with SSH_ASKPASS_REQUIRE=force");
		return NULL;
	}
	if (!kept) {
		kept = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					     wipe);
		atexit(link_ssh_forget_secrets);
	}
	g_hash_table_insert(kept, g_strdup(file), p);
	return p;
}

void
ssh_passphrase_forget(const char *file)
{
	if (kept)
		g_hash_table_remove(kept, file);
}

void
link_ssh_prepare(const struct link_ssh_options *opt)
{
	gboolean agent = !opt->identity && !opt->identities_only &&
			 g_getenv("SSH_AUTH_SOCK") && *g_getenv("SSH_AUTH_SOCK");
	g_autoptr(GError) e = NULL;
	char **f;

	/* With an agent, ssh asks only if the agent's keys fail: so do we,
	 * at authentication. */
	if (agent)
		return;
	if (opt->identity && ssh_key_encrypted(opt->identity) &&
	    !ssh_passphrase_get(opt->identity, &e))
		g_debug("%s", e->message);
	for (f = opt->identity_files; !opt->identity && f && *f; f++) {
		g_clear_error(&e);
		if (ssh_key_encrypted(*f) && !ssh_passphrase_get(*f, &e))
			g_debug("%s", e->message);
	}
}
