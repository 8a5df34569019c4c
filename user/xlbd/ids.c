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
	memset(rt, 0, sizeof(*rt));
}

void state_reset_be_rt(struct xlbd *d, __u32 id)
{
	checks_drop(d, id);
	memset(&d->be_rt[id], 0, sizeof(d->be_rt[id]));
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
		want->vip[v->id] = true;
		for (j = 0; j < v->nbackends; j++) {
			struct xlb_cfg_backend *b = &v->backends[j];
			int fj = fv ? match_backend(fv, b, by_addr, claimed) : -1;

			if (fj >= 0 && fv->backends[fj].id) {
				b->id = fv->backends[fj].id;
				claimed[b->id] = true;
			} else if (b->id && b->id < d->max_backends && !used->be[b->id]) {
				used->be[b->id] = true; /* restored by a rollback, counters kept */
			} else if (alloc_id(used->be, 1, d->max_backends, &d->be_next, &b->id)) {
				pr_warn("no free backend id (max_backends %u)", d->max_backends);
				err = -ENOSPC;
				goto out;
			} else {
				state_reset_be_rt(d, b->id);
				xlb_stats__clear_backend(d->x, b->id);
				/* added to a running daemon: ramps in (slow start), as on recovery */
				if (d->cfg)
					d->be_rt[b->id].up_since_ms = xlbd_now_ms();
			}
			want->be[b->id] = true;
		}
	}
out:
	vip_index_free(&fx);
	ids_free(used);
	free(claimed);
	return err;
}

