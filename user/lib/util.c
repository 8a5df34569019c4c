// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libxlb helpers shared by xlbd and xlb: address and MAC parsing, one logging function. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "xlb.h"

static int log_level = XLB_LOG_INFO;
static bool log_syslog;

void xlb_set_log_level(int level)
{
	log_level = level;
}

void xlb_set_log_syslog(bool on)
{
	if (on && !log_syslog)
		openlog("xlbd", LOG_PID, LOG_DAEMON);
	log_syslog = on;
}

void xlb_log(int level, const char *fmt, ...)
{
	static const char *const names[] = { "warn", "info", "debug" };
	static const int prio[] = { LOG_WARNING, LOG_INFO, LOG_DEBUG };
	va_list ap;

	if (level > log_level || level < 0)
		return;
	if (level > XLB_LOG_DEBUG)
		level = XLB_LOG_DEBUG;
	va_start(ap, fmt);
	if (log_syslog) {
		vsyslog(prio[level], fmt, ap);
	} else {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ %s: ", stamp, ts.tv_nsec / 1000000, names[level]);
		vfprintf(stderr, fmt, ap);
		if (!*fmt || fmt[strlen(fmt) - 1] != '\n')
			fputc('\n', stderr);
	}
	va_end(ap);
}

/**
 * xlb_addr_parse() - parse a bare IPv4 or IPv6 address (no brackets, no port).
 * @addr receives four words: IPv4 in addr[0] and zeros, or the 16 IPv6 bytes.
 */
int xlb_addr_parse(const char *s, __be32 addr[4], __u8 *family)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (!s || !*s)
		return -EINVAL;
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, &a4) == 1) {
		addr[0] = a4.s_addr;
		*family = XLB_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6) == 1) {
		/* An IPv4-mapped IPv6 address is still an IPv6 key: say so rather than guess. */
		memcpy(addr, &a6, 16);
		*family = XLB_AF_INET6;
		return 0;
	}
	return -EINVAL;
}

const char *xlb_addr_format(const __be32 addr[4], __u8 family, char *buf, size_t len)
{
	if (!inet_ntop(family == XLB_AF_INET6 ? AF_INET6 : AF_INET, addr, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

int xlb_mac_parse(const char *s, __u8 mac[6])
{
	unsigned int b[6];
	char tail;
	int i;

	if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
			 &tail) != 6)
		return -EINVAL;
	if (strlen(s) != 17)
		return -EINVAL;
	for (i = 0; i < 6; i++)
		mac[i] = b[i];
	return 0;
}
