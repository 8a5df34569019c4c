// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The configuration to JSON: every field written, defaults included, so that files are explicit. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_file.h"

static json_t *addr_json(const __be32 addr[4], __u8 family)
{
	char a[INET6_ADDRSTRLEN];

	return json_string(xlb_addr_format(addr, family, a, sizeof(a)));
}

static json_t *mac_json(const __u8 m[6])
{
	char s[18];

	snprintf(s, sizeof(s), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return json_string(s);
}

static json_t *bytes_json(const uint8_t *b, uint32_t len)
{
	return json_stringn((const char *)b, len);
}

json_t *xlb_cfg_check_to_json(const struct xlb_cfg_check *c, bool only_set)
{
	json_t *o = json_object();
	char ex[16];

#define KEY(k) (!only_set || (c->set & (1u << XLB_CHECK_KEY_##k)))
	if (KEY(TYPE))
		json_object_set_new(o, "type", json_string(xlb_cfg_check_name(c->type)));
	if (KEY(PORT))
		json_object_set_new(o, "port", json_integer(c->port));
	if (c->type == XLB_CHECK_HTTP) {
		if (KEY(PATH))
			json_object_set_new(o, "path", json_string(c->path));
		if (KEY(HOST) && (c->host[0] || only_set))
			json_object_set_new(o, "host", json_string(c->host));
		snprintf(ex, sizeof(ex), "%u-%u", c->expect, c->expect_hi);
		if (KEY(EXPECT))
			json_object_set_new(o, "expect", c->expect == c->expect_hi ?
							 json_integer(c->expect) : json_string(ex));
	}
	if (c->type == XLB_CHECK_UDP) {
		if (KEY(PAYLOAD))
			json_object_set_new(o, "payload", bytes_json(c->payload, c->payload_len));
		if (KEY(EXPECT_PAYLOAD))
			json_object_set_new(o, "expect_payload",
					    bytes_json(c->expect_payload, c->expect_payload_len));
	}
	if (KEY(INTERVAL))
		json_object_set_new(o, "interval_ms", json_integer(c->interval_ms));
	if (KEY(TIMEOUT))
		json_object_set_new(o, "timeout_ms", json_integer(c->timeout_ms));
	if (KEY(RISE))
		json_object_set_new(o, "rise", json_integer(c->rise));
	if (KEY(FALL))
		json_object_set_new(o, "fall", json_integer(c->fall));
	if (KEY(JITTER))
		json_object_set_new(o, "jitter_pct", json_integer(c->jitter_pct));
	if (KEY(FASTINTER))
		json_object_set_new(o, "fastinter_ms", json_integer(c->fastinter_ms));
	if (KEY(DOWNINTER))
		json_object_set_new(o, "downinter_ms", json_integer(c->downinter_ms));
	if (KEY(SOURCE) && c->has_source)
		json_object_set_new(o, "source", addr_json(c->source, c->source_family));
	if (KEY(AGENT_PORT) && (c->agent_port || only_set))
		json_object_set_new(o, "agent_port", json_integer(c->agent_port));
	if (c->agent_port || only_set) {
		if (KEY(AGENT_INTERVAL))
			json_object_set_new(o, "agent_interval_ms",
					    json_integer(c->agent_interval_ms));
		if (KEY(AGENT_SEND) && (c->agent_send[0] || only_set))
			json_object_set_new(o, "agent_send", json_string(c->agent_send));
	}
#undef KEY
	return o;
}

json_t *xlb_cfg_backend_to_json(const struct xlb_cfg_backend *be)
{
	json_t *o = json_object();

	json_object_set_new(o, "address", addr_json(be->addr, be->family));
	json_object_set_new(o, "port", json_integer(be->port));
	json_object_set_new(o, "weight", json_integer(be->weight));
	json_object_set_new(o, "state", json_string(xlb_cfg_state_name(be->state)));
	if (be->has_mac)
		json_object_set_new(o, "mac", mac_json(be->mac));
	json_object_set_new(o, "backup", json_boolean(be->backup));
	json_object_set_new(o, "slow_start_ms", json_integer(be->slow_start_ms));
	json_object_set_new(o, "drain_timeout_ms", json_integer(be->drain_timeout_ms));
	/* only what the backend says itself: the rest follows its VIP's check */
	if (be->check.set)
		json_object_set_new(o, "check", xlb_cfg_check_to_json(&be->check, true));
	return o;
}

json_t *xlb_cfg_vip_to_json(const struct xlb_cfg_vip *vip, bool with_backends)
{
	json_t *o = json_object(), *a;
	size_t i;

	json_object_set_new(o, "address", addr_json(vip->addr, vip->family));
	json_object_set_new(o, "port", json_integer(vip->port));
	json_object_set_new(o, "proto", json_string(xlb_cfg_proto_name(vip->proto)));
	json_object_set_new(o, "mode", json_string(xlb_cfg_mode_name(vip->mode)));
	json_object_set_new(o, "table_size", json_integer(vip->table_size));
	json_object_set_new(o, "hash", json_string(xlb_cfg_hash_name(vip->hash)));
	json_object_set_new(o, "slow_start_ms", json_integer(vip->slow_start_ms));
	json_object_set_new(o, "drain_timeout_ms", json_integer(vip->drain_timeout_ms));
	json_object_set_new(o, "min_healthy_pct", json_integer(vip->min_healthy_pct));
	json_object_set_new(o, "no_backend",
			    json_string(xlb_name_of(&xlb_no_backend_names, vip->no_backend_pass)));
	/* written when off only: absent means on */
	if (vip->no_announce)
		json_object_set_new(o, "announce", json_false());
	json_object_set_new(o, "check", xlb_cfg_check_to_json(&vip->check, false));
	if (with_backends) {
		a = json_array();
		for (i = 0; i < vip->nbackends; i++)
			json_array_append_new(a, xlb_cfg_backend_to_json(&vip->backends[i]));
		json_object_set_new(o, "backends", a);
	}
	return o;
}

/* The top-level keys: all but "vips". */
static json_t *head_json(const struct xlb_cfg *cfg)
{
	json_t *o = json_object(), *a;
	size_t i;

	a = json_array();
	for (i = 0; i < cfg->nifaces; i++) {
		json_t *f = json_object();

		json_object_set_new(f, "name", json_string(cfg->ifaces[i].name));
		json_object_set_new(f, "mode", json_string(xlb_name_of(&xlb_iface_mode_names,
								      cfg->ifaces[i].mode)));
		json_array_append_new(a, f);
	}
	json_object_set_new(o, "interfaces", a);
	json_object_set_new(o, "nexthop_mac", mac_json(cfg->nexthop_mac));
	json_object_set_new(o, "hash_seed", json_integer(cfg->hash_seed));
	json_object_set_new(o, "flow_table_size", json_integer(cfg->flow_table_size));
	if (cfg->has_encap4) {
		__be32 a4[4] = { cfg->encap_source4 };

		json_object_set_new(o, "encap_source4", addr_json(a4, XLB_AF_INET));
	}
	json_object_set_new(o, "encap_source4_bits", json_integer(cfg->encap_source4_bits));
	if (cfg->has_encap6)
		json_object_set_new(o, "encap_source6", addr_json(cfg->encap_source6, XLB_AF_INET6));
	json_object_set_new(o, "mtu", json_integer(cfg->mtu));
	json_object_set_new(o, "flood_limit", json_integer(cfg->flood_limit));
	json_object_set_new(o, "gue_port", json_integer(cfg->gue_port));
	json_object_set_new(o, "too_big", json_string(xlb_name_of(&xlb_too_big_names, cfg->too_big)));
	json_object_set_new(o, "rebuild_min_interval_ms", json_integer(cfg->rebuild_min_interval_ms));
	json_object_set_new(o, "max_vips", json_integer(cfg->max_vips));
	json_object_set_new(o, "max_backends", json_integer(cfg->max_backends));
	/* always written: absent would mean the default listener */
	json_object_set_new(o, "metrics_listen",
			    json_string(cfg->metrics_listen[0] ? cfg->metrics_listen : "off"));
	if (cfg->announce)
		json_object_set_new(o, "announce", json_pack("{s:s}", "interface",
							     cfg->announce_iface));
	if (cfg->etcd.on) {
		const struct xlb_cfg_etcd *c = &cfg->etcd;
		json_t *eps = json_array();

		for (size_t i = 0; i < c->nendpoints; i++)
			json_array_append_new(eps, json_string(c->endpoints[i]));
		json_object_set_new(o, "etcd", json_pack("{s:o, s:s, s:s, s:i, s:i, s:i, s:i}",
							 "endpoints", eps, "prefix", c->prefix,
							 "cluster", c->cluster, "timeout_ms",
							 (int)c->timeout_ms, "connect_timeout_ms",
							 (int)c->connect_timeout_ms, "retry_ms",
							 (int)c->retry_ms, "lease_ttl_s",
							 (int)c->lease_ttl_s));
		/* the optional strings, written when set */
		const char *const opt[][2] = { { "host", c->host }, { "ca_file", c->ca_file },
					       { "cert_file", c->cert_file },
					       { "key_file", c->key_file } };

		for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++)
			if (opt[i][1][0])
				json_object_set_new(json_object_get(o, "etcd"), opt[i][0],
						    json_string(opt[i][1]));
	}
	return o;
}

json_t *xlb_cfg_to_json(const struct xlb_cfg *cfg)
{
	json_t *o = head_json(cfg), *a = json_array();
	size_t i;

	for (i = 0; i < cfg->nvips; i++)
		json_array_append_new(a, xlb_cfg_vip_to_json(&cfg->vips[i], true));
	json_object_set_new(o, "vips", a);
	return o;
}

/*
 * The file's layout is json_dumps(xlb_cfg_to_json(), FILE_FLAGS), made here from parts: each
 * VIP dumped alone and indented for its place (two levels in: "vips" in the root). jansson
 * writes a newline only between tokens (one inside a string is written "\n"), so the layout
 * of a part moves in by inserting the indent after each newline.
 */
#define FILE_FLAGS JSON_INDENT(2)
#define VIP_INDENT "    "

char *xlb_cfg_vip_text(const struct xlb_cfg_vip *vip)
{
	json_t *o = xlb_cfg_vip_to_json(vip, true);
	char *s = o ? json_dumps(o, FILE_FLAGS) : NULL, *out, *p;
	size_t n = 0, i;

	json_decref(o);
	if (!s)
		return NULL;
	for (i = 0; s[i]; i++)
		n += s[i] == '\n';
	out = malloc(i + n * strlen(VIP_INDENT) + 1);
	if (out) {
		for (p = out, i = 0; s[i]; i++) {
			*p++ = s[i];
			if (s[i] == '\n')
				p = stpcpy(p, VIP_INDENT);
		}
		*p = '\0';
	}
	free(s);
	return out;
}

char *xlb_cfg_text(const struct xlb_cfg *cfg, const char *const *vip_text, size_t *len)
{
	json_t *h = head_json(cfg);
	char *head = h ? json_dumps(h, FILE_FLAGS) : NULL, **made = NULL, *out = NULL, *p;
	size_t n, i, hl;

	json_decref(h);
	made = calloc(cfg->nvips + 1, sizeof(*made));
	if (!head || !made)
		goto out;
	/* the head's dump ends with "\n}": "vips" goes before that, as the last key */
	hl = strlen(head);
	if (hl < 2 || strcmp(head + hl - 2, "\n}"))
		goto out;
	hl -= 2;
	n = hl + sizeof(",\n  \"vips\": [\n  ]\n}");
	for (i = 0; i < cfg->nvips; i++) {
		const char *v = vip_text ? vip_text[i] : NULL;

		if (!v)
			v = made[i] = xlb_cfg_vip_text(&cfg->vips[i]);
		if (!v)
			goto out;
		n += strlen(v) + sizeof(",\n" VIP_INDENT);
	}
	out = malloc(n);
	if (!out)
		goto out;
	p = mempcpy(out, head, hl);
	p = stpcpy(p, ",\n  \"vips\": [");
	for (i = 0; i < cfg->nvips; i++) {
		p = stpcpy(p, i ? ",\n" VIP_INDENT : "\n" VIP_INDENT);
		p = stpcpy(p, vip_text && vip_text[i] ? vip_text[i] : made[i]);
	}
	p = stpcpy(p, cfg->nvips ? "\n  ]\n}" : "]\n}");
	if (len)
		*len = p - out;
out:
	for (i = 0; made && i < cfg->nvips; i++)
		free(made[i]);
	free(made);
	free(head);
	if (!out)
		errno = ENOMEM;
	return out;
}

bool xlb_cfg_equal(const struct xlb_cfg *a, const struct xlb_cfg *b)
{
	json_t *ja = xlb_cfg_to_json(a), *jb = xlb_cfg_to_json(b);
	bool eq = json_equal(ja, jb);

	json_decref(ja);
	json_decref(jb);
	return eq;
}
