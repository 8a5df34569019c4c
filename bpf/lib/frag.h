/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fragments: the first one follows its flow and is recorded; the later ones follow the record. */
#ifndef XLB_FRAG_H
#define XLB_FRAG_H

#include "maps.h"
#include "parse.h"

/*
 * The fragment policy (README "Pass/drop policy for odd packets"). Only the first fragment of a
 * datagram carries its ports, so only it can be matched to its flow: it is balanced as its flow
 * is (flow table, else Maglev on the 5-tuple; never recorded as a flow), and where it went is
 * recorded by {src, dst, proto, id} in xlb_frags. A later fragment follows that record for
 * XLB_FRAG_LIFETIME_NS, to the same backend with the same outer source. A later fragment with
 * no record cannot be matched to a connection: for an all-ports VIP it is dropped
 * (drop_frag_orphan), never guessed; at an address with port VIPs only it may be the host's own
 * traffic and passes untouched (pass_frag), as any packet no VIP takes.
 */

/* The clock of xlb_frag.stamp: ~1.05 ms units, wrapping every 52 days (compared as a delta). */
static __always_inline __u32 frag_clock(void)
{
	return bpf_ktime_get_coarse_ns() >> 20;
}

static __always_inline void frag_key(const struct xlb_pkt *p, struct xlb_frag_key *k)
{
	__builtin_memcpy(k->src, p->key.src, sizeof(k->src));
	__builtin_memcpy(k->dst, p->key.dst, sizeof(k->dst));
	k->id = p->frag_id;
	k->proto = p->key.proto;
	k->family = p->key.family;
}

/*
 * frag_find() - the record of a later fragment's datagram, if its first fragment was sent within
 * the lifetime: sets p->frag_known, p->be_id, p->outer and p->vip_port (the VIP to look up).
 */
static __always_inline void frag_find(struct xlb_pkt *p)
{
	struct xlb_frag_key k = {};
	struct xlb_frag *f;

	frag_key(p, &k);
	f = bpf_map_lookup_elem(&xlb_frags, &k);
	if (!f || frag_clock() - f->stamp > (__u32)(XLB_FRAG_LIFETIME_NS >> 20))
		return;
	p->frag_known = 1;
	p->be_id = f->backend_id;
	p->outer = f->outer;
	p->vip_port = f->vip_port;
}

/*
 * frag_backend() - the backend of a later fragment for @vip: its first fragment's, if that is
 * still a usable backend of this VIP. Returns 0 (p->be set) or XLB_R_DROP_FRAG_ORPHAN.
 */
static __always_inline int frag_backend(struct xlb_pkt *p, const struct xlb_vip *vip)
{
	__u32 id = p->be_id;
	struct xlb_backend *be;

	if (!p->frag_known)
		return XLB_R_DROP_FRAG_ORPHAN;
	be = bpf_map_lookup_elem(&xlb_backends, &id);
	if (!be || !(be->flags & XLB_BE_F_USABLE) || be->vip_id != vip->id)
		return XLB_R_DROP_FRAG_ORPHAN;
	p->be = be;
	return 0;
}

/* frag_record() - a first fragment was sent to p->be_id: its later fragments follow it. */
static __always_inline void frag_record(const struct xlb_pkt *p)
{
	struct xlb_frag_key k = {};
	struct xlb_frag f = {
		.backend_id = p->be_id,
		.outer = p->outer,
		.stamp = frag_clock(),
		.vip_port = p->vip_port,
	};

	frag_key(p, &k);
	bpf_map_update_elem(&xlb_frags, &k, &f, BPF_ANY);
}

#endif /* XLB_FRAG_H */
