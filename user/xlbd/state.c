// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlbd state: reconcile the datapath with a configuration and the runtime health. What every map
 * entry should hold is computed from the config and the effective weights; what it holds is
 * remembered in xlbd_vip_rt / xlbd_be_rt; only the differences are written, in passes ordered
 * so that every packet stays on a valid path. Adoption fills the remembered copies from the pins,
 * a rollback applies the previous configuration, a health change re-weighs and re-applies the
 * VIPs it touched: one path for all of them. The Maglev tables pass is state_tables.c, the log
 * lines of a change state_log.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state_int.h"

/* ------------------------------------------------------------------ desired values */

static void cfg_to_map(const struct xlb_cfg *c, struct xlb_config *m)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->nexthop_mac, c->nexthop_mac, 6);
	m->gue_port = c->gue_port;
	m->hash_seed = c->hash_seed;
	m->encap_src4 = c->has_encap4 ? c->encap_source4 : 0;
	if (c->has_encap6)
		memcpy(m->encap_src6, c->encap_source6, 16);
	m->encap_src4_bits = c->encap_source4_bits;
	m->mtu = c->mtu;
	m->flood_limit = c->flood_limit;
	m->flags = c->too_big == XLB_TOO_BIG_PASS ? XLB_CFG_F_PASS_TOO_BIG :
		   c->too_big == XLB_TOO_BIG_ICMP ? XLB_CFG_F_ICMP_TOO_BIG : 0;
	m->abi_version = XLB_ABI_VERSION;
}

static void vip_key(const struct xlb_cfg_vip *v, struct xlb_vip_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->addr, v->addr, 16);
	k->port = htons(v->port);
	k->proto = v->proto;
	k->family = v->family;
}

void state_vip_value(const struct xlb_cfg_vip *v, struct xlb_vip *val)
{
	memset(val, 0, sizeof(*val));
	val->id = v->id;
	val->flags = (v->hash == XLB_HASH_SRC ? XLB_VIP_F_HASH_SRC : 0) |
		     (v->no_backend_pass ? XLB_VIP_F_PASS_NO_BACKEND : 0);
	val->mode = v->mode;
}

/* The entry of @b; usable as xlbd_weigh() last decided (a disabled or failed one is not). */
static void backend_value(const struct xlbd *d, const struct xlb_cfg_vip *v,
			  const struct xlb_cfg_backend *b, struct xlb_backend *val)
{
	memset(val, 0, sizeof(*val));
	memcpy(val->addr, b->addr, 16);
	val->family = b->family;
	val->flags = d->be_rt[b->id].usable ? XLB_BE_F_USABLE : 0;
	if (b->has_mac)
		memcpy(val->mac, b->mac, 6);
	val->vip_id = v->id;
	val->port = htons(b->port);
}

/* ------------------------------------------------------------------ interfaces */

/*
 * Attach to the interfaces of @to that are new (@attach), or detach from those @to drops.
 * Attaching comes before any VIP or backend changes, so that an interface that cannot be
 * attached refuses the configuration before anything else moved. Adoption (@from NULL with an
 * adopted datapath) attaches to all: the pinned program may not be attached everywhere.
 */
static int ifaces_apply(struct xlbd *d, const struct xlb_cfg *from, const struct xlb_cfg *to,
			bool attach)
{
	size_t i, j;
	int err;

	for (i = 0; attach && i < to->nifaces; i++) {
		const struct xlb_cfg_iface *t = &to->ifaces[i];
		bool same = false;

		for (j = 0; from && j < from->nifaces; j++) {
			if (strcmp(from->ifaces[j].name, t->name))
				continue;
			if (from->ifaces[j].mode == t->mode) {
				same = true;
				break;
			}
			/* a program runs in one mode at a time: attaching alone would keep the old */
			err = xlb__detach(d->x, t->name);
			if (err)
				pr_warn("cannot detach from %s to change its mode: %s", t->name,
					strerror(-err));
		}
		if (same)
			continue;
		err = xlb__attach(d->x, t->name,
				  t->mode == XLB_IFACE_GENERIC ? XLB_ATTACH_GENERIC : XLB_ATTACH_NATIVE);
		if (err) {
			pr_warn("cannot attach to %s (%s): %s", t->name,
				xlb_name_of(&xlb_iface_mode_names, t->mode), strerror(-err));
			return err;
		}
		pr_info("attached to %s (%s mode)", t->name, xlb_name_of(&xlb_iface_mode_names, t->mode));
	}
	for (j = 0; !attach && from && j < from->nifaces; j++) {
		bool kept = false;

		for (i = 0; i < to->nifaces; i++)
			if (!strcmp(from->ifaces[j].name, to->ifaces[i].name))
				kept = true;
		if (kept)
			continue;
		err = xlb__detach(d->x, from->ifaces[j].name);
		if (err)
			pr_warn("cannot detach from %s: %s", from->ifaces[j].name, strerror(-err));
		else
			pr_info("detached from %s", from->ifaces[j].name);
	}
	return 0;
}

/* ------------------------------------------------------------------ passes */

/* Entries gathered for one batched map write. */
struct be_batch {
	__u32 *ids;
	struct xlb_backend *vals;
	size_t n, cap;
};

static int be_batch_add(struct be_batch *bb, __u32 id, const struct xlb_backend *val)
{
	if (bb->n == bb->cap) {
		size_t cap = bb->cap ? bb->cap * 2 : 64;
		__u32 *ids = realloc(bb->ids, cap * sizeof(*ids));
		struct xlb_backend *vals;

		if (!ids)
			return -ENOMEM;
		bb->ids = ids;
		vals = realloc(bb->vals, cap * sizeof(*vals));
		if (!vals)
			return -ENOMEM;
		bb->vals = vals;
		bb->cap = cap;
	}
	bb->ids[bb->n] = id;
	bb->vals[bb->n++] = *val;
	return 0;
}

/*
 * Write the backend entries of the VIPs of @cfg selected by @only (NULL: all) that differ from
 * the datapath's: those that are (@usable) or are not usable; one batched write for all.
 */
static int backends_pass(struct xlbd *d, const struct xlb_cfg *cfg, const bool *only, bool usable)
{
	struct be_batch bb = {};
	struct xlb_backend nv;
	size_t i, j;
	int err = 0;

	for (i = 0; i < cfg->nvips && !err; i++) {
		const struct xlb_cfg_vip *v = &cfg->vips[i];

		if (only && !only[i])
			continue;
		for (j = 0; j < v->nbackends && !err; j++) {
			const struct xlb_cfg_backend *b = &v->backends[j];
			struct xlbd_be_rt *rt = &d->be_rt[b->id];

			backend_value(d, v, b, &nv);
			if (!!(nv.flags & XLB_BE_F_USABLE) != usable ||
			    (rt->programmed && !memcmp(&nv, &rt->prog, sizeof(nv))))
				continue;
			err = be_batch_add(&bb, b->id, &nv);
		}
	}
	if (!err)
		err = xlb_backend__set_batch(d->x, bb.ids, bb.vals, bb.n);
	if (err) {
		pr_warn("cannot set %zu backends: %s", bb.n, strerror(-err));
	} else {
		for (i = 0; i < bb.n; i++) {
			d->be_rt[bb.ids[i]].programmed = true;
			d->be_rt[bb.ids[i]].prog = bb.vals[i];
		}
	}
	free(bb.ids);
	free(bb.vals);
	return err;
}

static int vips_pass(struct xlbd *d, const struct xlb_cfg *cfg, const bool *only)
{
	struct xlb_vip_key *keys = calloc(cfg->nvips + 1, sizeof(*keys));
	struct xlb_vip *vals = calloc(cfg->nvips + 1, sizeof(*vals));
	size_t i, n = 0;
	int err = 0;

	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < cfg->nvips; i++) {
		const struct xlb_cfg_vip *v = &cfg->vips[i];
		struct xlbd_vip_rt *rt = &d->vip_rt[v->id];

		if (only && !only[i])
			continue;
		vip_key(v, &keys[n]);
		state_vip_value(v, &vals[n]);
		if (rt->programmed && !memcmp(&keys[n], &rt->key, sizeof(keys[n])) &&
		    !memcmp(&vals[n], &rt->val, sizeof(vals[n])))
			continue;
		n++;
	}
	err = xlb_vip__set_batch(d->x, keys, vals, n);
	if (err) {
		pr_warn("cannot set %zu VIPs: %s", n, strerror(-err));
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct xlbd_vip_rt *rt = &d->vip_rt[vals[i].id];

		rt->programmed = true;
		rt->key = keys[i];
		rt->val = vals[i];
	}
out:
	free(keys);
	free(vals);
	return err;
}

/*
 * Entries the datapath holds that @want does not: VIPs (entry, then table and counters: the
 * entries of all go first, in one batch), backends.
 */
static int removals_pass(struct xlbd *d, const struct ids *want)
{
	struct xlb_vip_key *keys = NULL;
	__u32 *ids = NULL, id;
	size_t n = 0, i;
	int err = 0;

	for (id = 0; id < d->max_vips; id++)
		n += d->vip_rt[id].programmed && !want->vip[id];
	keys = calloc(n + 1, sizeof(*keys));
	ids = calloc(n + 1, sizeof(*ids));
	if (!keys || !ids) {
		err = -ENOMEM;
		goto out;
	}
	for (n = 0, id = 0; id < d->max_vips; id++) {
		if (!d->vip_rt[id].programmed || want->vip[id])
			continue;
		keys[n] = d->vip_rt[id].key;
		ids[n++] = id;
	}
	err = xlb_vip__del_batch(d->x, keys, n);
	if (err) {
		pr_warn("cannot delete %zu VIPs: %s", n, strerror(-err));
		goto out;
	}
	err = xlb_vip__clear_tables(d->x, ids, n);
	if (err)
		pr_warn("cannot remove the tables of %zu VIPs: %s", n, strerror(-err));
	err = 0;
	for (i = 0; i < n; i++) {
		xlb_stats__clear_vip(d->x, ids[i]);
		state_reset_vip_rt(&d->vip_rt[ids[i]]);
	}
	for (id = 1; id < d->max_backends; id++) {
		if (!d->be_rt[id].programmed || want->be[id])
			continue;
		xlb_backend__clear(d->x, id);
		xlb_stats__clear_backend(d->x, id);
		state_reset_be_rt(d, id);
	}
out:
	free(keys);
	free(ids);
	return err;
}

/* Re-weigh at @when_ms (monotonic): a slow-start step, a drain timeout, a damped rebuild. */
static void weigh_at(struct xlbd *d, __u64 when_ms)
{
	if (d->next_weigh_ms && d->next_weigh_ms <= when_ms)
		return;
	d->next_weigh_ms = when_ms;
	if (d->prober)
		prober_timer_arm(d->prober, &d->weigh_timer, when_ms * 1000000ull);
}

void state_weigh_timer(struct prober_timer *t)
{
	struct xlbd *d = (struct xlbd *)((char *)t - offsetof(struct xlbd, weigh_timer));

	d->next_weigh_ms = 0;
	for (size_t i = 0; i < d->cfg->nvips; i++)
		d->vip_rt[d->cfg->vips[i].id].dirty = true;
	d->refresh = true;
}

/* One line when a VIP loses its last usable backend (new flows dropped), one when it has one. */
static void note_usable(struct xlbd *d, const struct xlb_cfg_vip *v)
{
	struct xlbd_vip_rt *rt = &d->vip_rt[v->id];
	unsigned int n = 0;
	char name[96];

	for (size_t i = 0; i < v->nbackends; i++)
		n += d->be_rt[v->backends[i].id].weight > 0;
	if (!n == rt->no_backend)
		return;
	rt->no_backend = !n;
	d->announce_dirty = true;
	if (!n && v->nbackends)
		xlbd_event(d, XLB_LOG_WARN, "vip %s: no usable backend: new flows are %s",
			   xlb_vip_name(v, name, sizeof(name)),
			   v->no_backend_pass ? "passed to the host" : "dropped");
	else if (n)
		xlbd_event(d, XLB_LOG_INFO, "vip %s: %u usable backends again",
			   xlb_vip_name(v, name, sizeof(name)), n);
}

/*
 * Re-weigh the VIPs of @cfg selected by @only (NULL: all) and bring their backends and tables,
 * with @entries their VIP entries too, in line. Order keeps every packet on a valid path:
 * backends that are (still or newly) usable first, then the tables, then VIP entries, then
 * backends losing XLB_BE_F_USABLE (their slots are gone by then).
 */
static int vips_apply(struct xlbd *d, const struct xlb_cfg *cfg, const bool *only, bool entries)
{
	__u64 now = xlbd_now_ms(), next;
	size_t i;
	int err = 0;

	for (i = 0; i < cfg->nvips; i++) {
		if (only && !only[i])
			continue;
		d->vip_rt[cfg->vips[i].id].dirty = false;
		next = xlbd_weigh(d, &cfg->vips[i], now);
		if (next)
			weigh_at(d, now + next);
		note_usable(d, &cfg->vips[i]);
	}
	err = backends_pass(d, cfg, only, true);
	if (!err)
		err = state_tables_pass(d, cfg, only);
	if (!err && entries)
		err = vips_pass(d, cfg, only);
	if (!err)
		err = backends_pass(d, cfg, only, false);
	return err;
}

/* ------------------------------------------------------------------ apply */

/*
 * state_apply() - program the datapath for @to; @from is the configuration it was programmed
 * for (NULL: a fresh datapath; the pinned state when adopting: ids are matched against it).
 * New interfaces are attached before anything else changes (one that cannot be refuses the
 * whole change early), removed ones detached last. On failure the datapath is partly changed:
 * the caller applies @from again, which writes back what differs.
 */
int state_apply(struct xlbd *d, const struct xlb_cfg *from, struct xlb_cfg *to)
{
	bool adopting = from && !d->cfg;
	struct ids *want = ids_new(d);
	struct xlb_config mnew;
	int err;

	if (!want)
		return -ENOMEM;
	checks_invalidate(d);	/* ids are matched afresh: the checkers' lists too */
	cfg_to_map(to, &mnew);
	if (!d->config_programmed || memcmp(&mnew, &d->prog_config, sizeof(mnew))) {
		err = xlb__config_set(d->x, &mnew);
		if (err) {
			pr_warn("cannot set the config map: %s", strerror(-err));
			goto out;
		}
		if (d->config_programmed && !adopting) {
			if (mnew.hash_seed != d->prog_config.hash_seed)
				pr_warn("hash_seed changed: flows not in the flow table move to other "
					"backends");
			pr_info("global settings changed");
		}
		d->config_programmed = true;
		d->prog_config = mnew;
	}
	if (from && !adopting && from->flow_table_size != to->flow_table_size)
		pr_warn("flow_table_size %u takes effect only when the datapath is loaded afresh "
			"(xlbd --detach-on-exit, then start)", to->flow_table_size);
	if (from && !adopting && (from->max_vips != to->max_vips ||
				  from->max_backends != to->max_backends))
		pr_warn("max_vips %u, max_backends %u take effect only when the datapath is loaded "
			"afresh (xlbd --detach-on-exit, then start); the maps hold %u and %u",
			to->max_vips, to->max_backends, d->max_vips, d->max_backends);

	err = state_assign_ids(d, from, to, want);
	if (!err)
		err = ifaces_apply(d, adopting ? NULL : from, to, true);
	if (err)
		goto out;
	state_log_changes(from, to, adopting);
	err = vips_apply(d, to, NULL, true);
	if (!err)
		err = removals_pass(d, want);
	if (!err)
		err = ifaces_apply(d, adopting ? NULL : from, to, false);
	d->announce_dirty = true;
out:
	ids_free(want);
	return err;
}

int state_apply_ops(struct xlbd *d, const struct xlb_cfg *from, struct xlb_cfg *to, __u64 since)
{
	size_t i, added = 0;

	/* every VIP of @to with an id is one of @from: none was removed when the counts add up */
	for (i = 0; i < to->nvips; i++)
		added += !to->vips[i].id_set;
	if (!d->cfg || from != d->cfg || from->nvips + added != to->nvips)
		return state_apply(d, from, to);
	return state_apply_touched(d, from, to, since);
}

int state_apply_removed(struct xlbd *d, const struct xlb_cfg_vip *gone)
{
	struct ids *keep = ids_new(d);
	__u32 id;
	int err;

	if (!keep)
		return -ENOMEM;
	/* all the datapath holds but @gone and its backends: removals_pass() drops just those */
	for (id = 0; id < d->max_vips; id++)
		keep->vip[id] = d->vip_rt[id].programmed && id != gone->id;
	for (id = 1; id < d->max_backends; id++)
		keep->be[id] = d->be_rt[id].programmed;
	for (size_t j = 0; j < gone->nbackends; j++)
		keep->be[gone->backends[j].id] = false;
	state_log_removed(gone);
	err = removals_pass(d, keep);
	d->announce_dirty = true;
	ids_free(keep);
	return err;
}

int state_apply_touched(struct xlbd *d, const struct xlb_cfg *from, struct xlb_cfg *to,
			__u64 since)
{
	struct touched t = {};
	size_t i;
	int err;

	t.vip = calloc(to->nvips + 1, sizeof(bool));
	if (!t.vip)
		return -ENOMEM;
	/* the top-level keys and the interfaces are the running config's: nothing to do there */
	err = state_assign_ids_touched(d, from, to, since, &t);
	for (i = 0; !err && i < to->nvips; i++) {
		const struct xlb_cfg_vip *v = &to->vips[i];
		int fi;

		if (!t.vip[i])
			continue;
		fi = xlb_cfg_find_vip(from, v->family, v->addr, v->port, v->proto);
		state_log_vip(fi >= 0 ? &from->vips[fi] : NULL, v, false);
		if (fi >= 0)
			state_log_backends_gone(&from->vips[fi], v);
	}
	if (!err)
		err = vips_apply(d, to, t.vip, true);
	d->announce_dirty = true;	/* a VIP's announce flag or its backends may have changed */
	for (i = 0; !err && i < t.ngone; i++) {
		xlb_backend__clear(d->x, t.gone[i]);
		xlb_stats__clear_backend(d->x, t.gone[i]);
		state_reset_be_rt(d, t.gone[i]);
	}
	free(t.vip);
	free(t.gone);
	return err;
}

void state_dirty(struct xlbd *d, const struct xlb_cfg_vip *v)
{
	d->vip_rt[v->id].dirty = true;
	d->refresh = true;
}

void state_refresh(struct xlbd *d)
{
	bool *only = calloc(d->cfg->nvips + 1, sizeof(bool));
	size_t i, n = 0;
	__u64 now;
	int err;

	d->refresh = false;
	if (!only) {
		d->refresh = true; /* try again next turn */
		return;
	}
	/* damping: a VIP rebuilt less than rebuild_min_interval_ms ago waits for the rest of it */
	now = xlbd_now_ms();
	for (i = 0; i < d->cfg->nvips; i++) {
		struct xlbd_vip_rt *rt = &d->vip_rt[d->cfg->vips[i].id];

		if (!rt->dirty)
			continue;
		if (rt->last_rebuild_ms && now - rt->last_rebuild_ms < d->cfg->rebuild_min_interval_ms) {
			weigh_at(d, rt->last_rebuild_ms + d->cfg->rebuild_min_interval_ms);
			continue;
		}
		only[i] = true;
		n++;
	}
	if (n) {
		err = vips_apply(d, d->cfg, only, false);
		if (err)
			pr_warn("health refresh of %zu VIPs failed: %s (retried on the next change)", n,
				strerror(-err));
	}
	free(only);
}
