// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The name tables of xlb's enums and their two directions, name -> value and value -> name. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "names.h"

static const struct xlb_name mode_v[] = {
	{ "ipip", XLB_MODE_IPIP }, { "gue", XLB_MODE_GUE }, { "l2", XLB_MODE_L2 },
};
static const struct xlb_name hash_v[] = {
	{ "5tuple", XLB_HASH_5TUPLE }, { "src", XLB_HASH_SRC },
};
static const struct xlb_name state_v[] = {
	{ "active", XLB_STATE_ACTIVE }, { "draining", XLB_STATE_DRAINING },
	{ "disabled", XLB_STATE_DISABLED },
};
static const struct xlb_name check_v[] = {
	{ "none", XLB_CHECK_NONE }, { "tcp", XLB_CHECK_TCP }, { "http", XLB_CHECK_HTTP },
	{ "udp", XLB_CHECK_UDP },
};
static const struct xlb_name proto_v[] = {
	{ "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP },
};
static const struct xlb_name iface_mode_v[] = {
	{ "native", XLB_IFACE_NATIVE }, { "generic", XLB_IFACE_GENERIC },
};
static const struct xlb_name too_big_v[] = {
	{ "drop", XLB_TOO_BIG_DROP }, { "pass", XLB_TOO_BIG_PASS }, { "icmp", XLB_TOO_BIG_ICMP },
};

static const struct xlb_name no_backend_v[] = {
	{ "drop", 0 }, { "pass", 1 },
};

const struct xlb_names xlb_no_backend_names = { no_backend_v, ARRAY_SIZE(no_backend_v) };
const struct xlb_names xlb_mode_names = { mode_v, ARRAY_SIZE(mode_v) };
const struct xlb_names xlb_hash_names = { hash_v, ARRAY_SIZE(hash_v) };
const struct xlb_names xlb_state_names = { state_v, ARRAY_SIZE(state_v) };
const struct xlb_names xlb_check_names = { check_v, ARRAY_SIZE(check_v) };
const struct xlb_names xlb_proto_names = { proto_v, ARRAY_SIZE(proto_v) };
const struct xlb_names xlb_iface_mode_names = { iface_mode_v, ARRAY_SIZE(iface_mode_v) };
const struct xlb_names xlb_too_big_names = { too_big_v, ARRAY_SIZE(too_big_v) };

const char *xlb_name_of(const struct xlb_names *t, int value)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->v[i].value == value)
			return t->v[i].name;
	return "?";
}

int xlb_name_parse(const struct xlb_names *t, const char *s, int *value)
{
	size_t i;

	for (i = 0; s && i < t->n; i++) {
		if (!strcmp(s, t->v[i].name)) {
			*value = t->v[i].value;
			return 0;
		}
	}
	return -EINVAL;
}

const char *xlb_names_list(const struct xlb_names *t, const int *order, size_t norder, char *buf,
			   size_t len)
{
	size_t i, n = order ? norder : t->n, at;

	if (!len)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		at = strlen(buf);
		snprintf(buf + at, len - at, "%s%s", i ? ", " : "",
			 order ? xlb_name_of(t, order[i]) : t->v[i].name);
	}
	return buf;
}

/* The config model's typed shorthands (xlbd logs with them). */
const char *xlb_cfg_mode_name(enum xlb_mode m)
{
	return xlb_name_of(&xlb_mode_names, m);
}

const char *xlb_cfg_hash_name(enum xlb_cfg_hash h)
{
	return xlb_name_of(&xlb_hash_names, h);
}

const char *xlb_cfg_state_name(enum xlb_cfg_state s)
{
	return xlb_name_of(&xlb_state_names, s);
}

const char *xlb_cfg_check_name(enum xlb_cfg_check_type t)
{
	return xlb_name_of(&xlb_check_names, t);
}

const char *xlb_cfg_proto_name(__u8 proto)
{
	return xlb_name_of(&xlb_proto_names, proto);
}
