// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlbd state: reconcile the datapath with a configuration, ids, Maglev rebuilds, commit, reload. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"
#include "xlbd.h"

__u64 state_elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000ull + (now.tv_nsec - since->tv_nsec) / 1000000;
}

static double elapsed_ms_f(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1e3 + (now.tv_nsec - since->tv_nsec) / 1e6;
}

/* ------------------------------------------------------------------ adoption */

/*
 * The pinned state as a configuration: VIPs with their ids from xlb_vips, backends from
 * xlb_backends matched to their VIP by vip_id, with their address and port. What the maps do
 * not hold (weights) is unknown: state_apply() then rebuilds every table, swapping it only if it
 * differs from the pinned one. Pins written before xlb_backend.port existed have port 0 there:
 * such backends are matched by address alone.
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
	struct xlb_cfg_vip *v;

	if (vip->id >= XLB_MAX_VIPS) {
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
	v->table_size = vip->table_size;
	v->id = vip->id;
	v->id_set = true;
	p->d->vip_rt[vip->id].table_unknown = true;
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
	for (id = 1; id < XLB_MAX_BACKENDS; id++) {
		struct xlb_cfg_backend *b, *nb;
		struct xlb_cfg_vip *v = NULL;

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
		nb = realloc(v->backends, (v->nbackends + 1) * sizeof(*nb));
		if (!nb) {
			xlb_cfg_free(p.cfg);
			return NULL;
		}
		v->backends = nb;
		b = &v->backends[v->nbackends++];
		xlb_cfg_backend_init(b);
		memcpy(b->addr, be.addr, 16);
		b->family = be.family;
		b->port = ntohs(be.port);
		b->state = be.flags & XLB_BE_F_USABLE ? XLB_STATE_ACTIVE : XLB_STATE_DISABLED;
		memcpy(b->mac, be.mac, 6);
		b->has_mac = v->mode == XLB_MODE_L2;
		b->id = id;
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
			d->vip_next = (v->id + 1) % XLB_MAX_VIPS;
		for (j = 0; j < v->nbackends; j++)
			if (v->backends[j].id + 1 > d->be_next)
				d->be_next = v->backends[j].id + 1 >= XLB_MAX_BACKENDS ?
						     1 : v->backends[j].id + 1;
	}
	if (orphans)
		pr_warn("adopt: removed %u pinned backends whose VIP is gone", orphans);
	pr_info("adopt: pinned state holds %zu VIPs and %u backends", p.cfg->nvips, n);
	return p.cfg;
}

/* ------------------------------------------------------------------ ids */

struct ids {
	bool vip[XLB_MAX_VIPS];
	bool be[XLB_MAX_BACKENDS];
};

static int alloc_id(bool *used, __u32 lo, __u32 n, __u32 *cursor, __u32 *out)
{
	__u32 i, id;

	for (i = 0; i < n - lo; i++) {
		id = lo + (*cursor - lo + i) % (n - lo);
		if (!used[id]) {
			used[id] = true;
			*out = id;
			*cursor = id + 1 >= n ? lo : id + 1;
			return 0;
		}
	}
	return -ENOSPC;
}

/*
 * Backend of @fv matching @b: address and port. With @by_addr (adopting pins that hold no port:
 * written before xlb_backend.port existed), address alone: the first pinned backend of that
 * address not @claimed yet.
 */
static int match_backend(const struct xlb_cfg_vip *fv, const struct xlb_cfg_backend *b,
			 bool by_addr, const bool *claimed)
{
	size_t i;

	if (!by_addr)
		return xlb_cfg_find_backend(fv, b->family, b->addr, b->port);
	for (i = 0; i < fv->nbackends; i++) {
		const struct xlb_cfg_backend *o = &fv->backends[i];

		if (!claimed[o->id] && o->family == b->family && !memcmp(o->addr, b->addr, 16))
			return i;
	}
	return -1;
}

/*
 * Do pins @from hold backend ports? Pins of an older xlbd have port 0 everywhere (so do pins of
 * a configuration whose backends all have port 0: matching by address is then the same).
 */
static bool pins_without_ports(const struct xlb_cfg *from)
{
	for (size_t i = 0; i < from->nvips; i++)
		for (size_t j = 0; j < from->vips[i].nbackends; j++)
			if (from->vips[i].backends[j].port)
				return false;
	return true;
}

/*
 * The VIP of @from matching @v: index or -1. A VIP of @from without an id matches nothing: that
 * is a configuration whose apply failed before giving it one, being rolled back.
 */
static int from_vip(const struct xlb_cfg *from, const struct xlb_cfg_vip *v)
{
	int i = from ? xlb_cfg_find_vip(from, v->family, v->addr, v->port, v->proto) : -1;

	return i >= 0 && from->vips[i].id_set ? i : -1;
}

/* ------------------------------------------------------------------ programming */

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
	val->flags = v->hash == XLB_HASH_SRC ? XLB_VIP_F_HASH_SRC : 0;
	val->table_size = v->table_size;
	val->mode = v->mode;
}

static void backend_value(const struct xlb_cfg_vip *v, const struct xlb_cfg_backend *b,
			  struct xlb_backend *val)
{
	memset(val, 0, sizeof(*val));
	memcpy(val->addr, b->addr, 16);
	val->family = b->family;
	/* draining keeps its flows (usable, no slots); disabled loses them (re-hash) */
	val->flags = b->state == XLB_STATE_DISABLED ? 0 : XLB_BE_F_USABLE;
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

/* The Maglev inputs of a VIP, sorted by id: active backends with weight. Returns the count. */
static size_t table_inputs(const struct xlb_cfg_vip *v, struct xlb_maglev_backend *out)
{
	size_t i, n = 0;

	for (i = 0; i < v->nbackends; i++) {
		const struct xlb_cfg_backend *b = &v->backends[i];

		if (b->state != XLB_STATE_ACTIVE || !b->weight)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].id = b->id;
		out[n].family = b->family;
		memcpy(out[n].addr, b->addr, b->family == XLB_AF_INET6 ? 16 : 4);
		out[n].port = b->port;
		out[n].weight = b->weight;
		n++;
	}
	qsort(out, n, sizeof(*out), cmp_mb);
	return n;
}

static bool table_inputs_differ(const struct xlb_cfg_vip *a, const struct xlb_cfg_vip *b)
{
	struct xlb_maglev_backend *x, *y;
	size_t na, nb;
	bool diff = true;

	if (a->table_size != b->table_size)
		return true;
	x = calloc(a->nbackends + 1, sizeof(*x));
	y = calloc(b->nbackends + 1, sizeof(*y));
	if (x && y) {
		na = table_inputs(a, x);
		nb = table_inputs(b, y);
		diff = na != nb || memcmp(x, y, na * sizeof(*x));
	}
	free(x);
	free(y);
	return diff;
}

/*
 * Build the table of @v and swap it in. With @compare (adoption), an identical pinned table
 * is left in place. Counts each backend's slots. Logs one line with the duration.
 */
static int rebuild_table(struct xlbd *d, const struct xlb_cfg_vip *v, bool compare)
{
	struct xlb_maglev_backend *in = NULL;
	__u32 *table = NULL, *old = NULL;
	struct timespec t0;
	char name[96];
	size_t n, i;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	in = calloc(v->nbackends + 1, sizeof(*in));
	table = calloc(v->table_size, sizeof(*table));
	if (!in || !table) {
		err = -ENOMEM;
		goto out;
	}
	n = table_inputs(v, in);
	if (n) {
		err = xlb_maglev_build(in, n, v->table_size, table);
		if (err)
			goto out;
	}
	if (compare) {
		old = calloc(v->table_size, sizeof(*old));
		if (old && xlb_vip__get_table(d->x, v->id, old, v->table_size) ==
				   (int)v->table_size &&
		    !memcmp(old, table, v->table_size * sizeof(*old))) {
			pr_info("vip %s: pinned table kept (M=%u, %zu backends, checked in %.2f ms)",
				xlb_vip_name(v, name, sizeof(name)), v->table_size, n,
				elapsed_ms_f(&t0));
			err = 0;
			goto count;
		}
	}
	err = xlb_vip__set_table(d->x, v->id, table, v->table_size);
	if (err) {
		pr_warn("vip %s: cannot set table: %s", xlb_vip_name(v, name, sizeof(name)),
			strerror(-err));
		goto out;
	}
	pr_info("vip %s: table rebuilt (M=%u, %zu backends) in %.2f ms",
		xlb_vip_name(v, name, sizeof(name)), v->table_size, n, elapsed_ms_f(&t0));
count:
	d->vip_rt[v->id].table_unknown = false;
	for (i = 0; i < v->nbackends; i++)
		d->be_rt[v->backends[i].id].slots = 0;
	for (i = 0; i < v->table_size; i++)
		if (table[i] && table[i] < XLB_MAX_BACKENDS)
			d->be_rt[table[i]].slots++;
out:
	free(in);
	free(table);
	free(old);
	return err;
}

static void reset_rt(struct xlbd_rt *rt)
{
	memset(rt, 0, sizeof(*rt));
}

/*
 * Attach to the interfaces of @to that are new (@attach), or detach from those @to drops.
 * Attaching comes before any VIP or backend changes, so that an interface that cannot be
 * attached refuses the configuration before anything else moved.
 */
static int ifaces_apply(struct xlbd *d, const struct xlb_cfg *from, const struct xlb_cfg *to,
			bool from_pins, bool attach)
{
	size_t i, j;
	int err;

	for (i = 0; attach && i < to->nifaces; i++) {
		const struct xlb_cfg_iface *t = &to->ifaces[i];
		bool same = false;

		for (j = 0; from && !from_pins && j < from->nifaces; j++) {
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
	for (j = 0; !attach && from && !from_pins && j < from->nifaces; j++) {
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

/*
 * state_apply() - program the datapath from state @from (NULL: fresh maps) to @to.
 *
 * Ids carry over from @from for every VIP and backend that stays (matched by address, port,
 * proto; backends by address and port within their VIP), so established flows keep their
 * backends. New interfaces are attached before anything else changes (one that cannot be
 * refuses the whole change early). Order keeps every packet on a valid path: new and re-enabled
 * backends first, then tables and VIP entries, then backends losing XLB_BE_F_USABLE, then
 * removals, then detaching from interfaces no longer listed.
 */
int state_apply(struct xlbd *d, struct xlb_cfg *from, struct xlb_cfg *to, bool from_pins)
{
	struct xlb_config mnew, mold;
	struct ids *ids = calloc(1, sizeof(*ids));
	bool *claimed = calloc(XLB_MAX_BACKENDS, sizeof(bool));
	size_t i, j;
	char name[96], a[INET6_ADDRSTRLEN];
	bool by_addr = from && from_pins && pins_without_ports(from);
	int err = 0;

	if (!ids || !claimed) {
		err = -ENOMEM;
		goto out;
	}

	/* global settings */
	cfg_to_map(to, &mnew);
	if (from)
		cfg_to_map(from, &mold);
	if (!from || from_pins || memcmp(&mnew, &mold, sizeof(mnew))) {
		err = xlb__config_set(d->x, &mnew);
		if (err) {
			pr_warn("cannot set the config map: %s", strerror(-err));
			goto out;
		}
		if (from && !from_pins && mnew.hash_seed != mold.hash_seed)
			pr_warn("hash_seed changed: flows not in the flow table move to other backends");
		if (from && !from_pins)
			pr_info("global settings changed");
	}
	if (from && !from_pins && from->flow_table_size != to->flow_table_size)
		pr_warn("flow_table_size %u takes effect only when the datapath is loaded afresh "
			"(xlbd --detach-on-exit, then start)", to->flow_table_size);

	/* ids: what @from holds stays taken; @to's items take theirs or new ones */
	for (i = 0; from && i < from->nvips; i++) {
		if (!from->vips[i].id_set)
			continue;
		ids->vip[from->vips[i].id] = true;
		for (j = 0; j < from->vips[i].nbackends; j++)
			ids->be[from->vips[i].backends[j].id] = true;
	}
	for (i = 0; i < to->nvips; i++) {
		struct xlb_cfg_vip *v = &to->vips[i];
		int fi = from_vip(from, v);
		struct xlb_cfg_vip *fv = fi >= 0 ? &from->vips[fi] : NULL;

		if (fv) {
			v->id = fv->id;
		} else if (v->id_set && v->id < XLB_MAX_VIPS && !ids->vip[v->id]) {
			/* a rollback restores the id it had, and keeps its counters */
			ids->vip[v->id] = true;
		} else if (alloc_id(ids->vip, 0, XLB_MAX_VIPS, &d->vip_next, &v->id)) {
			pr_warn("no free VIP id");
			err = -ENOSPC;
			goto out;
		} else {
			reset_rt(&d->vip_rt[v->id]);
			xlb_stats__clear_vip(d->x, v->id);
		}
		v->id_set = true;
		for (j = 0; j < v->nbackends; j++) {
			struct xlb_cfg_backend *b = &v->backends[j];
			int fj = fv ? match_backend(fv, b, by_addr, claimed) : -1;

			if (fj >= 0 && fv->backends[fj].id) {
				b->id = fv->backends[fj].id;
				claimed[b->id] = true;
				continue;
			}
			if (b->id && b->id < XLB_MAX_BACKENDS && !ids->be[b->id]) {
				ids->be[b->id] = true; /* restored by a rollback, counters kept */
			} else if (alloc_id(ids->be, 1, XLB_MAX_BACKENDS, &d->be_next, &b->id)) {
				pr_warn("no free backend id");
				err = -ENOSPC;
				goto out;
			} else {
				reset_rt(&d->be_rt[b->id]);
				xlb_stats__clear_backend(d->x, b->id);
			}
		}
	}

	err = ifaces_apply(d, from, to, from_pins, true);
	if (err)
		goto out;

	/* pass 1: backends that are new or keep/gain XLB_BE_F_USABLE */
	for (i = 0; i < to->nvips; i++) {
		struct xlb_cfg_vip *v = &to->vips[i];
		int fi = from_vip(from, v);

		for (j = 0; j < v->nbackends; j++) {
			struct xlb_cfg_backend *b = &v->backends[j];
			struct xlb_backend nv, ov;
			int fj = fi >= 0 ? xlb_cfg_find_backend(&from->vips[fi], b->family, b->addr,
								b->port)
					 : -1;

			backend_value(v, b, &nv);
			if (!(nv.flags & XLB_BE_F_USABLE))
				continue;
			if (fj >= 0 && !from_pins) {
				backend_value(&from->vips[fi], &from->vips[fi].backends[fj], &ov);
				if (!memcmp(&nv, &ov, sizeof(nv)))
					continue;
			}
			err = xlb_backend__set(d->x, b->id, &nv);
			if (err) {
				pr_warn("cannot set backend %u: %s", b->id, strerror(-err));
				goto out;
			}
		}
	}

	/* pass 2: tables and VIP entries */
	for (i = 0; i < to->nvips; i++) {
		struct xlb_cfg_vip *v = &to->vips[i];
		int fi = from_vip(from, v);
		struct xlb_cfg_vip *fv = fi >= 0 ? &from->vips[fi] : NULL;
		struct xlb_vip nv, ov;
		struct xlb_vip_key k;
		bool set_vip, changed, rebuild, unknown = d->vip_rt[v->id].table_unknown;

		vip_key(v, &k);
		vip_value(v, &nv);
		if (fv)
			vip_value(fv, &ov);
		set_vip = changed = !fv || memcmp(&nv, &ov, sizeof(nv));
		rebuild = !fv || unknown || table_inputs_differ(fv, v);
		xlb_vip_name(v, name, sizeof(name));
		/* a packet must never index past the table: grow the table first, shrink it last */
		if (set_vip && fv && v->table_size < fv->table_size) {
			err = xlb_vip__set(d->x, &k, &nv);
			if (err)
				goto vip_err;
			set_vip = false;
		}
		if (rebuild) {
			err = rebuild_table(d, v, unknown && fv && fv->table_size == v->table_size);
			if (err)
				goto out;
		}
		if (set_vip) {
			err = xlb_vip__set(d->x, &k, &nv);
			if (err)
				goto vip_err;
		}
		if (!fv)
			pr_info("vip %s added (id %u, mode %s, hash %s, M=%u, %zu backends)", name,
				v->id, xlb_cfg_mode_name(v->mode), xlb_cfg_hash_name(v->hash),
				v->table_size, v->nbackends);
		else if (changed && !from_pins)
			pr_info("vip %s changed (mode %s, hash %s, M=%u)", name,
				xlb_cfg_mode_name(v->mode), xlb_cfg_hash_name(v->hash),
				v->table_size);
		for (j = 0; j < v->nbackends; j++) {
			struct xlb_cfg_backend *b = &v->backends[j];
			int fj = fv ? xlb_cfg_find_backend(fv, b->family, b->addr, b->port) : -1;
			struct xlb_cfg_backend *ob = fj >= 0 ? &fv->backends[fj] : NULL;

			xlb_addr_format(b->addr, b->family, a, sizeof(a));
			if (from_pins && fv)
				continue;
			if (!ob)
				pr_info("vip %s: backend %s port %u added (id %u, weight %u, %s)", name,
					a, b->port, b->id, b->weight, xlb_cfg_state_name(b->state));
			else if (ob->weight != b->weight || ob->state != b->state)
				pr_info("vip %s: backend %s port %u: weight %u -> %u, %s -> %s", name,
					a, b->port, ob->weight, b->weight,
					xlb_cfg_state_name(ob->state), xlb_cfg_state_name(b->state));
		}
		continue;
vip_err:
		pr_warn("vip %s: cannot set: %s", name, strerror(-err));
		goto out;
	}

	/* pass 3: backends losing XLB_BE_F_USABLE (their slots are gone now), removed backends */
	for (i = 0; i < to->nvips; i++) {
		struct xlb_cfg_vip *v = &to->vips[i];

		for (j = 0; j < v->nbackends; j++) {
			struct xlb_backend nv;

			backend_value(v, &v->backends[j], &nv);
			if (nv.flags & XLB_BE_F_USABLE)
				continue;
			err = xlb_backend__set(d->x, v->backends[j].id, &nv);
			if (err) {
				pr_warn("cannot set backend %u: %s", v->backends[j].id, strerror(-err));
				goto out;
			}
		}
	}
	for (i = 0; from && i < from->nvips; i++) {
		struct xlb_cfg_vip *fv = &from->vips[i];
		int ti = xlb_cfg_find_vip(to, fv->family, fv->addr, fv->port, fv->proto);
		struct xlb_vip_key k;

		if (!fv->id_set)
			continue; /* never programmed (see from_vip()) */
		xlb_vip_name(fv, name, sizeof(name));
		if (ti < 0) {
			vip_key(fv, &k);
			err = xlb_vip__del(d->x, &k);
			if (err && err != -ENOENT) {
				pr_warn("vip %s: cannot delete: %s", name, strerror(-err));
				goto out;
			}
			err = 0;
			xlb_vip__clear_table(d->x, fv->id);
			xlb_stats__clear_vip(d->x, fv->id);
			reset_rt(&d->vip_rt[fv->id]);
			pr_info("vip %s removed (id %u, %zu backends)", name, fv->id, fv->nbackends);
		}
		for (j = 0; j < fv->nbackends; j++) {
			struct xlb_cfg_backend *b = &fv->backends[j];

			if (!b->id)
				continue;
			if (ti >= 0 && (from_pins ? claimed[b->id] :
				xlb_cfg_find_backend(&to->vips[ti], b->family, b->addr, b->port) >= 0))
				continue;
			xlb_backend__clear(d->x, b->id);
			xlb_stats__clear_backend(d->x, b->id);
			reset_rt(&d->be_rt[b->id]);
			if (ti >= 0)
				pr_info("vip %s: backend %s port %u removed (id %u)", name,
					xlb_addr_format(b->addr, b->family, a, sizeof(a)), b->port,
					b->id);
		}
	}

	err = ifaces_apply(d, from, to, from_pins, false);
out:
	free(ids);
	free(claimed);
	return err;
}

/* ------------------------------------------------------------------ commit, reload */

int state_commit(struct xlbd *d, struct xlb_cfg *to, char *errbuf, size_t errlen)
{
	struct xlb_cfg_errors e = {};
	struct xlb_cfg *check;
	char *tmp;
	json_t *j;
	int err;

	/* the whole new configuration must pass the same validation as a file */
	j = xlb_cfg_to_json(to);
	check = xlb_cfg_from_json(j, &e);
	json_decref(j);
	if (!check) {
		xlb_cfg_errors_first(&e, errbuf, errlen);
		xlb_cfg_errors_free(&e);
		xlb_cfg_free(to);
		return -EINVAL;
	}
	xlb_cfg_free(check);

	/* written (not yet renamed) before the datapath changes: a full disk changes nothing */
	err = xlb_cfg_save_begin(to, d->config_path, &tmp);
	if (err) {
		snprintf(errbuf, errlen, "cannot write %s: %s (nothing changed)", d->config_path,
			 strerror(-err));
		pr_warn("%s", errbuf);
		xlb_cfg_free(to);
		return err;
	}
	err = state_apply(d, d->cfg, to, false);
	if (err) {
		xlb_cfg_save_abort(tmp);
		snprintf(errbuf, errlen, "datapath update failed: %s", strerror(-err));
		goto rollback;
	}
	err = xlb_cfg_save_finish(tmp, d->config_path);
	if (err) {
		snprintf(errbuf, errlen, "cannot write %s: %s (change rolled back)", d->config_path,
			 strerror(-err));
		pr_warn("%s", errbuf);
		goto rollback;
	}
	xlb_cfg_free(d->cfg);
	d->cfg = to;
	return 0;
rollback:
	if (state_apply(d, to, d->cfg, false))
		pr_warn("rollback incomplete: the datapath may differ from the running config");
	xlb_cfg_free(to);
	return err;
}

void state_reload(struct xlbd *d)
{
	struct xlb_cfg_errors e = {};
	struct xlb_cfg *to;
	char *line, *save = NULL;
	int err;

	pr_info("reload: reading %s", d->config_path);
	to = xlb_cfg_load(d->config_path, &e);
	if (!to) {
		for (line = strtok_r(e.text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			pr_warn("reload: %s", line);
		pr_warn("reload: %u errors, keeping the running configuration", e.count);
		xlb_cfg_errors_free(&e);
		return;
	}
	if (xlb_cfg_equal(d->cfg, to)) {
		pr_info("reload: no change");
		xlb_cfg_free(to);
		return;
	}
	err = state_apply(d, d->cfg, to, false);
	if (err) {
		pr_warn("reload: failed (%s), restoring the running configuration", strerror(-err));
		if (state_apply(d, to, d->cfg, false))
			pr_warn("rollback incomplete: the datapath may differ from the running config");
		xlb_cfg_free(to);
		return;
	}
	xlb_cfg_free(d->cfg);
	d->cfg = to;
	pr_info("reload: done (%zu VIPs)", to->nvips);
}

/* ------------------------------------------------------------------ rates */

static void sample_one(struct xlbd_rt *rt, const struct xlb_counters *c, double dt)
{
	if (rt->sampled && dt > 0 && c->packets >= rt->packets && c->bytes >= rt->bytes) {
		rt->pps = (__u64)((c->packets - rt->packets) / dt + 0.5);
		rt->bps = (__u64)((c->bytes - rt->bytes) * 8 / dt + 0.5);
	} else {
		rt->pps = rt->bps = 0;
	}
	rt->packets = c->packets;
	rt->bytes = c->bytes;
	rt->sampled = true;
}

void state_sample(struct xlbd *d)
{
	struct xlb_counters c;
	double dt = d->last_sample.tv_sec ? elapsed_ms_f(&d->last_sample) / 1e3 : 0;
	size_t i, j;

	clock_gettime(CLOCK_MONOTONIC, &d->last_sample);
	for (i = 0; i < d->cfg->nvips; i++) {
		struct xlb_cfg_vip *v = &d->cfg->vips[i];

		if (!xlb_stats__vip(d->x, v->id, &c))
			sample_one(&d->vip_rt[v->id], &c, dt);
		for (j = 0; j < v->nbackends; j++)
			if (!xlb_stats__backend(d->x, v->backends[j].id, &c))
				sample_one(&d->be_rt[v->backends[j].id], &c, dt);
	}
}
