/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Forwarding: IP-in-IP (any family pair), GUE and L2 DSR rewrites of a frame towards a backend. */
#ifndef XLB_ENCAP_H
#define XLB_ENCAP_H

#include "parse.h"
#include "csum.h"

/*
 * VLAN policy: a tag is kept. The frame goes back out (XDP_TX) on the port and VLAN it came
 * in on, where the next hop was reachable; only the tag's inner ethertype changes.
 *
 * GUE checksum policy: the outer UDP checksum is 0 for IPv4 and also for IPv6 (RFC 6935/6936
 * zero-checksum tunnels; Linux fou/GUE receive sockets accept it by default), because the inner
 * packet carries its own transport checksum and summing the payload would cost per byte.
 */

/* Bytes of outer headers a backend of @family and @mode adds (0 for L2 DSR). */
static __always_inline __u32 encap_len(__u8 family, __u8 mode)
{
	if (mode == XLB_MODE_L2)
		return 0;
	return (family == XLB_AF_INET6 ? 40 : 20) + (mode == XLB_MODE_GUE ? 8 : 0);
}

/* Outer IPv4 source: encap_src4 whose low encap_src4_bits (max 16) come from the flow hash. */
static __always_inline __be32 encap_src4(const struct xlb_config *cfg, __u32 hash)
{
	__u32 bits = cfg->encap_src4_bits, mask;

	if (bits > 16)
		bits = 16;
	mask = (1U << bits) - 1;
	return bpf_htonl((bpf_ntohl(cfg->encap_src4) & ~mask) | (hash & mask));
}

/*
 * write_ipv4_outer() - an outer IPv4 header without options at @oh: version 4, IHL 5, @tos,
 * @tot_len, @id (network order), DF if @df, TTL 64, @proto, @saddr, @daddr and its checksum.
 * Composed as five 32-bit words in registers and summed as such (the ones' complement sum of
 * 32-bit words folds to that of the 16-bit words), then stored once each.
 */
static __always_inline void write_ipv4_outer(struct iphdr *oh, __u8 tos, __u16 tot_len, __be16 id,
					     bool df, __u8 proto, __be32 saddr, __be32 daddr)
{
	__u32 w0 = 0x45000000U | (__u32)tos << 16 | tot_len;
	__u32 w1 = (__u32)bpf_ntohs(id) << 16 | (df ? IP_DF_ : 0);
	__u32 w2 = 64U << 24 | (__u32)proto << 16;
	__u64 sum = (__u64)w0 + w1 + w2 + bpf_ntohl(saddr) + bpf_ntohl(daddr);
	__be32 *w = (__be32 *)oh;

	w2 |= csum_fold64(sum);
	w[0] = bpf_htonl(w0);
	w[1] = bpf_htonl(w1);
	w[2] = bpf_htonl(w2);
	w[3] = saddr;
	w[4] = daddr;
}

/*
 * L2 DSR: destination MAC = the backend's, source = @smac (the interface's own), else the MAC the
 * frame was sent to (a unicast address: frames to group MACs are not balanced). The frame is
 * otherwise sent as it came, Ethernet padding included: it is not encapsulated.
 * Returns 0 (ready to send) or XLB_R_DROP_MALFORMED.
 */
static __always_inline int forward_l2(struct xdp_md *ctx, const struct xlb_backend *be,
				      const __u8 *smac)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return XLB_R_DROP_MALFORMED;
	if (smac)
		__builtin_memcpy(eth->h_source, smac, 6);
	else
		__builtin_memcpy(eth->h_source, eth->h_dest, 6);
	__builtin_memcpy(eth->h_dest, be->mac, 6);
	return 0;
}

/*
 * forward_encap() - prepend outer IP (+ UDP for GUE) in front of the packet's IP header, towards
 * backend p->be.
 * The inner packet is left byte for byte as it came; whatever followed it in the frame
 * (Ethernet padding, a trailer) is cut first, so the frame sent is exactly the Ethernet header,
 * the outer headers and the inner IP packet, and the length the caller checked against the MTU
 * (p->l3_len + encapsulation) is the length sent. Outer: family of the backend, TTL/hop limit 64,
 * TOS/traffic class copied, DF and the IPv4 ID copied from an IPv4 inner packet (RFC 6864: a
 * fragmentable outer header carries the inner datagram's own ID, unique for its sender; an IPv6
 * inner packet gets DF, an atomic outer datagram, ID 0), source varying with the flow's outer
 * hash p->outer (xlb_flow_split()) for RSS on the receiver. Source MAC: @smac (the interface's
 * own), else the MAC the frame was sent to.
 * Returns 0 (ready to send), XLB_R_DROP_MALFORMED or XLB_R_DROP_ENCAP.
 */
static __always_inline int forward_encap(struct xdp_md *ctx, const struct xlb_pkt *p,
					 const struct xlb_config *cfg, __u8 mode, const __u8 *smac)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	const struct xlb_backend *be = p->be;
	__u32 hash = p->outer;
	bool gue = mode == XLB_MODE_GUE, out6 = be->family == XLB_AF_INET6;
	__u32 hdr = encap_len(be->family, mode), off = p->l3_off;
	__u8 inner_proto = p->key.family == XLB_AF_INET6 ? IPPROTO_IPV6_ : IPPROTO_IPIP_;
	__u16 ethertype = out6 ? ETH_P_IPV6_ : ETH_P_IP_;
	struct ethhdr *eth = data;
	__be16 tci = 0;
	__u8 src_mac[6];
	void *l3;
	int rc;

	if ((void *)(eth + 1) > end)
		return XLB_R_DROP_MALFORMED;
	if (smac)
		__builtin_memcpy(src_mac, smac, 6);
	else
		__builtin_memcpy(src_mac, eth->h_dest, 6);
	if (off != ETH_HLEN_) {
		struct vlan_hdr *vh = (void *)(eth + 1);

		if ((void *)(vh + 1) > end)
			return XLB_R_DROP_MALFORMED;
		tci = vh->h_vlan_TCI;
		off = ETH_HLEN_ + VLAN_HLEN_;
	}
	/* not multi-buffer (no xdp.frags): data_end - data is the whole frame */
	if (end - data > off + p->l3_len &&
	    bpf_xdp_adjust_tail(ctx, (int)(off + p->l3_len) - (int)(end - data)))
		return XLB_R_DROP_ENCAP;
	if (bpf_xdp_adjust_head(ctx, -(int)hdr))
		return XLB_R_DROP_ENCAP;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	rc = write_l2(data, end, off, cfg->nexthop_mac, src_mac, tci, ethertype);
	if (rc)
		return rc;
	l3 = data + off;
	if (out6) {
		struct ipv6hdr *oh = l3;

		if ((void *)(oh + 1) > end)
			return XLB_R_DROP_ENCAP;
		*(__be32 *)oh = bpf_htonl(0x60000000 | (__u32)p->tos << 20 | (hash & 0xfffff));
		oh->payload_len = bpf_htons(p->l3_len + hdr - sizeof(*oh));
		oh->nexthdr = gue ? IPPROTO_UDP_ : inner_proto;
		oh->hop_limit = 64;
		__builtin_memcpy(&oh->saddr, cfg->encap_src6, 12);
		*(__be32 *)((void *)&oh->saddr + 12) = bpf_htonl(hash);
		__builtin_memcpy(&oh->daddr, be->addr, 16);
		l3 = oh + 1;
	} else {
		struct iphdr *oh = l3;

		if ((void *)(oh + 1) > end)
			return XLB_R_DROP_ENCAP;
		write_ipv4_outer(oh, p->tos, p->l3_len + hdr,
				 p->key.family == XLB_AF_INET ? p->ip_id : 0, p->df,
				 gue ? IPPROTO_UDP_ : inner_proto, encap_src4(cfg, hash), be->addr[0]);
		l3 = oh + 1;
	}
	if (gue) {
		struct udphdr *uh = l3;

		if ((void *)(uh + 1) > end)
			return XLB_R_DROP_ENCAP;
		uh->source = bpf_htons(0xc000 | (hash & 0x3fff));
		uh->dest = bpf_htons(cfg->gue_port ? cfg->gue_port : XLB_GUE_PORT_DEFAULT);
		uh->len = bpf_htons(p->l3_len + sizeof(*uh));
		uh->check = 0;
	}
	return 0;
}

#endif /* XLB_ENCAP_H */
