// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlbd ids: VIP and backend ids carried over by identity, so established flows keep backends. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlbd.h"

void state_reset_vip_rt(struct xlbd_vip_rt *rt)
{
	free(rt->inputs);
	free(rt->file_text);
	free(rt->view);
	memset(rt, 0, sizeof(*rt));
}

void state_reset_be_rt(struct xlbd *d, __u32 id)
{
	checks_drop(d, id);
	free(d->be_rt[id].view);
	memset(&d->be_rt[id], 0, sizeof(d->be_rt[id]));
}

void state_rt_free(struct xlbd *d)
{
	for (size_t i = 0; d->vip_rt && i < d->max_vips; i++)
		state_reset_vip_rt(&d->vip_rt[i]);
	for (size_t i = 0; d->be_rt && i < d->max_backends; i++)
		free(d->be_rt[i].view);
}

void state_stamp(struct xlbd *d, struct xlb_cfg_vip *v)
{
	v->stamp = ++d->stamp_seq;
}

struct ids *ids_new(const struct xlbd *d)
{
	struct ids *ids = calloc(1, sizeof(*ids));

	if (!ids)
		return NULL;
	ids->vip = calloc(d->max_vips, sizeof(bool));
	ids->be = calloc(d->max_backends, sizeof(bool));
	if (!ids->vip || !ids->be) {
		ids_free(ids);
		return NULL;
	}
	return ids;
}

void ids_free(struct ids *ids)
{
	if (!ids)
		return;
	free(ids->vip);
	free(ids->be);
	free(ids);
}

static size_t vip_hash(const struct xlb_cfg_vip *v)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const unsigned char *a = (const unsigned char *)v->addr;

	for (size_t i = 0; i < 16; i++)
		h = (h ^ a[i]) * 0x100000001b3ull;
	h = (h ^ v->port) * 0x100000001b3ull;
	h = (h ^ v->proto) * 0x100000001b3ull;
	return (size_t)(h ^ v->family);
}

static bool same_vip(const struct xlb_cfg_vip *a, const struct xlb_cfg_vip *b)
{
	return a->family == b->family && a->port == b->port && a->proto == b->proto &&
	       !memcmp(a->addr, b->addr, 16);
}

int vip_index_init(struct vip_index *ix, const struct xlb_cfg *cfg)
{
	size_t n = 16, i, h;

	ix->cfg = cfg;
	while (cfg && n < cfg->nvips * 2)
		n *= 2;
	ix->mask = n - 1;
	ix->slot = calloc(n, sizeof(*ix->slot));
	if (!ix->slot)
		return -ENOMEM;
	for (i = 0; cfg && i < cfg->nvips; i++) {
		for (h = vip_hash(&cfg->vips[i]) & ix->mask; ix->slot[h]; h = (h + 1) & ix->mask)
			;
		ix->slot[h] = (int)i + 1;
	}
	return 0;
}

int vip_index_find(const struct vip_index *ix, const struct xlb_cfg_vip *v)
{
	size_t h;

	if (!ix->cfg)
		return -1;
	for (h = vip_hash(v) & ix->mask; ix->slot[h]; h = (h + 1) & ix->mask)
		if (same_vip(&ix->cfg->vips[ix->slot[h] - 1], v))
			return ix->slot[h] - 1;
	return -1;
}

void vip_index_free(struct vip_index *ix)
{
	free(ix->slot);
	ix->slot = NULL;
}

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
int state_assign_ids(struct xlbd *d, const struct xlb_cfg *from, struct xlb_cfg *to,
		      struct ids *want)
{
	struct ids *used = ids_new(d);
	bool *claimed = calloc(d->max_backends, sizeof(bool));
	struct vip_index fx = {};
	bool by_addr = from && d->adopted && !d->cfg && without_ports(from);
	size_t i, j;
	int err = 0;

	if (!used || !claimed || vip_index_init(&fx, from)) {
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
		int fi = vip_index_find(&fx, v);
		const struct xlb_cfg_vip *fv = fi >= 0 && from->vips[fi].id_set ? &from->vips[fi] : NULL;

		if (fv) {
			v->id = fv->id;
		} else if (v->id_set && v->id < d->max_vips && !used->vip[v->id]) {
			used->vip[v->id] = true; /* a rollback restores its id and counters */
		} else if (alloc_id(used->vip, 0, d->max_vips, &d->vip_next, &v->id)) {
			pr_warn("no free VIP id (max_vips %u)", d->max_vips);
			err = -ENOSPC;
			goto out;
		} else {
			state_reset_vip_rt(&d->vip_rt[v->id]);
			xlb_stats__clear_vip(d->x, v->id);
		}
		v->id_set = true;
		if (!v->stamp)
			state_stamp(d, v);	/* read from a file: its caches start */
		want->vip[v->id] = true;
		for (j = 0; j < v->nbackends; j++) {
			const struct xlb_cfg_backend *b = &v->backends[j];
			int fj = fv ? match_backend(fv, b, by_addr, claimed) : -1;
			__u32 id = b->id;

			if (fj >= 0 && fv->backends[fj].id) {
				id = fv->backends[fj].id;
				claimed[id] = true;
			} else if (id && id < d->max_backends && !used->be[id]) {
				used->be[id] = true; /* restored by a rollback, counters kept */
			} else if (alloc_id(used->be, 1, d->max_backends, &d->be_next, &id)) {
				pr_warn("no free backend id (max_backends %u)", d->max_backends);
				err = -ENOSPC;
				goto out;
			} else {
				state_reset_be_rt(d, id);
				xlb_stats__clear_backend(d->x, id);
				/* added to a running daemon: ramps in (slow start), as on recovery */
				if (d->cfg)
					d->be_rt[id].up_since_ms = xlbd_now_ms();
			}
			/* backends shared with another copy of the config are written only if changed */
			if (id != b->id) {
				err = xlb_cfg_vip_backends_reserve(v, v->nbackends);
				if (err)
					goto out;
				v->backends[j].id = id;
			}
			want->be[id] = true;
		}
	}
out:
	vip_index_free(&fx);
	ids_free(used);
	free(claimed);
	return err;
}


/* The next id in [lo, n) from *@cursor that the datapath does not hold and @taken does not. */
static int alloc_unheld(const struct xlbd *d, bool vip, __u32 lo, __u32 n, __u32 *cursor,
			bool *taken, __u32 *out)
{
	for (__u32 i = 0; i < n - lo; i++) {
		__u32 id = lo + (*cursor - lo + i) % (n - lo);

		if (taken[id] || (vip ? d->vip_rt[id].programmed : d->be_rt[id].programmed))
			continue;
		taken[id] = true;
		*out = id;
		*cursor = id + 1 >= n ? lo : id + 1;
		return 0;
	}
	return -ENOSPC;
}

/* The VIP of @from with id @id, or NULL. */
static const struct xlb_cfg_vip *vip_by_id(const struct xlb_cfg *from, __u32 id)
{
	for (size_t i = 0; i < from->nvips; i++)
		if (from->vips[i].id_set && from->vips[i].id == id)
			return &from->vips[i];
	return NULL;
}

int state_assign_ids_touched(struct xlbd *d, const struct xlb_cfg *from, struct xlb_cfg *to,
			     __u64 since, struct touched *t)
{
	bool *taken_v = calloc(d->max_vips, sizeof(bool));
	bool *taken_b = calloc(d->max_backends, sizeof(bool));
	int err = 0;

	if (!taken_v || !taken_b) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < to->nvips && !err; i++) {
		struct xlb_cfg_vip *v = &to->vips[i];
		const struct xlb_cfg_vip *fv;

		if (v->stamp <= since)
			continue;
		fv = v->id_set ? vip_by_id(from, v->id) : NULL;
		t->vip[i] = true;
		if (!fv) {
			if (alloc_unheld(d, true, 0, d->max_vips, &d->vip_next, taken_v, &v->id)) {
				pr_warn("no free VIP id (max_vips %u)", d->max_vips);
				err = -ENOSPC;
				break;
			}
			state_reset_vip_rt(&d->vip_rt[v->id]);
			xlb_stats__clear_vip(d->x, v->id);
			v->id_set = true;
		}
		err = xlb_cfg_vip_backends_reserve(v, v->nbackends);
		for (size_t j = 0; j < v->nbackends && !err; j++) {
			struct xlb_cfg_backend *b = &v->backends[j];
			int fj = fv ? xlb_cfg_find_backend(fv, b->family, b->addr, b->port) : -1;

			if (fj >= 0 && fv->backends[fj].id) {
				b->id = fv->backends[fj].id;
				taken_b[b->id] = true;
				continue;
			}
			if (alloc_unheld(d, false, 1, d->max_backends, &d->be_next, taken_b, &b->id)) {
				pr_warn("no free backend id (max_backends %u)", d->max_backends);
				err = -ENOSPC;
				break;
			}
			state_reset_be_rt(d, b->id);
			xlb_stats__clear_backend(d->x, b->id);
			d->be_rt[b->id].up_since_ms = xlbd_now_ms(); /* ramps in, as on recovery */
		}
		/* the backends of its former self that it no longer has */
		for (size_t j = 0; fv && j < fv->nbackends && !err; j++) {
			__u32 id = fv->backends[j].id;

			if (!id || taken_b[id])
				continue;
			if (t->ngone == t->cap) {
				size_t cap = t->cap ? t->cap * 2 : 16;
				__u32 *g = realloc(t->gone, cap * sizeof(*g));

				if (!g) {
					err = -ENOMEM;
					break;
				}
				t->gone = g;
				t->cap = cap;
			}
			t->gone[t->ngone++] = id;
		}
	}
out:
	free(taken_v);
	free(taken_b);
	return err;
}
