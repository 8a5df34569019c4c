// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The configuration from JSON: every field validated, every problem reported with its JSON path
 * ("vips[1].backends[0].weight: must be 0..65535"), by the rules of rules.h and the names of
 * names.h. Here the whole file: its top-level keys, interfaces, metrics listener, "announce"
 * and "etcd" sections, and the text or file read; the VIPs, backends and checks are
 * config_parse_vip.c, the reading of one field config_field.c.
 */
#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_field.h"
#include "maglev.h"
#include "rules.h"

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
	jf_check_keys(obj, path, keys, e);
	name = jf_str(obj, path, "name", true, e, &err);
	jf_join(p, path, "name");
	if (name && (!*name || strlen(name) >= IF_NAMESIZE || strpbrk(name, "/ \t\n:"))) {
		xlb_cfg_errors_add(e, p, "not an interface name: \"%s\"", name);
	} else if (name) {
		for (i = 0; i < cfg->nifaces; i++)
			if (!strcmp(cfg->ifaces[i].name, name))
				xlb_cfg_errors_add(e, p, "duplicate interface \"%s\"", name);
	}
	if (!jf_enum(obj, path, "mode", &xlb_iface_mode_names, XLB_IFACE_NATIVE, &t, e))
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
	const char *s = jf_str(obj, "", key, false, e, &err);

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
	jf_check_keys(o, "announce", keys, e);
	name = jf_str(o, "announce", "interface", false, e, &err);
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
 * etcd.ca_file, cert_file, key_file: a readable file's path into @dst, or an error naming it.
 */
static void get_etcd_file(json_t *o, const char *key, char *dst, size_t len,
			  struct xlb_cfg_errors *e)
{
	char p[PATH_LEN];
	const char *s;
	int err = 0;

	s = jf_str(o, "etcd", key, false, e, &err);
	if (!s)
		return;
	jf_fmt_path(p, sizeof(p), "etcd.%s", key);
	if (!*s || strlen(s) >= len)
		xlb_cfg_errors_add(e, p, "not a file path (1 to %zu bytes): \"%s\"", len - 1, s);
	else if (access(s, R_OK))
		xlb_cfg_errors_add(e, p, "cannot read \"%s\": %s", s, strerror(errno));
	else
		strcpy(dst, s);
}

/*
 * "etcd": {"endpoints": ["http://ADDR:PORT", ...], "prefix": "/xlb", "cluster": NAME, "host":
 * NAME, "timeout_ms", "connect_timeout_ms", "retry_ms", "lease_ttl_s", "ca_file", "cert_file",
 * "key_file"}: the VIPs are shared through etcd under PREFIX/CLUSTER/ (xlbd); absent = off. The
 * three files (TLS: the CA that signs etcd's certificate, this host's client certificate and its
 * key, both or neither) need https:// endpoints, every one of them.
 */
static void get_etcd(json_t *root, struct xlb_cfg *cfg, struct xlb_cfg_errors *e)
{
	static const char *const keys[] = { "endpoints", "prefix", "cluster", "host",
					    "timeout_ms", "connect_timeout_ms", "retry_ms",
					    "lease_ttl_s", "ca_file", "cert_file", "key_file", NULL };
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
	jf_check_keys(o, "etcd", keys, e);
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
			jf_fmt_path(p, sizeof(p), "etcd.endpoints[%zu]", i);
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
	s = jf_str(o, "etcd", "prefix", false, e, &err);
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
	s = jf_str(o, "etcd", "cluster", false, e, &err);
	if (!s && !err)
		s = XLB_ETCD_CLUSTER_DEFAULT;
	if (s && !etcd_name_ok(s, sizeof(c->cluster)))
		xlb_cfg_errors_add(e, "etcd.cluster", "not a cluster name (letters, digits, . _ -, "
				   "at most %zu): \"%s\"", sizeof(c->cluster) - 1, s);
	else if (s)
		strcpy(c->cluster, s);
	err = 0;
	s = jf_str(o, "etcd", "host", false, e, &err);
	if (s && !etcd_name_ok(s, sizeof(c->host)))
		xlb_cfg_errors_add(e, "etcd.host", "not a host name (letters, digits, . _ -, at "
				   "most %zu): \"%s\"", sizeof(c->host) - 1, s);
	else if (s)
		strcpy(c->host, s);
	jf_uint(o, "etcd", "timeout_ms", XLB_RANGE_ETCD_TIMEOUT_MS, XLB_ETCD_TIMEOUT_DEFAULT,
		false, &c->timeout_ms, e);
	jf_uint(o, "etcd", "connect_timeout_ms", XLB_RANGE_ETCD_TIMEOUT_MS,
		XLB_ETCD_CONNECT_TIMEOUT_DEFAULT, false, &c->connect_timeout_ms, e);
	jf_uint(o, "etcd", "retry_ms", XLB_RANGE_ETCD_RETRY_MS, XLB_ETCD_RETRY_DEFAULT, false,
		&c->retry_ms, e);
	jf_uint(o, "etcd", "lease_ttl_s", XLB_RANGE_ETCD_TTL_S, XLB_ETCD_TTL_DEFAULT, false,
		&c->lease_ttl_s, e);
	get_etcd_file(o, "ca_file", c->ca_file, sizeof(c->ca_file), e);
	get_etcd_file(o, "cert_file", c->cert_file, sizeof(c->cert_file), e);
	get_etcd_file(o, "key_file", c->key_file, sizeof(c->key_file), e);
	if (!json_object_get(o, "cert_file") != !json_object_get(o, "key_file"))
		xlb_cfg_errors_add(e, json_object_get(o, "cert_file") ? "etcd.key_file" :
				   "etcd.cert_file", "missing: a client certificate needs "
				   "cert_file and key_file, both");
	/* indexed as in the file: an endpoint refused above is not counted in c->endpoints */
	if ((json_object_get(o, "ca_file") || json_object_get(o, "cert_file") ||
	     json_object_get(o, "key_file")) && c->nendpoints) {
		json_array_foreach(a, i, v) {
			s = json_string_value(v);
			if (!s || !etcd_endpoint_ok(s) || !strncmp(s, "https://", 8))
				continue;
			jf_fmt_path(p, sizeof(p), "etcd.endpoints[%zu]", i);
			xlb_cfg_errors_add(e, p, "not https:// while ca_file, cert_file or key_file "
					   "is given (TLS): %s", s);
		}
	}
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
	jf_check_keys(root, "", top_keys, e);

	a = json_object_get(root, "interfaces");
	if (a && !json_is_array(a)) {
		xlb_cfg_errors_add(e, "interfaces", "must be an array");
	} else if (a && json_array_size(a)) {
		cfg->ifaces = calloc(json_array_size(a), sizeof(*cfg->ifaces));
		if (!cfg->ifaces)
			goto oom;
		json_array_foreach(a, i, v) {
			jf_fmt_path(p, sizeof(p), "interfaces[%zu]", i);
			iface_from_json(v, p, cfg, e);
		}
	}
	jf_mac(root, "", "nexthop_mac", cfg->nexthop_mac, &present, e);
	jf_uint(root, "", "hash_seed", XLB_RANGE_HASH_SEED, 0, false, &cfg->hash_seed, e);
	jf_uint(root, "", "flow_table_size", XLB_RANGE_FLOW_TABLE_SIZE, XLB_FLOWS_DEFAULT, false,
		&cfg->flow_table_size, e);
	{
		__be32 a4[4];

		if (!jf_addr(root, "", "encap_source4", false, a4, &fam, &cfg->has_encap4, e) &&
		    cfg->has_encap4) {
			if (fam != XLB_AF_INET) {
				xlb_cfg_errors_add(e, "encap_source4", "must be an IPv4 address");
				cfg->has_encap4 = false;
			}
			cfg->encap_source4 = a4[0];
		}
	}
	jf_uint(root, "", "encap_source4_bits", XLB_RANGE_ENCAP4_BITS, 0, false,
		&cfg->encap_source4_bits, e);
	if (!jf_addr(root, "", "encap_source6", false, cfg->encap_source6, &fam, &cfg->has_encap6,
		     e) && cfg->has_encap6 && fam != XLB_AF_INET6) {
		xlb_cfg_errors_add(e, "encap_source6", "must be an IPv6 address");
		cfg->has_encap6 = false;
	}
	jf_uint(root, "", "mtu", XLB_RANGE_MTU, XLB_CFG_MTU_DEFAULT, false, &cfg->mtu, e);
	jf_uint(root, "", "flood_limit", XLB_RANGE_FLOOD_LIMIT, XLB_FLOOD_LIMIT_DEFAULT, false,
		&cfg->flood_limit, e);
	if (!jf_uint(root, "", "gue_port", XLB_RANGE_PORT_SET, XLB_GUE_PORT_DEFAULT, false, &u, e))
		cfg->gue_port = u;
	if (!jf_enum(root, "", "too_big", &xlb_too_big_names, XLB_TOO_BIG_ICMP, &t, e))
		cfg->too_big = t;
	jf_uint(root, "", "rebuild_min_interval_ms", XLB_RANGE_REBUILD_MS,
		XLB_REBUILD_MIN_INTERVAL_DEFAULT, false, &cfg->rebuild_min_interval_ms, e);
	jf_uint(root, "", "max_vips", XLB_RANGE_MAX_VIPS, XLB_MAX_VIPS, false, &cfg->max_vips, e);
	jf_uint(root, "", "max_backends", XLB_RANGE_MAX_BACKENDS, XLB_MAX_BACKENDS, false,
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

			jf_fmt_path(p, sizeof(p), "vips[%zu]", i);
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
