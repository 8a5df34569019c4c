// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Datapath scenarios, the flow table and fragments: a flow stays on its backend across a table
 * swap, is re-hashed off a failed or reused backend without evicting others, the flood guard
 * (the buckets' replacement order: test_dp_buckets.c);
 * fragments follow the first one's backend, in order or not, and are never guessed.
 * Each scenario starts from a freshly loaded balancer (fixture.c) in a process of its own.
 */
#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "fixture.h"

/* fragments (their datagrams in test_frag_flows()): a later one without a record of its
 * first; an IPv6 atomic fragment */
static const struct tcase fragments[] = {
	/* fragments (their datagrams in test_frag_flows()): a later one without a record of its first */
	{ "v4 first fragment to port vip: balanced on its 5-tuple", V4(.dst = "198.18.0.10", UDP(60), .frag = 1, .payload = 100, .ipid = 0x6001), XLB_R_TX, VIP_4IN4 },
	{ "v4 first fragment, only 4 bytes of tcp header: balanced on its 5-tuple", V4(.dst = "198.18.0.20", .proto = 6, .sport = 61, .dport = 22, .frag = 1, .ipid = 0x6002), XLB_R_TX, VIP_ALL4, 14 + 20 + 8, MG_FIT },
	{ "v4 later fragment, no record, port vips only: passes", V4(.dst = "198.18.0.10", UDP(61), .frag = 2, .ipid = 0x6003), XLB_R_PASS_FRAG },
	{ "v4 later fragment, no record, all-ports vip: dropped", V4(.dst = "198.18.0.20", UDP(62), .frag = 2, .ipid = 0x6004), XLB_R_DROP_FRAG_ORPHAN },
	{ "v4 first fragment without its ports, all-ports vip: dropped", V4(.dst = "198.18.0.20", .proto = 17, .sport = 1, .dport = 2, .frag = 1, .ipid = 0x6005), XLB_R_DROP_FRAG_ORPHAN, 0, 14 + 20 + 2, MG_FIT },
	{ "v4 later fragment non-vip passes", V4(.dst = "198.18.0.99", UDP(63), .frag = 2), XLB_R_PASS_FRAG },
	{ "v4 first fragment non-vip passes", V4(.dst = "198.18.0.99", UDP(64), .frag = 1), XLB_R_PASS_FRAG },
	{ "v6 first fragment to port vip: balanced on its 5-tuple", V6(.dst = "2001:db8::10", UDP(65), .frag = 1, .payload = 100, .ipid = 0x16001), XLB_R_TX, VIP_6IN6 },
	{ "v6 later fragment, no record, port vips only: passes", V6(.dst = "2001:db8::10", UDP(66), .frag = 2, .ipid = 0x16003), XLB_R_PASS_FRAG },
	{ "v6 later fragment, no record, all-ports vip: dropped", V6(.dst = "2001:db8::20", UDP(67), .frag = 2, .ipid = 0x16004), XLB_R_DROP_FRAG_ORPHAN },
	{ "v6 later fragment non-vip passes", V6(.dst = "2001:db8::99", TCP(68), .frag = 2), XLB_R_PASS_FRAG },
	/* an IPv6 atomic fragment (offset 0, no MF) is a whole packet (RFC 8200 4.5, RFC 6946) */
	{ "v6 atomic fragment tcp balanced as its flow", V6(.dst = "2001:db8::10", TCP(69), .frag = 3), XLB_R_TX, VIP_6IN6 },
	{ "v6 dest options + atomic fragment udp gue", V6(.dst = "2001:db8::12", UDP(70), .ext6 = 1, .frag = 3), XLB_R_TX, VIP_GUE6 },
};

static void test_fragments(void)
{
	run_cases(fragments, ARRAY_SIZE(fragments));
}

/*
 * A flow of @client:@sport to VIP_MISC (198.18.0.40:80), then VIP_MISC's table with every slot on
 * another of its backends, returned in @other. Returns the backend the flow went to (0: none).
 */
static uint32_t flow_then_other_table(const char *client, uint16_t sport, uint32_t *other,
				      struct run *r, struct pkt *in)
{
	uint32_t b0 = send_flow(client, "198.18.0.40", sport, VIP_MISC, r, in), t[M];

	*other = b0 == BE(VIP_MISC, 0) ? BE(VIP_MISC, 1) : BE(VIP_MISC, 0);
	for (int i = 0; i < M; i++)
		t[i] = *other;
	set_table(VIP_MISC, t, M);
	return b0;
}

/* The flow-table entry of @client:@sport to VIP_MISC is on backend @be: 1, or 0 with WHY set. */
static int flow_entry_on(const char *client, uint16_t sport, uint32_t be)
{
	struct xlb_flow_key k;
	struct xlb_flow f = {};
	uint8_t a[4], d[4];

	inet_pton(AF_INET, client, a);
	inet_pton(AF_INET, "198.18.0.40", d);
	xlb_flow_key__init(&k, XLB_AF_INET, a, d, sport, 80, 6);
	if (xlb_flow__get(X, &k, &f) || f.backend_id != be)
		return fail("flow entry not overwritten (backend %u)", f.backend_id);
	return 1;
}

static void test_sticky_and_rehash(void)
{
	static const int ev_rehash[] = { XLB_R_EV_REHASH, 0 };
	const char *vip = "198.18.0.40", *client = "198.18.8.8";
	uint32_t b0, b1, other, t[M];
	struct run r;
	struct pkt in;
	int ok = 1;

	WHY[0] = 0;
	b0 = flow_then_other_table(client, 7000, &other, &r, &in);
	b1 = send_flow(client, vip, 7000, VIP_MISC, &r, &in);
	if (!b0 || b1 != b0)
		ok = fail("flow moved from backend %u to %u after the table swap", b0, b1);
	if (ok && send_flow(client, vip, 7001, VIP_MISC, &r, &in) != other)
		ok = fail("a new flow did not follow the new table");
	tap(ok, "flow stays on its backend when the Maglev table is replaced", WHY);

	/* the flow's backend fails: re-hash into the new table, entry overwritten */
	WHY[0] = 0;
	B[b0].flags = 0;
	xlb_backend__set(X, b0, &B[b0]);
	b1 = send_flow(client, vip, 7000, VIP_MISC, &r, &in);
	ok = check_reason(&in, &r, XLB_R_TX, ev_rehash);
	if (ok && b1 != other)
		ok = fail("re-hashed to backend %u, expected %u", b1, other);
	ok = ok && flow_entry_on(client, 7000, other);
	tap(ok, "flow on a failed backend is re-hashed and re-recorded", WHY);

	/* the slot's backend is unusable: no backend, drop */
	WHY[0] = 0;
	for (int i = 0; i < M; i++)
		t[i] = b0;
	set_table(VIP_MISC, t, M);
	send_flow(client, vip, 7002, VIP_MISC, &r, &in);
	ok = check_reason(&in, &r, XLB_R_DROP_NO_BACKEND, NULL);
	tap(ok, "slot holding a failed backend drops as no backend", WHY);
}

/*
 * A backend id freed and reused by another VIP: the flow recorded on it must not follow the id
 * to the other service. The hit is treated as a hit on an unusable backend: re-hash, overwrite.
 */
static void test_reused_backend_id(void)
{
	static const int ev_rehash[] = { XLB_R_EV_REHASH, 0 };
	const char *vip = "198.18.0.40", *client = "198.18.8.9";
	uint32_t b0, b1, other;
	struct run r;
	struct pkt in;
	int ok = 1;

	WHY[0] = 0;
	/* b0 leaves VIP_MISC (its slots go to another backend), its id is reused by VIP_4IN4 */
	b0 = flow_then_other_table(client, 7100, &other, &r, &in);
	B[b0].vip_id = VIP_4IN4;
	inet_pton(AF_INET, "198.19.99.1", B[b0].addr);
	if (!b0 || xlb_backend__set(X, b0, &B[b0]))
		ok = fail("setup: flow on backend %u", b0);
	b1 = send_flow(client, vip, 7100, VIP_MISC, &r, &in);
	ok = ok && check_reason(&in, &r, XLB_R_TX, ev_rehash);
	if (ok && b1 != other)
		ok = fail("flow went to backend %u (%s), expected %u of its own VIP", b1,
			  b1 == b0 ? "the reused id" : "?", other);
	ok = ok && flow_entry_on(client, 7100, other);
	/* and from then on a plain hit again */
	b1 = send_flow(client, vip, 7100, VIP_MISC, &r, &in);
	if (ok && (b1 != other || !check_reason(&in, &r, XLB_R_TX, NULL)))
		ok = fail("second packet after the re-hash: backend %u, %s", b1, WHY);
	tap(ok, "flow on a backend id reused by another VIP is re-hashed and re-recorded", WHY);
}

/*
 * A re-hash overwrites the flow's own way and evicts nothing, even when its bucket is full (an
 * insert there would evict an established flow). The fixture here has a flow table of 8
 * buckets; the 8 flows share one.
 */
static void test_rehash_full_table(void)
{
	static const int ev_rehash[] = { XLB_R_EV_REHASH, 0 };
	int ok = 1, missing = 0;
	const char *vip = "198.18.0.40", *client = "198.18.8.10";
	struct xlb_flow_key k[8];
	uint32_t be[8], moved = 0;
	uint16_t port[8];
	uint8_t a[4], d[4];
	struct xlb_flow f;
	__u64 n0 = 0, n1 = 0;
	struct run r;
	struct pkt in;

	WHY[0] = 0;
	if (fixture_load(64))
		return;
	inet_pton(AF_INET, client, a);
	inet_pton(AF_INET, vip, d);
	if (same_bucket(client, vip, 7200, 8, port) < 0)
		ok = fail("no 8 flows in one bucket");
	for (int i = 0; i < 8 && ok; i++) {
		be[i] = send_flow(client, vip, port[i], VIP_MISC, &r, &in);
		xlb_flow_key__init(&k[i], XLB_AF_INET, a, d, port[i], 80, 6);
		if (!be[i] || xlb_flow__get(X, &k[i], &f))
			ok = fail("flow %d not forwarded and recorded", i);
	}
	if (ok && (xlb_flow__count(X, &n0) || n0 != 8))
		ok = fail("%llu flows recorded, expected 8", (unsigned long long)n0);
	if (ok) {
		uint32_t t[M], other = be[0] == BE(VIP_MISC, 0) ? BE(VIP_MISC, 1) : BE(VIP_MISC, 0);

		/* the backend fails and leaves the table, as xlbd rebuilds it */
		for (int i = 0; i < M; i++)
			t[i] = V[VIP_MISC].table[i] == be[0] ? other : V[VIP_MISC].table[i];
		B[be[0]].flags = 0;
		xlb_backend__set(X, be[0], &B[be[0]]);
		xlb_vip__set_table(X, VIP_MISC, t, M);
		moved = send_flow(client, vip, port[0], VIP_MISC, &r, &in);
		ok = check_reason(&in, &r, XLB_R_TX, ev_rehash);
		B[be[0]].flags = XLB_BE_F_USABLE;
		if (ok && (!moved || moved == be[0]))
			ok = fail("re-hashed to backend %u", moved);
	}
	if (ok && (xlb_flow__get(X, &k[0], &f) || f.backend_id != moved))
		ok = fail("the re-hashed flow's entry is not on backend %u", moved);
	for (int i = 1; i < 8 && ok; i++)
		missing += !!xlb_flow__get(X, &k[i], &f);
	if (ok && (xlb_flow__count(X, &n1) || missing || n1 != n0))
		ok = fail("%d established flows evicted by the re-hash (%llu flows left of %llu)",
			  missing, (unsigned long long)n1, (unsigned long long)n0);
	tap(ok, "re-hash in a full bucket evicts no other flow", WHY);
}

static void test_flood(void)
{
	static const int ev_flood[] = { XLB_R_EV_FLOOD, 0 };
	struct xlb_config c = CFG;
	uint8_t a[4], d[4];
	int ok = 1, recorded = 0, flooded = 0;
	struct run r;
	struct pkt in;

	WHY[0] = 0;
	c.flood_limit = 5;
	xlb__config_set(X, &c);
	inet_pton(AF_INET, "198.18.10.1", a);
	inet_pton(AF_INET, "198.18.0.40", d);
	for (int i = 0; i < 12 && ok; i++) {
		struct xlb_flow_key k;
		struct xlb_flow f;
		uint32_t be = send_flow("198.18.10.1", "198.18.0.40", (uint16_t)(9000 + i),
					VIP_MISC, &r, &in);

		xlb_flow_key__init(&k, XLB_AF_INET, a, d, (uint16_t)(9000 + i), 80, 6);
		if (!be || be != predict(&k, VIP_MISC))
			ok = fail("flow %d not forwarded by hash", i);
		else if (!xlb_flow__get(X, &k, &f))
			recorded++;
		else if (check_reason(&in, &r, XLB_R_TX, ev_flood))
			flooded++;
	}
	if (ok && (recorded != 5 || flooded != 7))
		ok = fail("%d flows recorded, %d flood-guarded; expected 5 and 7 (%s)", recorded,
			  flooded, WHY);
	tap(ok, "flood guard: above the per-CPU limit new flows are forwarded, not recorded",
	    WHY);
}

/*
 * At xlbd's default flood_limit, a SYN flood past the limit leaves the established flows in
 * the flow table: the flood's flows are balanced by hash, not recorded. The fixture has 64
 * flows (8 buckets); 8 saw one packet each, then every CPU's flood window is set to the state
 * a flood leaves after it has recorded all but 4 of this second's XLB_FLOOD_LIMIT_DEFAULT
 * (sending the 124,996 SYNs before would take seconds and cross windows), then 64 more SYNs
 * arrive. 256 with the guard off (flood_limit 0) evict such flows: the check can fail. (Flows
 * that saw two packets outlive any flood: test_dp_buckets.)
 */
static int flood_syns(uint16_t port0, int n, int *recorded, int *guarded)
{
	static const int ev_flood[] = { XLB_R_EV_FLOOD, 0 };
	uint8_t a[4], d[4];
	struct run r;
	struct pkt in;

	inet_pton(AF_INET, "198.18.11.1", a);
	inet_pton(AF_INET, "198.18.0.40", d);
	*recorded = *guarded = 0;
	for (int i = 0; i < n; i++) {
		uint32_t be = send_flow("198.18.11.1", "198.18.0.40", (uint16_t)(port0 + i), VIP_MISC,
					&r, &in);	/* a SYN (pktbuild.h) */
		struct xlb_flow_key k;
		struct xlb_flow f;

		xlb_flow_key__init(&k, XLB_AF_INET, a, d, (uint16_t)(port0 + i), 80, 6);
		if (!be || be != predict(&k, VIP_MISC))
			return fail("SYN %d to backend %u, not by hash", i, be);
		if (!xlb_flow__get(X, &k, &f))
			(*recorded)++;
		else if (check_reason(&in, &r, XLB_R_TX, ev_flood))
			(*guarded)++;
	}
	return 1;
}

static int established_left(const struct xlb_flow_key *k, int n)
{
	struct xlb_flow f;
	int left = 0;

	for (int i = 0; i < n; i++)
		left += !xlb_flow__get(X, &k[i], &f);
	return left;
}

static void test_flood_at_defaults(void)
{
	int ncpu = libbpf_num_possible_cpus(), ok = 1, recorded = 0, guarded = 0, left;
	struct xlb_flood_state st[ncpu > 0 ? ncpu : 1];
	struct xlb_config c;
	struct xlb_flow_key k[8];
	struct timespec now;
	uint8_t a[4], d[4];
	uint32_t zero = 0;
	struct run r;
	struct pkt in;

	WHY[0] = 0;
	if (ncpu <= 0 || fixture_load(64))
		return;
	c = CFG;
	c.flood_limit = XLB_FLOOD_LIMIT_DEFAULT;
	xlb__config_set(X, &c);
	inet_pton(AF_INET, "198.18.10.2", a);
	inet_pton(AF_INET, "198.18.0.40", d);
	for (int i = 0; i < 8 && ok; i++) {
		struct xlb_flow f;

		xlb_flow_key__init(&k[i], XLB_AF_INET, a, d, (uint16_t)(9300 + i), 80, 6);
		if (!send_flow("198.18.10.2", "198.18.0.40", (uint16_t)(9300 + i), VIP_MISC, &r,
			       &in) || xlb_flow__get(X, &k[i], &f))
			ok = fail("established flow %d not recorded", i);
	}
	/* a window that began 1 ms ago (bpf_ktime_get_coarse_ns() is CLOCK_MONOTONIC_COARSE) */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	for (int i = 0; i < ncpu; i++) {
		st[i].window_start = (uint64_t)now.tv_sec * 1000000000ULL +
				     (uint64_t)now.tv_nsec - 1000000ULL;
		st[i].count = XLB_FLOOD_LIMIT_DEFAULT - 4;
	}
	if (ok && bpf_map_update_elem(xlb__map_fd(X, "xlb_flood"), &zero, st, BPF_ANY))
		ok = fail("set the flood windows: %s", strerror(errno));
	ok = ok && flood_syns(9400, 64, &recorded, &guarded);
	if (ok && (recorded != 4 || guarded != 60))
		ok = fail("%d SYNs recorded, %d flood-guarded; expected 4 and 60 (%s)", recorded,
			  guarded, WHY);
	left = established_left(k, 8);
	if (ok && left != 8)
		ok = fail("%d of 8 established flows left after the flood", left);
	tap(ok, "at the default flood_limit a SYN flood past it evicts no established flow", WHY);

	c.flood_limit = 0;
	xlb__config_set(X, &c);
	ok = ok && flood_syns(9500, 256, &recorded, &guarded);
	left = established_left(k, 8);
	if (ok && left == 8)
		ok = fail("flood_limit 0: all 8 one-packet flows survived 256 recorded SYNs");
	tap(ok, "with the flood guard off a longer flood evicts flows that saw one packet", WHY);
}

static void test_fragments_together(void)
{
	struct pspec first = V4(.dst = "198.18.0.20", UDP(90), .frag = 1, .payload = 64);
	struct pspec later = V4(.dst = "198.18.0.20", UDP(90), .frag = 2, .payload = 64);
	struct pspec whole = V4(.dst = "198.18.0.20", .proto = 17, .sport = 1, .dport = 2);
	uint32_t b1, b2;
	struct run r;
	struct pkt in;
	int ok = 1;

	WHY[0] = 0;
	build_pkt(&in, &first);
	run_pkt(&in, &r);
	b1 = backend_of(&in, &r, XLB_MODE_IPIP);
	build_pkt(&in, &later);
	run_pkt(&in, &r);
	b2 = backend_of(&in, &r, XLB_MODE_IPIP);
	if (!b1 || b1 != b2)
		ok = fail("first fragment to backend %u, later fragment to %u", b1, b2);
	(void)whole;
	tap(ok, "first and later fragments of a datagram reach the same backend", WHY);
}

/*
 * fragment_of() - a real fragment of @whole's IP packet (built without IPv4 options or IPv6
 * extension headers): its L4 bytes [@off, @off + @len), @off a multiple of 8, MF if @more,
 * identification @id; an IPv6 fragment gets a fragment header. Checksums as a sender makes them.
 */
static void fragment_of(const struct pkt *whole, uint32_t off, uint32_t len, int more, uint32_t id,
			struct pkt *f)
{
	const uint8_t *ip = whole->b + whole->l3;
	uint8_t *o;

	memset(f, 0, sizeof(*f));
	memcpy(f->b, whole->b, whole->l3);
	f->l3 = whole->l3;
	f->family = whole->family;
	f->tos = whole->tos;
	o = f->b + f->l3;
	if (whole->family == 4) {
		memcpy(o, ip, 20);
		put16(o + 2, (uint16_t)(20 + len));
		put16(o + 4, (uint16_t)id);
		put16(o + 6, (uint16_t)((more ? 0x2000 : 0) | off / 8));
		memcpy(o + 20, ip + 20 + off, len);
		f->l3len = 20 + len;
		f->df = 0;
		ip4_fix_csum(f);
	} else {
		uint8_t *fh = o + 40;

		memcpy(o, ip, 40);
		put16(o + 4, (uint16_t)(8 + len));
		o[6] = 44;
		fh[0] = ip[6];
		fh[1] = 0;
		put16(fh + 2, (uint16_t)(off | !!more));
		put16(fh + 4, (uint16_t)(id >> 16));
		put16(fh + 6, (uint16_t)id);
		memcpy(fh + 8, ip + 40 + off, len);
		f->l3len = 48 + len;
		f->df = 1;
	}
	f->len = f->l3 + f->l3len;
}

/* The xlb_frags key of a datagram of @s with identification @id. */
static void frag_key_of(const struct pspec *s, uint32_t id, struct xlb_frag_key *k)
{
	memset(k, 0, sizeof(*k));
	inet_pton(s->family == 4 ? AF_INET : AF_INET6, s->src, k->src);
	inet_pton(s->family == 4 ? AF_INET : AF_INET6, s->dst, k->dst);
	if (s->family == 4) {
		uint16_t v = htons((uint16_t)id);

		memcpy(&k->id, &v, 2);
	} else {
		k->id = htonl(id);
	}
	k->proto = s->proto;
	k->family = s->family == 4 ? XLB_AF_INET : XLB_AF_INET6;
}

/*
 * Send the datagram @whole as three real fragments (first, middle, last) with identification
 * @id, the first at position @first_at (0, 1 or 2: after one or both later ones, out of order).
 * Each one forwarded must reach backend @want with outer hash @outer (the flow's, as its outer
 * source shows) and its bytes intact; a later one sent before the first must be dropped as
 * drop_frag_orphan (all-ports VIP). Returns 1 or 0 with WHY set.
 */
static int send_fragments(const struct pkt *whole, uint32_t id, int first_at, uint32_t vip,
			  uint32_t want, uint32_t outer)
{
	uint32_t l4 = whole->l3len - (whole->family == 4 ? 20 : 40), cut1 = 24, cut2 = 48;
	struct pkt f[3];
	struct run r;
	int order[3], n = 0;

	fragment_of(whole, 0, cut1, 1, id, &f[0]);
	fragment_of(whole, cut1, cut2 - cut1, 1, id, &f[1]);
	fragment_of(whole, cut2, l4 - cut2, 0, id, &f[2]);
	for (int i = 1; i < 3; i++) {
		if (n == first_at)
			order[n++] = 0;
		order[n++] = i;
	}
	if (n == first_at)
		order[n++] = 0;
	for (int j = 0; j < 3; j++) {
		int i = order[j], before_first = j < first_at;
		uint32_t got;

		if (run_pkt(&f[i], &r))
			return fail("test run failed");
		if (before_first) {
			if (!check_reason(&f[i], &r, XLB_R_DROP_FRAG_ORPHAN, NULL))
				return fail("fragment %d, before the first: %s", i, WHY);
			continue;
		}
		got = backend_of(&f[i], &r, V[vip].mode);
		if (got != want)
			return fail("fragment %d (offset %u) went to backend %u, expected %u", i,
				    i ? (i == 1 ? cut1 : cut2) : 0, got, want);
		if (!check_reason(&f[i], &r, XLB_R_TX, NULL) ||
		    !check_forward(&f[i], &r, V[vip].mode, want, outer)) {
			char why[sizeof(WHY)];

			snprintf(why, sizeof(why), "%s", WHY);
			return fail("fragment %d: %s", i, why);
		}
	}
	return 1;
}

/*
 * Fragments of TCP and UDP flows (issue 12 item 6): the first fragment reaches the backend of its
 * flow, established or new, and the later ones follow it (in order or not); a later fragment
 * whose first was not seen is never guessed; the record expires, and its backend must stay usable.
 */
static void test_frag_flows(int family, uint8_t proto)
{
	const char *pname = proto == 6 ? "tcp" : "udp";
	const char *all = family == 4 ? "198.18.0.20" : "2001:db8::20";
	const char *port_vip = family == 4 ? "198.18.0.10" : "2001:db8::10";
	const char *client = family == 4 ? "198.18.13.1" : "2001:db8:13::1";
	uint32_t vid = family == 4 ? VIP_ALL4 : VIP_ALL6, pvid = family == 4 ? VIP_4IN4 : VIP_6IN6;
	uint32_t id0 = (family == 4 ? 0x7000 : 0x17000) + proto * 16, saved[M], rot[M];
	uint32_t first = BE(vid, 0), flow_be, want, outer;
	struct pspec s = { .family = family, .src = client, .dst = all, .proto = proto,
			   .dport = 8443, .payload = 100 };
	struct xlb_flow_key k, k3;
	struct xlb_frag_key fk;
	struct xlb_frag rec;
	struct xlb_flow fl;
	struct run r;
	struct pkt whole;
	char name[128];
	int ok = 1, frags_fd = xlb__map_fd(X, "xlb_frags");

	/*
	 * 1. An established flow, then a table change: Maglev alone now picks another backend for
	 * the 5-tuple, and the sport is chosen so that the addresses alone (the old rule) would too.
	 */
	WHY[0] = 0;
	memcpy(saved, V[vid].table, sizeof(saved));
	for (int i = 0; i < M; i++)
		rot[i] = first + (saved[i] - first + 1) % 4;
	key_of(&s, &k);
	k3 = k;
	k3.sport = k3.dport = 0;
	for (s.sport = 41000; s.sport < 42000; s.sport++) {
		uint32_t was;

		key_of(&s, &k);
		was = predict(&k, vid);
		if (V[vid].table[hash_of(&k3, vid) % M] == was)
			continue;	/* with the old table, the addresses alone pick another */
		if (rot[hash_of(&k3, vid) % M] != was)
			break;		/* and with the new one too */
	}
	if (s.sport == 42000)
		ok = fail("no client port whose addresses alone pick another backend");
	build_pkt(&whole, &s);
	flow_be = run_pkt(&whole, &r) ? 0 : backend_of(&whole, &r, XLB_MODE_IPIP);
	outer = outer_of(&k);
	if (ok && (!flow_be || flow_be != predict(&k, vid)))
		ok = fail("the whole packet went to backend %u, expected %u", flow_be,
			  predict(&k, vid));
	set_table(vid, rot, M);
	if (ok && predict(&k, vid) == flow_be)
		ok = fail("the new table picks the flow's backend: nothing is tested");
	ok = ok && send_fragments(&whole, id0 + 1, 0, vid, flow_be, outer);
	if (ok && (xlb_flow__get(X, &k, &fl) || fl.backend_id != flow_be))
		ok = fail("the flow entry changed (backend %u)", fl.backend_id);
	frag_key_of(&s, id0 + 1, &fk);
	if (ok && (bpf_map_lookup_elem(frags_fd, &fk, &rec) || rec.backend_id != flow_be ||
		   rec.outer != outer || rec.vip_port != 0))
		ok = fail("record: backend %u outer 0x%x port %u, expected %u 0x%x 0", rec.backend_id,
			  rec.outer, ntohs(rec.vip_port), flow_be, outer);
	snprintf(name, sizeof(name),
		 "v%d %s established flow, table changed: first and later fragments to its backend",
		 family, pname);
	tap(ok, name, WHY);

	/* 2. out of order: the later fragments before the first are dropped, the rest follow */
	WHY[0] = 0;
	ok = send_fragments(&whole, id0 + 2, 1, vid, flow_be, outer);
	ok = ok && send_fragments(&whole, id0 + 3, 2, vid, flow_be, outer);
	snprintf(name, sizeof(name),
		 "v%d %s later fragments before the first: drop_frag_orphan, then they follow it",
		 family, pname);
	tap(ok, name, WHY);

	/* 3. a new flow: the first fragment gets the 5-tuple's slot, creates no flow, is followed */
	WHY[0] = 0;
	s.sport = 42001;
	key_of(&s, &k);
	build_pkt(&whole, &s);
	want = predict(&k, vid);
	ok = send_fragments(&whole, id0 + 4, 0, vid, want, outer_of(&k));
	if (ok && !xlb_flow__get(X, &k, &fl))
		ok = fail("a fragment created a flow-table entry");
	if (ok && (run_pkt(&whole, &r) || backend_of(&whole, &r, XLB_MODE_IPIP) != want))
		ok = fail("the flow's whole packet went elsewhere than its fragments");
	snprintf(name, sizeof(name),
		 "v%d %s new flow: fragments on the 5-tuple's backend, no flow created", family,
		 pname);
	tap(ok, name, WHY);

	/* 4. the record expires; a record whose backend failed is not followed */
	WHY[0] = 0;
	ok = send_fragments(&whole, id0 + 5, 0, vid, want, outer_of(&k));
	frag_key_of(&s, id0 + 5, &fk);
	if (ok && bpf_map_lookup_elem(frags_fd, &fk, &rec))
		ok = fail("no record of the first fragment");
	if (ok) {
		struct pkt later;

		rec.stamp -= (uint32_t)(XLB_FRAG_LIFETIME_NS >> 20) + 2;
		bpf_map_update_elem(frags_fd, &fk, &rec, BPF_EXIST);
		fragment_of(&whole, 24, 24, 1, id0 + 5, &later);
		ok = !run_pkt(&later, &r) && check_reason(&later, &r, XLB_R_DROP_FRAG_ORPHAN, NULL);
		if (!ok) {
			char why[sizeof(WHY)];

			snprintf(why, sizeof(why), "expired record: %s", WHY);
			fail("%s", why);
		}
	}
	if (ok) {
		struct pkt later;

		ok = send_fragments(&whole, id0 + 6, 0, vid, want, outer_of(&k));
		B[want].flags = 0;
		xlb_backend__set(X, want, &B[want]);
		fragment_of(&whole, 48, 24, 1, id0 + 6, &later);
		ok = ok && !run_pkt(&later, &r) &&
		     check_reason(&later, &r, XLB_R_DROP_FRAG_ORPHAN, NULL);
	}
	snprintf(name, sizeof(name),
		 "v%d %s record older than the lifetime, or on a failed backend: drop_frag_orphan",
		 family, pname);
	tap(ok, name, WHY);

	/*
	 * 5. A port VIP (TCP :80, UDP :53): the first fragment follows the established flow and
	 * the later ones follow it (they carry no port: they used to pass to the host).
	 */
	WHY[0] = 0;
	s.dst = port_vip;
	s.dport = proto == 6 ? 80 : 53;
	s.sport = 43000;
	key_of(&s, &k);
	build_pkt(&whole, &s);
	flow_be = run_pkt(&whole, &r) ? 0 : backend_of(&whole, &r, XLB_MODE_IPIP);
	memcpy(saved, V[pvid].table, sizeof(saved));
	for (int i = 0; i < M; i++)
		rot[i] = BE(pvid, 0) + (saved[i] - BE(pvid, 0) + 1) % 4;
	set_table(pvid, rot, M);
	ok = flow_be && send_fragments(&whole, id0 + 7, 0, pvid, flow_be, outer_of(&k));
	frag_key_of(&s, id0 + 7, &fk);
	if (ok && (bpf_map_lookup_elem(frags_fd, &fk, &rec) || rec.vip_port != htons(s.dport)))
		ok = fail("record of the port VIP's fragment: port %u", ntohs(rec.vip_port));
	snprintf(name, sizeof(name), "v%d %s port VIP: the later fragments follow the first",
		 family, pname);
	tap(ok, name, WHY);

	/* 6. a later fragment with no record at a port VIP's address: may be the host's, passes */
	WHY[0] = 0;
	{
		struct pkt later;

		fragment_of(&whole, 24, 24, 1, id0 + 8, &later);
		ok = !run_pkt(&later, &r) && check_reason(&later, &r, XLB_R_PASS_FRAG, NULL) &&
		     check_untouched(&later, &r);
	}
	snprintf(name, sizeof(name),
		 "v%d %s later fragment, no record, port VIP address: passes untouched", family,
		 pname);
	tap(ok, name, WHY);
}

static void test_frag_flows_v4_tcp(void)
{
	test_frag_flows(4, 6);
}

static void test_frag_flows_v4_udp(void)
{
	test_frag_flows(4, 17);
}

static void test_frag_flows_v6_tcp(void)
{
	test_frag_flows(6, 6);
}

static void test_frag_flows_v6_udp(void)
{
	test_frag_flows(6, 17);
}

static const struct scenario scenarios[] = {
	{ "fragments", fixture_fresh, test_fragments },
	{ "sticky_and_rehash", fixture_fresh, test_sticky_and_rehash },
	{ "reused_backend_id", fixture_fresh, test_reused_backend_id },
	{ "rehash_full_table", NULL, test_rehash_full_table },
	{ "flood", fixture_fresh, test_flood },
	{ "flood_at_defaults", NULL, test_flood_at_defaults },
	{ "fragments_together", fixture_fresh, test_fragments_together },
	{ "frag_flows_v4_tcp", fixture_fresh, test_frag_flows_v4_tcp },
	{ "frag_flows_v6_tcp", fixture_fresh, test_frag_flows_v6_tcp },
	{ "frag_flows_v4_udp", fixture_fresh, test_frag_flows_v4_udp },
	{ "frag_flows_v6_udp", fixture_fresh, test_frag_flows_v6_udp },
};

int main(int argc, char **argv)
{
	return harness_main(argc, argv, "datapath: flow table and fragments", scenarios,
			    ARRAY_SIZE(scenarios));
}
