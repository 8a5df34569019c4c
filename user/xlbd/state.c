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
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared.h"
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

/* A table to build, then waiting for its batched swap. */
struct pending {
	const struct xlb_cfg_vip *v;
	struct xlb_maglev_backend *in;	/* its inputs, sorted by id */
	size_t n;
	__u32 *table;
	__u32 *cnt;			/* slots of in[k], counted by the builder */
	bool want_fd;			/* the builder also creates the inner map */
	int fd;				/* that map, or -1: the swap creates it from @table */
	int err;
	double build_ms;
	bool skip;			/* nothing to swap (an adopted table found equal) */
};

/* The table of @p->v is in the datapath: remember its inputs (takes @p->in). */
static void table_done(struct xlbd *d, struct pending *p)
{
	struct xlbd_vip_rt *rt = &d->vip_rt[p->v->id];
	size_t i;

	free(rt->inputs);
	rt->inputs = p->in;
	rt->ninputs = p->n;
	rt->m = p->v->table_size;
	rt->table_unknown = false;
	rt->last_rebuild_ms = xlbd_now_ms();
	for (i = 0; i < p->v->nbackends; i++)
		d->be_rt[p->v->backends[i].id].slots = 0;
	for (i = 0; i < p->n; i++)
		d->be_rt[p->in[i].id].slots = p->cnt[i];
	shared_table_done(d, p->v, p->table, p->in, p->n);
	p->in = NULL;
}

/* Swap the tables of the @n pending VIPs in (those not skipped), then log one line each. */
static int swap_pending(struct xlbd *d, struct pending *p, size_t n)
{
	struct xlb_table_update u[SWAP_CHUNK];
	struct pending *sw[SWAP_CHUNK];
	struct timespec t0;
	char name[96];
	double swap_ms;
	size_t i, k = 0, done = 0;
	int err;

	for (i = 0; i < n; i++) {
		if (p[i].skip)
			continue;
		sw[k] = &p[i];
		u[k++] = (struct xlb_table_update){ .vip_id = p[i].v->id, .m = p[i].v->table_size,
						    .table = p[i].table, .prebuilt = p[i].fd >= 0,
						    .fd = p[i].fd };
	}
	if (!k)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = xlb_vip__set_tables(d->x, u, k, &done);
	swap_ms = state_elapsed_ms_f(&t0);
	for (i = 0; i < done; i++) {
		table_done(d, sw[i]);
		metrics_rebuild(d, sw[i]->v->id, sw[i]->build_ms + swap_ms / k);
		xlbd_event(d, XLB_LOG_INFO, "vip %s: table rebuilt (M=%u, %zu backends) in %.2f ms",
			   xlb_vip_name(sw[i]->v, name, sizeof(name)), sw[i]->v->table_size, sw[i]->n,
			   sw[i]->build_ms + swap_ms / k);
	}
	if (k > 1)
		pr_info("%zu tables swapped in one batch in %.2f ms", done, swap_ms);
	if (err)
		pr_warn("vip %s: cannot set table: %s",
			xlb_vip_name(sw[done < k ? done : k - 1]->v, name, sizeof(name)),
			strerror(-err));
	return err;
}

/*
 * Prepare the build of @v's table into @p from its effective weights, or return 1 when the
 * datapath already holds it (the same inputs as the table swapped in last).
 */
static int prepare_table(struct xlbd *d, const struct xlb_cfg_vip *v, struct pending *p)
{
	struct xlbd_vip_rt *rt = &d->vip_rt[v->id];

	memset(p, 0, sizeof(*p));
	p->v = v;
	p->fd = -1;
	p->in = calloc(v->nbackends + 1, sizeof(*p->in));
	if (!p->in)
		return -ENOMEM;
	p->n = table_inputs(d, v, p->in);
	if (!rt->table_unknown && rt->m == v->table_size && rt->ninputs == p->n &&
	    !memcmp(rt->inputs, p->in, p->n * sizeof(*p->in)))
		return 1;
	/* allocated only for a table that changes: an apply compares every table's inputs */
	p->table = calloc(v->table_size, sizeof(*p->table));
	p->cnt = calloc(p->n + 1, sizeof(*p->cnt));
	/* an adopted table of unknown inputs may stay: compared first (keep_if_pinned()) */
	p->want_fd = !rt->table_unknown || rt->m != v->table_size;
	return p->table && p->cnt ? 0 : -ENOMEM;
}

/*
 * Build one pending table, count each input's slots and create its inner map: touches only
 * @p's own memory (and a new map), so that several run at once in builder threads.
 */
static void build_one(struct pending *p)
{
	struct timespec t0;
	__u32 m = p->v->table_size, i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (p->n)
		p->err = xlb_maglev_build(p->in, p->n, m, p->table);
	for (i = 0; !p->err && p->n && i < m; i++) {
		size_t lo = 0, hi = p->n;	/* inputs sorted by id: binary search */

		if (!p->table[i])
			continue;
		while (hi - lo > 1) {
			size_t mid = (lo + hi) / 2;

			if (p->in[mid].id <= p->table[i])
				lo = mid;
			else
				hi = mid;
		}
		if (p->in[lo].id == p->table[i])
			p->cnt[lo]++;
	}
	/* filling a map is half the cost of a build: done here too (on failure, by the swap) */
	if (!p->err && p->want_fd)
		p->fd = xlb_table__create(p->table, m);
	p->build_ms = state_elapsed_ms_f(&t0);
}

/* Builder threads: take the next table of the chunk until none is left. */
struct builders {
	struct pending *p;
	size_t n;
	size_t next;	/* atomic */
};

static void *builder(void *arg)
{
	struct builders *b = arg;
	size_t i;

	while ((i = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED)) < b->n)
		build_one(&b->p[i]);
	return NULL;
}

#define BUILDERS_MAX 8

/*
 * Build the @n tables of a chunk. The builds are pure functions of their inputs and take most
 * of a large apply (about 1.4 ms each at M = 65537), so with more than one they run in up to
 * one thread per online CPU, the loop's own thread included, which then waits for them all:
 * the daemon's state is only ever touched by the loop's thread, and nothing else runs
 * meanwhile (as before: an apply blocks the loop).
 */
static int build_chunk(struct pending *p, size_t n)
{
	struct builders b = { .p = p, .n = n };
	pthread_t tid[BUILDERS_MAX];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nt = 0, want = cpus > 1 ? (size_t)cpus - 1 : 0, i;

	if (want > BUILDERS_MAX)
		want = BUILDERS_MAX;
	if (want > n - 1)
		want = n ? n - 1 : 0;
	for (i = 0; i < want; i++)
		if (!pthread_create(&tid[nt], NULL, builder, &b))
			nt++;
	builder(&b);
	for (i = 0; i < nt; i++)
		pthread_join(tid[i], NULL);
	for (i = 0; i < n; i++)
		if (p[i].err)
			return p[i].err;
	return 0;
}

/*
 * An adopted table whose inputs are unknown: if the table just built equals the pinned one,
 * it stays (no swap).
 */
static void keep_if_pinned(struct xlbd *d, struct pending *p)
{
	struct xlbd_vip_rt *rt = &d->vip_rt[p->v->id];
	__u32 m = p->v->table_size, *old;
	char name[96];

	if (!rt->table_unknown || rt->m != m)
		return;
	old = calloc(m, sizeof(*old));
	if (old && xlb_vip__get_table(d->x, p->v->id, old, m) == (int)m &&
	    !memcmp(old, p->table, m * sizeof(*old))) {
		pr_info("vip %s: pinned table kept (M=%u, %zu backends, checked in %.2f ms)",
			xlb_vip_name(p->v, name, sizeof(name)), m, p->n, p->build_ms);
		table_done(d, p);
		p->skip = true;
	}
	free(old);
}

static void pending_free(struct pending *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].in);
		free(p[i].table);
		free(p[i].cnt);
		if (p[i].fd >= 0)
			close(p[i].fd);
		p[i].fd = -1;
	}
}

/* Build and swap a chunk of pending tables. */
static int flush_chunk(struct xlbd *d, struct pending *p, size_t n)
{
	int err = build_chunk(p, n);

	if (err) {
		pr_warn("cannot build a Maglev table: %s", strerror(-err));
		return err;
	}
	for (size_t i = 0; i < n; i++)
		keep_if_pinned(d, &p[i]);
	return swap_pending(d, p, n);
}

/*
 * Tables of the VIPs of @cfg selected by @only (NULL: all), built and swapped in chunks; one
 * progress line per second of a long pass.
 */
static int tables_pass(struct xlbd *d, const struct xlb_cfg *cfg, const bool *only)
{
	struct pending p[SWAP_CHUNK];
	size_t i, n = 0, total = 0, seen = 0;
	__u64 t0 = xlbd_now_ms(), last = t0;
	int err = 0, rc;

	for (i = 0; i < cfg->nvips; i++)
		total += !only || only[i];
	d->progress_total = total;
	d->progress_done = 0;
	for (i = 0; i < cfg->nvips && !err; i++) {
		if (only && !only[i])
			continue;
		seen++;
		rc = prepare_table(d, &cfg->vips[i], &p[n]);
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
			err = flush_chunk(d, p, n);
			pending_free(p, n);
			n = 0;
			if (xlbd_now_ms() - last >= 1000) {
				last = xlbd_now_ms();
				pr_info("%zu of %zu VIPs done (%.1f s)", seen, total,
					(last - t0) / 1000.0);
			}
			d->progress_done = seen;
			if (d->progress_what)
				api_progress(d);
		}
	}
	if (!err && n)
		err = flush_chunk(d, p, n);
	pending_free(p, n);
	return err;
}

/*
 * VIP entries of @cfg (those selected by @only; NULL: all) that differ from the datapath's (after
 * their tables: never a VIP without).
 */
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
		vip_value(v, &vals[n]);
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
		err = tables_pass(d, cfg, only);
	if (!err && entries)
		err = vips_pass(d, cfg, only);
	if (!err)
		err = backends_pass(d, cfg, only, false);
	return err;
}

/* ------------------------------------------------------------------ logging of a change */

/* The lines of VIP @v: added (@fv NULL) or changed from @fv, with its backends'. */
static void log_vip(const struct xlb_cfg_vip *fv, const struct xlb_cfg_vip *v, bool adopting)
{
	char name[96], a[INET6_ADDRSTRLEN];
	struct xlb_vip nv, ov;

	xlb_vip_name(v, name, sizeof(name));
	if (!fv) {
		pr_info("vip %s added (id %u, mode %s, hash %s, M=%u, %zu backends)", name, v->id,
			xlb_cfg_mode_name(v->mode), xlb_cfg_hash_name(v->hash), v->table_size,
			v->nbackends);
	} else if (adopting) {
		return;
	} else {
		vip_value(v, &nv);
		vip_value(fv, &ov);
		if (memcmp(&nv, &ov, sizeof(nv)))
			pr_info("vip %s changed (mode %s, hash %s, M=%u)", name,
				xlb_cfg_mode_name(v->mode), xlb_cfg_hash_name(v->hash), v->table_size);
	}
	for (size_t j = 0; j < v->nbackends; j++) {
		const struct xlb_cfg_backend *b = &v->backends[j];
		int fj = fv ? xlb_cfg_find_backend(fv, b->family, b->addr, b->port) : -1;
		const struct xlb_cfg_backend *ob = fj >= 0 ? &fv->backends[fj] : NULL;

		xlb_addr_format(b->addr, b->family, a, sizeof(a));
		/* a new VIP's line gives its backend count: theirs only in debug */
		if (!ob)
			xlb_log(fv ? XLB_LOG_INFO : XLB_LOG_DEBUG,
				"vip %s: backend %s port %u added (id %u, weight %u, %s)", name, a,
				b->port, b->id, b->weight, xlb_cfg_state_name(b->state));
		else if (ob->weight != b->weight || ob->state != b->state)
			pr_info("vip %s: backend %s port %u: weight %u -> %u, %s -> %s", name, a,
				b->port, ob->weight, b->weight, xlb_cfg_state_name(ob->state),
				xlb_cfg_state_name(b->state));
	}
}

/* The backends VIP @fv had that @v (the same VIP, changed) no longer has. */
static void log_backends_gone(const struct xlb_cfg_vip *fv, const struct xlb_cfg_vip *v)
{
	char name[96], a[INET6_ADDRSTRLEN];

	xlb_vip_name(fv, name, sizeof(name));
	for (size_t j = 0; j < fv->nbackends; j++) {
		const struct xlb_cfg_backend *b = &fv->backends[j];

		if (xlb_cfg_find_backend(v, b->family, b->addr, b->port) < 0)
			pr_info("vip %s: backend %s port %u removed (id %u)", name,
				xlb_addr_format(b->addr, b->family, a, sizeof(a)), b->port, b->id);
	}
}

/* One line per VIP and backend added, changed or removed; adopting: VIPs only (weights unknown). */
static void log_changes(const struct xlb_cfg *from, const struct xlb_cfg *to, bool adopting)
{
	struct vip_index fx = {}, tx = {};
	char name[96];
	size_t i;

	if (vip_index_init(&fx, from) || vip_index_init(&tx, to)) {
		pr_warn("changes not logged: out of memory");
		goto out;
	}
	for (i = 0; i < to->nvips; i++) {
		int fi = vip_index_find(&fx, &to->vips[i]);

		log_vip(fi >= 0 ? &from->vips[fi] : NULL, &to->vips[i], adopting);
	}
	for (i = 0; from && i < from->nvips; i++) {
		const struct xlb_cfg_vip *fv = &from->vips[i];
		int ti = vip_index_find(&tx, fv);

		if (!fv->id_set)
			continue;
		if (ti < 0)
			pr_info("vip %s removed (id %u, %zu backends)",
				xlb_vip_name(fv, name, sizeof(name)), fv->id, fv->nbackends);
		else if (!adopting)
			log_backends_gone(fv, &to->vips[ti]);
	}
out:
	vip_index_free(&fx);
	vip_index_free(&tx);
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
	log_changes(from, to, adopting);
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
		log_vip(fi >= 0 ? &from->vips[fi] : NULL, v, false);
		if (fi >= 0)
			log_backends_gone(&from->vips[fi], v);
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

