/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* ICMP "fragmentation needed" and ICMPv6 "packet too big": the flow they quote, reversed. */
#ifndef XLB_ICMP_H
#define XLB_ICMP_H

#include "parse.h"
#include "csum.h"
#include "stats.h"

#define ICMP_DEST_UNREACH_ 3
#define ICMP_FRAG_NEEDED_ 4
#define ICMPV6_PKT_TOOBIG_ 2

/*
 * parse_icmp_error() - if the ICMP(v6) message at p->l4_off is a PMTU error (type 3 code 4,
 * ICMPv6 type 2 code 0) quoting a TCP or UDP packet whose source is the outer destination,
 * replace p->key by the quoted flow reversed. The quoted packet went VIP -> client (a backend's
 * reply) and the error comes back to that VIP, so the reversed key client -> VIP is the key of
 * the flow that owns it; an error sent anywhere else (another host, a broadcast or multicast
 * group) is not the VIP's, whatever it quotes. The quote may be cut anywhere after the quoted
 * ports, but they must lie within the IP length. Returns 0, or for anything else
 * XLB_R_PASS_ICMP (XLB_R_PASS_FRAG for a fragment): the host handles it as usual. The ICMP
 * checksum is checked later, by icmp_csum_ok(), and only for errors that reached a VIP.
 */
static __always_inline int parse_icmp_error(void *data, void *end, struct xlb_pkt *p)
{
	__u32 ip_end = p->l3_off + p->l3_len, ports_off;	/* bytes beyond are padding */
	__u8 *icmp = data + p->l4_off;
	__u16 *ports;

	if (p->frag)
		return XLB_R_PASS_FRAG;
	if ((void *)(icmp + 8) > end)
		return XLB_R_PASS_ICMP;
	if (p->key.family == XLB_AF_INET) {
		struct iphdr *in = (void *)(icmp + 8);

		if (p->key.proto != IPPROTO_ICMP_ || icmp[0] != ICMP_DEST_UNREACH_ ||
		    icmp[1] != ICMP_FRAG_NEEDED_)
			return XLB_R_PASS_ICMP;
		if ((void *)(in + 1) > end || in->version != 4 || in->ihl < 5)
			return XLB_R_PASS_ICMP;
		if (in->protocol != IPPROTO_TCP_ && in->protocol != IPPROTO_UDP_)
			return XLB_R_PASS_ICMP;
		if (bpf_ntohs(in->frag_off) & IP_OFFMASK_)
			return XLB_R_PASS_ICMP;
		if (in->saddr != p->key.dst[0])
			return XLB_R_PASS_ICMP;
		ports_off = p->l4_off + 8 + in->ihl * 4;
		ports = (void *)in + in->ihl * 4;
		if ((void *)(ports + 2) > end || ports_off + 4 > ip_end)
			return XLB_R_PASS_ICMP;
		p->key.src[0] = in->daddr;
		p->key.dst[0] = in->saddr;
		p->key.proto = in->protocol;
	} else {
		struct ipv6hdr *in = (void *)(icmp + 8);

		if (p->key.proto != IPPROTO_ICMPV6_ || icmp[0] != ICMPV6_PKT_TOOBIG_ || icmp[1])
			return XLB_R_PASS_ICMP;
		if ((void *)(in + 1) > end || in->version != 6)
			return XLB_R_PASS_ICMP;
		{
			const __be32 *qs = (const __be32 *)&in->saddr;

			if ((qs[0] ^ p->key.dst[0]) | (qs[1] ^ p->key.dst[1]) |
			    (qs[2] ^ p->key.dst[2]) | (qs[3] ^ p->key.dst[3]))
				return XLB_R_PASS_ICMP;
		}
		if (in->nexthdr != IPPROTO_TCP_ && in->nexthdr != IPPROTO_UDP_)
			return XLB_R_PASS_ICMP;
		ports_off = p->l4_off + 8 + sizeof(*in);
		ports = (void *)(in + 1);
		if ((void *)(ports + 2) > end || ports_off + 4 > ip_end)
			return XLB_R_PASS_ICMP;
		__builtin_memcpy(p->key.src, &in->daddr, 16);
		__builtin_memcpy(p->key.dst, &in->saddr, 16);
		p->key.proto = in->nexthdr;
	}
	p->key.sport = ports[1];
	p->key.dport = ports[0];
	p->icmp = 1;
	return 0;
}

/*
 * icmp_csum_ok() - does the checksum of the ICMP(v6) message of a routed error verify? ICMP sums
 * the message alone, ICMPv6 also the pseudo header (RFC 4443 2.3). Messages longer than
 * CSUM_SPAN_MAX bytes (an error is at most 576 (IPv4) or 1280 (IPv6) bytes long) are refused.
 */
/*
 * xlb_csum_span() - csum_span() over the frame of @ctx, or ~0 if it cannot be summed. A global
 * function: the verifier checks it once on its own rather than on every path of its caller.
 */
__noinline __u64 xlb_csum_span(struct xdp_md *ctx, __u32 off, __u32 len)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u64 sum = 0;

	if (csum_span(data, end, off, len, &sum))
		return ~0ULL;
	return sum;
}

static __always_inline bool icmp_csum_ok(struct xdp_md *ctx, const struct xlb_pkt *p)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u64 part;
	__u32 len = p->l3_off + p->l3_len - p->l4_off;
	__u64 sum = 0;

	if (p->key.family == XLB_AF_INET6) {
		struct ipv6hdr *ip6 = data + ETH_HLEN_;

		if (p->l3_off != ETH_HLEN_)
			ip6 = data + ETH_HLEN_ + VLAN_HLEN_;
		if ((void *)(ip6 + 1) > end)
			return false;
		sum = (__u32)bpf_csum_diff(NULL, 0, (void *)&ip6->saddr, 32, 0);
		sum += bpf_htonl(len);
		sum += bpf_htonl(IPPROTO_ICMPV6_);
	}
	part = xlb_csum_span(ctx, p->l4_off, len);
	if (part == ~0ULL)
		return false;
	return csum_fold64(sum + part) == 0;
}

/*
 * Quoted bytes of the packet in a generated too-big error. Constant sizes keep the checksum a
 * single bpf_csum_diff() over verified bytes; every packet too big for an MTU of 576 (IPv4) or
 * 1280 (IPv6) is longer, and RFC 792/4443 ask for at least the IP header + 8 bytes.
 */
#define ICMP4_QUOTE 128
#define ICMP6_QUOTE 256

/*
 * bogus_source() - addresses no ICMP error may be sent to (RFC 1122 3.2.2, RFC 4443 2.4(e)):
 * IPv4 0/8, 127/8, multicast 224/4 and class E 240/4 (255.255.255.255 included); IPv6 ::, ::1,
 * multicast ff00::/8, link-local fe80::/10; and the VIP itself (a forged source).
 */
static __always_inline bool bogus_source(const struct xlb_pkt *p)
{
	const __be32 *s = p->key.src, *d = p->key.dst;

	if (p->key.family == XLB_AF_INET) {
		__u8 a = *(const __u8 *)s;

		return a == 0 || a == 127 || a >= 224 || s[0] == d[0];
	}
	{
		__u8 a = *(const __u8 *)s, b = ((const __u8 *)s)[1];

		if (a == 0xff || (a == 0xfe && (b & 0xc0) == 0x80))
			return true;
		if (!(s[0] | s[1] | s[2]) && (!s[3] || s[3] == bpf_htonl(1)))
			return true;
		return !((s[0] ^ d[0]) | (s[1] ^ d[1]) | (s[2] ^ d[2]) | (s[3] ^ d[3]));
	}
}

/*
 * icmp_allows() - take a token from this CPU's too-big reply bucket: icmp_rate per second,
 * icmp_burst deep (0 = the defaults). The credit is kept in nanoseconds of refill, so one token
 * costs 1 s / rate and the bucket holds burst of them; a bucket never used starts full.
 */
static __always_inline bool icmp_allows(const struct xlb_config *cfg)
{
	__u32 rate = cfg->icmp_rate ? cfg->icmp_rate : XLB_ICMP_RATE_DEFAULT;
	__u32 burst = cfg->icmp_burst ? cfg->icmp_burst : XLB_ICMP_BURST_DEFAULT;
	struct xlb_icmp_bucket *b;
	__u64 now, cost, cap, credit;
	__u32 zero = 0;

	b = bpf_map_lookup_elem(&xlb_icmp_bucket, &zero);
	if (!b)
		return false;
	now = bpf_ktime_get_ns();
	cost = 1000000000ULL / rate;
	cap = cost * burst;
	credit = b->credit + (now - b->last);
	if (credit > cap || now < b->last)
		credit = cap;
	b->last = now;
	if (credit < cost) {
		b->credit = credit;
		return false;
	}
	b->credit = credit - cost;
	return true;
}

/*
 * reply_too_big() - turn a packet that is too big after encapsulation into an ICMP "fragmentation
 * needed" (IPv4) or ICMPv6 "packet too big" sent back to the client from the VIP, advertising
 * @mtu (what the inner packet may be). The quote is the packet's first ICMP{4,6}_QUOTE bytes.
 * The source MAC is @smac (the interface's own), else the MAC the packet was sent to.
 * Returns XLB_R_TX_ICMP_TOO_BIG (the reply is ready); 0 if this packet must not or cannot be
 * answered (IPv4 without DF, a later fragment, an ICMP error itself, shorter than the quote, a
 * bogus client source address or a group source MAC (counted icmp_too_big_refused), the rate
 * limit (icmp_too_big_limited)): nothing was changed and the caller's pass/drop policy goes on;
 * or XLB_R_DROP_ENCAP if resizing failed half-way. Frames sent to a group MAC never get here
 * (pass_group_mac).
 */
static __always_inline int reply_too_big(struct xdp_md *ctx, const struct xlb_pkt *p, __u32 mtu,
					 const struct xlb_config *cfg, const __u8 *smac)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	bool v6 = p->key.family == XLB_AF_INET6;
	__u32 off = p->l3_off, quote = v6 ? ICMP6_QUOTE : ICMP4_QUOTE;
	__u32 grow = v6 ? 48 : 28, len = end - data;
	struct ethhdr *eth = data;
	__u8 mac[12];
	__be16 tci = 0;
	__u64 sum;
	void *l3;
	int rc;

	if (p->icmp || p->frag == FRAG_LATER || (!v6 && !p->df) || p->l3_len < quote)
		return 0;
	if ((void *)(eth + 1) > end)
		return 0;
	if (bogus_source(p) || (eth->h_source[0] & 1)) {
		stats_reason(XLB_R_EV_ICMP_BOGUS, len);
		return 0;
	}
	if (!icmp_allows(cfg)) {
		stats_reason(XLB_R_EV_ICMP_LIMIT, len);
		return 0;
	}
	__builtin_memcpy(mac, eth->h_source, 6);	/* new destination: the client's side */
	if (smac)
		__builtin_memcpy(mac + 6, smac, 6);
	else
		__builtin_memcpy(mac + 6, eth->h_dest, 6);
	if (off != ETH_HLEN_) {
		struct vlan_hdr *vh = (void *)(eth + 1);

		if ((void *)(vh + 1) > end)
			return 0;
		tci = vh->h_vlan_TCI;
		off = ETH_HLEN_ + VLAN_HLEN_;
	}
	/* [l2][ip][icmp][first quote bytes of the original packet] */
	if (bpf_xdp_adjust_head(ctx, -(int)grow))
		return XLB_R_DROP_ENCAP;
	if (bpf_xdp_adjust_tail(ctx, (int)(off + grow + quote) - (int)(len + grow)))
		return XLB_R_DROP_ENCAP;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	rc = write_l2(data, end, off, mac, mac + 6, tci, v6 ? ETH_P_IPV6_ : ETH_P_IP_);
	if (rc)
		return rc;
	l3 = data + off;
	if (v6) {
		struct ipv6hdr *ip6 = l3;
		__u8 *icmp = (void *)(ip6 + 1);

		if ((void *)(icmp + 8 + ICMP6_QUOTE) > end)
			return XLB_R_DROP_ENCAP;
		*(__be32 *)ip6 = bpf_htonl(0x60000000);
		ip6->payload_len = bpf_htons(8 + ICMP6_QUOTE);
		ip6->nexthdr = IPPROTO_ICMPV6_;
		ip6->hop_limit = 64;
		__builtin_memcpy(&ip6->saddr, p->key.dst, 16);
		__builtin_memcpy(&ip6->daddr, p->key.src, 16);
		icmp[0] = ICMPV6_PKT_TOOBIG_;
		icmp[1] = 0;
		*(__u16 *)(icmp + 2) = 0;
		*(__be32 *)(icmp + 4) = bpf_htonl(mtu);
		sum = (__u32)bpf_csum_diff(NULL, 0, (void *)&ip6->saddr, 32, 0);
		sum += (__u32)bpf_csum_diff(NULL, 0, (void *)icmp, 8 + ICMP6_QUOTE, 0);
		sum += bpf_htonl(8 + ICMP6_QUOTE);
		sum += bpf_htonl(IPPROTO_ICMPV6_);
		*(__u16 *)(icmp + 2) = csum_fold64(sum);
	} else {
		struct iphdr *iph = l3, ip = {};
		__u8 *icmp = (void *)(iph + 1);

		if ((void *)(icmp + 8 + ICMP4_QUOTE) > end)
			return XLB_R_DROP_ENCAP;
		ip.version = 4;
		ip.ihl = 5;
		ip.tos = 0xc0;	/* internetwork control, as the kernel sends its ICMP errors */
		ip.tot_len = bpf_htons(20 + 8 + ICMP4_QUOTE);
		ip.ttl = 64;
		ip.protocol = IPPROTO_ICMP_;
		ip.saddr = p->key.dst[0];
		ip.daddr = p->key.src[0];
		ip.check = csum_ipv4_hdr(&ip);
		*iph = ip;
		icmp[0] = ICMP_DEST_UNREACH_;
		icmp[1] = ICMP_FRAG_NEEDED_;
		*(__u16 *)(icmp + 2) = 0;
		*(__be16 *)(icmp + 4) = 0;
		*(__be16 *)(icmp + 6) = bpf_htons(mtu > 0xffff ? 0xffff : mtu);
		sum = (__u32)bpf_csum_diff(NULL, 0, (void *)icmp, 8 + ICMP4_QUOTE, 0);
		*(__u16 *)(icmp + 2) = csum_fold64(sum);
	}
	return XLB_R_TX_ICMP_TOO_BIG;
}

#endif /* XLB_ICMP_H */
