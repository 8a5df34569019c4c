// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The xlb XDP balancer: VIP lookup, flow table, Maglev, encapsulation, per-reason counters. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xlb_abi.h"
#include "maps.h"
#include "parse.h"
#include "icmp.h"
#include "flow.h"
#include "encap.h"
#include "vet.h"
#include "stats.h"
#include "monitor.h"

/*
 * Policies for odd packets (each is counted under its reason):
 *
 * - Malformed (truncated Ethernet/VLAN/IP/TCP/UDP header, IPv4 IHL < 5, tot_len smaller than
 *   the header or beyond the frame, IPv6 payload beyond the frame): XDP_DROP,
 *   drop_malformed, VIP or not. The kernel's own input path discards these at the same checks.
 * - Not IP: XDP_PASS untouched. IP but not TCP/UDP/ICMP (or behind IPv6 extension headers
 *   other than up to 3 hop-by-hop/routing/destination-options headers and a fragment header):
 *   XDP_PASS untouched, pass_l4, without a VIP lookup. An IPv6 atomic fragment (offset 0, no
 *   M flag) is a whole packet, balanced as its flow.
 * - Fragments (frag.h): the first fragment carries the ports: it matches its VIP as a whole
 *   packet would and goes to its flow's backend (flow table, else Maglev on the 5-tuple), never
 *   recorded as a flow; where it went is recorded in xlb_frags by {src, dst, proto, id}, and
 *   the later fragments follow it for XLB_FRAG_LIFETIME_NS (same backend, same outer source).
 *   A later fragment without a record: for an all-ports VIP XDP_DROP, drop_frag_orphan (it
 *   cannot be matched to a connection); else XDP_PASS untouched, pass_frag, as a fragment for
 *   no VIP. A first fragment too short for its ports is handled as a later fragment.
 * - ICMP: "fragmentation needed" / ICMPv6 "packet too big" sent to a VIP, quoting a flow from
 *   that VIP, with a valid ICMP checksum, go to the backend owning that flow (flow table, else
 *   Maglev; never recorded), counted icmp_routed + tx. Any other ICMP (another code, sent to
 *   another address than the quoted source, a bad checksum): XDP_PASS untouched, pass_icmp.
 * - For a VIP (vet_vip_packet()): sent to a group MAC: XDP_PASS untouched, pass_group_mac;
 *   a bad IPv4 header checksum: XDP_DROP, drop_ip_csum; source-routed (IPv4 LSRR/SSRR, IPv6
 *   routing header with segments left): XDP_PASS untouched, pass_source_route.
 * - Too big after encapsulation (outer L3 length > config.mtu, 0 = 1500): XDP_DROP
 *   drop_too_big, or with XLB_CFG_F_PASS_TOO_BIG XDP_PASS untouched, pass_too_big. With
 *   XLB_CFG_F_ICMP_TOO_BIG, an IPv4 packet with DF or any IPv6 packet (not itself an ICMP
 *   error or a later fragment) is answered instead: ICMP frag-needed / ICMPv6 packet-too-big
 *   from the VIP to the client, advertising config.mtu minus the encapsulation, XDP_TX,
 *   tx_icmp_too_big, at most icmp_rate per second and CPU (icmp_burst deep) and never to a
 *   bogus source (see bogus_source()); refused replies fall back to the pass/drop policy and
 *   count icmp_too_big_limited / icmp_too_big_refused. Never a corrupt frame: the pass/drop
 *   checks run before any change.
 * - Sent frames carry the interface's own MAC (xlb_ifmac) as source, and nothing that followed
 *   the IP packet in the frame (padding, trailers) once encapsulated.
 * - VLAN: one 802.1Q tag is parsed and kept on the encapsulated frame.
 */
/* The MAC of the interface the frame came in on, if libxlb recorded it at attach; else NULL. */
static __always_inline const __u8 *own_mac(struct xdp_md *ctx)
{
	__u32 ifindex = ctx->ingress_ifindex, slot = ifindex % XLB_IFMAC_SLOTS;
	struct xlb_ifmac *m = bpf_map_lookup_elem(&xlb_ifmac, &slot);

	return m && m->ifindex == ifindex && ifindex ? m->mac : NULL;
}

/*
 * Every step below returns 0 to go on or the reason (>= 1) that ends the packet, and leaves what
 * it found in the packet context @p. A packet no step stopped is forwarded: XLB_R_TX, which is
 * 0 for that reason and is never returned by a step.
 */
_Static_assert(XLB_R_TX == 0, "XLB_R_TX is the reason of a packet no step stopped");

/* What a packet no VIP takes is counted as: the host's, untouched. */
static __always_inline int not_vip(const struct xlb_pkt *p)
{
	return p->icmp ? XLB_R_PASS_ICMP : p->frag ? XLB_R_PASS_FRAG : XLB_R_PASS_NOT_VIP;
}

/*
 * vip_addr_maybe() - may @addr (a destination: IPv4 in [0], the rest zero) be a VIP's address?
 * One read of the filter in the inlined array entry @meta; a miss is the host's packet, with no
 * hash lookup at all (neither the flow table nor the VIP map).
 */
static __always_inline bool vip_addr_maybe(const struct xlb_vip_meta *meta, const __be32 *addr)
{
	__u32 bit = xlb_vip_filter_bit(addr);

	return meta->addr_filter[(bit >> 6) & 63] & (1ULL << (bit & 63));
}

/*
 * l4_whole() - is a well-formed IP packet (next header @proto, @room bytes of it behind its IPv4
 * or fixed IPv6 header, not a fragment) a whole TCP or UDP packet, its L4 header within the IP
 * packet as parse_ports() checks? For such a packet to an address that fails the VIP address
 * filter, the full parse and find_vip() would find exactly XLB_R_PASS_NOT_VIP.
 */
static __always_inline bool l4_whole(__u8 proto, __u32 room)
{
	return (proto == IPPROTO_TCP_ || proto == IPPROTO_UDP_) && l4_hdr_len(proto) <= room;
}

/* The start of the packet context: zeroed, then the L3 offset and family. */
static __always_inline void pkt_start(struct xlb_pkt *p, __u32 l3_off, __u8 family)
{
	__builtin_memset(p, 0, sizeof(*p));
	p->l3_off = l3_off;
	p->key.family = family;
}

/*
 * parse_packet() - Ethernet, IP, then the TCP/UDP ports or the flow an ICMP error quotes, into
 * @p, which it zeroes first. With @fast (@meta known and no monitor on, which would record @p)
 * the host's own plain traffic is decided before that, from registers, right after the IP
 * header's checks: a whole TCP/UDP packet (l4_whole()) whose destination fails the VIP address
 * filter is XLB_R_PASS_NOT_VIP, @p left as it was (one that passes it is marked addr_maybe, so
 * that balance() does not test it again). Every other packet (a possible VIP, a fragment,
 * ICMP, an extension header, a malformed header) is parsed whole.
 */
static __always_inline int parse_packet(void *data, void *end, struct xlb_pkt *p,
					const struct xlb_vip_meta *meta, bool fast)
{
	__u32 off, hlen, len;
	int proto = eth_l3(data, end, &off), rc;
	bool maybe = false;

	if (proto == ETH_P_IP_) {
		struct iphdr *iph = data + off;

		rc = ipv4_lengths(iph, end, &hlen, &len);
		if (!rc && fast && !(iph->frag_off & bpf_htons(IP_MF_ | IP_OFFMASK_)) &&
		    l4_whole(iph->protocol, len - hlen)) {
			__be32 dst[4] = { iph->daddr };

			if (!vip_addr_maybe(meta, dst))
				return XLB_R_PASS_NOT_VIP;
			maybe = true;
		}
		pkt_start(p, off, XLB_AF_INET);
		if (rc)
			return rc;
		parse_ipv4(iph, off, hlen, len, p);
		p->addr_maybe = maybe;
	} else if (proto == ETH_P_IPV6_) {
		struct ipv6hdr *ip6 = data + off;

		rc = ipv6_length(ip6, end, &len);
		if (!rc && fast && l4_whole(ip6->nexthdr, len - sizeof(*ip6))) {
			if (!vip_addr_maybe(meta, (const __be32 *)&ip6->daddr))
				return XLB_R_PASS_NOT_VIP;
			maybe = true;
		}
		pkt_start(p, off, XLB_AF_INET6);
		if (rc)
			return rc;
		p->l3_len = len;
		p->addr_maybe = maybe;
		rc = parse_ipv6(data, end, off, p);
		if (rc)
			return rc;
	} else {
		pkt_start(p, off, 0);
		return proto < 0 ? XLB_R_DROP_MALFORMED : XLB_R_PASS_NOT_IP;
	}
	if (p->key.proto == IPPROTO_TCP_ || p->key.proto == IPPROTO_UDP_)
		return parse_ports(data, end, p);
	if (p->key.proto == IPPROTO_ICMP_ || p->key.proto == IPPROTO_ICMPV6_)
		return parse_icmp_error(data, end, p);
	return p->frag ? XLB_R_PASS_FRAG : XLB_R_PASS_L4;
}

/*
 * find_vip() - the VIP of the packet's destination into *@vipp: {addr, port, proto}, then
 * {addr, 0, proto} where all-ports VIPs exist (@meta says where). A later fragment has no ports:
 * it takes the port of the VIP its first fragment matched (frag_find()), else only an all-ports
 * VIP. An ICMP error whose checksum fails is no VIP's. Returns 0 (p->vip_port set), a pass reason
 * (not a VIP's).
 */
static __always_inline int find_vip(struct xdp_md *ctx, struct xlb_pkt *p,
				    const struct xlb_vip_meta *meta, struct xlb_vip **vipp)
{
	struct xlb_vip_key vk = {};
	struct xlb_vip *vip = NULL;

	__builtin_memcpy(vk.addr, p->key.dst, sizeof(vk.addr));
	vk.port = p->key.dport;
	vk.proto = p->key.proto;
	vk.family = p->key.family;
	if (p->frag == FRAG_LATER) {
		frag_find(p);
		vk.port = p->vip_port;
	}
	if (p->frag != FRAG_LATER || p->frag_known)
		vip = bpf_map_lookup_elem(&xlb_vips, &vk);
	if (!vip && (meta->all_ports & xlb_all_ports_bit(vk.family, vk.proto))) {
		/* the all-ports fallback only where such VIPs exist */
		vk.port = 0;
		vip = bpf_map_lookup_elem(&xlb_vips, &vk);
	}
	if (!vip)
		return not_vip(p);
	p->vip_id = vip->id;
	p->has_vip = 1;
	if (p->icmp && !icmp_csum_ok(ctx, p))
		return XLB_R_PASS_ICMP;	/* not a valid error: as if not for a VIP */
	p->vip_port = vk.port;
	*vipp = vip;
	return 0;
}

/*
 * too_big() - a packet too big once encapsulated: answered with an ICMP(v6) too-big advertising
 * @mtu where the config asks for it and the reply is allowed, else passed or dropped by policy.
 */
static __always_inline int too_big(struct xdp_md *ctx, const struct xlb_pkt *p,
				   const struct xlb_config *cfg, __u32 mtu, const __u8 *smac)
{
	if (cfg->flags & XLB_CFG_F_ICMP_TOO_BIG) {
		int rc = reply_too_big(ctx, p, mtu, cfg, smac);

		if (rc)
			return rc;
	}
	return (cfg->flags & XLB_CFG_F_PASS_TOO_BIG) ? XLB_R_PASS_TOO_BIG : XLB_R_DROP_TOO_BIG;
}

/*
 * balance_vip() - a packet for @vip: the checks, the backend, the MTU, the rewrite (@meta, @fr:
 * see pick_backend(); @fast: no monitor is on). Returns 0 (XLB_R_TX: the frame is ready to send
 * to p->be) or the reason that ended it.
 */
static __always_inline int balance_vip(struct xdp_md *ctx, struct xlb_pkt *p,
				       const struct xlb_vip *vip, __u64 bytes,
				       const struct xlb_vip_meta *meta, struct flow_ref *fr,
				       bool fast)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	const struct xlb_config *cfg;
	__u8 mode = vip->mode;
	const __u8 *smac;
	__u32 zero = 0, mtu;
	int rc;

	rc = vet_vip_packet(data, end, p);
	if (rc)
		return rc;
	cfg = bpf_map_lookup_elem(&xlb_config, &zero);
	if (!cfg)
		return XLB_R_DROP_NO_CONFIG;
	rc = pick_backend(p, vip, cfg, meta, bytes, fr);
	/*
	 * the Maglev hash is computed where a slot is picked (maglev_pick()); a monitor, which
	 * reports it, gets it for a flow-table hit too (a later fragment picks no slot: 0)
	 */
	if (!fast && p->flow_hit)
		p->hash = xlb_flow_hash(&p->key, vip->flags & XLB_VIP_F_HASH_SRC, cfg->hash_seed);
	if (rc) {
		/* the VIP's policy: the host may answer for it (a sorry server, a local copy) */
		if (rc == XLB_R_DROP_NO_BACKEND && (vip->flags & XLB_VIP_F_PASS_NO_BACKEND))
			return XLB_R_PASS_NO_BACKEND;
		return rc;
	}
	smac = own_mac(ctx);
	if (mode == XLB_MODE_L2) {
		rc = forward_l2(ctx, p->be, smac);
	} else {
		mtu = cfg->mtu ? cfg->mtu : 1500;
		if (p->l3_len + encap_len(p->be->family, mode) > mtu)
			return too_big(ctx, p, cfg, mtu - encap_len(p->be->family, mode), smac);
		rc = forward_encap(ctx, p, cfg, mode, smac);
	}
	if (!rc && p->frag == FRAG_FIRST)
		frag_record(p);
	return rc;
}

/*
 * The reason of packet @p: parse, find its VIP (@meta: xlb_vip_meta), balance it; the VIP's and
 * backend's counters.
 *
 * The flow table comes first: a whole TCP/UDP packet whose destination passes the VIP address
 * filter looks its flow up, and a way with its tag names the VIP by id: xlb_vip_ids[id] stands
 * for the VIP lookup when find_vip() would return just that VIP: the slot's key is exactly the
 * packet's {dst, dport, proto, family} (a port VIP), or the slot is an all-ports VIP's (port 0)
 * marked XLB_SLOT_F_SOLE, no port VIP beside it, and its key is the packet's {dst, proto,
 * family}. This is exact because libxlb writes a slot before its VIP appears in xlb_vips and
 * clears it after it is gone, and clears the mark before a port VIP enters beside the all-ports
 * VIP and sets it only after the last one left. A slot without the mark (a port VIP beside it
 * would win in find_vip()) or of another key (the id reused, the VIP gone) does not qualify:
 * such packets, a miss, a fragment or an ICMP error look their VIP up as before, and
 * pick_backend() reuses the bucket already found (the flow-table lookup is never repeated). A
 * packet for no VIP's address pays neither lookup. A
 * TCP SYN (no ACK), which almost never has an entry, keeps the VIP-first order: a miss looked
 * up first is not more work (pick_backend() records the new flow in the bucket found) but
 * costs a new flow 8-26 % more, since the cold bucket read and the cold Maglev slot read no
 * longer wait for memory together (README, "flow table first"); its entry is still looked up,
 * in pick_backend(). The same holds for other packets while a CPU sees mostly new flows (a
 * failover, new UDP flows): after XLB_MISS_RUN_VIP_FIRST flow-table-first misses in a row
 * (xlb_miss_run) the CPU looks the VIP up first, like a SYN, until a flow-table hit ends the
 * run. Either order decides every packet the same.
 */

#define XLB_MISS_RUN_VIP_FIRST 8

/*
 * Does VIP slot @s (@v: its VIP as read once) stand for the VIP lookup of packet @p? Its exact
 * port VIP, or its all-ports VIP marked sole (compared with port 0: the mark is only ever set on
 * a port-0 key). The address as two 8-byte words (both sides 8-byte aligned), port, protocol
 * and family as one 4-byte word.
 * A packet to port 0 matches an unmarked all-ports slot too: find_vip() looks {addr, 0} up first.
 */
static __always_inline bool vip_slot_is(const struct xlb_vip_slot *s, const struct xlb_vip *v,
					const struct xlb_pkt *p)
{
	struct xlb_vip_key k = { .port = (v->flags & XLB_SLOT_F_SOLE) ? 0 : p->key.dport,
				 .proto = p->key.proto, .family = p->key.family };
	__u64 sa[2], pa[2];
	__u32 st, pt;

	__builtin_memcpy(sa, s->key.addr, 16);
	__builtin_memcpy(pa, p->key.dst, 16);
	__builtin_memcpy(&st, &s->key.port, 4);
	__builtin_memcpy(&pt, &k.port, 4);
	return st == pt && sa[0] == pa[0] && sa[1] == pa[1];
}

static __always_inline int balance(struct xdp_md *ctx, struct xlb_pkt *p,
				   const struct xlb_vip_meta *meta, bool fast, __u64 bytes)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct flow_ref fr = { .way = XLB_FLOW_WAYS };
	struct xlb_vip_slot *slot;
	struct xlb_vip *vip = NULL, fv;
	__u32 zero = 0, vip_id;
	__u32 *run = NULL;
	int rc;

	rc = parse_packet(data, end, p, meta, fast);
	if (rc)
		return rc;
	if (!meta)
		return XLB_R_DROP_NO_CONFIG;
	if (!p->addr_maybe && !vip_addr_maybe(meta, p->key.dst))
		return not_vip(p);
	if (!p->frag && !p->icmp && !tcp_syn(data, end, p))
		run = bpf_map_lookup_elem(&xlb_miss_run, &zero);
	if (run && *run < XLB_MISS_RUN_VIP_FIRST) {
		flow_look(meta, p, &fr);
		if (flow_find(&fr, FLOW_ANY_VIP)) {
			vip_id = xlb_way_vip(fr.w);
			slot = bpf_map_lookup_elem(&xlb_vip_ids, &vip_id);
			/*
			 * The slot's VIP read once, into @fv, and of the way's own id: libxlb rewrites
			 * a slot in place, so a read beside that write may see a new key with the
			 * old (or zeroed) fields; an id that is not the way's is such a read.
			 */
			if (slot)
				fv = slot->vip;
			if (slot && fv.id == vip_id && vip_slot_is(slot, &fv, p)) {
				vip = &fv;
				p->vip_id = vip->id;
				p->has_vip = 1;
				if (*run)
					*run = 0;
			}
		} else {
			*run += 1;
		}
		run = NULL;
	}
	if (!vip) {
		rc = find_vip(ctx, p, meta, &vip);
		if (rc)
			return rc;
	}
	vip_id = vip->id;
	rc = balance_vip(ctx, p, vip, bytes, meta, &fr, fast);
	if (run && p->flow_hit)
		*run = 0;	/* looked up VIP first after a run of misses: a hit ends it */
	if (!rc) {
		if (p->icmp)
			stats_reason(XLB_R_EV_ICMP, bytes);
		stats_add(&xlb_stats_backend, p->be_id, bytes, p->new_flow);
	}
	stats_add(&xlb_stats_vip, vip_id, bytes, p->new_flow);
	return rc;
}

/* The verdict of a reason: forwarded or answered -> XDP_TX, pass reasons -> XDP_PASS, else drop. */
static __always_inline int verdict(__u32 reason)
{
	if (reason == XLB_R_TX || reason == XLB_R_TX_ICMP_TOO_BIG)
		return XDP_TX;
	if (reason < XLB_R_DROP_MALFORMED)
		return XDP_PASS;
	return XDP_DROP;
}

/*
 * With no monitor on, the host's own traffic is decided as soon as its IP header is checked
 * (parse_packet(), l4_whole()), before the packet context is even zeroed; a monitor, which
 * records every packet's context, gets every packet parsed whole.
 */
SEC("xdp")
int xlb_balancer(struct xdp_md *ctx)
{
	const struct xlb_mon_cfg *mon = monitor_on();
	const struct xlb_vip_meta *meta;
	__u32 zero = 0, reason;
	struct xlb_pkt p;	/* zeroed by parse_packet(), unless it decided before */
	__u64 bytes;

	meta = bpf_map_lookup_elem(&xlb_vip_meta, &zero);
	bytes = ctx->data_end - ctx->data;	/* (after the lookups: no reload) */
	reason = balance(ctx, &p, meta, meta && !mon, bytes);
	stats_reason(reason, bytes);
	if (mon)
		monitor_emit(ctx, &p, reason, bytes, mon);
	return verdict(reason);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
