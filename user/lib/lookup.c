// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libxlb: the backend the datapath picks for a flow, computed in userspace. The mirror of
 * pick_backend() and maglev_pick() in bpf/lib/flow.h: the flow hash, the slot hash % M of the
 * VIP's table (M as the table itself holds it), and the flow-table hit rule. A change to one of
 * those rules there is a change here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xlb.h"

void xlb_lookup_table(const struct xlb_flow_key *k, const struct xlb_vip *vip, __u32 seed,
		      const __u32 *table, __u32 m, struct xlb_lookup *r)
{
	memset(r, 0, sizeof(*r));
	r->hash = xlb_flow_hash(k, vip->flags & XLB_VIP_F_HASH_SRC, seed);
	r->m = m;
	if (!table) {
		r->reason = XLB_R_DROP_NO_CONFIG;
		return;
	}
	if (!m) {
		r->reason = XLB_R_DROP_NO_BACKEND;
		return;
	}
	r->slot = r->hash % m;
	r->backend_id = table[r->slot];
	if (r->backend_id == XLB_BACKEND_NONE)
		r->reason = XLB_R_DROP_NO_BACKEND;
}

bool xlb_flow_hit(const struct xlb_backend *be, const struct xlb_vip *vip)
{
	return (be->flags & XLB_BE_F_USABLE) && be->vip_id == vip->id;
}

/* The VIP's table as the datapath holds it: *@m slots into *@table (NULL: no table). */
static int read_table(struct xlb *x, __u32 vip_id, __u32 **table, __u32 *m)
{
	int n;

	*table = NULL;
	*m = 0;
	/* a bigger table swapped in between the two reads: read again */
	for (int tries = 0; tries < 8; tries++) {
		n = xlb_vip__get_table(x, vip_id, NULL, 0);
		if (n == -ENOENT)
			return 0;
		if (n < 0)
			return n;
		free(*table);
		*table = calloc(n ? (size_t)n : 1, sizeof(**table));
		if (!*table)
			return -ENOMEM;
		n = xlb_vip__get_table(x, vip_id, *table, (__u32)n);
		if (n >= 0) {
			*m = (__u32)n;
			return 0;
		}
		if (n == -ENOENT) {
			free(*table);
			*table = NULL;
			return 0;
		}
		if (n != -ENOSPC)
			break;
	}
	free(*table);
	*table = NULL;
	return n;
}

/*
 * The datapath looks an established TCP/UDP flow up before its VIP and takes the VIP by the id
 * in its way (xlb_vip_ids) only where that VIP is the one the lookup of @vip found; otherwise it
 * looks the VIP up. In both orders the entry used is the way of the flow's tag recorded for
 * @vip's id, and the decision below (hit on a usable backend of @vip, else the slot) is the
 * datapath's.
 */
int xlb_lookup(struct xlb *x, const struct xlb_flow_key *k, const struct xlb_vip *vip,
	       struct xlb_lookup *r)
{
	struct xlb_config cfg;
	struct xlb_backend be;
	struct xlb_flow f;
	__u32 *table, m;
	int err;

	err = xlb__config_get(x, &cfg);
	if (err)
		return err;
	err = read_table(x, vip->id, &table, &m);
	if (err)
		return err;
	xlb_lookup_table(k, vip, cfg.hash_seed, table, m, r);
	free(table);
	if (!xlb_flow__find(x, k, vip->id, &f) && !xlb_backend__get(x, f.backend_id, &be) &&
	    xlb_flow_hit(&be, vip)) {
		r->backend_id = f.backend_id;
		r->flow_hit = true;
		r->reason = 0;
		return 0;
	}
	/* the slot's backend serves only while usable */
	if (r->backend_id && (xlb_backend__get(x, r->backend_id, &be) ||
			      !(be.flags & XLB_BE_F_USABLE))) {
		r->backend_id = XLB_BACKEND_NONE;
		r->reason = XLB_R_DROP_NO_BACKEND;
	}
	return 0;
}
