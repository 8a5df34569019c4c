// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The configuration from JSON: every field validated, every problem reported with its JSON path
 * ("vips[1].backends[0].weight: must be 0..65535"), by the rules of rules.h and the names of
 * names.h.
 */
#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_file.h"
#include "maglev.h"
#include "rules.h"

#define PATH_LEN 192

/* snprintf into a path buffer: error paths are cut rather than overflowing. */
static void __attribute__((format(printf, 3, 4))) fmt_path(char *out, size_t len,
							    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, len, fmt, ap);
	va_end(ap);
}

static void join(char *out, const char *path, const char *key)
{
	fmt_path(out, PATH_LEN, "%s%s%s", path, *path ? "." : "", key);
}

/* Every key of @obj must be in @keys (NULL-terminated). */
static void check_keys(json_t *obj, const char *path, const char *const *keys,
		       struct xlb_cfg_errors *e)
{
	const char *k;
	json_t *v;
	char p[PATH_LEN];

	json_object_foreach(obj, k, v) {
		const char *const *a;

		for (a = keys; *a; a++)
			if (!strcmp(*a, k))
				break;
		if (!*a) {
			join(p, path, k);
			xlb_cfg_errors_add(e, p, "unknown key");
		}
	}
}

/* Integer @key of @obj in range @r; @def when absent (or an error if @required). */
static int get_uint(json_t *obj, const char *path, const char *key, enum xlb_range_id r,
		    uint32_t def, bool required, uint32_t *out, struct xlb_cfg_errors *e)
{
	json_t *v = json_object_get(obj, key);
	char p[PATH_LEN], range[XLB_RANGE_TEXT_LEN];
	long long x;

	join(p, path, key);
	if (!v) {
		if (required) {
			xlb_cfg_errors_add(e, p, "missing");
			return -EINVAL;
		}
		*out = def;
		return 0;
	}
	xlb_range_text(xlb_range(r), range, sizeof(range));
	if (!json_is_integer(v)) {
		xlb_cfg_errors_add(e, p, "must be an integer %s", range);
		return -EINVAL;
	}
	x = json_integer_value(v);
	if (!xlb_range_has(xlb_range(r), x)) {
		xlb_cfg_errors_add(e, p, "must be %s", range);
		return -EINVAL;
	}
	*out = x;
	return 0;
}

/* String @key of @obj; NULL (no error) when absent and not @required. */
static const char *get_str(json_t *obj, const char *path, const char *key, bool required,
			   struct xlb_cfg_errors *e, int *err)
{
	json_t *v = json_object_get(obj, key);
	char p[PATH_LEN];

	if (!v) {
		if (required) {
			join(p, path, key);
			xlb_cfg_errors_add(e, p, "missing");
			*err = -EINVAL;
		}
		return NULL;
	}
	if (!json_is_string(v)) {
		join(p, path, key);
		xlb_cfg_errors_add(e, p, "must be a string");
		*err = -EINVAL;
		return NULL;
	}
	/* NUL bytes are for payloads (get_bytes()) only: here they would cut the text short */
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		join(p, path, key);
		xlb_cfg_errors_add(e, p, "must not contain NUL bytes");
		*err = -EINVAL;
		return NULL;
	}
	return json_string_value(v);
}

/* Enum @key: one of the names of @t; @def when absent. */
static int get_enum(json_t *obj, const char *path, const char *key, const struct xlb_names *t,
		    int def, int *out, struct xlb_cfg_errors *e)
{
	char p[PATH_LEN], list[128];
	int err = 0;
	const char *s = get_str(obj, path, key, false, e, &err);

	if (err)
		return err;
	if (!s) {
		*out = def;
		return 0;
	}
	if (!xlb_name_parse(t, s, out))
		return 0;
	join(p, path, key);
	xlb_cfg_errors_add(e, p, "unknown value \"%s\" (expected %s)", s,
			   xlb_names_list(t, NULL, 0, list, sizeof(list)));
	return -EINVAL;
}

static int get_addr(json_t *obj, const char *path, const char *key, bool required, __be32 addr[4],
		    __u8 *family, bool *present, struct xlb_cfg_errors *e)
{
	char p[PATH_LEN];
	int err = 0;
	const char *s = get_str(obj, path, key, required, e, &err);

	if (present)
		*present = s != NULL;
	if (!s)
		return err;
	if (xlb_addr_parse(s, addr, family)) {
		join(p, path, key);
		xlb_cfg_errors_add(e, p, "not an IPv4 or IPv6 address: \"%s\"", s);
		return -EINVAL;
	}
	return 0;
}

static int get_mac(json_t *obj, const char *path, const char *key, __u8 mac[6], bool *present,
		   struct xlb_cfg_errors *e)
{
	char p[PATH_LEN];
	int err = 0;
	const char *s = get_str(obj, path, key, false, e, &err);

	*present = s != NULL;
	if (!s)
		return err;
	if (xlb_mac_parse(s, mac)) {
		join(p, path, key);
		xlb_cfg_errors_add(e, p, "not a MAC address (aa:bb:cc:dd:ee:ff): \"%s\"", s);
		*present = false;
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------------ objects */

_Static_assert(sizeof(((struct xlb_cfg_check *)0)->path) == XLB_HTTP_PATH_MAX,
	       "XLB_HTTP_PATH_MAX is the size of a check's path");

/* A string of at most @cap bytes (NUL bytes allowed, "\u0000"), copied into @buf. */
static int get_bytes(json_t *obj, const char *path, const char *key, uint8_t *buf, size_t cap,
		     uint32_t *len, struct xlb_cfg_errors *e)
{
	json_t *v = json_object_get(obj, key);
	char p[PATH_LEN];

	join(p, path, key);
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

	join(p, path, "expect");
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
	check_keys(obj, path, xlb_check_keys, e);
	for (k = 0; k < XLB_CHECK_KEY__MAX; k++)
		if (json_object_get(obj, xlb_check_keys[k]))
			c->set |= 1u << k;
	if (!get_enum(obj, path, "type", &xlb_check_names, c->type, &t, e))
		c->type = t;
	if (!get_uint(obj, path, "port", XLB_RANGE_PORT, c->port, false, &v, e))
		c->port = v;
	for (i = 0; i < ARRAY_SIZE(nums); i++)
		get_uint(obj, path, nums[i].key, nums[i].r, *(uint32_t *)((char *)c + nums[i].off),
			 false, (uint32_t *)((char *)c + nums[i].off), e);
	if (c->timeout_ms > c->interval_ms) {
		join(p, path, "timeout_ms");
		xlb_cfg_errors_add(e, p, "must not exceed interval_ms (%u)", c->interval_ms);
	}
	s = get_str(obj, path, "path", false, e, &err);
	if (s) {
		join(p, path, "path");
		if (c->type != XLB_CHECK_HTTP)
			xlb_cfg_errors_add(e, p, "only for http checks");
		else if (!xlb_http_path_ok(s))
			xlb_cfg_errors_add(e, p, "must be an absolute URL path (" XLB_HTTP_PATH_RULE
					   ")");
		else
			strcpy(c->path, s);
	}
	s = get_str(obj, path, "host", false, e, &err);
	if (s) {
		join(p, path, "host");
		if (c->type != XLB_CHECK_HTTP)
			xlb_cfg_errors_add(e, p, "only for http checks");
		else if (!*s || strlen(s) >= sizeof(c->host) || strpbrk(s, " \t\r\n/"))
			xlb_cfg_errors_add(e, p, "must be a host name (1..255 bytes, no blank or /)");
		else
			strcpy(c->host, s);
	}
	if (json_object_get(obj, "expect")) {
		if (c->type != XLB_CHECK_HTTP) {
			join(p, path, "expect");
			xlb_cfg_errors_add(e, p, "only for http checks");
		} else {
			get_expect(obj, path, c, e);
		}
	}
	if (!get_addr(obj, path, "source", false, c->source, &c->source_family, &c->has_source, e) &&
	    c->has_source && c->type == XLB_CHECK_NONE && !json_object_get(obj, "agent_port")) {
		join(p, path, "source");
		xlb_cfg_errors_add(e, p, "only for a check that probes");
	}
	for (i = 0; i < 2; i++) {
		const char *key = i ? "expect_payload" : "payload";

		if (!json_object_get(obj, key))
			continue;
		if (c->type != XLB_CHECK_UDP) {
			join(p, path, key);
			xlb_cfg_errors_add(e, p, "only for udp checks");
		} else if (i) {
			get_bytes(obj, path, key, c->expect_payload, sizeof(c->expect_payload),
				  &c->expect_payload_len, e);
		} else {
			get_bytes(obj, path, key, c->payload, sizeof(c->payload), &c->payload_len, e);
		}
	}
	if (!get_uint(obj, path, "agent_port", XLB_RANGE_PORT, c->agent_port, false, &v, e))
		c->agent_port = v;
	s = get_str(obj, path, "agent_send", false, e, &err);
	if (s) {
		join(p, path, "agent_send");
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
	check_keys(obj, path, keys, e);
	get_addr(obj, path, "address", true, be->addr, &be->family, NULL, e);
	if (!get_uint(obj, path, "port", XLB_RANGE_PORT, 0, false, &v, e))
		be->port = v;
	get_uint(obj, path, "weight", XLB_RANGE_WEIGHT, XLB_CFG_WEIGHT_DEFAULT, false,
		 &be->weight, e);
	if (!get_enum(obj, path, "state", &xlb_state_names, XLB_STATE_ACTIVE, &t, e))
		be->state = t;
	get_mac(obj, path, "mac", be->mac, &be->has_mac, e);
	if (mode == XLB_MODE_L2 && !be->has_mac && !json_object_get(obj, "mac")) {
		join(p, path, "mac");
		xlb_cfg_errors_add(e, p, "required in l2 mode");
	}
	c = json_object_get(obj, "backup");
	if (c && !json_is_boolean(c)) {
		join(p, path, "backup");
		xlb_cfg_errors_add(e, p, "must be true or false");
	}
	be->backup = json_is_true(c);
	get_uint(obj, path, "slow_start_ms", XLB_RANGE_SLOW_START_MS, 0, false, &be->slow_start_ms,
		 e);
	get_uint(obj, path, "drain_timeout_ms", XLB_RANGE_DRAIN_TIMEOUT_MS, 0, false,
		 &be->drain_timeout_ms, e);
	/* the VIP's check, with what the backend says itself */
	be->check = vip->check;
	be->check.set = 0;
	c = json_object_get(obj, "check");
	join(p, path, "check");
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
		join(p, path, "announce");
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
	check_keys(obj, path, keys, e);
	get_addr(obj, path, "address", true, vip->addr, &vip->family, NULL, e);
	if (!get_uint(obj, path, "port", XLB_RANGE_PORT, 0, true, &v, e))
		vip->port = v;
	if (!get_enum(obj, path, "proto", &xlb_proto_names, IPPROTO_TCP, &t, e))
		vip->proto = t;
	if (!get_enum(obj, path, "mode", &xlb_mode_names, XLB_MODE_IPIP, &t, e))
		vip->mode = t;
	if (!get_enum(obj, path, "hash", &xlb_hash_names, XLB_HASH_5TUPLE, &t, e))
		vip->hash = t;
	if (!get_uint(obj, path, "table_size", XLB_RANGE_TABLE_SIZE, XLB_MAGLEV_DEFAULT, false, &v,
		      e)) {
		if (xlb_maglev_size_valid(v)) {
			vip->table_size = v;
		} else {
			join(p, path, "table_size");
			xlb_cfg_errors_add(e, p, "must be one of %s",
					   xlb_table_sizes_text(sizes, sizeof(sizes)));
		}
	}
	get_uint(obj, path, "slow_start_ms", XLB_RANGE_SLOW_START_MS, 0, false, &vip->slow_start_ms,
		 e);
	get_uint(obj, path, "drain_timeout_ms", XLB_RANGE_DRAIN_TIMEOUT_MS, 0, false,
		 &vip->drain_timeout_ms, e);
	get_uint(obj, path, "min_healthy_pct", XLB_RANGE_PCT, 0, false, &vip->min_healthy_pct, e);
	if (!get_enum(obj, path, "no_backend", &xlb_no_backend_names, 0, &t, e))
		vip->no_backend_pass = t;
	get_vip_announce(obj, path, vip, e);
	b = json_object_get(obj, "check");
	if (b) {
		join(p, path, "check");
		check_from_json(b, p, &vip->check, e);
		vip->check.set = 0; /* the VIP's own are all written */
	}
	bes = json_object_get(obj, "backends");
	join(p, path, "backends");
	if (bes && !json_is_array(bes)) {
		xlb_cfg_errors_add(e, p, "must be an array");
	} else if (bes && json_array_size(bes)) {
		if (xlb_cfg_vip_backends_reserve(vip, json_array_size(bes))) {
			xlb_cfg_errors_add(e, p, "out of memory");
			return -ENOMEM;
		}
		json_array_foreach(bes, i, b) {
			struct xlb_cfg_backend *be = &vip->backends[vip->nbackends];

			fmt_path(bp, sizeof(bp), "%s[%zu]", p, i);
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

static void iface_from_json(json_t *obj, const char *path, struct xlb_cfg *cfg,
			    struct xlb_cfg_errors *e)
{
	static const char *const keys[] = { "name", "mode", NULL };
	struct xlb_cfg_iface *ifc = &cfg->ifaces[cfg->nifaces];
	unsigned int before = e->count;
	char p[PATH_LEN];
	const char *name;
	int err = 0, t;
	size_t i;

	if (!json_is_object(obj)) {
		xlb_cfg_errors_add(e, path, "must be an object");
		return;
	}
	check_keys(obj, path, keys, e);
	name = get_str(obj, path, "name", true, e, &err);
	join(p, path, "name");
	if (name && (!*name || strlen(name) >= IF_NAMESIZE || strpbrk(name, "/ \t\n:"))) {
		xlb_cfg_errors_add(e, p, "not an interface name: \"%s\"", name);
	} else if (name) {
		for (i = 0; i < cfg->nifaces; i++)
			if (!strcmp(cfg->ifaces[i].name, name))
				xlb_cfg_errors_add(e, p, "duplicate interface \"%s\"", name);
	}
	if (!get_enum(obj, path, "mode", &xlb_iface_mode_names, XLB_IFACE_NATIVE, &t, e))
		ifc->mode = t;
	if (e->count == before) {
		strcpy(ifc->name, name);
		cfg->nifaces++;
	}
}

/*
 * "metrics_listen": ADDR:PORT (IPv6 in brackets), port 1..65535; absent =
 * XLB_METRICS_LISTEN_DEFAULT (loopback), "" or "off" = none.
 */
static void get_listen(json_t *obj, const char *key, struct xlb_cfg *cfg, struct xlb_cfg_errors *e)
{
	struct xlb_hostport hp;
	int err = 0;
	const char *s = get_str(obj, "", key, false, e, &err);

	if (!s && !err)
		s = XLB_METRICS_LISTEN_DEFAULT;
	if (!s || !*s || !strcmp(s, "off"))
		return;
	if (strlen(s) >= sizeof(cfg->metrics_listen) ||
	    xlb_hostport_parse(s, strlen(s), true, &hp) || !hp.port) {
		xlb_cfg_errors_add(e, key, "not ADDR:PORT (\"127.0.0.1:9469\", \"[::1]:9469\", "
				   "port 1..65535; \"\" for none): \"%s\"", s);
		return;
	}
	strcpy(cfg->metrics_listen, s);
	cfg->metrics_family = hp.family;
	memcpy(cfg->metrics_addr, hp.addr, sizeof(hp.addr));
	cfg->metrics_port = hp.port;
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
		fmt_path(p, sizeof(p), "vips[%zu].backends[%zu]", i, j);
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
		fmt_path(p, sizeof(p), "vips[%zu]", i);
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

/*
 * "announce": {"interface": NAME}: xlbd keeps the addresses of the VIPs it serves on that
 * interface for BIRD to export; absent = off.
 */
static void get_announce(json_t *root, struct xlb_cfg *cfg, struct xlb_cfg_errors *e)
{
	static const char *const keys[] = { "interface", NULL };
	json_t *o = json_object_get(root, "announce");
	const char *name;
	int err = 0;

	if (!o)
		return;
	if (!json_is_object(o)) {
		xlb_cfg_errors_add(e, "announce", "must be an object");
		return;
	}
	check_keys(o, "announce", keys, e);
	name = get_str(o, "announce", "interface", false, e, &err);
	if (err)
		return;
	if (!name)
		name = XLB_CFG_ANNOUNCE_IFACE;
	if (!*name || strlen(name) >= IF_NAMESIZE || strpbrk(name, "/ \t\n:") ||
	    !strcmp(name, "lo")) {
		xlb_cfg_errors_add(e, "announce.interface", "not an interface name xlbd may own: "
				   "\"%s\"", name);
		return;
	}
	for (size_t i = 0; i < cfg->nifaces; i++)
		if (!strcmp(cfg->ifaces[i].name, name))
			xlb_cfg_errors_add(e, "announce.interface", "\"%s\" is a datapath "
					   "interface: it needs one of its own", name);
	cfg->announce = true;
	strcpy(cfg->announce_iface, name);
}

/* A name of the cluster or of a host: letters, digits, ".", "_", "-", at most @max - 1 bytes. */
static bool etcd_name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n && n < max && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				      "0123456789._-") == n && strcmp(s, ".") && strcmp(s, "..");
}

/* One etcd endpoint: http://ADDR:PORT or https://ADDR:PORT ([IPV6]:PORT), nothing after. */
static bool etcd_endpoint_ok(const char *s)
{
	struct xlb_hostport hp;
	const char *hostport = !strncmp(s, "http://", 7) ? s + 7 :
			       !strncmp(s, "https://", 8) ? s + 8 : NULL;

	return hostport && strlen(s) < sizeof(((struct xlb_cfg_etcd *)0)->endpoints[0]) &&
	       !xlb_hostport_parse(hostport, strlen(hostport), true, &hp) && hp.port;
}

/*
 * "etcd": {"endpoints": ["http://ADDR:PORT", ...], "prefix": "/xlb", "cluster": NAME, "host":
 * NAME, "timeout_ms", "connect_timeout_ms", "retry_ms", "lease_ttl_s"}: the VIPs are shared
 * through etcd under PREFIX/CLUSTER/ (xlbd); absent = off.
 */
static void get_etcd(json_t *root, struct xlb_cfg *cfg, struct xlb_cfg_errors *e)
{
	static const char *const keys[] = { "endpoints", "prefix", "cluster", "host",
					    "timeout_ms", "connect_timeout_ms", "retry_ms",
					    "lease_ttl_s", NULL };
	struct xlb_cfg_etcd *c = &cfg->etcd;
	json_t *o = json_object_get(root, "etcd"), *a, *v;
	unsigned int before = e->count;
	const char *s;
	char p[PATH_LEN];
	size_t i, n;
	int err = 0;

	if (!o)
		return;
	if (!json_is_object(o)) {
		xlb_cfg_errors_add(e, "etcd", "must be an object");
		return;
	}
	check_keys(o, "etcd", keys, e);
	a = json_object_get(o, "endpoints");
	if (!a) {
		xlb_cfg_errors_add(e, "etcd.endpoints", "missing (the etcd members' client URLs, "
				   "[\"http://ADDR:PORT\", ...])");
	} else if (!json_is_array(a) || !json_array_size(a) ||
		   json_array_size(a) > XLB_ETCD_ENDPOINTS_MAX) {
		xlb_cfg_errors_add(e, "etcd.endpoints", "must be an array of 1 to %d URLs",
				   XLB_ETCD_ENDPOINTS_MAX);
	} else {
		json_array_foreach(a, i, v) {
			fmt_path(p, sizeof(p), "etcd.endpoints[%zu]", i);
			if (!json_is_string(v) || !etcd_endpoint_ok(json_string_value(v))) {
				xlb_cfg_errors_add(e, p, "not an etcd URL (\"http://198.18.0.1:2379\", "
						   "\"http://[2001:db8::1]:2379\"): %s",
						   json_is_string(v) ? json_string_value(v) :
						   "not a string");
				continue;
			}
			strcpy(c->endpoints[c->nendpoints++], json_string_value(v));
		}
	}
	s = get_str(o, "etcd", "prefix", false, e, &err);
	if (!s && !err)
		s = XLB_ETCD_PREFIX_DEFAULT;
	n = s ? strlen(s) : 0;
	if (s && (n < 2 || n >= sizeof(c->prefix) || s[0] != '/' || s[n - 1] == '/' ||
		  strpbrk(s, " \t\n\"\\") || strstr(s, "//")))
		xlb_cfg_errors_add(e, "etcd.prefix", "not a key prefix (\"/xlb\": starts with /, "
				   "no trailing /, no spaces, under %zu bytes): \"%s\"",
				   sizeof(c->prefix), s);
	else if (s)
		strcpy(c->prefix, s);
	err = 0;
	s = get_str(o, "etcd", "cluster", false, e, &err);
	if (!s && !err)
		s = XLB_ETCD_CLUSTER_DEFAULT;
	if (s && !etcd_name_ok(s, sizeof(c->cluster)))
		xlb_cfg_errors_add(e, "etcd.cluster", "not a cluster name (letters, digits, . _ -, "
				   "at most %zu): \"%s\"", sizeof(c->cluster) - 1, s);
	else if (s)
		strcpy(c->cluster, s);
	err = 0;
	s = get_str(o, "etcd", "host", false, e, &err);
	if (s && !etcd_name_ok(s, sizeof(c->host)))
		xlb_cfg_errors_add(e, "etcd.host", "not a host name (letters, digits, . _ -, at "
				   "most %zu): \"%s\"", sizeof(c->host) - 1, s);
	else if (s)
		strcpy(c->host, s);
	get_uint(o, "etcd", "timeout_ms", XLB_RANGE_ETCD_TIMEOUT_MS, XLB_ETCD_TIMEOUT_DEFAULT,
		 false, &c->timeout_ms, e);
	get_uint(o, "etcd", "connect_timeout_ms", XLB_RANGE_ETCD_TIMEOUT_MS,
		 XLB_ETCD_CONNECT_TIMEOUT_DEFAULT, false, &c->connect_timeout_ms, e);
	get_uint(o, "etcd", "retry_ms", XLB_RANGE_ETCD_RETRY_MS, XLB_ETCD_RETRY_DEFAULT, false,
		 &c->retry_ms, e);
	get_uint(o, "etcd", "lease_ttl_s", XLB_RANGE_ETCD_TTL_S, XLB_ETCD_TTL_DEFAULT, false,
		 &c->lease_ttl_s, e);
	c->on = e->count == before;
}

static const char *const top_keys[] = {
	"interfaces", "nexthop_mac", "hash_seed",  "flow_table_size", "encap_source4",
	"encap_source4_bits", "encap_source6", "mtu", "flood_limit", "gue_port",
	"too_big", "rebuild_min_interval_ms", "max_vips", "max_backends", "metrics_listen", "vips",
	"announce", "etcd", NULL,
};

struct xlb_cfg *xlb_cfg_from_json(json_t *root, struct xlb_cfg_errors *e)
{
	unsigned int before = e->count;
	struct xlb_cfg *cfg;
	size_t i, j, total = 0;
	char p[PATH_LEN];
	json_t *a, *v;
	bool present;
	uint32_t u;
	__u8 fam;
	int t;

	if (!json_is_object(root)) {
		xlb_cfg_errors_add(e, "config", "must be a JSON object");
		return NULL;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		xlb_cfg_errors_add(e, "config", "out of memory");
		return NULL;
	}
	check_keys(root, "", top_keys, e);

	a = json_object_get(root, "interfaces");
	if (a && !json_is_array(a)) {
		xlb_cfg_errors_add(e, "interfaces", "must be an array");
	} else if (a && json_array_size(a)) {
		cfg->ifaces = calloc(json_array_size(a), sizeof(*cfg->ifaces));
		if (!cfg->ifaces)
			goto oom;
		json_array_foreach(a, i, v) {
			fmt_path(p, sizeof(p), "interfaces[%zu]", i);
			iface_from_json(v, p, cfg, e);
		}
	}
	get_mac(root, "", "nexthop_mac", cfg->nexthop_mac, &present, e);
	get_uint(root, "", "hash_seed", XLB_RANGE_HASH_SEED, 0, false, &cfg->hash_seed, e);
	get_uint(root, "", "flow_table_size", XLB_RANGE_FLOW_TABLE_SIZE, XLB_FLOWS_DEFAULT, false,
		 &cfg->flow_table_size, e);
	{
		__be32 a4[4];

		if (!get_addr(root, "", "encap_source4", false, a4, &fam, &cfg->has_encap4, e) &&
		    cfg->has_encap4) {
			if (fam != XLB_AF_INET) {
				xlb_cfg_errors_add(e, "encap_source4", "must be an IPv4 address");
				cfg->has_encap4 = false;
			}
			cfg->encap_source4 = a4[0];
		}
	}
	get_uint(root, "", "encap_source4_bits", XLB_RANGE_ENCAP4_BITS, 0, false,
		 &cfg->encap_source4_bits, e);
	if (!get_addr(root, "", "encap_source6", false, cfg->encap_source6, &fam, &cfg->has_encap6,
		      e) && cfg->has_encap6 && fam != XLB_AF_INET6) {
		xlb_cfg_errors_add(e, "encap_source6", "must be an IPv6 address");
		cfg->has_encap6 = false;
	}
	get_uint(root, "", "mtu", XLB_RANGE_MTU, XLB_CFG_MTU_DEFAULT, false, &cfg->mtu, e);
	get_uint(root, "", "flood_limit", XLB_RANGE_FLOOD_LIMIT, 0, false, &cfg->flood_limit, e);
	if (!get_uint(root, "", "gue_port", XLB_RANGE_PORT_SET, XLB_GUE_PORT_DEFAULT, false, &u, e))
		cfg->gue_port = u;
	if (!get_enum(root, "", "too_big", &xlb_too_big_names, XLB_TOO_BIG_ICMP, &t, e))
		cfg->too_big = t;
	get_uint(root, "", "rebuild_min_interval_ms", XLB_RANGE_REBUILD_MS,
		 XLB_REBUILD_MIN_INTERVAL_DEFAULT, false, &cfg->rebuild_min_interval_ms, e);
	get_uint(root, "", "max_vips", XLB_RANGE_MAX_VIPS, XLB_MAX_VIPS, false, &cfg->max_vips, e);
	get_uint(root, "", "max_backends", XLB_RANGE_MAX_BACKENDS, XLB_MAX_BACKENDS, false,
		 &cfg->max_backends, e);
	get_listen(root, "metrics_listen", cfg, e);
	get_announce(root, cfg, e);
	get_etcd(root, cfg, e);

	a = json_object_get(root, "vips");
	if (a && !json_is_array(a)) {
		xlb_cfg_errors_add(e, "vips", "must be an array");
	} else if (a && cfg->max_vips && json_array_size(a) > cfg->max_vips) {
		xlb_cfg_errors_add(e, "vips", "at most %u VIPs (max_vips), %zu given", cfg->max_vips,
				   json_array_size(a));
	} else if (a && json_array_size(a)) {
		cfg->vips = calloc(json_array_size(a), sizeof(*cfg->vips));
		if (!cfg->vips)
			goto oom;
		json_array_foreach(a, i, v) {
			struct xlb_cfg_vip *vip = &cfg->vips[cfg->nvips];

			fmt_path(p, sizeof(p), "vips[%zu]", i);
			if (xlb_cfg_vip_from_json(v, p, vip, e))
				continue;
			for (j = 0; j < cfg->nvips; j++) {
				struct xlb_cfg_vip *o = &cfg->vips[j];

				if (o->family == vip->family && o->port == vip->port &&
				    o->proto == vip->proto && !memcmp(o->addr, vip->addr, 16))
					break;
			}
			if (j < cfg->nvips) {
				char n[96];

				xlb_cfg_errors_add(e, p, "duplicate VIP %s (also vips[%zu])",
						   xlb_vip_name(vip, n, sizeof(n)), j);
				xlb_cfg_vip_release(vip);
				continue;
			}
			total += vip->nbackends;
			cfg->nvips++;
		}
		if (cfg->max_backends && total > cfg->max_backends - 1)
			xlb_cfg_errors_add(e, "vips", "at most %u backends in all (max_backends - 1), "
					   "%zu given", cfg->max_backends - 1, total);
	}
	/* across objects, once each is valid (the indexes of cfg->vips are then the file's) */
	if (e->count == before)
		xlb_cfg_check_vips(cfg, e);
	if (e->count != before) {
		xlb_cfg_free(cfg);
		return NULL;
	}
	return cfg;
oom:
	xlb_cfg_errors_add(e, "config", "out of memory");
	xlb_cfg_free(cfg);
	return NULL;
}

struct xlb_cfg *xlb_cfg_parse_string(const char *text, struct xlb_cfg_errors *e)
{
	struct xlb_cfg *cfg;
	json_error_t jerr;
	json_t *root;

	root = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!root) {
		xlb_cfg_errors_add(e, NULL, "line %d column %d: %s", jerr.line, jerr.column,
				   jerr.text);
		return NULL;
	}
	cfg = xlb_cfg_from_json(root, e);
	json_decref(root);
	return cfg;
}

struct xlb_cfg *xlb_cfg_load(const char *path, struct xlb_cfg_errors *e)
{
	struct xlb_cfg *cfg;
	json_error_t jerr;
	json_t *root;

	root = json_load_file(path, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!root) {
		xlb_cfg_errors_add(e, NULL, "%s: line %d column %d: %s", path, jerr.line,
				   jerr.column, jerr.text);
		return NULL;
	}
	cfg = xlb_cfg_from_json(root, e);
	json_decref(root);
	return cfg;
}
