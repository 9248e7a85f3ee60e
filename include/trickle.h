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

#define TRICKLE_ABI_VERSION 2

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

#ifdef __cplusplus
}
#endif

#endif /* TRICKLE_H */
