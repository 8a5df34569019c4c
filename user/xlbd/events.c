// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlbd events: a bounded in-memory history of transitions and rebuilds, each also logged. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "xlbd.h"

void xlbd_event(struct xlbd *d, int level, const char *fmt, ...)
{
	struct xlbd_event *ev, spare;
	struct timespec now;
	va_list ap;

	if (!d->events)
		d->events = calloc(XLBD_EVENTS_MAX, sizeof(*d->events));
	/* out of memory: logged all the same, only not kept */
	ev = d->events ? &d->events[d->events_seq % XLBD_EVENTS_MAX] : &spare;
	clock_gettime(CLOCK_REALTIME, &now);
	ev->seq = ++d->events_seq;
	ev->time_ms = now.tv_sec * 1000ull + now.tv_nsec / 1000000;
	ev->level = level;
	va_start(ap, fmt);
	vsnprintf(ev->text, sizeof(ev->text), fmt, ap);
	va_end(ap);
	xlb_log(level, "%s", ev->text);
}

const struct xlbd_event *xlbd_event_after(const struct xlbd *d, __u64 seq)
{
	__u64 oldest = d->events_seq > XLBD_EVENTS_MAX ? d->events_seq - XLBD_EVENTS_MAX + 1 : 1;
	__u64 next = seq + 1 < oldest ? oldest : seq + 1;

	if (!d->events || next > d->events_seq)
		return NULL;
	return &d->events[(next - 1) % XLBD_EVENTS_MAX];
}
