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

/* @n in decimal into @buf (of @len > 20), as "%lld" writes it, without printf. */
static void int_text(json_int_t n, char *buf, size_t len)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	unsigned long long u = n < 0 ? -(unsigned long long)n : (unsigned long long)n;
	size_t k;

	do
		*--p = '0' + u % 10;
	while (u /= 10);
	if (n < 0)
		*--p = '-';
	k = tmp + sizeof(tmp) - p;
	if (k >= len)
		k = len - 1;
	memcpy(buf, p, k);
	buf[k] = '\0';
}

/* @s into @buf as snprintf("%s") would (cut to @len - 1). */
static void str_text(const char *s, char *buf, size_t len)
{
	size_t k = strlen(s);

	if (k >= len)
		k = len - 1;
	memcpy(buf, s, k);
	buf[k] = '\0';
}

/* @v scaled by @base into "12", "1.2k", "3.4M" with @units[i] appended. */
static void human(double v, double base, const char *const *units, char *buf, size_t len)
{
	int i = 0;

	/* a whole number below @base: "%.0f" of it is its digits */
	if (v >= 0 && v < base && v == (double)(long long)v) {
		int_text((long long)v, buf, len);
		strncat(buf, units[0], len - strlen(buf) - 1);
		return;
	}
	while (v >= base && units[i + 1]) {
		v /= base;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%.0f%s", v, units[0]);
	else
		snprintf(buf, len, "%.1f%s", v, units[i]);
}

/* ADDR:PORT ([ADDR]:PORT for IPv6, ADDR alone for port 0) of a backend, "-" without @addr. */
static void backend_text(const char *addr, json_int_t port, char *buf, size_t len)
{
	if (!addr)
		snprintf(buf, len, "-");
	else if (!port)
		str_text(addr, buf, len);
	else if (!strchr(addr, ':') && strlen(addr) + 22 < len) {
		size_t k = strlen(addr);

		memcpy(buf, addr, k);
		buf[k] = ':';
		int_text(port, buf + k + 1, len - k - 1);
	} else
		snprintf(buf, len, strchr(addr, ':') ? "[%s]:%lld" : "%s:%lld", addr, port);
}

static void format_backend(json_t *o, char *buf, size_t len)
{
	backend_text(json_string_value(json_object_get(o, "address")),
		     json_integer_value(json_object_get(o, "port")), buf, len);
}

/* A check's cell: its type and path. */
static void check_text(const char *type, const char *path, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", type ? type : "-", path ? " " : "", path ? path : "");
}

/* The stats table's first cell: a VIP row's @vip, else an indented backend's address. */
static void stats_name(json_t *vip, json_t *addr, json_t *port, char *buf, size_t len)
{
	if (vip) {
		const char *s = json_string_value(vip);

		str_text(s ? s : "(null)", buf, len);	/* as glibc's "%s" */
	} else {
		buf[0] = buf[1] = ' ';
		backend_text(json_string_value(addr), json_integer_value(port), buf + 2, len - 2);
	}
}

/* One cell: value @v (of row object @row) formatted by @fmt into @buf. */
static void format_value(enum cli_fmt fmt, json_t *v, json_t *row, json_t *ctx, char *buf,
			 size_t len)
{
	static const char *const si[] = { "", "k", "M", "G", "T", NULL };
	static const char *const iec[] = { " B", " KiB", " MiB", " GiB", " TiB", NULL };
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
			int_text(n, buf, len);
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
	case F_CHECK:
		check_text(json_string_value(json_object_get(v, "type")),
			   json_string_value(json_object_get(v, "path")), buf, len);
		break;
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
		stats_name(json_object_get(row, "vip"), json_object_get(row, "address"),
			   json_object_get(row, "port"), buf, len);
		break;
	case F_STR:
	default:
		if (json_is_string(v)) {
			str_text(json_string_value(v), buf, len);
		} else if (json_is_integer(v)) {
			int_text(n, buf, len);
		} else {
			char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

			snprintf(buf, len, "%s", s ? s : "?");
			free(s);
		}
		break;
	}
}

/* One cell: @key of @row (the row itself when NULL) formatted by @fmt into @buf. */
static void format_cell(enum cli_fmt fmt, json_t *row, const char *key, json_t *ctx,
			char *buf, size_t len)
{
	format_value(fmt, key ? get_path(row, key) : row, row, ctx, buf, len);
}

/* The value of @key in the array row @row whose keys are @columns; NULL when it has none. */
static json_t *column_get(json_t *row, json_t *columns, const char *key)
{
	size_t i;
	json_t *c;

	json_array_foreach(columns, i, c)
		if (json_is_string(c) && !strcmp(json_string_value(c), key))
			return json_array_get(row, i);
	return NULL;
}

/* One cell of an array row (rows "arrays", API.md), as format_cell() of its object. */
static void format_array_cell(enum cli_fmt fmt, json_t *row, json_t *columns, const char *key,
			      json_t *ctx, char *buf, size_t len)
{
	if (fmt == F_STATS_NAME) {
		stats_name(column_get(row, columns, "vip"), column_get(row, columns, "address"),
			   column_get(row, columns, "port"), buf, len);
	} else if (fmt == F_BACKEND && !key) {
		backend_text(json_string_value(column_get(row, columns, "address")),
			     json_integer_value(column_get(row, columns, "port")), buf, len);
	} else if (fmt == F_CHECK) {
		/* the check's keys are columns of their own ("check.type"): as the object's */
		const char *type = json_string_value(column_get(row, columns, "check.type"));
		const char *path = json_string_value(column_get(row, columns, "check.path"));

		if (!type && !path)
			snprintf(buf, len, "-");
		else
			check_text(type, path, buf, len);
	} else
		format_value(fmt, key ? column_get(row, columns, key) : NULL, NULL, ctx, buf, len);
}

#define CELL_MAX 512

/*
 * A table's cells are kept as text in one growing buffer (an offset and a length each), and
 * the whole table is written into one buffer and out with one fwrite(): at 1,000 VIPs x 10
 * backends that is 110,000 cells, which a strdup() and an fprintf() each made a third of the
 * CLI's time.
 */
struct cli_cell {
	uint32_t off, len;
};

struct cli_table {
	const struct cli_col *cols;
	size_t ncols, nrows, cap;
	json_t *ctx;
	struct cli_cell *cells;	/* nrows * ncols */
	char *text;		/* the cells' text, each NUL-terminated */
	size_t len, tcap;
	bool oom;
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

/* Room for @n more bytes of cell text; false (and t->oom) when there is none. */
static bool text_room(struct cli_table *t, size_t n)
{
	size_t cap = t->tcap ? t->tcap : 1 << 16;
	char *p;

	if (t->len + n <= t->tcap)
		return true;
	while (cap < t->len + n)
		cap *= 2;
	if (cap > UINT32_MAX || !(p = realloc(t->text, cap))) {
		t->oom = true;
		return false;
	}
	t->text = p;
	t->tcap = cap;
	return true;
}

/* Adds a row: object @row, or with @columns the array @row whose keys they are. */
static void table_add(struct cli_table *t, json_t *row, json_t *columns)
{
	size_t i;

	if (!t || t->oom)
		return;
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct cli_cell *p = realloc(t->cells, cap * t->ncols * sizeof(*p));

		if (!p) {
			t->oom = true;
			return;
		}
		t->cells = p;
		t->cap = cap;
	}
	for (i = 0; i < t->ncols; i++) {
		struct cli_cell *cell = &t->cells[t->nrows * t->ncols + i];
		char *buf;

		if (!text_room(t, CELL_MAX))
			return;
		buf = t->text + t->len;
		if (columns)
			format_array_cell(t->cols[i].fmt, row, columns, t->cols[i].key, t->ctx, buf,
					  CELL_MAX);
		else
			format_cell(t->cols[i].fmt, row, t->cols[i].key, t->ctx, buf, CELL_MAX);
		cell->off = t->len;
		cell->len = strlen(buf);
		t->len += cell->len + 1;
	}
	t->nrows++;
}

void cli_table_add(struct cli_table *t, json_t *row)
{
	table_add(t, row, NULL);
}

void cli_table_add_array(struct cli_table *t, json_t *row, json_t *columns)
{
	table_add(t, row, columns);
}

/* Output of a table, written into memory and out at once. */
struct outbuf {
	char *buf;
	size_t len, cap;
	bool oom;
};

static void out_put(struct outbuf *o, const char *s, size_t n, size_t pad)
{
	if (o->oom)
		return;
	if (o->len + n + pad > o->cap) {
		size_t cap = o->cap ? o->cap : 1 << 16;
		char *p;

		while (cap < o->len + n + pad)
			cap *= 2;
		p = realloc(o->buf, cap);
		if (!p) {
			o->oom = true;
			return;
		}
		o->buf = p;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	memset(o->buf + o->len, ' ', pad);
	o->len += pad;
}

/* One row: as fprintf("%*s") / ("%-*s") would pad each cell, two spaces between columns. */
static void print_row(struct cli_table *t, const size_t *width, const char *const *s,
		      const size_t *len, struct outbuf *o)
{
	size_t i;

	for (i = 0; i < t->ncols; i++) {
		bool last = i + 1 == t->ncols;
		size_t pad = len[i] < width[i] ? width[i] - len[i] : 0;

		if (t->cols[i].right)
			out_put(o, "", 0, pad);
		out_put(o, s[i], len[i], !t->cols[i].right && !last ? pad : 0);
		out_put(o, last ? "\n" : "  ", last ? 1 : 2, 0);
	}
}

void cli_table_print(struct cli_table *t, FILE *f)
{
	struct outbuf o = { 0 };
	size_t *width, *len, i, r;
	const char **s;

	if (!t)
		return;
	width = calloc(t->ncols, sizeof(*width));
	len = calloc(t->ncols, sizeof(*len));
	s = calloc(t->ncols, sizeof(*s));
	if (!width || !len || !s)
		goto out;
	for (i = 0; i < t->ncols; i++) {
		width[i] = strlen(t->cols[i].title);
		for (r = 0; r < t->nrows; r++)
			if (t->cells[r * t->ncols + i].len > width[i])
				width[i] = t->cells[r * t->ncols + i].len;
	}
	for (i = 0; i < t->ncols; i++) {
		s[i] = t->cols[i].title;
		len[i] = strlen(s[i]);
	}
	print_row(t, width, s, len, &o);
	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			const struct cli_cell *cell = &t->cells[r * t->ncols + i];

			s[i] = t->text + cell->off;
			len[i] = cell->len;
		}
		print_row(t, width, s, len, &o);
	}
	if (o.oom || t->oom)
		fputs("xlb: out of memory: the table is cut short\n", stderr);
	if (o.len)
		fwrite(o.buf, 1, o.len, f);
out:
	free(o.buf);
	free(width);
	free(len);
	free(s);
}

void cli_table_free(struct cli_table *t)
{
	if (!t)
		return;
	free(t->cells);
	free(t->text);
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

/*
 * The last reply shown in text: freed when the next one comes (xlb stats -w), else left to the
 * process's exit, which follows. Freeing the tree of a view of 10,000 rows costs 10 ms.
 */
static json_t *last_shown;

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
		json_t *columns = json_object_get(res, "columns");	/* rows "arrays" */

		t = cli_table_new(v->cols, v->ncols, res);
		json_array_foreach(json_object_get(res, v->rows), i, row)
			if (json_is_array(columns))
				cli_table_add_array(t, row, columns);
			else
				cli_table_add(t, row);
		cli_table_print(t, stdout);
		cli_table_free(t);
	}
	if (v->print)
		v->print(res);
	json_decref(last_shown);
	last_shown = res;
	return 0;
out:
	json_decref(res);
	return 0;
}
