// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The one print path of xlb: a command describes how its reply reads as text (struct
 * cli_view: columns of a key/value list and of an aligned table) and cli_show() prints the
 * daemon's JSON object either as JSON (-j) or through that description.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Prints @res as JSON when -j, else nothing; returns true when it printed (caller stops). */
static bool print_json(struct cli *c, json_t *res)
{
	if (!c->json)
		return false;
	/* A command that only changes something answers nothing, in JSON as in text. */
	if (json_is_object(res) && !json_object_size(res))
		return true;
	json_dumpf(res, stdout, c->pretty ? JSON_INDENT(2) : JSON_COMPACT);
	fputc('\n', stdout);
	return true;
}

/* "a.b" looks up b in the object a of @o; NULL when absent. */
static json_t *get_path(json_t *o, const char *path)
{
	char part[64];
	const char *dot;

	while (o && (dot = strchr(path, '.'))) {
		size_t n = (size_t)(dot - path) < sizeof(part) ? (size_t)(dot - path) :
								  sizeof(part) - 1;

		memcpy(part, path, n);
		part[n] = '\0';
		o = json_object_get(o, part);
		path = dot + 1;
	}
	return o ? json_object_get(o, path) : NULL;
}

/* @v scaled by @base into "12", "1.2k", "3.4M" with @units[i] appended. */
static void human(double v, double base, const char *const *units, char *buf, size_t len)
{
	int i = 0;

	while (v >= base && units[i + 1]) {
		v /= base;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%.0f%s", v, units[0]);
	else
		snprintf(buf, len, "%.1f%s", v, units[i]);
}

static void format_backend(json_t *o, char *buf, size_t len)
{
	const char *addr = json_string_value(json_object_get(o, "address"));
	json_int_t port = json_integer_value(json_object_get(o, "port"));

	if (!addr)
		snprintf(buf, len, "-");
	else if (!port)
		snprintf(buf, len, "%s", addr);
	else
		snprintf(buf, len, strchr(addr, ':') ? "[%s]:%lld" : "%s:%lld", addr, port);
}

/* One cell: @key of @row (the row itself when NULL) formatted by @fmt into @buf. */
static void format_cell(enum cli_fmt fmt, json_t *row, const char *key, json_t *ctx,
			char *buf, size_t len)
{
	static const char *const si[] = { "", "k", "M", "G", "T", NULL };
	static const char *const iec[] = { " B", " KiB", " MiB", " GiB", " TiB", NULL };
	json_t *v = key ? get_path(row, key) : row;
	double d = json_number_value(v);
	json_int_t n = json_integer_value(v);
	size_t i;

	if ((!v || json_is_null(v)) && fmt != F_STATS_NAME) {
		snprintf(buf, len, "-");
		return;
	}
	switch (fmt) {
	case F_INT:
		if (json_is_integer(v))
			snprintf(buf, len, "%lld", n);
		else
			snprintf(buf, len, "%g", d);
		break;
	case F_HEX:
		snprintf(buf, len, "0x%08llx", n);
		break;
	case F_BYTES:
		human(d, 1024, iec, buf, len);
		break;
	case F_PPS:
	case F_BPS:
		human(d, 1000, si, buf, len);
		break;
	case F_BOOL:
		snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no");
		break;
	case F_BACKEND:
		format_backend(v, buf, len);
		break;
	case F_CHECK: {
		const char *type = json_string_value(json_object_get(v, "type"));
		const char *path = json_string_value(json_object_get(v, "path"));

		snprintf(buf, len, "%s%s%s", type ? type : "-", path ? " " : "", path ? path : "");
		break;
	}
	case F_LAST: {
		const char *detail = json_string_value(json_object_get(v, "detail"));

		if (!detail)
			snprintf(buf, len, "-");
		else
			snprintf(buf, len, "%s %.2fms", detail,
				 json_number_value(json_object_get(v, "latency_ms")));
		break;
	}
	case F_SHARE: {
		double m = json_number_value(json_object_get(ctx, "table_size"));

		snprintf(buf, len, "%.2f%%", m > 0 ? 100.0 * d / m : 0.0);
		break;
	}
	case F_UPTIME:		/* 45s, 2m05s, 1h02m05s, 3d04h02m05s */
		if (n >= 86400)
			snprintf(buf, len, "%lldd%02lldh%02lldm%02llds", n / 86400, n / 3600 % 24,
				 n / 60 % 60, n % 60);
		else if (n >= 3600)
			snprintf(buf, len, "%lldh%02lldm%02llds", n / 3600, n / 60 % 60, n % 60);
		else if (n >= 60)
			snprintf(buf, len, "%lldm%02llds", n / 60, n % 60);
		else
			snprintf(buf, len, "%llds", n);
		break;
	case F_PROGRESS:	/* reload: 512 of 1000 VIPs, 1.2 s */
		snprintf(buf, len, "%s: %lld of %lld VIPs, %.1f s",
			 json_string_value(json_object_get(v, "what")) ?: "?",
			 json_integer_value(json_object_get(v, "done")),
			 json_integer_value(json_object_get(v, "total")),
			 json_integer_value(json_object_get(v, "elapsed_ms")) / 1000.0);
		break;
	case F_IFACES:
		if (!json_array_size(v))
			snprintf(buf, len, "none");
		else
			buf[0] = '\0';
		for (i = 0; i < json_array_size(v); i++) {
			json_t *e = json_array_get(v, i);
			size_t at = strlen(buf);

			snprintf(buf + at, len - at, "%s%s (ifindex %lld, %s)", i ? ", " : "",
				 json_string_value(json_object_get(e, "name")) ?: "?",
				 json_integer_value(json_object_get(e, "ifindex")),
				 json_string_value(json_object_get(e, "mode")) ?: "?");
		}
		break;
	case F_STATS_NAME:
		if (json_object_get(row, "vip")) {
			snprintf(buf, len, "%s", json_string_value(json_object_get(row, "vip")));
		} else {
			buf[0] = buf[1] = ' ';
			format_backend(row, buf + 2, len - 2);
		}
		break;
	case F_STR:
	default:
		if (json_is_string(v)) {
			snprintf(buf, len, "%s", json_string_value(v));
		} else if (json_is_integer(v)) {
			snprintf(buf, len, "%lld", n);
		} else {
			char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

			snprintf(buf, len, "%s", s ? s : "?");
			free(s);
		}
		break;
	}
}

#define CELL_MAX 512

struct cli_table {
	const struct cli_col *cols;
	size_t ncols, nrows, cap;
	json_t *ctx;
	char **cells;		/* nrows * ncols strings */
};

struct cli_table *cli_table_new(const struct cli_col *cols, size_t ncols, json_t *ctx)
{
	struct cli_table *t = calloc(1, sizeof(*t));

	if (t) {
		t->cols = cols;
		t->ncols = ncols;
		t->ctx = ctx;
	}
	return t;
}

void cli_table_add(struct cli_table *t, json_t *row)
{
	char buf[CELL_MAX];
	size_t i;

	if (!t)
		return;
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **p = realloc(t->cells, cap * t->ncols * sizeof(*p));

		if (!p)
			return;
		t->cells = p;
		t->cap = cap;
	}
	for (i = 0; i < t->ncols; i++) {
		format_cell(t->cols[i].fmt, row, t->cols[i].key, t->ctx, buf, sizeof(buf));
		t->cells[t->nrows * t->ncols + i] = strdup(buf);
	}
	t->nrows++;
}

static void print_row(struct cli_table *t, const size_t *width, const char *const *cells, FILE *f)
{
	size_t i;

	for (i = 0; i < t->ncols; i++) {
		const char *s = cells[i] ? cells[i] : "?";
		bool last = i + 1 == t->ncols;
		int w = width[i];

		if (t->cols[i].right)
			fprintf(f, "%*s", w, s);
		else
			fprintf(f, "%-*s", last ? 0 : w, s);
		fputs(last ? "\n" : "  ", f);
	}
}

void cli_table_print(struct cli_table *t, FILE *f)
{
	size_t *width, i, r;
	const char **titles;

	if (!t)
		return;
	width = calloc(t->ncols, sizeof(*width));
	titles = calloc(t->ncols, sizeof(*titles));
	if (!width || !titles)
		goto out;
	for (i = 0; i < t->ncols; i++) {
		titles[i] = t->cols[i].title;
		width[i] = strlen(titles[i]);
		for (r = 0; r < t->nrows; r++) {
			const char *s = t->cells[r * t->ncols + i];

			if (s && strlen(s) > width[i])
				width[i] = strlen(s);
		}
	}
	print_row(t, width, titles, f);
	for (r = 0; r < t->nrows; r++)
		print_row(t, width, (const char *const *)&t->cells[r * t->ncols], f);
out:
	free(width);
	free(titles);
}

void cli_table_free(struct cli_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

/* A key/value list of one object: one line per column, label padded. */
static void kv_print(const struct cli_col *cols, size_t ncols, json_t *obj, FILE *f)
{
	char buf[CELL_MAX];
	size_t i, w = 0;

	for (i = 0; i < ncols; i++)
		if (strlen(cols[i].title) > w)
			w = strlen(cols[i].title);
	for (i = 0; i < ncols; i++) {
		format_cell(cols[i].fmt, obj, cols[i].key, obj, buf, sizeof(buf));
		fprintf(f, "%-*s  %s\n", (int)w, cols[i].title, buf);
	}
}

int cli_show(struct cli *c, json_t *req, const struct cli_view *v)
{
	json_t *res, *row;
	struct cli_table *t;
	size_t i;

	if (c->batch) {
		/* -b: a change joins the batch; a command that shows something cannot */
		if (v) {
			json_decref(req);
			return cli_usage_error(c, "only changes can be batched (add, del, set)");
		}
		if (!req || json_array_append_new(c->batch, req))
			return cli_error(c, "out of memory");
		return 0;
	}
	if (c->json && !c->pretty)
		return cli_request_print(c, req, stdout);
	res = cli_request(c, req);
	if (!res)
		return -EIO;
	if (print_json(c, res) || !v)
		goto out;
	if (v->kv)
		kv_print(v->kv, v->nkv, res, stdout);
	if (v->kv && v->rows)
		fputc('\n', stdout);
	if (v->rows) {
		t = cli_table_new(v->cols, v->ncols, res);
		json_array_foreach(json_object_get(res, v->rows), i, row)
			cli_table_add(t, row);
		cli_table_print(t, stdout);
		cli_table_free(t);
	}
	if (v->print)
		v->print(res);
out:
	json_decref(res);
	return 0;
}
