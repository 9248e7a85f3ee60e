/*
 * callstore.c - where a VM's calls keep their output on the node (issue
 * 12), without an inode per call on the node's disk in the common case:
 *   - a queued call has nothing: its output reads as empty;
 *   - a running call writes to two memfds this process made (the worker
 *     opens them through /proc), read from here while it runs;
 *   - at its end, output up to WORKER_STORE_MAX bytes is appended to the
 *     VM's store file (vm<i>/store) and its place logged in vm<i>/ended
 *     with the end, in one write (node/worker/wstore.c); more goes to
 *     calls/ID/stdout and stderr, and later calls of the same function
 *     write there from the start (its output is likely to be large);
 *   - a call given a stdin has calls/ID/stdin.
 * Forgetting a call punches its bytes out of the store; once the VM
 * knows no call, the store and the log are emptied.  A process adopting
 * the session reads the log to know every ended call and its output.
 */
#include "vm_priv.h"
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_READ 4096			/* of the log, per pread */

struct crec {
	gboolean ended;
	guint state;
	int code;
	char *detail;
	int out_fd, err_fd;		/* memfds while it runs; -1 */
	struct worker_where where;	/* once ended: stored? where */
	gboolean has_dir;		/* calls/ID: stdin, or its files */
	gboolean own_files;		/* its output is in calls/ID/ */
};

struct callstore {
	GHashTable *recs;		/* id -> struct crec */
	GHashTable *big;		/* function names with large output */
	int store_fd;			/* vm<i>/store, -1 until used */
	guint64 log_seen;		/* vm<i>/ended read up to here */
	GByteArray *logbuf;		/* what is read of it past that */
	/* A pair of memfds kept for the next call, emptied, with their
	 * paths; -1.  sent: the worker was given them for the last call. */
	int spare_out, spare_err;
	char *spare_out_path, *spare_err_path;
	gboolean spare_sent;
};

static void
crec_close(struct crec *r)
{
	if (r->out_fd >= 0)
		close(r->out_fd);
	if (r->err_fd >= 0)
		close(r->err_fd);
	r->out_fd = r->err_fd = -1;
}

static void
crec_free(struct crec *r)
{
	crec_close(r);
	g_free(r->detail);
	g_free(r);
}

static struct crec *
crec_new(void)
{
	struct crec *r = g_new0(struct crec, 1);

	r->out_fd = r->err_fd = -1;
	return r;
}

/* vm<i>/ended, read by a process adopting the session: its ended calls,
 * the last line of an id winning (a call sent again is not ended). */
static void
load(struct vmnode *vm, struct callstore *cs)
{
	g_autofree char *path = g_build_filename(vm->dir, "ended", NULL);
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	struct worker_where place = { 0 };
	guint32 place_id = 0;
	gsize len;

	if (!g_file_get_contents(path, &text, &len, NULL))
		return;
	/* Read up to its last whole line (a torn one is never ended). */
	for (cs->log_seen = len; cs->log_seen && text[cs->log_seen - 1] != '\n';)
		cs->log_seen--;
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l; l++) {
		guint64 id, state;
		gint64 code;
		char *p = *l, *end;
		struct crec *r;
		guint32 pid;
		struct worker_where w;

		if (worker_parse_where(p, &pid, &w)) {
			place_id = pid;
			place = w;
			continue;
		}
		id = g_ascii_strtoull(p, &end, 10);
		if (end == p || *end != ' ' || id == 0 || id > G_MAXUINT32)
			continue;	/* a torn last line */
		state = g_ascii_strtoull(p = end + 1, &end, 10);
		if (end == p || *end != ' ' || state >= CALL_STATE_MAX)
			continue;
		if (state < CALL_DONE) {	/* sent again, or forgotten */
			g_hash_table_remove(cs->recs,
					    GUINT_TO_POINTER((guint32)id));
			place_id = 0;
			continue;
		}
		code = g_ascii_strtoll(p = end + 1, &end, 10);
		if (end == p || *end != ' ')
			continue;
		r = crec_new();
		r->ended = TRUE;
		r->state = state;
		r->code = (int)CLAMP(code, G_MININT, G_MAXINT);
		r->detail = g_strdup(end + 1);
		if (place_id == id)
			r->where = place;
		else	/* its own files (or an older node's) */
			r->has_dir = r->own_files = TRUE;
		place_id = 0;
		g_hash_table_replace(cs->recs, GUINT_TO_POINTER((guint32)id),
				     r);
	}
}

static struct callstore *
cs_get(struct vmnode *vm)
{
	if (!vm->cstore) {
		vm->cstore = g_new0(struct callstore, 1);
		vm->cstore->recs = g_hash_table_new_full(NULL, NULL, NULL,
			(GDestroyNotify)crec_free);
		vm->cstore->big = g_hash_table_new_full(g_str_hash,
			g_str_equal, g_free, NULL);
		vm->cstore->store_fd = -1;
		vm->cstore->logbuf = g_byte_array_new();
		vm->cstore->spare_out = vm->cstore->spare_err = -1;
		load(vm, vm->cstore);
	}
	return vm->cstore;
}

static struct crec *
rec(struct vmnode *vm, guint32 id)
{
	return g_hash_table_lookup(cs_get(vm)->recs, GUINT_TO_POINTER(id));
}

static int
store_fd(struct vmnode *vm)
{
	struct callstore *cs = cs_get(vm);

	if (cs->store_fd < 0) {
		g_autofree char *p = g_build_filename(vm->dir, "store", NULL);

		cs->store_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (cs->store_fd < 0)
			g_warning("vm%u: cannot open %s: %s", vm->index, p,
				  g_strerror(errno));
	}
	return cs->store_fd;
}

static char *
call_path(struct vmnode *vm, guint32 id, const char *name)
{
	return name ? g_strdup_printf("%s/%u/%s", vm->calls_dir, id, name)
		    : g_strdup_printf("%s/%u", vm->calls_dir, id);
}

/* vm<i>/ended, open for appending (and reading back: worker_place). */
static int
ended_fd(struct vmnode *vm)
{
	if (vm->ended_fd < 0) {
		g_autofree char *path = g_build_filename(vm->dir, "ended",
							 NULL);

		vm->ended_fd = open(path, O_RDWR | O_APPEND | O_CREAT |
				    O_CLOEXEC, 0600);
		if (vm->ended_fd < 0)
			g_warning("vm%u: cannot open %s: %s", vm->index, path,
				  g_strerror(errno));
	}
	return vm->ended_fd;
}

/* The end of a call in vm<i>/ended before the client hears of it (see
 * worker_log_end), with where its output is (w: NULL if nowhere new). */
void
cstore_log(struct vmnode *vm, guint32 id, guint state, int code,
	   const char *detail, const struct worker_where *w)
{
	if (ended_fd(vm) < 0)
		return;
	if (!worker_log_end_at(vm->ended_fd, id, state, code, detail, w))
		g_warning("vm%u: cannot log the end of call %u: %s", vm->index,
			  id, g_strerror(errno));
}

gboolean
cstore_known(struct vmnode *vm, guint32 id)
{
	return rec(vm, id) != NULL;
}

static void
punch(struct vmnode *vm, struct crec *r)
{
	guint64 len = r->where.out + r->where.err;

	if (r->where.stored && len && store_fd(vm) >= 0 &&
	    fallocate(store_fd(vm), FALLOC_FL_PUNCH_HOLE |
		      FALLOC_FL_KEEP_SIZE, r->where.off, len) < 0 &&
	    errno != EOPNOTSUPP)
		g_warning("vm%u: cannot free a call's output: %s", vm->index,
			  g_strerror(errno));
	r->where.stored = FALSE;
}

int
cstore_add(struct vmnode *vm, guint32 id)
{
	struct callstore *cs = cs_get(vm);
	struct crec *r = rec(vm, id);

	if (r) {
		/* Sent again: it starts from nothing, its end no longer
		 * counts. */
		cstore_log(vm, id, CALL_QUEUED, 0, "sent again", NULL);
		punch(vm, r);
		g_autofree char *dir = call_path(vm, id, NULL);

		if (r->has_dir && !rm_rf(dir))
			return EIO;
	}
	g_hash_table_replace(cs->recs, GUINT_TO_POINTER(id), crec_new());
	return 0;
}

char *
cstore_stdin_path(struct vmnode *vm, guint32 id)
{
	g_autofree char *dir = call_path(vm, id, NULL);
	struct crec *r = rec(vm, id);

	if (!r || !worker_make_call_dir(dir))
		return NULL;
	r->has_dir = TRUE;
	return call_path(vm, id, "stdin");
}

static char *
fd_path(int fd)
{
	return g_strdup_printf("/proc/%d/fd/%d", (int)getpid(), fd);
}

static void
spare_close(struct callstore *cs)
{
	if (cs->spare_out >= 0)
		close(cs->spare_out);
	if (cs->spare_err >= 0)
		close(cs->spare_err);
	cs->spare_out = cs->spare_err = -1;
	g_clear_pointer(&cs->spare_out_path, g_free);
	g_clear_pointer(&cs->spare_err_path, g_free);
	cs->spare_sent = FALSE;
}

/*
 * A call that ended with its output kept elsewhere gives its memfds back,
 * emptied, for the next call: no memfd made and closed per call, and its
 * worker, told so ("=" before the path), keeps the ones it opened.  The
 * worker never empties them itself: it cannot know whether the call's
 * end will count (a call stopped meanwhile is kept from them here).
 */
static void
spare_put(struct vmnode *vm, struct crec *r)
{
	struct callstore *cs = cs_get(vm);

	/* Both, even one that was empty when its size was taken: what the
	 * call started may have written on until its worker ended it. */
	if (r->out_fd < 0 || r->err_fd < 0 || cs->spare_out >= 0 ||
	    ftruncate(r->out_fd, 0) < 0 || ftruncate(r->err_fd, 0) < 0) {
		crec_close(r);
		return;
	}
	cs->spare_out = r->out_fd;
	cs->spare_err = r->err_fd;
	r->out_fd = r->err_fd = -1;
}

/* The memfds for a call's stdout and stderr, and their paths ("=" first
 * if the worker has them open from its last call); FALSE if none. */
static gboolean
memfds(struct callstore *cs, struct crec *r, char **out, char **err)
{
	const char *same = cs->spare_sent ? "=" : "";

	if (cs->spare_out < 0) {
		r->out_fd = memfd_create("trickle-stdout", MFD_CLOEXEC);
		r->err_fd = memfd_create("trickle-stderr", MFD_CLOEXEC);
		if (r->out_fd < 0 || r->err_fd < 0)
			return FALSE;
		g_free(cs->spare_out_path);
		g_free(cs->spare_err_path);
		cs->spare_out_path = fd_path(r->out_fd);
		cs->spare_err_path = fd_path(r->err_fd);
		same = "";
	} else {
		r->out_fd = cs->spare_out;
		r->err_fd = cs->spare_err;
		cs->spare_out = cs->spare_err = -1;
	}
	/* Given to the worker now; "=" again only while it stays spare. */
	cs->spare_sent = TRUE;
	*out = g_strconcat(same, cs->spare_out_path, NULL);
	*err = g_strconcat(same, cs->spare_err_path, NULL);
	return TRUE;
}

char *
cstore_spec(struct vmnode *vm, guint32 id, const char *func)
{
	struct callstore *cs = cs_get(vm);
	struct crec *r = rec(vm, id);
	g_autofree char *in = NULL, *out = NULL, *err = NULL;
	g_autofree char *store = NULL, *spill = NULL;

	if (!r)
		return NULL;
	in = r->has_dir ? call_path(vm, id, "stdin") : g_strdup("");
	if (*in && access(in, F_OK) < 0)
		in[0] = 0;
	spill = call_path(vm, id, NULL);
	if (!g_hash_table_contains(cs->big, func) &&
	    memfds(cs, r, &out, &err)) {
		store = g_build_filename(vm->dir, "store", NULL);
	} else {
		/* Its own files, as a call expected to be large. */
		crec_close(r);
		spare_close(cs);
		if (!worker_make_call_dir(spill))
			return NULL;
		r->has_dir = r->own_files = TRUE;
		out = call_path(vm, id, "stdout");
		err = call_path(vm, id, "stderr");
		store = g_strdup("");
	}
	return g_strjoin("\n", in, out, err, store, spill, NULL);
}

static guint64
path_size(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 ? (guint64)st.st_size : 0;
}

void
cstore_sizes(struct vmnode *vm, guint32 id, guint64 *out, guint64 *err)
{
	struct crec *r = rec(vm, id);
	struct stat st;

	*out = *err = 0;
	if (!r)
		return;
	if (r->out_fd >= 0) {
		*out = fstat(r->out_fd, &st) == 0 ? (guint64)st.st_size : 0;
		*err = fstat(r->err_fd, &st) == 0 ? (guint64)st.st_size : 0;
	} else if (r->where.stored) {
		*out = r->where.out;
		*err = r->where.err;
	} else if (r->own_files) {
		g_autofree char *o = call_path(vm, id, "stdout");
		g_autofree char *e = call_path(vm, id, "stderr");

		*out = path_size(o);
		*err = path_size(e);
	}
}

gssize
vmnode_call_pread(struct vmnode *vm, guint32 id, guint stream, void *buf,
		  gsize max, guint64 off, int *err)
{
	struct crec *r = rec(vm, id);
	gboolean is_err = stream == WIRE_STDERR;
	ssize_t n;

	*err = 0;
	if (!r) {
		*err = ENOENT;
		return -1;
	}
	if (r->out_fd >= 0) {
		n = pread(is_err ? r->err_fd : r->out_fd, buf, max, off);
	} else if (r->where.stored) {
		guint64 len = is_err ? r->where.err : r->where.out;
		guint64 at = r->where.off + (is_err ? r->where.out : 0);

		if (off >= len)
			return 0;
		if (store_fd(vm) < 0) {
			*err = EIO;
			return -1;
		}
		n = pread(store_fd(vm), buf, MIN(max, len - off), at + off);
	} else if (r->own_files) {
		g_autofree char *p = call_path(vm, id, is_err ? "stderr"
							       : "stdout");
		int fd;
		struct stat st;

		/* A call can put anything at that path: a FIFO would block
		 * the node in open(), a symlink lead out of its directory. */
		fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
		if (fd < 0 && errno == ENOENT && !r->ended)
			return 0;	/* its worker has not made it yet */
		if (fd < 0) {
			*err = errno;
			return -1;
		}
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			*err = EINVAL;
			return -1;
		}
		n = pread(fd, buf, max, off);
		if (n < 0)
			*err = errno;
		close(fd);
		return n;
	} else {
		return 0;	/* queued: nothing yet */
	}
	if (n < 0)
		*err = errno;
	return n;
}

/*
 * Read back from the log where the worker kept call id's output: the
 * place line written with its last end.  Only what was appended since the
 * last look is read (one pread for a call's two lines, not the file's
 * tail each time): the worker's lines for the call that just ended are
 * the newest.  A torn last line is left for the next look.
 */
static gboolean
worker_place(struct vmnode *vm, guint32 id, struct worker_where *w)
{
	struct callstore *cs = cs_get(vm);
	GByteArray *b = cs->logbuf;
	gboolean ended = FALSE;

	if (ended_fd(vm) < 0)
		return FALSE;
	g_byte_array_set_size(b, 0);
	for (;;) {
		guint have = b->len;
		ssize_t n;

		g_byte_array_set_size(b, have + LOG_READ + 1);
		n = pread(vm->ended_fd, b->data + have, LOG_READ,
			  cs->log_seen + have);
		if (n < 0 && errno == EINTR) {
			g_byte_array_set_size(b, have);
			continue;
		}
		g_byte_array_set_size(b, have + MAX(n, 0));
		if (n < LOG_READ)
			break;
	}
	b->data[b->len] = 0;	/* room was left for it */
	cs->log_seen += worker_scan_log((char *)b->data, b->len, id, &ended,
					w);
	return ended && w->stored;
}

void
cstore_end(struct vmnode *vm, guint32 id, guint state, int code,
	   const char *detail, gboolean logged, const char *func)
{
	struct crec *r = rec(vm, id);
	struct worker_where w = { 0 };
	gboolean kept;

	if (!r) {
		cstore_log(vm, id, state, code, detail, NULL);
		return;
	}
	r->ended = TRUE;
	r->state = state;
	r->code = code;
	g_free(r->detail);
	r->detail = g_strdup(detail);
	if (r->out_fd < 0) {		/* its own files, or never ran */
		guint64 out, err;

		if (!logged)
			cstore_log(vm, id, state, code, detail, NULL);
		cstore_sizes(vm, id, &out, &err);
		/* Small again: the next call of it goes to memory. */
		if (r->own_files && func && out + err <= WORKER_STORE_MAX)
			g_hash_table_remove(cs_get(vm)->big, func);
		return;
	}
	if (logged) {
		kept = TRUE;
		if (!worker_place(vm, id, &w))
			r->has_dir = r->own_files = TRUE;
	} else {
		g_autofree char *dir = call_path(vm, id, NULL);

		kept = store_fd(vm) >= 0 &&
		       worker_keep_output(store_fd(vm), dir, r->out_fd,
					  r->err_fd, &w);
		if (!kept)
			g_warning("vm%u: cannot keep the output of call %u: "
				  "%s", vm->index, id, g_strerror(errno));
		else if (!w.stored)
			r->has_dir = r->own_files = TRUE;
		cstore_log(vm, id, state, code, detail, kept ? &w : NULL);
	}
	if (!kept)
		return;		/* read from its memfds while we live */
	r->where = w;
	if (r->own_files && func)
		g_hash_table_add(cs_get(vm)->big, g_strdup(func));
	spare_put(vm, r);
}

gboolean
cstore_ended(struct vmnode *vm, guint32 id, guint *state, int *code,
	     const char **detail)
{
	struct crec *r = rec(vm, id);

	if (!r || !r->ended)
		return FALSE;
	*state = r->state;
	*code = r->code;
	*detail = r->detail ? r->detail : "";
	return TRUE;
}

GList *
cstore_ids(struct vmnode *vm)
{
	return g_hash_table_get_keys(cs_get(vm)->recs);
}

int
cstore_forget(struct vmnode *vm, guint32 id)
{
	struct callstore *cs = cs_get(vm);
	struct crec *r = rec(vm, id);

	if (!r)
		return ENOENT;
	if (r->has_dir) {
		g_autofree char *dir = call_path(vm, id, NULL);

		if (!rm_rf(dir))
			return EIO;
	}
	/* Forgotten, also for a process adopting the session. */
	cstore_log(vm, id, CALL_QUEUED, 0, "forgotten", NULL);
	punch(vm, r);
	g_hash_table_remove(cs->recs, GUINT_TO_POINTER(id));
	if (g_hash_table_size(cs->recs) == 0 && !vm->running) {
		/* Nothing left: both files start again from empty. */
		if ((store_fd(vm) >= 0 && ftruncate(store_fd(vm), 0) < 0) ||
		    (vm->ended_fd >= 0 && ftruncate(vm->ended_fd, 0) < 0))
			g_warning("vm%u: cannot empty the call store: %s",
				  vm->index, g_strerror(errno));
		cs->log_seen = 0;
	}
	return 0;
}

void
cstore_free(struct vmnode *vm)
{
	struct callstore *cs = vm->cstore;

	if (!cs)
		return;
	g_hash_table_unref(cs->recs);
	g_hash_table_unref(cs->big);
	g_byte_array_unref(cs->logbuf);
	spare_close(cs);
	if (cs->store_fd >= 0)
		close(cs->store_fd);
	g_free(cs);
	vm->cstore = NULL;
}
