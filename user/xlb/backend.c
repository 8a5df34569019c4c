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
	{ "jitter", "jitter_pct", true, XLB_RANGE_JITTER_PCT },
	{ "fastinter", "fastinter_ms", true, XLB_RANGE_INTER_MS },
	{ "downinter", "downinter_ms", true, XLB_RANGE_INTER_MS },
	{ "agent-port", "agent_port", true, XLB_RANGE_PORT_SET },
	{ "agent-interval", "agent_interval_ms", true, XLB_RANGE_AGENT_INTERVAL_MS },
	{ "slow-start", "slow_start_ms", false, XLB_RANGE_SLOW_START_MS },
	{ "drain-timeout", "drain_timeout_ms", false, XLB_RANGE_DRAIN_TIMEOUT_MS },
};

/* Text keywords of "backend add" that go into the "check" object as they are (xlbd checks them). */
static const struct str_kw {
	const char *kw;
	const char *key;
} str_kws[] = {
	{ "host", "host" },
	{ "source", "source" },
	{ "payload", "payload" },
	{ "expect-payload", "expect_payload" },
	{ "agent-send", "agent_send" },
};

/* "expect 204" or "expect 200-399": a status or a range of them. */
static int parse_expect(struct cli *c, const char *val, json_t *check)
{
	const struct xlb_range *r = xlb_range(XLB_RANGE_EXPECT);
	const char *dash = strchr(val, '-');
	char range[XLB_RANGE_TEXT_LEN];
	uint32_t lo, hi;

	if (!dash && !xlb_range_parse(r, val, strlen(val), &lo)) {
		json_object_set_new(check, "expect", json_integer(lo));
		return 0;
	}
	if (dash && !xlb_range_parse(r, val, dash - val, &lo) &&
	    !xlb_range_parse(r, dash + 1, strlen(dash + 1), &hi) && lo <= hi) {
		json_object_set_new(check, "expect", json_string(val));
		return 0;
	}
	return cli_usage_error(c, "invalid expect \"%s\" (an HTTP status %s or LO-HI)", val,
			       xlb_range_text(r, range, sizeof(range)));
}

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
	size_t i, j;
	__u8 mac[6];

	for (i = 0; i < ARRAY_SIZE(num_kws); i++)
		if (!strcmp(kw, num_kws[i].kw))
			break;
	for (j = 0; j < ARRAY_SIZE(str_kws); j++)
		if (!strcmp(kw, str_kws[j].kw))
			break;
	if (!strcmp(kw, "backup")) {
		if (json_object_get(req, "backup"))
			return cli_usage_error(c, "\"%s\" given twice", kw);
		json_object_set_new(req, "backup", json_true());
		(*argc)--;
		(*argv)++;
		return 0;
	}
	if (i < ARRAY_SIZE(num_kws)) {
		key = num_kws[i].key;
		dst = num_kws[i].in_check ? check : req;
	} else if (j < ARRAY_SIZE(str_kws)) {
		key = str_kws[j].key;
		dst = check;
	} else if (!strcmp(kw, "expect")) {
		key = "expect";
		dst = check;
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
	} else if (j < ARRAY_SIZE(str_kws)) {
		json_t *text = json_string(val);

		/* JSON strings are UTF-8: anything else is refused here, not left out unsaid */
		if (!text)
			return cli_usage_error(c, "invalid %s \"%s\" (not UTF-8 text)", kw, val);
		json_object_set_new(dst, key, text);
	} else if (!strcmp(key, "expect")) {
		return parse_expect(c, val, check);
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
		{ "effective_weight", "EFFECTIVE", F_INT, true },
		{ "state", "STATE", F_STR },
		{ "health", "HEALTH", F_STR },
		{ "why", "WHY", F_STR },
		{ "slots", "SLOTS", F_INT, true },
		{ "check", "CHECK", F_CHECK },
		{ "last_check", "LAST CHECK", F_LAST },
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
	/* the text table asks for the keys it shows, rows as arrays: a fraction to parse */
	if (req && !c->json)
		json_object_set_new(req, "fields",
				    json_pack("[s,s,s,s,s,s,s,s,s,s,s,s,s]", "vip", "address", "port",
					      "id", "weight", "effective_weight", "state", "health",
					      "why", "slots", "check.type", "check.path",
					      "last_check"));
	if (req && !c->json)
		json_object_set_new(req, "rows", json_string("arrays"));
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
	"Usage: xlb backend add VIP BACKEND [ weight W ] [ mac MAC ] [ backup ]\n"
	"                       [ slow-start MS ] [ drain-timeout MS ] [ check CHECK ]\n"
	"                       [ check-port PORT ] [ interval MS ] [ timeout MS ]\n"
	"                       [ rise N ] [ fall N ] [ jitter PCT ] [ fastinter MS ]\n"
	"                       [ downinter MS ] [ source ADDR ] [ expect STATUS ]\n"
	"                       [ host NAME ] [ payload TEXT ] [ expect-payload TEXT ]\n"
	"                       [ agent-port PORT ] [ agent-interval MS ] [ agent-send TEXT ]\n"
	"       xlb backend set VIP BACKEND { weight W | drain | enable | disable } ...\n"
	"       xlb backend del VIP BACKEND\n"
	"       xlb backend list [ VIP ]\n"
	"       xlb backend help\n"
	"VIP := { IPV4:PORT/PROTO | [IPV6]:PORT/PROTO }\n"
	"BACKEND := { IPV4 | IPV4:PORT | IPV6 | [IPV6] | [IPV6]:PORT }\n"
	"CHECK := { tcp | http PATH | udp | none }\n",
};
