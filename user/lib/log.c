// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The one logging function of libxlb, xlbd and xlb: stderr with a timestamp, or syslog. */
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
