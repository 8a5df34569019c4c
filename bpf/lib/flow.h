/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Choosing a flow's backend: flow table, Maglev table, flood guard. */
#ifndef XLB_FLOW_H
#define XLB_FLOW_H

#include "maps.h"
#include "stats.h"
#include "frag.h"

#define NSEC_PER_SEC_ 1000000000ULL

/*
 * maglev_pick() - the backend in slot hash % M of VIP @vip_id's table, if usable, into p->be
 * and p->be_id. Returns 0, XLB_R_DROP_NO_CONFIG (no table: control plane not ready) or
 * XLB_R_DROP_NO_BACKEND (no usable backend in that slot).
 */
static __always_inline int maglev_pick(__u32 vip_id, struct xlb_pkt *p)
{
	struct xlb_backend *be;
	__u32 zero = 0, slot, id, *v;
	void *table;

	table = bpf_map_lookup_elem(&xlb_maglev, &vip_id);
	if (!table)
		return XLB_R_DROP_NO_CONFIG;
	v = bpf_map_lookup_elem(table, &zero);
	if (!v)
		return XLB_R_DROP_NO_CONFIG;
	if (!*v)
		return XLB_R_DROP_NO_BACKEND;
	slot = p->hash % *v + 1;
	v = bpf_map_lookup_elem(table, &slot);
	if (!v)
		return XLB_R_DROP_NO_CONFIG;
	id = *v;
	if (id == XLB_BACKEND_NONE)
		return XLB_R_DROP_NO_BACKEND;
	be = bpf_map_lookup_elem(&xlb_backends, &id);
	if (!be || !(be->flags & XLB_BE_F_USABLE))
		return XLB_R_DROP_NO_BACKEND;
	p->be = be;
	p->be_id = id;
	return 0;
}

/*
 * flood_allows() - may this CPU record one more new flow in the current one-second window?
 * Above cfg->flood_limit new flows are balanced by hash alone, so a SYN flood cannot evict
 * the established flows from the LRU table.
 */
static __always_inline bool flood_allows(const struct xlb_config *cfg)
{
	struct xlb_flood_state *st;
	__u32 zero = 0;
	__u64 now;

	if (!cfg->flood_limit)
		return true;
	st = bpf_map_lookup_elem(&xlb_flood, &zero);
	if (!st)
		return true;
	now = bpf_ktime_get_coarse_ns();
	if (now - st->window_start >= NSEC_PER_SEC_) {
		st->window_start = now;
		st->count = 0;
	}
	return ++st->count <= cfg->flood_limit;
}

/* The VIP fields of a flow entry as one word (struct xlb_flow.vip_word): @vip as of @epoch. */
static __always_inline __u64 flow_vip_word(const struct xlb_vip *vip, __u32 epoch)
{
	struct xlb_flow w = { .vip_epoch = epoch, .vip_id = vip->id, .vip_mode = vip->mode,
			      .vip_flags = vip->flags };

	return w.vip_word;
}

/*
 * pick_backend() - the backend of flow p->key of VIP @vip, into p->be and p->be_id; p->new_flow
 * tells whether this is a new flow of the VIP.
 *
 * @f, @looked: with @looked, the caller looked the flow table up already (balance() does, first,
 * for whole TCP/UDP packets) and @f is its entry or NULL; else it is looked up here. @epoch:
 * xlb_vip_meta.vip_epoch, read before @vip was looked up (or with @vip taken from @f itself).
 *
 * Flow-table hit on a usable backend of this VIP: that backend (the entry is only read: the
 * LRU keeps recently used flows by itself; an entry of an older epoch gets @vip's fields and
 * @epoch in one store). Hit on an unusable backend, or on a backend id that now belongs to
 * another VIP (freed and reused since the flow was recorded): re-hash (XLB_R_EV_REHASH) and
 * overwrite. Miss: the Maglev slot of p->hash, recorded unless the flood guard refuses. A first
 * fragment or an ICMP error looks its flow up but never writes the table (they never create
 * state); a later fragment follows its first (frag_backend()). Returns 0, maglev_pick()'s reason
 * or XLB_R_DROP_FRAG_ORPHAN.
 */
static __always_inline int pick_backend(struct xlb_pkt *p, const struct xlb_vip *vip,
					const struct xlb_config *cfg, __u64 bytes,
					struct xlb_flow *f, bool looked, __u32 epoch)
{
	struct xlb_flow nf = {};
	int rc;

	if (p->frag == FRAG_LATER)
		return frag_backend(p, vip);
	if (!looked)
		f = bpf_map_lookup_elem(&xlb_flows, &p->key);
	if (f) {
		__u32 bid = f->backend_id;
		struct xlb_backend *be = bpf_map_lookup_elem(&xlb_backends, &bid);

		if (be && (be->flags & XLB_BE_F_USABLE) && be->vip_id == vip->id) {
			p->be = be;
			p->be_id = bid;
			p->flow_hit = 1;
			if (f->vip_epoch != epoch && !p->icmp && !p->frag)
				f->vip_word = flow_vip_word(vip, epoch);
			return 0;
		}
		stats_reason(XLB_R_EV_REHASH, bytes);
	}
	rc = maglev_pick(vip->id, p);
	if (rc || p->icmp || p->frag)
		return rc;
	nf.vip_word = flow_vip_word(vip, epoch);
	nf.backend_id = p->be_id;
	if (f) {
		/*
		 * re-hash of an existing flow: overwrite in place. An update would take a fresh
		 * LRU node for the key it replaces and, with this CPU's share of the table full,
		 * evict up to 4 established flows to get one.
		 */
		*f = nf;
		return 0;
	}
	p->new_flow = 1;
	if (flood_allows(cfg))
		bpf_map_update_elem(&xlb_flows, &p->key, &nf, BPF_ANY);
	else
		stats_reason(XLB_R_EV_FLOOD, bytes);
	return 0;
}

#endif /* XLB_FLOW_H */
