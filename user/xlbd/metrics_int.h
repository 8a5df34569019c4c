/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the files of xlbd's metrics have in common (metrics.c: the counters, histograms and
 * metric families, the /metrics body; metrics_text.c: the text exposition writer;
 * metrics_http.c: the HTTP server). Internal names are prefixed mx_.
 */
#ifndef XLBD_METRICS_INT_H
#define XLBD_METRICS_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "xlbd.h"

#define NBOUNDS_MAX 16

struct hist {
	__u64 bucket[NBOUNDS_MAX + 1];	/* not cumulative; [nbounds] is above the last bound */
	__u64 count;
	double sum;
};

/* Probe kinds of the latency histogram: the check types, and the agent. */
enum { PK_AGENT = 0, PK_TCP = XLB_CHECK_TCP, PK_HTTP = XLB_CHECK_HTTP, PK_UDP = XLB_CHECK_UDP,
       PK__MAX };

struct xlbd_metrics {
	struct MHD_Daemon *mhd;
	int epfd;			/* MHD's own epoll fd, in the daemon's epoll */
	struct prober_timer timer;	/* MHD's next timeout (idle clients, pending work) */
	struct xlbd *d;
	char listen[64];		/* the address it serves on, as configured */
	double start_time;		/* CLOCK_REALTIME seconds of the daemon's start */
	struct hist probe[PK__MAX][2];	/* [kind][ok] */
	struct hist rebuild;
	double last_render_s;		/* time the previous /metrics body took to build */
	__u64 scrapes;
};

/* ---- the text exposition (metrics_text.c) */

/* A body being written; on a failed allocation @oom is set and later writes do nothing. */
struct mx_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

/* Room for @n more bytes: false when out of memory. */
bool mx_room(struct mx_buf *b, size_t n);
void mx_put(struct mx_buf *b, const char *s, size_t n);
void mx_str(struct mx_buf *b, const char *s);
void mx_printf(struct mx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* " 1234\n": the samples of 10,000 backends are mostly this, so no printf for them. */
void mx_u64_nl(struct mx_buf *b, __u64 v);
/* A label value, escaped as the text format wants: backslash, double quote, newline. */
void mx_label_value(struct mx_buf *b, const char *s);
/* A family's "# HELP" and "# TYPE" lines. */
void mx_family(struct mx_buf *b, const char *name, const char *type, const char *help);
/* One sample: name, the prepared label set ("{...}" or ""), the value. */
void mx_sample(struct mx_buf *b, const char *name, const char *labels, size_t llen, __u64 v);
/* A histogram of @n bounds: cumulative buckets, +Inf, _sum and _count (@labels: "k=\"v\""). */
void mx_histogram(struct mx_buf *b, const char *name, const char *labels, const struct hist *h,
		  const double *bounds, size_t n);

#endif
