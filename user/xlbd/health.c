// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Per-backend health checkers: when to probe next, rise/fall verdicts, agent feedback. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#define NSEC_PER_MSEC 1000000ull

const char *hc_verdict_name(enum hc_verdict v)
{
	switch (v) {
	case HC_UP:
		return "up";
	case HC_DOWN:
		return "down";
	default:
		return "unknown";
	}
}

enum hc_verdict hc_verdict_next(enum hc_verdict v, uint32_t successes, uint32_t failures,
				uint32_t rise, uint32_t fall)
{
	if (v != HC_UP && successes >= rise)
		return HC_UP;
	if (v != HC_DOWN && failures >= fall)
		return HC_DOWN;
	return v;
}

uint32_t hc_delay_ms(const struct hc_params *hp, enum hc_verdict v, uint32_t successes,
		     uint32_t failures)
{
	bool moving = (v == HC_UP && failures) || (v == HC_DOWN && successes) ||
		      (v == HC_UNKNOWN && (successes || failures));

	if (moving && hp->fastinter_ms)
		return hp->fastinter_ms;
	if (!moving && v == HC_DOWN && hp->downinter_ms)
		return hp->downinter_ms;
	return hp->interval_ms;
}

uint32_t hc_jitter_ms(uint32_t ms, uint32_t pct, uint64_t rnd)
{
	uint64_t span = (uint64_t)ms * pct / 100;

	if (!span)
		return ms;
	return ms - span + rnd % (2 * span + 1);
}

void hc_agent_merge(struct agent_reply *cur, const struct agent_reply *reply)
{
	if (reply->weight_pct >= 0)
		cur->weight_pct = reply->weight_pct;
	if (reply->state != AGENT_NONE)
		cur->state = reply->state;
	if (reply->state != AGENT_NONE || reply->reason[0])
		memcpy(cur->reason, reply->reason, sizeof(cur->reason));
}

/* xorshift64*: jitter needs spread, not secrecy. */
static uint64_t hc_rand(struct health_checker *hc)
{
	hc->rng ^= hc->rng >> 12;
	hc->rng ^= hc->rng << 25;
	hc->rng ^= hc->rng >> 27;
	return hc->rng * 2685821657736338717ull;
}

/* Arm @t @ms after @from but not before now: a slow probe delays the next, never overlaps it. */
static void hc_schedule(struct health_checker *hc, struct prober_timer *t, uint64_t from,
			uint32_t ms)
{
	uint64_t now = prober_now_ns(), when = from + (uint64_t)ms * NSEC_PER_MSEC;

	/*
	 * Only an armed timer's move cannot fail, and a checker's timers are disarmed here; a heap
	 * that cannot grow leaves the checker idle rather than the daemon dead. The next hc_start()
	 * (a config change, a reload) tries again.
	 */
	if (prober_timer_arm(hc->p, t, when > now ? when : now))
		hc->running = false;
}

static void hc_callbacks_begin(struct health_checker *hc)
{
	hc->in_cb++;
}

static void hc_release(struct health_checker *hc)
{
	free(hc->http_path);
	free(hc->http_host);
	free(hc->agent_send);
	free(hc->udp_payload);
	free(hc->udp_expect);
	free(hc);
}

static void hc_callbacks_end(struct health_checker *hc)
{
	if (!--hc->in_cb && hc->freed)
		hc_release(hc);
}

static void hc_probe_done(void *ctx, const struct probe_result *r)
{
	struct health_checker *hc = ctx;
	const struct hc_params *hp = &hc->params;
	enum hc_verdict from = hc->verdict;
	uint32_t delay;

	hc->probe = NULL;
	hc->nprobes++;
	hc->last = (struct hc_last){ .valid = true, .r = *r, .when_ns = prober_now_ns() };
	if (r->ok) {
		hc->failures = 0;
		if (hc->successes < UINT32_MAX)
			hc->successes++;
	} else {
		hc->successes = 0;
		if (hc->failures < UINT32_MAX)
			hc->failures++;
	}
	hc->verdict = hc_verdict_next(from, hc->successes, hc->failures, hp->rise, hp->fall);
	delay = hc_delay_ms(hp, hc->verdict, hc->successes, hc->failures);
	hc_schedule(hc, &hc->timer, hc->probe_start_ns,
		    hc_jitter_ms(delay, hp->jitter_pct, hc_rand(hc)));

	/* last: the callbacks may free the checker */
	hc_callbacks_begin(hc);
	if (hc->ops && hc->ops->on_result)
		hc->ops->on_result(hc->ctx, hc, r, false);
	if (!hc->freed && hc->verdict != from && hc->ops && hc->ops->on_change)
		hc->ops->on_change(hc->ctx, hc, from, hc->verdict);
	hc_callbacks_end(hc);
}

static void hc_agent_done(void *ctx, const struct probe_result *r)
{
	struct health_checker *hc = ctx;
	const struct hc_params *hp = &hc->params;
	struct agent_reply from = hc->agent;
	bool changed = false;

	hc->agent_probe = NULL;
	hc->nagent++;
	hc->agent_last = (struct hc_last){ .valid = true, .r = *r, .when_ns = prober_now_ns() };
	/* an unreachable agent or a malformed reply says nothing: the agent state stays */
	if (r->ok) {
		hc_agent_merge(&hc->agent, &r->agent);
		changed = hc->agent.state != from.state || hc->agent.weight_pct != from.weight_pct;
	}
	hc_schedule(hc, &hc->agent_timer, hc->agent_start_ns,
		    hc_jitter_ms(hp->agent_interval_ms, hp->jitter_pct, hc_rand(hc)));

	hc_callbacks_begin(hc);
	if (hc->ops && hc->ops->on_result)
		hc->ops->on_result(hc->ctx, hc, r, true);
	if (!hc->freed && changed && hc->ops && hc->ops->on_agent)
		hc->ops->on_agent(hc->ctx, hc, &from, &hc->agent);
	hc_callbacks_end(hc);
}

/*
 * prober_start() fails only for want of memory here (the targets were checked by hc_new()):
 * try again one interval later rather than stop checking.
 */
static void hc_timer_fn(struct prober_timer *t)
{
	struct health_checker *hc = container_of(t, struct health_checker, timer);

	hc->probe_start_ns = prober_now_ns();
	if (prober_start(hc->p, &hc->params.target, hc_probe_done, hc, &hc->probe))
		hc_schedule(hc, t, hc->probe_start_ns, hc->params.interval_ms);
}

static void hc_agent_target(const struct health_checker *hc, struct probe_target *t)
{
	const struct hc_params *hp = &hc->params;

	*t = (struct probe_target){
		.type = PROBE_AGENT,
		.family = hp->target.family,
		.port = hp->agent_port,
		.has_source = hp->target.has_source,
		.timeout_ms = hp->agent_timeout_ms,
		.agent_send = hp->agent_send,
	};
	memcpy(t->addr, hp->target.addr, sizeof(t->addr));
	memcpy(t->source, hp->target.source, sizeof(t->source));
}

static void hc_agent_timer_fn(struct prober_timer *t)
{
	struct health_checker *hc = container_of(t, struct health_checker, agent_timer);
	struct probe_target at;

	hc_agent_target(hc, &at);
	hc->agent_start_ns = prober_now_ns();
	if (prober_start(hc->p, &at, hc_agent_done, hc, &hc->agent_probe))
		hc_schedule(hc, t, hc->agent_start_ns, hc->params.agent_interval_ms);
}

static void *memdup(const void *src, size_t len)
{
	void *dst = malloc(len ? len : 1);

	if (dst && len)
		memcpy(dst, src, len);
	return dst;
}

/* Copy the caller's strings and buffers so that its configuration may change or go. */
static int hc_copy_params(struct health_checker *hc, const struct hc_params *in)
{
	struct probe_target *t = &hc->params.target;

	hc->params = *in;
	t->http_path = t->http_host = NULL;
	t->udp_payload = t->udp_expect = NULL;
	t->agent_send = hc->params.agent_send = NULL;
	if (in->target.http_path && !(t->http_path = hc->http_path = strdup(in->target.http_path)))
		return -ENOMEM;
	if (in->target.http_host && !(t->http_host = hc->http_host = strdup(in->target.http_host)))
		return -ENOMEM;
	if (in->target.udp_payload_len &&
	    !(t->udp_payload = hc->udp_payload =
		      memdup(in->target.udp_payload, in->target.udp_payload_len)))
		return -ENOMEM;
	if (in->target.udp_expect_len &&
	    !(t->udp_expect = hc->udp_expect =
		      memdup(in->target.udp_expect, in->target.udp_expect_len)))
		return -ENOMEM;
	if (in->agent_send && !(hc->params.agent_send = hc->agent_send = strdup(in->agent_send)))
		return -ENOMEM;
	if (!hc->params.agent_interval_ms)
		hc->params.agent_interval_ms = hc->params.interval_ms;
	if (!hc->params.agent_timeout_ms)
		hc->params.agent_timeout_ms = hc->params.target.timeout_ms;
	return 0;
}

static int hc_check_params(const struct health_checker *hc)
{
	const struct hc_params *hp = &hc->params;
	struct probe_target at;

	if (!hp->interval_ms || !hp->rise || !hp->fall || hp->jitter_pct > HC_JITTER_PCT_MAX)
		return -EINVAL;
	if (hp->target.type && probe_target_check(&hp->target))
		return -EINVAL;
	if (hp->agent_port) {
		hc_agent_target(hc, &at);
		if (probe_target_check(&at))
			return -EINVAL;
	}
	return 0;
}

struct health_checker *hc_new(struct prober *p, const struct hc_params *params,
			      const struct hc_ops *ops, void *ctx)
{
	struct health_checker *hc;
	int err;

	hc = calloc(1, sizeof(*hc));
	if (!hc) {
		errno = ENOMEM;
		return NULL;
	}
	hc->p = p;
	hc->ops = ops;
	hc->ctx = ctx;
	hc->agent.weight_pct = -1;
	hc->timer.fn = hc_timer_fn;
	hc->agent_timer.fn = hc_agent_timer_fn;
	/* distinct per checker and per run; never 0, which xorshift would keep */
	hc->rng = (prober_now_ns() ^ (uintptr_t)hc) | 1;
	err = hc_copy_params(hc, params);
	if (!err)
		err = hc_check_params(hc);
	if (err) {
		hc_release(hc);
		errno = -err;
		return NULL;
	}
	return hc;
}

int hc_start(struct health_checker *hc, enum hc_verdict initial)
{
	const struct hc_params *hp = &hc->params;
	uint64_t now = prober_now_ns();
	uint32_t spread;

	hc_stop(hc);
	hc->verdict = initial;
	hc->successes = hc->failures = 0;
	hc->running = true;
	if (hp->target.type) {
		spread = hc_delay_ms(hp, initial, 0, 0);
		if (prober_timer_arm(hc->p, &hc->timer,
				     now + hc_rand(hc) % ((uint64_t)spread * NSEC_PER_MSEC)))
			goto err;
	}
	if (hp->agent_port) {
		spread = hp->agent_interval_ms;
		if (prober_timer_arm(hc->p, &hc->agent_timer,
				     now + hc_rand(hc) % ((uint64_t)spread * NSEC_PER_MSEC)))
			goto err;
	}
	return 0;
err:
	hc_stop(hc);
	return -ENOMEM;
}

void hc_stop(struct health_checker *hc)
{
	prober_timer_cancel(hc->p, &hc->timer);
	prober_timer_cancel(hc->p, &hc->agent_timer);
	prober_cancel(hc->probe);
	prober_cancel(hc->agent_probe);
	hc->probe = hc->agent_probe = NULL;
	hc->running = false;
}

void hc_free(struct health_checker *hc)
{
	if (!hc || hc->freed)
		return;
	hc_stop(hc);
	hc->freed = true;
	if (!hc->in_cb)
		hc_release(hc);
}
