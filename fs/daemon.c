/*
 * daemon.c - go to the background only once the mount is ready, so that
 * `tricklefs ... /mnt && ls /mnt` works and a failure is tricklefs's exit
 * status rather than a line in a log nobody reads.
 *
 * The process forks first thing; the parent waits on a pipe for the
 * child's verdict and exits with it.  The child does all the work
 * (connecting, spawning local nodes, mounting), so every child process and
 * socket belongs to the process that stays.
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

static int ready_fd = -1;

void
daemon_start(void)
{
	int p[2];
	pid_t pid;
	unsigned char status = 1;

	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		perror("tricklefs: fork");
		exit(1);
	}
	if (pid == 0) {
		close(p[0]);
		ready_fd = p[1];
		return;
	}
	close(p[1]);
	while (read(p[0], &status, 1) < 0 && errno == EINTR)
		;
	/* No byte means the child died before it could say. */
	_exit(status);
}

void
daemon_ready(int status)
{
	unsigned char s = status;
	int fd;

	if (ready_fd < 0)
		return;
	if (status == 0) {
		setsid();
		(void)!chdir("/");
		fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
	}
	(void)!write(ready_fd, &s, 1);
	close(ready_fd);
	ready_fd = -1;
}
