// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlbd adoption: the pinned state of an earlier xlbd as a configuration and remembered copies. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlbd.h"

/*
 * The pinned state as a configuration, and the remembered copies of what the maps hold: VIPs
 * with their ids from xlb_vips, backends from xlb_backends matched to their VIP by vip_id, with
 * their address and port. What the maps do not hold (weights) is unknown: the tables are
 * rebuilt, and a rebuilt table equal to the pinned one is left in place. A backend starts in
 * the health the datapath holds for it (usable: up; not: down), so a restart neither floods a
 * cold backend nor drops a healthy one. Pins written before xlb_backend.port existed have port
 * 0 there: such backends are matched by address alone.
 */
struct pins_ctx {
	struct xlbd *d;
	struct xlb_cfg *cfg;
	size_t cap;
	int err;
};

static int pins_vip_cb(const struct xlb_vip_key *key, const struct xlb_vip *vip, void *ctx)
{
	struct pins_ctx *p = ctx;
	struct xlbd_vip_rt *rt;
	struct xlb_cfg_vip *v;
	int m;

	if (vip->id >= p->d->max_vips) {
		pr_warn("adopt: pinned VIP with id %u out of range, ignored", vip->id);
		return 0;
	}
	if (p->cfg->nvips == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct xlb_cfg_vip *n = realloc(p->cfg->vips, cap * sizeof(*n));

		if (!n) {
			p->err = -ENOMEM;
			return 1;
		}
		p->cfg->vips = n;
		p->cap = cap;
	}
	v = &p->cfg->vips[p->cfg->nvips++];
	xlb_cfg_vip_init(v);
	memcpy(v->addr, key->addr, 16);
	v->family = key->family;
	v->port = ntohs(key->port);
	v->proto = key->proto;
	v->mode = vip->mode;
	v->hash = vip->flags & XLB_VIP_F_HASH_SRC ? XLB_HASH_SRC : XLB_HASH_5TUPLE;
	v->no_backend_pass = vip->flags & XLB_VIP_F_PASS_NO_BACKEND;
	/* M as the pinned table holds it (none: the config's default until the file says) */
	m = xlb_vip__get_table(p->d->x, vip->id, NULL, 0);
	if (m > 0)
		v->table_size = (__u32)m;
	v->id = vip->id;
	v->id_set = true;
	rt = &p->d->vip_rt[vip->id];
	rt->programmed = true;
	rt->key = *key;
	rt->val = *vip;
	rt->table_unknown = true;
	rt->m = m > 0 ? (__u32)m : 0;
	return 0;
}

struct xlb_cfg *state_from_pins(struct xlbd *d)
{
	struct pins_ctx p = { .d = d };
	unsigned int orphans = 0, n = 0;
	struct xlb_backend be;
	size_t i;
	__u32 id;

	p.cfg = calloc(1, sizeof(*p.cfg));
	if (!p.cfg)
		return NULL;
	if (xlb_vip__foreach(d->x, pins_vip_cb, &p) < 0 || p.err) {
		xlb_cfg_free(p.cfg);
		return NULL;
	}
	if (!xlb__config_get(d->x, &d->prog_config))
		d->config_programmed = true;
	for (id = 1; id < d->max_backends; id++) {
		struct xlb_cfg_backend *b;
		struct xlb_cfg_vip *v = NULL;
		struct xlbd_be_rt *rt;

		if (xlb_backend__get(d->x, id, &be) || !be.family)
			continue;
		for (i = 0; i < p.cfg->nvips; i++)
			if (p.cfg->vips[i].id == be.vip_id)
				v = &p.cfg->vips[i];
		if (!v) {
			/* A backend whose VIP is gone (a daemon killed mid-change): remove it. */
			xlb_backend__clear(d->x, id);
			xlb_stats__clear_backend(d->x, id);
			orphans++;
			continue;
		}
		if (xlb_cfg_vip_backends_reserve(v, v->nbackends + 1)) {
			xlb_cfg_free(p.cfg);
			return NULL;
		}
		b = &v->backends[v->nbackends++];
		xlb_cfg_backend_init(b);
		memcpy(b->addr, be.addr, 16);
		b->family = be.family;
		b->port = ntohs(be.port);
		b->state = be.flags & XLB_BE_F_USABLE ? XLB_STATE_ACTIVE : XLB_STATE_DISABLED;
		memcpy(b->mac, be.mac, 6);
		b->has_mac = v->mode == XLB_MODE_L2;
		b->id = id;
		rt = &d->be_rt[id];
		rt->programmed = true;
		rt->prog = be;
		rt->health = be.flags & XLB_BE_F_USABLE ? XLBD_HEALTH_UP : XLBD_HEALTH_DOWN;
		n++;
	}
	/*
	 * New ids continue after the highest pinned one: an id freed by the previous daemon is
	 * reused as late as possible, so a stale flow-table entry meets a cleared backend (and
	 * re-hashes) rather than a new one.
	 */
	for (i = 0; i < p.cfg->nvips; i++) {
		struct xlb_cfg_vip *v = &p.cfg->vips[i];
		size_t j;

		if (v->id + 1 > d->vip_next)
			d->vip_next = (v->id + 1) % d->max_vips;
		for (j = 0; j < v->nbackends; j++)
			if (v->backends[j].id + 1 > d->be_next)
				d->be_next = v->backends[j].id + 1 >= d->max_backends ?
						     1 : v->backends[j].id + 1;
	}
	if (orphans)
		pr_warn("adopt: removed %u pinned backends whose VIP is gone", orphans);
	pr_info("adopt: pinned state holds %zu VIPs and %u backends", p.cfg->nvips, n);
	return p.cfg;
}

