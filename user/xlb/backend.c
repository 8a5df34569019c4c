// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlb backend add|set|del|list: the real servers behind a VIP and their health checks. */
#include <arpa/inet.h>
#include <string.h>

#include "cli.h"
#include "config.h"

/* Numeric keywords of "backend add": where each goes in the request and its range. */
static const struct num_kw {
	const char *kw;
	const char *key;
	bool in_check;		/* a field of the "check" object */
	enum xlb_range_id range;
} num_kws[] = {
	{ "weight", "weight", false, XLB_RANGE_WEIGHT },
	/* 0, the backend's own port, is what leaving check-port out means */
	{ "check-port", "port", true, XLB_RANGE_PORT_SET },
	{ "interval", "interval_ms", true, XLB_RANGE_INTERVAL_MS },
	{ "timeout", "timeout_ms", true, XLB_RANGE_TIMEOUT_MS },
	{ "rise", "rise", true, XLB_RANGE_RISE },
	{ "fall", "fall", true, XLB_RANGE_FALL },
	{ "expect", "expect", true, XLB_RANGE_EXPECT },
};

/* {"cmd": @cmd, "vip", "address"[, "port"]} from "VIP BACKEND"; NULL after a usage error. */
static json_t *backend_req(struct cli *c, const char *cmd, int *argc, char ***argv)
{
	char vip[96], addr[INET6_ADDRSTRLEN];
	struct xlb_hostport a;
	json_t *req;

	if (*argc < 1) {
		cli_usage_error(c, "missing VIP");
		return NULL;
	}
	if (*argc < 2) {
		cli_usage_error(c, "missing backend address after \"%s\"", (*argv)[0]);
		return NULL;
	}
	if (cli_parse_vip(c, (*argv)[0], vip, sizeof(vip), NULL) ||
	    cli_parse_backend(c, (*argv)[1], &a))
		return NULL;
	req = json_pack("{s:s, s:s, s:s}", "cmd", cmd, "vip", vip, "address",
			xlb_addr_format(a.addr, a.family, addr, sizeof(addr)));
	if (req && a.has_port)
		json_object_set_new(req, "port", json_integer(a.port));
	*argc -= 2;
	*argv += 2;
	return req;
}

/* One keyword of "backend add" at argv[0] into @req / @check; XLB_EUSAGE after an error. */
static int add_keyword(struct cli *c, json_t *req, json_t *check, int *argc, char ***argv)
{
	/* check types in the order of the usage text: "none" (no probe) last */
	static const int checks[] = { XLB_CHECK_TCP, XLB_CHECK_HTTP, XLB_CHECK_UDP,
				      XLB_CHECK_NONE };
	const char *kw = (*argv)[0], *val;
	json_t *dst = req;
	const char *key;
	uint32_t n;
	size_t i;
	__u8 mac[6];

	for (i = 0; i < ARRAY_SIZE(num_kws); i++)
		if (!strcmp(kw, num_kws[i].kw))
			break;
	if (i < ARRAY_SIZE(num_kws)) {
		key = num_kws[i].key;
		dst = num_kws[i].in_check ? check : req;
	} else if (!strcmp(kw, "mac")) {
		key = "mac";
	} else if (!strcmp(kw, "check")) {
		key = "type";
		dst = check;
	} else {
		return cli_usage_error(c, "unknown keyword \"%s\"", kw);
	}
	if (json_object_get(dst, key))
		return cli_usage_error(c, "\"%s\" given twice", kw);
	val = cli_value(c, argc, argv);
	if (!val)
		return XLB_EUSAGE;

	if (i < ARRAY_SIZE(num_kws)) {
		if (cli_parse_range(c, kw, val, num_kws[i].range, &n))
			return XLB_EUSAGE;
		json_object_set_new(dst, key, json_integer(n));
	} else if (!strcmp(key, "mac")) {
		if (xlb_mac_parse(val, mac))
			return cli_usage_error(c, "invalid MAC \"%s\" (aa:bb:cc:dd:ee:ff)", val);
		json_object_set_new(dst, key, json_string(val));
	} else {
		int type;

		if (cli_parse_name(c, "check", val, &xlb_check_names, checks, ARRAY_SIZE(checks),
				   &type))
			return XLB_EUSAGE;
		json_object_set_new(dst, key, json_string(val));
		if (type == XLB_CHECK_HTTP) {
			if (*argc < 1)
				return cli_usage_error(c, "missing PATH after \"check http\"");
			if (!xlb_http_path_ok((*argv)[0]))
				return cli_usage_error(c, "invalid HTTP path \"%s\" ("
						       XLB_HTTP_PATH_RULE ")", (*argv)[0]);
			json_object_set_new(check, "path", json_string((*argv)[0]));
			(*argc)--;
			(*argv)++;
		}
	}
	return 0;
}

static int backend_add(struct cli *c, int argc, char **argv)
{
	json_t *req, *check;
	int err = XLB_EUSAGE;

	req = backend_req(c, "backend_add", &argc, &argv);
	if (!req)
		return XLB_EUSAGE;
	check = json_object();
	while (argc > 0)
		if (add_keyword(c, req, check, &argc, &argv))
			goto out;
	if (json_object_size(check))
		json_object_set(req, "check", check);
	err = cli_show(c, json_incref(req), NULL);
out:
	json_decref(check);
	json_decref(req);
	return err;
}

static int backend_set(struct cli *c, int argc, char **argv)
{
	static const struct {
		const char *kw;
		enum xlb_cfg_state state;
	} states[] = {
		{ "drain", XLB_STATE_DRAINING },
		{ "enable", XLB_STATE_ACTIVE },
		{ "disable", XLB_STATE_DISABLED },
	};
	json_t *req;
	uint32_t w;
	size_t i;

	req = backend_req(c, "backend_set", &argc, &argv);
	if (!req)
		return XLB_EUSAGE;
	if (argc == 0) {
		json_decref(req);
		return cli_usage_error(c, "missing change: weight W, drain, enable or disable");
	}
	while (argc > 0) {
		const char *kw = argv[0], *val;

		for (i = 0; i < ARRAY_SIZE(states); i++)
			if (!strcmp(kw, states[i].kw))
				break;
		if (i < ARRAY_SIZE(states)) {
			if (json_object_get(req, "state"))
				goto twice;
			json_object_set_new(req, "state", json_string(xlb_cfg_state_name(states[i].state)));
			argc--;
			argv++;
		} else if (!strcmp(kw, "weight")) {
			if (json_object_get(req, "weight"))
				goto twice;
			val = cli_value(c, &argc, &argv);
			if (!val || cli_parse_range(c, "weight", val, XLB_RANGE_WEIGHT, &w))
				goto usage;
			json_object_set_new(req, "weight", json_integer(w));
		} else {
			cli_usage_error(c, "unknown keyword \"%s\"", kw);
			goto usage;
		}
	}
	return cli_show(c, req, NULL);
twice:
	cli_usage_error(c, "\"%s\" conflicts with an earlier change", argv[0]);
usage:
	json_decref(req);
	return XLB_EUSAGE;
}

static int backend_del(struct cli *c, int argc, char **argv)
{
	json_t *req;

	req = backend_req(c, "backend_del", &argc, &argv);
	if (!req)
		return XLB_EUSAGE;
	if (argc > 0) {
		json_decref(req);
		return cli_usage_error(c, "unexpected argument \"%s\"", argv[0]);
	}
	return cli_show(c, req, NULL);
}

static int backend_list(struct cli *c, int argc, char **argv)
{
	static const struct cli_col cols[] = {
		{ "vip", "VIP", F_STR },
		{ NULL, "BACKEND", F_BACKEND },
		{ "id", "ID", F_INT, true },
		{ "weight", "WEIGHT", F_INT, true },
		{ "state", "STATE", F_STR },
		{ "health", "HEALTH", F_STR },
		{ "slots", "SLOTS", F_INT, true },
		{ "check", "CHECK", F_CHECK },
	};
	static const struct cli_view view = { .rows = "backends", .cols = cols,
					       .ncols = ARRAY_SIZE(cols) };
	json_t *req;
	char vip[96];

	if (argc > 1)
		return cli_usage_error(c, "unexpected argument \"%s\"", argv[1]);
	if (argc == 1 && cli_parse_vip(c, argv[0], vip, sizeof(vip), NULL))
		return XLB_EUSAGE;
	req = json_pack("{s:s}", "cmd", "backend_list");
	if (req && argc == 1)
		json_object_set_new(req, "vip", json_string(vip));
	return cli_show(c, req, &view);
}

static const struct cli_cmd cmds[] = {
	{ "add", backend_add },
	{ "set", backend_set },
	{ "del", backend_del },
	{ "list", backend_list },
	{}
};

const struct cli_obj cli_obj_backend = {
	.name = "backend",
	.cmds = cmds,
	.usage =
	"Usage: xlb backend add VIP BACKEND [ weight W ] [ mac MAC ] [ check CHECK ]\n"
	"                       [ check-port PORT ] [ interval MS ] [ timeout MS ]\n"
	"                       [ rise N ] [ fall N ] [ expect STATUS ]\n"
	"       xlb backend set VIP BACKEND { weight W | drain | enable | disable } ...\n"
	"       xlb backend del VIP BACKEND\n"
	"       xlb backend list [ VIP ]\n"
	"       xlb backend help\n"
	"VIP := { IPV4:PORT/PROTO | [IPV6]:PORT/PROTO }\n"
	"BACKEND := { IPV4 | IPV4:PORT | IPV6 | [IPV6] | [IPV6]:PORT }\n"
	"CHECK := { tcp | http PATH | udp | none }\n",
};
