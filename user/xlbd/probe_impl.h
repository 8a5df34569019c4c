/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Inside the probe engine: a probe's and the prober's state, shared by the probes themselves
 * (probe.c) and the event loop with its timers (probe_loop.c). Nothing outside them includes it.
 */
#ifndef XLBD_PROBE_IMPL_H
#define XLBD_PROBE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe.h"

#define NSEC_PER_SEC 1000000000ull
#define NSEC_PER_MSEC 1000000ull

enum probe_phase { PH_CONNECT, PH_SEND, PH_READ, PH_DONE };

struct probe {
	struct prober *p;
	struct probe *prev, *next;	/* p->live while running; next links p->dead afterwards */
	struct prober_timer deadline;	/* the timeout, or "now" for a local failure */
	probe_cb cb;
	void *ctx;
	int fd;
	enum probe_type type;
	enum probe_phase phase;
	bool retired;			/* finished or cancelled; freed after prober_run() */
	bool connected;			/* stream: established (a plain close leaves TIME_WAIT) */
	uint16_t expect_lo, expect_hi;
	uint16_t http_status;
	uint64_t start_ns;
	char *sbuf;			/* sent once connected (http, agent), or the datagram */
	size_t slen, soff;
	void *expect;			/* udp: expected reply prefix */
	size_t expect_len;
	char *rbuf;			/* http, agent: what was read so far (NUL-terminated) */
	size_t rlen, rcap;
	char fail[PROBE_DETAIL_MAX];	/* a local failure, reported from the next prober_run() */
	struct agent_reply agent;
};

struct prober {
	int epfd, tfd;
	struct prober_timer **heap;	/* binary min-heap on when_ns */
	size_t n, cap;
	uint64_t tfd_when;		/* the expiry the timerfd holds; 0 when disarmed or fired */
	struct probe *live;		/* running probes */
	struct probe *dead;		/* retired in prober_run(): its batch may still name them */
	unsigned int inflight;
	int in_run;
};

/* A ready probe's socket reported @events (EPOLLIN and the like): its next step. */
void probe_event(struct probe *pr, uint32_t events);

/* Off the live list; freed now, or at the end of prober_run() if events of its batch name it. */
void probe_retire(struct probe *pr);

/* Frees a retired probe (the event loop, once no batch of events can name it). */
void probe_free(struct probe *pr);

#endif /* XLBD_PROBE_IMPL_H */
