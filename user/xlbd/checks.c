// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlbd checks: the health checkers of the running configuration's backends. Backends probed the
 * same way (same address, probe port and check settings: one server behind several VIPs) share
 * one checker: the server is probed once, not once per VIP, and its verdict reaches every VIP
 * in the same loop turn, so their tables are rebuilt and swapped in one batch.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "xlbd.h"

#define CHECK_BUCKETS 16384	/* hash chains of checkers; 65,535 backends at most */

/* What a checker probes and how: equal keys share a checker. Zero-filled, then copied field by field. */
struct check_key {
	__u8 family;
	__be32 addr[4];
	uint16_t port;			/* resolved: the check's, the backend's or the VIP's */
	enum xlb_cfg_check_type type;
	char path[XLB_HTTP_PATH_MAX];
	char host[256];
	uint16_t expect, expect_hi;
	uint32_t interval_ms, timeout_ms, rise, fall, jitter_pct, fastinter_ms, downinter_ms;
	bool has_source;
	__be32 source[4];
	uint32_t payload_len, expect_payload_len;
	uint8_t payload[512], expect_payload[512];
	uint16_t agent_port;
	uint32_t agent_interval_ms;
	char agent_send[256];
};

/* A checker and the backends (ids) that take its verdicts. */
struct xlbd_check {
	struct xlbd *d;
	struct check_key key;
	struct health_checker *hc;
	__u32 *subs;			/* backend ids */
	size_t nsubs, cap;
	bool seen;			/* still wanted by the configuration being synced */
	bool emptied;			/* listed in xlbd_checks.emptied */
	struct xlbd_check *next;	/* hash chain */
};

struct xlbd_checks {
	struct xlbd_check *bucket[CHECK_BUCKETS];
	/* checkers that lost a backend since the last sync (checks_drop()): freed if left empty */
	struct xlbd_check **emptied;
	size_t nemptied, cap;
	/* ids may have moved (state_apply()): the next checks_sync_since() syncs every backend */
	bool full;
};

/* @src (a NUL-terminated field of the config) into zeroed @dst of @size bytes. */
static void copy_str(char *dst, const char *src, size_t size)
{
	memcpy(dst, src, strnlen(src, size - 1));
}

static void key_of(const struct xlb_cfg_vip *v, const struct xlb_cfg_backend *b,
		   struct check_key *k)
{
	const struct xlb_cfg_check *c = &b->check;

	memset(k, 0, sizeof(*k));
	k->family = b->family;
	memcpy(k->addr, b->addr, 16);
	k->port = c->port ? c->port : b->port ? b->port : v->port;
	k->type = c->type;
	if (c->type == XLB_CHECK_HTTP) {
		copy_str(k->path, c->path, sizeof(k->path));
		copy_str(k->host, c->host, sizeof(k->host));
		k->expect = c->expect;
		k->expect_hi = c->expect_hi;
	}
	k->interval_ms = c->interval_ms;
	k->timeout_ms = c->timeout_ms;
	k->rise = c->rise;
	k->fall = c->fall;
	k->jitter_pct = c->jitter_pct;
	k->fastinter_ms = c->fastinter_ms;
	k->downinter_ms = c->downinter_ms;
	k->has_source = c->has_source;
	if (c->has_source)
		memcpy(k->source, c->source, 16);
	if (c->type == XLB_CHECK_UDP) {
		k->payload_len = c->payload_len;
		memcpy(k->payload, c->payload, c->payload_len);
		k->expect_payload_len = c->expect_payload_len;
		memcpy(k->expect_payload, c->expect_payload, c->expect_payload_len);
	}
	k->agent_port = c->agent_port;
	if (c->agent_port) {
		k->agent_interval_ms = c->agent_interval_ms;
		copy_str(k->agent_send, c->agent_send, sizeof(k->agent_send));
	}
}

static uint32_t key_hash(const struct check_key *k)
{
	const uint8_t *p = (const uint8_t *)k;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return (h ^ (h >> 32)) % CHECK_BUCKETS;
}

static void params_of(const struct check_key *k, struct hc_params *hp)
{
	struct probe_target *t = &hp->target;

	memset(hp, 0, sizeof(*hp));
	t->type = k->type == XLB_CHECK_TCP ? PROBE_TCP : k->type == XLB_CHECK_HTTP ? PROBE_HTTP :
		  k->type == XLB_CHECK_UDP ? PROBE_UDP : 0;
	t->family = k->family;
	memcpy(t->addr, k->addr, 16);
	t->port = k->port;
	t->has_source = k->has_source;
	memcpy(t->source, k->source, 16);
	t->timeout_ms = k->timeout_ms;
	t->http_path = k->path;
	t->http_host = k->host[0] ? k->host : NULL;
	t->expect_lo = k->expect;
	t->expect_hi = k->expect_hi;
	t->udp_payload = k->payload;
	t->udp_payload_len = k->payload_len;
	t->udp_expect = k->expect_payload;
	t->udp_expect_len = k->expect_payload_len;
	hp->interval_ms = k->interval_ms;
	hp->rise = k->rise;
	hp->fall = k->fall;
	hp->jitter_pct = k->jitter_pct;
	hp->fastinter_ms = k->fastinter_ms;
	hp->downinter_ms = k->downinter_ms;
	hp->agent_port = k->agent_port;
	hp->agent_interval_ms = k->agent_interval_ms;
	hp->agent_send = k->agent_send[0] ? k->agent_send : NULL;
}

static const char *key_name(const struct check_key *k, char *buf, size_t len)
{
	return xlb_hostport_format(k->addr, k->family, k->port, buf, len);
}

/* "vip 198.18.0.10:80/tcp: backend" for one subscriber, "backend (in 3 VIPs)" for several. */
static const char *subs_name(const struct xlbd_check *c, char *buf, size_t len)
{
	const struct xlbd *d = c->d;
	char vn[96], bn[64];
	__u32 vip_id = d->be_rt[c->subs[0]].prog.vip_id;

	key_name(&c->key, bn, sizeof(bn));
	if (c->nsubs > 1) {
		snprintf(buf, len, "backend %s (in %zu VIPs)", bn, c->nsubs);
		return buf;
	}
	snprintf(vn, sizeof(vn), "id %u", vip_id);
	for (size_t i = 0; i < d->cfg->nvips; i++)
		if (d->cfg->vips[i].id == vip_id)
			xlb_vip_name(&d->cfg->vips[i], vn, sizeof(vn));
	snprintf(buf, len, "vip %s: backend %s", vn, bn);
	return buf;
}

static enum xlbd_health health_of(enum hc_verdict v)
{
	return v == HC_UP ? XLBD_HEALTH_UP : v == HC_DOWN ? XLBD_HEALTH_DOWN : XLBD_HEALTH_UNKNOWN;
}

static void dirty(struct xlbd *d, __u32 id)
{
	__u32 vip_id = d->be_rt[id].prog.vip_id;

	if (vip_id < d->max_vips) {
		d->vip_rt[vip_id].dirty = true;
		d->refresh = true;
	}
}

static void on_change(void *ctx, struct health_checker *hc, enum hc_verdict from,
		      enum hc_verdict to)
{
	struct xlbd_check *c = ctx;
	struct xlbd *d = c->d;
	char who[256];

	if (!c->nsubs)
		return; /* its backends were removed; the next checks_sync() frees it */
	for (size_t i = 0; i < c->nsubs; i++) {
		struct xlbd_be_rt *rt = &d->be_rt[c->subs[i]];

		rt->health = health_of(to);
		if (to == HC_UP && from == HC_DOWN)
			rt->up_since_ms = xlbd_now_ms(); /* slow start counts from here */
		dirty(d, c->subs[i]);
	}
	xlbd_event(d, to == HC_DOWN ? XLB_LOG_WARN : XLB_LOG_INFO,
		   "%s: %s -> %s (%s: %s, %u ok / %u failed in a row)",
		   subs_name(c, who, sizeof(who)), hc_verdict_name(from), hc_verdict_name(to),
		   xlb_cfg_check_name(c->key.type), hc->last.valid ? hc->last.r.detail : "-",
		   hc->successes, hc->failures);
}

static void agent_into(struct xlbd_be_rt *rt, const struct agent_reply *a)
{
	rt->agent_state = a->state;
	rt->agent_pct_set = a->weight_pct >= 0;
	rt->agent_pct = a->weight_pct >= 0 ? a->weight_pct : 0;
}

static void on_agent(void *ctx, struct health_checker *hc, const struct agent_reply *from,
		     const struct agent_reply *to)
{
	struct xlbd_check *c = ctx;
	struct xlbd *d = c->d;
	char who[256], pct[16] = "-";

	(void)hc;
	(void)from;
	if (!c->nsubs)
		return;
	for (size_t i = 0; i < c->nsubs; i++) {
		agent_into(&d->be_rt[c->subs[i]], to);
		dirty(d, c->subs[i]);
	}
	if (to->weight_pct >= 0)
		snprintf(pct, sizeof(pct), "%d%%", to->weight_pct);
	xlbd_event(d, XLB_LOG_INFO, "%s: agent says %s, weight %s%s%s",
		   subs_name(c, who, sizeof(who)), agent_state_name(to->state), pct,
		   to->reason[0] ? " #" : "", to->reason);
}

/* Every probe outcome, for the metrics (latency histogram, probe and failure counters). */
static void on_result(void *ctx, struct health_checker *hc, const struct probe_result *r,
		      bool agent)
{
	struct xlbd_check *c = ctx;

	(void)hc;
	metrics_probe(c->d, c->subs, c->nsubs, c->key.type, agent, r);
}

static const struct hc_ops ops = { .on_change = on_change, .on_agent = on_agent,
				   .on_result = on_result };

static bool wants_checker(const struct xlb_cfg_backend *b)
{
	return b->check.type != XLB_CHECK_NONE || b->check.agent_port;
}

static struct xlbd_check *find(struct xlbd_checks *t, const struct check_key *k, uint32_t h)
{
	struct xlbd_check *c;

	for (c = t->bucket[h]; c; c = c->next)
		if (!memcmp(&c->key, k, sizeof(*k)))
			return c;
	return NULL;
}

/* A new checker of @k, seeded with the health @seed (what the datapath holds). */
static struct xlbd_check *check_new(struct xlbd *d, const struct check_key *k, uint32_t h,
				    enum xlbd_health seed)
{
	struct xlbd_check *c = calloc(1, sizeof(*c));
	struct hc_params hp;
	char bn[64];

	if (!c)
		return NULL;
	c->d = d;
	c->key = *k;
	params_of(k, &hp);
	c->hc = hc_new(d->prober, &hp, &ops, c);
	if (!c->hc || hc_start(c->hc, seed == XLBD_HEALTH_UP ? HC_UP :
				      seed == XLBD_HEALTH_DOWN ? HC_DOWN : HC_UNKNOWN)) {
		pr_warn("backend %s: cannot start its check: %s", key_name(k, bn, sizeof(bn)),
			strerror(errno ? errno : ENOMEM));
		hc_free(c->hc);
		free(c);
		return NULL;
	}
	c->next = d->checks->bucket[h];
	d->checks->bucket[h] = c;
	return c;
}

static int subscribe(struct xlbd_check *c, __u32 id)
{
	if (c->nsubs == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 2;
		__u32 *n = realloc(c->subs, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		c->subs = n;
		c->cap = cap;
	}
	c->subs[c->nsubs++] = id;
	return 0;
}

/* A backend gone from every checker: no check counts as up, whatever it said before. */
static void forget(struct xlbd *d, __u32 id)
{
	struct xlbd_be_rt *rt = &d->be_rt[id];

	rt->check = NULL;
	rt->health = XLBD_HEALTH_UNKNOWN;
	rt->agent_state = 0;
	rt->agent_pct_set = false;
	if (rt->programmed)
		dirty(d, id);
}

/* A checker that lost a backend: kept for the others, freed at the end of the sync if none is left. */
static void note_emptied(struct xlbd_checks *t, struct xlbd_check *c)
{
	struct xlbd_check **n;

	if (c->emptied || c->nsubs)
		return;
	if (t->nemptied == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;

		n = realloc(t->emptied, cap * sizeof(*n));
		if (!n)
			return;	/* the next full sync frees it */
		t->emptied = n;
		t->cap = cap;
	}
	c->emptied = true;
	t->emptied[t->nemptied++] = c;
}

/* Remove @c from its hash chain and free it. */
static void check_free(struct xlbd_checks *t, struct xlbd_check *c)
{
	struct xlbd_check **pp = &t->bucket[key_hash(&c->key)];

	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	hc_free(c->hc);
	free(c->subs);
	free(c);
}

static void unsubscribe(struct xlbd_checks *t, struct xlbd_check *c, __u32 id)
{
	for (size_t i = 0; i < c->nsubs; i++)
		if (c->subs[i] == id)
			c->subs[i] = c->subs[--c->nsubs];
	note_emptied(t, c);
}

/*
 * Backend @be of VIP @v onto the checker of its key @k: the one it has when the key is the
 * same (@resub: subscribe it again, after a full sync cleared every checker's list), else one
 * found or created. A backend joining a running checker takes its verdict and agent at once.
 */
static void sync_backend(struct xlbd *d, const struct xlb_cfg_vip *v,
			 const struct xlb_cfg_backend *be, struct check_key *k, bool resub)
{
	struct xlbd_be_rt *rt = &d->be_rt[be->id];
	struct xlbd_check *c;
	uint32_t h;

	if (!wants_checker(be)) {
		if (rt->check) {
			if (!resub)
				unsubscribe(d->checks, rt->check, be->id);
			forget(d, be->id);
		}
		return;
	}
	key_of(v, be, k);
	c = rt->check;
	if (c && !memcmp(&c->key, k, sizeof(*k)) && !resub) {
		c->seen = true;
		return;	/* the same checker as before: nothing changes */
	}
	if (c && !resub)
		unsubscribe(d->checks, c, be->id);
	h = key_hash(k);
	c = find(d->checks, k, h);
	if (!c)
		c = check_new(d, k, h, rt->health);
	if (!c || subscribe(c, be->id)) {
		if (rt->check)
			forget(d, be->id);
		return;
	}
	c->seen = true;
	rt->check = c;
	if (c->hc->verdict != HC_UNKNOWN && health_of(c->hc->verdict) != rt->health) {
		rt->health = health_of(c->hc->verdict);
		dirty(d, be->id);
	}
	if (!k->agent_port && (rt->agent_state || rt->agent_pct_set)) {
		rt->agent_state = 0; /* an agent no longer asked has nothing to say */
		rt->agent_pct_set = false;
		dirty(d, be->id);
	} else if (k->agent_port && c->hc->agent_last.valid) {
		agent_into(rt, &c->hc->agent);
	}
}

static bool checks_ready(struct xlbd *d)
{
	if (!d->prober)
		return false;
	if (!d->checks)
		d->checks = calloc(1, sizeof(*d->checks));
	return d->checks;
}

void checks_sync(struct xlbd *d)
{
	struct check_key *k = malloc(sizeof(*k));
	struct xlbd_check *c, **pp;
	size_t i, j, b;

	if (!k || !checks_ready(d))
		goto out;
	for (b = 0; b < CHECK_BUCKETS; b++)
		for (c = d->checks->bucket[b]; c; c = c->next) {
			c->nsubs = 0;
			c->seen = false;
			c->emptied = false;
		}
	d->checks->nemptied = 0;
	d->checks->full = false;
	for (i = 0; i < d->cfg->nvips; i++) {
		const struct xlb_cfg_vip *v = &d->cfg->vips[i];

		for (j = 0; j < v->nbackends; j++)
			sync_backend(d, v, &v->backends[j], k, true);
	}
	/* checkers nobody subscribes to any more */
	for (b = 0; b < CHECK_BUCKETS; b++) {
		for (pp = &d->checks->bucket[b]; (c = *pp);) {
			if (c->seen) {
				pp = &c->next;
				continue;
			}
			*pp = c->next;
			hc_free(c->hc);
			free(c->subs);
			free(c);
		}
	}
out:
	free(k);
}

void checks_sync_since(struct xlbd *d, __u64 since)
{
	struct check_key *k;
	struct xlbd_checks *t;
	size_t i, j;

	if (!checks_ready(d))
		return;
	if (d->checks->full) {
		checks_sync(d);
		return;
	}
	k = malloc(sizeof(*k));
	if (!k) {
		d->checks->full = true;	/* done whole on the next change */
		return;
	}
	/* the untouched VIPs' backends are the same, with the same ids, on the same checkers */
	for (i = 0; i < d->cfg->nvips; i++) {
		const struct xlb_cfg_vip *v = &d->cfg->vips[i];

		if (v->stamp <= since)
			continue;
		for (j = 0; j < v->nbackends; j++)
			sync_backend(d, v, &v->backends[j], k, false);
	}
	free(k);
	/* the checkers left without a backend (removed, or moved to another checker) */
	t = d->checks;
	for (i = 0; i < t->nemptied; i++) {
		t->emptied[i]->emptied = false;
		if (!t->emptied[i]->nsubs)
			check_free(t, t->emptied[i]);
	}
	t->nemptied = 0;
}

void checks_invalidate(struct xlbd *d)
{
	if (d->checks)
		d->checks->full = true;
}

/* Backend @id leaves its checker (its id is freed): the checker stays for the others. */
void checks_drop(struct xlbd *d, __u32 id)
{
	struct xlbd_check *c = d->be_rt[id].check;

	if (!c)
		return;
	unsubscribe(d->checks, c, id);
	d->be_rt[id].check = NULL;
}

void checks_free(struct xlbd *d)
{
	struct xlbd_check *c, *n;

	if (!d->checks)
		return;
	for (size_t b = 0; b < CHECK_BUCKETS; b++)
		for (c = d->checks->bucket[b]; c; c = n) {
			n = c->next;
			hc_free(c->hc);
			free(c->subs);
			free(c);
		}
	free(d->checks->emptied);
	free(d->checks);
	d->checks = NULL;
}

const struct health_checker *checks_of(const struct xlbd *d, __u32 id)
{
	const struct xlbd_check *c = d->be_rt[id].check;

	return c ? c->hc : NULL;
}
