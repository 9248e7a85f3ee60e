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

#include <unistd.h>	/* read, write: the checkpoint helpers */

#ifdef __cplusplus
extern "C" {
#endif

#define TRICKLE_ABI_VERSION 3

/* The shape of every injected function. */
typedef int trickle_fn(int argc, char **argv);

/* Mark a function as callable (exported with default visibility even
 * when the object is built with -fvisibility=hidden). */
#define TRICKLE_EXPORT __attribute__((visibility("default")))

/*
 * A one-line description of an injected function, shown with it in the
 * VM's list of functions:
 *
 *     TRICKLE_DOC(foo, "foo N: twice N");
 *
 * It defines the exported array trickle_doc_foo, which the node reads
 * out of the file (nothing runs); at most 256 bytes of it are used.
 */
#ifdef __cplusplus
#define TRICKLE_DOC_LINKAGE_ extern "C"
#else
#define TRICKLE_DOC_LINKAGE_
#endif
#define TRICKLE_DOC(fn, text)                                           \
	TRICKLE_DOC_LINKAGE_ __attribute__((visibility("default"), used)) \
	const char trickle_doc_##fn[] = text

/*
 * Remote objects.  A function can keep an object in the VM and hand the
 * caller a handle, "@ID", that later calls pass back as an argument; the
 * VM lists its live objects (with their descriptions) next to its calls,
 * and removing one there destroys it.  Objects live as long as their VM's
 * process: a crash or a restart destroys them all (destroy is not run).
 *
 *     static const struct trickle_class stack_class = {
 *             "Stack", stack_free, stack_describe,
 *     };
 *     int stack_new(int argc, char **argv)
 *     {
 *             return trickle_object_return(&stack_class, new_stack());
 *     }
 *     int pop(int argc, char **argv)     // pop @ID
 *     {
 *             struct stack *s = trickle_object_get(&stack_class, argv[1]);
 *             ...
 *     }
 *
 * These are provided by the VM (trickle-node) itself: link the injected
 * object without them, as usual for a plugin.  Call them from the thread
 * that runs the call.
 */
struct trickle_class {
	const char *name;		/* "Stack": shown with each object */
	void (*destroy)(void *obj);	/* optional */
	/* Optional: a malloc()ed one-line description, like Python's
	 * __str__; called after each call while the object lives. */
	char *(*describe)(void *obj);
};

/* Keep obj as an object of class cls; its id (> 0), or -1 if cls is
 * NULL or has no name. */
long trickle_object_new(const struct trickle_class *cls, void *obj);

/* For constructors: keep obj, print its handle "@ID" and a newline to
 * stdout, and return what the function should return: 0, or 1 (with a
 * message on stderr) if it could not be kept. */
int trickle_object_return(const struct trickle_class *cls, void *obj);

/* The object a handle ("@3") names, or NULL if there is none or it is
 * not of class cls. */
void *trickle_object_get(const struct trickle_class *cls,
			 const char *handle);

/* Run the object's destroy and forget it: 0, or -1 if there is no such
 * object. */
int trickle_object_destroy(const char *handle);

/*
 * Checkpoints.  tricklefs can save a VM's state to a file and bring the
 * VM back to it later, on its node or another (echo checkpoint >
 * VM/ctl; trickle(7), CHECKPOINTS).  The node saves the VM's environment
 * (setenv), its injected files and its data/ directory by itself; what
 * lives in the memory of a shared object (its globals, its objects) only
 * the object knows how to save.  So every injected shared object of a
 * VM that is checkpointed exports both of
 *
 *     int trickle_save(int fd);      write your state to fd
 *     int trickle_restore(int fd);   read it back from fd
 *
 * called between calls, never during one, in the order the objects were
 * injected; 0 is success, anything else fails the checkpoint or the
 * restore.  fd is a file of the library's own: write what you like, it
 * gets the same bytes back.  restore runs in a fresh VM process into
 * which the objects were loaded again (constructors have run, globals
 * are at their initial values, no remote objects exist).  A VM with a
 * shared object that lacks them cannot be checkpointed (EOPNOTSUPP, the
 * object named in VM/info).  Neither can be called as a function.
 *
 * For the common case, a block of globals:
 *
 *     static struct { long count; char last[64]; } state;
 *     TRICKLE_SAVE_GLOBALS(&state, sizeof state);
 *
 * defines both hooks for it.  Pointers saved this way mean nothing after
 * a restore: save what they point to instead.  Remote objects are saved
 * by their library too: trickle_object_each() visits the live objects
 * of a class, and restore puts each back under its old id with
 * trickle_object_put(), so that handles ("@3") held by callers stay
 * good.
 */
int trickle_save(int fd);
int trickle_restore(int fd);

/* Keep obj as object id of class cls (restore: the id it had): id, or -1
 * if id is taken (EEXIST) or not valid, or cls has no name (EINVAL).
 * Later objects get ids above every id put back. */
long trickle_object_put(const struct trickle_class *cls, long id, void *obj);

/* Call fn on each live object of class cls (NULL: every class), by
 * increasing id; stops at the first non-zero fn returns, and returns
 * it (0: all visited).  fn must not make or destroy objects. */
int trickle_object_each(const struct trickle_class *cls,
			int (*fn)(long id, void *obj, void *data), void *data);

/* Helpers for hooks: all of n bytes to or from fd; 0, or -1. */
static inline int
trickle_io_all_(int fd, char *p, unsigned long n, int writing)
{
	while (n > 0) {
		ssize_t r = writing ? write(fd, p, n) : read(fd, p, n);

		if (r <= 0)
			return -1;
		p += r;
		n -= (unsigned long)r;
	}
	return 0;
}

static inline int
trickle_write_all(int fd, const void *buf, unsigned long n)
{
	return trickle_io_all_(fd, (char *)buf, n, 1);
}

static inline int
trickle_read_all(int fd, void *buf, unsigned long n)
{
	return trickle_io_all_(fd, (char *)buf, n, 0);
}

/* A block of n bytes, with its size first so that a restore into a
 * library whose block changed size fails instead of reading garbage. */
static inline int
trickle_save_block(int fd, const void *block, unsigned long n)
{
	unsigned long long size = n;

	return trickle_write_all(fd, &size, sizeof(size)) ||
	       trickle_write_all(fd, block, n) ? -1 : 0;
}

static inline int
trickle_restore_block(int fd, void *block, unsigned long n)
{
	unsigned long long size = 0;

	if (trickle_read_all(fd, &size, sizeof(size)) || size != n)
		return -1;
	return trickle_read_all(fd, block, n);
}

#define TRICKLE_SAVE_GLOBALS(block, size)                              \
	TRICKLE_DOC_LINKAGE_ TRICKLE_EXPORT int trickle_save(int fd_)    \
	{                                                               \
		return trickle_save_block(fd_, (block), (size));        \
	}                                                               \
	TRICKLE_DOC_LINKAGE_ TRICKLE_EXPORT int trickle_restore(int fd_) \
	{                                                               \
		return trickle_restore_block(fd_, (block), (size));     \
	}

#ifdef __cplusplus
}
#endif

#endif /* TRICKLE_H */
