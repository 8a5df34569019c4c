// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlb vip add|del|list: virtual services. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "maglev.h"
#include "xlb.h"

/* Numeric keywords of "vip add": the request key and its range. */
static const struct {
	const char *kw, *key;
	enum xlb_range_id range;
} num_kws[] = {
	{ "slow-start", "slow_start_ms", XLB_RANGE_SLOW_START_MS },
	{ "drain-timeout", "drain_timeout_ms", XLB_RANGE_DRAIN_TIMEOUT_MS },
	{ "min-healthy", "min_healthy_pct", XLB_RANGE_PCT },
};

static int vip_add(struct cli *c, int argc, char **argv)
{
	json_t *req;
	char vip[96];
	int err = XLB_EUSAGE;

	if (argc < 1)
		return cli_usage_error(c, "missing VIP");
	if (cli_parse_vip(c, argv[0], vip, sizeof(vip), NULL))
		return XLB_EUSAGE;
	req = json_pack("{s:s, s:s}", "cmd", "vip_add", "vip", vip);
	argc--;
	argv++;
	while (argc > 0) {
		const char *kw = argv[0], *val;
		const char *key = NULL;
		json_t *v;
		size_t i;
		uint32_t n;

		for (i = 0; i < ARRAY_SIZE(num_kws); i++)
			if (!strcmp(kw, num_kws[i].kw))
				key = num_kws[i].key;
		if (key)
			;
		else if (!strcmp(kw, "no-backend"))
			key = "no_backend";
		else if (!strcmp(kw, "mode"))
			key = "mode";
		else if (!strcmp(kw, "table-size"))
			key = "table_size";
		else if (!strcmp(kw, "hash"))
			key = "hash";
		else {
			cli_usage_error(c, "unknown keyword \"%s\"", kw);
			goto out;
		}
		if (json_object_get(req, key)) {
			cli_usage_error(c, "\"%s\" given twice", kw);
			goto out;
		}
		val = cli_value(c, &argc, &argv);
		if (!val)
			goto out;
		for (i = 0; i < ARRAY_SIZE(num_kws); i++)
			if (!strcmp(kw, num_kws[i].kw))
				break;
		if (i < ARRAY_SIZE(num_kws)) {
			if (cli_parse_range(c, kw, val, num_kws[i].range, &n))
				goto out;
			v = json_integer(n);
		} else if (!strcmp(key, "no_backend")) {
			if (cli_parse_name(c, kw, val, &xlb_no_backend_names, NULL, 0, NULL))
				goto out;
			v = json_string(val);
		} else if (!strcmp(key, "table_size")) {
			char sizes[256];
			uint32_t m;

			if (cli_parse_range(c, "table size", val, XLB_RANGE_TABLE_SIZE_SET, &m))
				goto out;
			if (!xlb_maglev_size_valid(m)) {
				cli_usage_error(c, "invalid table size \"%s\" (%s)", val,
						xlb_table_sizes_text(sizes, sizeof(sizes)));
				goto out;
			}
			v = json_integer(m);
		} else {
			if (cli_parse_name(c, kw, val, !strcmp(key, "mode") ? &xlb_mode_names :
					   &xlb_hash_names, NULL, 0, NULL))
				goto out;
			v = json_string(val);
		}
		json_object_set_new(req, key, v);
	}
	err = cli_show(c, json_incref(req), NULL);
out:
	json_decref(req);
	return err;
}

static int vip_del(struct cli *c, int argc, char **argv)
{
	char vip[96];

	if (argc < 1)
		return cli_usage_error(c, "missing VIP");
	if (argc > 1)
		return cli_usage_error(c, "unexpected argument \"%s\"", argv[1]);
	if (cli_parse_vip(c, argv[0], vip, sizeof(vip), NULL))
		return XLB_EUSAGE;
	return cli_show(c, json_pack("{s:s, s:s}", "cmd", "vip_del", "vip", vip), NULL);
}

/* vip set VIP announce on|off: the VIP's address routed to this host or not (maintenance). */
static int vip_set(struct cli *c, int argc, char **argv)
{
	char vip[96];
	bool on;

	if (argc < 1)
		return cli_usage_error(c, "missing VIP");
	if (cli_parse_vip(c, argv[0], vip, sizeof(vip), NULL))
		return XLB_EUSAGE;
	if (argc < 2)
		return cli_usage_error(c, "missing keyword (announce)");
	if (strcmp(argv[1], "announce"))
		return cli_usage_error(c, "unknown keyword \"%s\"", argv[1]);
	if (argc < 3)
		return cli_usage_error(c, "announce: missing on or off");
	if (strcmp(argv[2], "on") && strcmp(argv[2], "off"))
		return cli_usage_error(c, "announce: \"%s\" is not on or off", argv[2]);
	if (argc > 3)
		return cli_usage_error(c, "unexpected argument \"%s\"", argv[3]);
	on = !strcmp(argv[2], "on");
	return cli_show(c, json_pack("{s:s, s:s, s:b}", "cmd", "vip_set", "vip", vip, "announce",
				     on), NULL);
}

static int vip_list(struct cli *c, int argc, char **argv)
{
	static const struct cli_col cols[] = {
		{ "vip", "VIP", F_STR },
		{ "id", "ID", F_INT, true },
		{ "mode", "MODE", F_STR },
		{ "hash", "HASH", F_STR },
		{ "table_size", "TABLE SIZE", F_INT, true },
		{ "backends", "BACKENDS", F_INT, true },
		{ "usable", "USABLE", F_INT, true },
	};
	static const struct cli_view view = { .rows = "vips", .cols = cols,
					       .ncols = ARRAY_SIZE(cols) };

	if (argc > 0)
		return cli_usage_error(c, "unexpected argument \"%s\"", argv[0]);
	/* the text table asks for the keys it shows */
	return cli_show(c, c->json ? json_pack("{s:s}", "cmd", "vip_list") :
			json_pack("{s:s, s:[s,s,s,s,s,s,s]}", "cmd", "vip_list", "fields", "vip",
				  "id", "mode", "hash", "table_size", "backends", "usable"), &view);
}

static const struct cli_cmd cmds[] = {
	{ "add", vip_add },
	{ "set", vip_set },
	{ "del", vip_del },
	{ "list", vip_list },
	{}
};

const struct cli_obj cli_obj_vip = {
	.name = "vip",
	.cmds = cmds,
	.usage =
	"Usage: xlb vip add VIP [ mode MODE ] [ table-size M ] [ hash HASH ]\n"
	"                   [ slow-start MS ] [ drain-timeout MS ] [ min-healthy PCT ]\n"
	"                   [ no-backend { drop | pass } ]\n"
	"       xlb vip set VIP announce { on | off }\n"
	"       xlb vip del VIP\n"
	"       xlb vip list\n"
	"       xlb vip help\n"
	"VIP := { IPV4:PORT/PROTO | [IPV6]:PORT/PROTO }\n"
	"PROTO := { tcp | udp }\n"
	"MODE := { ipip | gue | l2 }\n"
	"HASH := { 5tuple | src }\n",
};
