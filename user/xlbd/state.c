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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlbd.h"

/* Tables built before one batched swap: bounds the memory a large apply holds at once. */
#define SWAP_CHUNK 64

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

static void reset_vip_rt(struct xlbd_vip_rt *rt)
{
	free(rt->inputs);
	memset(rt, 0, sizeof(*rt));
}

static void reset_be_rt(struct xlbd_be_rt *rt)
{
	memset(rt, 0, sizeof(*rt));
}

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
	val->flags = v->hash == XLB_HASH_SRC ? XLB_VIP_F_HASH_SRC : 0;
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

/* ------------------------------------------------------------------ adoption */

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
	rt = &p->d->vip_rt[vip->id];
	rt->programmed = true;
	rt->key = *key;
	rt->val = *vip;
	rt->table_unknown = true;
	rt->m = vip->table_size;
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
	for (id = 1; id < XLB_MAX_BACKENDS; id++) {
		struct xlb_cfg_backend *b, *nb;
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
 * Do the backends of @from hold ports? Pins of an older xlbd have port 0 everywhere (so do the
 * pins of a configuration whose backends all have port 0: matching by address is then the same).
 */
static bool without_ports(const struct xlb_cfg *from)
{
	for (size_t i = 0; i < from->nvips; i++)
		for (size_t j = 0; j < from->vips[i].nbackends; j++)
			if (from->vips[i].backends[j].port)
				return false;
	return true;
}

/*
 * Backend of @fv matching @b: address and port. With @by_addr (adopting pins that hold no
 * port), address alone: the first backend of that address not @claimed yet.
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
 * Ids of @to: a VIP or backend that @from holds (same address, port, proto; backends by address
 * and port within their VIP) keeps its id, so established flows keep their backends. A VIP of
 * @from without an id matches nothing: that is a configuration whose apply failed before giving
 * it one, being rolled back. A new item takes the id a rollback gives back, or a free one (its
 * counters and runtime state cleared). Marks @to's ids in @want.
 */
static int assign_ids(struct xlbd *d, const struct xlb_cfg *from, struct xlb_cfg *to,
		      struct ids *want)
{
	struct ids *used = calloc(1, sizeof(*used));
	bool *claimed = calloc(XLB_MAX_BACKENDS, sizeof(bool));
	bool by_addr = from && d->adopted && !d->cfg && without_ports(from);
	size_t i, j;
	int err = 0;

	if (!used || !claimed) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; from && i < from->nvips; i++) {
		if (!from->vips[i].id_set)
			continue;
		used->vip[from->vips[i].id] = true;
		for (j = 0; j < from->vips[i].nbackends; j++)
			used->be[from->vips[i].backends[j].id] = true;
	}
	for (i = 0; i < to->nvips; i++) {
		struct xlb_cfg_vip *v = &to->vips[i];
		int fi = from ? xlb_cfg_find_vip(from, v->family, v->addr, v->port, v->proto) : -1;
		const struct xlb_cfg_vip *fv = fi >= 0 && from->vips[fi].id_set ? &from->vips[fi] : NULL;

		if (fv) {
			v->id = fv->id;
		} else if (v->id_set && v->id < XLB_MAX_VIPS && !used->vip[v->id]) {
			used->vip[v->id] = true; /* a rollback restores its id and counters */
		} else if (alloc_id(used->vip, 0, XLB_MAX_VIPS, &d->vip_next, &v->id)) {
			pr_warn("no free VIP id");
			err = -ENOSPC;
			goto out;
		} else {
			reset_vip_rt(&d->vip_rt[v->id]);
			xlb_stats__clear_vip(d->x, v->id);
		}
		v->id_set = true;
		want->vip[v->id] = true;
		for (j = 0; j < v->nbackends; j++) {
			struct xlb_cfg_backend *b = &v->backends[j];
			int fj = fv ? match_backend(fv, b, by_addr, claimed) : -1;

			if (fj >= 0 && fv->backends[fj].id) {
				b->id = fv->backends[fj].id;
				claimed[b->id] = true;
			} else if (b->id && b->id < XLB_MAX_BACKENDS && !used->be[b->id]) {
				used->be[b->id] = true; /* restored by a rollback, counters kept */
			} else if (alloc_id(used->be, 1, XLB_MAX_BACKENDS, &d->be_next, &b->id)) {
				pr_warn("no free backend id");
				err = -ENOSPC;
				goto out;
			} else {
				reset_be_rt(&d->be_rt[b->id]);
				xlb_stats__clear_backend(d->x, b->id);
				/* added to a running daemon: ramps in (slow start), as on recovery */
				if (d->cfg)
					d->be_rt[b->id].up_since_ms = xlbd_now_ms();
			}
			want->be[b->id] = true;
		}
	}
out:
	free(used);
	free(claimed);
	return err;
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
	struct timespec t0;
	char name[96];
	double swap_ms;
	size_t i, done;
	int err = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (done = 0; done < n && !err; done++) {
		err = xlb_vip__set_table(d->x, p[done].v->id, p[done].table, p[done].v->table_size);
		if (err)
			break;
	}
	swap_ms = elapsed_ms_f(&t0);
	for (i = 0; i < done; i++) {
		table_done(d, &p[i]);
		xlbd_event(d, XLB_LOG_INFO, "vip %s: table rebuilt (M=%u, %zu backends) in %.2f ms",
			   xlb_vip_name(p[i].v, name, sizeof(name)), p[i].v->table_size, p[i].n,
			   p[i].build_ms + swap_ms / n);
	}
	if (err)
		pr_warn("vip %s: cannot set table: %s", xlb_vip_name(p[done].v, name, sizeof(name)),
			strerror(-err));
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
	p->build_ms = elapsed_ms_f(&t0);
	if (!rt->table_unknown || rt->m != v->table_size)
		return 0;
	old = calloc(v->table_size, sizeof(*old));
	if (old && xlb_vip__get_table(d->x, v->id, old, v->table_size) == (int)v->table_size &&
	    !memcmp(old, p->table, v->table_size * sizeof(*old))) {
		pr_info("vip %s: pinned table kept (M=%u, %zu backends, checked in %.2f ms)",
			xlb_vip_name(v, name, sizeof(name)), v->table_size, p->n, elapsed_ms_f(&t0));
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
		reset_vip_rt(rt);
	}
	for (id = 1; id < XLB_MAX_BACKENDS; id++) {
		if (!d->be_rt[id].programmed || want->be[id])
			continue;
		xlb_backend__clear(d->x, id);
		xlb_stats__clear_backend(d->x, id);
		reset_be_rt(&d->be_rt[id]);
	}
	return 0;
}

/*
 * Re-weigh the VIPs of @cfg selected by @only (NULL: all) and bring their backends and tables
 * in line. Order keeps every packet on a valid path: backends that are (still or newly) usable
 * first, then the tables, then VIP entries, then backends losing XLB_BE_F_USABLE (their slots
 * are gone by then).
 */
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
		if (next && (!d->next_weigh_ms || now + next < d->next_weigh_ms))
			d->next_weigh_ms = now + next;
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

	err = assign_ids(d, from, to, want);
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
	int err;

	d->refresh = false;
	if (!only) {
		d->refresh = true; /* try again next turn */
		return;
	}
	for (i = 0; i < d->cfg->nvips; i++)
		n += only[i] = d->vip_rt[d->cfg->vips[i].id].dirty;
	if (n) {
		err = vips_apply(d, d->cfg, only);
		if (err)
			pr_warn("health refresh of %zu VIPs failed: %s (retried on the next change)", n,
				strerror(-err));
	}
	free(only);
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
	err = state_apply(d, d->cfg, to);
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
	if (state_apply(d, to, d->cfg))
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
	err = state_apply(d, d->cfg, to);
	if (err) {
		pr_warn("reload: failed (%s), restoring the running configuration", strerror(-err));
		if (state_apply(d, to, d->cfg))
			pr_warn("rollback incomplete: the datapath may differ from the running config");
		xlb_cfg_free(to);
		return;
	}
	xlb_cfg_free(d->cfg);
	d->cfg = to;
	pr_info("reload: done (%zu VIPs)", to->nvips);
}

/* ------------------------------------------------------------------ rates */

static void sample_one(struct xlbd_rate *rt, const struct xlb_counters *c, double dt)
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
			sample_one(&d->vip_rt[v->id].rate, &c, dt);
		for (j = 0; j < v->nbackends; j++)
			if (!xlb_stats__backend(d->x, v->backends[j].id, &c))
				sample_one(&d->be_rt[v->backends[j].id].rate, &c, dt);
	}
}
