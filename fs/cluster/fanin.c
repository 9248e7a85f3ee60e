/*
 * fanin.c - one answer from many: "ask N nodes, answer when all have".
 * Installing into .all/inject/, removing from it, .ctl connect and
 * reading a stream in chunks all wait for several node answers; this is
 * their one count.  Each part is a host_request, bounded by its deadline,
 * so a fan-in always ends.
 */
#include "cluster.h"

struct fanin {
	fanin_done_fn done;
	void *data;
	guint waiting;
	int err;
};

struct fanin_part {
	struct fanin *f;
	fanin_part_fn fn;
	void *part;
};

struct fanin *
fanin_new(fanin_done_fn done, void *data)
{
	struct fanin *f = g_new0(struct fanin, 1);

	f->done = done;
	f->data = data;
	f->waiting = 1;		/* the hold */
	return f;
}

void
fanin_expect(struct fanin *f)
{
	f->waiting++;
}

void
fanin_answer(struct fanin *f, int err)
{
	if (err && !f->err)
		f->err = err;
	if (--f->waiting)
		return;
	f->done(f->data, f->err);
	g_free(f);
}

void
fanin_release(struct fanin *f)
{
	fanin_answer(f, 0);
}

static void
on_part(void *data, int err, const char *msg, const guint8 *bytes,
	gsize len)
{
	struct fanin_part *p = data;
	struct fanin *f = p->f;

	if (p->fn)
		err = p->fn(f->data, p->part, err, msg, bytes, len);
	g_free(p);
	fanin_answer(f, err);
}

void
fanin_request(struct fanin *f, struct host *h, guint type, guint vm,
	      guint32 tag, GVariant *body, fanin_part_fn part_fn, void *part)
{
	struct fanin_part *p = g_new(struct fanin_part, 1);

	p->f = f;
	p->fn = part_fn;
	p->part = part;
	fanin_expect(f);
	host_request(h, type, vm, tag, body, on_part, p);
}
