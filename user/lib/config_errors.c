// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The error list of config validation: one line "path: message" per problem found. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "rules.h"

void xlb_cfg_errors_add(struct xlb_cfg_errors *e, const char *path, const char *fmt, ...)
{
	char msg[512], *o;
	size_t need, i, len;
	va_list ap;
	char *t;
	int n;

	n = snprintf(msg, sizeof(msg), "%s%s", path && *path ? path : "", path && *path ? ": " : "");
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	/* a message cut short may end inside a character: the API sends it as a JSON string */
	xlb_utf8_clean(msg);
	len = strlen(msg);
	/* one line per error: a control character that came from the input is written \xNN */
	need = e->len + 4 * len + 2;
	t = realloc(e->text, need);
	if (!t)
		return;
	e->text = t;
	o = t + e->len;
	for (i = 0; i < len; i++) {
		unsigned char ch = msg[i];

		if (ch < 0x20 || ch == 0x7f)
			o += sprintf(o, "\\x%02x", ch);
		else
			*o++ = ch;
	}
	*o++ = '\n';
	*o = '\0';
	e->len = o - t;
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
	xlb_utf8_clean(buf);
	return buf;
}
