// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Backend-side XDP decapsulation: strips the outer IP (or IP+UDP GUE) header xlb added. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xlb_abi.h"
#include "xlb_decap.h"

/*
 * The backends of an IPIP or GUE VIP normally decapsulate with the kernel's ipip/ip6_tunnel/fou
 * modules. Where those are missing (as on our test hosts) this program does the same job on the
 * backend's interface: it removes the outer header with bpf_xdp_adjust_head, rewrites the
 * Ethernet type for the inner family and returns XDP_PASS, so the kernel receives the inner
 * packet as if it had arrived unencapsulated (addressed to the VIP, which the backend holds on
 * its loopback). The outer header is not checked against the host's addresses: whoever can
 * reach the interface can already send the inner packet directly.
 *
 * Everything else, including anything that only looks encapsulated but is truncated, is passed
 * untouched. Untagged Ethernet only. As the kernel's tunnels do (RFC 6040), a "congestion
 * experienced" mark on the outer header is copied to an ECN-capable inner packet; an inner
 * packet that is not ECN-capable is passed as it is (the kernel would drop it).
 */

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_IPIP 4
#define IPPROTO_IPV6 41
#define IPPROTO_UDP 17
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
#define ECN_MASK 3		/* the ECN bits of the IPv4 TOS / IPv6 traffic class */
#define ECN_CE 3

/* Outer UDP destination port (host order) that marks GUE; set by the loader before load. */
const volatile __u16 gue_port = XLB_GUE_PORT_DEFAULT;

/* Packets and bytes per outcome (enum xlb_decap_outcome); read by `xlb-decap --stats`. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_DECAP__MAX);
	__type(key, __u32);
	__type(value, struct xlb_decap_counters);
} xlb_decap_stats SEC(".maps");

static __always_inline int count(struct xdp_md *ctx, __u32 outcome, __u64 bytes)
{
	struct xlb_decap_counters *c = bpf_map_lookup_elem(&xlb_decap_stats, &outcome);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
	return XDP_PASS;
}

/*
 * inner_ok - the inner header right after the outer one has the expected IP version and fits.
 * Returns the Ethernet type of the inner packet, or 0.
 */
/* ecn_set_ce - mark the inner IP header at @l3 "congestion experienced" if it is ECN-capable */
static __always_inline void ecn_set_ce(void *l3, void *data_end, __u16 type)
{
	if (type == ETH_P_IP) {
		struct iphdr *ip = l3;
		__u8 first, tos;
		__u16 old, new;
		__u32 sum;

		if ((void *)(ip + 1) > data_end || !(ip->tos & ECN_MASK) ||
		    (ip->tos & ECN_MASK) == ECN_CE)
			return;
		/*
		 * RFC 1624 incremental update of the header checksum, HC' = ~(~HC + ~m + m'), over
		 * the first 16-bit word (version/IHL, TOS), built from its bytes: reading it through
		 * a __u16 pointer would alias the __u8 fields and let the compiler reuse a stale load.
		 */
		first = *(__u8 *)ip;
		tos = ip->tos;
		old = bpf_htons((__u16)first << 8 | tos);
		new = bpf_htons((__u16)first << 8 | (tos | ECN_CE));
		ip->tos = tos | ECN_CE;
		sum = (__u16)~ip->check + (__u16)~old + new;
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		ip->check = ~sum;
	} else {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) > data_end || !(ip6->flow_lbl[0] & (ECN_MASK << 4)))
			return;
		ip6->flow_lbl[0] |= ECN_CE << 4;
	}
}

static __always_inline __u16 inner_ok(void *inner, void *data_end, __u8 proto)
{
	__u8 version;

	if (inner + 1 > data_end)
		return 0;
	version = *(__u8 *)inner >> 4;
	if (proto == IPPROTO_IPIP || (proto == 0 && version == 4)) {
		if (version != 4 || inner + sizeof(struct iphdr) > data_end)
			return 0;
		return ETH_P_IP;
	}
	if (proto == IPPROTO_IPV6 || (proto == 0 && version == 6)) {
		if (version != 6 || inner + sizeof(struct ipv6hdr) > data_end)
			return 0;
		return ETH_P_IPV6;
	}
	return 0;
}

SEC("xdp")
int xlb_decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = data_end - data;
	struct ethhdr *eth = data, eth_copy;
	void *l3 = data + sizeof(*eth);
	__u32 outer_len, ok;
	__u16 inner_type;
	__u8 proto, outer_ecn;

	if (l3 > data_end)
		return count(ctx, XLB_DECAP_PASS_MALFORMED, bytes);

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;

		if ((void *)(ip + 1) > data_end || ip->version != 4 || ip->ihl < 5)
			return count(ctx, XLB_DECAP_PASS_MALFORMED, bytes);
		proto = ip->protocol;
		if (proto != IPPROTO_IPIP && proto != IPPROTO_IPV6 && proto != IPPROTO_UDP)
			return count(ctx, XLB_DECAP_PASS_PLAIN, bytes);
		if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
			return count(ctx, XLB_DECAP_PASS_FRAG, bytes);
		outer_len = ip->ihl * 4;
		outer_ecn = ip->tos & ECN_MASK;
		ok = proto == IPPROTO_IPIP ? XLB_DECAP_OK_4IN4 :
		     proto == IPPROTO_IPV6 ? XLB_DECAP_OK_6IN4 : XLB_DECAP_OK_GUE4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) > data_end || ip6->version != 6)
			return count(ctx, XLB_DECAP_PASS_MALFORMED, bytes);
		proto = ip6->nexthdr;
		if (proto != IPPROTO_IPIP && proto != IPPROTO_IPV6 && proto != IPPROTO_UDP)
			return count(ctx, XLB_DECAP_PASS_PLAIN, bytes);
		outer_len = sizeof(*ip6);
		outer_ecn = (ip6->flow_lbl[0] >> 4) & ECN_MASK;
		ok = proto == IPPROTO_IPIP ? XLB_DECAP_OK_4IN6 :
		     proto == IPPROTO_IPV6 ? XLB_DECAP_OK_6IN6 : XLB_DECAP_OK_GUE6;
	} else {
		return count(ctx, XLB_DECAP_PASS_NOT_IP, bytes);
	}

	/* IHL is at most 60 bytes; the mask lets the verifier bound the pointer arithmetic. */
	outer_len &= 0x3f;
	if (proto == IPPROTO_UDP) {
		struct udphdr *udp = l3 + outer_len;

		if ((void *)(udp + 1) > data_end)
			return count(ctx, XLB_DECAP_PASS_MALFORMED, bytes);
		if (udp->dest != bpf_htons(gue_port))
			return count(ctx, XLB_DECAP_PASS_PLAIN, bytes);
		outer_len += sizeof(*udp);
		proto = 0;	/* GUE variant 1: the IP version nibble says what follows */
	}

	inner_type = inner_ok(l3 + outer_len, data_end, proto);
	if (!inner_type)
		return count(ctx, XLB_DECAP_PASS_MALFORMED, bytes);

	__builtin_memcpy(&eth_copy, eth, sizeof(eth_copy));
	eth_copy.h_proto = bpf_htons(inner_type);
	if (bpf_xdp_adjust_head(ctx, outer_len))
		return count(ctx, XLB_DECAP_PASS_ADJUST, bytes);

	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)	/* cannot happen: the inner header was checked */
		return count(ctx, XLB_DECAP_PASS_MALFORMED, bytes);
	__builtin_memcpy(eth, &eth_copy, sizeof(*eth));
	if (outer_ecn == ECN_CE)
		ecn_set_ce(eth + 1, data_end, inner_type);
	return count(ctx, ok, bytes);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
