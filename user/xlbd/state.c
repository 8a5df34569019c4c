// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlbd state: reconcile the datapath with a configuration and the runtime health. What every map
 * entry should hold is computed from the config and the effective weights; what it holds is
 * remembered in xlbd_vip_rt / xlbd_be_rt; only the differences are written, in passes ordered
 * so that every packet stays on a valid path. Adoption fills the remembered copies from the pins,
 * a rollback applies the previous configuration, a health change re-weighs and re-applies the
 * VIPs it touched: one path for all of them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlbd.h"

/*
 * Tables built before one batched swap (one RCU grace period): bounds the memory a large apply
 * holds at once (128 tables of M = 65537: 32 MiB).
 */
#define SWAP_CHUNK 128

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

static void vip_value(const struct xlb_cfg_vip *v, struct xlb_vip *val)
{
	memset(val, 0, sizeof(*val));
	val->id = v->id;
	val->flags = (v->hash == XLB_HASH_SRC ? XLB_VIP_F_HASH_SRC : 0) |
		     (v->no_backend_pass ? XLB_VIP_F_PASS_NO_BACKEND : 0);
	val->table_size = v->table_size;
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

static int cmp_mb(const void *a, const void *b)
{
	const struct xlb_maglev_backend *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* The Maglev inputs of @v, sorted by id: backends with an effective weight. Returns the count. */
static size_t table_inputs(const struct xlbd *d, const struct xlb_cfg_vip *v,
			   struct xlb_maglev_backend *out)
{
	size_t i, n = 0;

	for (i = 0; i < v->nbackends; i++) {
		const struct xlb_cfg_backend *b = &v->backends[i];
		__u32 w = d->be_rt[b->id].weight;

		if (!w)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].id = b->id;
		out[n].family = b->family;
		memcpy(out[n].addr, b->addr, b->family == XLB_AF_INET6 ? 16 : 4);
		out[n].port = b->port;
		out[n].weight = w;
		n++;
	}
	qsort(out, n, sizeof(*out), cmp_mb);
	return n;
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
				t->mode == XLB_IFACE_GENERIC ? "generic" : "native", strerror(-err));
			return err;
		}
		pr_info("attached to %s (%s mode)", t->name,
			t->mode == XLB_IFACE_GENERIC ? "generic" : "native");
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

/* Write backend entries of @v that differ from the datapath's: those that are (@usable) or not. */
static int backends_pass(struct xlbd *d, const struct xlb_cfg_vip *v, bool usable)
{
	struct xlb_backend nv;
	size_t j;
	int err;

	for (j = 0; j < v->nbackends; j++) {
		const struct xlb_cfg_backend *b = &v->backends[j];
		struct xlbd_be_rt *rt = &d->be_rt[b->id];

		backend_value(d, v, b, &nv);
		if (!!(nv.flags & XLB_BE_F_USABLE) != usable ||
		    (rt->programmed && !memcmp(&nv, &rt->prog, sizeof(nv))))
			continue;
		err = xlb_backend__set(d->x, b->id, &nv);
		if (err) {
			pr_warn("cannot set backend %u: %s", b->id, strerror(-err));
			return err;
		}
		rt->programmed = true;
		rt->prog = nv;
	}
	return 0;
}

/* A table built, waiting for its batched swap. */
struct pending {
	const struct xlb_cfg_vip *v;
	struct xlb_maglev_backend *in;
	size_t n;
	__u32 *table;
	double build_ms;
};

static void count_slots(struct xlbd *d, const struct xlb_cfg_vip *v, const __u32 *table)
{
	size_t i;

	for (i = 0; i < v->nbackends; i++)
		d->be_rt[v->backends[i].id].slots = 0;
	for (i = 0; i < v->table_size; i++)
		if (table[i] && table[i] < XLB_MAX_BACKENDS)
			d->be_rt[table[i]].slots++;
}

/* The table of @p->v is in the datapath: remember its inputs (takes @p->in). */
static void table_done(struct xlbd *d, struct pending *p)
{
	struct xlbd_vip_rt *rt = &d->vip_rt[p->v->id];

	free(rt->inputs);
	rt->inputs = p->in;
	rt->ninputs = p->n;
	rt->m = p->v->table_size;
	rt->table_unknown = false;
	rt->last_rebuild_ms = xlbd_now_ms();
	p->in = NULL;
	count_slots(d, p->v, p->table);
}

/* Swap the tables of @n pending VIPs in, then log one line each. */
static int swap_pending(struct xlbd *d, struct pending *p, size_t n)
{
	struct xlb_table_update u[SWAP_CHUNK];
	struct timespec t0;
	char name[96];
	double swap_ms;
	size_t i, done = 0;
	int err;

	for (i = 0; i < n; i++)
		u[i] = (struct xlb_table_update){ .vip_id = p[i].v->id, .m = p[i].v->table_size,
						  .table = p[i].table };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = xlb_vip__set_tables(d->x, u, n, &done);
	swap_ms = state_elapsed_ms_f(&t0);
	for (i = 0; i < done; i++) {
		table_done(d, &p[i]);
		metrics_rebuild(d, p[i].v->id, p[i].build_ms + swap_ms / n);
		xlbd_event(d, XLB_LOG_INFO, "vip %s: table rebuilt (M=%u, %zu backends) in %.2f ms",
			   xlb_vip_name(p[i].v, name, sizeof(name)), p[i].v->table_size, p[i].n,
			   p[i].build_ms + swap_ms / n);
	}
	if (n > 1)
		pr_info("%zu tables swapped in one batch in %.2f ms", done, swap_ms);
	if (err)
		pr_warn("vip %s: cannot set table: %s",
			xlb_vip_name(p[done < n ? done : n - 1].v, name, sizeof(name)), strerror(-err));
	return err;
}

/*
 * Build the table of @v from its effective weights into @p, or return 1 when the datapath
 * already holds it (the same inputs; or, adopted with unknown inputs, the same slots).
 */
static int build_table(struct xlbd *d, const struct xlb_cfg_vip *v, struct pending *p)
{
	struct xlbd_vip_rt *rt = &d->vip_rt[v->id];
	struct timespec t0;
	__u32 *old;
	char name[96];
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(p, 0, sizeof(*p));
	p->v = v;
	p->in = calloc(v->nbackends + 1, sizeof(*p->in));
	p->table = calloc(v->table_size, sizeof(*p->table));
	if (!p->in || !p->table)
		return -ENOMEM;
	p->n = table_inputs(d, v, p->in);
	if (!rt->table_unknown && rt->m == v->table_size && rt->ninputs == p->n &&
	    !memcmp(rt->inputs, p->in, p->n * sizeof(*p->in)))
		return 1;
	if (p->n) {
		err = xlb_maglev_build(p->in, p->n, v->table_size, p->table);
		if (err)
			return err;
	}
	p->build_ms = state_elapsed_ms_f(&t0);
	if (!rt->table_unknown || rt->m != v->table_size)
		return 0;
	old = calloc(v->table_size, sizeof(*old));
	if (old && xlb_vip__get_table(d->x, v->id, old, v->table_size) == (int)v->table_size &&
	    !memcmp(old, p->table, v->table_size * sizeof(*old))) {
		pr_info("vip %s: pinned table kept (M=%u, %zu backends, checked in %.2f ms)",
			xlb_vip_name(v, name, sizeof(name)), v->table_size, p->n, state_elapsed_ms_f(&t0));
		table_done(d, p);
		free(old);
		return 1;
	}
	free(old);
	return 0;
}

static void pending_free(struct pending *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].in);
		free(p[i].table);
	}
}

/* Tables of the VIPs of @cfg selected by @only (NULL: all), built and swapped in batches. */
static int tables_pass(struct xlbd *d, const struct xlb_cfg *cfg, const bool *only)
{
	struct pending p[SWAP_CHUNK];
	size_t i, n = 0;
	int err = 0, rc;

	for (i = 0; i < cfg->nvips && !err; i++) {
		if (only && !only[i])
			continue;
		rc = build_table(d, &cfg->vips[i], &p[n]);
		if (rc < 0) {
			err = rc;
			n++;
			break;
		}
		if (rc > 0) {
			pending_free(&p[n], 1);
			continue;
		}
		if (++n == SWAP_CHUNK) {
			err = swap_pending(d, p, n);
			pending_free(p, n);
			n = 0;
		}
	}
	if (!err && n)
		err = swap_pending(d, p, n);
	pending_free(p, n);
	return err;
}

/* VIP entries of @cfg that differ from the datapath's (after their tables: never a VIP without). */
static int vips_pass(struct xlbd *d, const struct xlb_cfg *cfg)
{
	struct xlb_vip_key k;
	struct xlb_vip nv;
	char name[96];
	size_t i;
	int err;

	for (i = 0; i < cfg->nvips; i++) {
		const struct xlb_cfg_vip *v = &cfg->vips[i];
		struct xlbd_vip_rt *rt = &d->vip_rt[v->id];

		vip_key(v, &k);
		vip_value(v, &nv);
		if (rt->programmed && !memcmp(&k, &rt->key, sizeof(k)) &&
		    !memcmp(&nv, &rt->val, sizeof(nv)))
			continue;
		err = xlb_vip__set(d->x, &k, &nv);
		if (err) {
			pr_warn("vip %s: cannot set: %s", xlb_vip_name(v, name, sizeof(name)),
				strerror(-err));
			return err;
		}
		rt->programmed = true;
		rt->key = k;
		rt->val = nv;
	}
	return 0;
}

/* Entries the datapath holds that @want does not: VIPs (entry, table, counters), backends. */
static int removals_pass(struct xlbd *d, const struct ids *want)
{
	__u32 id;
	int err;

	for (id = 0; id < XLB_MAX_VIPS; id++) {
		struct xlbd_vip_rt *rt = &d->vip_rt[id];

		if (!rt->programmed || want->vip[id])
			continue;
		err = xlb_vip__del(d->x, &rt->key);
		if (err && err != -ENOENT) {
			pr_warn("vip id %u: cannot delete: %s", id, strerror(-err));
			return err;
		}
		xlb_vip__clear_table(d->x, id);
		xlb_stats__clear_vip(d->x, id);
		state_reset_vip_rt(rt);
	}
	for (id = 1; id < XLB_MAX_BACKENDS; id++) {
		if (!d->be_rt[id].programmed || want->be[id])
			continue;
		xlb_backend__clear(d->x, id);
		xlb_stats__clear_backend(d->x, id);
		state_reset_be_rt(d, id);
	}
	return 0;
}

/*
 * Re-weigh the VIPs of @cfg selected by @only (NULL: all) and bring their backends and tables
 * in line. Order keeps every packet on a valid path: backends that are (still or newly) usable
 * first, then the tables, then VIP entries, then backends losing XLB_BE_F_USABLE (their slots
 * are gone by then).
 */
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
	if (!n && v->nbackends)
		xlbd_event(d, XLB_LOG_WARN, "vip %s: no usable backend: new flows are %s",
			   xlb_vip_name(v, name, sizeof(name)),
			   v->no_backend_pass ? "passed to the host" : "dropped");
	else if (n)
		xlbd_event(d, XLB_LOG_INFO, "vip %s: %u usable backends again",
			   xlb_vip_name(v, name, sizeof(name)), n);
}

static int vips_apply(struct xlbd *d, const struct xlb_cfg *cfg, const bool *only)
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
	for (i = 0; i < cfg->nvips && !err; i++)
		if (!only || only[i])
			err = backends_pass(d, &cfg->vips[i], true);
	if (!err)
		err = tables_pass(d, cfg, only);
	if (!err && !only)
		err = vips_pass(d, cfg);
	for (i = 0; i < cfg->nvips && !err; i++)
		if (!only || only[i])
			err = backends_pass(d, &cfg->vips[i], false);
	return err;
}

/* ------------------------------------------------------------------ logging of a change */

/* One line per VIP and backend added, changed or removed; adopting: VIPs only (weights unknown). */
static void log_changes(const struct xlb_cfg *from, const struct xlb_cfg *to, bool adopting)
{
	char name[96], a[INET6_ADDRSTRLEN];
	struct xlb_vip nv, ov;
	size_t i, j;

	for (i = 0; i < to->nvips; i++) {
		const struct xlb_cfg_vip *v = &to->vips[i];
		int fi = from ? xlb_cfg_find_vip(from, v->family, v->addr, v->port, v->proto) : -1;
		const struct xlb_cfg_vip *fv = fi >= 0 ? &from->vips[fi] : NULL;

		xlb_vip_name(v, name, sizeof(name));
		if (!fv) {
			pr_info("vip %s added (id %u, mode %s, hash %s, M=%u, %zu backends)", name,
				v->id, xlb_cfg_mode_name(v->mode), xlb_cfg_hash_name(v->hash),
				v->table_size, v->nbackends);
		} else if (adopting) {
			continue;
		} else {
			vip_value(v, &nv);
			vip_value(fv, &ov);
			if (memcmp(&nv, &ov, sizeof(nv)))
				pr_info("vip %s changed (mode %s, hash %s, M=%u)", name,
					xlb_cfg_mode_name(v->mode), xlb_cfg_hash_name(v->hash),
					v->table_size);
		}
		for (j = 0; j < v->nbackends; j++) {
			const struct xlb_cfg_backend *b = &v->backends[j];
			int fj = fv ? xlb_cfg_find_backend(fv, b->family, b->addr, b->port) : -1;
			const struct xlb_cfg_backend *ob = fj >= 0 ? &fv->backends[fj] : NULL;

			xlb_addr_format(b->addr, b->family, a, sizeof(a));
			if (!ob)
				pr_info("vip %s: backend %s port %u added (id %u, weight %u, %s)", name,
					a, b->port, b->id, b->weight, xlb_cfg_state_name(b->state));
			else if (ob->weight != b->weight || ob->state != b->state)
				pr_info("vip %s: backend %s port %u: weight %u -> %u, %s -> %s", name,
					a, b->port, ob->weight, b->weight,
					xlb_cfg_state_name(ob->state), xlb_cfg_state_name(b->state));
		}
	}
	for (i = 0; from && i < from->nvips; i++) {
		const struct xlb_cfg_vip *fv = &from->vips[i];
		int ti = xlb_cfg_find_vip(to, fv->family, fv->addr, fv->port, fv->proto);

		if (!fv->id_set)
			continue;
		xlb_vip_name(fv, name, sizeof(name));
		if (ti < 0) {
			pr_info("vip %s removed (id %u, %zu backends)", name, fv->id, fv->nbackends);
			continue;
		}
		if (adopting)
			continue;
		for (j = 0; j < fv->nbackends; j++) {
			const struct xlb_cfg_backend *b = &fv->backends[j];

			if (xlb_cfg_find_backend(&to->vips[ti], b->family, b->addr, b->port) < 0)
				pr_info("vip %s: backend %s port %u removed (id %u)", name,
					xlb_addr_format(b->addr, b->family, a, sizeof(a)), b->port,
					b->id);
		}
	}
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
	struct ids *want = calloc(1, sizeof(*want));
	struct xlb_config mnew;
	int err;

	if (!want)
		return -ENOMEM;
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

	err = state_assign_ids(d, from, to, want);
	if (!err)
		err = ifaces_apply(d, adopting ? NULL : from, to, true);
	if (err)
		goto out;
	log_changes(from, to, adopting);
	err = vips_apply(d, to, NULL);
	if (!err)
		err = removals_pass(d, want);
	if (!err)
		err = ifaces_apply(d, adopting ? NULL : from, to, false);
out:
	free(want);
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
		err = vips_apply(d, d->cfg, only);
		if (err)
			pr_warn("health refresh of %zu VIPs failed: %s (retried on the next change)", n,
				strerror(-err));
	}
	free(only);
}

