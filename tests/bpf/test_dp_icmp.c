// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Datapath scenarios, ICMP: PMTU errors routed to the owner of the quoted flow, or passed when
 * they are not the VIP's; ICMP behind IPv6 extension headers; too-big replies generated for
 * packets over the MTU, their rate limit and the sources they never go to.
 * Each scenario starts from a freshly loaded balancer (fixture.c) in a process of its own.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "fixture.h"

static void test_icmp(int family)
{
	const char *vip = family == 4 ? "198.18.0.10" : "2001:db8::10";
	const char *client = family == 4 ? "198.18.7.7" : "2001:db8:7::7";
	const char *router = family == 4 ? "198.18.9.1" : "2001:db8:9::1";
	uint32_t vid = family == 4 ? VIP_4IN4 : VIP_6IN6, owner, got, first = BE(vid, 0);
	static const int ev[] = { XLB_R_EV_ICMP, 0 };
	uint32_t saved[M], rot[M];
	struct xlb_flow_key k;
	struct run r;
	struct pkt in;
	char name[96];
	int ok = 1;

	WHY[0] = 0;
	snprintf(name, sizeof(name), "%s routed to the owner of the quoted flow",
		 family == 4 ? "icmp frag-needed" : "icmpv6 packet-too-big");
	owner = send_flow(client, vip, 5555, vid, &r, &in);
	/* a different table: Maglev alone would now pick another backend for this flow */
	memcpy(saved, V[vid].table, sizeof(saved));
	for (int i = 0; i < M; i++)
		rot[i] = first + (saved[i] - first + 1) % 4;
	set_table(vid, rot, M);
	build_icmp_too_big(&in, family, router, vip, client, 6, 80, 5555);
	if (run_pkt(&in, &r)) {
		ok = fail("test run failed");
		goto out;
	}
	ok = check_reason(&in, &r, XLB_R_TX, ev);
	got = backend_of(&in, &r, XLB_MODE_IPIP);
	if (ok && (!owner || got != owner))
		ok = fail("ICMP went to backend %u, the flow is on %u", got, owner);
	if (ok) {
		struct pspec s = { .family = family, .src = client, .dst = vip, .proto = 6,
				   .sport = 5555, .dport = 80 };

		key_of(&s, &k);
		ok = check_forward(&in, &r, XLB_MODE_IPIP, owner, outer_of(&k));
	}
out:
	set_table(vid, saved, M);
	tap(ok, name, WHY);

	/* a quoted flow the table has never seen: Maglev decides, nothing is recorded */
	WHY[0] = 0;
	snprintf(name, sizeof(name), "%s for an unknown flow goes by Maglev, not recorded",
		 family == 4 ? "icmp frag-needed" : "icmpv6 packet-too-big");
	build_icmp_too_big(&in, family, router, vip, client, 17, 53, 6666);
	{
		struct pspec s = { .family = family, .src = client, .dst = vip, .proto = 17,
				   .sport = 6666, .dport = 53 };
		struct xlb_flow f;

		key_of(&s, &k);
		ok = !run_pkt(&in, &r) && check_reason(&in, &r, XLB_R_TX, ev) &&
		     check_forward(&in, &r, XLB_MODE_IPIP, predict(&k, vid), outer_of(&k));
		if (ok && !xlb_flow__get(X, &k, &f))
			ok = fail("an ICMP error created a flow-table entry");
	}
	tap(ok, name, WHY);

	/* an ICMP error about a non-VIP flow is the host's */
	WHY[0] = 0;
	build_icmp_too_big(&in, family, router, family == 4 ? "198.18.0.99" : "2001:db8::99",
			   client, 6, 80, 5555);
	ok = !run_pkt(&in, &r) && check_reason(&in, &r, XLB_R_PASS_ICMP, NULL) &&
	     check_untouched(&in, &r);
	snprintf(name, sizeof(name), "%s quoting a non-VIP flow passes untouched",
		 family == 4 ? "icmp frag-needed" : "icmpv6 packet-too-big");
	tap(ok, name, WHY);

	/* the quote cut before its ports (IP length consistent): not routable, the host's */
	WHY[0] = 0;
	build_icmp_too_big(&in, family, router, vip, client, 6, 80, 5555);
	in.len = in.l3 + (family == 4 ? 20 : 40) + 8 + (family == 4 ? 20 : 40) + 2;
	if (family == 4)
		put16(in.b + in.l3 + 2, (uint16_t)(in.len - in.l3));
	else
		put16(in.b + in.l3 + 4, (uint16_t)(in.len - in.l3 - 40));
	ok = !run_pkt(&in, &r) && check_reason(&in, &r, XLB_R_PASS_ICMP, NULL) &&
	     check_untouched(&in, &r);
	snprintf(name, sizeof(name), "%s with a truncated quote passes untouched",
		 family == 4 ? "icmp frag-needed" : "icmpv6 packet-too-big");
	tap(ok, name, WHY);

	/*
	 * the IP length ends the quote before its ports, the frame goes on (trailing bytes that
	 * look like the rest of the quote): those bytes are padding, not the quote; the host's
	 */
	WHY[0] = 0;
	build_icmp_too_big(&in, family, router, vip, client, 6, 80, 5555);
	if (family == 4)
		put16(in.b + in.l3 + 2, 20 + 8 + 20 + 2);
	else
		put16(in.b + in.l3 + 4, 8 + 40 + 2);
	ok = !run_pkt(&in, &r) && check_reason(&in, &r, XLB_R_PASS_ICMP, NULL) &&
	     check_untouched(&in, &r);
	snprintf(name, sizeof(name), "%s whose quoted ports lie beyond the IP length passes",
		 family == 4 ? "icmp frag-needed" : "icmpv6 packet-too-big");
	tap(ok, name, WHY);
}

static void test_icmp_v4(void)
{
	test_icmp(4);
}

static void test_icmp_v6(void)
{
	test_icmp(6);
}

/*
 * The 170-byte frames a `make demo` once counted as pass_l4: MLDv2 listener reports (ICMPv6
 * type 143) from the router's link-local address to ff02::16, behind a hop-by-hop header (router
 * alert), 5 multicast address records. They are ICMPv6 and not for a VIP: pass_icmp, untouched.
 * Likewise an echo request to a VIP behind a destination-options header.
 */
static void test_icmp6_behind_ext(void)
{
	static const struct {
		const char *name;
		struct pspec s;
		uint8_t type;
	} t[] = {
		{ "MLDv2 report behind hop-by-hop (170 bytes) passes untouched as ICMP",
		  { .family = 6, .src = "fe80::48f6:c4ff:fe0e:ea17", .dst = "ff02::16", .proto = 58,
		    .ext6 = 1, .payload = 8 + 5 * 20 }, 143 },
		{ "ICMPv6 echo to a VIP behind destination options passes untouched as ICMP",
		  V6(.dst = "2001:db8::10", .proto = 58, .ext6 = 2, .payload = 64), 128 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct run r;
		struct pkt in;
		int ok;

		WHY[0] = 0;
		build_pkt(&in, &t[i].s);
		in.b[in.l3 + 40 + 8 * t[i].s.ext6] = t[i].type;
		ok = !run_pkt(&in, &r) && check_reason(&in, &r, XLB_R_PASS_ICMP, NULL) &&
		     check_untouched(&in, &r);
		if (ok && i == 0 && in.len != 170)
			ok = fail("frame of %u bytes, the demo's were 170", in.len);
		tap(ok, t[i].name, WHY);
	}
}

/*
 * ICMP errors are routed only when they are the VIP's: sent to the VIP the quoted packet came
 * from, PMTU type and code, a valid checksum. Anything else is the host's: pass_icmp, untouched.
 */
static void test_icmp_not_for_vip(void)
{
	static const struct {
		const char *name;
		int family;
		const char *to;		/* outer destination; NULL = the VIP */
		int edit;		/* 1 wrong code, 2 bad checksum */
		int reason;
	} t[] = {
		{ "icmp frag-needed to another host quoting a VIP flow passes untouched", 4, "198.18.0.99", 0, XLB_R_PASS_ICMP },
		{ "icmp frag-needed to 255.255.255.255 quoting a VIP flow passes untouched", 4, "255.255.255.255", 0, XLB_R_PASS_ICMP },
		{ "icmp frag-needed to 224.0.0.1 quoting a VIP flow passes untouched", 4, "224.0.0.1", 0, XLB_R_PASS_ICMP },
		{ "icmp frag-needed to another VIP than the quoted one passes untouched", 4, "198.18.0.11", 0, XLB_R_PASS_ICMP },
		{ "icmp dest-unreachable code 1 (not frag-needed) to the VIP passes untouched", 4, NULL, 1, XLB_R_PASS_ICMP },
		{ "icmp frag-needed with a bad checksum passes untouched", 4, NULL, 2, XLB_R_PASS_ICMP },
		{ "icmpv6 packet-too-big to ff02::1 quoting a VIP flow passes untouched", 6, "ff02::1", 0, XLB_R_PASS_ICMP },
		{ "icmpv6 packet-too-big to a non-VIP quoting a VIP flow passes untouched", 6, "2001:db8::99", 0, XLB_R_PASS_ICMP },
		{ "icmpv6 packet-too-big code 1 to the VIP passes untouched", 6, NULL, 1, XLB_R_PASS_ICMP },
		{ "icmpv6 packet-too-big with a bad checksum passes untouched", 6, NULL, 2, XLB_R_PASS_ICMP },
		{ "icmp frag-needed to the VIP, valid: routed", 4, NULL, 0, XLB_R_TX },
		{ "icmpv6 packet-too-big to the VIP, valid: routed", 6, NULL, 0, XLB_R_TX },
	};
	static const int ev[] = { XLB_R_EV_ICMP, 0 };

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int v4 = t[i].family == 4;
		const char *vip = v4 ? "198.18.0.10" : "2001:db8::10";
		uint32_t icmp_off;
		struct run r;
		struct pkt in;
		int ok;

		WHY[0] = 0;
		build_icmp_too_big_to(&in, t[i].family, v4 ? "198.18.9.1" : "2001:db8:9::1",
				      t[i].to ? t[i].to : vip, vip, v4 ? "198.18.7.8" : "2001:db8:7::8",
				      6, 80, 5600);
		icmp_off = in.l3 + (v4 ? 20 : 40);
		if (t[i].edit == 1) { /* another code, the checksum adjusted: valid but not PMTU */
			in.b[icmp_off + 1] += 1;
			put16(in.b + icmp_off + 2, (uint16_t)(get16(in.b + icmp_off + 2) - 0x100));
		} else if (t[i].edit == 2) {
			in.b[icmp_off + 2] ^= 0x40;
		}
		ok = !run_pkt(&in, &r) &&
		     check_reason(&in, &r, t[i].reason, t[i].reason == XLB_R_TX ? ev : NULL);
		if (ok && t[i].reason != XLB_R_TX)
			ok = check_untouched(&in, &r);
		tap(ok, t[i].name, WHY);
	}
}

/* A generated too-big error: addresses swapped, type/code/MTU, checksums, the quote. */
static int check_icmp_reply(const struct pkt *in, const struct run *r, uint32_t mtu)
{
	uint32_t l2 = in->l3, quote = in->family == 4 ? 128 : 256, hl = in->family == 4 ? 20 : 40;
	const uint8_t *ip = r->out + l2, *icmp = ip + hl, *orig = in->b + l2;

	if (r->out_len != l2 + hl + 8 + quote)
		return fail("reply length %u, expected %u", r->out_len, l2 + hl + 8 + quote);
	if (memcmp(r->out, in->b + 6, 6) || memcmp(r->out + 6, in->b, 6))
		return fail("MAC addresses not swapped");
	if (l2 == 18 && (get16(r->out + 12) != 0x8100 || get16(r->out + 14) != get16(in->b + 14)))
		return fail("VLAN tag not kept");
	if (in->family == 4) {
		if (get16(r->out + l2 - 2) != 0x0800 || ip[0] != 0x45 || ip[9] != 1 || ip[8] != 64)
			return fail("outer IPv4 header (ethertype/version/protocol/TTL) wrong");
		if (get16(ip + 2) != hl + 8 + quote)
			return fail("IPv4 tot_len %u", get16(ip + 2));
		if (csum_fin(csum_add(0, ip, 20)) != 0)
			return fail("IPv4 header checksum does not verify");
		if (memcmp(ip + 12, orig + 16, 4) || memcmp(ip + 16, orig + 12, 4))
			return fail("IPv4 addresses not VIP -> client");
		if (icmp[0] != 3 || icmp[1] != 4 || get16(icmp + 6) != mtu)
			return fail("ICMP type %u code %u mtu %u, expected 3/4/%u", icmp[0], icmp[1],
				    get16(icmp + 6), mtu);
		if (csum_fin(csum_add(0, icmp, 8 + quote)) != 0)
			return fail("ICMP checksum does not verify");
	} else {
		uint32_t sum = csum_add(0, ip + 8, 32) + 8 + quote + 58;

		if (get16(r->out + l2 - 2) != 0x86dd || ip[0] >> 4 != 6 || ip[6] != 58 || ip[7] != 64)
			return fail("outer IPv6 header (ethertype/version/next header/hops) wrong");
		if (get16(ip + 4) != 8 + quote)
			return fail("IPv6 payload_len %u", get16(ip + 4));
		if (memcmp(ip + 8, orig + 24, 16) || memcmp(ip + 24, orig + 8, 16))
			return fail("IPv6 addresses not VIP -> client");
		if (icmp[0] != 2 || icmp[1] != 0 ||
		    ((uint32_t)get16(icmp + 4) << 16 | get16(icmp + 6)) != mtu)
			return fail("ICMPv6 type %u code %u, mtu %u expected %u", icmp[0], icmp[1],
				    (uint32_t)get16(icmp + 4) << 16 | get16(icmp + 6), mtu);
		if (csum_fin(csum_add(sum, icmp, 8 + quote)) != 0)
			return fail("ICMPv6 checksum does not verify");
	}
	for (uint32_t i = 0; i < quote; i++)
		if (icmp[8 + i] != orig[i])
			return fail("quoted byte %u is 0x%02x, expected 0x%02x", i, icmp[8 + i], orig[i]);
	return 1;
}

static void test_icmp_too_big_reply(void)
{
	static const struct {
		const char *name;
		struct pspec s;
		uint32_t vip_hdr;	/* encapsulation bytes of the VIP */
		int reason;
	} t[] = {
		{ "too big, ICMP reply: v4 DF gets frag-needed", V4(.dst = "198.18.0.10", TCP(100), .df = 1, .payload = 400), 20, XLB_R_TX_ICMP_TOO_BIG },
		{ "too big, ICMP reply: v4 DF vlan 4in6", V4(.dst = "198.18.0.11", UDP(101), .df = 1, .payload = 400, .vlan = 12), 40, XLB_R_TX_ICMP_TOO_BIG },
		{ "too big, ICMP reply: v6 gets packet-too-big (GUE v6)", V6(.dst = "2001:db8::12", UDP(102), .payload = 400), 48, XLB_R_TX_ICMP_TOO_BIG },
		{ "too big, ICMP reply: v6 6in4", V6(.dst = "2001:db8::11", TCP(103), .payload = 400), 20, XLB_R_TX_ICMP_TOO_BIG },
		{ "too big, ICMP reply: v4 without DF falls back to drop", V4(.dst = "198.18.0.10", TCP(104), .payload = 400), 20, XLB_R_DROP_TOO_BIG },
	};
	struct xlb_config c = CFG;

	c.mtu = 300;
	c.flags = XLB_CFG_F_ICMP_TOO_BIG;
	xlb__config_set(X, &c);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct run r;
		struct pkt in;
		int ok;

		WHY[0] = 0;
		build_pkt(&in, &t[i].s);
		ok = !run_pkt(&in, &r) && check_reason(&in, &r, t[i].reason, NULL);
		if (ok && t[i].reason == XLB_R_TX_ICMP_TOO_BIG)
			ok = check_icmp_reply(&in, &r, c.mtu - t[i].vip_hdr);
		tap(ok, t[i].name, WHY);
	}
}

/* Generated too-big replies: a token bucket per CPU, never to a bogus source. */
static void test_icmp_too_big_limits(void)
{
	static const int ev_limit[] = { XLB_R_EV_ICMP_LIMIT, 0 };
	static const int ev_bogus[] = { XLB_R_EV_ICMP_BOGUS, 0 };
	static const char *const bogus4[] = { "0.0.0.0", "0.1.2.3", "127.0.0.1", "224.0.0.5",
					      "239.255.255.250", "240.0.0.1", "255.255.255.255",
					      "198.18.0.10" };
	static const char *const bogus6[] = { "::", "::1", "ff02::1", "fe80::1", "febf::1",
					      "2001:db8::10" };
#define N4 (sizeof(bogus4) / sizeof(bogus4[0]))
#define N6 (sizeof(bogus6) / sizeof(bogus6[0]))
	struct xlb_config c = CFG, got;
	int ok, sent, refused;
	struct run r;
	struct pkt in;

	c.mtu = 300;
	c.flags = XLB_CFG_F_ICMP_TOO_BIG;
	c.icmp_rate = 1;
	c.icmp_burst = 3;
	xlb__config_set(X, &c);
	icmp_buckets_reset(X);

	/* a burst of 3, then the rate (1/s): 2 more within the same second are refused */
	WHY[0] = 0;
	ok = 1;
	for (int i = 0; i < 5 && ok; i++) {
		struct pspec s = V4(.src = "198.18.12.1", .dst = "198.18.0.10", TCP(180 + i), .df = 1,
				    .payload = 400);

		build_pkt(&in, &s);
		ok = !run_pkt(&in, &r) &&
		     check_reason(&in, &r, i < 3 ? XLB_R_TX_ICMP_TOO_BIG : XLB_R_DROP_TOO_BIG,
				  i < 3 ? NULL : ev_limit);
		if (!ok)
			fail("packet %d: %s", i, WHY[0] ? WHY : "test run failed");
	}
	tap(ok, "too-big replies: a burst of 3 answered, then rate limited (drop policy, counted)",
	    WHY);

	WHY[0] = 0;
	c.flags = XLB_CFG_F_ICMP_TOO_BIG | XLB_CFG_F_PASS_TOO_BIG;
	xlb__config_set(X, &c);
	{
		struct pspec s = V6(.src = "2001:db8:12::1", .dst = "2001:db8::12", UDP(186),
				    .payload = 400);

		build_pkt(&in, &s);
		ok = !run_pkt(&in, &r) && check_reason(&in, &r, XLB_R_PASS_TOO_BIG, ev_limit) &&
		     check_untouched(&in, &r);
	}
	tap(ok, "too-big reply refused by the rate limit falls back to pass, untouched", WHY);

	/* bogus sources: refused before the bucket; a good client then still gets the token */
	c.flags = XLB_CFG_F_ICMP_TOO_BIG;
	c.icmp_burst = 1;
	xlb__config_set(X, &c);
	icmp_buckets_reset(X);
	refused = 0;
	for (size_t i = 0; i < N4 + N6 + 1; i++) {
		size_t n4 = N4;
		int v6 = i >= n4 && i < n4 + N6;
		int group_src = i == n4 + N6;
		struct pspec s = v6 ? (struct pspec)V6(.src = bogus6[i - n4], .dst = "2001:db8::10",
						       TCP(190), .payload = 400) :
			(struct pspec)V4(.src = group_src ? "198.18.12.2" : bogus4[i],
					 .dst = "198.18.0.10", TCP(190), .df = 1, .payload = 400);
		char name[128];

		WHY[0] = 0;
		build_pkt(&in, &s);
		if (group_src)
			memcpy(in.b + 6, "\x01\x00\x5e\x00\x00\x05", 6);
		ok = !run_pkt(&in, &r) && check_reason(&in, &r, XLB_R_DROP_TOO_BIG, ev_bogus);
		refused += ok;
		snprintf(name, sizeof(name), "too-big from %s%s: no reply, dropped, counted refused",
			 group_src ? "group source MAC 01:00:5e:00:00:05" : s.src,
			 v6 ? " (v6)" : "");
		tap(ok, name, WHY);
	}
	WHY[0] = 0;
	{
		struct pspec s = V4(.src = "198.18.12.3", .dst = "198.18.0.10", TCP(191), .df = 1,
				    .payload = 400);

		build_pkt(&in, &s);
		ok = !run_pkt(&in, &r) && check_reason(&in, &r, XLB_R_TX_ICMP_TOO_BIG, NULL) &&
		     check_icmp_reply(&in, &r, 280);
	}
	tap(ok, "refused sources took no token: a good client is answered (bucket of 1)", WHY);

	/* the default: 0 in the config is written as 100/s, burst 50 */
	WHY[0] = 0;
	c.icmp_rate = 0;
	c.icmp_burst = 0;
	xlb__config_set(X, &c);
	icmp_buckets_reset(X);
	ok = !xlb__config_get(X, &got);
	if (ok && (got.icmp_rate != XLB_ICMP_RATE_DEFAULT ||
		   got.icmp_burst != XLB_ICMP_BURST_DEFAULT))
		ok = fail("config reads icmp_rate %u burst %u, expected the defaults %u/%u",
			  got.icmp_rate, got.icmp_burst, XLB_ICMP_RATE_DEFAULT,
			  XLB_ICMP_BURST_DEFAULT);
	sent = 0;
	{
		struct timespec t0, t1;
		double secs;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int i = 0; i < 200 && ok; i++) {
			struct pspec s = V4(.src = "198.18.12.4", .dst = "198.18.0.10", TCP(200),
					    .df = 1, .payload = 400);

			build_pkt(&in, &s);
			if (run_pkt(&in, &r))
				ok = fail("test run failed");
			sent += r.verdict == XDP_TX;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		if (ok && (sent < XLB_ICMP_BURST_DEFAULT ||
			   sent > XLB_ICMP_BURST_DEFAULT + 1 + (int)(secs * XLB_ICMP_RATE_DEFAULT)))
			ok = fail("%d of 200 back-to-back too-big packets answered in %.3f s", sent,
				  secs);
	}
	tap(ok, "too-big replies at the default limit: 200 back to back, about 50 answered", WHY);
#undef N4
#undef N6
}

static const struct scenario scenarios[] = {
	{ "pmtu_v4", fixture_fresh, test_icmp_v4 },
	{ "pmtu_v6", fixture_fresh, test_icmp_v6 },
	{ "icmp6_behind_ext", fixture_fresh, test_icmp6_behind_ext },
	{ "not_for_vip", fixture_fresh, test_icmp_not_for_vip },
	{ "too_big_reply", fixture_fresh, test_icmp_too_big_reply },
	{ "too_big_limits", fixture_fresh, test_icmp_too_big_limits },
};

int main(int argc, char **argv)
{
	return harness_main(argc, argv, "datapath: ICMP", scenarios,
			    ARRAY_SIZE(scenarios));
}
