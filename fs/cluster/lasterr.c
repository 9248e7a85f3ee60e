/*
 * lasterr.c - the last error of a host or a VM: kept, typed (an errno
 * and the words), so that VM/info can show it and .ctl connect can fail
 * with an errno that names the cause; and the one message that reads a
 * node's stray output (a shell banner) for what it is.
 */
#include "cluster.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

static void
set(struct last_error *e, int err, const char *msg)
{
	g_free(e->msg);
	e->msg = g_strdup(msg);
	e->err = err;
	e->when = g_get_real_time();
}

void
last_error_clear(struct last_error *e)
{
	g_clear_pointer(&e->msg, g_free);
	e->when = 0;
	e->err = 0;
}

void
host_set_error(struct host *h, int err, const char *msg)
{
	set(&h->last_error, err, msg);
}

void
vm_set_error(struct vm *vm, int err, const char *msg)
{
	set(&vm->last_error, err, msg);
}

void
vm_error(struct vm *vm, int err, const char *fmt, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_warning("%s: %s", vm->name, msg);
	set(&vm->last_error, err, msg);
}

char *
vm_last_error_text(const struct vm *vm)
{
	const struct last_error *e = &vm->last_error;
	g_autoptr(GDateTime) t = NULL;
	g_autofree char *ts = NULL;

	if (vm->host && vm->host->last_error.when > e->when)
		e = &vm->host->last_error;
	if (!e->when)
		return NULL;
	t = g_date_time_new_from_unix_local(e->when / G_USEC_PER_SEC);
	ts = t ? g_date_time_format(t, "%F %T") : g_strdup("?");
	return g_strdup_printf("%s %s", ts, e->msg ? e->msg : "");
}

int
host_failure_errno(const struct host *h)
{
	return h->last_error.when && h->last_error.err ? h->last_error.err
						       : EHOSTUNREACH;
}

char *
host_banner_error(const guint8 *data, gsize len)
{
	g_autoptr(GString) text = g_string_new(NULL);
	gsize i, n = MIN(len, 64);

	/* A frame starts with its length, big-endian, under 16 MiB: its
	 * first byte is 0.  Printable text there is someone's words. */
	if (n < 4)
		return NULL;
	for (i = 0; i < n; i++) {
		guint8 c = data[i];

		if (c == '\n' || c == '\r')
			break;
		if (c != '\t' && (c < 0x20 || c >= 0x7f))
			return NULL;
		g_string_append_c(text, c);
	}
	g_strstrip(text->str);
	if (strlen(text->str) < 2)
		return NULL;
	if (strlen(text->str) > 40)
		strcpy(text->str + 37, "...");
	return g_strdup_printf("the node printed '%s' before the protocol "
			       "started (check its shell startup files: "
			       ".bashrc and the like must print nothing when "
			       "not interactive)", text->str);
}
