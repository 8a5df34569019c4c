/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What a packet for a VIP must pass to be balanced: unicast MAC, IPv4 checksum, no source route. */
#ifndef XLB_VET_H
#define XLB_VET_H

#include "parse.h"
#include "csum.h"

#define IPOPT_END_ 0
#define IPOPT_NOOP_ 1
#define IPOPT_LSRR_ 0x83
#define IPOPT_SSRR_ 0x89
#define IPV4_OPT_MAX 40

/* The IPv4 options of a packet, copied to the stack, and where a walk over them is. */
struct opt_walk {
	__u32 w[IPV4_OPT_MAX / 4];	/* the option bytes (zero beyond olen) */
	__u32 i;		/* offset of the next option */
	__u32 olen;		/* option bytes: IHL * 4 - 20 */
	int rc;			/* 0, XLB_R_PASS_SRC_ROUTE or XLB_R_DROP_MALFORMED */
};

/*
 * One step of the option walk (a bpf_loop() callback: the verifier checks one step, not the 40
 * a walk may take through every path). Returns 1 to stop.
 */
static long opt_step(__u32 idx, void *arg)
{
	struct opt_walk *ow = arg;
	__u8 *b = (__u8 *)ow->w, type, len;
	__u32 i = ow->i;

	if (i >= ow->olen || i >= IPV4_OPT_MAX - 1) {
		/* the last byte of 40 can only be END or NOP */
		if (i == IPV4_OPT_MAX - 1 && i < ow->olen && b[IPV4_OPT_MAX - 1] > IPOPT_NOOP_)
			ow->rc = XLB_R_DROP_MALFORMED;
		return 1;
	}
	type = b[i];
	if (type == IPOPT_END_)
		return 1;
	if (type == IPOPT_NOOP_) {
		ow->i = i + 1;
		return 0;
	}
	len = b[i + 1];
	if (len < 2 || i + len > ow->olen) {
		ow->rc = XLB_R_DROP_MALFORMED;
		return 1;
	}
	if (type == IPOPT_LSRR_ || type == IPOPT_SSRR_) {
		ow->rc = XLB_R_PASS_SRC_ROUTE;
		return 1;
	}
	ow->i = i + len;
	return 0;
}

/*
 * The options of an IPv4 header (@olen bytes, @sum the sum of its first 20): checksum, then the
 * walk. Kept out of the common path: packets without options never touch its stack.
 */
static __always_inline int vet_ipv4_options(struct iphdr *iph, void *end, __u32 olen, __u64 sum)
{
	struct opt_walk ow = { .olen = olen };
	__u32 *w = (__u32 *)iph;

	for (int k = 0; k < IPV4_OPT_MAX / 4; k++) {
		__u32 *opt = w + 5 + k;

		if (k * 4 >= ow.olen)
			break;
		if ((void *)(opt + 1) > end)
			return XLB_R_DROP_MALFORMED;
		ow.w[k] = *opt;
		sum += *opt;
	}
	if (csum_fold64(sum))
		return XLB_R_DROP_IP_CSUM;
	bpf_loop(IPV4_OPT_MAX, opt_step, &ow, 0);
	return ow.rc;
}

/*
 * vet_vip_packet() - the checks a packet whose destination matched a VIP passes before it is
 * balanced, run only then so that the host's own traffic pays nothing for them (the kernel
 * applies its own). Returns 0, or the reason of the packet's verdict:
 *
 * - XLB_R_PASS_GROUP_MAC: sent to a broadcast or multicast MAC (the I/G bit); a VIP's traffic
 *   arrives at our own unicast MAC, a group frame is the host's to judge (and never gets a
 *   too-big reply).
 * - XLB_R_DROP_IP_CSUM: the IPv4 header checksum (over the options too) does not verify; the
 *   kernel would drop it as well (ip_rcv_core).
 * - XLB_R_PASS_SRC_ROUTE: IPv4 loose/strict source route option, or (flagged by parse_ipv6) an
 *   IPv6 routing header with segments left: the destination is a waypoint, not the final
 *   destination; the host applies its rules (accept_source_route, off by default, drops it).
 * - XLB_R_DROP_MALFORMED: IPv4 options that do not parse (length < 2 or beyond the header), as
 *   the kernel's ip_options_compile() refuses them.
 */
static __always_inline int vet_vip_packet(void *data, void *end, const struct xlb_pkt *p)
{
	struct iphdr *iph = data + ETH_HLEN_;
	__u32 hlen;
	__u32 *w;
	__u64 sum;

	/*
	 * The parser proved these bytes lie in the frame, and clang drops checks it can prove; the
	 * verifier must see them: hide that knowledge from clang.
	 */
	asm volatile("" : "+r"(end));
	if (data + ETH_HLEN_ > end)
		return XLB_R_DROP_MALFORMED;
	if (*(__u8 *)data & 1)
		return XLB_R_PASS_GROUP_MAC;
	if (p->key.family == XLB_AF_INET6)
		return p->srcroute ? XLB_R_PASS_SRC_ROUTE : 0;
	if (p->l3_off != ETH_HLEN_)
		iph = data + ETH_HLEN_ + VLAN_HLEN_;
	if ((void *)(iph + 1) > end)
		return XLB_R_DROP_MALFORMED;
	w = (__u32 *)iph;
	sum = (__u64)w[0] + w[1] + w[2] + w[3] + w[4];
	hlen = iph->ihl * 4;
	if (hlen == 20) {
		if (csum_fold64(sum))
			return XLB_R_DROP_IP_CSUM;
		return 0;
	}
	return vet_ipv4_options(iph, end, hlen - 20, sum);
}
#endif /* XLB_VET_H */
