// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlbd API: the arguments of a request (unknown keys, the VIP and backend named), errors. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api.h"

int api_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int api_check_args(json_t *req, const char *const *allowed, char *err, size_t errlen)
{
	const char *k, *const *a;
	json_t *v;

	json_object_foreach(req, k, v) {
		if (!strcmp(k, "cmd"))
			continue;
		for (a = allowed; *a; a++)
			if (!strcmp(*a, k))
				break;
		if (!*a)
			return api_error(err, errlen, "%s: unknown argument", k);
	}
	return 0;
}

int api_find_vip(const struct xlb_cfg *cfg, json_t *req, bool required, int *hint,
		       char *err, size_t errlen)
{
	json_t *v = json_object_get(req, "vip");
	__be32 addr[4];
	uint16_t port;
	__u8 fam, proto;
	int i;

	if (!v) {
		if (required)
			return api_error(err, errlen, "vip: missing");
		return -ENOENT;
	}
	if (!json_is_string(v) ||
	    xlb_vip_name_parse(json_string_value(v), addr, &fam, &port, &proto))
		return api_error(err, errlen,
				 "vip: not a VIP (ADDR:PORT/PROTO, [IPV6]:PORT/PROTO)");
	if (hint && *hint >= 0 && (size_t)*hint < cfg->nvips) {
		const struct xlb_cfg_vip *h = &cfg->vips[*hint];

		if (h->family == fam && h->port == port && h->proto == proto &&
		    !memcmp(h->addr, addr, 16))
			return *hint;
	}
	i = xlb_cfg_find_vip(cfg, fam, addr, port, proto);
	if (i < 0)
		return api_error(err, errlen, "vip: no VIP %s", json_string_value(v));
	if (hint)
		*hint = i;
	return i;
}

int api_arg_vip(struct xlbd *d, json_t *req, bool required, char *err, size_t errlen)
{
	return api_find_vip(d->cfg, req, required, NULL, err, errlen);
}

int api_arg_backend(const struct xlb_cfg_vip *v, json_t *req, char *err, size_t errlen)
{
	json_t *a = json_object_get(req, "address"), *p = json_object_get(req, "port");
	__be32 addr[4];
	json_int_t port = 0;
	char vn[96];
	__u8 fam;
	int i;

	if (!a)
		return api_error(err, errlen, "address: missing");
	if (!json_is_string(a) || xlb_addr_parse(json_string_value(a), addr, &fam))
		return api_error(err, errlen, "address: not an IPv4 or IPv6 address");
	if (p) {
		char range[XLB_RANGE_TEXT_LEN];

		if (!json_is_integer(p) ||
		    !xlb_range_has(xlb_range(XLB_RANGE_PORT), json_integer_value(p)))
			return api_error(err, errlen, "port: must be %s",
					 xlb_range_text(xlb_range(XLB_RANGE_PORT), range,
							sizeof(range)));
		port = json_integer_value(p);
	}
	i = xlb_cfg_find_backend(v, fam, addr, port);
	if (i < 0)
		return api_error(err, errlen, "address: no backend %s port %u in %s",
				 json_string_value(a), (unsigned int)port,
				 xlb_vip_name(v, vn, sizeof(vn)));
	return i;
}

/* Backends with an effective weight: those that take new flows now. */
