/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-backend health checking: probe scheduling, rise/fall verdicts and the agent's feedback. */
#ifndef XLBD_HEALTH_H
#define XLBD_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "probe.h"

enum hc_verdict { HC_UNKNOWN = 0, HC_UP, HC_DOWN };

#define HC_JITTER_PCT_MAX 50

/*
 * How one backend is checked. hc_new() copies everything, strings included.
 *
 * target.type 0 means no health probe (the check type "none"): the verdict stays as hc_start()
 * seeded it, and only the agent runs if agent_port is set. target.family and target.addr are
 * needed in every case (the agent connects there), target.timeout_ms whenever a probe runs.
 */
struct hc_params {
	struct probe_target target;	/* the health probe; its timeout_ms is the probe timeout */
	uint32_t interval_ms;		/* between probe starts in a steady state; not 0 */
	uint32_t rise;			/* consecutive successes that make UP; not 0 */
	uint32_t fall;			/* consecutive failures that make DOWN; not 0 */
	uint32_t jitter_pct;		/* each delay drawn uniformly in delay ± pct% (0..50) */
	uint32_t fastinter_ms;		/* delay while a transition is in progress; 0: interval */
	uint32_t downinter_ms;		/* delay while DOWN with no success yet; 0: interval */
	uint16_t agent_port;		/* 0: no agent check */
	uint32_t agent_interval_ms;	/* 0: interval_ms */
	uint32_t agent_timeout_ms;	/* 0: target.timeout_ms */
	const char *agent_send;		/* sent to the agent after connecting; NULL: nothing */
};

struct health_checker;

/*
 * Callbacks, each optional, called from prober_run(). Any of them may hc_stop() or hc_free()
 * the checker they are given.
 */
struct hc_ops {
	/* The verdict changed (UNKNOWN -> UP / DOWN, UP <-> DOWN). */
	void (*on_change)(void *ctx, struct health_checker *hc, enum hc_verdict from,
			  enum hc_verdict to);
	/* A valid agent reply changed the agent's state or weight (not for its reason alone). */
	void (*on_agent)(void *ctx, struct health_checker *hc, const struct agent_reply *from,
			 const struct agent_reply *to);
	/* Every probe outcome, health (@agent false) or agent: for logs, events and tests. */
	void (*on_result)(void *ctx, struct health_checker *hc, const struct probe_result *r,
			  bool agent);
};

/* The last outcome of one kind of probe. */
struct hc_last {
	bool valid;			/* a probe has finished since hc_new() */
	struct probe_result r;
	uint64_t when_ns;		/* CLOCK_MONOTONIC of the outcome */
};

/*
 * One backend's checker. The fields above "private" are for the caller to read, never to
 * write; hc_new() and hc_free() own the whole structure.
 */
struct health_checker {
	enum hc_verdict verdict;
	uint32_t successes;		/* consecutive successes (0 after a failure) */
	uint32_t failures;		/* consecutive failures (0 after a success) */
	struct hc_last last;		/* health probe */
	struct hc_last agent_last;	/* agent probe; failed ones too: unreachable, malformed */
	struct agent_reply agent;	/* the valid agent replies merged (first: -1, NONE) */
	uint64_t nprobes, nagent;	/* outcomes so far */
	bool running;

	/* private */
	struct prober *p;
	struct hc_params params;	/* its pointers point into the copies below */
	char *http_path, *http_host, *agent_send;
	void *udp_payload, *udp_expect;
	const struct hc_ops *ops;
	void *ctx;
	struct prober_timer timer, agent_timer;	/* when the next probe of each kind starts */
	struct probe *probe, *agent_probe;	/* running, or NULL */
	uint64_t probe_start_ns, agent_start_ns;
	uint64_t rng;			/* jitter */
	int in_cb;			/* callbacks running: hc_free() waits for them */
	bool freed;
};

/**
 * hc_new() - a checker of one backend on @p; it starts nothing (hc_start() does). @ops may be
 * NULL. Returns NULL with errno EINVAL (bad parameters) or ENOMEM.
 */
struct health_checker *hc_new(struct prober *p, const struct hc_params *params,
			      const struct hc_ops *ops, void *ctx);
/* Stops it first; safe from the checker's own callbacks. */
void hc_free(struct health_checker *hc);

/**
 * hc_start() - (re)start probing with the verdict @initial: a restarted daemon passes the state
 * the datapath holds, so that a backend is neither flooded nor dropped on restart. From UNKNOWN,
 * @rise consecutive successes make UP and @fall consecutive failures make DOWN. The first probe
 * of each kind starts within one delay, at a random point, so that thousands of checkers started
 * together spread out. Counters restart from 0. Returns 0 or -ENOMEM.
 */
int hc_start(struct health_checker *hc, enum hc_verdict initial);
/* Cancel the running probes and the schedule; the verdict and last results stay. */
void hc_stop(struct health_checker *hc);

const char *hc_verdict_name(enum hc_verdict v);

/* The rules, pure, so that tests and the daemon's views can use them. */

/* The verdict after an outcome that left these consecutive counts. */
enum hc_verdict hc_verdict_next(enum hc_verdict v, uint32_t successes, uint32_t failures,
				uint32_t rise, uint32_t fall);
/*
 * The delay before the next probe, jitter aside: fastinter while a transition is in progress
 * (successes while DOWN, failures while UP, any result while UNKNOWN), downinter while DOWN,
 * interval otherwise.
 */
uint32_t hc_delay_ms(const struct hc_params *hp, enum hc_verdict v, uint32_t successes,
		     uint32_t failures);
/* @ms moved by @rnd uniformly within ± @pct percent. */
uint32_t hc_jitter_ms(uint32_t ms, uint32_t pct, uint64_t rnd);
/*
 * Fold a valid agent reply into the agent's state: a reply without a state word keeps the
 * state (and its reason), one without a weight keeps the weight, as HAProxy does.
 */
void hc_agent_merge(struct agent_reply *cur, const struct agent_reply *reply);

#endif /* XLBD_HEALTH_H */
