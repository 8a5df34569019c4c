// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: bytes as what a client writes to xlbd's socket. Each line (the last one
 * also without its newline, as after the client's EOF) goes through api_request_parse(); a
 * change (vip_add, vip_del, backend_add, backend_del, backend_set, or a batch of them) is then
 * run as its op on a working copy of a configuration, exactly as xlbd runs it, but nothing is
 * applied or written. A change accepted becomes the configuration the next line changes.
 *
 * Beyond memory errors, it holds the daemon to what commit.c relies on: a configuration that
 * ops produced and that state_check() accepts as ops-made passes the full validation of a file
 * too (the JSON roundtrip xlbd skips for ops), and parses back to an equal configuration.
 * A refused request always says why.
 *
 * A leading blank in the input (which JSON ignores) selects the second starting configuration:
 * encap_source4 only and mtu 1300, where the cross-object rules refuse more.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlbd.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LINES_MAX 64

static const char *const base_text[2] = {
	"{\"encap_source4\": \"198.18.0.1\", \"encap_source6\": \"2001:db8::1\", \"max_vips\": 16,"
	" \"max_backends\": 256, \"vips\": ["
	" {\"address\": \"198.18.0.10\", \"port\": 80, \"table_size\": 251,"
	"  \"check\": {\"type\": \"http\", \"path\": \"/health\", \"expect\": \"200-299\"},"
	"  \"backends\": [{\"address\": \"198.18.1.1\"}, {\"address\": \"198.18.1.2\", \"port\": 8080,"
	"   \"weight\": 50, \"check\": {\"rise\": 5}}, {\"address\": \"2001:db8:1::1\"}]},"
	" {\"address\": \"2001:db8::10\", \"port\": 443, \"proto\": \"udp\", \"mode\": \"gue\","
	"  \"hash\": \"src\", \"backends\": [{\"address\": \"2001:db8:1::2\", \"check\": {\"type\":"
	"   \"udp\", \"port\": 53, \"payload\": \"a\\u0000b\"}}]},"
	" {\"address\": \"198.18.0.11\", \"port\": 0, \"mode\": \"l2\", \"backends\": ["
	"  {\"address\": \"198.18.1.5\", \"mac\": \"02:00:00:00:01:05\"}]}]}",
	"{\"encap_source4\": \"198.18.0.1\", \"mtu\": 1300, \"max_vips\": 16, \"max_backends\": 256,"
	" \"vips\": [{\"address\": \"198.18.0.10\", \"port\": 80, \"backends\": ["
	"  {\"address\": \"198.18.1.1\"}]},"
	" {\"address\": \"2001:db8::10\", \"port\": 80, \"backends\": [{\"address\": \"198.18.1.2\"}]}]}",
};
static struct xlb_cfg *base[2];

static void violation(const char *what, const char *line, size_t len, const char *detail)
{
	fprintf(stderr, "fuzz_api: %s\nrequest: %.*s\n%s\n", what, (int)(len > 2000 ? 2000 : len),
		line, detail ? detail : "");
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct xlb_cfg_errors e = {};

	(void)argc;
	(void)argv;
	xlb_set_log_level(-1); /* no log line of the ops: they would only slow the runs */
	for (int i = 0; i < 2; i++) {
		base[i] = xlb_cfg_parse_string(base_text[i], &e);
		if (!base[i]) {
			fprintf(stderr, "fuzz_api: starting config %d refused:\n%s", i, e.text);
			exit(1);
		}
	}
	return 0;
}

/* As cmd_batch(): the ops in order on @to, each an object whose cmd is a change. */
static int batch(struct xlbd *d, struct xlb_cfg *to, json_t *ops, char *err, size_t errlen)
{
	int hint = -1, ret;
	json_t *op;
	size_t i;
	op_fn fn;

	if (!json_is_array(ops))
		return -EINVAL;
	json_array_foreach(ops, i, op) {
		fn = api_op_of(json_string_value(json_object_get(op, "cmd")) ?: "");
		if (!json_is_object(op) || !fn)
			return -EINVAL;
		ret = fn(d, to, op, &hint, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

/* Runs the change @req on a copy of *@cur; an accepted one replaces *@cur. */
static void change(struct xlbd *d, struct xlb_cfg **cur, json_t *req, const char *line,
		   size_t len)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	char err[1024] = "", full[1024] = "";
	struct xlb_cfg_errors e = {};
	struct xlb_cfg *to, *back;
	int hint = -1, ret;
	json_t *j;

	to = xlb_cfg_dup(*cur);
	if (!to)
		violation("out of memory", line, len, NULL);
	if (!strcmp(cmd, "batch"))
		ret = batch(d, to, json_object_get(req, "ops"), err, sizeof(err));
	else
		ret = api_op_of(cmd)(d, to, req, &hint, err, sizeof(err));
	/* an op that refuses says why (a batch's own refusals are cmd_batch()'s words) */
	if (ret && !err[0] && strcmp(cmd, "batch"))
		violation("a change refused without a reason", line, len, NULL);
	if (!ret) {
		ret = state_check(d, to, true, err, sizeof(err));
		if (ret && !err[0])
			violation("a config refused by state_check() without a reason", line, len,
				  NULL);
	}
	if (ret) {
		xlb_cfg_free(to);
		return;
	}
	/* what ops made and state_check() let through must be a valid file, as written */
	if (state_check(d, to, false, full, sizeof(full)))
		violation("ops made a config the file parser refuses", line, len, full);
	j = xlb_cfg_to_json(to);
	back = xlb_cfg_from_json(j, &e);
	json_decref(j);
	if (!back || !xlb_cfg_equal(to, back))
		violation("an ops-made config does not parse back equal", line, len, e.text);
	xlb_cfg_free(back);
	xlb_cfg_free(*cur);
	*cur = to;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct xlb_cfg *cur = xlb_cfg_dup(base[size && data[0] == ' ']);
	struct xlbd d = { .max_vips = 16, .max_backends = 256 };
	int lines = 0;

	while (p < end && lines++ < LINES_MAX) {
		const char *nl = memchr(p, '\n', end - p);
		size_t len = (nl ? nl : end) - p;
		/* a copy of the exact length: a read past the line is a read past the buffer */
		char *line = malloc(len ? len : 1), err[1024] = "";
		const char *cmd;
		json_t *req;

		memcpy(line, p, len);
		p += len + !!nl;
		req = api_request_parse(line, len, err, sizeof(err));
		if (!req) {
			json_t *s = json_string(err);

			if (!err[0])
				violation("a request refused without a reason", line, len, NULL);
			if (!s)
				violation("a reason that is not UTF-8 (no JSON reply)", line, len,
					  err);
			json_decref(s);
			free(line);
			continue;
		}
		cmd = json_string_value(json_object_get(req, "cmd"));
		if (!cmd)
			violation("a parsed request has no cmd string", line, len, NULL);
		d.cfg = cur;
		if (api_op_of(cmd) || !strcmp(cmd, "batch"))
			change(&d, &cur, req, line, len);
		json_decref(req);
		free(line);
	}
	xlb_cfg_free(cur);
	return 0;
}
