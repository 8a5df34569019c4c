// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Counting sink: counts frames per outer (and inner, if encapsulated) destination, then drops. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xlb_abi.h"
#include "xlb_sink.h"

/*
 * Benchmarks and end-to-end tests attach this on the interface that receives what the balancer
 * sends (a backend, or the next hop). Each frame is counted under its outer destination address
 * and protocol; IPIP, IPv6-in-IP and GUE frames are also counted under their inner destination,
 * so a test can see both where a packet was sent and that the VIP packet inside is intact.
 */

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define IPPROTO_IPIP 4
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_IPV6 41
#define IP_OFFSET 0x1fff

/* Verdict after counting: XDP_DROP by default, XDP_PASS with `sink --pass`. */
const volatile __u32 verdict = XDP_DROP;
/* Outer UDP destination port (host order) recognised as GUE. */
const volatile __u16 gue_port = XLB_GUE_PORT_DEFAULT;

/* Frames per outer destination {address, protocol, UDP port}. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, XLB_SINK_MAX_KEYS);
	__type(key, struct xlb_sink_key);
	__type(value, struct xlb_sink_counters);
} xlb_sink_outer SEC(".maps");

/* Encapsulated frames per inner destination {address, protocol, TCP/UDP port}. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, XLB_SINK_MAX_KEYS);
	__type(key, struct xlb_sink_key);
	__type(value, struct xlb_sink_counters);
} xlb_sink_inner SEC(".maps");

static __always_inline void bump(void *map, struct xlb_sink_key *k, __u64 bytes)
{
	struct xlb_sink_counters *c, init = { 1, bytes };

	c = bpf_map_lookup_elem(map, k);
	if (!c && !bpf_map_update_elem(map, k, &init, BPF_NOEXIST))
		return;
	/* Another CPU may have inserted the key between our lookup and update: count it there. */
	if (!c)
		c = bpf_map_lookup_elem(map, k);
	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

/*
 * parse_ip - fill @k from the IP header at @l3 (@family 4 or 6). Returns the offset of the L4
 * header from @l3, or -1 if the header is truncated or not IP. Sets @l4ok when the L4 header
 * is the first fragment (ports are meaningful).
 */
static __always_inline int parse_ip(void *l3, void *data_end, int family, struct xlb_sink_key *k,
				    int *l4ok)
{
	*l4ok = 0;
	if (family == 4) {
		struct iphdr *ip = l3;

		if ((void *)(ip + 1) > data_end || ip->version != 4 || ip->ihl < 5)
			return -1;
		k->family = 4;
		k->proto = ip->protocol;
		k->addr[0] = ip->daddr;
		*l4ok = !(ip->frag_off & bpf_htons(IP_OFFSET));
		return (ip->ihl * 4) & 0x3f;
	}
	if (family == 6) {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) > data_end || ip6->version != 6)
			return -1;
		k->family = 6;
		k->proto = ip6->nexthdr;
		__builtin_memcpy(k->addr, &ip6->daddr, sizeof(k->addr));
		*l4ok = 1;
		return sizeof(*ip6);
	}
	return -1;
}

static __always_inline __u16 l4_dport(void *l4, void *data_end)
{
	struct udphdr *udp = l4;	/* TCP and UDP both start with the two ports */

	if ((void *)(udp + 1) > data_end)
		return 0;
	return bpf_ntohs(udp->dest);
}

SEC("xdp")
int xlb_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = data_end - data;
	struct xlb_sink_key outer = {}, inner = {};
	struct ethhdr *eth = data;
	void *l3 = data + sizeof(*eth);
	int off, l4ok, family = 0, inner_family = 0;
	__u16 type;

	if (l3 > data_end)
		goto out_other;
	type = eth->h_proto;
	if (type == bpf_htons(ETH_P_8021Q) || type == bpf_htons(ETH_P_8021AD)) {
		struct vlan_hdr *vh = l3;

		if ((void *)(vh + 1) > data_end)
			goto out_other;
		type = vh->h_vlan_encapsulated_proto;
		l3 += sizeof(*vh);
	}
	if (type == bpf_htons(ETH_P_IP))
		family = 4;
	else if (type == bpf_htons(ETH_P_IPV6))
		family = 6;

	off = parse_ip(l3, data_end, family, &outer, &l4ok);
	if (off < 0)
		goto out_other;

	switch (outer.proto) {
	case IPPROTO_IPIP:
		inner_family = 4;
		break;
	case IPPROTO_IPV6:
		inner_family = 6;
		break;
	case IPPROTO_UDP:
		if (!l4ok)
			break;
		outer.dport = l4_dport(l3 + off, data_end);
		if (outer.dport == gue_port) {
			__u8 *v = l3 + off + sizeof(struct udphdr);

			off += sizeof(struct udphdr);
			if ((void *)(v + 1) <= data_end)
				inner_family = *v >> 4;
		}
		break;
	}
	bump(&xlb_sink_outer, &outer, bytes);

	if (inner_family) {
		void *in = l3 + off;

		off = parse_ip(in, data_end, inner_family, &inner, &l4ok);
		if (off >= 0) {
			if (l4ok && (inner.proto == IPPROTO_TCP || inner.proto == IPPROTO_UDP))
				inner.dport = l4_dport(in + off, data_end);
			bump(&xlb_sink_inner, &inner, bytes);
		}
	}
	return verdict;

out_other:
	outer.family = 0;
	bump(&xlb_sink_outer, &outer, bytes);
	return verdict;
}

/*
 * A veth only receives frames that its peer sends with XDP_TX / XDP_REDIRECT while it runs
 * NAPI, which it does when an XDP program is attached (GRO alone proved lossy on this kernel).
 * `sink --attach-pass` leaves this program on a next hop's veth for exactly that purpose.
 */
SEC("xdp")
int xlb_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/*
 * The ceiling of a forwarding benchmark: sends every frame back out as it came, doing nothing
 * else, in place of the balancer on the same veth (`sink --attach-tx`).
 */
SEC("xdp")
int xlb_tx(struct xdp_md *ctx)
{
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
