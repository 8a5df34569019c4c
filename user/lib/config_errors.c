// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The error list of config validation: one line "path: message" per problem found. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

void xlb_cfg_errors_add(struct xlb_cfg_errors *e, const char *path, const char *fmt, ...)
{
	char msg[512];
	size_t need;
	va_list ap;
	char *t;
	int n;

	n = snprintf(msg, sizeof(msg), "%s%s", path && *path ? path : "", path && *path ? ": " : "");
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	need = e->len + strlen(msg) + 2;
	t = realloc(e->text, need);
	if (!t)
		return;
	e->text = t;
	e->len += sprintf(e->text + e->len, "%s\n", msg);
	e->count++;
}

void xlb_cfg_errors_free(struct xlb_cfg_errors *e)
{
	free(e->text);
	e->text = NULL;
	e->len = 0;
	e->count = 0;
}

const char *xlb_cfg_errors_first(const struct xlb_cfg_errors *e, char *buf, size_t len)
{
	size_t n;

	if (!len)
		return buf;
	buf[0] = '\0';
	if (!e->text)
		return buf;
	n = strcspn(e->text, "\n");
	if (n >= len)
		n = len - 1;
	memcpy(buf, e->text, n);
	buf[n] = '\0';
	return buf;
}
