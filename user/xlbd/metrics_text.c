// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The Prometheus text exposition (format 0.0.4) written into a growing buffer: metric families,
 * samples, histograms, escaped label values (for metrics.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_int.h"

bool mx_room(struct mx_buf *b, size_t n)
{
	char *p;
	size_t cap;

	if (b->oom)
		return false;
	if (b->len + n <= b->cap)
		return true;
	for (cap = b->cap ? b->cap : 65536; cap < b->len + n; cap *= 2)
		;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void mx_put(struct mx_buf *b, const char *s, size_t n)
{
	if (!mx_room(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

void mx_str(struct mx_buf *b, const char *s)
{
	mx_put(b, s, strlen(s));
}

void mx_printf(struct mx_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !mx_room(b, n + 1))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
}

/* " 1234\n": the samples of 10,000 backends are mostly this, so no printf for them. */
void mx_u64_nl(struct mx_buf *b, __u64 v)
{
	char t[24];
	int i = sizeof(t);

	t[--i] = '\n';
	do {
		t[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	t[--i] = ' ';
	mx_put(b, t + i, sizeof(t) - i);
}

/* A label value, escaped as the text format wants: backslash, double quote, newline. */
void mx_label_value(struct mx_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			mx_put(b, "\\\\", 2);
		else if (*s == '"')
			mx_put(b, "\\\"", 2);
		else if (*s == '\n')
			mx_put(b, "\\n", 2);
		else
			mx_put(b, s, 1);
	}
}

void mx_family(struct mx_buf *b, const char *name, const char *type, const char *help)
{
	mx_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample: name, the prepared label set ("{...}" or ""), the value. */
void mx_sample(struct mx_buf *b, const char *name, const char *labels, size_t llen, __u64 v)
{
	mx_str(b, name);
	mx_put(b, labels, llen);
	mx_u64_nl(b, v);
}

void mx_histogram(struct mx_buf *b, const char *name, const char *labels, const struct hist *h,
		  const double *bounds, size_t n)
{
	__u64 cum = 0;
	size_t i;

	for (i = 0; i <= n; i++) {
		cum += h->bucket[i];
		if (i < n)
			mx_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels,
				  *labels ? "," : "", bounds[i], (unsigned long long)cum);
		else
			mx_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels,
				  *labels ? "," : "", (unsigned long long)cum);
	}
	mx_printf(b, "%s_sum%s%s%s %.9g\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
		  h->sum);
	mx_printf(b, "%s_count%s%s%s %llu\n", name, *labels ? "{" : "", labels,
		  *labels ? "}" : "", (unsigned long long)h->count);
}
