// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlbd effective weights: configured weight x agent share x slow-start ramp, and the VIP rules. */
#include <time.h>

#include "shared.h"
#include "xlbd.h"

/* Agent states as probe.h numbers them (kept in xlbd_be_rt.agent_state). */
enum { AGENT_ST_DRAIN = 3, AGENT_ST_MAINT = 4, AGENT_ST_DOWN = 5 };

__u64 xlbd_now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec * 1000ull + now.tv_nsec / 1000000;
}

const char *xlbd_why_name(enum xlbd_why w)
{
	static const char *const names[XLBD_WHY__MAX] = {
		[XLBD_WHY_OK] = "ok",
		[XLBD_WHY_DISABLED] = "disabled",
		[XLBD_WHY_DOWN] = "down",
		[XLBD_WHY_AGENT_DOWN] = "agent down",
		[XLBD_WHY_DRAINING] = "draining",
		[XLBD_WHY_AGENT_DRAIN] = "agent drain",
		[XLBD_WHY_DRAINED] = "drained",
		[XLBD_WHY_BACKUP] = "backup",
		[XLBD_WHY_SLOW_START] = "slow start",
		[XLBD_WHY_PANIC] = "panic",
		[XLBD_WHY_ZERO] = "weight 0",
	};

	return w < XLBD_WHY__MAX ? names[w] : "?";
}

const char *xlbd_health_name(enum xlbd_health h)
{
	return h == XLBD_HEALTH_UP ? "up" : h == XLBD_HEALTH_DOWN ? "down" : "unknown";
}

/*
 * A backend that failed its check (a backend without one never fails): this host's verdict,
 * or with a shared configuration the cluster's (shared.c: down when most live hosts see it so).
 */
static bool failed(const struct xlbd *d, const struct xlb_cfg_vip *v,
		   const struct xlb_cfg_backend *b)
{
	return b->check.type != XLB_CHECK_NONE &&
	       shared_backend_down(d, v, b, d->be_rt[b->id].health == XLBD_HEALTH_DOWN);
}

static bool agent_out(const struct xlbd_be_rt *rt)
{
	return rt->agent_state == AGENT_ST_DOWN || rt->agent_state == AGENT_ST_MAINT;
}

/*
 * The slow-start share after @t of @span ms: a few steps (10, 25, 50, 75, then 100 %), so a
 * ramp costs four table rebuilds, not one per probe. *@next: when the next step starts.
 */
static __u32 ramp_pct(__u64 t, __u64 span, __u64 *next)
{
	static const __u32 pct[] = { 10, 25, 50, 75 };
	__u64 q = t * 4 / span;

	*next = (q + 1) * span / 4 - t;
	return pct[q];
}

static void set(struct xlbd_be_rt *rt, __u32 weight, enum xlbd_why why, bool usable)
{
	rt->weight = weight;
	rt->why = why;
	rt->usable = usable;
}

/*
 * One backend's effective weight, the only place it is computed. @panic: the VIP is below its
 * min_healthy_pct, so a failed check does not take the backend out. Returns the ms until it
 * may change by itself (a ramp step, a drain timeout), or 0.
 */
static __u64 weigh_one(struct xlbd *d, const struct xlb_cfg_vip *v, const struct xlb_cfg_backend *b,
		       bool panic, __u64 now)
{
	struct xlbd_be_rt *rt = &d->be_rt[b->id];
	__u64 w, next = 0, slow = b->slow_start_ms ? b->slow_start_ms : v->slow_start_ms;
	__u64 drain = b->drain_timeout_ms ? b->drain_timeout_ms : v->drain_timeout_ms;

	if (b->state == XLB_STATE_DISABLED) {
		set(rt, 0, XLBD_WHY_DISABLED, false);
		return 0;
	}
	if (agent_out(rt)) {
		set(rt, 0, XLBD_WHY_AGENT_DOWN, false);
		return 0;
	}
	if (failed(d, v, b) && !panic) {
		set(rt, 0, XLBD_WHY_DOWN, false);
		return 0;
	}
	if (b->state == XLB_STATE_DRAINING) {
		if (!rt->drain_since_ms)
			rt->drain_since_ms = now;
		if (drain && now - rt->drain_since_ms >= drain) {
			set(rt, 0, XLBD_WHY_DRAINED, false);
			return 0;
		}
		set(rt, 0, XLBD_WHY_DRAINING, true);
		return drain ? rt->drain_since_ms + drain - now : 0;
	}
	rt->drain_since_ms = 0;
	if (rt->agent_state == AGENT_ST_DRAIN) {
		set(rt, 0, XLBD_WHY_AGENT_DRAIN, true);
		return 0;
	}
	w = b->weight;
	if (rt->agent_pct_set)
		w = w * rt->agent_pct / 100;
	if (!w) {
		set(rt, 0, XLBD_WHY_ZERO, true);
		return 0;
	}
	if (failed(d, v, b)) {
		set(rt, w, XLBD_WHY_PANIC, true);
		return 0;
	}
	if (slow && rt->up_since_ms && now - rt->up_since_ms < slow) {
		w = w * ramp_pct(now - rt->up_since_ms, slow, &next) / 100;
		set(rt, w ? w : 1, XLBD_WHY_SLOW_START, true);
		return next ? next : 1;
	}
	set(rt, w, XLBD_WHY_OK, true);
	return 0;
}

/* Can @b carry traffic as far as its own state and health go (for min_healthy_pct)? */
static bool healthy(const struct xlbd *d, const struct xlb_cfg_vip *v,
		    const struct xlb_cfg_backend *b)
{
	return b->state == XLB_STATE_ACTIVE && !failed(d, v, b) && !agent_out(&d->be_rt[b->id]);
}

__u64 xlbd_weigh(struct xlbd *d, const struct xlb_cfg_vip *v, __u64 now)
{
	struct xlbd_vip_rt *vrt = &d->vip_rt[v->id];
	unsigned int total = 0, ok = 0;
	bool panic, primary_up = false;
	__u64 next = 0, n;
	char name[96];
	size_t i;

	for (i = 0; i < v->nbackends; i++) {
		const struct xlb_cfg_backend *b = &v->backends[i];

		if (b->backup || b->state != XLB_STATE_ACTIVE)
			continue;
		total++;
		ok += healthy(d, v, b);
	}
	panic = v->min_healthy_pct && total && ok * 100 < v->min_healthy_pct * total;
	if (panic != vrt->panic)
		xlbd_event(d, panic ? XLB_LOG_WARN : XLB_LOG_INFO,
			   panic ? "vip %s: PANIC: %u of %u primaries healthy, below min_healthy_pct "
				   "%u%%: balancing over all of them, failed ones included"
				 : "vip %s: panic over: %u of %u primaries healthy (min_healthy_pct %u%%)",
			   xlb_vip_name(v, name, sizeof(name)), ok, total, v->min_healthy_pct);
	vrt->panic = panic;
	for (i = 0; i < v->nbackends; i++) {
		const struct xlb_cfg_backend *b = &v->backends[i];

		n = weigh_one(d, v, b, panic && !b->backup, now);
		if (n && (!next || n < next))
			next = n;
		if (!b->backup && d->be_rt[b->id].weight)
			primary_up = true;
	}
	/* backups take traffic only while no primary can; they keep their flows either way */
	for (i = 0; primary_up && i < v->nbackends; i++) {
		struct xlbd_be_rt *rt = &d->be_rt[v->backends[i].id];

		if (v->backends[i].backup && rt->weight)
			set(rt, 0, XLBD_WHY_BACKUP, rt->usable);
	}
	return next;
}
