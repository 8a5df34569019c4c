// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The Maglev tables pass of an apply (state.c): the inputs of each VIP from its effective
 * weights, tables built in parallel by builder threads, then swapped into the datapath in
 * batches (one RCU grace period each); an adopted table found equal is kept.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared.h"
#include "state_int.h"


/*
 * Tables built before one batched swap (one RCU grace period): bounds the memory a large apply
 * holds at once (128 tables of M = 65537: 32 MiB).
 */
#define SWAP_CHUNK 128

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
int state_tables_pass(struct xlbd *d, const struct xlb_cfg *cfg, const bool *only)
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
