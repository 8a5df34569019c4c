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
 * - Fragments: every fragment of a datagram, the first included, is hashed on addresses and
 *   protocol only (ports zeroed) and never recorded in the flow table, so the whole datagram
 *   reaches one backend. The first fragment matches its {addr, port, proto} VIP and falls back
 *   to {addr, 0, proto}; a later fragment carries no ports and matches only an all-ports VIP.
 *   No match: XDP_PASS untouched, pass_frag.
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

static __always_inline int balance(struct xdp_md *ctx, __u64 bytes, struct xlb_pkt *p)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct xlb_backend *be = NULL;
	const struct xlb_config *cfg;
	struct xlb_vip_key vk = {};
	__u32 zero = 0, new_flow = 0, hash, vip_id;
	struct xlb_vip_meta *meta;
	struct xlb_vip *vip;
	const __u8 *smac;
	__u32 bit;
	int rc, id;
	__u8 mode;

	rc = parse_eth(data, end, p);
	if (rc < 0)
		return -rc;
	if (rc == ETH_P_IP_)
		rc = parse_ipv4(data, end, p->l3_off, p);
	else
		rc = parse_ipv6(data, end, p->l3_off, p);
	if (rc < 0)
		return -rc;

	if (p->key.proto == IPPROTO_TCP_ || p->key.proto == IPPROTO_UDP_)
		rc = parse_ports(data, end, p);
	else if (p->key.proto == IPPROTO_ICMP_ || p->key.proto == IPPROTO_ICMPV6_)
		rc = parse_icmp_error(data, end, p);
	else
		rc = p->frag ? -XLB_R_PASS_FRAG : -XLB_R_PASS_L4;
	if (rc < 0)
		return -rc;

	/* an address no VIP has (one inlined array read) is the host's: no hash lookup at all */
	meta = bpf_map_lookup_elem(&xlb_vip_meta, &zero);
	if (!meta)
		return XLB_R_DROP_NO_CONFIG;
	bit = xlb_vip_filter_bit(p->key.dst);
	if (!(meta->addr_filter[(bit >> 6) & 63] & (1ULL << (bit & 63))))
		goto not_vip;
	__builtin_memcpy(vk.addr, p->key.dst, sizeof(vk.addr));
	vk.port = p->key.dport;
	vk.proto = p->key.proto;
	vk.family = p->key.family;
	vip = NULL;
	if (p->frag != FRAG_LATER)
		vip = bpf_map_lookup_elem(&xlb_vips, &vk);
	if (!vip && (meta->all_ports & xlb_all_ports_bit(vk.family, vk.proto))) {
		/* the all-ports fallback only where such VIPs exist */
		vk.port = 0;
		vip = bpf_map_lookup_elem(&xlb_vips, &vk);
	}
	if (!vip)
		goto not_vip;

	/* A VIP matched: only now is the config needed, and only now are the checks made. */
	vip_id = vip->id;
	p->vip_id = vip_id;
	p->has_vip = 1;
	mode = vip->mode;
	if (p->icmp && !icmp_csum_ok(ctx, p))
		return XLB_R_PASS_ICMP;	/* not a valid error: as if not for a VIP */
	rc = vet_vip_packet(data, end, p);
	if (rc)
		goto out;
	cfg = bpf_map_lookup_elem(&xlb_config, &zero);
	if (!cfg) {
		rc = XLB_R_DROP_NO_CONFIG;
		goto out;
	}
	if (p->frag) {
		p->key.sport = 0;
		p->key.dport = 0;
	}
	hash = p->hash = xlb_flow_hash(&p->key, vip->flags & XLB_VIP_F_HASH_SRC, cfg->hash_seed);
	id = pick_backend(p, vip, cfg, hash, &be, &new_flow, bytes);
	if (id < 0 || !be) {
		rc = id < 0 ? -id : XLB_R_DROP_NO_BACKEND;
		/* the VIP's policy: the host may answer for it (a sorry server, a local copy) */
		if (rc == XLB_R_DROP_NO_BACKEND && (vip->flags & XLB_VIP_F_PASS_NO_BACKEND))
			rc = XLB_R_PASS_NO_BACKEND;
		goto out;
	}
	p->backend_id = id;
	smac = own_mac(ctx);
	if (mode == XLB_MODE_L2) {
		rc = forward_l2(ctx, be, smac);
	} else {
		__u32 mtu = cfg->mtu ? cfg->mtu : 1500;

		if (p->l3_len + encap_len(be->family, mode) > mtu) {
			rc = REPLY_NONE;
			if (cfg->flags & XLB_CFG_F_ICMP_TOO_BIG)
				rc = reply_too_big(ctx, p, mtu - encap_len(be->family, mode), cfg,
						   smac);
			if (rc == REPLY_NONE)
				rc = (cfg->flags & XLB_CFG_F_PASS_TOO_BIG) ? XLB_R_PASS_TOO_BIG :
									     XLB_R_DROP_TOO_BIG;
			else if (rc < 0)
				rc = -rc;
			goto out;
		}
		rc = forward_encap(ctx, p, be, cfg, mode, hash, smac);
	}
	if (rc < 0) {
		rc = -rc;
		goto out;
	}
	if (p->icmp)
		stats_reason(XLB_R_EV_ICMP, bytes);
	stats_add(&xlb_stats_backend, id, bytes, new_flow);
out:
	stats_add(&xlb_stats_vip, vip_id, bytes, new_flow);
	return rc;
not_vip:
	return p->icmp ? XLB_R_PASS_ICMP : p->frag ? XLB_R_PASS_FRAG : XLB_R_PASS_NOT_VIP;
}

SEC("xdp")
int xlb_balancer(struct xdp_md *ctx)
{
	__u64 bytes = ctx->data_end - ctx->data;
	struct xlb_pkt p = {};
	__u32 reason = balance(ctx, bytes, &p);

	stats_reason(reason, bytes);
	monitor_packet(ctx, &p, reason, bytes);
	if (reason == XLB_R_TX || reason == XLB_R_TX_ICMP_TOO_BIG)
		return XDP_TX;
	if (reason < XLB_R_DROP_MALFORMED)
		return XDP_PASS;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
