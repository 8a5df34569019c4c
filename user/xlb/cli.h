/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The xlb CLI: command tables, argument parsers, the daemon client and the one print path. */
#ifndef XLB_CLI_H
#define XLB_CLI_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "names.h"
#include "rules.h"
#include "version.h"
#include "xlb.h"

#define XLB_TIMEOUT_MS 5000		/* the daemon must answer within this */
#define XLB_BATCH_TIMEOUT_MS 600000	/* ... a batch (thousands of VIPs) within this */

/*
 * Return values of command functions: 0, or a negative errno. -EINVAL is reserved for bad
 * usage (exit 2, the object's usage is shown); any other error exits 1. The message has been
 * printed by whoever returned the error, exactly once.
 */
#define XLB_EUSAGE (-EINVAL)

struct cli_obj;

/* Everything a command needs: options and the object being run (no global state). */
struct cli {
	bool json;		/* -j: JSON on stdout, errors as {"error": ...} */
	bool pretty;		/* -p: indented JSON (implies -j) */
	const char *socket;	/* -s, $XLB_SOCKET or XLB_SOCKET_DEFAULT */
	int timeout_ms;
	long long revision;	/* -r: a change holds if the shared config is as read then; -1 */
	const struct cli_obj *obj; /* for its usage text after a usage error */
	/* -b FILE: the changes of every line gathered into one batch request */
	json_t *batch;		/* its "ops" while the file is read, else NULL */
	const char *batch_file;	/* the file's name, for messages ("-" = stdin) */
	int line;		/* the line being read (messages say "FILE:LINE: ") */
	int *op_lines;		/* the line of each op, to name a refused op by its line */
	size_t nop_lines;
};

struct cli_cmd {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
};

/*
 * An object: either a table of commands (vip, backend) or one function taking the arguments
 * directly (stats, lookup, table, status). The usage text is also what the docs test reads:
 * lowercase words in it are keywords, UPPERCASE words are placeholders.
 */
struct cli_obj {
	const char *name;
	const char *usage;
	const struct cli_cmd *cmds;	/* NULL-name terminated, or NULL */
	int (*fn)(struct cli *c, int argc, char **argv);
};

extern const struct cli_obj cli_obj_vip, cli_obj_backend, cli_obj_stats, cli_obj_lookup,
	cli_obj_table, cli_obj_status, cli_obj_events, cli_obj_top, cli_obj_monitor;

/* main.c: errors and usage */
int cli_error(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_usage_error(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* args.c: local validation; each returns 0 or XLB_EUSAGE after printing an error naming @s */
int cli_parse_vip(struct cli *c, const char *s, char *out, size_t len, uint8_t *family);
int cli_parse_backend(struct cli *c, const char *s, struct xlb_hostport *hp);
int cli_parse_src(struct cli *c, const char *s, char *out, size_t len, uint8_t *family);
/* A number in range @r (rules.h), named @what in the error. */
int cli_parse_range(struct cli *c, const char *what, const char *s, enum xlb_range_id r,
		    uint32_t *out);
/* A name of @t into *@value (may be NULL); the error lists @t's names (in @order if not NULL). */
int cli_parse_name(struct cli *c, const char *what, const char *s, const struct xlb_names *t,
		   const int *order, size_t norder, int *value);
/* top.c: a number of seconds (0.1..3600) for -w / -d, named @what in the error. */
int cli_parse_seconds(struct cli *c, const char *what, const char *s, double *out);
/* Pops the value of keyword argv[0]; errors with "missing value" when there is none. */
const char *cli_value(struct cli *c, int *argc, char ***argv);

/* client.c: one request, one reply; returns the reply minus "ok", or NULL after an error */
json_t *cli_request(struct cli *c, json_t *req);
/*
 * -j: sends @req (its reference is taken) and prints the reply without "ok" as
 * json_dumpf(JSON_COMPACT) of it would, from the reply's own bytes (a view at 1,000 VIPs is
 * megabytes: not parsed and dumped again); nothing for an empty reply. 0, or -EIO after the error.
 */
int cli_request_print(struct cli *c, json_t *req, FILE *f);
/* Connects and sends @req (its reference is taken): the socket for a stream, or -errno after the
 * error. monitor.c reads the reply and what follows. */
int cli_send(struct cli *c, json_t *req);

/* batch.c: xlb -b FILE runs the file's commands as one batch; returns as a command does */
int cli_batch(struct cli *c, const char *file, int (*run)(struct cli *c, int argc, char **argv));

/* print.c: one print path serving text and JSON */
enum cli_fmt {
	F_STR,		/* string as is; "-" when missing */
	F_INT,		/* integer */
	F_HEX,		/* integer as 0x%08x */
	F_BYTES,	/* bytes in B/KiB/MiB/GiB */
	F_PPS,		/* packets per second */
	F_BPS,		/* bits per second */
	F_BOOL,		/* yes/no */
	F_BACKEND,	/* the row's address and port: 198.18.1.2:80, [2001:db8::2]:80, 2001:db8::2 */
	F_CHECK,	/* the row's check object: "tcp", "http /health", "none" */
	F_SHARE,	/* slots of the row as a percentage of the context's table_size */
	F_UPTIME,	/* seconds as 3d04h02m05s */
	F_IFACES,	/* interfaces: "eth0 (2, native), ..." */
	F_STATS_NAME,	/* a VIP row's vip, or an indented backend row's address */
	F_LAST,		/* a probe outcome: "connected 0.21ms", "-" when none yet */
	F_PROGRESS,	/* a long apply in progress: "reload: 512 of 1000 VIPs, 1.2 s" */
};

struct cli_col {
	const char *key;	/* JSON key in the row (or the context for F_SHARE) */
	const char *title;	/* column header, or label in a key/value list */
	enum cli_fmt fmt;
	bool right;		/* right-aligned (numbers) */
};

struct cli_table;
/* A table of rows (JSON objects) shown through columns; @ctx is passed to formatters. */
struct cli_table *cli_table_new(const struct cli_col *cols, size_t ncols, json_t *ctx);
void cli_table_add(struct cli_table *t, json_t *row);
/* A row as an array of the values of @columns (a reply's rows "arrays", API.md). */
void cli_table_add_array(struct cli_table *t, json_t *row, json_t *columns);
void cli_table_print(struct cli_table *t, FILE *f);
void cli_table_free(struct cli_table *t);

/* How a command shows the daemon's reply in text mode; any part may be absent. */
struct cli_view {
	const struct cli_col *kv;	/* a key/value list of the reply */
	size_t nkv;
	const char *rows;		/* then a table of the reply's array @rows, */
	const struct cli_col *cols;	/* through these columns (the reply is the context) */
	size_t ncols;
	void (*print)(json_t *res);	/* or a printer of its own */
};
/*
 * Sends @req (its reference is taken) and shows the reply: as JSON with -j, else through @v;
 * a NULL @v shows nothing in text mode (a change). Returns 0, or -EIO after the error.
 */
int cli_show(struct cli *c, json_t *req, const struct cli_view *v);

#endif /* XLB_CLI_H */
