/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Choosing a flow's backend: flow table, Maglev table, flood guard. */
#ifndef XLB_FLOW_H
#define XLB_FLOW_H

#include "maps.h"
#include "stats.h"
#include "frag.h"

#define NSEC_PER_SEC_ 1000000000ULL

/*
 * maglev_pick() - the backend in slot hash % M of @vip's table, if usable, into p->be and
 * p->be_id; the hash, xlb_flow_hash() of p->key as @vip hashes it with @cfg's seed, into
 * p->hash (computed here only: a flow-table hit needs none). Returns 0, XLB_R_DROP_NO_CONFIG
 * (no table: control plane not ready) or XLB_R_DROP_NO_BACKEND (no usable backend there).
 */
static __always_inline int maglev_pick(const struct xlb_vip *vip, const struct xlb_config *cfg,
				       struct xlb_pkt *p)
{
	struct xlb_backend *be;
	__u32 zero = 0, slot, id, *v, vip_id = vip->id;
	void *table;

	p->hash = xlb_flow_hash(&p->key, vip->flags & XLB_VIP_F_HASH_SRC, cfg->hash_seed);
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
 * Above cfg->flood_limit new flows are balanced by hash alone: a SYN flood's stores are bounded
 * (its inserts evict only one-packet flows anyway: flow_insert()).
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

/* Where a packet's flow lives in xlb_flows: looked up once, by balance() or pick_backend(). */
struct flow_ref {
	struct xlb_flow_bucket *b;	/* the flow's bucket; NULL: not looked up yet */
	__u32 tag;			/* the flow's tag (xlb_flow_split()) */
	__u32 way;			/* a way with the tag (flow_find()); XLB_FLOW_WAYS: none */
	__u64 w;			/* and its word, as read then */
};

#define FLOW_ANY_VIP 0xffffffffU

/*
 * flow_look() - the bucket and tag of p->key, with @meta's seed and size, into @fr, and the
 * flow's outer hash into p->outer: one hash of the key for all three (xlb_flow_split()).
 */
static __always_inline void flow_look(const struct xlb_vip_meta *meta, struct xlb_pkt *p,
				      struct flow_ref *fr)
{
	__u32 bucket;

	fr->tag = xlb_flow_split(xlb_flow_hash64(&p->key, meta->flow_seed), meta->flow_buckets,
				 &bucket, &p->outer);
	fr->b = bpf_map_lookup_elem(&xlb_flows, &bucket);
	fr->way = XLB_FLOW_WAYS;
}

/*
 * flow_find() - the first way of @fr's bucket, from way tag % 8 on (where flow_insert() puts a
 * flow first), holding @fr's tag and a backend, recorded for VIP @vip_id (FLOW_ANY_VIP: for any
 * VIP), into fr->way and fr->w (one load: a word another CPU rewrites meanwhile is used as
 * read, as if read a moment earlier). Returns whether found.
 */
static __always_inline bool flow_find(struct flow_ref *fr, __u32 vip_id)
{
	const struct xlb_flow_bucket *b = fr->b;
	__u32 start = fr->tag % XLB_FLOW_WAYS;

	fr->way = XLB_FLOW_WAYS;
	if (!b)
		return false;
#pragma unroll
	for (__u32 n = 0; n < XLB_FLOW_WAYS; n++) {
		__u32 i = (start + n) % XLB_FLOW_WAYS;
		__u64 w = b->way[i];

		if (xlb_way_tag(w) == fr->tag && xlb_way_backend(w) &&
		    (vip_id == FLOW_ANY_VIP || xlb_way_vip(w) == vip_id)) {
			fr->way = i;
			fr->w = w;
			return true;
		}
	}
	return false;
}

/*
 * flow_insert() - record a new flow (@tag, backend @be_id, VIP @vip_id) in bucket @b, written
 * unreferenced. The victim, scanning from way tag % 8 round the bucket: an empty way, else the
 * first unreferenced way, else (all referenced) every referenced bit is cleared and the start
 * way taken: CLOCK per bucket, an approximation of LRU in which a flow that saw a second packet
 * (referenced, pick_backend()) outlives every flow that saw one, so a SYN flood evicts its own
 * entries first. Only a bucket whose 8 flows are all referenced loses one of them to a flood
 * (the sweep), and after the sweep a flow keeps its way while it sees a packet between two
 * inserts into its bucket (with 1M flows and 125,000 new flows a second per CPU, about one a
 * second per bucket per CPU). A way with the same tag but another VIP (the flow's entry under a
 * VIP that no longer takes it, or another flow's: 2^-32 per way) is never the victim: two ways
 * of one tag and VIP would make the later one unreachable. Another CPU may write the same
 * bucket at the same time: every store is one whole word, the last writer wins, and a flow lost that way is
 * recorded again by its next packet, with the same Maglev choice.
 */
static __always_inline void flow_insert(struct xlb_flow_bucket *b, __u32 tag, __u32 be_id,
					__u32 vip_id)
{
	__u32 start = tag % XLB_FLOW_WAYS, empty = XLB_FLOW_WAYS, unref = XLB_FLOW_WAYS;
	__u32 other = XLB_FLOW_WAYS, j;
	__u64 w;

#pragma unroll
	for (__u32 n = 0; n < XLB_FLOW_WAYS; n++) {
		j = (start + n) % XLB_FLOW_WAYS;
		w = b->way[j];
		if (!xlb_way_backend(w)) {
			empty = j;
			break;
		}
		if (xlb_way_tag(w) == tag)
			continue;
		if (other == XLB_FLOW_WAYS)
			other = j;
		if (unref == XLB_FLOW_WAYS && !(w & XLB_WAY_REF))
			unref = j;
	}
	if (empty == XLB_FLOW_WAYS)
		empty = unref;
	if (empty == XLB_FLOW_WAYS) {
		/* all referenced: a second chance for every one, the start way goes */
#pragma unroll
		for (j = 0; j < XLB_FLOW_WAYS; j++) {
			w = b->way[j];
			if (w & XLB_WAY_REF)
				b->way[j] = w & ~XLB_WAY_REF;
		}
		empty = other;
	}
	if (empty < XLB_FLOW_WAYS)
		b->way[empty] = xlb_way_make(tag, be_id, vip_id);
}

/*
 * pick_backend() - the backend of flow p->key of VIP @vip, into p->be and p->be_id; p->new_flow
 * tells whether this is a new flow of the VIP.
 *
 * @fr: the flow's place, looked up already by balance() (for whole TCP/UDP packets, before the
 * VIP) or, with fr->b NULL, looked up here with @meta's seed and size.
 *
 * The flow's entry is the way of its bucket with its tag and @vip's id. A way with the tag but
 * another VIP's id is not this flow's for @vip (recorded under a VIP that no longer takes the
 * flow, or another flow's tag): a miss, so a false tag match can never send a packet to another
 * VIP's backend, and the backend check below keeps it to a usable backend of @vip.
 * Hit on a usable backend of this VIP: that backend; the way's referenced bit is set if it was
 * clear (one store, the flow's second packet; an established flow writes nothing). Hit on an
 * unusable backend, or on a backend id that now belongs to another VIP (freed and reused since
 * the flow was recorded): re-hash (XLB_R_EV_REHASH) and overwrite the way in place. Miss: the
 * Maglev slot of the flow's hash (maglev_pick()), recorded (flow_insert()) unless the flood
 * guard refuses. A first
 * fragment or an ICMP error looks its flow up but never writes the table (they never create
 * state, nor mark a flow referenced); a later fragment follows its first (frag_backend()).
 * Returns 0, maglev_pick()'s reason or XLB_R_DROP_FRAG_ORPHAN.
 */
static __always_inline int pick_backend(struct xlb_pkt *p, const struct xlb_vip *vip,
					const struct xlb_config *cfg,
					const struct xlb_vip_meta *meta, __u64 bytes,
					struct flow_ref *fr)
{
	struct xlb_flow_bucket *b;
	struct xlb_backend *be;
	__u32 i, bid;
	__u64 w;
	int rc;

	if (p->frag == FRAG_LATER)
		return frag_backend(p, vip);
	if (!fr->b)
		flow_look(meta, p, fr);
	b = fr->b;
	if (!b)
		return maglev_pick(vip, cfg, p); /* no bucket (cannot be: bucket < size) */
	/* balance()'s way if it is this VIP's, else this VIP's way of the tag, if any */
	if (fr->way >= XLB_FLOW_WAYS || xlb_way_vip(fr->w) != vip->id)
		flow_find(fr, vip->id);
	i = fr->way;
	w = fr->w;
	if (i < XLB_FLOW_WAYS) {
		bid = xlb_way_backend(w);
		be = bpf_map_lookup_elem(&xlb_backends, &bid);
		if (be && (be->flags & XLB_BE_F_USABLE) && be->vip_id == vip->id) {
			p->be = be;
			p->be_id = bid;
			p->flow_hit = 1;
			if (!(w & XLB_WAY_REF) && !p->icmp && !p->frag)
				b->way[i] = w | XLB_WAY_REF;
			return 0;
		}
		stats_reason(XLB_R_EV_REHASH, bytes);
	}
	rc = maglev_pick(vip, cfg, p);
	if (rc || p->icmp || p->frag)
		return rc;
	if (i < XLB_FLOW_WAYS) {
		/* re-hash of an established flow: in place, as referenced as it was */
		b->way[i] = xlb_way_make(fr->tag, p->be_id, vip->id) | (w & XLB_WAY_REF);
		return 0;
	}
	p->new_flow = 1;
	if (flood_allows(cfg))
		flow_insert(b, fr->tag, p->be_id, vip->id);
	else
		stats_reason(XLB_R_EV_FLOOD, bytes);
	return 0;
}

#endif /* XLB_FLOW_H */
