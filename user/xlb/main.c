// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlb: the command line client of xlbd; options, object dispatch, usage and error reporting. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct cli_obj *const objects[] = {
	&cli_obj_vip, &cli_obj_backend, &cli_obj_stats, &cli_obj_lookup, &cli_obj_table,
	&cli_obj_status, &cli_obj_events, &cli_obj_top, &cli_obj_monitor,
};
#define NOBJECTS ARRAY_SIZE(objects)

static const char main_usage[] =
	"Usage: xlb [ OPTIONS ] OBJECT { COMMAND | help }\n"
	"       xlb [ OPTIONS ] { -b | --batch } FILE\n"
	"       xlb help\n"
	"OBJECT := { vip | backend | stats | lookup | table | status | events | top | monitor }\n"
	"OPTIONS := { -j | --json | -p | --pretty | -s | --socket SOCKET | -r | --revision REV |\n"
	"             -V | --version | -h | --help }\n";

/* Usage of one object, or of everything when @obj is NULL. */
static void usage(const struct cli_obj *obj, FILE *f)
{
	size_t i;

	if (obj) {
		fputs(obj->usage, f);
		return;
	}
	fputs(main_usage, f);
	for (i = 0; i < NOBJECTS; i++) {
		fputc('\n', f);
		fputs(objects[i]->usage, f);
	}
}

static void vreport(struct cli *c, const char *fmt, va_list ap)
{
	char msg[1024];

	if (c->line)
		snprintf(msg, sizeof(msg), "%s:%d: ", strcmp(c->batch_file, "-") ? c->batch_file :
			 "stdin", c->line);
	else
		msg[0] = '\0';
	vsnprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), fmt, ap);
	if (c->json) {
		json_t *o = json_pack("{s:s}", "error", msg);
		char *p;

		/* An argument quoted in the message may not be UTF-8: JSON needs it to be. */
		if (!o) {
			for (p = msg; *p; p++)
				if ((unsigned char)*p >= 0x80)
					*p = '?';
			o = json_pack("{s:s}", "error", msg);
		}
		if (!o || json_dumpf(o, stdout, c->pretty ? JSON_INDENT(2) : JSON_COMPACT) < 0)
			fprintf(stderr, "Error: %s\n", msg);
		else
			fputc('\n', stdout);
		json_decref(o);
	} else {
		fprintf(stderr, "Error: %s\n", msg);
	}
}

/* Reports a failure (exit 1) and returns -EIO. */
int cli_error(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(c, fmt, ap);
	va_end(ap);
	return -EIO;
}

/* Reports bad usage (exit 2) with the usage of the current object, returns XLB_EUSAGE. */
int cli_usage_error(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(c, fmt, ap);
	va_end(ap);
	/* Only the object's usage, or only the short main usage: "xlb help" shows everything. */
	if (!c->json)
		fputs(c->obj ? c->obj->usage : main_usage, stderr);
	return XLB_EUSAGE;
}

static bool is_help(const char *word)
{
	return !strcmp(word, "help") || !strcmp(word, "-h") || !strcmp(word, "--help");
}

/*
 * Prefix matching of objects and commands: an exact match wins, else a unique prefix.
 * Returns the index in @names, -ENOENT, or -EEXIST (ambiguous: the candidates in @cands).
 */
static int match(const char *const *names, size_t n, const char *word, char *cands, size_t len)
{
	size_t i, wlen = strlen(word), found = 0;
	int idx = -ENOENT;

	cands[0] = '\0';
	for (i = 0; i < n && wlen; i++) {
		if (!strcmp(names[i], word))
			return i;
		if (strncmp(names[i], word, wlen))
			continue;
		snprintf(cands + strlen(cands), len - strlen(cands), "%s%s", found ? ", " : "",
			 names[i]);
		idx = found++ ? -EEXIST : (int)i;
	}
	return idx;
}

/* Reports an unknown or ambiguous @word (usage error); @obj names the object of a command. */
static int no_match(struct cli *c, int err, const char *word, const char *cands,
		    const struct cli_obj *obj)
{
	char where[64] = "";

	if (obj)
		snprintf(where, sizeof(where), " for object \"%s\"", obj->name);
	if (err == -EEXIST)
		return cli_usage_error(c, "ambiguous %s \"%s\"%s (%s)", obj ? "command" : "object",
				       word, where, cands);
	return cli_usage_error(c, "unknown %s \"%s\"%s", obj ? "command" : "object", word, where);
}

static int run_object(struct cli *c, const struct cli_obj *obj, int argc, char **argv)
{
	const char *names[16];
	char cands[128];
	size_t n;
	int i;

	c->obj = obj;
	if (argc > 0 && is_help(argv[0])) {
		usage(obj, stdout);
		return 0;
	}
	if (!obj->cmds)
		return obj->fn(c, argc, argv);
	for (n = 0; obj->cmds[n].name && n < ARRAY_SIZE(names); n++)
		names[n] = obj->cmds[n].name;
	/* "xlb vip" lists, as "ip link" shows */
	i = match(names, n, argc ? argv[0] : "list", cands, sizeof(cands));
	if (i < 0)
		return no_match(c, i, argv[0], cands, obj);
	if (argc > 1 && is_help(argv[1])) {
		usage(obj, stdout);
		return 0;
	}
	return obj->cmds[i].fn(c, argc ? argc - 1 : 0, argv + !!argc);
}

/* OBJECT COMMAND ARGS of one command line (or one line of a batch file). */
static int run_words(struct cli *c, int argc, char **argv)
{
	const char *names[NOBJECTS];
	const struct cli_obj *obj;
	char cands[128];
	int idx;
	size_t i;

	if (argc == 0)
		return cli_usage_error(c, "missing OBJECT");
	if (is_help(argv[0])) {
		usage(NULL, stdout);
		return 0;
	}
	for (i = 0; i < NOBJECTS; i++)
		names[i] = objects[i]->name;
	idx = match(names, NOBJECTS, argv[0], cands, sizeof(cands));
	if (idx < 0)
		return no_match(c, idx, argv[0], cands, NULL);
	obj = objects[idx];
	return run_object(c, obj, argc - 1, argv + 1);
}

static int run(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "batch", required_argument, NULL, 'b' },
		{ "revision", required_argument, NULL, 'r' },
		{}
	};
	const char *env, *batch = NULL;
	int opt;

	env = getenv("XLB_SOCKET");
	c->socket = env && *env ? env : XLB_SOCKET_DEFAULT;
	c->timeout_ms = XLB_TIMEOUT_MS;
	c->revision = -1;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:jps:Vhb:r:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			c->json = true;
			break;
		case 'p':
			c->json = c->pretty = true;
			break;
		case 's':
			c->socket = optarg;
			break;
		case 'b':
			batch = optarg;
			break;
		case 'r': {
			char *end;

			errno = 0;
			c->revision = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg || c->revision < 0)
				return cli_usage_error(c, "revision \"%s\" is not an etcd revision "
						       "(an integer >= 0, as xlb status shows)",
						       optarg);
			break;
		}
		case 'V':
			printf("xlb %s\n", XLB_VERSION);
			return 0;
		case 'h':
			usage(NULL, stdout);
			return 0;
		case ':':
			return cli_usage_error(c, "option \"%s\" needs a value", argv[optind - 1]);
		default:
			if (optopt)
				return cli_usage_error(c, "unknown option \"-%c\"", optopt);
			return cli_usage_error(c, "unknown option \"%s\"", argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;

	if (batch) {
		if (argc)
			return cli_usage_error(c, "unexpected argument \"%s\" after -b FILE", argv[0]);
		return cli_batch(c, batch, run_words);
	}
	return run_words(c, argc, argv);
}

int main(int argc, char **argv)
{
	struct cli c = {};
	int rc;

	rc = run(&c, argc, argv);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "Error: cannot write output: %s\n", strerror(errno));
		return 1;
	}
	if (rc == XLB_EUSAGE)
		return 2;
	return rc < 0 ? 1 : 0;
}
