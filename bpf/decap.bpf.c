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
 * untouched. Untagged Ethernet only. Unlike the kernel's tunnels this does not copy an outer ECN
 * "congestion experienced" mark into the inner header (RFC 6040): the balancer never sets one,
 * but a congested router between it and the backend could.
 */

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_IPIP 4
#define IPPROTO_IPV6 41
#define IPPROTO_UDP 17
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

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
	__u8 proto;

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
	return count(ctx, ok, bytes);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
