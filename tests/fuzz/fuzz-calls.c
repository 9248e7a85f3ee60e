/*
 * fuzz-calls.c - libFuzzer target for a call's line, from what is
 * written to VM/calls/new to the argv and environment the worker runs.
 *
 * The input is what a user writes to calls/new.  Each line goes the way
 * a call goes:
 *
 *   1. the mount splits it: lines, blanks stripped, at most MAX_LINE
 *      bytes, shell quoting (fs/tree/fscalls.c's parse_lines(), which is
 *      static and tied to FUSE: its steps are followed here, see below);
 *   2. the mount takes its own options off (TRICKLE_RETRIES=N,
 *      TRICKLE_RETRIES_ON_FAILURE=0|1, TRICKLE_STDIN=0|1: call_options() in
 *      fs/cluster/runs.c, on a call of a VM made up for it);
 *   3. the words go to the node as a WIRE_CALL frame, encoded as
 *      send_call() does, and decoded again;
 *   4. the node takes NAME=VALUE words and TRICKLE_TIMEOUT off
 *      (vmcalls.c's parse_call(), static: reached through vmnode_call()
 *      on a VM made up for it, whose worker is a socket read here) and
 *      either fails the call with a reason, or sends the worker W_RUN.
 *
 * Checked: the mount's options are only ever words it took off, its
 * retries at most 100; the frame decodes to the words sent; a call the
 * node takes reaches the worker as env + argv equal to the words less
 * the node's options (TRICKLE_TIMEOUT; TRICKLE_MEMORY and TRICKLE_CPU
 * are passed on as plain numbers), every env word NAME=VALUE with NAME
 * an identifier, argv[0] not such a word; one it refuses gets a reason.
 *
 * And the mount takes its options off only where the node sees options
 * too (leading NAME=VALUE words, NAME an identifier).  Two bugs this
 * found are fixed, their inputs kept as seeds: a line that was not UTF-8
 * killed the mount in g_variant_new_strv() (parse_lines() refuses it
 * now), and "a-b=1 TRICKLE_RETRIES=2 x" lost an argument.
 */
#include "fuzz-util.h"
#include "cluster.h"
#include "vm_priv.h"

#include <errno.h>
#include <string.h>
#include <glib-unix.h>
#include <sys/socket.h>
#include <unistd.h>

/* fscalls.c's limit on a line. */
#define MAX_LINE (WIRE_MAX_BODY / 2)

static struct vmnode *vm;
static int worker_fd = -1;		/* the worker's end */
static struct cluster cl;
static struct vm cvm;

/* What the node told the client about the call. */
static struct {
	guint state;
	char *detail;
	guint frames;
} told;

static void
to_client(void *data, guint type, guint index, guint32 tag, GVariant *body)
{
	g_autoptr(GVariant) b = g_variant_ref_sink(body);
	const char *detail;
	guint8 state;
	gint32 code;
	guint64 out, err;

	CHECK(type == WIRE_CALL_STATE);
	g_variant_get(b, "(y&sitt)", &state, &detail, &code, &out, &err);
	told.state = state;
	g_free(told.detail);
	told.detail = g_strdup(detail);
	told.frames++;
}

static void
to_client_bytes(void *data, guint type, guint index, guint32 tag,
		const void *bytes, gsize len)
{
	CHECK(!"no bytes for the client here");
}

/* The node's cores: one slot for this VM alone, always there. */
static gboolean slot_take(void *data, guint vm) { return TRUE; }
static gboolean slot_give(void *data, guint vm, gboolean more) { return more; }
static void slot_drop(void *data, guint vm) { }
static char *slot_why(void *data) { return g_strdup("waiting for a core"); }

static void
worker_data(void *user, const guint8 *data, gsize len)
{
}

static void
worker_closed(void *user, const GError *error)
{
}

static const struct fdstream_callbacks worker_cb = {
	.data = worker_data,
	.closed = worker_closed,
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static struct vmhost host = {
		.send = to_client,
		.send_bytes = to_client_bytes,
		.slot_take = slot_take,
		.slot_give = slot_give,
		.slot_drop = slot_drop,
		.slot_why = slot_why,
	};
	int sv[2];

	fuzz_init(NULL);

	/* The mount's side: a VM of a cluster with 3 retries by default. */
	cl.opt.retries = 3;
	cvm.fs = &cl;
	cvm.name = "a";

	/* The node's side: a VM with nothing injected, no worker process,
	 * and a socket for the worker's end of its stream. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	host.dir = fuzz_tmpdir();
	vm = g_new0(struct vmnode, 1);
	vm->host = &host;
	vm->dir = g_build_filename(host.dir, "vm0", NULL);
	vm->calls_dir = g_build_filename(vm->dir, "calls", NULL);
	vm->inject_dir = g_build_filename(vm->dir, "inject", NULL);
	vm->data_dir = g_build_filename(vm->dir, "data", NULL);
	if (g_mkdir_with_parents(vm->calls_dir, 0700) < 0 ||
	    g_mkdir_with_parents(vm->inject_dir, 0700) < 0 ||
	    g_mkdir_with_parents(vm->data_dir, 0700) < 0)
		abort();
	vm->ended_fd = -1;
	vm->wframe = g_byte_array_new();
	vm->ws = fdstream_new(sv[0], sv[0], &worker_cb, NULL);
	vm->libs = g_ptr_array_new();
	vm->programs = g_hash_table_new(g_str_hash, g_str_equal);
	vm->lib_funcs = g_hash_table_new(g_str_hash, g_str_equal);
	vm->env = g_ptr_array_new();
	g_queue_init(&vm->queue);
	worker_fd = sv[1];
	g_unix_set_fd_nonblocking(worker_fd, TRUE, NULL);
	return 0;
}

/* NAME=VALUE, NAME a shell identifier. */
static gboolean
assignment(const char *w)
{
	if (!g_ascii_isalpha(*w) && *w != '_')
		return FALSE;
	while (g_ascii_isalnum(*w) || *w == '_')
		w++;
	return *w == '=';
}

static gboolean
mount_option(const char *w)
{
	return g_str_has_prefix(w, "TRICKLE_RETRIES=") ||
	       g_str_has_prefix(w, "TRICKLE_RETRIES_ON_FAILURE=") ||
	       g_str_has_prefix(w, "TRICKLE_STDIN=");
}

static gboolean
all_utf8(char **v)
{
	for (; *v; v++)
		if (!g_utf8_validate(*v, -1, NULL))
			return FALSE;
	return TRUE;
}

/* 2: the mount's options; the words left, or NULL. */
static char **
mount_side(char **argv)
{
	struct call c = { .vm = &cvm };
	g_autofree char *why = NULL;
	char **words = call_options(&c, argv, &why);
	guint i, k;

	if (!words) {
		CHECK(why && *why);
		return NULL;
	}
	CHECK(!why);
	CHECK(c.retries <= 100);
	/* words is argv less some of the mount's options. */
	for (i = k = 0; argv[i]; i++) {
		if (words[k] && strcmp(words[k], argv[i]) == 0) {
			k++;
			continue;
		}
		CHECK(mount_option(argv[i]));
		/* The node would see it as an option too: every word before
		 * it is NAME=VALUE. */
		for (guint j = 0; j < i; j++)
			CHECK(assignment(argv[j]));
	}
	CHECK(!words[k]);
	return words;
}

/* 3: the frame send_call() makes, and what the node decodes of it. */
static char **
over_the_wire(char **words)
{
	g_autoptr(GByteArray) f = g_byte_array_new();
	struct wire_decoder d;
	struct wire_msg m;
	g_autoptr(GError) error = NULL;
	char **got;

	CHECK(wire_encode(f, WIRE_CALL, 0, 1,
			  g_variant_new_strv((const char *const *)words, -1)));
	wire_decoder_init(&d);
	wire_decoder_feed(&d, f->data, f->len);
	CHECK(wire_decoder_next(&d, &m, &error) == 1);
	CHECK(m.type == WIRE_CALL && m.tag == 1);
	got = g_variant_dup_strv(m.body, NULL);
	wire_msg_clear(&m);
	CHECK(wire_decoder_next(&d, &m, &error) == 0);
	wire_decoder_clear(&d);
	CHECK(g_strv_equal((const char *const *)got,
			   (const char *const *)words));
	return got;
}

/* The W_RUN frame the worker got, if any: its argv and env. */
static gboolean
worker_got(char ***argv, char ***env)
{
	struct wire_decoder d;
	struct wire_msg m;
	g_autoptr(GError) error = NULL;
	guint8 buf[65536];
	ssize_t n;
	gboolean got = FALSE;

	CHECK(fdstream_flush(vm->ws, 1000));
	wire_decoder_init(&d);
	while ((n = read(worker_fd, buf, sizeof(buf))) > 0)
		wire_decoder_feed(&d, buf, n);
	CHECK(n < 0 && errno == EAGAIN);
	while (wire_decoder_next(&d, &m, &error) == 1) {
		const char *dir, *ended, *prog;

		CHECK(!got && m.type == WIRE_W_RUN && m.tag == 1);
		g_variant_get(m.body, "(&s&s&s^as^as)", &dir, &ended, &prog,
			      argv, env);
		wire_msg_clear(&m);
		got = TRUE;
	}
	CHECK(!error);
	wire_decoder_clear(&d);
	return got;
}

/* 4: the node's parse_call(), through vmnode_call(). */
static void
node_side(char **words)
{
	g_auto(GStrv) argv = NULL, env = NULL;
	g_autofree char *dir = g_build_filename(vm->calls_dir, "1", NULL);
	guint i, k, lead;

	told.frames = 0;
	vmnode_call(vm, 1, words);
	if (worker_got(&argv, &env)) {
		CHECK(told.frames == 1 && told.state == CALL_RUNNING);
		CHECK(argv[0] && !assignment(argv[0]));
		/* env + argv == words, less the node's options: the
		 * leading NAME=VALUE words in order, but for TRICKLE_ ones.
		 * Of those, only the worker's limits are passed on, as plain
		 * non-zero numbers; TRICKLE_TIMEOUT is the node's own. */
		for (lead = 0; words[lead] && assignment(words[lead]); lead++)
			;
		for (i = k = 0; env[i]; i++) {
			const char *v = strchr(env[i], '=') + 1;

			CHECK(assignment(env[i]));
			if (!g_str_has_prefix(env[i], "TRICKLE_")) {
				while (k < lead &&
				       g_str_has_prefix(words[k], "TRICKLE_"))
					k++;
				CHECK(k < lead && strcmp(env[i], words[k]) == 0);
				k++;
				continue;
			}
			/* The VM's name and the working directory go to the
			 * worker as they were written. */
			if (g_str_has_prefix(env[i], "TRICKLE_VM=") ||
			    g_str_has_prefix(env[i], "TRICKLE_WORKDIR=")) {
				gboolean found = FALSE;

				for (guint w = 0; w < lead; w++)
					found |= strcmp(words[w], env[i]) == 0;
				CHECK(found);
				continue;
			}
			CHECK(g_str_has_prefix(env[i], "TRICKLE_MEMORY=") ||
			      g_str_has_prefix(env[i], "TRICKLE_CPU="));
			CHECK(*v && *v != '0' && strspn(v, "0123456789") ==
			      strlen(v));
		}
		for (; k < lead; k++)
			CHECK(g_str_has_prefix(words[k], "TRICKLE_"));
		CHECK(g_strv_equal((const char *const *)argv,
				   (const char *const *)words + lead));
	} else {
		CHECK(told.frames == 1 && told.state == CALL_FAILED);
		CHECK(told.detail && *told.detail);
	}
	vmcalls_clear(vm);
	if (vm->ended_fd >= 0 && ftruncate(vm->ended_fd, 0) < 0)
		abort();
	fuzz_rm_rf(dir);
}

/* 1: fscalls.c's parse_lines(), less what needs a mount: its lines are
 * split at '\n', stripped, blank ones skipped, long ones refused, and
 * the rest split with shell rules; a line that fails is refused. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	/* calls/new refuses a write holding a NUL. */
	if (memchr(data, '\0', size))
		return 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		g_autofree char *line = g_strndup(p, (nl ? nl : end) - p);
		g_auto(GStrv) argv = NULL, words = NULL, got = NULL;

		p = nl ? nl + 1 : end;
		g_strstrip(line);
		if (!*line || strlen(line) > MAX_LINE ||
		    !g_shell_parse_argv(line, NULL, &argv, NULL))
			continue;
		CHECK(argv[0]);
		if (!all_utf8(argv))
			continue;	/* parse_lines() refuses the line */
		if (!(words = mount_side(argv)))
			continue;
		got = over_the_wire(words);
		node_side(got);
	}
	return 0;
}
