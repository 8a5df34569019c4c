/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The names of xlb's enum values as the config, the API and the CLI write them: one table each. */
#ifndef XLB_NAMES_H
#define XLB_NAMES_H

#include <stddef.h>

struct xlb_name {
	const char *name;
	int value;
};

/* One enum's names, in the order error messages list them. */
struct xlb_names {
	const struct xlb_name *v;
	size_t n;
};

extern const struct xlb_names xlb_mode_names;		/* enum xlb_mode: ipip, gue, l2 */
extern const struct xlb_names xlb_hash_names;		/* enum xlb_cfg_hash: 5tuple, src */
extern const struct xlb_names xlb_state_names;		/* enum xlb_cfg_state: active, ... */
extern const struct xlb_names xlb_check_names;		/* enum xlb_cfg_check_type: none, tcp, ... */
extern const struct xlb_names xlb_proto_names;		/* IPPROTO_TCP tcp, IPPROTO_UDP udp */
extern const struct xlb_names xlb_iface_mode_names;	/* enum xlb_cfg_iface_mode: native, generic */
extern const struct xlb_names xlb_no_backend_names;	/* a VIP's no_backend: drop, pass */
extern const struct xlb_names xlb_too_big_names;	/* enum xlb_cfg_too_big: drop, pass, icmp */

/** xlb_name_of() - the name of @value in @t, or "?" when it has none. */
const char *xlb_name_of(const struct xlb_names *t, int value);

/** xlb_name_parse() - the value named @s (exactly, case included) into *@value: 0 or -EINVAL. */
int xlb_name_parse(const struct xlb_names *t, const char *s, int *value);

/**
 * xlb_names_list() - the names of @t as messages list them, "ipip, gue, l2", into @buf.
 * @order: the values in the order to list them, or NULL for the table's order (@norder names).
 * Returns @buf.
 */
const char *xlb_names_list(const struct xlb_names *t, const int *order, size_t norder, char *buf,
			   size_t len);

#endif /* XLB_NAMES_H */
