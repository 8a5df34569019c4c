/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Choosing a flow's backend: flow table, Maglev table, flood guard. */
#ifndef XLB_FLOW_H
#define XLB_FLOW_H

#include "maps.h"
#include "stats.h"

#define NSEC_PER_SEC_ 1000000000ULL

/* The kernel's HZ, from its config when libbpf can read it (0 if not). */
extern unsigned int CONFIG_HZ __kconfig __weak;

/*
 * now_sec() - seconds since boot, the clock of xlb_flow.atime (CLOCK_MONOTONIC to within the
 * tick). jiffies64 is inlined by the verifier (no helper call), which matters on the
 * established path; without a known HZ, the coarse ktime helper.
 */
static __always_inline __u32 now_sec(void)
{
	__u64 hz = CONFIG_HZ;

	if (hz)
		return (bpf_jiffies64() - (__u64)(__u32)(-300 * (__s32)hz)) / hz;
	return bpf_ktime_get_coarse_ns() / NSEC_PER_SEC_;
}

/*
 * maglev_pick() - the backend in slot hash % M of VIP @vip_id's table, if usable.
 * Returns the backend id, or a negative reason: no table (control plane not ready) or no
 * usable backend in that slot.
 */
static __always_inline int maglev_pick(__u32 vip_id, __u32 hash, struct xlb_backend **bep)
{
	struct xlb_backend *be;
	__u32 zero = 0, slot, id, *v;
	void *table;

	table = bpf_map_lookup_elem(&xlb_maglev, &vip_id);
	if (!table)
		return -XLB_R_DROP_NO_CONFIG;
	v = bpf_map_lookup_elem(table, &zero);
	if (!v)
		return -XLB_R_DROP_NO_CONFIG;
	if (!*v)
		return -XLB_R_DROP_NO_BACKEND;
	slot = hash % *v + 1;
	v = bpf_map_lookup_elem(table, &slot);
	if (!v)
		return -XLB_R_DROP_NO_CONFIG;
	id = *v;
	if (id == XLB_BACKEND_NONE)
		return -XLB_R_DROP_NO_BACKEND;
	be = bpf_map_lookup_elem(&xlb_backends, &id);
	if (!be || !(be->flags & XLB_BE_F_USABLE))
		return -XLB_R_DROP_NO_BACKEND;
	*bep = be;
	return id;
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

/*
 * pick_backend() - the backend of flow p->key of VIP @vip.
 *
 * Flow-table hit on a usable backend of this VIP: that backend (the entry's atime is written
 * only when the second changed). Hit on an unusable backend, or on a backend id that now
 * belongs to another VIP (freed and reused since the flow was recorded): re-hash and overwrite
 * (XLB_R_EV_REHASH). Miss:
 * the Maglev slot, recorded unless the VIP opts out, the flood guard refuses, or the packet is
 * a fragment or an ICMP error (those never create state). Returns the backend id or a negative
 * reason; *@new_flow tells whether this is a new flow of the VIP.
 */
static __always_inline int pick_backend(struct xlb_pkt *p, const struct xlb_vip *vip,
					const struct xlb_config *cfg, __u32 hash,
					struct xlb_backend **bep, __u32 *new_flow, __u64 bytes)
{
	bool use_table = !p->frag && !(vip->flags & XLB_VIP_F_NO_FLOWTABLE);
	struct xlb_flow *f = NULL, nf = {};
	int id;

	*new_flow = 0;
	if (use_table) {
		f = bpf_map_lookup_elem(&xlb_flows, &p->key);
		if (f) {
			__u32 bid = f->backend_id;
			struct xlb_backend *be = bpf_map_lookup_elem(&xlb_backends, &bid);

			if (be && (be->flags & XLB_BE_F_USABLE) && be->vip_id == vip->id) {
				__u32 now = now_sec();

				if (f->atime != now)
					f->atime = now;
				*bep = be;
				p->flow_hit = 1;
				return bid;
			}
			stats_reason(XLB_R_EV_REHASH, bytes);
		}
	}
	id = maglev_pick(vip->id, hash, bep);
	if (id < 0 || !use_table || p->icmp)
		return id;
	nf.backend_id = id;
	nf.atime = now_sec();
	if (f) {
		/*
		 * re-hash of an existing flow: overwrite in place. An update would take a fresh
		 * LRU node for the key it replaces and, with this CPU's share of the table full,
		 * evict up to 4 established flows to get one.
		 */
		*f = nf;
		return id;
	}
	*new_flow = 1;
	if (flood_allows(cfg))
		bpf_map_update_elem(&xlb_flows, &p->key, &nf, BPF_ANY);
	else
		stats_reason(XLB_R_EV_FLOOD, bytes);
	return id;
}

#endif /* XLB_FLOW_H */
