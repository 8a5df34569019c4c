// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Datapath scenarios of the flow table's buckets (struct xlb_flow_bucket): eight flows fill a
 * bucket, the victim of a ninth is an unreferenced flow (a flow that saw one packet) before a
 * referenced one, a bucket of referenced flows gives every one a second chance; a SYN flood
 * with no flood guard evicts only flows that saw one packet; a way with the flow's tag but
 * another VIP's id (a collision crafted with xlb_flow__set()) never reaches that VIP's backend;
 * a hit on a backend id of another VIP re-hashes in place. Frames go through the loaded program;
 * each scenario loads its own balancer (fixture.c) in a process of its own.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "fixture.h"

#define CLIENT "198.18.12.1"
#define MISC "198.18.0.40"	/* VIP_MISC, TCP :80 */

/* One TCP packet of CLIENT:@sport to VIP_MISC, an ACK (flow table first) or a SYN. */
static uint32_t misc_pkt(uint16_t sport, int syn, struct run *r, struct pkt *in)
{
	struct pspec s = { .family = 4, .src = CLIENT, .dst = MISC, .proto = 6, .sport = sport,
			   .dport = 80, .payload = 10 };

	build_pkt(in, &s);
	if (!syn)
		in->b[in->l3 + 20 + 13] = 0x10;	/* ACK (no TCP checksum is checked) */
	if (run_pkt(in, r))
		return 0;
	return backend_of(in, r, V[VIP_MISC].mode);
}

static struct xlb_flow_key misc_key(uint16_t sport)
{
	struct pspec s = { .family = 4, .src = CLIENT, .dst = MISC, .proto = 6, .sport = sport,
			   .dport = 80 };
	struct xlb_flow_key k;

	key_of(&s, &k);
	return k;
}

/* Flow @sport of VIP_MISC is recorded in @bucket on its predicted backend, into @f. */
static int recorded(uint16_t sport, int bucket, struct xlb_flow *f)
{
	struct xlb_flow_key k = misc_key(sport);

	if (xlb_flow__find(X, &k, VIP_MISC, f))
		return fail("flow :%u not recorded", sport);
	if ((int)f->bucket != bucket || f->backend_id != predict(&k, VIP_MISC))
		return fail("flow :%u in bucket %u on backend %u, expected %d and %u", sport,
			    f->bucket, f->backend_id, bucket, predict(&k, VIP_MISC));
	return 1;
}

static int present(uint16_t sport)
{
	struct xlb_flow_key k = misc_key(sport);
	struct xlb_flow f;

	return !xlb_flow__find(X, &k, VIP_MISC, &f);
}

/* A flow table of 8 buckets: 64 flows. */
static int small_table(void)
{
	return fixture_load(64);
}

/*
 * Eight flows fill a bucket; two packets mark four of them referenced; a ninth evicts one of
 * the four that saw one packet; with all eight referenced, a tenth clears every referenced bit
 * and takes its start way (tag % 8).
 */
static void test_fill_and_victims(void)
{
	uint16_t p[10];
	struct xlb_flow f;
	uint32_t used = 0, bucket, tag;
	int b, ok = 1, gone = 0;
	__u64 n = 0;
	struct run r;
	struct pkt in;

	WHY[0] = 0;
	b = same_bucket(CLIENT, MISC, 20000, 10, p);
	ok = b >= 0 || fail("no 10 flows in one bucket");
	for (int i = 0; ok && i < 8; i++) {
		struct xlb_flow_key k = misc_key(p[i]);

		ok = misc_pkt(p[i], 0, &r, &in) == predict(&k, VIP_MISC) ||
		     fail("flow %d not forwarded by hash", i);
		ok = ok && recorded(p[i], b, &f);
		if (ok && f.referenced)
			ok = fail("flow %d referenced after one packet", i);
		if (ok && (used & 1U << f.way))
			ok = fail("flow %d in way %u, taken already", i, f.way);
		used |= 1U << f.way;
	}
	if (ok && (xlb_flow__count(X, &n) || n != 8))
		ok = fail("%llu flows counted, expected 8", (unsigned long long)n);
	tap(ok, "8 flows fill one bucket, one way each, unreferenced, counted 8", WHY);

	WHY[0] = 0;
	for (int i = 0; ok && i < 4; i++) {
		ok = misc_pkt(p[i], 0, &r, &in) != 0 && recorded(p[i], b, &f);
		if (ok && !f.referenced)
			ok = fail("flow %d not referenced after its second packet", i);
	}
	ok = ok && misc_pkt(p[8], 1, &r, &in) != 0 && recorded(p[8], b, &f);
	for (int i = 0; ok && i < 4; i++)
		if (!present(p[i]))
			ok = fail("referenced flow %d evicted", i);
	for (int i = 4; ok && i < 8; i++)
		gone += !present(p[i]);
	if (ok && gone != 1)
		ok = fail("%d of the 4 unreferenced flows gone, expected 1", gone);
	if (ok && (xlb_flow__count(X, &n) || n != 8))
		ok = fail("%llu flows counted, expected 8", (unsigned long long)n);
	tap(ok, "a 9th flow evicts an unreferenced flow, never a referenced one", WHY);

	WHY[0] = 0;
	for (int i = 0; ok && i < 9; i++)
		if (present(p[i]))
			ok = misc_pkt(p[i], 0, &r, &in) != 0 && recorded(p[i], b, &f) &&
			     (f.referenced || fail("flow %d not referenced", i));
	ok = ok && misc_pkt(p[9], 0, &r, &in) != 0 && recorded(p[9], b, &f);
	{
		struct xlb_flow_key k = misc_key(p[9]);

		ok = ok && !xlb_flow__place(X, &k, &bucket, &tag);
	}
	if (ok && f.way != tag % XLB_FLOW_WAYS)
		ok = fail("the 10th flow in way %u, expected its start way %u", f.way,
			  tag % XLB_FLOW_WAYS);
	gone = 0;
	for (int i = 0; ok && i < 9; i++) {
		struct xlb_flow_key k = misc_key(p[i]);

		if (xlb_flow__find(X, &k, VIP_MISC, &f))
			gone++;
		else if (f.referenced)
			ok = fail("flow %d still referenced after the sweep", i);
	}
	if (ok && gone != 2)
		ok = fail("%d of 9 flows gone, expected 2 (one before, one now)", gone);
	tap(ok, "all 8 referenced: a new flow clears every referenced bit, takes its start way",
	    WHY);
}

/*
 * A SYN flood with the flood guard off (flood_limit 0): every SYN is recorded, and the victims
 * are the flood's own entries and flows that saw one packet; 8 flows that saw two packets (at
 * most 4 in a bucket) all stay. The kernel's LRU evicted them (the least recently used first).
 */
static void test_syn_flood_spares_referenced(void)
{
	struct xlb_config c = CFG;
	uint16_t est[8], once[8];
	int ok = 1, left = 0, once_left = 0, inb[8] = { 0 }, n = 0;
	struct xlb_flow f;
	uint32_t bk, tag;
	struct run r;
	struct pkt in;

	WHY[0] = 0;
	c.flood_limit = 0;
	xlb__config_set(X, &c);
	/* 8 established flows, at most 4 in any bucket */
	for (uint16_t p = 21000; n < 8 && p < 22000; p++) {
		struct xlb_flow_key k = misc_key(p);

		if (xlb_flow__place(X, &k, &bk, &tag) || inb[bk] >= 4)
			continue;
		inb[bk]++;
		est[n++] = p;
	}
	ok = n == 8 || fail("no 8 ports");
	for (int i = 0; ok && i < 8; i++)
		ok = (misc_pkt(est[i], 1, &r, &in) && misc_pkt(est[i], 0, &r, &in)) ||
		     fail("established flow %d not forwarded", i);
	for (int i = 0; ok && i < 8; i++) {
		struct xlb_flow_key k = misc_key(est[i]);

		ok = (!xlb_flow__find(X, &k, VIP_MISC, &f) && f.referenced) ||
		     fail("established flow %d not referenced", i);
		once[i] = (uint16_t)(22000 + i);
		ok = ok && misc_pkt(once[i], 1, &r, &in) != 0;
	}
	for (int i = 0; ok && i < 512; i++)
		ok = misc_pkt((uint16_t)(30000 + i), 1, &r, &in) != 0 ||
		     fail("SYN %d not forwarded", i);
	for (int i = 0; ok && i < 8; i++) {
		left += present(est[i]);
		once_left += present(once[i]);
	}
	if (ok && left != 8)
		ok = fail("%d of 8 flows that saw two packets left after 512 SYNs", left);
	if (ok && once_left == 8)
		ok = fail("all 8 flows that saw one packet survived 512 recorded SYNs");
	tap(ok, "flood_limit 0: a SYN flood evicts flows that saw one packet, never those that saw "
		"two", WHY);
}

/*
 * A way holding the flow's tag under another VIP (VIP_4IN4, on its backend), crafted with
 * xlb_flow__set(): the packet of VIP_MISC goes to VIP_MISC's backend by hash, in both lookup
 * orders, and is recorded in another way; the other VIP's way is kept.
 */
static void test_collision_other_vip(void)
{
	static const int none[] = { 0 };
	uint32_t foreign = BE(VIP_4IN4, 0), be;
	struct xlb_flow f, g;
	int ok = 1;
	struct run r;
	struct pkt in;

	for (int syn = 0; syn < 2; syn++) {
		uint16_t port = (uint16_t)(23000 + syn);
		struct xlb_flow_key k = misc_key(port);

		WHY[0] = 0;
		ok = xlb_flow__set(X, &k, foreign, VIP_4IN4) == 0 || fail("xlb_flow__set");
		for (int i = 0; ok && i < 2; i++) {
			be = misc_pkt(port, syn, &r, &in);
			ok = check_reason(&in, &r, XLB_R_TX, none);
			if (ok && be != predict(&k, VIP_MISC))
				ok = fail("packet %d to backend %u, expected VIP_MISC's %u (the "
					  "colliding way's is %u)", i, be, predict(&k, VIP_MISC),
					  foreign);
		}
		if (ok && (xlb_flow__find(X, &k, VIP_MISC, &f) ||
			   f.backend_id != predict(&k, VIP_MISC)))
			ok = fail("not recorded for VIP_MISC on its backend");
		if (ok && (xlb_flow__find(X, &k, VIP_4IN4, &g) || g.backend_id != foreign ||
			   g.way == f.way || g.bucket != f.bucket))
			ok = fail("the other VIP's way was overwritten");
		tap(ok, syn ? "SYN: a tag collision with another VIP's way: never its backend, "
			      "recorded beside it" :
			      "a tag collision with another VIP's way: never its backend, recorded "
			      "beside it", WHY);
	}
}

/* The flow's way names a backend id that belongs to another VIP: re-hash, in the same way. */
static void test_rehash_in_place(void)
{
	static const int ev_rehash[] = { XLB_R_EV_REHASH, 0 };
	struct xlb_flow_key k = misc_key(24000);
	struct xlb_flow f0, f;
	uint32_t be;
	int ok;
	__u64 n0 = 0, n1 = 0;
	struct run r;
	struct pkt in;

	WHY[0] = 0;
	ok = xlb_flow__set(X, &k, BE(VIP_4IN4, 0), VIP_MISC) == 0 || fail("xlb_flow__set");
	ok = ok && !xlb_flow__find(X, &k, VIP_MISC, &f0) && !xlb_flow__count(X, &n0);
	be = ok ? misc_pkt(24000, 0, &r, &in) : 0;
	ok = ok && check_reason(&in, &r, XLB_R_TX, ev_rehash);
	if (ok && be != predict(&k, VIP_MISC))
		ok = fail("to backend %u, expected %u", be, predict(&k, VIP_MISC));
	ok = ok && recorded(24000, (int)f0.bucket, &f);
	if (ok && f.way != f0.way)
		ok = fail("re-hashed into way %u, the flow was in way %u", f.way, f0.way);
	if (ok && (xlb_flow__count(X, &n1) || n1 != n0))
		ok = fail("%llu flows after the re-hash, %llu before", (unsigned long long)n1,
			  (unsigned long long)n0);
	tap(ok, "hit on another VIP's backend id: re-hash (rehash +1) in the flow's own way", WHY);
}

static const struct scenario scenarios[] = {
	{ "fill_and_victims", small_table, test_fill_and_victims },
	{ "syn_flood_spares_referenced", small_table, test_syn_flood_spares_referenced },
	{ "collision_other_vip", fixture_fresh, test_collision_other_vip },
	{ "rehash_in_place", fixture_fresh, test_rehash_in_place },
};

int main(int argc, char **argv)
{
	return harness_main(argc, argv, "datapath: flow table buckets", scenarios,
			    ARRAY_SIZE(scenarios));
}
