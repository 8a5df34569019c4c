/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Bounds-checked parsing of Ethernet (+802.1Q), IPv4 (with options), IPv6 and TCP/UDP ports. */
#ifndef XLB_PARSE_H
#define XLB_PARSE_H

#include "xlb_abi.h"

#define ETH_HLEN_ 14
#define VLAN_HLEN_ 4
#define ETH_P_IP_ 0x0800
#define ETH_P_IPV6_ 0x86DD
#define ETH_P_8021Q_ 0x8100
#define IPPROTO_HOPOPTS_ 0
#define IPPROTO_ICMP_ 1
#define IPPROTO_IPIP_ 4
#define IPPROTO_TCP_ 6
#define TCP_FLAG_SYN_ 0x02
#define TCP_FLAG_ACK_ 0x10
#define IPPROTO_UDP_ 17
#define IPPROTO_IPV6_ 41
#define IPPROTO_ROUTING_ 43
#define IPPROTO_FRAG_ 44
#define IPPROTO_DSTOPTS_ 60
#define IPV6_EXT_MAX 3
#define IPPROTO_ICMPV6_ 58
#define IP_DF_ 0x4000
#define IP_MF_ 0x2000
#define IP_OFFMASK_ 0x1fff

/* Fragment state of a packet (struct xlb_pkt.frag). */
enum {
	FRAG_NONE = 0,
	FRAG_FIRST = 1,		/* offset 0, more fragments follow: carries the ports */
	FRAG_LATER = 2,		/* offset > 0: no L4 header */
};

/*
 * The packet context: what the parser learned about one packet, and the outputs of the steps
 * that follow (the VIP, the hash, the backend). Every step of the datapath returns 0 to go on
 * or the reason (>= 1, enum xlb_reason) that ends the packet; what a step finds goes here.
 */
struct xlb_pkt {
	struct xlb_flow_key key;	/* the flow (for ICMP errors: the quoted flow, reversed) */
	__u32 l3_off;		/* offset of the IP header: 14, or 18 behind an 802.1Q tag */
	__u32 l3_len;		/* IP total length (IPv4 tot_len, IPv6 40 + payload_len) */
	__u32 l4_off;		/* offset of the L4 header */
	__u8 tos;		/* IPv4 TOS or IPv6 traffic class, copied to the outer header */
	__u8 df;		/* IPv4 DF set (IPv6 never fragments in flight: treated as set) */
	__u8 frag;		/* FRAG_* */
	__u8 icmp;		/* an ICMP error routed by its quoted flow */
	__be16 ip_id;		/* IPv4 identification, copied to an outer IPv4 header */
	__u8 srcroute;		/* IPv6 routing header with segments left > 0 seen */
	__u8 new_flow;		/* pick_backend(): a flow new to the VIP (counted new_flows) */
	__u32 frag_id;		/* a fragment's identification (IPv4 ID or IPv6 fragment header's) */
	__be16 vip_port;	/* find_vip(): the port of the VIP matched (0: all-ports) */
	__u8 frag_known;	/* find_vip(): a later fragment whose first one was sent (xlb_frags):
				 * be_id and outer below are that first fragment's */
	__u8 flow_hit;		/* pick_backend(): the backend came from the flow table */
	__u32 hash;		/* xlb_flow_hash() of the key (after the VIP's hashing rule): set
				 * where a Maglev slot is picked, or a monitor is on; else 0 */
	__u32 be_id;		/* pick_backend(): the backend's id */
	__u32 outer;		/* the flow's outer hash (xlb_flow_split()): the outer source */
	struct xlb_backend *be;	/* and its entry (set whenever pick_backend() returned 0) */
	__u32 vip_id;		/* find_vip(): the VIP matched, with has_vip (for the monitor) */
	__u8 has_vip;
	__u8 addr_maybe;	/* parse_packet(): the destination passed the VIP address filter */
};

/*
 * eth_l3() - the ethertype (host order) behind at most one 802.1Q tag, and the offset of the L3
 * header into *@off; -1 for a frame too short for its Ethernet header or tag.
 */
static __always_inline int eth_l3(void *data, void *end, __u32 *off)
{
	struct ethhdr *eth = data;
	struct vlan_hdr *vh = (void *)(eth + 1);

	*off = ETH_HLEN_;
	if ((void *)(eth + 1) > end)
		return -1;
	if (eth->h_proto != bpf_htons(ETH_P_8021Q_))
		return bpf_ntohs(eth->h_proto);
	if ((void *)(vh + 1) > end)
		return -1;
	*off = ETH_HLEN_ + VLAN_HLEN_;
	return bpf_ntohs(vh->h_vlan_encapsulated_proto);
}

/*
 * ipv4_lengths() - the checks every IPv4 header passes, VIP or not: in the frame, version 4,
 * IHL >= 5, tot_len >= the header and within the frame. Header and total lengths into *@hlen
 * and *@tot. Returns 0 or XLB_R_DROP_MALFORMED.
 */
static __always_inline int ipv4_lengths(struct iphdr *iph, void *end, __u32 *hlen, __u32 *tot)
{
	__u8 vihl;

	if ((void *)(iph + 1) > end)
		return XLB_R_DROP_MALFORMED;
	/* version 4 and IHL >= 5 in one compare of the first byte (one load: the CO-RE field
	 * accesses of vmlinux.h's bitfields are not merged by clang) */
	vihl = *(__u8 *)iph;
	if ((__u8)(vihl - 0x45) > 0x4f - 0x45)
		return XLB_R_DROP_MALFORMED;
	*hlen = (vihl & 0x0f) * 4;
	*tot = bpf_ntohs(iph->tot_len);
	if (*tot < *hlen || (void *)iph + *tot > end)
		return XLB_R_DROP_MALFORMED;
	return 0;
}

/*
 * ipv6_length() - the checks every IPv6 header passes: the fixed header in the frame, version 6,
 * the payload within the frame. The IP length (40 + payload) into *@len. Returns 0 or
 * XLB_R_DROP_MALFORMED.
 */
static __always_inline int ipv6_length(struct ipv6hdr *ip6, void *end, __u32 *len)
{
	if ((void *)(ip6 + 1) > end)
		return XLB_R_DROP_MALFORMED;
	if ((*(__u8 *)ip6 & 0xf0) != 0x60)
		return XLB_R_DROP_MALFORMED;
	*len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	if ((void *)ip6 + *len > end)
		return XLB_R_DROP_MALFORMED;
	return 0;
}

/* Bytes of L4 header a whole packet of @proto carries within its IP packet: TCP 20, UDP 8. */
static __always_inline __u32 l4_hdr_len(__u8 proto)
{
	return proto == IPPROTO_TCP_ ? 20 : 8;
}

/*
 * parse_ipv4() - the fields of the IPv4 header at @iph (offset @off) that passed ipv4_lengths()
 * (@hlen, @tot): addresses, protocol, TOS, ID, DF and fragment state.
 */
static __always_inline void parse_ipv4(struct iphdr *iph, __u32 off, __u32 hlen, __u32 tot,
				       struct xlb_pkt *p)
{
	__u16 frag;

	p->key.src[0] = iph->saddr;
	p->key.dst[0] = iph->daddr;
	p->key.proto = iph->protocol;
	p->tos = iph->tos;
	p->ip_id = iph->id;
	p->frag_id = iph->id;
	p->l3_len = tot;
	p->l4_off = off + hlen;
	frag = bpf_ntohs(iph->frag_off);
	p->df = !!(frag & IP_DF_);
	if (frag & (IP_MF_ | IP_OFFMASK_))
		p->frag = (frag & IP_OFFMASK_) ? FRAG_LATER : FRAG_FIRST;
}

/*
 * parse_ipv6() - the IPv6 header at @off that passed ipv6_length() (p->l3_len set): addresses,
 * next header, traffic class, up to IPV6_EXT_MAX hop-by-hop/routing/destination-options headers,
 * then a fragment header if any. Other extension headers (AH, ESP, more than IPV6_EXT_MAX) are
 * not walked: such packets end as XLB_R_PASS_L4. Returns 0 or XLB_R_DROP_MALFORMED.
 */
static __always_inline int parse_ipv6(void *data, void *end, __u32 off, struct xlb_pkt *p)
{
	struct ipv6hdr *ip6 = data + off;

	__builtin_memcpy(p->key.src, &ip6->saddr, 16);
	__builtin_memcpy(p->key.dst, &ip6->daddr, 16);
	p->key.proto = ip6->nexthdr;
	p->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
	p->df = 1;
	p->l4_off = off + sizeof(*ip6);
	/* up to IPV6_EXT_MAX hop-by-hop / routing / destination options headers */
#pragma unroll
	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		__u8 *ext = data + p->l4_off;
		__u32 len;

		if (p->key.proto != IPPROTO_HOPOPTS_ && p->key.proto != IPPROTO_ROUTING_ &&
		    p->key.proto != IPPROTO_DSTOPTS_)
			break;
		if ((void *)(ext + 2) > end)
			return XLB_R_DROP_MALFORMED;
		len = (ext[1] + 1) * 8;
		if (p->l4_off + len > off + p->l3_len)
			return XLB_R_DROP_MALFORMED;
		if (p->key.proto == IPPROTO_ROUTING_) {
			/* segments left (byte 3): the destination is a waypoint, not the end */
			if ((void *)(ext + 4) > end)
				return XLB_R_DROP_MALFORMED;
			p->srcroute |= ext[3] != 0;
		}
		p->key.proto = ext[0];
		p->l4_off += len;
	}
	if (p->key.proto == IPPROTO_FRAG_) {
		struct frag_hdr *fh = data + p->l4_off;
		__u16 fo;

		if ((void *)(fh + 1) > end || p->l4_off + sizeof(*fh) > off + p->l3_len)
			return XLB_R_DROP_MALFORMED;
		fo = bpf_ntohs(fh->frag_off);
		p->key.proto = fh->nexthdr;
		p->frag_id = fh->identification;
		/* offset 0 without M: an atomic fragment, a whole packet (RFC 8200 4.5, RFC 6946) */
		p->frag = (fo & 0xfff8) ? FRAG_LATER : (fo & 1) ? FRAG_FIRST : FRAG_NONE;
		p->l4_off += sizeof(*fh);
	}
	return 0;
}

/*
 * parse_ports() - TCP/UDP ports into the key. The whole L4 header (20 bytes TCP, 8 UDP) must
 * lie within the IP packet (which parse_ipv4/6 checked lies within the frame). A first fragment
 * needs only its ports there (every real one carries at least 8 bytes of L4 header); one without
 * them is handled as a later fragment. Returns 0 or XLB_R_DROP_MALFORMED.
 */
static __always_inline int parse_ports(void *data, void *end, struct xlb_pkt *p)
{
	__u32 need = l4_hdr_len(p->key.proto);
	__u16 *ports = data + p->l4_off;

	if (p->frag == FRAG_LATER)
		return 0;
	if (p->frag == FRAG_FIRST)
		need = 4;
	if ((void *)(ports + 2) > end || p->l4_off + need > p->l3_off + p->l3_len) {
		if (p->frag == FRAG_FIRST) {
			p->frag = FRAG_LATER;
			return 0;
		}
		return XLB_R_DROP_MALFORMED;
	}
	p->key.sport = ports[0];
	p->key.dport = ports[1];
	return 0;
}

/* Is the packet a TCP SYN without ACK (a connection's first packet)? Read for VIP addresses. */
static __always_inline bool tcp_syn(void *data, void *end, const struct xlb_pkt *p)
{
	__u32 off = p->l4_off;
	__u8 *flags;

	if (p->key.proto != IPPROTO_TCP_ || p->frag || off > 1024)
		return false;	/* (the bound is for the verifier: the L4 header is nearer) */
	flags = data + off + 13;
	if ((void *)(flags + 1) > end)
		return false;
	return (*flags & (TCP_FLAG_SYN_ | TCP_FLAG_ACK_)) == TCP_FLAG_SYN_;
}

/*
 * write_l2() - write the Ethernet header (and the 802.1Q tag when @off says the frame has one)
 * in front of a frame's new L3 header, after bpf_xdp_adjust_head moved the start.
 * Returns 0 or XLB_R_DROP_ENCAP.
 */
static __always_inline int write_l2(void *data, void *end, __u32 off, const __u8 *dst,
				    const __u8 *src, __be16 tci, __u16 ethertype)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return XLB_R_DROP_ENCAP;
	__builtin_memcpy(eth->h_dest, dst, 6);
	__builtin_memcpy(eth->h_source, src, 6);
	if (off != ETH_HLEN_) {
		struct vlan_hdr *vh = (void *)(eth + 1);

		if ((void *)(vh + 1) > end)
			return XLB_R_DROP_ENCAP;
		eth->h_proto = bpf_htons(ETH_P_8021Q_);
		vh->h_vlan_TCI = tci;
		vh->h_vlan_encapsulated_proto = bpf_htons(ethertype);
	} else {
		eth->h_proto = bpf_htons(ethertype);
	}
	return 0;
}

#endif /* XLB_PARSE_H */
