/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* ICMP "fragmentation needed" and ICMPv6 "packet too big": the flow they quote, reversed. */
#ifndef XLB_ICMP_H
#define XLB_ICMP_H

#include "parse.h"

#define ICMP_DEST_UNREACH_ 3
#define ICMP_FRAG_NEEDED_ 4
#define ICMPV6_PKT_TOOBIG_ 2

/*
 * parse_icmp_error() - if the ICMP(v6) message at p->l4_off is a PMTU error quoting a TCP or
 * UDP packet, replace p->key by the quoted flow reversed. The quoted packet went VIP -> client
 * (a backend's reply), so the reversed key client -> VIP is the key of the flow that owns it.
 * Anything else returns -XLB_R_PASS_ICMP: the host handles it as usual.
 */
static __always_inline int parse_icmp_error(void *data, void *end, struct xlb_pkt *p)
{
	__u8 *icmp = data + p->l4_off;
	__u16 *ports;

	if (p->frag)
		return -XLB_R_PASS_FRAG;
	if ((void *)(icmp + 8) > end)
		return -XLB_R_PASS_ICMP;
	if (p->key.family == XLB_AF_INET) {
		struct iphdr *in = (void *)(icmp + 8);

		if (p->key.proto != IPPROTO_ICMP_ || icmp[0] != ICMP_DEST_UNREACH_ ||
		    icmp[1] != ICMP_FRAG_NEEDED_)
			return -XLB_R_PASS_ICMP;
		if ((void *)(in + 1) > end || in->version != 4 || in->ihl < 5)
			return -XLB_R_PASS_ICMP;
		if (in->protocol != IPPROTO_TCP_ && in->protocol != IPPROTO_UDP_)
			return -XLB_R_PASS_ICMP;
		if (bpf_ntohs(in->frag_off) & IP_OFFMASK_)
			return -XLB_R_PASS_ICMP;
		ports = (void *)in + in->ihl * 4;
		if ((void *)(ports + 2) > end)
			return -XLB_R_PASS_ICMP;
		p->key.src[0] = in->daddr;
		p->key.dst[0] = in->saddr;
		p->key.proto = in->protocol;
	} else {
		struct ipv6hdr *in = (void *)(icmp + 8);

		if (p->key.proto != IPPROTO_ICMPV6_ || icmp[0] != ICMPV6_PKT_TOOBIG_)
			return -XLB_R_PASS_ICMP;
		if ((void *)(in + 1) > end || in->version != 6)
			return -XLB_R_PASS_ICMP;
		if (in->nexthdr != IPPROTO_TCP_ && in->nexthdr != IPPROTO_UDP_)
			return -XLB_R_PASS_ICMP;
		ports = (void *)(in + 1);
		if ((void *)(ports + 2) > end)
			return -XLB_R_PASS_ICMP;
		__builtin_memcpy(p->key.src, &in->daddr, 16);
		__builtin_memcpy(p->key.dst, &in->saddr, 16);
		p->key.proto = in->nexthdr;
	}
	p->key.sport = ports[1];
	p->key.dport = ports[0];
	p->icmp = 1;
	return 0;
}

#endif /* XLB_ICMP_H */
