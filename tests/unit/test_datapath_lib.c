// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests of the libxlb datapath helpers that need no BPF: flow keys, the shared hash, names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "xlb.h"

static void key4(struct xlb_flow_key *k, const char *src, const char *dst, uint16_t sp,
		 uint16_t dp, uint8_t proto)
{
	uint8_t s[4], d[4];

	assert_int_equal(inet_pton(AF_INET, src, s), 1);
	assert_int_equal(inet_pton(AF_INET, dst, d), 1);
	xlb_flow_key__init(k, XLB_AF_INET, s, d, sp, dp, proto);
}

static void key6(struct xlb_flow_key *k, const char *src, const char *dst, uint16_t sp,
		 uint16_t dp, uint8_t proto)
{
	uint8_t s[16], d[16];

	assert_int_equal(inet_pton(AF_INET6, src, s), 1);
	assert_int_equal(inet_pton(AF_INET6, dst, d), 1);
	xlb_flow_key__init(k, XLB_AF_INET6, s, d, sp, dp, proto);
}

/* The key layout the datapath builds: addresses in network order, unused words and pad zero. */
static void test_flow_key_layout(void **state)
{
	static const uint8_t zero[16];
	struct xlb_flow_key k;
	uint8_t *b = (uint8_t *)&k;

	(void)state;
	memset(&k, 0xaa, sizeof(k));
	key4(&k, "198.18.5.1", "198.18.0.10", 40000, 80, 6);
	assert_memory_equal(b, "\xc6\x12\x05\x01", 4);
	assert_memory_equal(b + 4, zero, 12);
	assert_memory_equal(b + 16, "\xc6\x12\x00\x0a", 4);
	assert_memory_equal(b + 20, zero, 12);
	assert_memory_equal(b + 32, "\x9c\x40\x00\x50", 4); /* ports, network order */
	assert_int_equal(b[36], 6);
	assert_int_equal(b[37], XLB_AF_INET);
	assert_memory_equal(b + 38, zero, 2);

	key6(&k, "2001:db8:5::1", "2001:db8::10", 1, 2, 17);
	assert_memory_equal(b, "\x20\x01\x0d\xb8\x00\x05", 6);
	assert_int_equal(b[31], 0x10);
	assert_int_equal(k.family, XLB_AF_INET6);
	assert_int_equal(ntohs(k.sport), 1);
}

/*
 * Golden values: the hash decides backends on every LB host, and hosts with the same seed must
 * agree across versions. A change here is a change of every flow's backend: bump deliberately.
 */
static void test_flow_hash_golden(void **state)
{
	struct xlb_flow_key k;

	(void)state;
	key4(&k, "198.18.5.1", "198.18.0.10", 40000, 80, 6);
	assert_int_equal(xlb_flow_hash(&k, 0, 0x5eed), 0xde131b10);
	assert_int_equal(xlb_flow_hash(&k, 1, 0x5eed), 0x5e48c59f);
	key6(&k, "2001:db8:5::1", "2001:db8::10", 40000, 80, 17);
	assert_int_equal(xlb_flow_hash(&k, 0, 0x5eed), 0x90f53842);
	assert_int_equal(xlb_flow_hash(&k, 1, 0x5eed), 0x2f313030);
}

/* Source-only hashing ignores ports, destination and protocol; the full hash does not. */
static void test_flow_hash_src_only(void **state)
{
	struct xlb_flow_key a, b;

	(void)state;
	key4(&a, "198.18.5.1", "198.18.0.10", 40000, 80, 6);
	key4(&b, "198.18.5.1", "198.18.0.11", 1234, 443, 17);
	assert_int_equal(xlb_flow_hash(&a, 1, 7), xlb_flow_hash(&b, 1, 7));
	assert_int_not_equal(xlb_flow_hash(&a, 0, 7), xlb_flow_hash(&b, 0, 7));
	key4(&b, "198.18.5.1", "198.18.0.10", 40001, 80, 6);
	assert_int_not_equal(xlb_flow_hash(&a, 0, 7), xlb_flow_hash(&b, 0, 7));
	key4(&b, "198.18.5.1", "198.18.0.10", 40000, 80, 17);
	assert_int_not_equal(xlb_flow_hash(&a, 0, 7), xlb_flow_hash(&b, 0, 7));
	assert_int_not_equal(xlb_flow_hash(&a, 0, 7), xlb_flow_hash(&a, 0, 8));

	key6(&a, "2001:db8:5::1", "2001:db8::10", 1, 80, 6);
	key6(&b, "2001:db8:5::1", "2001:db8::11", 2, 81, 6);
	assert_int_equal(xlb_flow_hash(&a, 1, 7), xlb_flow_hash(&b, 1, 7));
	key6(&b, "2001:db8:5::2", "2001:db8::10", 1, 80, 6);
	assert_int_not_equal(xlb_flow_hash(&a, 1, 7), xlb_flow_hash(&b, 1, 7));
}

/* Hash spread: slots of 65537 over many sources are used about evenly. */
static void test_flow_hash_spread(void **state)
{
	enum { N = 200000, BINS = 16 };
	unsigned int bins[BINS] = { 0 };
	struct xlb_flow_key k;

	(void)state;
	for (uint32_t i = 0; i < N; i++) {
		uint8_t s[4] = { 198, 18, (uint8_t)(i >> 8), (uint8_t)i }, d[4] = { 198, 18, 0, 10 };

		xlb_flow_key__init(&k, XLB_AF_INET, s, d, (uint16_t)(1024 + i % 3), 80, 6);
		bins[xlb_flow_hash(&k, 0, 0x5eed) % XLB_MAGLEV_DEFAULT % BINS]++;
	}
	for (int i = 0; i < BINS; i++) {
		assert_true(bins[i] > N / BINS * 9 / 10);
		assert_true(bins[i] < N / BINS * 11 / 10);
	}
}

/* The Maglev half of the lookup: slot hash % M of the table in hand, the reasons for none. */
static void test_lookup_table(void **state)
{
	const __u32 t[7] = { 11, 12, 13, XLB_BACKEND_NONE, 15, 16, 17 };
	struct xlb_vip plain = { .id = 3 }, src = { .id = 3, .flags = XLB_VIP_F_HASH_SRC };
	struct xlb_flow_key k;
	struct xlb_lookup l;
	int none = 0;

	(void)state;
	key4(&k, "198.18.5.1", "198.18.0.10", 40000, 80, 6);
	xlb_lookup_table(&k, &plain, 0x5eed, t, 7, &l);
	assert_int_equal(l.hash, 0xde131b10);	/* test_flow_hash_golden's */
	assert_int_equal(l.m, 7);
	assert_int_equal(l.slot, 0xde131b10u % 7);
	assert_int_equal(l.backend_id, t[l.slot]);
	assert_false(l.flow_hit);
	xlb_lookup_table(&k, &src, 0x5eed, t, 7, &l);
	assert_int_equal(l.hash, 0x5e48c59f);
	assert_int_equal(l.slot, 0x5e48c59fu % 7);
	/* a slot without a backend, an empty table, no table */
	for (__u16 sp = 1; sp < 200; sp++) {
		key4(&k, "198.18.0.1", "198.18.0.10", sp, 80, 6);
		xlb_lookup_table(&k, &plain, 0x5eed, t, 7, &l);
		assert_int_equal(l.slot, l.hash % 7);
		assert_int_equal(l.backend_id, t[l.slot]);
		assert_int_equal(l.reason, l.slot == 3 ? XLB_R_DROP_NO_BACKEND : 0);
		none += l.slot == 3;
	}
	assert_true(none > 0);
	xlb_lookup_table(&k, &plain, 0x5eed, t, 0, &l);
	assert_int_equal(l.backend_id, XLB_BACKEND_NONE);
	assert_int_equal(l.reason, XLB_R_DROP_NO_BACKEND);
	xlb_lookup_table(&k, &plain, 0x5eed, NULL, 0, &l);
	assert_int_equal(l.backend_id, XLB_BACKEND_NONE);
	assert_int_equal(l.reason, XLB_R_DROP_NO_CONFIG);
}

/* A flow-table entry stays on a backend while it is usable and still the VIP's. */
static void test_flow_hit(void **state)
{
	struct xlb_backend be = { .flags = XLB_BE_F_USABLE, .vip_id = 3 };
	struct xlb_vip v = { .id = 3 }, other = { .id = 4 };

	(void)state;
	assert_true(xlb_flow_hit(&be, &v));
	assert_false(xlb_flow_hit(&be, &other));
	be.flags = 0;
	assert_false(xlb_flow_hit(&be, &v));
}

static void test_reason_names(void **state)
{
	(void)state;
	assert_string_equal(xlb_reason_name(XLB_R_TX), "tx");
	assert_string_equal(xlb_reason_name(XLB_R_PASS_NOT_VIP), "pass_not_vip");
	assert_string_equal(xlb_reason_name(XLB_R_DROP_MALFORMED), "drop_malformed");
	assert_string_equal(xlb_reason_name(XLB_R_EV_ICMP), "icmp_routed");
	assert_string_equal(xlb_reason_name(XLB_R__MAX), "unknown");
	for (unsigned int i = 0; i < XLB_R__MAX; i++)
		for (unsigned int j = i + 1; j < XLB_R__MAX; j++)
			assert_string_not_equal(xlb_reason_name(i), xlb_reason_name(j));
}

static void test_all_ports_bits(void **state)
{
	uint32_t seen = 0;

	(void)state;
	seen |= xlb_all_ports_bit(XLB_AF_INET, 6);
	seen |= xlb_all_ports_bit(XLB_AF_INET, 17);
	seen |= xlb_all_ports_bit(XLB_AF_INET6, 6);
	seen |= xlb_all_ports_bit(XLB_AF_INET6, 17);
	assert_int_equal(seen, 0xf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flow_key_layout),	 cmocka_unit_test(test_flow_hash_golden),
		cmocka_unit_test(test_flow_hash_src_only), cmocka_unit_test(test_flow_hash_spread),
		cmocka_unit_test(test_reason_names),	 cmocka_unit_test(test_all_ports_bits),
		cmocka_unit_test(test_lookup_table),	 cmocka_unit_test(test_flow_hit),
	};

	return cmocka_run_group_tests_name("datapath_lib", tests, NULL, NULL);
}
