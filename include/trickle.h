/*
 * trickle.h - for code injected into Trickle VMs through tricklefs.
 *
 * No header is needed to write an injected function: any function
 *
 *     int NAME(int argc, char **argv);
 *
 * exported by a shared object copied into VM/inject/ can be called by
 * writing "NAME ARG..." to VM/calls/new.  argv[0] is NAME; what it writes
 * to stdout is the call's result, to stderr its stderr; returning 0 means
 * success and anything else a failure with that exit code.  Globals keep
 * their values between calls on the same VM.
 *
 * This header gives the same shape a name, for code that wants to say so.
 */
#ifndef TRICKLE_H
#define TRICKLE_H

#ifdef __cplusplus
extern "C" {
#endif

#define TRICKLE_ABI_VERSION 1

/* The shape of every injected function. */
typedef int trickle_fn(int argc, char **argv);

/* Mark a function as callable (exported with default visibility even
 * when the object is built with -fvisibility=hidden). */
#define TRICKLE_EXPORT __attribute__((visibility("default")))

#ifdef __cplusplus
}
#endif

#endif /* TRICKLE_H */
