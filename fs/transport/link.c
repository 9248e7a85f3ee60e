/*
 * link.c - what every kind of link shares: the write queue and its
 * high/low water marks.
 */
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>

void
link_init(struct link *l, const struct link_class *klass,
	  const struct link_callbacks *cb, void *user)
{
	l->klass = klass;
	l->cb = *cb;
	l->user = user;
	l->out = g_byte_array_new();
	l->out_off = 0;
}

void
link_write(struct link *l, const void *data, gsize len)
{
	if (len == 0)
		return;
	g_byte_array_append(l->out, data, len);
	if (link_pending(l) > LINK_HIGH_WATER)
		l->throttled = TRUE;
	l->klass->kick(l);
}

void
link_grow_pipe(int fd)
{
	if (fd >= 0 && fcntl(fd, F_GETPIPE_SZ) < (int)LINK_READ_SIZE)
		(void)fcntl(fd, F_SETPIPE_SZ, (int)LINK_READ_SIZE);
}

gsize
link_pending(const struct link *l)
{
	return l->out->len - l->out_off;
}

void
link_consumed(struct link *l, gsize n)
{
	g_assert(n <= link_pending(l));
	l->out_off += n;
	/* Compact once the consumed head dominates, not on every write. */
	if (l->out_off == l->out->len) {
		g_byte_array_set_size(l->out, 0);
		l->out_off = 0;
	} else if (l->out_off > (1u << 20) && l->out_off > l->out->len / 2) {
		g_byte_array_remove_range(l->out, 0, l->out_off);
		l->out_off = 0;
	}
	if (l->throttled && link_pending(l) < LINK_LOW_WATER) {
		l->throttled = FALSE;
		if (l->cb.drained)
			l->cb.drained(l->user);
	}
	if (l->want_close && link_pending(l) == 0) {
		l->want_close = FALSE;
		l->klass->close_write(l);
	}
}

void
link_close_write(struct link *l)
{
	if (link_pending(l) == 0)
		l->klass->close_write(l);
	else
		l->want_close = TRUE;
}

void
link_report_down(struct link *l, GError *error)
{
	void (*down)(void *, const GError *) = l->cb.down;

	l->cb.down = NULL;
	if (down)
		down(l->user, error);
	g_error_free(error);
}

void
link_free(struct link *l)
{
	GByteArray *out;

	if (!l)
		return;
	out = l->out;
	l->klass->destroy(l);
	g_byte_array_unref(out);
}

struct link *
link_open(const struct link_spec *spec, const struct link_callbacks *cb,
	  void *user)
{
	if (spec->kind == LINK_SSH)
		return link_ssh_new(&spec->ssh, cb, user);
	if (spec->kind == LINK_CONNECT)
		return link_connect_new(spec, cb, user);
	return link_command_new(spec->command, cb, user);
}

int
link_error_errno(const GError *error)
{
	if (!error || error->domain != G_IO_ERROR)
		return EHOSTUNREACH;	/* G_RESOLVER_ERROR: no such host */
	switch (error->code) {
	case G_IO_ERROR_CONNECTION_REFUSED:
		return ECONNREFUSED;
	case G_IO_ERROR_TIMED_OUT:
		return ETIMEDOUT;
	case G_IO_ERROR_PERMISSION_DENIED:
		return EACCES;
	case G_IO_ERROR_INVALID_DATA:
	case G_IO_ERROR_NOT_SUPPORTED:
		return EPROTO;
	case G_IO_ERROR_INVALID_ARGUMENT:
		return EINVAL;
	case G_IO_ERROR_NETWORK_UNREACHABLE:
		return ENETUNREACH;
	case G_IO_ERROR_CONNECTION_CLOSED:
		return ECONNRESET;
	default:
		return EHOSTUNREACH;
	}
}
