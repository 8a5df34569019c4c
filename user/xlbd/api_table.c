// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlbd API: what the datapath decides (a flow's backend, a VIP's Maglev table), read back. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"


static const struct xlb_cfg_backend *backend_by_id(const struct xlb_cfg_vip *v, __u32 id)
{
	size_t i;

	for (i = 0; i < v->nbackends; i++)
		if (v->backends[i].id == id)
			return &v->backends[i];
	return NULL;
}

/*
 * The VIP a packet to "vip" would match, resolved as the datapath does: the VIP itself, else
 * the all-ports VIP of that address and protocol, with the named port as the flow's
 * destination port (@dport).
 */
static int lookup_vip(struct xlbd *d, json_t *req, uint16_t *dport, char *err, size_t errlen)
{
	json_t *v = json_object_get(req, "vip");
	__be32 addr[4];
	__u8 fam, proto;
	int i;

	if (!v)
		return api_error(err, errlen, "vip: missing");
	if (!json_is_string(v) ||
	    xlb_vip_name_parse(json_string_value(v), addr, &fam, dport, &proto))
		return api_error(err, errlen,
				 "vip: not a VIP (ADDR:PORT/PROTO, [IPV6]:PORT/PROTO)");
	i = xlb_cfg_find_vip(d->cfg, fam, addr, *dport, proto);
	if (i < 0)
		i = xlb_cfg_find_vip(d->cfg, fam, addr, 0, proto);
	if (i < 0)
		return api_error(err, errlen,
				 "vip: no VIP %s (nor an all-ports VIP on its address)",
				 json_string_value(v));
	return i;
}

int cmd_lookup(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	static const char *const args[] = { "vip", "src", "proto", NULL };
	const struct xlb_cfg_backend *b = NULL;
	const struct xlb_cfg_vip *v;
	json_t *src = json_object_get(req, "src"), *p = json_object_get(req, "proto");
	struct xlb_flow_key k;
	struct xlb_lookup l;
	__be32 saddr[4];
	char a[INET6_ADDRSTRLEN];
	uint16_t sport, dport;
	__u8 fam, proto;
	int i, n;

	if (api_check_args(req, args, err, errlen))
		return -EINVAL;
	i = lookup_vip(d, req, &dport, err, errlen);
	if (i < 0)
		return i;
	v = &d->cfg->vips[i];
	if (!src)
		return api_error(err, errlen, "src: missing");
	if (!json_is_string(src) || xlb_addr_port_parse(json_string_value(src), saddr, &fam, &sport))
		return api_error(err, errlen, "src: not ADDR:PORT or [IPV6]:PORT");
	if (fam != v->family)
		return api_error(err, errlen, "src: must be %s like the VIP",
				 v->family == XLB_AF_INET ? "IPv4" : "IPv6");
	proto = v->proto;
	if (p) {
		int v;

		if (!json_is_string(p) || xlb_name_parse(&xlb_proto_names, json_string_value(p), &v))
			return api_error(err, errlen, "proto: must be tcp or udp");
		proto = v;
	}
	xlb_flow_key__init(&k, fam, saddr, v->addr, sport, dport, proto);
	/* the datapath's decision, from its own VIP entry, seed, flow table and table */
	if (!d->vip_rt[v->id].programmed)
		return api_error(err, errlen, "vip: %s is not in the datapath yet",
				 json_string_value(json_object_get(req, "vip")));
	n = xlb_lookup(d->x, &k, &d->vip_rt[v->id].val, &l);
	if (n < 0)
		return api_error(err, errlen, "cannot read the datapath's state of %s: %s",
				 json_string_value(json_object_get(req, "vip")), strerror(-n));
	b = l.backend_id ? backend_by_id(v, l.backend_id) : NULL;
	if (b)
		json_object_set_new(r, "backend",
				    json_pack("{s:s, s:i, s:i}", "address",
					      xlb_addr_format(b->addr, b->family, a, sizeof(a)),
					      "port", (int)b->port, "id", (int)l.backend_id));
	else
		json_object_set_new(r, "backend", json_null());
	json_object_set_new(r, "source", json_string(l.flow_hit ? "flow_table" : "maglev"));
	json_object_set_new(r, "slot", json_integer(l.slot));
	json_object_set_new(r, "hash", json_integer(l.hash));
	return 0;
}

int cmd_table(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	static const char *const args[] = { "vip", "full", NULL };
	const struct xlb_cfg_vip *v;
	json_t *full = json_object_get(req, "full"), *slots, *t = NULL;
	__u32 *table, *count, empty = 0;
	char a[INET6_ADDRSTRLEN];
	size_t j;
	int i, n;

	if (api_check_args(req, args, err, errlen))
		return -EINVAL;
	i = api_arg_vip(d, req, true, err, errlen);
	if (i < 0)
		return i;
	if (full && !json_is_boolean(full))
		return api_error(err, errlen, "full: must be true or false");
	v = &d->cfg->vips[i];
	table = calloc(v->table_size, sizeof(*table));
	count = calloc(v->nbackends + 1, sizeof(*count));
	if (!table || !count) {
		free(table);
		free(count);
		return api_error(err, errlen, "out of memory");
	}
	n = xlb_vip__get_table(d->x, v->id, table, v->table_size);
	if (n < 0) {
		free(table);
		free(count);
		return api_error(err, errlen, "cannot read the table: %s", strerror(-n));
	}
	if (json_is_true(full))
		t = json_array();
	for (i = 0; i < n; i++) {
		bool found = false;

		if (t)
			json_array_append_new(t, json_integer(table[i]));
		for (j = 0; table[i] && j < v->nbackends; j++) {
			if (v->backends[j].id == table[i]) {
				count[j]++;
				found = true;
				break;
			}
		}
		if (!found)
			empty++;
	}
	slots = json_array();
	for (j = 0; j < v->nbackends; j++) {
		const struct xlb_cfg_backend *b = &v->backends[j];

		json_array_append_new(slots, json_pack("{s:s, s:i, s:i, s:i}", "address",
						       xlb_addr_format(b->addr, b->family, a,
								       sizeof(a)),
						       "port", (int)b->port, "id", (int)b->id,
						       "slots", (int)count[j]));
	}
	json_object_set_new(r, "table_size", json_integer(n));
	json_object_set_new(r, "slots", slots);
	json_object_set_new(r, "empty", json_integer(empty));
	if (t)
		json_object_set_new(r, "table", t);
	free(table);
	free(count);
	return 0;
}
