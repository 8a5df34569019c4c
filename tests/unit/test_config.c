// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests of the xlbd configuration: bad configs rejected by JSON path, round trips, save. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <cmocka.h>
#include <jansson.h>

#include "config_file.h"

static const char good_config[] =
	"{\n"
	"  \"interfaces\": [{\"name\": \"eth0\", \"mode\": \"native\"}, {\"name\": \"eth1\", \"mode\": \"generic\"}],\n"
	"  \"nexthop_mac\": \"02:00:00:00:00:01\",\n"
	"  \"hash_seed\": 4294967295,\n"
	"  \"flow_table_size\": 65536,\n"
	"  \"encap_source4\": \"198.18.0.1\",\n"
	"  \"encap_source4_bits\": 8,\n"
	"  \"encap_source6\": \"2001:db8::1\",\n"
	"  \"mtu\": 9000,\n"
	"  \"flood_limit\": 10000,\n"
	"  \"gue_port\": 6081,\n"
	"  \"too_big\": \"pass\",\n"
	"  \"vips\": [\n"
	"    {\"address\": \"198.18.0.10\", \"port\": 80, \"proto\": \"tcp\", \"backends\": [\n"
	"      {\"address\": \"198.18.1.1\", \"weight\": 100},\n"
	"      {\"address\": \"198.18.1.1\", \"port\": 8080, \"weight\": 0, \"state\": \"draining\"},\n"
	"      {\"address\": \"2001:db8:1::2\", \"state\": \"disabled\",\n"
	"       \"check\": {\"type\": \"http\", \"path\": \"/healthz\", \"expect\": 204,\n"
	"                 \"interval_ms\": 500, \"timeout_ms\": 200, \"rise\": 1, \"fall\": 2}}]},\n"
	"    {\"address\": \"2001:db8::10\", \"port\": 0, \"proto\": \"udp\", \"mode\": \"gue\",\n"
	"     \"table_size\": 251, \"hash\": \"src\", \"backends\": [\n"
	"      {\"address\": \"2001:db8:1::3\", \"check\": {\"type\": \"udp\", \"port\": 53}}]},\n"
	"    {\"address\": \"198.18.0.11\", \"port\": 443, \"mode\": \"l2\", \"backends\": [\n"
	"      {\"address\": \"198.18.1.5\", \"mac\": \"02:00:00:00:01:05\",\n"
	"       \"check\": {\"type\": \"tcp\"}}]}\n"
	"  ]\n"
	"}\n";

struct bad_case {
	const char *name;
	const char *json;
	const char *expect; /* substring of the error text: the JSON path and the complaint */
};

#define VIP(body) "{\"vips\": [" body "]}"
#define BE(body) VIP("{\"address\": \"198.18.0.10\", \"port\": 80, \"backends\": [" body "]}")

static const struct bad_case bad_cases[] = {
	{ "bad vip address", VIP("{\"address\": \"198.18.0.300\", \"port\": 80}"),
	  "vips[0].address: not an IPv4 or IPv6 address" },
	{ "bad backend address", BE("{\"address\": \"198.18.1.1\"}, {\"address\": \"nope\"}"),
	  "vips[0].backends[1].address: not an IPv4 or IPv6 address" },
	{ "vip address missing", VIP("{\"port\": 80}"), "vips[0].address: missing" },
	{ "vip port missing", VIP("{\"address\": \"198.18.0.10\"}"), "vips[0].port: missing" },
	{ "vip port 70000", VIP("{\"address\": \"198.18.0.10\", \"port\": 70000}"),
	  "vips[0].port: must be 0..65535" },
	{ "vip port negative", VIP("{\"address\": \"198.18.0.10\", \"port\": -1}"),
	  "vips[0].port: must be 0..65535" },
	{ "vip port string", VIP("{\"address\": \"198.18.0.10\", \"port\": \"80\"}"),
	  "vips[0].port: must be an integer" },
	{ "backend port 70000", BE("{\"address\": \"198.18.1.1\", \"port\": 70000}"),
	  "vips[0].backends[0].port: must be 0..65535" },
	{ "gue_port 0", "{\"gue_port\": 0}", "gue_port: must be 1..65535" },
	{ "gue_port 70000", "{\"gue_port\": 70000}", "gue_port: must be 1..65535" },
	{ "unknown vip mode", VIP("{\"address\": \"198.18.0.10\", \"port\": 80, \"mode\": \"nat\"}"),
	  "vips[0].mode: unknown value \"nat\"" },
	{ "unknown proto", VIP("{\"address\": \"198.18.0.10\", \"port\": 80, \"proto\": \"sctp\"}"),
	  "vips[0].proto: unknown value" },
	{ "unknown hash", VIP("{\"address\": \"198.18.0.10\", \"port\": 80, \"hash\": \"dst\"}"),
	  "vips[0].hash: unknown value" },
	{ "unknown interface mode", "{\"interfaces\": [{\"name\": \"eth0\", \"mode\": \"offload\"}]}",
	  "interfaces[0].mode: unknown value \"offload\"" },
	{ "interface name too long", "{\"interfaces\": [{\"name\": \"abcdefghijklmnopq\"}]}",
	  "interfaces[0].name: not an interface name" },
	{ "duplicate interface", "{\"interfaces\": [{\"name\": \"eth0\"}, {\"name\": \"eth0\"}]}",
	  "interfaces[1].name: duplicate interface" },
	{ "duplicate backend",
	  BE("{\"address\": \"198.18.1.1\", \"port\": 80}, {\"address\": \"198.18.1.1\", \"port\": 80}"),
	  "vips[0].backends[1]: duplicate backend 198.18.1.1 port 80" },
	{ "duplicate vip",
	  VIP("{\"address\": \"198.18.0.10\", \"port\": 80}, {\"address\": \"198.18.0.10\", \"port\": 80}"),
	  "vips[1]: duplicate VIP 198.18.0.10:80/tcp" },
	{ "weight -1", BE("{\"address\": \"198.18.1.1\", \"weight\": -1}"),
	  "vips[0].backends[0].weight: must be 0..65535" },
	{ "weight 65536", BE("{\"address\": \"198.18.1.1\", \"weight\": 65536}"),
	  "vips[0].backends[0].weight: must be 0..65535" },
	{ "weight float", BE("{\"address\": \"198.18.1.1\", \"weight\": 1.5}"),
	  "vips[0].backends[0].weight: must be an integer" },
	{ "unknown state", BE("{\"address\": \"198.18.1.1\", \"state\": \"up\"}"),
	  "vips[0].backends[0].state: unknown value \"up\"" },
	{ "unknown top key", "{\"vipz\": []}", "vipz: unknown key" },
	{ "unknown backend key", BE("{\"address\": \"198.18.1.1\", \"wieght\": 3}"),
	  "vips[0].backends[0].wieght: unknown key" },
	{ "unknown check key", BE("{\"address\": \"198.18.1.1\", \"check\": {\"typ\": \"tcp\"}}"),
	  "vips[0].backends[0].check.typ: unknown key" },
	{ "unknown check type", BE("{\"address\": \"198.18.1.1\", \"check\": {\"type\": \"icmp\"}}"),
	  "vips[0].backends[0].check.type: unknown value \"icmp\"" },
	{ "check path without http",
	  BE("{\"address\": \"198.18.1.1\", \"check\": {\"type\": \"tcp\", \"path\": \"/\"}}"),
	  "vips[0].backends[0].check.path: only for http checks" },
	{ "check timeout above interval",
	  BE("{\"address\": \"198.18.1.1\", \"check\": {\"interval_ms\": 1000, \"timeout_ms\": 2000}}"),
	  "vips[0].backends[0].check.timeout_ms: must not exceed interval_ms" },
	/* the HTTP path rule of the CLI and the config differed; both now refuse all of these */
	{ "check path not ASCII",
	  BE("{\"address\": \"198.18.1.1\", \"check\": {\"type\": \"http\", \"path\": \"/caf\\u00e9\"}}"),
	  "vips[0].backends[0].check.path: must be an absolute URL path (/ then printable ASCII, "
	  "no blank, shorter than 256 bytes)" },
	{ "check path with a control character",
	  BE("{\"address\": \"198.18.1.1\", \"check\": {\"type\": \"http\", \"path\": \"/a\\u0001b\"}}"),
	  "vips[0].backends[0].check.path: must be an absolute URL path" },
	{ "check path relative",
	  BE("{\"address\": \"198.18.1.1\", \"check\": {\"type\": \"http\", \"path\": \"health\"}}"),
	  "vips[0].backends[0].check.path: must be an absolute URL path" },
	{ "check expect out of range",
	  BE("{\"address\": \"198.18.1.1\", \"check\": {\"type\": \"http\", \"expect\": 700}}"),
	  "vips[0].backends[0].check.expect: must be an HTTP status 100..599 or a range" },
	{ "check type unknown", BE("{\"address\": \"198.18.1.1\", \"check\": {\"type\": \"icmp\"}}"),
	  "vips[0].backends[0].check.type: unknown value \"icmp\"" },
	{ "check timeout above interval",
	  BE("{\"address\": \"198.18.1.1\", \"check\": {\"type\": \"tcp\", \"interval_ms\": 200, "
	     "\"timeout_ms\": 300}}"),
	  "vips[0].backends[0].check.timeout_ms: must not exceed interval_ms (200)" },
	{ "check rise 0", BE("{\"address\": \"198.18.1.1\", \"check\": {\"type\": \"tcp\", \"rise\": 0}}"),
	  "vips[0].backends[0].check.rise: must be 1..1000" },
	{ "check jitter 60", BE("{\"address\": \"198.18.1.1\", \"check\": {\"jitter_pct\": 60}}"),
	  "vips[0].backends[0].check.jitter_pct: must be 0..50" },
	{ "check expect range reversed",
	  BE("{\"address\": \"198.18.1.1\", \"check\": {\"type\": \"http\", \"expect\": \"399-200\"}}"),
	  "vips[0].backends[0].check.expect: must be an HTTP status 100..599 or a range" },
	{ "check payload on tcp",
	  BE("{\"address\": \"198.18.1.1\", \"check\": {\"type\": \"tcp\", \"payload\": \"x\"}}"),
	  "vips[0].backends[0].check.payload: only for udp checks" },
	{ "check host on tcp",
	  BE("{\"address\": \"198.18.1.1\", \"check\": {\"type\": \"tcp\", \"host\": \"a\"}}"),
	  "vips[0].backends[0].check.host: only for http checks" },
	{ "check source of the other family",
	  BE("{\"address\": \"198.18.1.1\", \"check\": {\"type\": \"tcp\", \"source\": \"2001:db8::1\"}}"),
	  "vips[0].backends[0].check: source: must be an IPv4 address, as the backend's" },
	{ "check without a port on an all-ports VIP",
	  VIP("{\"address\": \"198.18.0.10\", \"port\": 0, \"backends\": ["
	      "{\"address\": \"198.18.1.1\", \"check\": {\"type\": \"tcp\"}}]}"),
	  "vips[0].backends[0].check: port: required" },
	{ "agent port 70000", BE("{\"address\": \"198.18.1.1\", \"check\": {\"agent_port\": 70000}}"),
	  "vips[0].backends[0].check.agent_port: must be 0..65535" },
	{ "backup not a boolean", BE("{\"address\": \"198.18.1.1\", \"backup\": 1}"),
	  "vips[0].backends[0].backup: must be true or false" },
	{ "no_backend unknown", VIP("{\"address\": \"198.18.0.10\", \"port\": 80, \"no_backend\": \"maybe\"}"),
	  "vips[0].no_backend: unknown value \"maybe\" (expected drop, pass)" },
	{ "min_healthy_pct 101", VIP("{\"address\": \"198.18.0.10\", \"port\": 80, \"min_healthy_pct\": 101}"),
	  "vips[0].min_healthy_pct: must be 0..100" },
	{ "vip check unknown key",
	  VIP("{\"address\": \"198.18.0.10\", \"port\": 80, \"check\": {\"colour\": 1}}"),
	  "vips[0].check.colour: unknown key" },
	{ "truncated file", "{\"vips\": [{\"address\": \"198.18.0.10\", \"po", "line 1 column" },
	{ "empty file", "", "line 1 column" },
	{ "not an object", "[1, 2]", "config: must be a JSON object" },
	{ "duplicate key", "{\"mtu\": 1500, \"mtu\": 1400}", "duplicate object key" },
	{ "bad table size", VIP("{\"address\": \"198.18.0.10\", \"port\": 80, \"table_size\": 1000}"),
	  "vips[0].table_size: must be one of" },
	{ "bad nexthop mac", "{\"nexthop_mac\": \"02:00:00:00:00\"}",
	  "nexthop_mac: not a MAC address" },
	{ "bad backend mac", VIP("{\"address\": \"198.18.0.10\", \"port\": 80, \"mode\": \"l2\", "
				 "\"backends\": [{\"address\": \"198.18.1.1\", \"mac\": \"zz:00:00:00:00:01\"}]}"),
	  "vips[0].backends[0].mac: not a MAC address" },
	{ "l2 backend without mac",
	  VIP("{\"address\": \"198.18.0.10\", \"port\": 80, \"mode\": \"l2\", "
	      "\"backends\": [{\"address\": \"198.18.1.1\"}]}"),
	  "vips[0].backends[0].mac: required in l2 mode" },
	{ "encap_source4 is IPv6", "{\"encap_source4\": \"2001:db8::1\"}",
	  "encap_source4: must be an IPv4 address" },
	{ "encap_source6 is IPv4", "{\"encap_source6\": \"198.18.0.1\"}",
	  "encap_source6: must be an IPv6 address" },
	{ "encap bits 17", "{\"encap_source4_bits\": 17}", "encap_source4_bits: must be 0..16" },
	{ "flow table too small", "{\"flow_table_size\": 10}", "flow_table_size: must be" },
	{ "mtu too big", "{\"mtu\": 100000}", "mtu: must be 576..9216" },
	{ "hash_seed negative", "{\"hash_seed\": -5}", "hash_seed: must be 0..4294967295" },
	{ "too_big unknown", "{\"too_big\": \"fragment\"}",
	  "too_big: unknown value \"fragment\" (expected drop, pass, icmp)" },
	{ "vips not an array", "{\"vips\": {}}", "vips: must be an array" },
	{ "backend not an object", BE("42"), "vips[0].backends[0]: must be an object" },
	{ "second vip of three", VIP("{\"address\": \"198.18.0.10\", \"port\": 80},"
				     "{\"address\": \"198.18.0.11\", \"port\": 80, \"backends\": ["
				     "{\"address\": \"198.18.1.1\"}, {\"address\": \"198.18.1.2\", \"weight\": 1e3}]},"
				     "{\"address\": \"198.18.0.12\", \"port\": 80}"),
	  "vips[1].backends[1].weight: must be an integer" },
};

/*
 * The rules across objects (xlb_cfg_check_vips()): configs whose only mistake is one of them,
 * and the whole error text each gives (one line: one per VIP and family, not per backend).
 */
static const struct bad_case link_cases[] = {
	/* the MTU leaves each VIP's hosts a path MTU they accept after its largest encapsulation */
	{ "mtu 1300 with gue over IPv6 for an IPv6 VIP",
	  "{\"mtu\": 1300, \"encap_source6\": \"2001:db8::1\", \"vips\": [{\"address\": "
	  "\"2001:db8::10\", \"port\": 80, \"mode\": \"gue\", \"backends\": ["
	  "{\"address\": \"2001:db8:1::2\"}]}]}",
	  "vips[0]: mtu 1300 leaves 1252 bytes for [2001:db8::10]:80/tcp after gue over IPv6 "
	  "(48 bytes), less than the 1280 IPv6 hosts accept as a path MTU: mtu must be at least "
	  "1328\n" },
	{ "mtu 1319 with ipip over IPv6 and IPv4 backends: the largest counts",
	  "{\"mtu\": 1319, \"encap_source4\": \"198.18.0.1\", \"encap_source6\": \"2001:db8::1\","
	  " \"vips\": [{\"address\": \"198.18.0.10\", \"port\": 80}, {\"address\": "
	  "\"2001:db8::10\", \"port\": 80, \"backends\": [{\"address\": \"198.18.1.1\"}, "
	  "{\"address\": \"2001:db8:1::2\"}, {\"address\": \"198.18.1.2\"}]}]}",
	  "vips[1]: mtu 1319 leaves 1279 bytes for [2001:db8::10]:80/tcp after ipip over IPv6 "
	  "(40 bytes), less than the 1280 IPv6 hosts accept as a path MTU: mtu must be at least "
	  "1320\n" },
	{ "mtu 1200 for an IPv6 VIP in l2 mode",
	  "{\"mtu\": 1200, \"vips\": [{\"address\": \"2001:db8::10\", \"port\": 80, \"mode\": "
	  "\"l2\", \"backends\": [{\"address\": \"2001:db8:1::2\", \"mac\": \"02:00:00:00:01:02\"}]}]}",
	  "vips[0]: mtu 1200 leaves 1200 bytes for [2001:db8::10]:80/tcp in l2 mode, less than the "
	  "1280 IPv6 hosts accept as a path MTU: mtu must be at least 1280\n" },
	{ "mtu 576 with gue over IPv6 for an IPv4 VIP",
	  "{\"mtu\": 576, \"encap_source6\": \"2001:db8::1\", \"vips\": [{\"address\": "
	  "\"198.18.0.10\", \"port\": 53, \"proto\": \"udp\", \"mode\": \"gue\", \"backends\": ["
	  "{\"address\": \"2001:db8:1::2\"}]}]}",
	  "vips[0]: mtu 576 leaves 528 bytes for 198.18.0.10:53/udp after gue over IPv6 (48 bytes), "
	  "less than the 552 IPv4 hosts accept as a path MTU: mtu must be at least 600\n" },
	/* an encapsulating VIP has the outer source of each family of its backends */
	{ "ipip to IPv4 backends without encap_source4",
	  BE("{\"address\": \"198.18.1.1\"}, {\"address\": \"198.18.1.2\"}"),
	  "vips[0].backends[0]: ipip VIP 198.18.0.10:80/tcp to IPv4 backend 198.18.1.1 needs "
	  "encap_source4 (the outer source address), which is not set\n" },
	{ "gue to an IPv6 backend without encap_source6",
	  "{\"encap_source4\": \"198.18.0.1\", \"vips\": [{\"address\": \"198.18.0.10\", "
	  "\"port\": 80, \"mode\": \"gue\", \"backends\": [{\"address\": \"198.18.1.1\"}, "
	  "{\"address\": \"2001:db8:1::2\"}, {\"address\": \"2001:db8:1::3\"}]}]}",
	  "vips[0].backends[1]: gue VIP 198.18.0.10:80/tcp to IPv6 backend 2001:db8:1::2 needs "
	  "encap_source6 (the outer source address), which is not set\n" },
};

/* The same rules at their bounds, and where they do not apply: accepted. */
static const char *const link_good[] = {
	/* 1328 - 48 = 1280 */
	"{\"mtu\": 1328, \"encap_source6\": \"2001:db8::1\", \"vips\": [{\"address\": "
	"\"2001:db8::10\", \"port\": 80, \"mode\": \"gue\", \"backends\": ["
	"{\"address\": \"2001:db8:1::2\"}]}]}",
	/* an IPv6 VIP over IPv4 backends: 1300 - 20 = 1280 */
	"{\"mtu\": 1300, \"encap_source4\": \"198.18.0.1\", \"vips\": [{\"address\": "
	"\"2001:db8::10\", \"port\": 80, \"backends\": [{\"address\": \"198.18.1.1\"}]}]}",
	/* IPv4: 576 - 20 = 556 */
	"{\"mtu\": 576, \"encap_source4\": \"198.18.0.1\", \"vips\": [{\"address\": "
	"\"198.18.0.10\", \"port\": 80, \"backends\": [{\"address\": \"198.18.1.1\"}]}]}",
	/* no backend: no encapsulation in use yet */
	"{\"mtu\": 576, \"vips\": [{\"address\": \"2001:db8::10\", \"port\": 80, \"mode\": \"gue\"}]}",
	/* l2 needs no outer source */
	"{\"vips\": [{\"address\": \"198.18.0.10\", \"port\": 80, \"mode\": \"l2\", "
	"\"backends\": [{\"address\": \"198.18.1.1\", \"mac\": \"02:00:00:00:01:01\"}, "
	"{\"address\": \"2001:db8:1::2\", \"mac\": \"02:00:00:00:01:02\"}]}]}",
};

static void test_mtu_and_sources(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(link_cases); i++) {
		const struct bad_case *c = &link_cases[i];
		struct xlb_cfg_errors e = {};
		struct xlb_cfg *cfg = xlb_cfg_parse_string(c->json, &e);

		if (cfg || !e.text || strcmp(e.text, c->expect) || e.count != 1) {
			print_error("case \"%s\": expected the error \"%s\", got %s\"%s\"\n",
				    c->name, c->expect, cfg ? "a config and " : "",
				    e.text ? e.text : "(none)");
			fail();
		}
		xlb_cfg_errors_free(&e);
	}
	for (i = 0; i < ARRAY_SIZE(link_good); i++) {
		struct xlb_cfg_errors e = {};
		struct xlb_cfg *cfg = xlb_cfg_parse_string(link_good[i], &e);

		if (!cfg) {
			print_error("%s\nrefused: %s\n", link_good[i], e.text);
			fail();
		}
		assert_int_equal(xlb_cfg_check_vips(cfg, &e), 0);
		xlb_cfg_free(cfg);
	}
}

static void test_bad_configs(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct xlb_cfg_errors e = {};
		struct xlb_cfg *cfg = xlb_cfg_parse_string(c->json, &e);

		if (cfg || !e.text || !strstr(e.text, c->expect)) {
			print_error("case \"%s\": expected error containing \"%s\", got %s\"%s\"\n",
				    c->name, c->expect, cfg ? "a config and " : "",
				    e.text ? e.text : "(none)");
			xlb_cfg_free(cfg);
			xlb_cfg_errors_free(&e);
			fail();
		}
		xlb_cfg_errors_free(&e);
	}
}

/*
 * Error lines quote the input, and the API sends the first as a JSON string: a control
 * character of the input is written \xNN (a key "\ncap" gave an empty first line and a line
 * more than errors: found by tests/fuzz/fuzz_config), and a message cut at its 512 bytes does
 * not end inside a character.
 */
static void test_error_text(void **state)
{
	struct xlb_cfg_errors e = {};
	char text[1200], first[600];
	json_t *s;
	size_t n;

	(void)state;
	assert_null(xlb_cfg_parse_string("{\"\\ncap\\u0001\": 1, \"vips\": [{\"address\": "
					 "\"198.18.0.10\\t\", \"port\": 1}]}", &e));
	assert_string_equal(e.text, "\\x0acap\\x01: unknown key\n"
			    "vips[0].address: not an IPv4 or IPv6 address: \"198.18.0.10\\x09\"\n");
	assert_int_equal(e.count, 2);
	xlb_cfg_errors_free(&e);
	/* "é" is 2 bytes: the message is cut at an odd byte, inside one (at any offset, some is) */
	n = snprintf(text, sizeof(text), "{\"vips\": [{\"address\": \"x");
	while (n < 1000)
		n += snprintf(text + n, sizeof(text) - n, "\xc3\xa9");
	snprintf(text + n, sizeof(text) - n, "\", \"port\": 1}]}");
	assert_null(xlb_cfg_parse_string(text, &e));
	assert_int_equal(e.count, 1);
	assert_true(e.len > 500);
	xlb_cfg_errors_first(&e, first, sizeof(first));
	s = json_string(first);
	assert_non_null(s);
	json_decref(s);
	xlb_cfg_errors_free(&e);
	/* a line longer than the caller's buffer is cut on a character too */
	assert_null(xlb_cfg_parse_string(text, &e));
	xlb_cfg_errors_first(&e, first, 52);
	s = json_string(first);
	assert_non_null(s);
	json_decref(s);
	xlb_cfg_errors_free(&e);
}

/* Several mistakes in one file: every one is reported, not only the first. */
static void test_all_errors_reported(void **state)
{
	struct xlb_cfg_errors e = {};
	struct xlb_cfg *cfg;

	(void)state;
	cfg = xlb_cfg_parse_string("{\"mtu\": 1, \"gue_port\": 0, \"vips\": [{\"address\": \"x\", "
				   "\"port\": 1, \"backends\": [{\"address\": \"198.18.1.1\", "
				   "\"weight\": -1}]}], \"bogus\": 1}", &e);
	assert_null(cfg);
	assert_non_null(e.text);
	assert_non_null(strstr(e.text, "mtu: must be"));
	assert_non_null(strstr(e.text, "gue_port: must be"));
	assert_non_null(strstr(e.text, "vips[0].address:"));
	assert_non_null(strstr(e.text, "vips[0].backends[0].weight: must be 0..65535"));
	assert_non_null(strstr(e.text, "bogus: unknown key"));
	assert_int_equal(e.count, 5);
	xlb_cfg_errors_free(&e);
}

/*
 * A backend's check is its VIP's with the keys it gives itself; serialized, it writes only those,
 * so that a change of the VIP's check reaches every backend that did not say otherwise.
 */
static void test_check_inheritance(void **state)
{
	static const char text[] =
		"{\"encap_source4\": \"198.18.0.1\", \"vips\": [{\"address\": \"198.18.0.10\", \"port\": 80,"
		" \"check\": {\"type\": \"http\", \"path\": \"/h\", \"expect\": \"200-299\","
		"  \"interval_ms\": 500, \"timeout_ms\": 300, \"agent_port\": 8081},"
		" \"backends\": [{\"address\": \"198.18.1.1\"},"
		"  {\"address\": \"198.18.1.2\", \"backup\": true, \"slow_start_ms\": 5000,"
		"   \"check\": {\"rise\": 5, \"path\": \"/other\"}},"
		"  {\"address\": \"198.18.1.3\", \"check\": {\"type\": \"udp\", \"payload\": \"a\\u0000b\"}}]}]}";
	struct xlb_cfg_errors e = {};
	struct xlb_cfg *a, *b;
	const struct xlb_cfg_check *c;
	json_t *j, *be;

	(void)state;
	a = xlb_cfg_parse_string(text, &e);
	if (!a)
		print_error("%s", e.text);
	assert_non_null(a);
	c = &a->vips[0].backends[0].check;
	assert_int_equal(c->type, XLB_CHECK_HTTP);
	assert_string_equal(c->path, "/h");
	assert_int_equal(c->expect, 200);
	assert_int_equal(c->expect_hi, 299);
	assert_int_equal(c->interval_ms, 500);
	assert_int_equal(c->rise, XLB_CHECK_RISE_DEFAULT);
	assert_int_equal(c->agent_port, 8081);
	c = &a->vips[0].backends[1].check;
	assert_string_equal(c->path, "/other");
	assert_int_equal(c->rise, 5);
	assert_int_equal(c->interval_ms, 500);
	assert_true(a->vips[0].backends[1].backup);
	assert_int_equal(a->vips[0].backends[1].slow_start_ms, 5000);
	c = &a->vips[0].backends[2].check;
	assert_int_equal(c->type, XLB_CHECK_UDP);
	assert_int_equal(c->payload_len, 3);
	assert_memory_equal(c->payload, "a\0b", 3);

	/* written back: the VIP's check whole, the backends' only what they said */
	j = xlb_cfg_to_json(a);
	be = json_array_get(json_object_get(json_array_get(json_object_get(j, "vips"), 0), "backends"),
			    0);
	assert_null(json_object_get(be, "check"));
	be = json_array_get(json_object_get(json_array_get(json_object_get(j, "vips"), 0), "backends"),
			    1);
	assert_int_equal(json_object_size(json_object_get(be, "check")), 2);
	b = xlb_cfg_from_json(j, &e);
	json_decref(j);
	assert_non_null(b);
	assert_true(xlb_cfg_equal(a, b));
	assert_int_equal(b->vips[0].backends[2].check.payload_len, 3);
	xlb_cfg_free(a);
	xlb_cfg_free(b);
}

static void test_good_roundtrip(void **state)
{
	struct xlb_cfg_errors e = {};
	struct xlb_cfg *a, *b, *c;
	json_t *j;
	char *text;

	(void)state;
	a = xlb_cfg_parse_string(good_config, &e);
	if (!a)
		print_error("%s", e.text);
	assert_non_null(a);
	assert_int_equal(e.count, 0);

	assert_int_equal(a->nifaces, 2);
	assert_int_equal(a->ifaces[1].mode, XLB_IFACE_GENERIC);
	assert_int_equal(a->hash_seed, 4294967295u);
	assert_int_equal(a->nvips, 3);
	assert_int_equal(a->vips[0].nbackends, 3);
	assert_int_equal(a->vips[0].backends[0].weight, 100);
	assert_int_equal(a->vips[0].backends[1].port, 8080);
	assert_int_equal(a->vips[0].backends[1].state, XLB_STATE_DRAINING);
	assert_int_equal(a->vips[0].backends[2].family, XLB_AF_INET6);
	assert_int_equal(a->vips[0].backends[2].check.type, XLB_CHECK_HTTP);
	assert_string_equal(a->vips[0].backends[2].check.path, "/healthz");
	assert_int_equal(a->vips[0].backends[2].check.expect, 204);
	assert_int_equal(a->vips[1].proto, IPPROTO_UDP);
	assert_int_equal(a->vips[1].mode, XLB_MODE_GUE);
	assert_int_equal(a->vips[1].table_size, 251);
	assert_int_equal(a->vips[1].hash, XLB_HASH_SRC);
	assert_int_equal(a->vips[0].table_size, XLB_MAGLEV_DEFAULT);
	assert_true(a->vips[2].backends[0].has_mac);
	assert_int_equal(a->vips[2].backends[0].mac[5], 0x05);

	/* parse -> serialize -> parse gives the same config */
	j = xlb_cfg_to_json(a);
	text = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	b = xlb_cfg_parse_string(text, &e);
	if (!b)
		print_error("%s\n%s", text, e.text);
	assert_non_null(b);
	assert_true(xlb_cfg_equal(a, b));
	free(text);

	/* a copy is equal, and a change is seen */
	c = xlb_cfg_dup(a);
	assert_non_null(c);
	assert_true(xlb_cfg_equal(a, c));
	assert_int_equal(xlb_cfg_vip_backends_reserve(&c->vips[0], 0), 0); /* shared until then */
	c->vips[0].backends[0].weight = 7;
	assert_false(xlb_cfg_equal(a, c));
	assert_int_not_equal(a->vips[0].backends[0].weight, 7);	/* the original is unchanged */

	xlb_cfg_free(a);
	xlb_cfg_free(b);
	xlb_cfg_free(c);
}

/* Every too_big policy parses, serializes under its name and parses back. */
/* @a written out and parsed back is the same configuration. */
static void assert_reparses(const struct xlb_cfg *a)
{
	struct xlb_cfg_errors e = {};
	json_t *j = xlb_cfg_to_json(a);
	char *out = json_dumps(j, 0);
	struct xlb_cfg *b;

	json_decref(j);
	b = xlb_cfg_parse_string(out, &e);
	assert_non_null(b);
	assert_true(xlb_cfg_equal(a, b));
	free(out);
	xlb_cfg_free(b);
}

static void test_too_big_values(void **state)
{
	static const struct {
		const char *name;
		enum xlb_cfg_too_big v;
	} t[] = {
		{ "drop", XLB_TOO_BIG_DROP }, { "pass", XLB_TOO_BIG_PASS }, { "icmp", XLB_TOO_BIG_ICMP },
	};
	struct xlb_cfg_errors e = {};
	char text[64];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct xlb_cfg *a;
		json_t *j;

		snprintf(text, sizeof(text), "{\"too_big\": \"%s\"}", t[i].name);
		a = xlb_cfg_parse_string(text, &e);
		assert_non_null(a);
		assert_int_equal(a->too_big, t[i].v);
		j = xlb_cfg_to_json(a);
		assert_string_equal(json_string_value(json_object_get(j, "too_big")), t[i].name);
		json_decref(j);
		assert_reparses(a);
		xlb_cfg_free(a);
	}
}

/*
 * metrics_listen: ADDR:PORT of either family; absent = 127.0.0.1:9469 (the default, loopback);
 * "" or "off" = none (written "off", so that a saved file keeps it off); else refused.
 */
static void test_metrics_listen(void **state)
{
	static const char *const bad[] = { "127.0.0.1", "127.0.0.1:0", "127.0.0.1:http",
					   "[::1:9469", "::1:9469", "localhost:9469", "1.2.3.4:70000" };
	struct xlb_cfg_errors e = {};
	struct xlb_cfg *a;
	char text[128];
	json_t *j;

	(void)state;
	a = xlb_cfg_parse_string("{\"metrics_listen\": \"[::1]:9469\"}", &e);
	assert_non_null(a);
	assert_int_equal(a->metrics_family, XLB_AF_INET6);
	assert_int_equal(a->metrics_port, 9469);
	j = xlb_cfg_to_json(a);
	assert_string_equal(json_string_value(json_object_get(j, "metrics_listen")), "[::1]:9469");
	json_decref(j);
	xlb_cfg_free(a);
	a = xlb_cfg_parse_string("{\"metrics_listen\": \"127.0.0.1:9469\"}", &e);
	assert_non_null(a);
	assert_int_equal(a->metrics_family, XLB_AF_INET);
	assert_int_equal(a->metrics_addr[0], htonl(0x7f000001));
	xlb_cfg_free(a);
	for (int off = 0; off < 2; off++) {
		a = xlb_cfg_parse_string(off ? "{\"metrics_listen\": \"off\"}" :
					       "{\"metrics_listen\": \"\"}", &e);
		assert_non_null(a);
		assert_string_equal(a->metrics_listen, "");
		j = xlb_cfg_to_json(a);
		assert_string_equal(json_string_value(json_object_get(j, "metrics_listen")), "off");
		json_decref(j);
		xlb_cfg_free(a);
	}
	a = xlb_cfg_parse_string("{}", &e);
	assert_non_null(a);
	assert_string_equal(a->metrics_listen, XLB_METRICS_LISTEN_DEFAULT);
	assert_string_equal(a->metrics_listen, "127.0.0.1:9469");
	assert_int_equal(a->metrics_family, XLB_AF_INET);
	assert_int_equal(a->metrics_addr[0], htonl(0x7f000001));
	assert_int_equal(a->metrics_port, 9469);
	xlb_cfg_free(a);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "{\"metrics_listen\": \"%s\"}", bad[i]);
		assert_null(xlb_cfg_parse_string(text, &e));
		assert_non_null(strstr(e.text, "metrics_listen: not ADDR:PORT"));
		xlb_cfg_errors_free(&e);
	}
}

/* Defaults are applied and written out, so a minimal file round-trips to an explicit one. */
static void test_defaults(void **state)
{
	struct xlb_cfg_errors e = {};
	struct xlb_cfg *a;

	(void)state;
	a = xlb_cfg_parse_string("{\"encap_source4\": \"198.18.0.1\", \"vips\": [{\"address\": "
				 "\"198.18.0.10\", \"port\": 80, \"backends\": [{\"address\": "
				 "\"198.18.1.1\"}]}]}", &e);
	assert_non_null(a);
	assert_int_equal(a->nifaces, 0);
	assert_int_equal(a->flow_table_size, XLB_FLOWS_DEFAULT);
	assert_int_equal(a->gue_port, XLB_GUE_PORT_DEFAULT);
	assert_int_equal(a->mtu, 1500);
	assert_int_equal(a->too_big, XLB_TOO_BIG_ICMP);
	assert_int_equal(a->vips[0].proto, IPPROTO_TCP);
	assert_int_equal(a->vips[0].mode, XLB_MODE_IPIP);
	assert_int_equal(a->vips[0].backends[0].weight, XLB_CFG_WEIGHT_DEFAULT);
	assert_int_equal(a->vips[0].backends[0].state, XLB_STATE_ACTIVE);
	assert_int_equal(a->vips[0].backends[0].check.type, XLB_CHECK_NONE);
	assert_int_equal(a->encap_source4_bits, 0);
	assert_false(a->has_encap6);
	xlb_cfg_free(a);
	/* an empty object is a valid (empty) config */
	a = xlb_cfg_parse_string("{}", &e);
	assert_non_null(a);
	assert_int_equal(a->nvips, 0);
	assert_false(a->has_encap4);
	xlb_cfg_free(a);
}

static void test_save_load(void **state)
{
	char dir[] = "/tmp/xlb-test-config.XXXXXX", path[64];
	struct xlb_cfg_errors e = {};
	struct xlb_cfg *a, *b;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/xlbd.json", dir);
	a = xlb_cfg_parse_string(good_config, &e);
	assert_non_null(a);
	assert_int_equal(xlb_cfg_save(a, path), 0);
	assert_int_equal(xlb_cfg_save(a, path), 0); /* replaces the file in place */
	b = xlb_cfg_load(path, &e);
	assert_non_null(b);
	assert_true(xlb_cfg_equal(a, b));
	xlb_cfg_free(b);
	/* in two steps: the file changes only at the rename; an abort leaves it as it was */
	{
		char *tmp = NULL;
		struct stat st0, st1;

		assert_int_equal(stat(path, &st0), 0);
		a->hash_seed++;
		assert_int_equal(xlb_cfg_save_begin(a, path, &tmp), 0);
		assert_non_null(tmp);
		assert_int_equal(access(tmp, F_OK), 0);
		assert_int_equal(stat(path, &st1), 0);
		assert_int_equal(st0.st_ino, st1.st_ino);
		xlb_cfg_save_abort(tmp);
		b = xlb_cfg_load(path, &e);
		assert_non_null(b);
		assert_false(xlb_cfg_equal(a, b));
		xlb_cfg_free(b);
		assert_int_equal(xlb_cfg_save_begin(a, path, &tmp), 0);
		assert_int_equal(xlb_cfg_save_finish(tmp, path), 0);
		b = xlb_cfg_load(path, &e);
		assert_non_null(b);
		assert_true(xlb_cfg_equal(a, b));
		xlb_cfg_free(b);
		tmp = (char *)1;
		assert_int_equal(xlb_cfg_save_begin(a, "/nonexistent-xlb/x.json", &tmp), -ENOENT);
		assert_null(tmp);
	}
	/* a directory that does not exist: an error, nothing written */
	assert_int_equal(xlb_cfg_save(a, "/nonexistent-xlb/x.json"), -ENOENT);
	/* a missing file is an error with its name */
	b = xlb_cfg_load("/nonexistent-xlb/x.json", &e);
	assert_null(b);
	assert_non_null(strstr(e.text, "/nonexistent-xlb/x.json"));
	xlb_cfg_errors_free(&e);
	xlb_cfg_free(a);
	unlink(path);
	assert_int_equal(rmdir(dir), 0); /* no temporary file left behind */
}

/*
 * The file text made from parts (each VIP's kept by xlbd until it changes) is byte for byte the
 * dump of the whole tree: no VIP, one, several (with strings that need escaping), a VIP's part
 * given by the caller.
 */
static void test_text_from_parts(void **state)
{
	static const char *const texts[] = {
		"{}",
		"{\"vips\": [{\"address\": \"198.18.0.10\", \"port\": 80}]}",
		good_config,
		"{\"encap_source4\": \"198.18.0.1\", \"encap_source6\": \"2001:db8:ff::1\", "
		"\"vips\": [{\"address\": \"198.18.0.10\", \"port\": 80, \"check\": {\"type\": "
		"\"http\", \"path\": \"/a\\\"b\\\\c\"}, \"backends\": "
		"[{\"address\": \"198.18.1.1\"}, {\"address\": \"2001:db8::1\", \"port\": 8080}]}, "
		"{\"address\": \"2001:db8::10\", \"port\": 443, \"proto\": \"udp\", "
		"\"check\": {\"type\": \"udp\", \"payload\": \"p\\n\\u0001\\u00e9\"}}]}",
	};
	struct xlb_cfg_errors e = {};

	(void)state;
	for (size_t k = 0; k < ARRAY_SIZE(texts); k++) {
		struct xlb_cfg *a = xlb_cfg_parse_string(texts[k], &e);
		json_t *j;
		char *whole, *parts, *given[4] = {};
		size_t len = 0;

		if (!a)
			fail_msg("%s: %s", texts[k], e.text);
		j = xlb_cfg_to_json(a);
		whole = json_dumps(j, JSON_INDENT(2));
		json_decref(j);
		parts = xlb_cfg_text(a, NULL, &len);
		assert_non_null(parts);
		assert_string_equal(parts, whole);
		assert_int_equal(len, strlen(whole));
		free(parts);
		assert_true(a->nvips <= ARRAY_SIZE(given));
		if (a->nvips)
			given[a->nvips - 1] = xlb_cfg_vip_text(&a->vips[a->nvips - 1]);
		parts = xlb_cfg_text(a, (const char *const *)given, NULL);
		assert_string_equal(parts, whole);
		free(parts);
		free(given[a->nvips ? a->nvips - 1 : 0]);
		free(whole);
		xlb_cfg_free(a);
	}
}

/* A single backend object as the API receives it (path prefix "" names the argument alone). */
static void test_backend_object(void **state)
{
	struct xlb_cfg_errors e = {};
	struct xlb_cfg_backend be;
	struct xlb_cfg_vip vip;
	json_t *o;

	(void)state;
	xlb_cfg_vip_init(&vip);
	o = json_loads("{\"address\": \"198.18.1.1\", \"weight\": 70000}", 0, NULL);
	assert_int_equal(xlb_cfg_backend_from_json(o, "", &vip, &be, &e), -EINVAL);
	assert_non_null(strstr(e.text, "weight: must be 0..65535"));
	assert_int_equal(e.text[0], 'w');
	json_decref(o);
	xlb_cfg_errors_free(&e);
}

static void test_vip_names(void **state)
{
	struct xlb_cfg_vip v;
	uint16_t port;
	__u8 fam, proto;
	char buf[96];

	(void)state;
	xlb_cfg_vip_init(&v);
	assert_int_equal(xlb_vip_name_parse("198.18.0.10:80/tcp", v.addr, &v.family, &v.port,
					    &v.proto), 0);
	assert_string_equal(xlb_vip_name(&v, buf, sizeof(buf)), "198.18.0.10:80/tcp");
	assert_int_equal(xlb_vip_name_parse("[2001:db8::10]:443/udp", v.addr, &v.family, &v.port,
					    &v.proto), 0);
	assert_int_equal(v.family, XLB_AF_INET6);
	assert_int_equal(v.proto, IPPROTO_UDP);
	assert_string_equal(xlb_vip_name(&v, buf, sizeof(buf)), "[2001:db8::10]:443/udp");
	assert_int_equal(xlb_vip_name_parse("198.18.0.10:0/udp", v.addr, &fam, &port, &proto), 0);
	assert_int_equal(port, 0);
	assert_int_equal(xlb_vip_name_parse("198.18.0.10:80", v.addr, &fam, &port, &proto), -EINVAL);
	assert_int_equal(xlb_vip_name_parse("198.18.0.10:70000/tcp", v.addr, &fam, &port, &proto),
			 -EINVAL);
	assert_int_equal(xlb_vip_name_parse("2001:db8::10:80/tcp", v.addr, &fam, &port, &proto),
			 -EINVAL);
	assert_int_equal(xlb_vip_name_parse("[198.18.0.10]:80/tcp", v.addr, &fam, &port, &proto),
			 -EINVAL);
	assert_int_equal(xlb_vip_name_parse("198.18.0.10:/tcp", v.addr, &fam, &port, &proto),
			 -EINVAL);
	assert_int_equal(xlb_vip_name_parse("198.18.0.10:80/sctp", v.addr, &fam, &port, &proto),
			 -EINVAL);
	assert_int_equal(xlb_addr_port_parse("[2001:db8::1]:1234", v.addr, &fam, &port), 0);
	assert_int_equal(port, 1234);
	assert_int_equal(xlb_addr_port_parse("198.18.0.1:-1", v.addr, &fam, &port), -EINVAL);
}

/*
 * "announce": {"interface"} (default xlb0; absent = off, not written) and a VIP's "announce"
 * (default true, written only when false); bad values refused by name.
 */
static void test_announce(void **state)
{
	static const char *const bad[][2] = {
		{ "{\"announce\": true}", "announce: must be an object" },
		{ "{\"announce\": {\"iface\": \"x\"}}", "announce.iface: unknown key" },
		{ "{\"announce\": {\"interface\": 7}}", "announce.interface: must be a string" },
		{ "{\"announce\": {\"interface\": \"lo\"}}", "not an interface name xlbd may own" },
		{ "{\"announce\": {\"interface\": \"a/b\"}}", "not an interface name xlbd may own" },
		{ "{\"announce\": {\"interface\": \"0123456789abcdef\"}}", "may own" },
		{ "{\"interfaces\": [{\"name\": \"eth0\"}], \"announce\": {\"interface\": \"eth0\"}}",
		  "\"eth0\" is a datapath interface" },
		{ "{\"vips\": [{\"address\": \"198.18.0.10\", \"port\": 80, \"announce\": \"no\"}]}",
		  "vips[0].announce: must be true or false" },
	};
	struct xlb_cfg_errors e = {};
	struct xlb_cfg *a;
	char *text;
	json_t *j;

	(void)state;
	a = xlb_cfg_parse_string("{\"vips\": [{\"address\": \"198.18.0.10\", \"port\": 80}]}", &e);
	assert_non_null(a);
	assert_false(a->announce);
	assert_false(a->vips[0].no_announce);
	j = xlb_cfg_to_json(a);
	assert_null(json_object_get(j, "announce"));
	assert_null(json_object_get(json_array_get(json_object_get(j, "vips"), 0), "announce"));
	json_decref(j);
	xlb_cfg_free(a);

	a = xlb_cfg_parse_string("{\"announce\": {}, \"vips\": [{\"address\": \"198.18.0.10\", "
				 "\"port\": 80, \"announce\": false}]}", &e);
	assert_non_null(a);
	assert_true(a->announce);
	assert_string_equal(a->announce_iface, "xlb0");
	assert_true(a->vips[0].no_announce);
	j = xlb_cfg_to_json(a);
	text = json_dumps(j, 0);
	json_decref(j);
	assert_non_null(strstr(text, "\"announce\": {\"interface\": \"xlb0\"}"));
	assert_non_null(strstr(text, "\"announce\": false"));
	free(text);
	assert_reparses(a);
	xlb_cfg_free(a);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(xlb_cfg_parse_string(bad[i][0], &e));
		if (!strstr(e.text, bad[i][1]))
			fail_msg("%s: got \"%s\", want \"%s\"", bad[i][0], e.text, bad[i][1]);
		xlb_cfg_errors_free(&e);
	}
}

/*
 * "etcd": endpoints required, the rest defaulted; written back and parsed again the same;
 * every bad value refused by its path (and the config with it).
 */
static void test_etcd(void **state)
{
	static const char *const bad[][2] = {
		{ "{\"etcd\": []}", "etcd: must be an object" },
		{ "{\"etcd\": {}}", "etcd.endpoints: missing" },
		{ "{\"etcd\": {\"endpoints\": []}}", "etcd.endpoints: must be an array of 1 to 8" },
		{ "{\"etcd\": {\"endpoints\": [\"198.18.0.6:2379\"]}}",
		  "etcd.endpoints[0]: not an etcd URL" },
		{ "{\"etcd\": {\"endpoints\": [\"http://198.18.0.6\"]}}",
		  "etcd.endpoints[0]: not an etcd URL" },
		{ "{\"etcd\": {\"endpoints\": [\"http://198.18.0.6:2379/v3\"]}}",
		  "etcd.endpoints[0]: not an etcd URL" },
		{ "{\"etcd\": {\"endpoints\": [\"http://198.18.0.6:2379\", 5]}}",
		  "etcd.endpoints[1]: not an etcd URL" },
		{ "{\"etcd\": {\"endpoints\": [\"http://198.18.0.6:2379\"], \"prefix\": \"xlb\"}}",
		  "etcd.prefix: not a key prefix" },
		{ "{\"etcd\": {\"endpoints\": [\"http://198.18.0.6:2379\"], \"prefix\": \"/xlb/\"}}",
		  "etcd.prefix: not a key prefix" },
		{ "{\"etcd\": {\"endpoints\": [\"http://198.18.0.6:2379\"], \"cluster\": \"a/b\"}}",
		  "etcd.cluster: not a cluster name" },
		{ "{\"etcd\": {\"endpoints\": [\"http://198.18.0.6:2379\"], \"host\": \"\"}}",
		  "etcd.host: not a host name" },
		{ "{\"etcd\": {\"endpoints\": [\"http://198.18.0.6:2379\"], \"timeout_ms\": 10}}",
		  "etcd.timeout_ms: must be 50..60000" },
		{ "{\"etcd\": {\"endpoints\": [\"http://198.18.0.6:2379\"], \"lease_ttl_s\": 1}}",
		  "etcd.lease_ttl_s: must be 2..600" },
		{ "{\"etcd\": {\"endpoints\": [\"http://198.18.0.6:2379\"], \"peers\": 1}}",
		  "etcd.peers: unknown key" },
		{ "{\"etcd\": {\"endpoints\": [\"https://198.18.0.6:2379\"], \"cert_file\": \"/dev/null\"}}",
		  "etcd.key_file: missing: a client certificate needs cert_file and key_file" },
		{ "{\"etcd\": {\"endpoints\": [\"https://198.18.0.6:2379\"], \"key_file\": \"/dev/null\"}}",
		  "etcd.cert_file: missing" },
		{ "{\"etcd\": {\"endpoints\": [\"https://198.18.0.6:2379\"], \"ca_file\": \"/nonexistent/ca.pem\"}}",
		  "etcd.ca_file: cannot read \"/nonexistent/ca.pem\": No such file or directory" },
		{ "{\"etcd\": {\"endpoints\": [\"https://198.18.0.6:2379\"], \"ca_file\": \"\"}}",
		  "etcd.ca_file: not a file path" },
		{ "{\"etcd\": {\"endpoints\": [\"https://198.18.0.6:2379\", \"http://198.18.0.7:2379\"], "
		  "\"ca_file\": \"/dev/null\"}}",
		  "etcd.endpoints[1]: not https:// while ca_file, cert_file or key_file is given" },
		/* indexed as in the file, past an endpoint refused */
		{ "{\"etcd\": {\"endpoints\": [\"bogus\", \"https://198.18.0.6:2379\", "
		  "\"http://198.18.0.7:2379\"], \"ca_file\": \"/dev/null\"}}",
		  "etcd.endpoints[2]: not https://" },
	};
	struct xlb_cfg_errors e = {};
	struct xlb_cfg *a;

	(void)state;
	a = xlb_cfg_parse_string("{}", &e);
	assert_non_null(a);
	assert_false(a->etcd.on);
	xlb_cfg_free(a);
	a = xlb_cfg_parse_string("{\"etcd\": {\"endpoints\": [\"http://198.18.0.6:2379\", "
				 "\"https://[2001:db8::6]:2379\"]}}", &e);
	assert_non_null(a);
	assert_true(a->etcd.on);
	assert_int_equal(a->etcd.nendpoints, 2);
	assert_string_equal(a->etcd.endpoints[1], "https://[2001:db8::6]:2379");
	assert_string_equal(a->etcd.prefix, "/xlb");
	assert_string_equal(a->etcd.cluster, "default");
	assert_string_equal(a->etcd.host, "");
	assert_int_equal(a->etcd.timeout_ms, 2000);
	assert_int_equal(a->etcd.lease_ttl_s, 5);
	assert_string_equal(a->etcd.ca_file, "");
	assert_reparses(a);
	xlb_cfg_free(a);
	/* TLS: the files are only checked readable here (/dev/null is); etcd_new hands them to curl */
	a = xlb_cfg_parse_string("{\"etcd\": {\"endpoints\": [\"https://198.18.0.6:2379\"], "
				 "\"ca_file\": \"/dev/null\", \"cert_file\": \"/dev/null\", "
				 "\"key_file\": \"/dev/null\"}}", &e);
	assert_non_null(a);
	assert_string_equal(a->etcd.ca_file, "/dev/null");
	assert_string_equal(a->etcd.cert_file, "/dev/null");
	assert_string_equal(a->etcd.key_file, "/dev/null");
	assert_reparses(a);
	xlb_cfg_free(a);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(xlb_cfg_parse_string(bad[i][0], &e));
		if (!e.text || !strstr(e.text, bad[i][1]))
			fail_msg("%s: got \"%s\", want \"%s\"", bad[i][0], e.text, bad[i][1]);
		xlb_cfg_errors_free(&e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_mtu_and_sources),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_error_text),
		cmocka_unit_test(test_good_roundtrip),
		cmocka_unit_test(test_check_inheritance),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_too_big_values),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_text_from_parts),
		cmocka_unit_test(test_backend_object),
		cmocka_unit_test(test_vip_names),
		cmocka_unit_test(test_metrics_listen),
		cmocka_unit_test(test_announce),
		cmocka_unit_test(test_etcd),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
