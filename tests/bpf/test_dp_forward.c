// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Datapath scenarios, forwarding: every mode and family encapsulated field by field, VLAN,
 * IPv4 options, padding and trailers, all-ports VIPs, no backend, source hashing, the MTU, the
 * outer IPv4 ID, MAC addresses, and 4000 random flows against libxlb's prediction.
 * Each scenario starts from a freshly loaded balancer (fixture.c) in a process of its own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "fixture.h"

/* every forwarding mode, TCP and UDP, both VIP families */
static const struct tcase modes[] = {
	{ "ipip 4in4 tcp", V4(.dst = "198.18.0.10", TCP(1), .tos = 0x28, .df = 1), XLB_R_TX, VIP_4IN4 },
	{ "ipip 4in4 udp", V4(.dst = "198.18.0.10", UDP(2)), XLB_R_TX, VIP_4IN4 },
	{ "ipip 4in6 tcp", V4(.dst = "198.18.0.11", TCP(3), .tos = 0xb8, .df = 1), XLB_R_TX, VIP_4IN6 },
	{ "ipip 4in6 udp", V4(.dst = "198.18.0.11", UDP(4)), XLB_R_TX, VIP_4IN6 },
	{ "ipip 6in6 tcp", V6(.dst = "2001:db8::10", TCP(5), .tos = 0x2e), XLB_R_TX, VIP_6IN6 },
	{ "ipip 6in6 udp", V6(.dst = "2001:db8::10", UDP(6)), XLB_R_TX, VIP_6IN6 },
	{ "ipip 6in4 tcp", V6(.dst = "2001:db8::11", TCP(7), .tos = 0x10), XLB_R_TX, VIP_6IN4 },
	{ "ipip 6in4 udp", V6(.dst = "2001:db8::11", UDP(8)), XLB_R_TX, VIP_6IN4 },
	{ "gue v4 tcp", V4(.dst = "198.18.0.12", TCP(9), .df = 1), XLB_R_TX, VIP_GUE4 },
	{ "gue v4 udp", V4(.dst = "198.18.0.12", UDP(10), .tos = 4), XLB_R_TX, VIP_GUE4 },
	{ "gue v6 tcp", V6(.dst = "2001:db8::12", TCP(11)), XLB_R_TX, VIP_GUE6 },
	{ "gue v6 udp", V6(.dst = "2001:db8::12", UDP(12), .tos = 0xff), XLB_R_TX, VIP_GUE6 },
	{ "l2 dsr v4 tcp", V4(.dst = "198.18.0.13", TCP(13)), XLB_R_TX, VIP_L2_4 },
	{ "l2 dsr v4 udp", V4(.dst = "198.18.0.13", UDP(14)), XLB_R_TX, VIP_L2_4 },
	{ "l2 dsr v6 tcp", V6(.dst = "2001:db8::13", TCP(15)), XLB_R_TX, VIP_L2_6 },
	{ "l2 dsr v6 udp", V6(.dst = "2001:db8::13", UDP(16)), XLB_R_TX, VIP_L2_6 },
};

/* 802.1Q, IPv4 options */
static const struct tcase vlan_options[] = {
	{ "vlan 4in4 tcp", V4(.dst = "198.18.0.10", TCP(17), .vlan = 0x0064), XLB_R_TX, VIP_4IN4 },
	{ "vlan 6in6 udp", V6(.dst = "2001:db8::10", UDP(18), .vlan = 0x2065), XLB_R_TX, VIP_6IN6 },
	{ "vlan 6in4 tcp", V6(.dst = "2001:db8::11", TCP(19), .vlan = 7), XLB_R_TX, VIP_6IN4 },
	{ "vlan l2 dsr v4", V4(.dst = "198.18.0.13", TCP(20), .vlan = 7), XLB_R_TX, VIP_L2_4 },
	{ "ipv4 options 4in4", V4(.dst = "198.18.0.10", TCP(21), .opts = 12), XLB_R_TX, VIP_4IN4 },
	{ "ipv4 options 40 bytes 4in6", V4(.dst = "198.18.0.11", UDP(22), .opts = 40), XLB_R_TX, VIP_4IN6 },
	{ "gue v4 vlan options", V4(.dst = "198.18.0.12", UDP(23), .opts = 4, .vlan = 9), XLB_R_TX, VIP_GUE4 },
};

/* Ethernet padding: cut before encapsulating (nothing beyond the IP packet is sent); L2
 * keeps it */
static const struct tcase padding[] = {
	{ "60-byte frame, 40-byte tcp syn: 4in4", V4(.dst = "198.18.0.10", .proto = 6, .sport = 24, .dport = 80, .pad = 6), XLB_R_TX, VIP_4IN4 },
	{ "60-byte frame, 40-byte tcp syn: 4in6", V4(.dst = "198.18.0.11", .proto = 6, .sport = 25, .dport = 80, .pad = 6), XLB_R_TX, VIP_4IN6 },
	{ "60-byte vlan frame, 28-byte udp: gue v4", V4(.dst = "198.18.0.12", .proto = 17, .sport = 26, .dport = 53, .vlan = 9, .pad = 14), XLB_R_TX, VIP_GUE4 },
	{ "60-byte frame, ipv4 options, udp: gue v4", V4(.dst = "198.18.0.12", .proto = 17, .sport = 27, .dport = 53, .opts = 8, .pad = 10), XLB_R_TX, VIP_GUE4 },
	{ "padded v6 udp frame: gue v6", V6(.dst = "2001:db8::12", .proto = 17, .sport = 28, .dport = 53, .pad = 16), XLB_R_TX, VIP_GUE6 },
	{ "60-byte frame, 40-byte tcp syn: l2 dsr", V4(.dst = "198.18.0.13", .proto = 6, .sport = 29, .dport = 80, .pad = 6), XLB_R_TX, VIP_L2_4 },
	{ "60-byte frame non-vip passes untouched", V4(.dst = "198.18.0.99", .proto = 6, .sport = 30, .dport = 80, .pad = 6), XLB_R_PASS_NOT_VIP },
};

/* all-ports VIP */
static const struct tcase all_ports[] = {
	{ "all-ports v4 tcp", V4(.dst = "198.18.0.20", .proto = 6, .sport = 1000, .dport = 8443), XLB_R_TX, VIP_ALL4 },
	{ "all-ports v4 udp", V4(.dst = "198.18.0.20", .proto = 17, .sport = 1000, .dport = 4789), XLB_R_TX, VIP_ALL4 },
	{ "all-ports v6 tcp", V6(.dst = "2001:db8::20", .proto = 6, .sport = 1000, .dport = 22), XLB_R_TX, VIP_ALL6 },
};

/* no backend / no table */
static const struct tcase no_backend[] = {
	{ "empty table drops", V4(.dst = "198.18.0.60", TCP(70)), XLB_R_DROP_NO_BACKEND },
	{ "empty table, VIP policy pass: passes untouched", V4(.dst = "198.18.0.62", TCP(72)),
	  XLB_R_PASS_NO_BACKEND },
	{ "missing table drops", V4(.dst = "198.18.0.61", TCP(71)), XLB_R_DROP_NO_CONFIG },
};

/* The fixture itself: the balancer loads and takes the fixture's config, VIPs and tables. */
static void test_load(void)
{
	struct xlb_open_opts opts = { .pin_dir = "", .flow_table_size = 65536 };

	X = xlb__open(&opts);
	tap(X != NULL, "load the balancer (no pins)", strerror(errno));
	if (X)
		tap(fixture_setup() == 0, "set up config, backends, VIPs and tables",
		    "a map update failed");
}

static void test_modes(void)
{
	run_cases(modes, ARRAY_SIZE(modes));
}

static void test_vlan_options(void)
{
	run_cases(vlan_options, ARRAY_SIZE(vlan_options));
}

static void test_padding(void)
{
	run_cases(padding, ARRAY_SIZE(padding));
}

static void test_all_ports(void)
{
	run_cases(all_ports, ARRAY_SIZE(all_ports));
}

static void test_no_backend(void)
{
	run_cases(no_backend, ARRAY_SIZE(no_backend));
}

static void test_src_only(void)
{
	static const uint16_t ports[] = { 1111, 2222, 3333, 4444, 5555, 6666, 7777, 8888 };
	uint32_t got, want, outer[ARRAY_SIZE(ports)], mask = (1U << CFG.encap_src4_bits) - 1;
	size_t distinct = 0;
	struct xlb_flow_key k;
	struct run r;
	struct pkt in;
	uint8_t a[4], d[4];
	int ok = 1;

	WHY[0] = 0;
	inet_pton(AF_INET, "198.18.6.1", a);
	inet_pton(AF_INET, "198.18.0.30", d);
	xlb_flow_key__init(&k, XLB_AF_INET, a, d, 0, 0, 6);
	want = predict(&k, VIP_SRC);
	for (size_t i = 0; ok && i < ARRAY_SIZE(ports); i++) {
		got = send_flow("198.18.6.1", "198.18.0.30", ports[i], VIP_SRC, &r, &in);
		if (got != want)
			ok = fail("port %u went to backend %u, expected %u", ports[i], got, want);
		/* the outer source varies with the whole flow (its flow-table hash), not the source */
		xlb_flow_key__init(&k, XLB_AF_INET, a, d, ports[i], 80, 6);
		outer[i] = outer_of(&k);
		ok = ok && check_forward(&in, &r, XLB_MODE_IPIP, want, outer[i]);
	}
	/* the outer IPv4 source carries encap_src4_bits of the outer hash: all 8 flows on one
	 * source by chance has odds 2^-56 */
	for (size_t i = 1; i < ARRAY_SIZE(ports); i++)
		distinct += (outer[i] & mask) != (outer[0] & mask);
	if (ok && !distinct)
		ok = fail("one outer source (hash bits 0x%x) for 8 flows: the receiver's RSS cannot "
			  "spread them", outer[0] & mask);
	tap(ok, "source-only hashing: one client, 8 ports, one backend, outer sources not all one",
	    WHY);
}

static void test_too_big(void)
{
	struct xlb_config c = CFG;
	struct pspec s = V4(.dst = "198.18.0.10", TCP(80), .payload = 200);
	struct xlb_flow_key k;
	struct run r;
	struct pkt in;
	int ok;

	build_pkt(&in, &s); /* l3len = 20 + 20 + 200 = 240; encapsulated 260 */
	c.mtu = 259;
	xlb__config_set(X, &c);
	WHY[0] = 0;
	ok = !run_pkt(&in, &r) && check_reason(&in, &r, XLB_R_DROP_TOO_BIG, NULL);
	tap(ok, "too big after encapsulation: dropped by default", WHY);

	c.flags = XLB_CFG_F_PASS_TOO_BIG;
	xlb__config_set(X, &c);
	WHY[0] = 0;
	ok = !run_pkt(&in, &r) && check_reason(&in, &r, XLB_R_PASS_TOO_BIG, NULL) &&
	     check_untouched(&in, &r);
	tap(ok, "too big after encapsulation: passed untouched with pass_too_big", WHY);

	c.mtu = 260;
	xlb__config_set(X, &c);
	WHY[0] = 0;
	key_of(&s, &k);
	ok = !run_pkt(&in, &r) && check_reason(&in, &r, XLB_R_TX, NULL) &&
	     check_forward(&in, &r, XLB_MODE_IPIP, predict(&k, VIP_4IN4), outer_of(&k));
	tap(ok, "exactly the MTU after encapsulation: forwarded", WHY);

	s = (struct pspec)V6(.dst = "2001:db8::12", UDP(81), .payload = 200);
	build_pkt(&in, &s); /* 40 + 8 + 200 = 248; GUE over v6 + 48 = 296 */
	c.mtu = 295;
	c.flags = 0;
	xlb__config_set(X, &c);
	WHY[0] = 0;
	ok = !run_pkt(&in, &r) && check_reason(&in, &r, XLB_R_DROP_TOO_BIG, NULL);
	tap(ok, "too big after GUE v6 encapsulation: dropped", WHY);
}

/* A frame longer than its IP packet: the trailer is cut, the MTU check and the frame agree. */
static void test_trailer_trimmed(void)
{
	static const struct {
		const char *name;
		struct pspec s;
		int vip;
		uint32_t mtu;
		int reason;
	} t[] = {
		/* 1514-byte frame, tot_len 1440: 1460 L3 once encapsulated, sent as 1474 bytes */
		{ "1514-byte frame, tot_len 1440, 4in4: trailer cut, 1474 bytes sent", V4(.dst = "198.18.0.10", TCP(130), .payload = 1400, .pad = 60), VIP_4IN4, 1500, XLB_R_TX },
		{ "2000-byte frame, tot_len 1480, 4in4: exactly the MTU once cut", V4(.dst = "198.18.0.10", TCP(131), .payload = 1440, .pad = 506), VIP_4IN4, 1500, XLB_R_TX },
		{ "2000-byte frame, tot_len 1481, 4in4: too big by its IP length", V4(.dst = "198.18.0.10", TCP(132), .payload = 1441, .pad = 505), VIP_4IN4, 1500, XLB_R_DROP_TOO_BIG },
		{ "frame with trailer, gue v6: cut", V6(.dst = "2001:db8::12", UDP(133), .payload = 900, .pad = 300), VIP_GUE6, 1500, XLB_R_TX },
		{ "frame with trailer, vlan 6in4: cut", V6(.dst = "2001:db8::11", TCP(134), .payload = 100, .pad = 33, .vlan = 5), VIP_6IN4, 1500, XLB_R_TX },
		{ "frame with trailer, l2 dsr: sent as it came", V4(.dst = "198.18.0.13", TCP(135), .payload = 100, .pad = 40), VIP_L2_4, 1500, XLB_R_TX },
	};
	struct xlb_config c = CFG;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct xlb_flow_key k;
		struct run r;
		struct pkt in;
		int ok;

		WHY[0] = 0;
		c.mtu = t[i].mtu;
		xlb__config_set(X, &c);
		build_pkt(&in, &t[i].s);
		key_of(&t[i].s, &k);
		ok = !run_pkt(&in, &r) && check_reason(&in, &r, t[i].reason, NULL);
		if (ok && t[i].reason == XLB_R_TX)
			ok = check_forward(&in, &r, V[t[i].vip].mode, predict(&k, t[i].vip),
					   outer_of(&k));
		if (ok && i == 0 && r.out_len != 1474)
			ok = fail("sent %u bytes, expected 1474", r.out_len);
		tap(ok, t[i].name, WHY);
	}
}

/* RFC 6864: the outer IPv4 ID is the inner IPv4 packet's; an IPv6 inner packet is atomic (DF). */
static void test_outer_ip_id(void)
{
	static const struct {
		const char *name;
		struct pspec s;
		int vip;
	} t[] = {
		{ "outer IPv4 ID: inner ID copied, DF clear (4in4 udp)", V4(.dst = "198.18.0.10", UDP(140)), VIP_4IN4 },
		{ "outer IPv4 ID: inner ID copied, DF set (gue v4 tcp)", V4(.dst = "198.18.0.12", TCP(141), .df = 1), VIP_GUE4 },
		{ "outer IPv4 ID: IPv6 inner gets DF and ID 0 (6in4)", V6(.dst = "2001:db8::11", UDP(142)), VIP_6IN4 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct xlb_flow_key k;
		struct run r;
		struct pkt in;
		int ok;

		WHY[0] = 0;
		build_pkt(&in, &t[i].s);
		if (in.family == 4) {
			put16(in.b + in.l3 + 4, (uint16_t)(0xbe00 + i));
			ip4_fix_csum(&in);
		}
		key_of(&t[i].s, &k);
		ok = !run_pkt(&in, &r) && check_reason(&in, &r, XLB_R_TX, NULL) &&
		     check_forward(&in, &r, V[t[i].vip].mode, predict(&k, t[i].vip),
				   outer_of(&k));
		if (ok && in.family == 4 && get16(r.out + in.l3 + 4) != 0xbe00 + i)
			ok = fail("outer ID 0x%04x", get16(r.out + in.l3 + 4));
		tap(ok, t[i].name, WHY);
	}
}

/* Frames to a group MAC are not balanced; sent frames carry the interface's own MAC. */
static void test_group_mac_and_own_mac(void)
{
	static const struct {
		const char *name;
		struct pspec s;
		const char *mac;
	} t[] = {
		{ "frame to ff:ff:ff:ff:ff:ff for a VIP passes untouched", V4(.dst = "198.18.0.10", TCP(150)), "\xff\xff\xff\xff\xff\xff" },
		{ "frame to 01:00:5e:00:00:01 for a VIP passes untouched", V4(.dst = "198.18.0.13", UDP(151)), "\x01\x00\x5e\x00\x00\x01" },
		{ "frame to 33:33:00:00:00:01 for a v6 VIP passes untouched", V6(.dst = "2001:db8::10", TCP(152)), "\x33\x33\x00\x00\x00\x01" },
		{ "too-big frame to a group MAC: no ICMP reply, passes", V4(.dst = "198.18.0.10", TCP(153), .df = 1, .payload = 400), "\xff\xff\xff\xff\xff\xff" },
	};
	static const uint8_t OWN[6] = { 0x02, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e };
	int fd = xlb__map_fd(X, "xlb_ifmac");
	struct xlb_config c = CFG;
	struct xlb_ifmac m = { .ifindex = 1 };
	__u32 slot = 1;

	c.mtu = 300;
	c.flags = XLB_CFG_F_ICMP_TOO_BIG;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct run r;
		struct pkt in;
		int ok;

		WHY[0] = 0;
		xlb__config_set(X, i == 3 ? &c : &CFG);
		build_pkt(&in, &t[i].s);
		memcpy(in.b, t[i].mac, 6);
		ok = !run_pkt(&in, &r) && check_reason(&in, &r, XLB_R_PASS_GROUP_MAC, NULL) &&
		     check_untouched(&in, &r);
		tap(ok, t[i].name, WHY);
	}
	xlb__config_set(X, &CFG);

	/* frames that came in on ifindex 1 (lo: test runs need a real device) */
	memcpy(m.mac, OWN, 6);
	if (bpf_map_update_elem(fd, &slot, &m, BPF_ANY))
		tap(0, "own MAC: xlb_ifmac written", strerror(errno));
	RUN_IFINDEX = 1;
	SRC_MAC = OWN;
	for (int mode = 0; mode < 3; mode++) {
		static const char *names[] = {
			"own MAC: an IPIP frame leaves with the interface's MAC",
			"own MAC: an L2 DSR frame leaves with the interface's MAC",
			"own MAC: a GUE v6 frame leaves with the interface's MAC",
		};
		struct pspec s = mode == 0 ? (struct pspec)V4(.dst = "198.18.0.10", TCP(155)) :
				 mode == 1 ? (struct pspec)V4(.dst = "198.18.0.13", TCP(156)) :
					     (struct pspec)V6(.dst = "2001:db8::12", UDP(157));
		int vip = mode == 0 ? VIP_4IN4 : mode == 1 ? VIP_L2_4 : VIP_GUE6;
		struct xlb_flow_key k;
		struct run r;
		struct pkt in;
		int ok;

		WHY[0] = 0;
		build_pkt(&in, &s);
		key_of(&s, &k);
		ok = !run_pkt(&in, &r) && check_reason(&in, &r, XLB_R_TX, NULL) &&
		     check_forward(&in, &r, V[vip].mode, predict(&k, vip), outer_of(&k));
		tap(ok, names[mode], WHY);
	}
	{
		struct pspec s = V4(.dst = "198.18.0.10", TCP(158), .df = 1, .payload = 400);
		struct run r;
		struct pkt in;
		int ok;

		WHY[0] = 0;
		xlb__config_set(X, &c);
		build_pkt(&in, &s);
		ok = !run_pkt(&in, &r) && check_reason(&in, &r, XLB_R_TX_ICMP_TOO_BIG, NULL);
		if (ok && memcmp(r.out + 6, OWN, 6))
			ok = fail("ICMP reply source MAC is not the interface's");
		xlb__config_set(X, &CFG);
		tap(ok, "own MAC: a generated too-big reply leaves with the interface's MAC", WHY);
	}
	/* the slot holds another interface (ifindex 257 % 256 = 1): the frame's own MAC */
	m.ifindex = 1 + XLB_IFMAC_SLOTS;
	bpf_map_update_elem(fd, &slot, &m, BPF_ANY);
	SRC_MAC = NULL;
	{
		struct pspec s = V4(.dst = "198.18.0.10", TCP(159));
		struct xlb_flow_key k;
		struct run r;
		struct pkt in;
		int ok;

		WHY[0] = 0;
		build_pkt(&in, &s);
		key_of(&s, &k);
		ok = !run_pkt(&in, &r) && check_reason(&in, &r, XLB_R_TX, NULL) &&
		     check_forward(&in, &r, XLB_MODE_IPIP, predict(&k, VIP_4IN4),
				   outer_of(&k));
		tap(ok, "own MAC: a slot of another ifindex is a miss, the frame's destination MAC "
			"is used", WHY);
	}
}

static void test_random_flows(void)
{
	int ok = 1, n = 4000, dist[BE_IDS] = { 0 };
	unsigned int seed = 42;

	WHY[0] = 0;
	for (int i = 0; i < n && ok; i++) {
		int v6 = i & 1;
		uint32_t vid = v6 ? VIP_RAND6 : VIP_RAND, want, got;
		char src[64];
		struct pspec s = { .family = v6 ? 6 : 4, .dst = v6 ? "2001:db8::50" : "198.18.0.50",
				   .proto = 6, .dport = 80, .payload = 0 };
		struct xlb_flow_key k;
		struct run r;
		struct pkt in;

		if (v6)
			snprintf(src, sizeof(src), "2001:db8:%x:%x::%x", rand_r(&seed) & 0xffff,
				 rand_r(&seed) & 0xffff, rand_r(&seed) & 0xffff);
		else
			snprintf(src, sizeof(src), "198.%d.%d.%d", 18 + (rand_r(&seed) & 1),
				 rand_r(&seed) & 0xff, rand_r(&seed) & 0xff);
		s.src = src;
		s.sport = (uint16_t)(1024 + rand_r(&seed) % 60000);
		build_pkt(&in, &s);
		key_of(&s, &k);
		want = predict(&k, vid);
		if (run_frame(xlb__prog_fd(X), in.b, in.len, 0, r.out, sizeof(r.out), &r.verdict,
			      &r.out_len)) {
			ok = fail("test run failed");
			break;
		}
		got = backend_of(&in, &r, XLB_MODE_IPIP);
		if (got != want)
			ok = fail("flow %d (%s:%u): datapath chose backend %u, userspace %u", i, src,
				  s.sport, got, want);
		else
			dist[got]++;
	}
	for (int k = 0; ok && k < 20; k++) {
		uint32_t id = BE(k < 10 ? VIP_RAND : VIP_RAND6, k % 10);

		if (dist[id] < n / 2 / 10 / 2)
			ok = fail("backend %u got %d of %d flows of its VIP", id, dist[id], n / 2);
	}
	tap(ok, "4000 random v4/v6 flows: datapath backend == xlb_flow_hash + table", WHY);
}

static const struct scenario scenarios[] = {
	{ "load", NULL, test_load },
	{ "modes", fixture_fresh, test_modes },
	{ "vlan_options", fixture_fresh, test_vlan_options },
	{ "padding", fixture_fresh, test_padding },
	{ "all_ports", fixture_fresh, test_all_ports },
	{ "no_backend", fixture_fresh, test_no_backend },
	{ "source_hash", fixture_fresh, test_src_only },
	{ "too_big", fixture_fresh, test_too_big },
	{ "trailer", fixture_fresh, test_trailer_trimmed },
	{ "outer_ip_id", fixture_fresh, test_outer_ip_id },
	{ "macs", fixture_fresh, test_group_mac_and_own_mac },
	{ "random_flows", fixture_fresh, test_random_flows },
};

int main(int argc, char **argv)
{
	return harness_main(argc, argv, "datapath: forwarding", scenarios,
			    ARRAY_SIZE(scenarios));
}
