// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* What probes read back: the HTTP status line and the agent's reply (states and weights). */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "probe.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int http_status_parse(const char *buf, size_t len, int *status)
{
	static const char head[] = "HTTP/0.0 ";	/* 0 stands for any digit */
	int st = 0;
	size_t i;

	for (i = 0; i < sizeof(head) - 1; i++) {
		if (i >= len)
			return -EAGAIN;
		if (head[i] == '0' ? !is_digit(buf[i]) : buf[i] != head[i])
			return -EINVAL;
	}
	for (; i < 12; i++) {
		if (i >= len)
			return -EAGAIN;
		if (!is_digit(buf[i]))
			return -EINVAL;
		st = st * 10 + buf[i] - '0';
	}
	if (st < 100 || st > 599)
		return -EINVAL;
	if (i >= len)
		return -EAGAIN;
	if (buf[i] == ' ') {
		/* reason-phrase = *( HTAB / SP / VCHAR / obs-text ) */
		for (i++; i < len && buf[i] != '\r' && buf[i] != '\n'; i++) {
			unsigned char c = buf[i];

			if (c != '\t' && (c < 0x20 || c == 0x7f))
				return -EINVAL;
		}
		if (i >= len)
			return -EAGAIN;
	}
	if (buf[i] == '\r') {
		if (++i >= len)
			return -EAGAIN;
	}
	if (buf[i] != '\n')
		return -EINVAL;
	*status = st;
	return 0;
}

static bool agent_sep(char c)
{
	return c == ' ' || c == '\t' || c == ',';
}

static int agent_word(const char *w, size_t len, struct agent_reply *r)
{
	static const struct { const char *name; enum agent_state state; } words[] = {
		{ "up", AGENT_UP }, { "ready", AGENT_READY }, { "drain", AGENT_DRAIN },
		{ "maint", AGENT_MAINT }, { "down", AGENT_DOWN }, { "fail", AGENT_DOWN },
		{ "stopped", AGENT_DOWN },
	};
	size_t i;

	if (len >= 2 && w[len - 1] == '%') {
		int pct = 0;

		/* at most three digits, no sign: "-5%" and "0x10%" are not percentages */
		if (len > 4)
			return -EINVAL;
		for (i = 0; i < len - 1; i++) {
			if (!is_digit(w[i]))
				return -EINVAL;
			pct = pct * 10 + w[i] - '0';
		}
		if (pct > AGENT_WEIGHT_PCT_MAX)
			return -EINVAL;
		r->weight_pct = pct; /* the last one given counts, as in HAProxy */
		return 0;
	}
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strlen(words[i].name) == len && !strncasecmp(w, words[i].name, len)) {
			/* the enum is ordered from the least to the most restrictive */
			if (words[i].state > r->state)
				r->state = words[i].state;
			return 0;
		}
	}
	return -EINVAL;
}

int agent_parse(const char *line, struct agent_reply *out)
{
	struct agent_reply r = { .weight_pct = -1, .state = AGENT_NONE };
	const char *hash = strchr(line, '#');
	size_t len = hash ? (size_t)(hash - line) : strlen(line), i = 0, words = 0;

	if (hash) {
		const char *s = hash + 1;
		size_t n = strlen(s), o = 0;

		while (n && (s[n - 1] == '\r' || s[n - 1] == '\n' || agent_sep(s[n - 1])))
			n--;
		while (n && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
		/* the reason ends up in logs and JSON: no control characters */
		for (; o < n && o < sizeof(r.reason) - 1; o++)
			r.reason[o] = (unsigned char)s[o] < 0x20 || s[o] == 0x7f ? '?' : s[o];
		r.reason[o] = '\0';
	}
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	while (i < len) {
		size_t start;

		if (agent_sep(line[i])) {
			i++;
			continue;
		}
		for (start = i; i < len && !agent_sep(line[i]); i++)
			;
		if (agent_word(line + start, i - start, &r))
			return -EINVAL;
		words++;
	}
	if (!words)
		return -EINVAL;
	*out = r;
	return 0;
}

const char *agent_state_name(enum agent_state s)
{
	static const char *const names[] = {
		[AGENT_NONE] = "none", [AGENT_UP] = "up", [AGENT_READY] = "ready",
		[AGENT_DRAIN] = "drain", [AGENT_MAINT] = "maint", [AGENT_DOWN] = "down",
	};

	return (unsigned int)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}
