// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests of libxlb's shared rules: names, ranges, the HTTP path, ADDR:PORT and VIP parsing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "addr.h"
#include "config.h"
#include "rules.h"

/* Every table: each name parses to its value and back, values and names are unique. */
static void test_name_tables(void **state)
{
	const struct xlb_names *tables[] = {
		&xlb_mode_names,  &xlb_hash_names,	 &xlb_state_names,   &xlb_check_names,
		&xlb_proto_names, &xlb_iface_mode_names, &xlb_too_big_names,
	};
	size_t t, i, j;
	int v;

	(void)state;
	for (t = 0; t < ARRAY_SIZE(tables); t++) {
		const struct xlb_names *n = tables[t];

		assert_true(n->n > 0);
		for (i = 0; i < n->n; i++) {
			assert_int_equal(xlb_name_parse(n, n->v[i].name, &v), 0);
			assert_int_equal(v, n->v[i].value);
			assert_string_equal(xlb_name_of(n, n->v[i].value), n->v[i].name);
			for (j = 0; j < i; j++) {
				assert_int_not_equal(n->v[i].value, n->v[j].value);
				assert_string_not_equal(n->v[i].name, n->v[j].name);
			}
		}
		v = -12345;
		assert_int_equal(xlb_name_parse(n, "nope", &v), -EINVAL);
		assert_int_equal(v, -12345);
		assert_int_equal(xlb_name_parse(n, NULL, &v), -EINVAL);
		assert_string_equal(xlb_name_of(n, -1), "?");
	}
}

/* The names the config, the API and the CLI write, fixed: files and scripts depend on them. */
static void test_names_fixed(void **state)
{
	static const struct {
		const struct xlb_names *t;
		const char *names;
	} lists[] = {
		{ &xlb_mode_names, "ipip, gue, l2" },
		{ &xlb_hash_names, "5tuple, src" },
		{ &xlb_state_names, "active, draining, disabled" },
		{ &xlb_check_names, "none, tcp, http, udp" },
		{ &xlb_iface_mode_names, "native, generic" },
		{ &xlb_too_big_names, "drop, pass, icmp" },
		{ &xlb_proto_names, "tcp, udp" },
	};
	char buf[128];
	size_t i;
	int v;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(lists); i++)
		assert_string_equal(xlb_names_list(lists[i].t, NULL, 0, buf, sizeof(buf)),
				    lists[i].names);
	assert_int_equal(xlb_name_parse(&xlb_proto_names, "udp", &v), 0);
	assert_int_equal(v, IPPROTO_UDP);
	assert_string_equal(xlb_cfg_proto_name(IPPROTO_TCP), "tcp");
	assert_string_equal(xlb_cfg_proto_name(IPPROTO_ICMP), "?");
	assert_string_equal(xlb_cfg_mode_name(XLB_MODE_L2), "l2");
	assert_string_equal(xlb_cfg_hash_name(XLB_HASH_SRC), "src");
	assert_string_equal(xlb_cfg_state_name(XLB_STATE_DRAINING), "draining");
	assert_string_equal(xlb_cfg_check_name(XLB_CHECK_HTTP), "http");
	assert_int_equal(xlb_name_parse(&xlb_mode_names, "IPIP", &v), -EINVAL); /* exact case */
	/* a listing order of the caller's, and a buffer too short: cut, still terminated */
	{
		static const int order[] = { XLB_CHECK_TCP, XLB_CHECK_HTTP, XLB_CHECK_UDP,
					     XLB_CHECK_NONE };

		assert_string_equal(xlb_names_list(&xlb_check_names, order, 4, buf, sizeof(buf)),
				    "tcp, http, udp, none");
		assert_string_equal(xlb_names_list(&xlb_check_names, NULL, 0, buf, 8), "none, t");
	}
}

static void test_ranges(void **state)
{
	static const char *const texts[XLB_RANGE__MAX] = {
		[XLB_RANGE_PORT] = "0..65535",
		[XLB_RANGE_PORT_SET] = "1..65535",
		[XLB_RANGE_WEIGHT] = "0..65535",
		[XLB_RANGE_INTERVAL_MS] = "100..3600000",
		[XLB_RANGE_TIMEOUT_MS] = "10..3600000",
		[XLB_RANGE_RISE] = "1..1000",
		[XLB_RANGE_FALL] = "1..1000",
		[XLB_RANGE_EXPECT] = "100..599",
		[XLB_RANGE_TABLE_SIZE] = "0..655373",
		[XLB_RANGE_TABLE_SIZE_SET] = "1..655373",
		[XLB_RANGE_HASH_SEED] = "0..4294967295",
		[XLB_RANGE_FLOW_TABLE_SIZE] = "1024..67108864",
		[XLB_RANGE_ENCAP4_BITS] = "0..16",
		[XLB_RANGE_MTU] = "576..9216",
		[XLB_RANGE_FLOOD_LIMIT] = "0..4294967295",
		[XLB_RANGE_JITTER_PCT] = "0..50",
		[XLB_RANGE_INTER_MS] = "10..3600000",
		[XLB_RANGE_AGENT_INTERVAL_MS] = "0..3600000",
		[XLB_RANGE_SLOW_START_MS] = "0..3600000",
		[XLB_RANGE_DRAIN_TIMEOUT_MS] = "0..86400000",
		[XLB_RANGE_PCT] = "0..100",
		[XLB_RANGE_REBUILD_MS] = "0..60000",
		[XLB_RANGE_MAX_VIPS] = "16..32768",
		[XLB_RANGE_MAX_BACKENDS] = "256..65536",
		[XLB_RANGE_MON_SAMPLE] = "1..1000000",
		[XLB_RANGE_MON_COUNT] = "1..4294967295",
		[XLB_RANGE_ETCD_TIMEOUT_MS] = "50..60000",
		[XLB_RANGE_ETCD_RETRY_MS] = "100..60000",
		[XLB_RANGE_ETCD_TTL_S] = "2..600",
	};
	char buf[XLB_RANGE_TEXT_LEN];
	uint32_t v;
	size_t i;

	(void)state;
	for (i = 0; i < XLB_RANGE__MAX; i++) {
		const struct xlb_range *r = xlb_range(i);

		assert_non_null(r->name);
		assert_true(r->min <= r->max);
		assert_true(xlb_range_has(r, r->min));
		assert_true(xlb_range_has(r, r->max));
		assert_false(xlb_range_has(r, (long long)r->max + 1));
		assert_false(xlb_range_has(r, (long long)r->min - 1));
		assert_true(strlen(xlb_range_text(r, buf, sizeof(buf))) < sizeof(buf));
	}
	/* every range, as the config's and the CLI's messages state it */
	for (i = 0; i < XLB_RANGE__MAX; i++)
		assert_string_equal(xlb_range_text(xlb_range(i), buf, sizeof(buf)), texts[i]);

	/* parsing: decimal digits only, at most 10, within the range */
	assert_int_equal(xlb_range_parse(xlb_range(XLB_RANGE_PORT), "65535", 5, &v), 0);
	assert_int_equal(v, 65535);
	assert_int_equal(xlb_range_parse(xlb_range(XLB_RANGE_PORT), "0080", 4, &v), 0);
	assert_int_equal(v, 80);
	assert_int_equal(xlb_range_parse(xlb_range(XLB_RANGE_PORT), "8080/tcp", 4, &v), 0);
	assert_int_equal(v, 8080);
	assert_int_equal(xlb_range_parse(xlb_range(XLB_RANGE_PORT), "65536", 5, &v), -EINVAL);
	assert_int_equal(xlb_range_parse(xlb_range(XLB_RANGE_PORT), "", 0, &v), -EINVAL);
	assert_int_equal(xlb_range_parse(xlb_range(XLB_RANGE_PORT), "-1", 2, &v), -EINVAL);
	assert_int_equal(xlb_range_parse(xlb_range(XLB_RANGE_PORT), "+1", 2, &v), -EINVAL);
	assert_int_equal(xlb_range_parse(xlb_range(XLB_RANGE_PORT), " 1", 2, &v), -EINVAL);
	assert_int_equal(xlb_range_parse(xlb_range(XLB_RANGE_PORT), "00000000080", 11, &v),
			 -EINVAL);
	assert_int_equal(xlb_range_parse(xlb_range(XLB_RANGE_HASH_SEED), "4294967295", 10, &v), 0);
	assert_int_equal(v, 4294967295u);
	assert_int_equal(xlb_range_parse(xlb_range(XLB_RANGE_HASH_SEED), "4294967296", 10, &v),
			 -EINVAL);
	assert_int_equal(xlb_range_parse(xlb_range(XLB_RANGE_HASH_SEED), "9999999999", 10, &v),
			 -EINVAL);
	assert_int_equal(xlb_range_parse(xlb_range(XLB_RANGE_RISE), "0", 1, &v), -EINVAL);
	assert_int_equal(xlb_range_parse(xlb_range(XLB_RANGE_EXPECT), "1e3", 3, &v), -EINVAL);
}

static void test_table_sizes_text(void **state)
{
	char buf[256], small[12];

	(void)state;
	xlb_table_sizes_text(buf, sizeof(buf));
	assert_int_equal(strncmp(buf, "251, 509, 1021, ", 16), 0);
	assert_non_null(strstr(buf, ", 65537, "));
	assert_string_equal(xlb_table_sizes_text(small, sizeof(small)), "251, 509, 1"); /* cut */
}

/*
 * The HTTP path rule. It is the stricter of the two the CLI and the config had: the CLI
 * refused non-ASCII and control bytes the config took, the config refused the long paths the
 * CLI took; now both refuse both.
 */
static void test_http_path(void **state)
{
	char p[XLB_HTTP_PATH_MAX + 1];

	(void)state;
	assert_true(xlb_http_path_ok("/"));
	assert_true(xlb_http_path_ok("/healthz"));
	assert_true(xlb_http_path_ok("/a?b=c&d=%20#x~"));
	assert_false(xlb_http_path_ok(NULL));
	assert_false(xlb_http_path_ok(""));
	assert_false(xlb_http_path_ok("health"));
	assert_false(xlb_http_path_ok("/a b"));
	assert_false(xlb_http_path_ok("/a\tb"));
	assert_false(xlb_http_path_ok("/a\r\n"));
	assert_false(xlb_http_path_ok("/caf\xc3\xa9"));	/* was accepted by the config */
	assert_false(xlb_http_path_ok("/a\x01" "b"));	/* was accepted by the config */
	assert_false(xlb_http_path_ok("/a\x7f"));
	memset(p, 'a', sizeof(p));
	p[0] = '/';
	p[XLB_HTTP_PATH_MAX - 1] = '\0';		/* 255 bytes: the longest */
	assert_true(xlb_http_path_ok(p));
	p[XLB_HTTP_PATH_MAX - 1] = 'a';
	p[XLB_HTTP_PATH_MAX] = '\0';			/* 256 bytes: was accepted by the CLI */
	assert_false(xlb_http_path_ok(p));
}

struct hp_case {
	const char *in;
	bool need_port;
	enum xlb_hostport_err err;
	const char *bad;	/* the part at fault, or the canonical ADDR:PORT when accepted */
	__u8 family;		/* accepted: its family; refused: the family the form implies */
};

/* What the CLI's messages are made of: the reason and the part of the input at fault. */
static const struct hp_case hp_cases[] = {
	{ "198.18.0.1:80", true, XLB_HOSTPORT_OK, "198.18.0.1:80", XLB_AF_INET },
	{ "198.18.0.1:0080", true, XLB_HOSTPORT_OK, "198.18.0.1:80", XLB_AF_INET },
	{ "[2001:db8::1]:443", true, XLB_HOSTPORT_OK, "[2001:db8::1]:443", XLB_AF_INET6 },
	{ "[2001:DB8:0::1]:1", true, XLB_HOSTPORT_OK, "[2001:db8::1]:1", XLB_AF_INET6 },
	{ "198.18.0.1", false, XLB_HOSTPORT_OK, "198.18.0.1:0", XLB_AF_INET },
	{ "[2001:db8::1]", false, XLB_HOSTPORT_OK, "[2001:db8::1]:0", XLB_AF_INET6 },
	{ "2001:db8::1", false, XLB_HOSTPORT_OK, "[2001:db8::1]:0", XLB_AF_INET6 },
	{ "198.18.0.1", true, XLB_HOSTPORT_E_NO_PORT, "198.18.0.1", XLB_AF_INET },
	{ "2001:db8::1", true, XLB_HOSTPORT_E_NO_PORT, "2001:db8::1", XLB_AF_INET6 },
	{ "2001:db8::1:80", true, XLB_HOSTPORT_E_NO_PORT, "2001:db8::1:80", XLB_AF_INET6 },
	{ "[2001:db8::1]", true, XLB_HOSTPORT_E_NO_PORT, "[2001:db8::1]", XLB_AF_INET6 },
	{ "[2001:db8::1:80", true, XLB_HOSTPORT_E_BRACKET, "[2001:db8::1:80", XLB_AF_INET },
	{ "[2001:db8::1]x", false, XLB_HOSTPORT_E_TRAILING, "x", XLB_AF_INET },
	{ "[2001:db8::1]]:80", false, XLB_HOSTPORT_E_TRAILING, "]:80", XLB_AF_INET },
	{ "[198.18.0.1]:80", true, XLB_HOSTPORT_E_ADDR, "198.18.0.1", XLB_AF_INET6 },
	{ "198.18.0.300:80", true, XLB_HOSTPORT_E_ADDR, "198.18.0.300", XLB_AF_INET },
	{ ":80", true, XLB_HOSTPORT_E_ADDR, "", XLB_AF_INET },
	{ "", false, XLB_HOSTPORT_E_ADDR, "", XLB_AF_INET },
	{ "[]:80", true, XLB_HOSTPORT_E_ADDR, "", XLB_AF_INET6 },
	{ "2001:db8:1:::2", false, XLB_HOSTPORT_E_ADDR, "2001:db8:1:::2", XLB_AF_INET6 },
	{ "198.18.0.1:", true, XLB_HOSTPORT_E_PORT, "", XLB_AF_INET },
	{ "198.18.0.1:65536", true, XLB_HOSTPORT_E_PORT, "65536", XLB_AF_INET },
	{ "198.18.0.1:-1", true, XLB_HOSTPORT_E_PORT, "-1", XLB_AF_INET },
	{ "198.18.0.1: 80", true, XLB_HOSTPORT_E_PORT, " 80", XLB_AF_INET },
	{ "198.18.0.1:00000000080", true, XLB_HOSTPORT_E_PORT, "00000000080", XLB_AF_INET },
	{ "[2001:db8::1]:8x", true, XLB_HOSTPORT_E_PORT, "8x", XLB_AF_INET6 },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:80", true,
	  XLB_HOSTPORT_E_LONG, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  XLB_AF_INET },
};

static void test_hostport(void **state)
{
	struct xlb_hostport hp;
	char buf[64];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(hp_cases); i++) {
		const struct hp_case *c = &hp_cases[i];
		int ret = xlb_hostport_parse(c->in, strlen(c->in), c->need_port, &hp);

		if (ret != (c->err ? -EINVAL : 0) || hp.err != c->err || hp.family != c->family) {
			print_error("\"%s\": returned %d, reason %d, family %u\n", c->in, ret, hp.err,
				    hp.family);
			fail();
		}
		if (c->err) {
			assert_int_equal(hp.bad_len, strlen(c->bad));
			assert_memory_equal(hp.bad, c->bad, hp.bad_len);
		} else {
			assert_string_equal(xlb_hostport_format(hp.addr, hp.family, hp.port, buf,
								sizeof(buf)), c->bad);
		}
	}
	assert_int_equal(xlb_hostport_parse("198.18.0.1:0", 12, false, &hp), 0);
	assert_true(hp.has_port);
	assert_int_equal(xlb_hostport_parse("2001:db8::1", 11, false, &hp), 0);
	assert_false(hp.has_port);
	/* the length bounds the text: a VIP's address part is parsed in place */
	assert_int_equal(xlb_hostport_parse("198.18.0.1:80/tcp", 13, true, &hp), 0);
	assert_int_equal(hp.port, 80);
}

static void test_vip_parse(void **state)
{
	struct xlb_hostport hp;
	char buf[96];

	(void)state;
	assert_int_equal(xlb_vip_parse("[2001:db8::10]:443/udp", &hp), 0);
	assert_int_equal(hp.proto, IPPROTO_UDP);
	assert_string_equal(xlb_vip_format(hp.addr, hp.family, hp.port, hp.proto, buf, sizeof(buf)),
			    "[2001:db8::10]:443/udp");
	assert_int_equal(xlb_vip_parse("198.18.0.10:0/tcp", &hp), 0);
	assert_string_equal(xlb_vip_format(hp.addr, hp.family, hp.port, hp.proto, buf, sizeof(buf)),
			    "198.18.0.10:0/tcp");
	assert_string_equal(xlb_vip_format(hp.addr, hp.family, hp.port, hp.proto, buf, 8),
			    "198.18.");
	/* reasons in reading order: the form, the address and port, then the protocol */
	assert_int_equal(xlb_vip_parse("198.18.0.10:80", &hp), -EINVAL);
	assert_int_equal(hp.err, XLB_HOSTPORT_E_VIP);
	assert_int_equal(xlb_vip_parse(NULL, &hp), -EINVAL);
	assert_int_equal(hp.err, XLB_HOSTPORT_E_VIP);
	assert_int_equal(xlb_vip_parse("198.18.0.300:80/icmp", &hp), -EINVAL);
	assert_int_equal(hp.err, XLB_HOSTPORT_E_ADDR);
	assert_int_equal(xlb_vip_parse("198.18.0.10:80/icmp", &hp), -EINVAL);
	assert_int_equal(hp.err, XLB_HOSTPORT_E_PROTO);
	assert_int_equal(hp.bad_len, 4);
	assert_memory_equal(hp.bad, "icmp", 4);
	assert_int_equal(xlb_vip_parse("198.18.0.10:80/", &hp), -EINVAL);
	assert_int_equal(hp.err, XLB_HOSTPORT_E_PROTO);
	assert_int_equal(xlb_vip_parse("198.18.0.10:80/TCP", &hp), -EINVAL);
	assert_int_equal(xlb_vip_parse("198.18.0.10:/tcp", &hp), -EINVAL);
	assert_int_equal(hp.err, XLB_HOSTPORT_E_PORT);
	assert_int_equal(hp.bad_len, 0);
	assert_int_equal(xlb_vip_parse("[::1/tcp]:80/tcp", &hp), -EINVAL);
	assert_int_equal(hp.err, XLB_HOSTPORT_E_ADDR);
}

/* Text made fit for a JSON string: whole valid characters kept, every other byte a '?'. */
static void test_utf8_clean(void **state)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		{ "plain ASCII", "plain ASCII" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "cut \xc3", "cut ?" },	/* a message cut inside a character */
		{ "cut \xe2\x82", "cut ??" },
		{ "cut \xf0\x9f\x98", "cut ???" },
		{ "\xff\xfe", "??" },				/* never UTF-8 */
		{ "a\x80" "b", "a?b" },	/* a lone continuation byte */
		{ "\xc0\xaf", "??" },				/* overlong "/" */
		{ "\xed\xa0\x80", "???" },			/* a surrogate */
		{ "\xf4\x90\x80\x80", "????" },		/* above U+10FFFF */
		{ "\xe2\x82x", "??x" },
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		snprintf(buf, sizeof(buf), "%s", t[i].in);
		assert_string_equal(xlb_utf8_clean(buf), t[i].out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_tables),
		cmocka_unit_test(test_names_fixed),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_table_sizes_text),
		cmocka_unit_test(test_http_path),
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_vip_parse),
		cmocka_unit_test(test_utf8_clean),
	};

	return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
