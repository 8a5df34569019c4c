// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The value rules of xlb (ranges and their texts, HTTP paths, table sizes): config and CLI. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "maglev.h"
#include "rules.h"

const struct xlb_range xlb_ranges[XLB_RANGE__MAX] = {
	[XLB_RANGE_PORT] = { "port", 0, 65535 },
	[XLB_RANGE_PORT_SET] = { "non-zero port", 1, 65535 },
	[XLB_RANGE_WEIGHT] = { "weight", 0, XLB_CFG_WEIGHT_MAX },
	[XLB_RANGE_INTERVAL_MS] = { "check interval (ms)", 100, 3600000 },
	[XLB_RANGE_TIMEOUT_MS] = { "check timeout (ms)", 10, 3600000 },
	[XLB_RANGE_RISE] = { "check rise", 1, 1000 },
	[XLB_RANGE_FALL] = { "check fall", 1, 1000 },
	[XLB_RANGE_EXPECT] = { "HTTP status", 100, 599 },
	[XLB_RANGE_TABLE_SIZE] = { "table size", 0, XLB_MAGLEV_MAX },
	[XLB_RANGE_TABLE_SIZE_SET] = { "table size argument", 1, XLB_MAGLEV_MAX },
	[XLB_RANGE_HASH_SEED] = { "hash seed", 0, UINT32_MAX },
	[XLB_RANGE_FLOW_TABLE_SIZE] = { "flow table size", XLB_CFG_FLOWS_MIN, XLB_CFG_FLOWS_MAX },
	[XLB_RANGE_ENCAP4_BITS] = { "encap source bits", 0, 16 },
	[XLB_RANGE_MTU] = { "mtu", 576, 9216 },
	[XLB_RANGE_FLOOD_LIMIT] = { "flood limit", 0, UINT32_MAX },
	[XLB_RANGE_JITTER_PCT] = { "check jitter (%)", 0, 50 },
	[XLB_RANGE_INTER_MS] = { "check fast/down interval (ms)", 10, 3600000 },
	[XLB_RANGE_AGENT_INTERVAL_MS] = { "agent interval (ms)", 0, 3600000 },
	[XLB_RANGE_SLOW_START_MS] = { "slow start (ms)", 0, 3600000 },
	[XLB_RANGE_DRAIN_TIMEOUT_MS] = { "drain timeout (ms)", 0, 86400000 },
	[XLB_RANGE_PCT] = { "share (%)", 0, 100 },
	[XLB_RANGE_REBUILD_MS] = { "rebuild interval (ms)", 0, 60000 },
	[XLB_RANGE_MAX_VIPS] = { "max VIPs", 16, XLB_MAX_VIPS_LIMIT },
	[XLB_RANGE_MAX_BACKENDS] = { "max backends", 256, XLB_MAX_BACKENDS_LIMIT },
	[XLB_RANGE_MON_SAMPLE] = { "sample", 1, 1000000 },
	[XLB_RANGE_MON_COUNT] = { "count", 1, UINT32_MAX },
	[XLB_RANGE_ETCD_TIMEOUT_MS] = { "etcd timeout (ms)", 50, 60000 },
	[XLB_RANGE_ETCD_RETRY_MS] = { "etcd retry (ms)", 100, 60000 },
	[XLB_RANGE_ETCD_TTL_S] = { "etcd lease TTL (s)", 2, 600 },
};

const char *xlb_range_text(const struct xlb_range *r, char *buf, size_t len)
{
	snprintf(buf, len, "%u..%u", r->min, r->max);
	return buf;
}

int xlb_range_parse(const struct xlb_range *r, const char *s, size_t len, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!len || len > 10)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	if (!xlb_range_has(r, v))
		return -EINVAL;
	*out = v;
	return 0;
}

bool xlb_http_path_ok(const char *p)
{
	size_t n;

	if (!p || *p != '/')
		return false;
	for (n = 0; p[n]; n++) {
		unsigned char ch = p[n];

		if (ch <= ' ' || ch > '~' || n + 1 >= XLB_HTTP_PATH_MAX)
			return false;
	}
	return true;
}

/* Bytes of the valid UTF-8 character at @s (@n bytes left), or 0 when none starts there. */
static size_t utf8_char(const unsigned char *s, size_t n)
{
	size_t k, i;
	uint32_t c;

	if (s[0] < 0x80)
		return 1;
	k = s[0] < 0xc2 ? 0 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : s[0] < 0xf5 ? 4 : 0;
	if (!k || n < k)
		return 0;
	c = s[0] & (0x7f >> k);
	for (i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	/* no overlong form, no surrogate, nothing above U+10FFFF */
	if ((k == 3 && c < 0x800) || (k == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return k;
}

char *xlb_utf8_clean(char *s)
{
	size_t n = strlen(s), i = 0, k;

	while (i < n) {
		k = utf8_char((const unsigned char *)s + i, n - i);
		if (!k)
			s[i++] = '?';
		else
			i += k;
	}
	return s;
}

const char *xlb_table_sizes_text(char *buf, size_t len)
{
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < xlb_maglev_nsizes && n < len; i++)
		n += snprintf(buf + n, len - n, "%s%u", i ? ", " : "", xlb_maglev_sizes[i]);
	return buf;
}
