/*
 * map_progress.c - what trickle-map tells as it goes: the --bar line on
 * stderr (calls ended, their total once known, failures, rate, time
 * left) and whether --halt has fired, with GNU parallel's exit status.
 */
#include <math.h>
#include <stdio.h>

#include "map.h"

static const char *prog = "trickle-map";
static gboolean bar_shown;
static double bar_drawn;

void
bar_draw(double t0, guint64 done, guint64 ended, guint64 failed,
	 gboolean known, guint64 all, gboolean last)
{
	double now = tc_mono(), rate;
	char total[32] = "?", eta[32] = "?";

	if (now - bar_drawn < 0.1 && !last)
		return;
	bar_drawn = now;
	rate = now > t0 ? ended / (now - t0) : 0;
	if (known) {
		snprintf(total, sizeof(total), "%" G_GUINT64_FORMAT, all);
		if (rate > 0) {
			long s = (long)((all - done) / rate + 0.5);

			snprintf(eta, sizeof(eta), "%ld:%02ld:%02ld", s / 3600,
				 s / 60 % 60, s % 60);
		}
	}
	fprintf(stderr, "\r%s: %" G_GUINT64_FORMAT "/%s calls, %"
		G_GUINT64_FORMAT " failed, %.1f/s, ETA %s\033[K", prog, done,
		total, failed, rate, eta);
	fflush(stderr);
	bar_shown = TRUE;
}

void
bar_clear(void)
{
	if (bar_shown)
		fputs("\r\033[K", stderr);
	bar_shown = FALSE;
}

gboolean
halt_fires(const struct map_opts *o, int code, guint64 ended,
	   guint64 failed, guint64 total, int *status)
{
	double need = o->halt_count;
	guint64 limit;

	if (o->halt_on == HALT_NEVER)
		return FALSE;
	if (o->halt_on == HALT_FAIL)
		limit = code ? failed : 0;
	else if (o->halt_on == HALT_SUCCESS)
		limit = code ? 0 : ended - failed;
	else
		limit = ended;
	/* A percentage is of every job: the input was read whole. */
	if (o->halt_pct)
		need = total * (o->halt_count / 100.0);
	if (!limit || limit < need)
		return FALSE;
	if (o->halt_on == HALT_SUCCESS)
		*status = 0;
	else if (o->halt_pct)
		*status = (int)ceil(failed * 100.0 / MAX(total, 1));
	else if (o->halt_count == 1)
		*status = code;
	else
		*status = MIN(failed, 101);
	return TRUE;
}
