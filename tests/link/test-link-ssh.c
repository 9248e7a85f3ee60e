/*
 * test-link-ssh.c - drive link_ssh against a real sshd (tests/sshd.sh).
 *
 *	test-link-ssh --mode=MODE --port=P [--known-hosts=F] [--identity=K]
 *	    [--command=CMD] [--expect=TEXT]... [options]
 *
 * Modes:
 *	echo	the command echoes (cat): write --bytes of patterned data in
 *		pieces of varying size, filling the queue past the high water
 *		mark and waiting for drained; check every byte that comes back,
 *		then close_write and expect a clean exit (status 0).
 *	down	expect the link to go down with a message containing every
 *		--expect text; with --no-up, up must not have been called.
 *	free	"cat": free the link from inside the first data callback; no
 *		callback may follow (run under ASan/valgrind to see it).
 *	free-early  free the link while it connects: no callback at all.
 *	pingpong "cat": --rounds round trips of 64 bytes, one at a time;
 *		fails if they average over 5 ms (a Nagle or wake-up stall).
 * --early (echo): write and close_write before the link is up.
 * Exit status 0 on success; the reason on stderr otherwise.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "transport.h"

static char *mode = "echo", *host = "127.0.0.1", *login, *identity;
static char *known_hosts, *command = "cat", **expect, *up_file;
static int port = 22, bytes = 8 << 20, timeout, keepalive, max_seconds = 60;
static gboolean no_up, early;
static int rounds = 1000;
static gint64 t0;

static GMainLoop *loop;
static struct link *lk;
static int failed;
static gboolean was_up, was_down, freed_in_data;
static char *down_message;
static int callbacks_after_free;
static gsize sent, received, drained_calls, max_pending;

static guint8
pattern(gsize i)
{
	return (guint8)((i * 2654435761u) >> 13 ^ i >> 8);
}

static void G_GNUC_PRINTF(1, 2)
bad(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "FAIL: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	failed = 1;
	g_main_loop_quit(loop);
}

/* Write until past the high water mark, in pieces of 1 B to 200 KiB. */
static void
feed(void)
{
	static guint8 piece[200 << 10];
	static guint32 rnd = 12345;
	gsize n, i;

	if (strcmp(mode, "echo") != 0 || !lk)
		return;
	while (sent < (gsize)bytes && link_pending(lk) <= LINK_HIGH_WATER) {
		rnd = rnd * 1103515245 + 12345;
		n = MIN((gsize)(rnd >> 8) % sizeof(piece) + 1, bytes - sent);
		for (i = 0; i < n; i++)
			piece[i] = pattern(sent + i);
		link_write(lk, piece, n);
		sent += n;
		max_pending = MAX(max_pending, link_pending(lk));
	}
	if (sent == (gsize)bytes)
		link_close_write(lk);
}

static void
ping(void)
{
	guint8 msg[64];
	gsize i;

	for (i = 0; i < sizeof(msg); i++)
		msg[i] = pattern(sent + i);
	link_write(lk, msg, sizeof(msg));
	sent += sizeof(msg);
}

static void
on_up(void *user, const char *what)
{
	if (freed_in_data)
		callbacks_after_free++;
	g_printerr("up: %s\n", what);
	was_up = TRUE;
	if (no_up)
		return bad("up called although the link must not come up");
	if (up_file)
		g_file_set_contents(up_file, "", 0, NULL);
	if (strcmp(mode, "free") == 0)
		link_write(lk, "hello\n", 6);
	if (strcmp(mode, "pingpong") == 0) {
		t0 = g_get_monotonic_time();
		ping();
	}
	feed();
}

static void
on_data(void *user, const guint8 *data, gsize len)
{
	gsize i;

	if (freed_in_data)
		callbacks_after_free++;
	if (strcmp(mode, "free") == 0) {
		/* Free from inside the callback: nothing may follow. */
		link_free(lk);
		lk = NULL;
		freed_in_data = TRUE;
		g_main_loop_quit(loop);
		return;
	}
	for (i = 0; i < len; i++)
		if (data[i] != pattern(received + i))
			return bad("byte %zu: got %u, want %u", received + i,
			    data[i], pattern(received + i));
	received += len;
	if (received > sent)
		bad("received %zu bytes, only %zu sent", received, sent);
	if (strcmp(mode, "pingpong") == 0 && received == sent) {
		if (received / 64 < (gsize)rounds)
			ping();
		else {
			double us = (g_get_monotonic_time() - t0) /
			    (double)rounds;

			g_printerr("pingpong: %d rounds, %.1f us each\n",
			    rounds, us);
			if (us > 5000)
				bad("round trips too slow");
			link_close_write(lk);
		}
	}
}

static void
on_log(void *user, const char *line)
{
	if (freed_in_data)
		callbacks_after_free++;
	g_printerr("node: %s\n", line);
}

static void
on_drained(void *user)
{
	if (freed_in_data)
		callbacks_after_free++;
	drained_calls++;
	feed();
}

static void
on_down(void *user, const GError *error)
{
	if (freed_in_data)
		callbacks_after_free++;
	g_printerr("down: %s\n", error->message);
	was_down = TRUE;
	down_message = g_strdup(error->message);
	/* The owner may free the link from here (link.h). */
	link_free(lk);
	lk = NULL;
	g_main_loop_quit(loop);
}

static gboolean
too_long(gpointer data)
{
	bad("nothing happened within %d s", max_seconds);
	return G_SOURCE_REMOVE;
}

static gboolean
quit(gpointer data)
{
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

static void
check(void)
{
	char **e;

	if (strcmp(mode, "free-early") == 0) {
		if (was_up || was_down)
			bad("a callback came after link_free");
		return;
	}
	if (strcmp(mode, "free") == 0) {
		if (!freed_in_data)
			bad("never got data to free the link in");
		else if (callbacks_after_free)
			bad("%d callbacks after link_free", callbacks_after_free);
		return;
	}
	if (!was_down)
		return bad("the link never went down");
	for (e = expect; e && *e; e++)
		if (!strstr(down_message, *e))
			return bad("down message lacks \"%s\"", *e);
	if (strcmp(mode, "pingpong") == 0 && received / 64 < (gsize)rounds)
		return bad("only %zu round trips", received / 64);
	if (strcmp(mode, "echo") == 0) {
		if (!was_up)
			return bad("never up");
		if (received != (gsize)bytes)
			return bad("echoed %zu of %d bytes", received, bytes);
		if (bytes > (int)LINK_HIGH_WATER && !drained_calls)
			return bad("never drained (max pending %zu)",
			    max_pending);
		g_printerr("echo: %zu bytes back, %zu drained calls, max "
		    "pending %zu\n", received, drained_calls, max_pending);
	}
}

int
main(int argc, char **argv)
{
	GOptionEntry entries[] = {
		{ "mode", 0, 0, G_OPTION_ARG_STRING, &mode, "echo|down|free", NULL },
		{ "host", 0, 0, G_OPTION_ARG_STRING, &host, NULL, NULL },
		{ "port", 0, 0, G_OPTION_ARG_INT, &port, NULL, NULL },
		{ "user", 0, 0, G_OPTION_ARG_STRING, &login, NULL, NULL },
		{ "identity", 0, 0, G_OPTION_ARG_FILENAME, &identity, NULL, NULL },
		{ "known-hosts", 0, 0, G_OPTION_ARG_FILENAME, &known_hosts, NULL, NULL },
		{ "command", 0, 0, G_OPTION_ARG_STRING, &command, NULL, NULL },
		{ "bytes", 0, 0, G_OPTION_ARG_INT, &bytes, NULL, NULL },
		{ "timeout", 0, 0, G_OPTION_ARG_INT, &timeout, "connect timeout", NULL },
		{ "keepalive", 0, 0, G_OPTION_ARG_INT, &keepalive, NULL, NULL },
		{ "expect", 0, 0, G_OPTION_ARG_STRING_ARRAY, &expect, "text the down message must hold", NULL },
		{ "no-up", 0, 0, G_OPTION_ARG_NONE, &no_up, "up must not be called", NULL },
		{ "early", 0, 0, G_OPTION_ARG_NONE, &early, "write before up", NULL },
		{ "rounds", 0, 0, G_OPTION_ARG_INT, &rounds, "pingpong rounds", NULL },
		{ "up-file", 0, 0, G_OPTION_ARG_FILENAME, &up_file, "create when up", NULL },
		{ "max-seconds", 0, 0, G_OPTION_ARG_INT, &max_seconds, NULL, NULL },
		{ 0 }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- test link_ssh");
	g_autoptr(GError) e = NULL;
	struct link_callbacks cb = {
		.up = on_up, .data = on_data, .log = on_log,
		.drained = on_drained, .down = on_down,
	};
	struct link_ssh_options opt = { 0 };

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &e)) {
		fprintf(stderr, "%s\n", e->message);
		return 2;
	}
	opt.host = host;
	opt.port = port;
	opt.user = login;
	opt.identity = identity;
	opt.known_hosts = known_hosts;
	opt.command = command;
	opt.connect_timeout = timeout;
	opt.keepalive_interval = keepalive;

	loop = g_main_loop_new(NULL, FALSE);
	lk = link_ssh_new(&opt, &cb, NULL);
	g_timeout_add_seconds(max_seconds, too_long, NULL);
	if (early)
		feed();
	if (strcmp(mode, "free-early") == 0) {
		link_free(lk);
		lk = NULL;
		g_timeout_add(300, quit, NULL);
	}
	g_main_loop_run(loop);
	if (strcmp(mode, "free") == 0 && !failed) {
		/* Anything still scheduled for the freed link would run now. */
		g_timeout_add(300, quit, NULL);
		g_main_loop_run(loop);
	}
	if (!failed)
		check();
	link_free(lk);
	/* Let a cancelled connect finish, for leak checkers. */
	while (g_main_context_iteration(NULL, FALSE))
		;
	g_main_loop_unref(loop);
	g_free(down_message);
	if (!failed)
		g_printerr("PASS: %s\n", mode);
	return failed;
}
