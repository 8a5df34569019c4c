// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Datapath scenarios, parsing: frames not for a VIP (other addresses, ports, protocols, ARP)
 * pass untouched, malformed ones are dropped where the kernel drops them too, IPv6 extension
 * headers, what the kernel would refuse (IPv4 checksums, source routes), the address filter,
 * the decision monitor's records of the host's packets (decided early, see parse_packet()).
 * Each scenario starts from a freshly loaded balancer (fixture.c) in a process of its own.
 */
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "fixture.h"

/* not for a VIP: untouched */
static const struct tcase not_vip[] = {
	{ "non-vip v4 tcp", V4(.dst = "198.18.0.99", TCP(30)), XLB_R_PASS_NOT_VIP },
	{ "non-vip v4 udp", V4(.dst = "198.18.0.99", UDP(31)), XLB_R_PASS_NOT_VIP },
	{ "non-vip v6 tcp", V6(.dst = "2001:db8::99", TCP(32)), XLB_R_PASS_NOT_VIP },
	{ "vip address, other port", V4(.dst = "198.18.0.10", .proto = 6, .sport = 1, .dport = 81), XLB_R_PASS_NOT_VIP },
	{ "vip address, other protocol (udp to tcp port)", V4(.dst = "198.18.0.30", .proto = 17, .sport = 1, .dport = 80), XLB_R_PASS_NOT_VIP },
	{ "vip address v6, other port", V6(.dst = "2001:db8::10", .proto = 17, .sport = 1, .dport = 54), XLB_R_PASS_NOT_VIP },
	{ "non-vip vlan v4", V4(.dst = "198.18.0.99", TCP(33), .vlan = 5), XLB_R_PASS_NOT_VIP },
	{ "arp", { .family = 0 }, XLB_R_PASS_NOT_IP },
	{ "arp vlan", { .family = 0, .vlan = 3 }, XLB_R_PASS_NOT_IP },
	{ "sctp to vip address", V4(.dst = "198.18.0.10", .proto = 132, .payload = 20), XLB_R_PASS_L4 },
	{ "gre v6", V6(.dst = "2001:db8::10", .proto = 47, .payload = 20), XLB_R_PASS_L4 },
	{ "icmp echo to vip", V4(.dst = "198.18.0.10", .proto = 1, .payload = 16), XLB_R_PASS_ICMP },
	{ "icmpv6 to vip", V6(.dst = "2001:db8::10", .proto = 58, .payload = 16), XLB_R_PASS_ICMP },
};

/* malformed: dropped at the checks the kernel's input path applies too */
static const struct tcase malformed[] = {
	{ "ethernet header only (test_run refuses < 14 bytes)", V4(.dst = "198.18.0.10", TCP(40)), XLB_R_DROP_MALFORMED, 0, 14 },
	{ "truncated vlan tag", V4(.dst = "198.18.0.10", TCP(41), .vlan = 5), XLB_R_DROP_MALFORMED, 0, 16 },
	{ "truncated ipv4 header", V4(.dst = "198.18.0.10", TCP(42)), XLB_R_DROP_MALFORMED, 0, 14 + 19 },
	{ "truncated ipv4 options", V4(.dst = "198.18.0.10", TCP(43), .opts = 8), XLB_R_DROP_MALFORMED, 0, 14 + 24 },
	{ "truncated ipv6 header", V6(.dst = "2001:db8::10", TCP(44)), XLB_R_DROP_MALFORMED, 0, 14 + 39 },
	{ "truncated tcp header (tot_len too)", V4(.dst = "198.18.0.10", .proto = 6, .sport = 1, .dport = 80), XLB_R_DROP_MALFORMED, 0, 14 + 20 + 19, MG_FIT },
	{ "truncated udp header v6 (payload_len too)", V6(.dst = "2001:db8::10", UDP(53)), XLB_R_DROP_MALFORMED, 0, 14 + 40 + 7, MG_FIT },
	{ "truncated tcp header non-vip", V4(.dst = "198.18.0.99", TCP(54)), XLB_R_DROP_MALFORMED, 0, 14 + 20 + 4, MG_FIT },
	{ "tcp header exactly 20 bytes forwarded", V4(.dst = "198.18.0.10", .proto = 6, .sport = 2, .dport = 80), XLB_R_TX, VIP_4IN4 },
	{ "truncated frame below tot_len", V4(.dst = "198.18.0.10", TCP(45)), XLB_R_DROP_MALFORMED, 0, 14 + 20 + 20 + 10 },
	{ "truncated ipv6 payload", V6(.dst = "2001:db8::99", UDP(46)), XLB_R_DROP_MALFORMED, 0, 14 + 40 + 8 },
	{ "bad ihl 4", V4(.dst = "198.18.0.10", TCP(47)), XLB_R_DROP_MALFORMED, 0, 0, MG_IHL4 },
	{ "bad ihl 4 non-vip", V4(.dst = "198.18.0.99", TCP(48)), XLB_R_DROP_MALFORMED, 0, 0, MG_IHL4 },
	{ "tot_len beyond frame", V4(.dst = "198.18.0.10", TCP(49)), XLB_R_DROP_MALFORMED, 0, 0, MG_TOTLEN_BIG },
	{ "tot_len below header", V4(.dst = "198.18.0.10", TCP(50)), XLB_R_DROP_MALFORMED, 0, 0, MG_TOTLEN_SMALL },
	{ "ipv6 payload_len beyond frame", V6(.dst = "2001:db8::10", TCP(51)), XLB_R_DROP_MALFORMED, 0, 0, MG_V6PLEN_BIG },
	{ "ip version 5 in ipv4 frame", V4(.dst = "198.18.0.10", TCP(52)), XLB_R_DROP_MALFORMED, 0, 0, MG_VERSION },
};

/* IPv6 extension headers */
static const struct tcase ext6[] = {
	{ "v6 dest options + tcp 6in6", V6(.dst = "2001:db8::10", TCP(110), .ext6 = 1), XLB_R_TX, VIP_6IN6 },
	{ "v6 hop-by-hop + 2 dest options + udp gue", V6(.dst = "2001:db8::12", UDP(111), .ext6 = 3), XLB_R_TX, VIP_GUE6 },
	{ "v6 hop-by-hop + later fragment, no record, all-ports vip: dropped", V6(.dst = "2001:db8::20", UDP(112), .ext6 = 1, .frag = 2, .ipid = 0x16005), XLB_R_DROP_FRAG_ORPHAN },
	{ "v6 4 extension headers passes", V6(.dst = "2001:db8::10", TCP(113), .ext6 = 4), XLB_R_PASS_L4 },
	{ "v6 extension header non-vip passes", V6(.dst = "2001:db8::99", TCP(114), .ext6 = 2), XLB_R_PASS_NOT_VIP },
	{ "v6 extension header beyond payload", V6(.dst = "2001:db8::10", .proto = 59, .ext6 = 1), XLB_R_DROP_MALFORMED, 0, 14 + 40 + 4, MG_FIT },
};

static void test_not_vip(void)
{
	run_cases(not_vip, ARRAY_SIZE(not_vip));
}

static void test_malformed(void)
{
	run_cases(malformed, ARRAY_SIZE(malformed));
}

static void test_ext6(void)
{
	run_cases(ext6, ARRAY_SIZE(ext6));
}

/* Set IPv4 options of @p (a multiple of 4 bytes, built with .opts = @n) and fix the checksum. */
static void set_opts(struct pkt *p, const char *opts, int n)
{
	memcpy(p->b + p->l3 + 20, opts, (size_t)n);
	ip4_fix_csum(p);
}

/* What the kernel would refuse: bad IPv4 checksums; source routes follow their own rule. */
static void test_vet(void)
{
	static const struct {
		const char *name;
		struct pspec s;
		const char *opts;	/* IPv4 option bytes (s.opts of them), NULL = as built */
		int edit;		/* 1 corrupt the IPv4 checksum, 2 IPv6 routing header with
					 * segments left 2, 3 the same with segments left 0 */
		int reason;
		int vip;
	} t[] = {
		{ "bad IPv4 header checksum to a VIP: dropped", V4(.dst = "198.18.0.10", TCP(160)), NULL, 1, XLB_R_DROP_IP_CSUM },
		{ "bad IPv4 header checksum with options to a VIP: dropped", V4(.dst = "198.18.0.12", UDP(161), .opts = 8), NULL, 1, XLB_R_DROP_IP_CSUM },
		{ "bad IPv4 header checksum, vlan, l2 dsr VIP: dropped", V4(.dst = "198.18.0.13", UDP(162), .vlan = 3), NULL, 1, XLB_R_DROP_IP_CSUM },
		{ "bad IPv4 header checksum not for a VIP: passes untouched", V4(.dst = "198.18.0.99", TCP(163)), NULL, 1, XLB_R_PASS_NOT_VIP },
		{ "IPv4 LSRR to a VIP: passes untouched", V4(.dst = "198.18.0.10", TCP(164), .opts = 8), "\x01\x83\x07\x04\xc6\x12\x00\x01", 0, XLB_R_PASS_SRC_ROUTE },
		{ "IPv4 SSRR to a VIP: passes untouched", V4(.dst = "198.18.0.20", UDP(165), .opts = 12), "\x89\x0b\x04\xc6\x12\x00\x01\xc6\x12\x00\x02\x00", 0, XLB_R_PASS_SRC_ROUTE },
		{ "IPv4 record route to a VIP: balanced", V4(.dst = "198.18.0.10", TCP(166), .opts = 8), "\x07\x07\x04\x00\x00\x00\x00\x00", 0, XLB_R_TX, VIP_4IN4 },
		{ "IPv4 timestamp holding 0x83 bytes: balanced", V4(.dst = "198.18.0.10", TCP(167), .opts = 12), "\x44\x0c\x05\x00\x83\x83\x83\x83\x89\x89\x89\x89", 0, XLB_R_TX, VIP_4IN4 },
		{ "IPv4 option of length 1 to a VIP: dropped", V4(.dst = "198.18.0.10", TCP(168), .opts = 4), "\x07\x01\x00\x00", 0, XLB_R_DROP_MALFORMED },
		{ "IPv4 option beyond the header to a VIP: dropped", V4(.dst = "198.18.0.10", TCP(169), .opts = 4), "\x01\x07\x09\x04", 0, XLB_R_DROP_MALFORMED },
		{ "IPv4 LSRR not for a VIP: passes untouched", V4(.dst = "198.18.0.99", TCP(170), .opts = 8), "\x01\x83\x07\x04\xc6\x12\x00\x01", 0, XLB_R_PASS_NOT_VIP },
		{ "IPv6 routing header, segments left 2, to a VIP: passes untouched", V6(.dst = "2001:db8::10", TCP(171), .ext6 = 1), NULL, 2, XLB_R_PASS_SRC_ROUTE },
		{ "IPv6 routing header, segments left 0, to a VIP: balanced", V6(.dst = "2001:db8::10", TCP(172), .ext6 = 1), NULL, 3, XLB_R_TX, VIP_6IN6 },
		{ "IPv6 routing header, segments left 2, not for a VIP: passes untouched", V6(.dst = "2001:db8::99", UDP(173), .ext6 = 1), NULL, 2, XLB_R_PASS_NOT_VIP },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct xlb_flow_key k;
		struct run r;
		struct pkt in;
		int ok;

		WHY[0] = 0;
		build_pkt(&in, &t[i].s);
		if (t[i].opts)
			set_opts(&in, t[i].opts, t[i].s.opts);
		if (t[i].edit == 1)
			in.b[in.l3 + 10] ^= 0x5a;
		if (t[i].edit >= 2) { /* the hop-by-hop header becomes a routing header */
			in.b[in.l3 + 6] = 43;
			in.b[in.l3 + 40 + 2] = 4;
			in.b[in.l3 + 40 + 3] = t[i].edit == 2 ? 2 : 0;
		}
		ok = !run_pkt(&in, &r) && check_reason(&in, &r, t[i].reason, NULL);
		if (ok && t[i].reason == XLB_R_TX) {
			key_of(&t[i].s, &k);
			ok = check_forward(&in, &r, V[t[i].vip].mode, predict(&k, t[i].vip),
					   outer_of(&k));
		} else if (ok && verdict_of(t[i].reason) == XDP_PASS) {
			ok = check_untouched(&in, &r);
		}
		tap(ok, t[i].name, WHY);
	}
}

/* An address that is no VIP but shares a VIP's filter bit still takes the lookup and passes. */
static void test_filter_collision(void)
{
	struct xlb_vip_key vk = {};
	char dst[32];
	struct run r;
	struct pkt in;
	__u32 want;
	int ok = 0;

	WHY[0] = 0;
	inet_pton(AF_INET, "198.18.0.10", vk.addr);
	want = xlb_vip_filter_bit(vk.addr);
	for (int i = 0; i < 65536; i++) {
		snprintf(dst, sizeof(dst), "198.19.%d.%d", i >> 8, i & 0xff);
		inet_pton(AF_INET, dst, vk.addr);
		if (xlb_vip_filter_bit(vk.addr) == want) {
			struct pspec s = V4(.dst = dst, TCP(96));

			build_pkt(&in, &s);
			ok = !run_pkt(&in, &r) && check_reason(&in, &r, XLB_R_PASS_NOT_VIP, NULL) &&
			     check_untouched(&in, &r);
			break;
		}
	}
	tap(ok, "non-VIP address colliding in the VIP address filter passes untouched", WHY);
}

/* The records the monitor wrote since the last drain (mon_drain()). */
static struct xlb_mon_event EVS[8];
static int NEVS;

static int mon_keep(void *ctx, void *data, size_t len)
{
	(void)ctx;
	if (len == sizeof(EVS[0]) && NEVS < (int)ARRAY_SIZE(EVS))
		memcpy(&EVS[NEVS], data, len);
	NEVS++;
	return 0;
}

/*
 * With the monitor on, the host's own packets are recorded as the full path records them (the
 * early decision of parse_packet() steps aside), each with its reason, key and flags; with it
 * off, nothing is recorded and the early decision gives the same verdict and counters.
 */
static void test_monitor_host(void)
{
	static const struct {
		struct tcase c;
		uint16_t flags;
	} cases[] = {
		{ { "non-vip v4 tcp", V4(.dst = "198.18.0.99", TCP(180)), XLB_R_PASS_NOT_VIP }, 0 },
		{ { "non-vip v6 udp", V6(.dst = "2001:db8::99", UDP(181)), XLB_R_PASS_NOT_VIP }, 0 },
		{ { "non-vip vlan v4 udp", V4(.dst = "198.18.0.99", UDP(182), .vlan = 7), XLB_R_PASS_NOT_VIP }, 0 },
		{ { "non-vip v4 first fragment", V4(.dst = "198.18.0.99", UDP(183), .frag = 1), XLB_R_PASS_FRAG }, XLB_MON_F_FRAG },
		{ { "vip v4 tcp", V4(.dst = "198.18.0.10", TCP(184)), XLB_R_TX, VIP_4IN4 }, XLB_MON_F_VIP | XLB_MON_F_MAGLEV },
	};
	struct xlb_mon_cfg on = { .on = 1, .sample = 1, .vip_id = XLB_MON_ANY_VIP }, off = on;
	struct ring_buffer *rb = ring_buffer__new(xlb_monitor__ring_fd(X), mon_keep, NULL, NULL);
	struct xlb_flow_key k;
	struct run r;
	struct pkt in;
	int ok;

	off.on = 0;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct tcase *c = &cases[i].c;
		const struct xlb_mon_event *ev = &EVS[0];
		int vip;

		WHY[0] = 0;
		build_pkt(&in, &c->s);
		key_of(&c->s, &k);
		NEVS = 0;
		ok = rb && !xlb_monitor__set(X, &on) && !run_pkt(&in, &r) &&
		     check_reason(&in, &r, c->reason, NULL) && ring_buffer__consume(rb) >= 0;
		if (ok && NEVS != 1)
			ok = fail("%d records, expected 1", NEVS);
		vip = cases[i].flags & XLB_MON_F_VIP;
		if (ok && (ev->reason != c->reason || ev->flags != cases[i].flags ||
			   ev->len != in.len || memcmp(&ev->key, &k, sizeof(k)) ||
			   (vip ? ev->vip_id != (uint32_t)c->vip || !ev->backend_id
				: ev->vip_id || ev->backend_id || ev->hash)))
			ok = fail("record: reason %u flags 0x%x len %u vip %u backend %u hash %u, "
				  "key %s; expected reason %d flags 0x%x len %u", ev->reason,
				  ev->flags, ev->len, ev->vip_id, ev->backend_id, ev->hash,
				  memcmp(&ev->key, &k, sizeof(k)) ? "differs" : "as built",
				  c->reason, cases[i].flags, in.len);
		NEVS = 0;
		ok = ok && !xlb_monitor__set(X, &off) && !run_pkt(&in, &r) &&
		     check_reason(&in, &r, c->reason, NULL) && ring_buffer__consume(rb) >= 0;
		if (ok && NEVS)
			ok = fail("%d records with the monitor off", NEVS);
		{
			char name[128];

			snprintf(name, sizeof(name),
				 "monitor on, %s: one record as balanced; off: none", c->name);
			tap(ok, name, WHY);
		}
	}
	ring_buffer__free(rb);
}

static const struct scenario scenarios[] = {
	{ "not_vip", fixture_fresh, test_not_vip },
	{ "malformed", fixture_fresh, test_malformed },
	{ "ext6", fixture_fresh, test_ext6 },
	{ "vet", fixture_fresh, test_vet },
	{ "filter_collision", fixture_fresh, test_filter_collision },
	{ "monitor_host", fixture_fresh, test_monitor_host },
};

int main(int argc, char **argv)
{
	return harness_main(argc, argv, "datapath: parsing", scenarios,
			    ARRAY_SIZE(scenarios));
}
