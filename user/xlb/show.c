// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlb stats, lookup, table and status: what the datapath and the daemon are doing. */
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* An optional or mandatory VIP as the only argument, into @req; XLB_EUSAGE after an error. */
static int vip_arg(struct cli *c, int argc, char **argv, bool need, json_t *req)
{
	char vip[96];

	if (need && argc < 1)
		return cli_usage_error(c, "missing VIP");
	if (argc > 1)
		return cli_usage_error(c, "unexpected argument \"%s\"", argv[1]);
	if (argc == 1) {
		if (cli_parse_vip(c, argv[0], vip, sizeof(vip), NULL))
			return XLB_EUSAGE;
		json_object_set_new(req, "vip", json_string(vip));
	}
	return 0;
}

/* Validates the arguments into @req (its reference is taken), sends it and shows the reply. */
static int vip_show(struct cli *c, json_t *req, int argc, char **argv, bool need,
		    const struct cli_view *v)
{
	int err = req ? vip_arg(c, argc, argv, need, req) : cli_error(c, "out of memory");

	if (err) {
		json_decref(req);
		return err;
	}
	return cli_show(c, req, v);
}

static void print_stats(json_t *res)
{
	static const struct cli_col cols[] = {
		{ NULL, "VIP / BACKEND", F_STATS_NAME },
		{ "packets", "PACKETS", F_INT, true },
		{ "bytes", "BYTES", F_BYTES, true },
		{ "new_flows", "NEW FLOWS", F_INT, true },
		{ "pps", "PPS", F_PPS, true },
		{ "bps", "BITS/S", F_BPS, true },
	};
	static const struct cli_col reason_cols[] = {
		{ "reason", "REASON", F_STR },
		{ "packets", "PACKETS", F_INT, true },
		{ "bytes", "BYTES", F_BYTES, true },
	};
	struct cli_table *t;
	json_t *vip, *be, *counters, *row, *columns = json_object_get(res, "columns");
	json_t *vcols = json_object_get(columns, "vips"), *bcols = json_object_get(columns, "backends");
	const char *name;
	size_t i, j, k;

	/* rows "arrays" (API.md): a VIP row's backends are its value of column "backends" */
	json_array_foreach(vcols, k, row)
		if (!strcmp(json_string_value(row) ?: "", "backends"))
			break;
	t = cli_table_new(cols, ARRAY_SIZE(cols), res);
	json_array_foreach(json_object_get(res, "vips"), i, vip) {
		if (!columns) {
			cli_table_add(t, vip);
			json_array_foreach(json_object_get(vip, "backends"), j, be)
				cli_table_add(t, be);
			continue;
		}
		cli_table_add_array(t, vip, vcols);
		json_array_foreach(json_array_get(vip, k), j, be)
			cli_table_add_array(t, be, bcols);
	}
	cli_table_print(t, stdout);
	cli_table_free(t);

	fputc('\n', stdout);
	t = cli_table_new(reason_cols, ARRAY_SIZE(reason_cols), res);
	json_object_foreach(json_object_get(res, "reasons"), name, counters) {
		row = json_pack("{s:s, s:O?, s:O?}", "reason", name, "packets",
				json_object_get(counters, "packets"), "bytes",
				json_object_get(counters, "bytes"));
		cli_table_add(t, row);
		json_decref(row);
	}
	cli_table_print(t, stdout);
	cli_table_free(t);
}

/* stats [ -w SECONDS ] [ VIP ]: with -w, again every SECONDS until interrupted (plain output). */
static int do_stats(struct cli *c, int argc, char **argv)
{
	static const struct cli_view view = { .print = print_stats };
	double every = 0;
	int err;

	if (argc > 0 && !strcmp(argv[0], "-w")) {
		if (cli_parse_seconds(c, "interval", argc > 1 ? argv[1] : NULL, &every))
			return XLB_EUSAGE;
		argc -= 2;
		argv += 2;
	}
	for (;;) {
		/* the text table asks for rows as arrays: a third of the bytes to parse */
		err = vip_show(c, c->json ? json_pack("{s:s}", "cmd", "stats") :
				  json_pack("{s:s, s:s}", "cmd", "stats", "rows", "arrays"),
			       argc, argv, false, &view);
		if (err || !every)
			return err;
		if (!c->json)
			fputc('\n', stdout);
		fflush(stdout);
		usleep((useconds_t)(every * 1e6));
	}
}

static int do_lookup(struct cli *c, int argc, char **argv)
{
	static const struct cli_col cols[] = {
		{ "backend", "backend", F_BACKEND },
		{ "backend.id", "id", F_INT },
		{ "source", "source", F_STR },
		{ "slot", "slot", F_INT },
		{ "hash", "hash", F_HEX },
	};
	static const struct cli_view view = { .kv = cols, .nkv = ARRAY_SIZE(cols) };
	uint8_t vfam, sfam;
	char vip[96], src[96];
	json_t *req;

	if (argc < 1)
		return cli_usage_error(c, "missing VIP");
	if (argc < 2)
		return cli_usage_error(c, "missing source ADDR:PORT after \"%s\"", argv[0]);
	if (argc > 3)
		return cli_usage_error(c, "unexpected argument \"%s\"", argv[3]);
	if (cli_parse_vip(c, argv[0], vip, sizeof(vip), &vfam) ||
	    cli_parse_src(c, argv[1], src, sizeof(src), &sfam))
		return XLB_EUSAGE;
	if (vfam != sfam)
		return cli_usage_error(c, "source \"%s\" is IPv%u but VIP \"%s\" is IPv%u", argv[1],
				       sfam, argv[0], vfam);
	if (argc == 3 && cli_parse_name(c, "protocol", argv[2], &xlb_proto_names, NULL, 0, NULL))
		return XLB_EUSAGE;
	req = json_pack("{s:s, s:s, s:s}", "cmd", "lookup", "vip", vip, "src", src);
	if (req && argc == 3)
		json_object_set_new(req, "proto", json_string(argv[2]));
	return cli_show(c, req, &view);
}

static int do_table(struct cli *c, int argc, char **argv)
{
	static const struct cli_col head[] = {
		{ "table_size", "table size", F_INT },
		{ "empty", "empty slots", F_INT },
	};
	static const struct cli_col cols[] = {
		{ NULL, "BACKEND", F_BACKEND },
		{ "id", "ID", F_INT, true },
		{ "slots", "SLOTS", F_INT, true },
		{ "slots", "SHARE", F_SHARE, true },
	};
	static const struct cli_view view = { .kv = head, .nkv = ARRAY_SIZE(head), .rows = "slots",
					       .cols = cols, .ncols = ARRAY_SIZE(cols) };

	/* The full table only for JSON: a human cannot read 65537 lines usefully. */
	return vip_show(c, json_pack("{s:s, s:b}", "cmd", "table", "full", c->json), argc, argv,
			true, &view);
}

static int do_status(struct cli *c, int argc, char **argv)
{
	static const struct cli_col cols[] = {
		{ "version", "version", F_STR },
		{ "pid", "pid", F_INT },
		{ "uptime_s", "uptime", F_UPTIME },
		{ "config", "config", F_STR },
		{ "adopted", "adopted", F_BOOL },
		{ "interfaces", "interfaces", F_IFACES },
		{ "vips", "vips", F_INT },
		{ "backends", "backends", F_INT },
		{ "flows", "flows", F_INT },
		{ "applying", "applying", F_PROGRESS },
		{ "etcd.state", "etcd", F_STR },	/* a shared configuration only */
		{ "etcd.revision", "etcd rev", F_INT },
	};
	/* the table digest of each VIP, and the cluster's where hosts publish theirs (etcd) */
	static const struct cli_col rows[] = {
		{ "vip", "VIP", F_STR },
		{ "digest", "DIGEST", F_STR },
		{ "cluster", "CLUSTER", F_STR },
		{ "hosts", "HOSTS", F_INT, true },
	};
	static const struct cli_view view = { .kv = cols, .nkv = ARRAY_SIZE(cols),
					       .rows = "digests", .cols = rows,
					       .ncols = ARRAY_SIZE(rows) };

	if (argc > 0)
		return cli_usage_error(c, "unexpected argument \"%s\"", argv[0]);
	return cli_show(c, json_pack("{s:s}", "cmd", "status"), &view);
}

const struct cli_obj cli_obj_stats = {
	.name = "stats",
	.fn = do_stats,
	.usage =
	"Usage: xlb stats [ -w SECONDS ] [ VIP ]\n"
	"       xlb stats help\n",
};

const struct cli_obj cli_obj_lookup = {
	.name = "lookup",
	.fn = do_lookup,
	.usage =
	"Usage: xlb lookup VIP SRC:SPORT [ PROTO ]\n"
	"       xlb lookup help\n"
	"PROTO := { tcp | udp }\n",
};

const struct cli_obj cli_obj_table = {
	.name = "table",
	.fn = do_table,
	.usage =
	"Usage: xlb table VIP\n"
	"       xlb table help\n",
};

const struct cli_obj cli_obj_status = {
	.name = "status",
	.fn = do_status,
	.usage =
	"Usage: xlb status\n"
	"       xlb status help\n",
};
