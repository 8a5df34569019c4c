// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The VIPs of the configuration from JSON: a VIP, its backends and their health checks (each
 * key validated, problems under their JSON path), and the rules between the top-level keys and
 * the VIPs (path MTU, encapsulation source). The rest of a file is config_parse.c.
 */
#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_field.h"
#include "maglev.h"
#include "rules.h"

/* ------------------------------------------------------------------ objects */

_Static_assert(sizeof(((struct xlb_cfg_check *)0)->path) == XLB_HTTP_PATH_MAX,
	       "XLB_HTTP_PATH_MAX is the size of a check's path");

/* A string of at most @cap bytes (NUL bytes allowed, "\u0000"), copied into @buf. */
static int get_bytes(json_t *obj, const char *path, const char *key, uint8_t *buf, size_t cap,
		     uint32_t *len, struct xlb_cfg_errors *e)
{
	json_t *v = json_object_get(obj, key);
	char p[PATH_LEN];

	jf_join(p, path, key);
	if (!json_is_string(v)) {
		xlb_cfg_errors_add(e, p, "must be a string");
		return -EINVAL;
	}
	if (json_string_length(v) > cap) {
		xlb_cfg_errors_add(e, p, "at most %zu bytes", cap);
		return -EINVAL;
	}
	*len = json_string_length(v);
	memcpy(buf, json_string_value(v), *len);
	return 0;
}

/* "expect": a status (204) or a range of them ("200-399"). */
static void get_expect(json_t *obj, const char *path, struct xlb_cfg_check *c,
		       struct xlb_cfg_errors *e)
{
	json_t *v = json_object_get(obj, "expect");
	const struct xlb_range *r = xlb_range(XLB_RANGE_EXPECT);
	char p[PATH_LEN], range[XLB_RANGE_TEXT_LEN];
	const char *s, *dash;
	uint32_t lo, hi;

	jf_join(p, path, "expect");
	xlb_range_text(r, range, sizeof(range));
	if (json_is_integer(v) && xlb_range_has(r, json_integer_value(v))) {
		c->expect = c->expect_hi = json_integer_value(v);
		return;
	}
	s = json_is_string(v) ? json_string_value(v) : NULL;
	dash = s ? strchr(s, '-') : NULL;
	if (dash && !xlb_range_parse(r, s, dash - s, &lo) &&
	    !xlb_range_parse(r, dash + 1, strlen(dash + 1), &hi) && lo <= hi) {
		c->expect = lo;
		c->expect_hi = hi;
		return;
	}
	xlb_cfg_errors_add(e, p, "must be an HTTP status %s or a range \"LO-HI\" of them", range);
}

/*
 * The keys of @obj over @c, which holds what they override (the defaults, or the VIP's check
 * for a backend's). Keys of one check type are refused for another, as that type is once the
 * keys are applied. Each key given is marked in c->set.
 */
static int check_from_json(json_t *obj, const char *path, struct xlb_cfg_check *c,
			   struct xlb_cfg_errors *e)
{
	static const struct {
		const char *key;
		enum xlb_range_id r;
		size_t off;
	} nums[] = {
		{ "interval_ms", XLB_RANGE_INTERVAL_MS, offsetof(struct xlb_cfg_check, interval_ms) },
		{ "timeout_ms", XLB_RANGE_TIMEOUT_MS, offsetof(struct xlb_cfg_check, timeout_ms) },
		{ "rise", XLB_RANGE_RISE, offsetof(struct xlb_cfg_check, rise) },
		{ "fall", XLB_RANGE_FALL, offsetof(struct xlb_cfg_check, fall) },
		{ "jitter_pct", XLB_RANGE_JITTER_PCT, offsetof(struct xlb_cfg_check, jitter_pct) },
		{ "fastinter_ms", XLB_RANGE_INTER_MS, offsetof(struct xlb_cfg_check, fastinter_ms) },
		{ "downinter_ms", XLB_RANGE_INTER_MS, offsetof(struct xlb_cfg_check, downinter_ms) },
		{ "agent_interval_ms", XLB_RANGE_AGENT_INTERVAL_MS,
		  offsetof(struct xlb_cfg_check, agent_interval_ms) },
	};
	unsigned int before = e->count;
	char p[PATH_LEN];
	const char *s;
	uint32_t v;
	int err = 0, t, k;
	size_t i;

	if (!json_is_object(obj)) {
		xlb_cfg_errors_add(e, path, "must be an object");
		return -EINVAL;
	}
	jf_check_keys(obj, path, xlb_check_keys, e);
	for (k = 0; k < XLB_CHECK_KEY__MAX; k++)
		if (json_object_get(obj, xlb_check_keys[k]))
			c->set |= 1u << k;
	if (!jf_enum(obj, path, "type", &xlb_check_names, c->type, &t, e))
		c->type = t;
	if (!jf_uint(obj, path, "port", XLB_RANGE_PORT, c->port, false, &v, e))
		c->port = v;
	for (i = 0; i < ARRAY_SIZE(nums); i++)
		jf_uint(obj, path, nums[i].key, nums[i].r, *(uint32_t *)((char *)c + nums[i].off),
			false, (uint32_t *)((char *)c + nums[i].off), e);
	if (c->timeout_ms > c->interval_ms) {
		jf_join(p, path, "timeout_ms");
		xlb_cfg_errors_add(e, p, "must not exceed interval_ms (%u)", c->interval_ms);
	}
	s = jf_str(obj, path, "path", false, e, &err);
	if (s) {
		jf_join(p, path, "path");
		if (c->type != XLB_CHECK_HTTP)
			xlb_cfg_errors_add(e, p, "only for http checks");
		else if (!xlb_http_path_ok(s))
			xlb_cfg_errors_add(e, p, "must be an absolute URL path (" XLB_HTTP_PATH_RULE
					   ")");
		else
			strcpy(c->path, s);
	}
	s = jf_str(obj, path, "host", false, e, &err);
	if (s) {
		jf_join(p, path, "host");
		if (c->type != XLB_CHECK_HTTP)
			xlb_cfg_errors_add(e, p, "only for http checks");
		else if (!*s || strlen(s) >= sizeof(c->host) || strpbrk(s, " \t\r\n/"))
			xlb_cfg_errors_add(e, p, "must be a host name (1..255 bytes, no blank or /)");
		else
			strcpy(c->host, s);
	}
	if (json_object_get(obj, "expect")) {
		if (c->type != XLB_CHECK_HTTP) {
			jf_join(p, path, "expect");
			xlb_cfg_errors_add(e, p, "only for http checks");
		} else {
			get_expect(obj, path, c, e);
		}
	}
	if (!jf_addr(obj, path, "source", false, c->source, &c->source_family, &c->has_source, e) &&
	    c->has_source && c->type == XLB_CHECK_NONE && !json_object_get(obj, "agent_port")) {
		jf_join(p, path, "source");
		xlb_cfg_errors_add(e, p, "only for a check that probes");
	}
	for (i = 0; i < 2; i++) {
		const char *key = i ? "expect_payload" : "payload";

		if (!json_object_get(obj, key))
			continue;
		if (c->type != XLB_CHECK_UDP) {
			jf_join(p, path, key);
			xlb_cfg_errors_add(e, p, "only for udp checks");
		} else if (i) {
			get_bytes(obj, path, key, c->expect_payload, sizeof(c->expect_payload),
				  &c->expect_payload_len, e);
		} else {
			get_bytes(obj, path, key, c->payload, sizeof(c->payload), &c->payload_len, e);
		}
	}
	if (!jf_uint(obj, path, "agent_port", XLB_RANGE_PORT, c->agent_port, false, &v, e))
		c->agent_port = v;
	s = jf_str(obj, path, "agent_send", false, e, &err);
	if (s) {
		jf_join(p, path, "agent_send");
		if (strlen(s) >= sizeof(c->agent_send))
			xlb_cfg_errors_add(e, p, "at most %zu bytes", sizeof(c->agent_send) - 1);
		else
			strcpy(c->agent_send, s);
	}
	return e->count == before ? 0 : -EINVAL;
}

int xlb_cfg_backend_from_json(json_t *obj, const char *path, const struct xlb_cfg_vip *vip,
			      struct xlb_cfg_backend *be, struct xlb_cfg_errors *e)
{
	static const char *const keys[] = { "address", "port",	 "weight",	  "state",
					    "mac",     "check",	 "backup",	  "slow_start_ms",
					    "drain_timeout_ms", NULL };
	enum xlb_mode mode = vip->mode;
	unsigned int before = e->count;
	char p[PATH_LEN];
	json_t *c;
	uint32_t v;
	int t;

	xlb_cfg_backend_init(be);
	if (!json_is_object(obj)) {
		xlb_cfg_errors_add(e, *path ? path : "backend", "must be an object");
		return -EINVAL;
	}
	jf_check_keys(obj, path, keys, e);
	jf_addr(obj, path, "address", true, be->addr, &be->family, NULL, e);
	if (!jf_uint(obj, path, "port", XLB_RANGE_PORT, 0, false, &v, e))
		be->port = v;
	jf_uint(obj, path, "weight", XLB_RANGE_WEIGHT, XLB_CFG_WEIGHT_DEFAULT, false,
		&be->weight, e);
	if (!jf_enum(obj, path, "state", &xlb_state_names, XLB_STATE_ACTIVE, &t, e))
		be->state = t;
	jf_mac(obj, path, "mac", be->mac, &be->has_mac, e);
	if (mode == XLB_MODE_L2 && !be->has_mac && !json_object_get(obj, "mac")) {
		jf_join(p, path, "mac");
		xlb_cfg_errors_add(e, p, "required in l2 mode");
	}
	c = json_object_get(obj, "backup");
	if (c && !json_is_boolean(c)) {
		jf_join(p, path, "backup");
		xlb_cfg_errors_add(e, p, "must be true or false");
	}
	be->backup = json_is_true(c);
	jf_uint(obj, path, "slow_start_ms", XLB_RANGE_SLOW_START_MS, 0, false, &be->slow_start_ms,
		e);
	jf_uint(obj, path, "drain_timeout_ms", XLB_RANGE_DRAIN_TIMEOUT_MS, 0, false,
		&be->drain_timeout_ms, e);
	/* the VIP's check, with what the backend says itself */
	be->check = vip->check;
	be->check.set = 0;
	c = json_object_get(obj, "check");
	jf_join(p, path, "check");
	if (c)
		check_from_json(c, p, &be->check, e);
	if (be->check.has_source && be->family && be->check.source_family != be->family)
		xlb_cfg_errors_add(e, p, "source: must be an %s address, as the backend's",
				   be->family == XLB_AF_INET6 ? "IPv6" : "IPv4");
	/* a probe needs a port: the check's, else the backend's, else the VIP's */
	if (be->check.type != XLB_CHECK_NONE && !be->check.port && !be->port && !vip->port)
		xlb_cfg_errors_add(e, p, "port: required (neither the backend nor its all-ports VIP "
				   "has one)");
	return e->count == before ? 0 : -EINVAL;
}

/* A VIP's "announce": true (default) or false (kept out of the routes: maintenance). */
static void get_vip_announce(json_t *obj, const char *path, struct xlb_cfg_vip *vip,
			     struct xlb_cfg_errors *e)
{
	json_t *v = json_object_get(obj, "announce");
	char p[PATH_LEN];

	if (v && !json_is_boolean(v)) {
		jf_join(p, path, "announce");
		xlb_cfg_errors_add(e, p, "must be true or false");
		return;
	}
	vip->no_announce = v && json_is_false(v);
}

int xlb_cfg_vip_from_json(json_t *obj, const char *path, struct xlb_cfg_vip *vip,
			  struct xlb_cfg_errors *e)
{
	static const char *const keys[] = { "address",	  "port", "proto",    "mode",
					    "table_size", "hash", "backends", "check",
					    "slow_start_ms", "drain_timeout_ms", "min_healthy_pct",
					    "no_backend", "announce", NULL };
	unsigned int before = e->count;
	char p[PATH_LEN], bp[PATH_LEN + 16], sizes[256];
	json_t *bes, *b;
	size_t i, j;
	uint32_t v;
	int t;

	xlb_cfg_vip_init(vip);
	if (!json_is_object(obj)) {
		xlb_cfg_errors_add(e, *path ? path : "vip", "must be an object");
		return -EINVAL;
	}
	jf_check_keys(obj, path, keys, e);
	jf_addr(obj, path, "address", true, vip->addr, &vip->family, NULL, e);
	if (!jf_uint(obj, path, "port", XLB_RANGE_PORT, 0, true, &v, e))
		vip->port = v;
	if (!jf_enum(obj, path, "proto", &xlb_proto_names, IPPROTO_TCP, &t, e))
		vip->proto = t;
	if (!jf_enum(obj, path, "mode", &xlb_mode_names, XLB_MODE_IPIP, &t, e))
		vip->mode = t;
	if (!jf_enum(obj, path, "hash", &xlb_hash_names, XLB_HASH_5TUPLE, &t, e))
		vip->hash = t;
	if (!jf_uint(obj, path, "table_size", XLB_RANGE_TABLE_SIZE, XLB_MAGLEV_DEFAULT, false, &v,
		     e)) {
		if (xlb_maglev_size_valid(v)) {
			vip->table_size = v;
		} else {
			jf_join(p, path, "table_size");
			xlb_cfg_errors_add(e, p, "must be one of %s",
					   xlb_table_sizes_text(sizes, sizeof(sizes)));
		}
	}
	jf_uint(obj, path, "slow_start_ms", XLB_RANGE_SLOW_START_MS, 0, false, &vip->slow_start_ms,
		e);
	jf_uint(obj, path, "drain_timeout_ms", XLB_RANGE_DRAIN_TIMEOUT_MS, 0, false,
		&vip->drain_timeout_ms, e);
	jf_uint(obj, path, "min_healthy_pct", XLB_RANGE_PCT, 0, false, &vip->min_healthy_pct, e);
	if (!jf_enum(obj, path, "no_backend", &xlb_no_backend_names, 0, &t, e))
		vip->no_backend_pass = t;
	get_vip_announce(obj, path, vip, e);
	b = json_object_get(obj, "check");
	if (b) {
		jf_join(p, path, "check");
		check_from_json(b, p, &vip->check, e);
		vip->check.set = 0; /* the VIP's own are all written */
	}
	bes = json_object_get(obj, "backends");
	jf_join(p, path, "backends");
	if (bes && !json_is_array(bes)) {
		xlb_cfg_errors_add(e, p, "must be an array");
	} else if (bes && json_array_size(bes)) {
		if (xlb_cfg_vip_backends_reserve(vip, json_array_size(bes))) {
			xlb_cfg_errors_add(e, p, "out of memory");
			return -ENOMEM;
		}
		json_array_foreach(bes, i, b) {
			struct xlb_cfg_backend *be = &vip->backends[vip->nbackends];

			jf_fmt_path(bp, sizeof(bp), "%s[%zu]", p, i);
			if (xlb_cfg_backend_from_json(b, bp, vip, be, e))
				continue;
			for (j = 0; j < vip->nbackends; j++) {
				struct xlb_cfg_backend *o = &vip->backends[j];

				if (o->family == be->family && o->port == be->port &&
				    !memcmp(o->addr, be->addr, 16)) {
					char a[INET6_ADDRSTRLEN];

					xlb_addr_format(be->addr, be->family, a, sizeof(a));
					xlb_cfg_errors_add(e, bp, "duplicate backend %s port %u",
							   a, be->port);
					break;
				}
			}
			if (j == vip->nbackends)
				vip->nbackends++;
		}
	}
	if (e->count != before) {
		xlb_cfg_vip_release(vip);
		return -EINVAL;
	}
	return 0;
}

/*
 * The least path MTU a host of each family can be told: every IPv6 link carries 1280 bytes
 * (RFC 8200 section 5); an IPv4 host ignores a smaller value than 552 (Linux's min_pmtu,
 * 512 + 40) and keeps sending packets the datapath cannot encapsulate.
 */
#define MIN_PMTU6 1280
#define MIN_PMTU4 552

static void check_vip(const struct xlb_cfg *cfg, const struct xlb_cfg_vip *vip, size_t i,
		      struct xlb_cfg_errors *e)
{
	const struct xlb_cfg_backend *worst = NULL;
	__u32 len, worst_len = 0, min = vip->family == XLB_AF_INET6 ? MIN_PMTU6 : MIN_PMTU4;
	bool told4 = false, told6 = false;
	char p[PATH_LEN], n[96], a[INET6_ADDRSTRLEN];
	size_t j;

	/* its name only for an error: the API checks every VIP on every change */
	for (j = 0; j < vip->nbackends; j++) {
		const struct xlb_cfg_backend *be = &vip->backends[j];
		bool v6 = be->family == XLB_AF_INET6;

		len = xlb_encap_len(be->family, vip->mode);
		if (!worst || len > worst_len) {
			worst = be;
			worst_len = len;
		}
		/* without a source the outer header would leave from 0.0.0.x or :: */
		if (vip->mode == XLB_MODE_L2 || (v6 ? cfg->has_encap6 || told6 :
						       cfg->has_encap4 || told4))
			continue;
		*(v6 ? &told6 : &told4) = true;
		jf_fmt_path(p, sizeof(p), "vips[%zu].backends[%zu]", i, j);
		xlb_addr_format(be->addr, be->family, a, sizeof(a));
		xlb_vip_name(vip, n, sizeof(n));
		xlb_cfg_errors_add(e, p, "%s VIP %s to IPv%c backend %s needs %s (the outer source "
				   "address), which is not set", xlb_cfg_mode_name(vip->mode), n,
				   v6 ? '6' : '4', a, v6 ? "encap_source6" : "encap_source4");
	}
	if (worst && cfg->mtu < min + worst_len) {
		char how[48] = "in l2 mode";

		if (worst_len)
			snprintf(how, sizeof(how), "after %s over IPv%c (%u bytes)",
				 xlb_cfg_mode_name(vip->mode),
				 worst->family == XLB_AF_INET6 ? '6' : '4', worst_len);
		jf_fmt_path(p, sizeof(p), "vips[%zu]", i);
		xlb_vip_name(vip, n, sizeof(n));
		xlb_cfg_errors_add(e, p, "mtu %u leaves %d bytes for %s %s, less than the %u IPv%c "
				   "hosts accept as a path MTU: mtu must be at least %u", cfg->mtu,
				   (int)cfg->mtu - (int)worst_len, n, how, min,
				   vip->family == XLB_AF_INET6 ? '6' : '4', min + worst_len);
	}
}

int xlb_cfg_check_vips(const struct xlb_cfg *cfg, struct xlb_cfg_errors *e)
{
	unsigned int before = e->count;
	size_t i;

	for (i = 0; i < cfg->nvips; i++)
		check_vip(cfg, &cfg->vips[i], i, e);
	return e->count == before ? 0 : -EINVAL;
}

int xlb_cfg_check_vips_since(const struct xlb_cfg *cfg, __u64 since, struct xlb_cfg_errors *e)
{
	unsigned int before = e->count;
	size_t i;

	for (i = 0; i < cfg->nvips; i++)
		if (cfg->vips[i].stamp > since)
			check_vip(cfg, &cfg->vips[i], i, e);
	return e->count == before ? 0 : -EINVAL;
}
