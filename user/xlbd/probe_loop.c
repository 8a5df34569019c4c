// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The probe engine's event loop: one epoll fd for every probe socket, and the loop's timers. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "probe_impl.h"

#define RUN_EVENTS 256		/* epoll events fetched at a time */
#define RUN_BATCHES 8		/* fetches per prober_run() at most: the daemon's fds get a turn */

uint64_t prober_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* ---------------------------------------------------------------- timers */

static void heap_set(struct prober *p, size_t i, struct prober_timer *t)
{
	p->heap[i] = t;
	t->slot = i + 1;
}

static void sift_up(struct prober *p, size_t i)
{
	struct prober_timer *t = p->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (p->heap[parent]->when_ns <= t->when_ns)
			break;
		heap_set(p, i, p->heap[parent]);
		i = parent;
	}
	heap_set(p, i, t);
}

static void sift_down(struct prober *p, size_t i)
{
	struct prober_timer *t = p->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= p->n)
			break;
		if (c + 1 < p->n && p->heap[c + 1]->when_ns < p->heap[c]->when_ns)
			c++;
		if (t->when_ns <= p->heap[c]->when_ns)
			break;
		heap_set(p, i, p->heap[c]);
		i = c;
	}
	heap_set(p, i, t);
}

static void heap_remove(struct prober *p, struct prober_timer *t)
{
	size_t i = t->slot - 1;
	struct prober_timer *last = p->heap[--p->n];

	t->slot = 0;
	if (i == p->n)
		return;
	heap_set(p, i, last);
	sift_down(p, i);
	if (last->slot == i + 1)
		sift_up(p, i);
}

/* Point the timerfd at the earliest timer; a syscall only when that changed. */
static void tfd_program(struct prober *p)
{
	uint64_t when = p->n ? p->heap[0]->when_ns : 0;
	struct itimerspec its = {};

	if (when == p->tfd_when)
		return;
	its.it_value.tv_sec = when / NSEC_PER_SEC;
	its.it_value.tv_nsec = when % NSEC_PER_SEC;
	if (!timerfd_settime(p->tfd, TFD_TIMER_ABSTIME, &its, NULL))
		p->tfd_when = when;
}

/* Room for one more timer, so that arming never fails (a probe without deadline would hang). */
static int heap_reserve(struct prober *p)
{
	struct prober_timer **h;
	size_t cap;

	if (p->n < p->cap)
		return 0;
	cap = p->cap ? p->cap * 2 : 64;
	h = realloc(p->heap, cap * sizeof(*h));
	if (!h)
		return -ENOMEM;
	p->heap = h;
	p->cap = cap;
	return 0;
}

int prober_timer_arm(struct prober *p, struct prober_timer *t, uint64_t when_ns)
{
	if (!t->slot && heap_reserve(p))
		return -ENOMEM;
	/* 0 would disarm the timerfd: the earliest expiry there is, is 1 */
	t->when_ns = when_ns ? when_ns : 1;
	if (t->slot) {
		sift_down(p, t->slot - 1);
		sift_up(p, t->slot - 1);
	} else {
		heap_set(p, p->n++, t);
		sift_up(p, p->n - 1);
	}
	/* inside prober_run() the timerfd is set once, at its end */
	if (!p->in_run && t->slot == 1)
		tfd_program(p);
	return 0;
}

void prober_timer_cancel(struct prober *p, struct prober_timer *t)
{
	/* the timerfd may still fire for it: prober_run() then finds nothing due and re-aims */
	if (t->slot)
		heap_remove(p, t);
}

void prober_expire(struct prober *p, uint64_t now_ns)
{
	size_t budget = p->n; /* a callback re-arming for the past cannot hold the loop */

	while (budget-- && p->n && p->heap[0]->when_ns <= now_ns) {
		struct prober_timer *t = p->heap[0];

		heap_remove(p, t);
		t->fn(t);
	}
}


/* ---------------------------------------------------------------- the engine */

struct prober *prober_new(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL }; /* NULL: the timerfd */
	struct prober *p;
	int err;

	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	p->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (p->epfd < 0 || p->tfd < 0 || epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->tfd, &ev))
		goto err;
	return p;
err:
	err = errno;
	if (p->epfd >= 0)
		close(p->epfd);
	if (p->tfd >= 0)
		close(p->tfd);
	free(p);
	errno = err;
	return NULL;
}

int prober_fd(const struct prober *p)
{
	return p->epfd;
}

unsigned int prober_inflight(const struct prober *p)
{
	return p->inflight;
}

static void free_dead(struct prober *p)
{
	while (p->dead) {
		struct probe *pr = p->dead;

		p->dead = pr->next;
		probe_free(pr);
	}
}

void prober_run(struct prober *p)
{
	struct epoll_event evs[RUN_EVENTS];
	int b, i, n;

	p->in_run++;
	for (b = 0; b < RUN_BATCHES; b++) {
		n = epoll_wait(p->epfd, evs, RUN_EVENTS, 0);
		for (i = 0; i < n; i++) {
			struct probe *pr = evs[i].data.ptr;

			if (!pr) {
				uint64_t ticks;

				if (read(p->tfd, &ticks, sizeof(ticks)) == sizeof(ticks))
					p->tfd_when = 0; /* fired: the next tfd_program() sets it */
				continue;
			}
			/* retired by an earlier callback: kept in p->dead until the end */
			if (!pr->retired)
				probe_event(pr, evs[i].events);
		}
		if (n < RUN_EVENTS)
			break;
	}
	prober_expire(p, prober_now_ns());
	if (--p->in_run)
		return;
	free_dead(p);
	/* timers left due by the expiry budget: a past expiry keeps the fd readable */
	tfd_program(p);
}

void prober_free(struct prober *p)
{
	if (!p)
		return;
	while (p->live)
		probe_retire(p->live);
	free_dead(p);
	close(p->epfd);
	close(p->tfd);
	free(p->heap);
	free(p);
}
