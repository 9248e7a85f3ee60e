/*
 * map_opts.c - trickle-map's command line: its options, GNU parallel's
 * that it takes, and those it refuses with the reason (rather than
 * "unrecognized option", or taking the option's argument for FUNC).
 */
#include <dirent.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "wire.h"

static const char *prog = "trickle-map";

#define USAGE_LINE "usage: %s [OPTION]... FUNC [ARG]... " \
	"[::: ITEM... | :::: FILE...]\n"

static void
usage(FILE *f)
{
	fprintf(f, USAGE_LINE
"Fork FUNC ARG... with every item (a line of stdin, or the words after :::\n"
"or the lines of FILEs after ::::) on a tricklefs mount, many at a time.\n"
"\n"
"  -C, --mount MOUNT      the mount (default: $TRICKLE_MOUNT)\n"
"      --vm VM            every call on VM instead of MOUNT/.any\n"
"  -n, --max-args N       items per call (1)\n"
"  -j, --jobs N           calls outstanding at most (4 per VM, at least 8)\n"
"  -k, --keep-order       output in input order (also --ordered)\n"
"  -a, --arg-file FILE    items from FILE (as :::: FILE)\n"
"  -0, --null             items end with NUL, not newline\n"
"      --tag              prefix output lines with the item and a tab\n"
"      --timeout S        stop a call after S seconds (Exitval 124)\n"
"      --retries N        run a failed or lost call up to N times in all\n"
"      --workdir DIR      run the calls in DIR (. is this directory)\n"
"      --pipe             stdin cut into blocks, each a call's stdin\n"
"      --block SIZE       --pipe's block: bytes, or with k, M, G (1M)\n"
"      --transferfile FILE, --tf FILE\n"
"                         copy FILE (with {}...) to the VM's data/ first\n"
"      --transfer         --transferfile {}\n"
"      --return FILE      copy FILE back from data/ after the call\n"
"      --cleanup          then remove those files from data/\n"
"      --trc FILE         --transfer --return FILE --cleanup\n"
"      --joblog FILE      a line per call (- stdout, +FILE appends)\n"
"      --resume           skip the jobs the joblog has\n"
"      --resume-failed    ... but run those that failed again\n"
"      --halt WHEN,WHAT=N stop after N (or N%%) failed/succeeded/done jobs:\n"
"                         WHEN soon (let running calls end) or now\n"
"      --dry-run          print the call lines, fork nothing\n"
"      --bar              progress on stderr (default on a terminal)\n"
"  -h, --help             this help, then exit\n"
"      --version          the version, then exit\n"
"\n"
"FUNC ARG... may hold {} {.} {/} {//} {/.} {#} {N}: the items go there.\n"
"See trickle-map(1), which lists GNU parallel's options and how they differ.\n",
		prog);
}

static _Noreturn void G_GNUC_PRINTF(1, 2)
opt_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(TC_EXIT_OTHER);
}

static _Noreturn void
usage_error(void)
{
	fprintf(stderr, USAGE_LINE "Try '%s --help' for more.\n", prog,
		prog);
	exit(TC_EXIT_OTHER);
}

/* GNU parallel options that have no place here, and why. */
enum {
	R_PIPE, R_SSH, R_TRANSFER, R_OUTPUT, R_ARGS, R_DELIM, R_ENV,
	R_RETRY_FAILED, R_SCHED,
};

static const char *const refusals[] = {
	[R_PIPE] = "not built: --pipe cuts stdin into blocks of whole lines "
		"(--block SIZE), a call's stdin each",
	[R_SSH] = "nodes are chosen by the mount; use -C MOUNT (--vm VM "
		"for one VM; trickle-run --all for every VM)",
	[R_TRANSFER] = "not built: copy files every call needs to "
		"MOUNT/.all/data/ once (--transferfile copies a call's own)",
	[R_OUTPUT] = "a call's output comes in one piece when it ends (tail "
		"-f MOUNT/VM/calls/N/stdout follows one)",
	[R_ARGS] = "not built; use -n N with {} (and {N} for the Nth "
		"value)",
	[R_DELIM] = "items end with newline, or NUL with -0",
	[R_ENV] = "give NAME=VALUE words before FUNC: they set the calls' "
		"environment",
	[R_RETRY_FAILED] = "not built; run the same command and input "
		"with --resume-failed",
	[R_SCHED] = "the mount schedules calls: .any runs each on the first "
		"VM with room",
};

enum {
	O_VM = 1000, O_JOBLOG, O_HALT, O_BAR, O_VERSION, O_RETRIES,
	O_RESUME, O_RESUME_FAILED, O_TAG, O_TIMEOUT, O_DRY_RUN, O_WORKDIR,
	O_NOOP, O_TF, O_TRANSFER, O_RETURN, O_CLEANUP, O_TRC, O_PIPE,
	O_BLOCK,
	O_REFUSE = 2000,	/* + a refusals[] index */
};

#define REFUSE(name, arg, why) { name, arg, NULL, O_REFUSE + (why) }

static const struct option opts[] = {
	{ "mount", required_argument, NULL, 'C' },
	{ "vm", required_argument, NULL, O_VM },
	{ "max-args", required_argument, NULL, 'n' },
	{ "jobs", required_argument, NULL, 'j' },
	{ "max-procs", required_argument, NULL, 'j' },
	{ "ordered", no_argument, NULL, 'k' },
	{ "keep-order", no_argument, NULL, 'k' },
	{ "arg-file", required_argument, NULL, 'a' },
	{ "null", no_argument, NULL, '0' },
	{ "joblog", required_argument, NULL, O_JOBLOG },
	{ "halt", required_argument, NULL, O_HALT },
	{ "halt-on-error", required_argument, NULL, O_HALT },
	{ "bar", no_argument, NULL, O_BAR },
	{ "progress", no_argument, NULL, O_BAR },
	{ "eta", no_argument, NULL, O_BAR },
	{ "retries", required_argument, NULL, O_RETRIES },
	{ "resume", no_argument, NULL, O_RESUME },
	{ "resume-failed", no_argument, NULL, O_RESUME_FAILED },
	{ "tag", no_argument, NULL, O_TAG },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "dry-run", no_argument, NULL, O_DRY_RUN },
	{ "workdir", required_argument, NULL, O_WORKDIR },
	{ "wd", required_argument, NULL, O_WORKDIR },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, O_VERSION },
	/* Words are always quoted; output is always grouped. */
	{ "quote", no_argument, NULL, O_NOOP },
	{ "group", no_argument, NULL, O_NOOP },
	{ "will-cite", no_argument, NULL, O_NOOP },
	{ "no-notice", no_argument, NULL, O_NOOP },
	{ "pipe", no_argument, NULL, O_PIPE },
	{ "spreadstdin", no_argument, NULL, O_PIPE },
	{ "block", required_argument, NULL, O_BLOCK },
	{ "block-size", required_argument, NULL, O_BLOCK },
	REFUSE("pipepart", no_argument, R_PIPE),
	REFUSE("recstart", required_argument, R_PIPE),
	REFUSE("recend", required_argument, R_PIPE),
	REFUSE("cat", no_argument, R_PIPE),
	REFUSE("fifo", no_argument, R_PIPE),
	REFUSE("sshlogin", required_argument, R_SSH),
	REFUSE("sshloginfile", required_argument, R_SSH),
	REFUSE("slf", required_argument, R_SSH),
	REFUSE("nonall", no_argument, R_SSH),
	REFUSE("onall", no_argument, R_SSH),
	{ "transferfile", required_argument, NULL, O_TF },
	{ "tf", required_argument, NULL, O_TF },
	{ "transfer", no_argument, NULL, O_TRANSFER },
	{ "return", required_argument, NULL, O_RETURN },
	{ "cleanup", no_argument, NULL, O_CLEANUP },
	{ "trc", required_argument, NULL, O_TRC },
	REFUSE("basefile", required_argument, R_TRANSFER),
	REFUSE("bf", required_argument, R_TRANSFER),
	REFUSE("line-buffer", no_argument, R_OUTPUT),
	REFUSE("lb", no_argument, R_OUTPUT),
	REFUSE("ungroup", no_argument, R_OUTPUT),
	REFUSE("results", required_argument, R_OUTPUT),
	REFUSE("res", required_argument, R_OUTPUT),
	REFUSE("files", no_argument, R_OUTPUT),
	REFUSE("tmux", no_argument, R_OUTPUT),
	REFUSE("xargs", no_argument, R_ARGS),
	REFUSE("max-replace-args", required_argument, R_ARGS),
	REFUSE("max-lines", required_argument, R_ARGS),
	REFUSE("replace", required_argument, R_ARGS),
	REFUSE("xapply", no_argument, R_ARGS),
	REFUSE("link", no_argument, R_ARGS),
	REFUSE("colsep", required_argument, R_ARGS),
	REFUSE("header", required_argument, R_ARGS),
	REFUSE("delimiter", required_argument, R_DELIM),
	REFUSE("env", required_argument, R_ENV),
	REFUSE("retry-failed", no_argument, R_RETRY_FAILED),
	REFUSE("load", required_argument, R_SCHED),
	REFUSE("memfree", required_argument, R_SCHED),
	REFUSE("nice", required_argument, R_SCHED),
	REFUSE("delay", required_argument, R_SCHED),
	REFUSE("shuf", no_argument, R_SCHED),
	REFUSE("semaphore", no_argument, R_SCHED),
	{ NULL, 0, NULL, 0 }
};

/* Short options of GNU parallel's that mean something else here or
 * nothing: refused the same way (with their argument, so that it is not
 * taken for FUNC). */
static const struct { char c; int why; const char *name; } short_refusals[] = {
	{ 'S', R_SSH, "-S" }, { 'X', R_ARGS, "-X" }, { 'm', R_ARGS, "-m" },
	{ 'I', R_ARGS, "-I" }, { 'N', R_ARGS, "-N" }, { 'L', R_ARGS, "-L" },
	{ 'E', R_ARGS, "-E" }, { 'd', R_DELIM, "-d" }, { 'u', R_OUTPUT, "-u" },
};

static int
number(const char *opt, const char *arg, long min, long max)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (end == arg || *end || v < min || v > max)
		opt_die("%s %s: expected a number from %ld to %ld", opt, arg,
			min, max);
	return v;
}

/* GNU parallel's --halt: never | soon|now,fail|success|done=N[%], and
 * its short forms 0, 1, 2 and N%. */
static void
parse_halt(struct map_opts *o, const char *arg)
{
	static const struct { const char *name; enum halt_on on; } what[] = {
		{ "fail=", HALT_FAIL }, { "success=", HALT_SUCCESS },
		{ "done=", HALT_DONE },
	};
	g_autofree char *spec = NULL;
	const char *p;
	char *end;
	gsize i;

	if (strcmp(arg, "never") == 0 || strcmp(arg, "0") == 0) {
		o->halt_on = HALT_NEVER;
		return;
	}
	if (strcmp(arg, "1") == 0)
		spec = g_strdup("soon,fail=1");
	else if (strcmp(arg, "2") == 0)
		spec = g_strdup("now,fail=1");
	else if (g_ascii_isdigit(arg[0]) && g_str_has_suffix(arg, "%"))
		spec = g_strdup_printf("soon,fail=%s", arg);
	else
		spec = g_strdup(arg);
	if (g_str_has_prefix(spec, "soon,"))
		p = spec + 5;
	else if (g_str_has_prefix(spec, "now,")) {
		p = spec + 4;
		o->halt_now = TRUE;
	} else
		opt_die("--halt %s: expected soon|now,fail|success|done=N "
			"(or N%%), or never", arg);
	for (i = 0; i < G_N_ELEMENTS(what); i++)
		if (g_str_has_prefix(p, what[i].name))
			break;
	if (i == G_N_ELEMENTS(what))
		opt_die("--halt %s: expected fail=, success= or done= after "
			"%s", arg, o->halt_now ? "now," : "soon,");
	o->halt_on = what[i].on;
	p += strlen(what[i].name);
	o->halt_count = g_ascii_strtoull(p, &end, 10);
	o->halt_pct = *end == '%' && end[1] == '\0';
	if (end == p || (*end && !o->halt_pct) || o->halt_count == 0 ||
	    (o->halt_pct && o->halt_count > 100))
		opt_die("--halt %s: N must be a number above 0 (a percentage "
			"at most 100)", arg);
	o->halt_spec = arg;
}

/* --block: bytes, with k, M or G (powers of 1024, as parallel's); at
 * most 1G, as a block is held in memory. */
static gsize
parse_size(const char *opt, const char *arg)
{
	static const char units[] = "kmg";
	const char *u = NULL;
	char *end = NULL;
	guint64 n = g_ascii_isdigit(*arg) ? g_ascii_strtoull(arg, &end, 10) : 0;

	if (end && *end && !end[1] && (u = strchr(units, g_ascii_tolower(*end))))
		n = n <= 1024 * 1024 ? n << (10 * (u - units + 1)) : 0;
	if (!n || (*end && !u) || n > (guint64)1 << 30)
		opt_die("%s %s: expected a size from 1 byte to 1G (a number, "
			"with k, M or G)", opt, arg);
	return n;
}

/* --timeout: seconds, as TRICKLE_TIMEOUT takes them. */
static const char *
parse_timeout(const char *arg)
{
	char *end;
	double s = g_ascii_strtod(arg, &end);

	if (g_str_has_suffix(arg, "%"))
		opt_die("--timeout %s: a percentage of the median run time is "
			"not built; give seconds", arg);
	if (end == arg || *end || !(s > 0) || s > 1e9)
		opt_die("--timeout %s: expected seconds above 0", arg);
	return arg;
}

void
map_parse_options(struct map_opts *o, int argc, char **argv)
{
	g_autoptr(GPtrArray) sources = g_ptr_array_new();
	int c, i, end;
	gsize k;

	memset(o, 0, sizeof(*o));
	o->transfer = g_ptr_array_new();
	o->returns = g_ptr_array_new();
	o->chunk = 1;
	o->delim = '\n';
	/* '+': FUNC's own arguments may look like options. */
	while ((c = getopt_long(argc, argv, "+C:n:j:P:ka:0qhS:XmI:N:L:E:d:u",
				opts, NULL)) != -1) {
		switch (c) {
		case 'C':
			o->mount = optarg;
			break;
		case O_VM:
			o->vm = optarg;
			break;
		case 'n':
			o->chunk = number("-n", optarg, 1, 1000000);
			break;
		case 'j':
		case 'P':
			o->maxjobs = number("-j", optarg, 1, 1000000);
			break;
		case 'k':
			o->ordered = TRUE;
			break;
		case 'a':
			g_ptr_array_add(sources, "::::");
			g_ptr_array_add(sources, optarg);
			break;
		case '0':
			o->delim = '\0';
			break;
		case O_JOBLOG:
			o->joblog = optarg;
			break;
		case O_HALT:
			parse_halt(o, optarg);
			break;
		case O_BAR:
			o->bar = TRUE;
			break;
		case O_RETRIES:
			o->retries = number("--retries", optarg, 0, 101);
			break;
		case O_RESUME:
			o->resume = TRUE;
			break;
		case O_RESUME_FAILED:
			o->resume = o->resume_failed = TRUE;
			break;
		case O_TAG:
			o->tag = TRUE;
			break;
		case O_TIMEOUT:
			o->timeout = parse_timeout(optarg);
			break;
		case O_DRY_RUN:
			o->dry_run = TRUE;
			break;
		case O_WORKDIR:
			o->workdir = optarg;
			break;
		case O_TRC:
			o->cleanup = TRUE;
			g_ptr_array_add(o->returns, optarg);
			/* fall through */
		case O_TRANSFER:
			optarg = "{}";
			/* fall through */
		case O_TF:
			g_ptr_array_add(o->transfer, optarg);
			break;
		case O_RETURN:
			g_ptr_array_add(o->returns, optarg);
			break;
		case O_CLEANUP:
			o->cleanup = TRUE;
			break;
		case O_PIPE:
			o->pipe = TRUE;
			break;
		case O_BLOCK:
			o->block = parse_size("--block", optarg);
			break;
		case 'q':
		case O_NOOP:
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case O_VERSION:
			printf("%s (tricklefs) %s\n", prog, TRICKLE_VERSION);
			exit(0);
		case '?':
			usage_error();
		default:
			if (c >= O_REFUSE) {
				const struct option *op;

				for (op = opts; op->name; op++)
					if (op->val == c)
						break;
				opt_die("--%s: %s", op->name,
					refusals[c - O_REFUSE]);
			}
			for (k = 0; k < G_N_ELEMENTS(short_refusals); k++)
				if (short_refusals[k].c == c)
					opt_die("%s: %s",
						short_refusals[k].name,
						refusals[short_refusals[k].why]);
			usage_error();
		}
	}
	/* FUNC ARG... up to the first ::: or ::::, then the sources. */
	for (end = optind; end < argc; end++) {
		if (g_str_has_prefix(argv[end], ":::") &&
		    strspn(argv[end], ":") == strlen(argv[end]) &&
		    strlen(argv[end]) <= 4)
			break;
		if (strcmp(argv[end], ":::+") == 0 ||
		    strcmp(argv[end], "::::+") == 0)
			opt_die("%s: linked sources are not built; give one "
				"source with its values in a line", argv[end]);
	}
	if (end == optind) {
		fprintf(stderr, "%s: no FUNC\n", prog);
		usage_error();
	}
	o->cmd = argv + optind;
	o->ncmd = end - optind;
	for (i = end; i < argc; i++) {
		if (strcmp(argv[i], ":::+") == 0 ||
		    strcmp(argv[i], "::::+") == 0)
			opt_die("%s: linked sources are not built", argv[i]);
		g_ptr_array_add(sources, argv[i]);
	}
	o->nsources = sources->len;
	g_ptr_array_add(sources, NULL);
	o->sources = (char **)g_ptr_array_free(g_steal_pointer(&sources),
					       FALSE);
	if (o->workdir && (o->transfer->len || o->returns->len))
		opt_die("--workdir with --transferfile or --return: files are "
			"copied to the VM's data/, where calls run without "
			"--workdir");
	if (o->pipe && o->nsources)
		opt_die("--pipe with ::: or -a: with --pipe the input is "
			"standard input, cut into blocks");
	if (o->pipe && (o->transfer->len || o->returns->len))
		opt_die("--pipe with --transferfile or --return: a block "
			"goes to a call's stdin, not to a file");
	if (o->pipe && o->chunk > 1)
		opt_die("--pipe with -n: the unit is a block (--block)");
	if (o->pipe && !o->block)
		o->block = 1024 * 1024;
	if (o->resume && !o->joblog)
		opt_die("--resume%s needs --joblog FILE: it says what was "
			"done", o->resume_failed ? "-failed" : "");
}

/* 4 calls per VM directory of the mount (at least 8). */
int
map_default_jobs(const char *mount)
{
	DIR *d = opendir(mount);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 8;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return MAX(4 * n, 8);
}

/* The call options of every line: GNU parallel's --retries counts tries,
 * the mount's TRICKLE_RETRIES runs after the first. */
GString *
map_call_options(struct map_opts *o)
{
	GString *s = g_string_new(NULL);

	if (o->pipe)
		g_string_append(s, "TRICKLE_STDIN=1");
	if (o->retries > 1)
		g_string_append_printf(s, "%sTRICKLE_RETRIES=%d "
				       "TRICKLE_RETRIES_ON_FAILURE=1",
				       s->len ? " " : "", o->retries - 1);
	/* Checked to be a number: nothing in it to quote. */
	if (o->timeout)
		g_string_append_printf(s, "%sTRICKLE_TIMEOUT=%s",
				       s->len ? " " : "", o->timeout);
	return s;
}

const char *
map_func(char **cmd, int ncmd)
{
	for (int i = 0; i < ncmd; i++) {
		/* NAME=VALUE: the call's environment and options. */
		if (wire_is_assignment(cmd[i]))
			continue;
		return strchr(cmd[i], '{') ? NULL : cmd[i];
	}
	return NULL;
}
