/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Value rules shared by the config validator, xlbd and the CLI: ranges, HTTP paths, table sizes. */
#ifndef XLB_RULES_H
#define XLB_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The allowed values of one number: min..max, both included. */
struct xlb_range {
	const char *name;	/* what it bounds, for people and tests */
	uint32_t min, max;
};

enum xlb_range_id {
	XLB_RANGE_PORT,		/* vip, backend and check "port" (0: all ports, the backend's) */
	XLB_RANGE_PORT_SET,	/* a port that names one: gue_port, the CLI's check-port */
	XLB_RANGE_WEIGHT,	/* backend weight */
	XLB_RANGE_INTERVAL_MS,	/* check interval */
	XLB_RANGE_TIMEOUT_MS,	/* check timeout */
	XLB_RANGE_RISE,		/* check successes before up */
	XLB_RANGE_FALL,		/* check failures before down */
	XLB_RANGE_EXPECT,	/* HTTP status an http check expects */
	XLB_RANGE_TABLE_SIZE,	/* a VIP's table_size, before it is checked against the sizes */
	XLB_RANGE_TABLE_SIZE_SET, /* the CLI's table-size: 0 is refused as a number already */
	XLB_RANGE_HASH_SEED,
	XLB_RANGE_FLOW_TABLE_SIZE,
	XLB_RANGE_ENCAP4_BITS,	/* encap_source4_bits */
	XLB_RANGE_MTU,
	XLB_RANGE_FLOOD_LIMIT,
	XLB_RANGE_JITTER_PCT,	/* check jitter_pct */
	XLB_RANGE_INTER_MS,	/* check fastinter_ms / downinter_ms */
	XLB_RANGE_AGENT_INTERVAL_MS, /* agent_interval_ms (0: interval_ms) */
	XLB_RANGE_SLOW_START_MS,
	XLB_RANGE_DRAIN_TIMEOUT_MS,
	XLB_RANGE_PCT,		/* min_healthy_pct */
	XLB_RANGE_REBUILD_MS,	/* rebuild_min_interval_ms */
	XLB_RANGE_MAX_VIPS,	/* max_vips: entries of the maps indexed by vip id */
	XLB_RANGE_MAX_BACKENDS,	/* max_backends: entries of those indexed by backend id (id 0 unused) */
	XLB_RANGE_MON_SAMPLE,	/* xlb monitor: 1 in N packets */
	XLB_RANGE_MON_COUNT,	/* xlb monitor: stop after N events */
	XLB_RANGE_ETCD_TIMEOUT_MS,	/* etcd.timeout_ms, etcd.connect_timeout_ms */
	XLB_RANGE_ETCD_RETRY_MS,	/* etcd.retry_ms */
	XLB_RANGE_ETCD_TTL_S,	/* etcd.lease_ttl_s */
	XLB_RANGE__MAX
};

extern const struct xlb_range xlb_ranges[XLB_RANGE__MAX];

static inline const struct xlb_range *xlb_range(enum xlb_range_id id)
{
	return &xlb_ranges[id];
}

static inline bool xlb_range_has(const struct xlb_range *r, long long v)
{
	return v >= r->min && v <= r->max;
}

/* Long enough for any xlb_range_text(): "4294967295..4294967295". */
#define XLB_RANGE_TEXT_LEN 24

/** xlb_range_text() - the range as every error message writes it, "100..3600000". Returns @buf. */
const char *xlb_range_text(const struct xlb_range *r, char *buf, size_t len);

/**
 * xlb_range_parse() - the @len bytes at @s as a number of @r: decimal digits only (no sign, no
 * blank), at most 10 of them. Returns 0 (*@out set) or -EINVAL.
 */
int xlb_range_parse(const struct xlb_range *r, const char *s, size_t len, uint32_t *out);

/*
 * The path of an http check, as it goes on the request line: "/", then printable ASCII without
 * blanks (0x21..0x7e), shorter than XLB_HTTP_PATH_MAX bytes (struct xlb_cfg_check.path, its NUL
 * included). XLB_HTTP_PATH_RULE says so in the words of the error messages.
 */
#define XLB_HTTP_PATH_MAX 256
#define XLB_HTTP_PATH_RULE "/ then printable ASCII, no blank, shorter than 256 bytes"
bool xlb_http_path_ok(const char *p);

/**
 * xlb_utf8_clean() - make @s valid UTF-8, as a JSON string must be: each byte that is not part
 * of a whole, valid character (a message cut short inside one, a quoted byte of input that
 * was not text) becomes '?'. Returns @s.
 */
char *xlb_utf8_clean(char *s);

/** xlb_table_sizes_text() - the allowed Maglev table sizes, "251, 509, ...". Returns @buf. */
const char *xlb_table_sizes_text(char *buf, size_t len);

#endif /* XLB_RULES_H */
