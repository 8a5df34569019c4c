// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests of libxlb's shared rules: name tables, numeric ranges, the HTTP path rule. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>

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
	char buf[128];
	int v;

	(void)state;
	assert_string_equal(xlb_names_list(&xlb_mode_names, NULL, 0, buf, sizeof(buf)),
			    "ipip, gue, l2");
	assert_string_equal(xlb_names_list(&xlb_hash_names, NULL, 0, buf, sizeof(buf)),
			    "5tuple, src");
	assert_string_equal(xlb_names_list(&xlb_state_names, NULL, 0, buf, sizeof(buf)),
			    "active, draining, disabled");
	assert_string_equal(xlb_names_list(&xlb_check_names, NULL, 0, buf, sizeof(buf)),
			    "none, tcp, http, udp");
	assert_string_equal(xlb_names_list(&xlb_iface_mode_names, NULL, 0, buf, sizeof(buf)),
			    "native, generic");
	assert_string_equal(xlb_names_list(&xlb_too_big_names, NULL, 0, buf, sizeof(buf)),
			    "drop, pass, icmp");
	assert_string_equal(xlb_names_list(&xlb_proto_names, NULL, 0, buf, sizeof(buf)),
			    "tcp, udp");
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
	/* the texts the config's and the CLI's messages carry */
	assert_string_equal(xlb_range_text(xlb_range(XLB_RANGE_PORT), buf, sizeof(buf)),
			    "0..65535");
	assert_string_equal(xlb_range_text(xlb_range(XLB_RANGE_PORT_SET), buf, sizeof(buf)),
			    "1..65535");
	assert_string_equal(xlb_range_text(xlb_range(XLB_RANGE_WEIGHT), buf, sizeof(buf)),
			    "0..65535");
	assert_string_equal(xlb_range_text(xlb_range(XLB_RANGE_INTERVAL_MS), buf, sizeof(buf)),
			    "100..3600000");
	assert_string_equal(xlb_range_text(xlb_range(XLB_RANGE_HASH_SEED), buf, sizeof(buf)),
			    "0..4294967295");
	assert_string_equal(xlb_range_text(xlb_range(XLB_RANGE_MTU), buf, sizeof(buf)),
			    "576..9216");

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_tables),
		cmocka_unit_test(test_names_fixed),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_table_sizes_text),
		cmocka_unit_test(test_http_path),
	};

	return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
