// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlbd API: replies written as text (large views), every string and value encoded by jansson,
 * so that the bytes are those json_dumps(JSON_COMPACT) gives for the same tree.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

void api_text_put(struct api_text *t, const char *s, size_t n)
{
	if (t->oom)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		char *b;

		while (cap < t->len + n + 1)
			cap *= 2;
		b = realloc(t->buf, cap);
		if (!b) {
			t->oom = true;
			return;
		}
		t->buf = b;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

void api_text_puts(struct api_text *t, const char *s)
{
	api_text_put(t, s, strlen(s));
}

void api_text_printf(struct api_text *t, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->oom = true;
	} else if ((size_t)n < sizeof(small)) {
		api_text_put(t, small, n);
	} else {
		char *big = malloc(n + 1);

		if (!big) {
			t->oom = true;
			return;
		}
		va_start(ap, fmt);
		vsnprintf(big, n + 1, fmt, ap);
		va_end(ap);
		api_text_put(t, big, n);
		free(big);
	}
}

void api_text_int(struct api_text *t, json_int_t v)
{
	char buf[24], *p = buf + sizeof(buf);
	/* as unsigned: the most negative value has no positive counterpart */
	unsigned long long u = v < 0 ? -(unsigned long long)v : (unsigned long long)v;

	do
		*--p = '0' + u % 10;
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	api_text_put(t, p, buf + sizeof(buf) - p);
}

static int dump_to_text(const char *buf, size_t size, void *data)
{
	struct api_text *t = data;

	api_text_put(t, buf, size);
	return t->oom ? -1 : 0;
}

void api_text_json(struct api_text *t, const json_t *v)
{
	if (!v || json_dump_callback(v, dump_to_text, t, JSON_COMPACT | JSON_ENCODE_ANY))
		t->oom = true;
}

void api_text_string(struct api_text *t, const char *s)
{
	json_t *j = json_string(s);

	api_text_json(t, j);
	json_decref(j);
}

/* The names of the daemon's fixed tables (health, why): encoded once, found by address. */
#define NAMES_MAX 64

void api_text_name(struct api_text *t, const char *name)
{
	static struct {
		const char *name;
		char *json;
	} enc[NAMES_MAX];
	static size_t n;
	size_t i;

	for (i = 0; i < n; i++)
		if (enc[i].name == name)
			return api_text_puts(t, enc[i].json);
	if (n < NAMES_MAX) {
		json_t *j = json_string(name);
		char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

		json_decref(j);
		if (s) {
			enc[n].name = name;
			enc[n++].json = s;
			return api_text_puts(t, s);
		}
	}
	api_text_string(t, name);
}

char *api_json_open(const json_t *o, size_t *len)
{
	char *s = json_dumps(o, JSON_COMPACT);
	size_t n = s ? strlen(s) : 0;

	if (n < 2 || s[n - 1] != '}') {
		free(s);
		return NULL;
	}
	s[--n] = '\0';
	if (len)
		*len = n;
	return s;
}
