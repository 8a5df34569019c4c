// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlbd checks: one health checker per backend of the running configuration, and its verdicts. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "xlbd.h"

/* A checker and what it was made from, so that a change of either is noticed. */
struct xlbd_check {
	struct xlbd *d;
	__u32 id;			/* backend id */
	__u32 vip_id;
	struct xlb_cfg_check cfg;	/* the check it runs */
	__u8 family;
	__be32 addr[4];
	uint16_t port;
	struct health_checker *hc;
};

static const char *be_name(const struct xlbd_check *c, char *buf, size_t len)
{
	/* port 0: the VIP's port, as the config writes it */
	if (!c->port)
		return xlb_addr_format(c->addr, c->family, buf, len);
	return xlb_hostport_format(c->addr, c->family, c->port, buf, len);
}

static const char *vip_name_of(const struct xlbd *d, __u32 vip_id, char *buf, size_t len)
{
	for (size_t i = 0; i < d->cfg->nvips; i++)
		if (d->cfg->vips[i].id == vip_id)
			return xlb_vip_name(&d->cfg->vips[i], buf, len);
	snprintf(buf, len, "id %u", vip_id);
	return buf;
}

static void on_change(void *ctx, struct health_checker *hc, enum hc_verdict from,
		      enum hc_verdict to)
{
	struct xlbd_check *c = ctx;
	struct xlbd *d = c->d;
	struct xlbd_be_rt *rt = &d->be_rt[c->id];
	char vn[96], bn[64];

	rt->health = to == HC_UP ? XLBD_HEALTH_UP : to == HC_DOWN ? XLBD_HEALTH_DOWN :
				   XLBD_HEALTH_UNKNOWN;
	if (to == HC_UP && from == HC_DOWN)
		rt->up_since_ms = xlbd_now_ms(); /* slow start counts from here */
	xlbd_event(d, to == HC_DOWN ? XLB_LOG_WARN : XLB_LOG_INFO,
		   "vip %s: backend %s: %s -> %s (%s: %s, %u ok / %u failed in a row)",
		   vip_name_of(d, c->vip_id, vn, sizeof(vn)), be_name(c, bn, sizeof(bn)),
		   hc_verdict_name(from), hc_verdict_name(to), xlb_cfg_check_name(c->cfg.type),
		   hc->last.valid ? hc->last.r.detail : "-", hc->successes, hc->failures);
	d->vip_rt[c->vip_id].dirty = true;
	d->refresh = true;
}

static void on_agent(void *ctx, struct health_checker *hc, const struct agent_reply *from,
		     const struct agent_reply *to)
{
	struct xlbd_check *c = ctx;
	struct xlbd *d = c->d;
	struct xlbd_be_rt *rt = &d->be_rt[c->id];
	char vn[96], bn[64], pct[16] = "-";

	(void)hc;
	(void)from;
	rt->agent_state = to->state;
	rt->agent_pct_set = to->weight_pct >= 0;
	rt->agent_pct = to->weight_pct >= 0 ? to->weight_pct : 0;
	if (to->weight_pct >= 0)
		snprintf(pct, sizeof(pct), "%d%%", to->weight_pct);
	xlbd_event(d, XLB_LOG_INFO, "vip %s: backend %s: agent says %s, weight %s%s%s",
		   vip_name_of(d, c->vip_id, vn, sizeof(vn)), be_name(c, bn, sizeof(bn)),
		   agent_state_name(to->state), pct, to->reason[0] ? " #" : "", to->reason);
	d->vip_rt[c->vip_id].dirty = true;
	d->refresh = true;
}

/* Every probe outcome, for the metrics (latency histogram, probe and failure counters). */
static void on_result(void *ctx, struct health_checker *hc, const struct probe_result *r,
		      bool agent)
{
	struct xlbd_check *c = ctx;

	(void)hc;
	metrics_probe(c->d, c->id, c->cfg.type, agent, r);
}

static const struct hc_ops ops = { .on_change = on_change, .on_agent = on_agent,
				   .on_result = on_result };

/* The checker parameters of backend @b's check. */
static void params_of(const struct xlb_cfg_backend *b, struct hc_params *hp)
{
	const struct xlb_cfg_check *k = &b->check;
	struct probe_target *t = &hp->target;

	memset(hp, 0, sizeof(*hp));
	t->type = k->type == XLB_CHECK_TCP ? PROBE_TCP : k->type == XLB_CHECK_HTTP ? PROBE_HTTP :
		  k->type == XLB_CHECK_UDP ? PROBE_UDP : 0;
	t->family = b->family;
	memcpy(t->addr, b->addr, 16);
	t->port = k->port ? k->port : b->port;
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

static bool wants_checker(const struct xlb_cfg_backend *b)
{
	return b->check.type != XLB_CHECK_NONE || b->check.agent_port;
}

void checks_drop(struct xlbd *d, __u32 id)
{
	struct xlbd_check *c = d->be_rt[id].check;

	if (!c)
		return;
	hc_free(c->hc);
	free(c);
	d->be_rt[id].check = NULL;
}

/* The seed of a new checker: what the datapath holds for the backend, so a restart changes nothing. */
static enum hc_verdict seed(const struct xlbd *d, __u32 id)
{
	const struct xlbd_be_rt *rt = &d->be_rt[id];

	return rt->health == XLBD_HEALTH_UP ? HC_UP :
	       rt->health == XLBD_HEALTH_DOWN ? HC_DOWN : HC_UNKNOWN;
}

static int check_new(struct xlbd *d, const struct xlb_cfg_vip *v, const struct xlb_cfg_backend *b)
{
	struct xlbd_check *c = calloc(1, sizeof(*c));
	struct hc_params hp;
	char vn[96], bn[64];
	int err;

	if (!c)
		return -ENOMEM;
	c->d = d;
	c->id = b->id;
	c->vip_id = v->id;
	c->cfg = b->check;
	c->family = b->family;
	memcpy(c->addr, b->addr, 16);
	c->port = b->port;
	params_of(b, &hp);
	c->hc = hc_new(d->prober, &hp, &ops, c);
	if (!c->hc) {
		err = -errno;
		pr_warn("vip %s: backend %s: cannot start its check: %s",
			xlb_vip_name(v, vn, sizeof(vn)), be_name(c, bn, sizeof(bn)), strerror(errno));
		free(c);
		return err;
	}
	err = hc_start(c->hc, seed(d, b->id));
	if (err) {
		hc_free(c->hc);
		free(c);
		return err;
	}
	d->be_rt[b->id].check = c;
	return 0;
}

static bool same(const struct xlbd_check *c, const struct xlb_cfg_vip *v,
		 const struct xlb_cfg_backend *b)
{
	return c->vip_id == v->id && c->family == b->family && !memcmp(c->addr, b->addr, 16) &&
	       c->port == b->port && !memcmp(&c->cfg, &b->check, sizeof(c->cfg));
}

void checks_sync(struct xlbd *d)
{
	bool *keep = calloc(XLB_MAX_BACKENDS, sizeof(bool));
	size_t i, j;
	__u32 id;

	if (!d->prober)
		goto out;
	for (i = 0; i < d->cfg->nvips; i++) {
		const struct xlb_cfg_vip *v = &d->cfg->vips[i];

		for (j = 0; j < v->nbackends; j++) {
			const struct xlb_cfg_backend *b = &v->backends[j];
			struct xlbd_check *c = d->be_rt[b->id].check;

			if (!wants_checker(b))
				continue;
			if (keep)
				keep[b->id] = true;
			if (c && same(c, v, b))
				continue;
			checks_drop(d, b->id);
			check_new(d, v, b);
		}
	}
	for (id = 1; keep && id < XLB_MAX_BACKENDS; id++) {
		if (!d->be_rt[id].check || keep[id])
			continue;
		checks_drop(d, id);
		/* no check any more: a backend without one counts as up, whatever it said */
		d->be_rt[id].health = XLBD_HEALTH_UNKNOWN;
		d->be_rt[id].agent_state = 0;
		d->be_rt[id].agent_pct_set = false;
		if (d->be_rt[id].programmed && d->be_rt[id].prog.vip_id < XLB_MAX_VIPS) {
			d->vip_rt[d->be_rt[id].prog.vip_id].dirty = true;
			d->refresh = true;
		}
	}
out:
	free(keep);
}

void checks_free(struct xlbd *d)
{
	for (__u32 id = 1; d->be_rt && id < XLB_MAX_BACKENDS; id++)
		checks_drop(d, id);
}

const struct health_checker *checks_of(const struct xlbd *d, __u32 id)
{
	const struct xlbd_check *c = d->be_rt[id].check;

	return c ? c->hc : NULL;
}
