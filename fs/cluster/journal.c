/*
 * journal.c - the mount's state on disk, so that a mount started again on
 * it (after the daemon crashed, or a clean unmount with -o keep) brings
 * back every call with its id, and the node sessions that hold their
 * output and their running work.
 *
 * The state directory (-o state=DIR; by default
 * $XDG_STATE_HOME/tricklefs/NAME) holds "lock" (one mount at a time),
 * "journal" and "spool/" (.all/inject/'s copies).  The journal is a log
 * of lines, appended as things happen:
 *
 *   V 1                       the format
 *   H LABEL SESSION           a node's session id (the last one counts)
 *   R VM N                    ids up to N of VM may be used: a crash
 *                             never lets an id be given twice
 *   C VM ID RETRIES WORDS     a call forked (WORDS: its argv, quoted;
 *                             RETRIES: a count, then f if failed runs
 *                             count too, i if it waits for a stdin)
 *   N VM ID SIZE              its stdin is whole (spool/stdin.VM.ID)
 *   L VM ID LINE              the line it was forked with (as shown)
 *   A ID VM VMID              .any's call ID went to VM as its call VMID
 *   E VM ID STATE CODE DETAIL a call ended
 *   F VM ID                   a call forgotten (rmdir, keep_calls)
 *   D VM ID                   its result was read (with keep_calls:
 *                             it may be reaped)
 *   S VM ID RUNVM NODE START  a run began (times in microseconds)
 *   X VM ID END OUTCOME       the last run ended
 *   I NAME MODE / U NAME      .all/inject/ installed or removed NAME
 *
 * It is rewritten without the records of forgotten calls (rmdir,
 * keep_calls) as it is opened, and after every COMPACT_AFTER of them,
 * so that a long-lived mount's journal grows with the calls it keeps,
 * not with all it ever ran (see compact()).
 *
 * Fields are tab-separated and escaped (g_strescape).  Lines are written
 * (write(2), so they survive the daemon being killed) at the end of each
 * main-loop iteration that made some, and synced to disk once a second at
 * most.  A torn last line is skipped when read.
 */
#include "cluster.h"
#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#define ID_BLOCK 1000		/* ids reserved per R line */
#define SYNC_MS 1000
#define COMPACT_AFTER 10000	/* calls forgotten between rewrites */

struct journal {
	struct cluster *cl;
	char *dir;
	int fd;
	int lockfd;
	GString *pending;
	guint flush_idle;
	guint sync_timer;
	gboolean dirty;		/* written, not yet synced */
	GHashTable *reserved;	/* VM name -> guint32 upto (ids) */
	guint recovered;	/* calls found in the journal */
	gsize whole;		/* bytes of the journal up to its last
				   whole line */
	guint forgotten;	/* F records in the file */
};

static void compact(struct journal *j);

static void
journal_flush(struct journal *j)
{
	if (!j->pending->len || j->fd < 0)
		return;
	if (fdio_write_all(j->fd, j->pending->str, j->pending->len) < 0)
		g_warning("journal %s: %s: a remount may not recover the "
			  "latest calls", j->dir, g_strerror(errno));
	g_string_truncate(j->pending, 0);
	j->dirty = TRUE;
}

static gboolean
on_sync(gpointer data)
{
	struct journal *j = data;

	j->sync_timer = 0;
	journal_flush(j);
	if (j->dirty && j->fd >= 0)
		fdatasync(j->fd);
	j->dirty = FALSE;
	return G_SOURCE_REMOVE;
}

static gboolean
on_idle(gpointer data)
{
	struct journal *j = data;

	j->flush_idle = 0;
	journal_flush(j);
	if (j->forgotten >= COMPACT_AFTER)
		compact(j);
	if (!j->sync_timer)
		j->sync_timer = g_timeout_add(SYNC_MS, on_sync, j);
	return G_SOURCE_REMOVE;
}

/* Append a record: type, then the fields (NULL-terminated). */
static void
put(struct journal *j, const char *type, ...)
{
	va_list ap;
	const char *f;

	if (!j)
		return;
	g_string_append(j->pending, type);
	va_start(ap, type);
	while ((f = va_arg(ap, const char *))) {
		g_autofree char *e = g_strescape(f, NULL);

		g_string_append_c(j->pending, '\t');
		g_string_append(j->pending, e);
	}
	va_end(ap);
	g_string_append_c(j->pending, '\n');
	/* At default priority: an idle would starve while the mount is
	 * busy. */
	if (!j->flush_idle)
		j->flush_idle = g_timeout_add_full(G_PRIORITY_DEFAULT, 0,
						   on_idle, j, NULL);
}

#define U(n) g_strdup_printf("%u", (guint)(n))

/* ---------------------------------------------------------- recording */

guint32
journal_next_id(struct vm *vm)
{
	struct journal *j = vm->fs->journal;
	guint32 id = vm->last_call + 1;
	guint32 upto;

	if (!j)
		return id;
	upto = GPOINTER_TO_UINT(g_hash_table_lookup(j->reserved, vm->name));
	if (id > upto) {
		g_autofree char *n = U(id - 1 + ID_BLOCK);

		g_hash_table_insert(j->reserved, g_strdup(vm->name),
				    GUINT_TO_POINTER(id - 1 + ID_BLOCK));
		put(j, "R", vm->name, n, NULL);
		/* Before the id is handed out, not when idle. */
		journal_flush(j);
	}
	return id;
}

void
journal_host(struct host *h)
{
	put(h->fs->journal, "H", h->label, h->session, NULL);
}

void
journal_fork(struct call *c)
{
	struct journal *j = c->vm->fs->journal;
	g_autofree char *id = NULL, *retries = NULL, *words = NULL;
	GString *w;
	char **a;

	if (!j)
		return;
	id = U(c->id);
	put(j, "L", c->vm->name, id, c->args ? c->args : "", NULL);
	if (!c->argv)
		return;		/* a .any call's VM half: A says what */
	w = g_string_new(NULL);
	for (a = c->argv; *a; a++) {
		g_autofree char *q = g_shell_quote(*a);

		g_string_append_printf(w, "%s%s", w->len ? " " : "", q);
	}
	words = g_string_free(w, FALSE);
	retries = g_strdup_printf("%u%s%s", c->retries,
				  c->retry_failed ? "f" : "",
				  c->stdin_state != STDIN_NONE ? "i" : "");
	put(j, "C", c->vm->name, id, retries, words, NULL);
}

void
journal_stdin(struct call *c)
{
	g_autofree char *id = NULL, *size = NULL;

	if (!c->vm->fs->journal)
		return;
	id = U(c->id);
	size = g_strdup_printf("%" G_GUINT64_FORMAT, c->stdin_size);
	put(c->vm->fs->journal, "N", c->vm->name, id, size, NULL);
}

void
journal_sent(struct call *a)
{
	g_autofree char *id = NULL, *vmid = NULL;

	if (!a->real || !a->vm->fs->journal)
		return;
	id = U(a->id);
	vmid = U(a->real->id);
	put(a->vm->fs->journal, "A", id, a->real->vm->name, vmid, NULL);
}

void
journal_end(struct call *c)
{
	g_autofree char *id = NULL, *st = NULL, *code = NULL;

	if (!c->vm->fs->journal)
		return;
	id = U(c->id);
	st = U(c->state);
	code = g_strdup_printf("%d", c->code);
	put(c->vm->fs->journal, "E", c->vm->name, id, st, code,
	    c->detail ? c->detail : "", NULL);
}

void
journal_forget(struct call *c)
{
	g_autofree char *id = NULL;

	if (!c->vm->fs->journal)
		return;
	id = U(c->id);
	put(c->vm->fs->journal, "F", c->vm->name, id, NULL);
	c->vm->fs->journal->forgotten++;
}

void
journal_read(struct call *c)
{
	g_autofree char *id = NULL;

	if (!c->vm->fs->journal)
		return;
	id = U(c->id);
	put(c->vm->fs->journal, "D", c->vm->name, id, NULL);
}

void
journal_attempt(struct call *c)
{
	struct journal *j = c->vm->fs->journal;
	const struct attempt *a;
	g_autofree char *id = NULL, *t = NULL;

	if (!j || !c->attempts || !c->attempts->len)
		return;
	a = c->attempts->pdata[c->attempts->len - 1];
	id = U(c->id);
	if (!a->end) {
		t = g_strdup_printf("%" G_GINT64_FORMAT, a->start);
		put(j, "S", c->vm->name, id, a->vm, a->node, t, NULL);
	} else {
		t = g_strdup_printf("%" G_GINT64_FORMAT, a->end);
		put(j, "X", c->vm->name, id, t, a->outcome, NULL);
	}
}

void
journal_all_inject(struct cluster *cl, const char *name, mode_t mode,
		   gboolean installed)
{
	g_autofree char *m = g_strdup_printf("%o", (guint)mode);

	if (installed)
		put(cl->journal, "I", name, m, NULL);
	else
		put(cl->journal, "U", name, NULL);
}

/* ---------------------------------------------------------- replaying */

struct replay_state {
	struct cluster *cl;
	guint lines, bad;
	guint absent;		/* records of VMs not mounted this time */
	guint calls;
};

static struct vm *
vm_by_name(struct cluster *cl, const char *name)
{
	if (strcmp(name, ".any") == 0)
		return cl->any;
	return cluster_vm_named(cl, name);
}

static gboolean
parse_u32(const char *s, guint32 *out)
{
	char *end;
	guint64 v;

	if (!s || !*s)
		return FALSE;
	v = g_ascii_strtoull(s, &end, 10);
	if (*end || v > G_MAXUINT32)
		return FALSE;
	*out = v;
	return TRUE;
}

/* A call as the journal knew it, in vm's table, not sent anywhere. */
static struct call *
restore_call(struct vm *vm, guint32 id)
{
	struct call *c = vm_call(vm, id);

	if (!c)
		c = call_restore(vm, id);
	if (id > vm->last_call)
		vm->last_call = id;
	return c;
}

static void
replay_line(struct replay_state *rs, char **f, guint n)
{
	struct cluster *cl = rs->cl;
	struct journal *j = cl->journal;
	struct vm *vm = NULL;
	struct call *c;
	guint32 id = 0, x;
	guint i;

	if (!f[0][0] || f[0][1]) {
		rs->bad++;	/* not a record type: a torn line */
		return;
	}
	if (strchr("RCLEFSXND", f[0][0])) {
		if (n < 3 || !parse_u32(f[2], &id) || id == 0 ||
		    id > G_MAXUINT32 - ID_BLOCK) {
			rs->bad++;
			return;
		}
		if (!(vm = vm_by_name(cl, f[1]))) {
			rs->absent++;	/* a VM not mounted this time */
			return;
		}
	}
	switch (f[0][0]) {
	case 'V':
		return;
	case 'H':
		if (n < 3)
			break;
		for (i = 0; i < cl->hosts->len; i++) {
			struct host *h = cl->hosts->pdata[i];

			if (strcmp(h->label, f[1]) == 0 &&
			    strlen(f[2]) < sizeof(h->session))
				host_resume_session(h, f[2]);
		}
		return;
	case 'R':
		if (n < 3)
			break;
		if (id > GPOINTER_TO_UINT(g_hash_table_lookup(j->reserved,
							      vm->name)))
			g_hash_table_insert(j->reserved, g_strdup(vm->name),
					    GUINT_TO_POINTER(id));
		if (id > vm->last_call)
			vm->last_call = id;
		return;
	case 'L':
		if (n < 4)
			break;
		c = restore_call(vm, id);
		g_free(c->args);
		c->args = g_strdup(f[3]);
		rs->calls++;
		return;
	case 'C': {
		g_auto(GStrv) argv = NULL;
		char *end;

		if (n < 5 || !g_shell_parse_argv(f[4], NULL, &argv, NULL))
			break;
		c = restore_call(vm, id);
		g_strfreev(c->argv);
		c->argv = g_steal_pointer(&argv);
		c->retries = MIN(strtoul(f[3], &end, 10), 100);
		c->retry_failed = strchr(end, 'f') != NULL;
		if (strchr(end, 'i') && c->stdin_state == STDIN_NONE)
			c->stdin_state = STDIN_OPEN;
		return;
	}
	case 'N':
		if (n < 4 || !(c = vm_call(vm, id)))
			break;
		c->stdin_state = STDIN_CLOSED;
		c->stdin_size = g_ascii_strtoull(f[3], NULL, 10);
		return;
	case 'A': {
		struct vm *to;
		struct call *real;

		if (n < 4 || !parse_u32(f[1], &id) || !parse_u32(f[3], &x) ||
		    !id || !x || id > G_MAXUINT32 - ID_BLOCK ||
		    x > G_MAXUINT32 - ID_BLOCK)
			break;
		c = restore_call(cl->any, id);
		if (!(to = vm_by_name(cl, f[2])) || !to->host) {
			/* Sent to a VM not mounted this time (a discovered
			 * node not found yet): it may still run there, so it
			 * is not queued again; it fails, named. */
			g_free(c->where);
			c->where = g_strdup(f[2]);
			c->absent = TRUE;
			rs->absent++;
			return;
		}
		real = restore_call(to, x);
		if (c->real)
			c->real->any = NULL;
		if (real->any && real->any != c)
			real->any->real = NULL;
		c->real = real;
		real->any = c;
		c->absent = FALSE;
		g_free(c->where);
		c->where = g_strdup(to->name);
		return;
	}
	case 'E':
		if (n < 6 || !(c = vm_call(vm, id)) ||
		    !parse_u32(f[3], &x) || x < CALL_DONE ||
		    x >= CALL_STATE_MAX)
			break;
		call_set_state(c, x, f[5]);
		c->code = atoi(f[4]);
		g_clear_pointer(&c->argv, g_strfreev);
		vm->ended[x]++;
		return;
	case 'F':
		if ((c = vm_call(vm, id)))
			call_restore_drop(c);
		j->forgotten++;
		return;
	case 'D':
		if ((c = vm_call(vm, id)))
			c->was_read = TRUE;
		return;
	case 'S':
		if (n < 6 || !(c = vm_call(vm, id)))
			break;
		call_attempt_add(c, f[3], f[4], g_ascii_strtoll(f[5], NULL,
								10));
		return;
	case 'X':
		if (n < 5 || !(c = vm_call(vm, id)))
			break;
		call_attempt_close(c, g_ascii_strtoll(f[3], NULL, 10), f[4]);
		return;
	case 'I':
		if (n < 3 || !parse_u32(f[2], &x))
			break;
		vm_injected_add(cl->all, f[1], 0)->installed = TRUE;
		((struct injected *)g_hash_table_lookup(cl->all->injected,
							f[1]))->mode =
			strtoul(f[2], NULL, 8) & 07777;
		return;
	case 'U': {
		struct injected *inj;

		if (n >= 2 && (inj = g_hash_table_lookup(cl->all->injected,
							 f[1])))
			vm_injected_remove(cl->all, inj);
		return;
	}
	default:
		break;
	}
	rs->bad++;
}

static gboolean
replay(struct journal *j, GError **error)
{
	g_autofree char *path = g_build_filename(j->dir, "journal", NULL);
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	struct replay_state rs = { .cl = j->cl };
	gsize len;
	char **l;

	if (!g_file_get_contents(path, &text, &len, NULL))
		return TRUE;	/* a new state */
	j->whole = len;
	while (j->whole && text[j->whole - 1] != '\n')
		j->whole--;
	lines = g_strsplit(text, "\n", -1);
	for (l = lines; *l; l++) {
		g_auto(GStrv) raw = NULL;
		g_autoptr(GPtrArray) f = NULL;
		guint i;

		if (!**l || (!l[1] && text[len - 1] != '\n'))
			continue;	/* the empty tail, or a torn line */
		raw = g_strsplit(*l, "\t", -1);
		f = g_ptr_array_new_with_free_func(g_free);
		for (i = 0; raw[i]; i++)
			g_ptr_array_add(f, i ? g_strcompress(raw[i])
					     : g_strdup(raw[i]));
		g_ptr_array_add(f, NULL);
		rs.lines++;
		if (((char **)f->pdata)[0][0])
			replay_line(&rs, (char **)f->pdata, f->len - 1);
	}
	if (rs.bad)
		g_warning("journal %s: %u of %u records not understood",
			  j->dir, rs.bad, rs.lines);
	if (rs.absent)
		g_warning("journal %s: %u records of VMs not mounted now (a "
			  "discovered node not found yet?): not recovered",
			  j->dir, rs.absent);
	if (rs.calls)
		g_message("state %s: %u calls recovered", j->dir, rs.calls);
	j->recovered = rs.calls;
	reap_recovered(j->cl);
	return TRUE;
}

/* ---------------------------------------------------------- the whole */

char *
journal_default_dir(const char *name)
{
	g_autofree char *esc = NULL;
	const char *p;
	GString *s = g_string_new(NULL);

	/* /mnt/t -> mnt-t, as systemd names mount units, kept readable. */
	for (p = name; *p == '/'; p++)
		;
	for (; *p; p++) {
		if (*p == '/')
			g_string_append_c(s, '-');
		else if (g_ascii_isalnum(*p) || strchr("._", *p))
			g_string_append_c(s, *p);
		else
			g_string_append_printf(s, "\\x%02x", (guchar)*p);
	}
	if (!s->len)
		g_string_append_c(s, '-');
	esc = g_string_free(s, FALSE);
	return g_build_filename(g_get_user_state_dir(), "tricklefs", esc,
				NULL);
}

gboolean
journal_open(struct cluster *cl, const char *dir, GError **error)
{
	struct journal *j;
	g_autofree char *lock = NULL, *path = NULL;

	if (g_mkdir_with_parents(dir, 0700) < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
			    "state %s: %s", dir, g_strerror(errno));
		return FALSE;
	}
	j = g_new0(struct journal, 1);
	j->cl = cl;
	j->dir = g_strdup(dir);
	j->fd = -1;
	j->whole = (gsize)-1;	/* nothing read: nothing to cut */
	j->pending = g_string_new(NULL);
	j->reserved = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					    NULL);
	lock = g_build_filename(dir, "lock", NULL);
	j->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->lockfd < 0 || flock(j->lockfd, LOCK_EX | LOCK_NB) < 0) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_EXIST,
			    "state %s is in use by another tricklefs (or "
			    "give another -o state= or -o name=)", dir);
		journal_close(j, FALSE);
		return FALSE;
	}
	cl->journal = j;
	replay(j, error);
	path = g_build_filename(dir, "journal", NULL);
	j->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	/* A torn last line (a crash mid-write) goes, so that what is
	 * appended now starts a line of its own. */
	if (j->fd >= 0 && j->whole != (gsize)-1 &&
	    ftruncate(j->fd, j->whole) < 0)
		g_warning("journal %s: %s", path, g_strerror(errno));
	if (j->fd < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
			    "state %s: %s", path, g_strerror(errno));
		cl->journal = NULL;
		journal_close(j, FALSE);
		return FALSE;
	}
	put(j, "V", "1", NULL);
	journal_flush(j);
	if (j->forgotten)	/* the last mount's, once per mount */
		compact(j);
	return TRUE;
}

/* The "VM\tID" a call's record is about (escaped as written), or NULL
 * for a record of no call.  any: .any's name, escaped. */
static char *
record_key(const char *line, const char *any)
{
	const char *id, *end;

	if (!line[0] || line[1] != '\t')
		return NULL;
	if (line[0] == 'A') {		/* A ID VM VMID: .any's call ID */
		end = strchr(line + 2, '\t');
		return end ? g_strdup_printf("%s\t%.*s", any,
					     (int)(end - line - 2), line + 2)
			   : NULL;
	}
	if (!strchr("CLEFSXND", line[0]) || !(id = strchr(line + 2, '\t')))
		return NULL;
	end = strchr(id + 1, '\t');
	return end ? g_strndup(line + 2, end - line - 2) : g_strdup(line + 2);
}

/*
 * Rewrite the journal without the records of forgotten calls (and their
 * F records): what a replay makes of it is the same, since ids are never
 * given twice.  Written beside it, synced, renamed over it.  A failure
 * leaves the old journal, whole, in use.
 */
static void
compact(struct journal *j)
{
	g_autofree char *path = g_build_filename(j->dir, "journal", NULL);
	g_autofree char *tmp = g_build_filename(j->dir, "journal.new", NULL);
	g_autofree char *text = NULL, *any = NULL;
	g_autoptr(GHashTable) gone = NULL;
	g_autoptr(GString) out = NULL;
	char *line, *next, *end;
	gsize len;
	guint dropped = 0;
	int fd;

	j->forgotten = 0;
	journal_flush(j);
	if (!g_file_get_contents(path, &text, &len, NULL))
		return;
	any = g_strescape(j->cl->any ? j->cl->any->name : ".any", NULL);
	gone = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (line = text; (next = strchr(line, '\n')); line = next + 1) {
		*next = 0;
		char *key = line[0] == 'F' ? record_key(line, any) : NULL;

		if (key)
			g_hash_table_add(gone, key);
	}
	end = line;	/* past the last whole line */
	out = g_string_sized_new(len / 2);
	for (line = text; line < end; line += strlen(line) + 1) {
		g_autofree char *key = record_key(line, any);

		if (line[0] == 'F' || (key && g_hash_table_contains(gone, key)))
			dropped++;
		else if (*line)
			g_string_append_printf(out, "%s\n", line);
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || fdio_write_all(fd, out->str, out->len) < 0 ||
	    fdatasync(fd) < 0 || rename(tmp, path) < 0) {
		g_warning("journal %s: cannot rewrite it: %s", j->dir,
			  g_strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return;
	}
	close(fd);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0) {
		g_warning("journal %s: %s", path, g_strerror(errno));
		return;		/* appends go to the old, unlinked file */
	}
	close(j->fd);
	j->fd = fd;
	g_debug("journal %s: rewritten, %u records of forgotten calls "
		"left out (%" G_GSIZE_FORMAT " -> %" G_GSIZE_FORMAT " bytes)",
		j->dir, dropped, len, out->len);
}

guint
journal_recovered(struct cluster *cl)
{
	return cl->journal ? cl->journal->recovered : 0;
}

const char *
journal_dir(struct cluster *cl)
{
	return cl->journal ? cl->journal->dir : NULL;
}

void
journal_close(struct journal *j, gboolean remove)
{
	if (!j)
		return;
	if (j->flush_idle)
		g_source_remove(j->flush_idle);
	if (j->sync_timer)
		g_source_remove(j->sync_timer);
	journal_flush(j);
	if (j->fd >= 0) {
		if (!remove)
			fdatasync(j->fd);
		close(j->fd);
	}
	if (remove) {
		g_autofree char *path = g_build_filename(j->dir, "journal",
							 NULL);
		g_autofree char *lock = g_build_filename(j->dir, "lock", NULL);

		unlink(path);
		unlink(lock);
		rmdir(j->dir);	/* the spool went before, if empty */
	}
	if (j->lockfd >= 0)
		close(j->lockfd);
	g_hash_table_unref(j->reserved);
	g_string_free(j->pending, TRUE);
	g_free(j->dir);
	g_free(j);
}
