/*
 * worker.h - the VM process: holds injected shared objects and runs one
 * call at a time.  It is a separate process from the supervisor so that
 * a call that crashes takes down nothing but its own VM.
 */
#pragma once

/* Serve W_LOAD and W_RUN frames on fd until it closes; the exit status. */
int worker_main(int fd);
/* trickle-node --check-load: can path be dlopen()ed here?  Exit status. */
int worker_check_load(const char *path);
/* "signal 11 (SIGSEGV)" */
char *signal_description(int sig);
