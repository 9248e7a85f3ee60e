/*
 * test-evset.c - fd and child watches on one epoll set (utils/lib/evset.c):
 * events reach the right callback; a watch ended by another callback of
 * the same batch is not called; G_SOURCE_REMOVE ends a watch; a second
 * watch of the same fd (which epoll refuses) still works, through GLib;
 * a child's exit is told once with its status, and it is reaped.
 */
#include "evset.h"

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

struct pipe_w {
	int fd[2];
	guint id;
	guint calls;
	guint *kill_other;	/* end this watch when called */
};

static gboolean
on_ready(int fd, GIOCondition cond, gpointer data)
{
	struct pipe_w *p = data;
	char c;

	p->calls++;
	if (p->kill_other && *p->kill_other) {
		evset_remove(*p->kill_other);
		*p->kill_other = 0;
	}
	if (cond & G_IO_IN)
		g_assert_cmpint(read(fd, &c, 1), ==, 1);
	return G_SOURCE_CONTINUE;
}

static void
spin(guint n)
{
	while (n--)
		g_main_context_iteration(NULL, FALSE);
}

static void
test_remove_in_batch(void)
{
	struct pipe_w a = { 0 }, b = { 0 };

	g_assert_cmpint(pipe(a.fd), ==, 0);
	g_assert_cmpint(pipe(b.fd), ==, 0);
	a.id = evset_watch(a.fd[0], G_IO_IN, on_ready, &a);
	b.id = evset_watch(b.fd[0], G_IO_IN, on_ready, &b);
	/* Both ready at once: whichever runs first ends the other. */
	a.kill_other = &b.id;
	b.kill_other = &a.id;
	g_assert_cmpint(write(a.fd[1], "x", 1), ==, 1);
	g_assert_cmpint(write(b.fd[1], "y", 1), ==, 1);
	spin(10);
	g_assert_cmpuint(a.calls + b.calls, ==, 1);
	evset_remove(a.id);
	evset_remove(b.id);
	for (int i = 0; i < 2; i++) {
		close(a.fd[i]);
		close(b.fd[i]);
	}
}

static gboolean
once(int fd, GIOCondition cond, gpointer data)
{
	(*(guint *)data)++;
	return G_SOURCE_REMOVE;
}

static void
test_source_remove_and_same_fd(void)
{
	int fd[2];
	guint in_calls = 0, out_calls = 0, id_in, id_out;

	g_assert_cmpint(pipe(fd), ==, 0);
	/* The write end twice: epoll takes the first, GLib the second. */
	id_in = evset_watch(fd[1], G_IO_OUT, once, &in_calls);
	id_out = evset_watch(fd[1], G_IO_OUT, once, &out_calls);
	g_assert_cmpuint(id_in, !=, id_out);
	spin(10);
	g_assert_cmpuint(in_calls, ==, 1);	/* removed after one call */
	g_assert_cmpuint(out_calls, ==, 1);
	evset_remove(id_in);			/* already ended: ignored */
	evset_remove(0);
	close(fd[0]);
	close(fd[1]);
}

static void
on_child(GPid pid, int status, gpointer data)
{
	int *got = data;

	g_assert_true(WIFEXITED(status));
	*got = WEXITSTATUS(status) + 1;
}

static void
test_child(void)
{
	int got = 0;
	pid_t pid = fork();

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0)
		_exit(7);
	evset_child(pid, on_child, &got);
	for (int i = 0; i < 2000 && !got; i++)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpint(got, ==, 8);
	g_assert_cmpint(waitpid(pid, NULL, WNOHANG), ==, -1);	/* reaped */
	g_assert_cmpint(errno, ==, ECHILD);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/evset/remove-in-batch", test_remove_in_batch);
	g_test_add_func("/evset/source-remove-and-same-fd",
			test_source_remove_and_same_fd);
	g_test_add_func("/evset/child", test_child);
	return g_test_run();
}
