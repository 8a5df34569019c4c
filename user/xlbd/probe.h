/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The probe engine of xlbd: single non-blocking probe attempts and the loop's one timer heap. */
#ifndef XLBD_PROBE_H
#define XLBD_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "xlb_abi.h"

#define PROBE_DETAIL_MAX 96
#define PROBE_HTTP_READ_MAX 4096	/* the HTTP status line must end within this many bytes */
#define PROBE_AGENT_LINE_MAX 256	/* an agent line (newline included) fits in this */
#define PROBE_UDP_PAYLOAD_MAX 65507	/* largest IPv4 UDP payload */
#define PROBE_UDP_EXPECT_MAX 1024
#define PROBE_HTTP_PATH_MAX 1024
#define PROBE_HTTP_HOST_MAX 255
#define PROBE_AGENT_SEND_MAX 1024
/*
 * Highest "N%" an agent may send. HAProxy accepts more than 100% (a lightly loaded server may
 * ask for more than its configured share) and caps the resulting weight at 256; agents written
 * for it may therefore send up to 256%. Whoever computes the effective weight clamps it.
 */
#define AGENT_WEIGHT_PCT_MAX 256

enum probe_type { PROBE_TCP = 1, PROBE_HTTP, PROBE_UDP, PROBE_AGENT };

/*
 * What to probe and how. prober_start() copies everything it needs, strings and buffers
 * included: the target may be freed once it returns.
 */
struct probe_target {
	enum probe_type type;
	__u8 family;			/* XLB_AF_INET / XLB_AF_INET6 */
	__be32 addr[4];			/* IPv4 in addr[0] */
	uint16_t port;			/* host order, not 0 */
	bool has_source;
	__be32 source[4];		/* bind() the probe socket here (same family as addr) */
	uint32_t timeout_ms;		/* whole attempt, connect included; not 0 */
	const char *http_path;		/* http: "/" when NULL; must start with '/', no blanks */
	const char *http_host;		/* http: Host header; the address (and port) when NULL */
	uint16_t expect_lo, expect_hi;	/* http: accepted status range; 0/0 means 200..399 */
	const void *udp_payload;	/* udp: the datagram sent (may be empty) */
	size_t udp_payload_len;
	const void *udp_expect;		/* udp: the reply must start with these bytes */
	size_t udp_expect_len;		/* 0: any reply */
	const char *agent_send;		/* agent: sent as is after connecting, when not NULL */
};

/*
 * Agent states, the words of the HAProxy agent-check convention. UP and READY both mean
 * usable ("up" speaks of health, "ready" of administrative state; xlb keeps one state).
 */
enum agent_state { AGENT_NONE = 0, AGENT_UP, AGENT_READY, AGENT_DRAIN, AGENT_MAINT, AGENT_DOWN };

struct agent_reply {
	int weight_pct;			/* 0..AGENT_WEIGHT_PCT_MAX, -1 when the line gave none */
	enum agent_state state;		/* AGENT_NONE when the line gave none */
	char reason[64];		/* text after '#', "" when none */
};

struct probe_result {
	bool ok;
	uint16_t http_status;		/* http: the status received, 0 when none */
	uint32_t latency_us;		/* start to outcome, CLOCK_MONOTONIC */
	char detail[PROBE_DETAIL_MAX];	/* "connected", "connection refused", "timeout ...", ... */
	struct agent_reply agent;	/* agent only, valid when ok */
};

struct prober;
struct probe;

/* Called exactly once per probe, from prober_run(), unless the probe was cancelled before. */
typedef void (*probe_cb)(void *ctx, const struct probe_result *r);

/*
 * A timer of the prober's heap, embedded in its owner (container_of). Probe deadlines and the
 * health checkers' schedules share the heap, so the whole loop has one timer structure and one
 * timerfd. @fn runs from prober_run(), after the timer was removed from the heap; it may arm the
 * timer again.
 */
struct prober_timer {
	uint64_t when_ns;		/* CLOCK_MONOTONIC */
	uint32_t slot;			/* heap index + 1; 0 when not armed */
	void (*fn)(struct prober_timer *t);
};

/**
 * prober_new() - an engine with its own epoll fd (the sockets) and timerfd (the heap's earliest
 * deadline). Returns NULL with errno set.
 */
struct prober *prober_new(void);
/*
 * Closes every socket of the probes still running (their callbacks are not called). Free the
 * owners of armed timers (health checkers) first: their timers live in this heap.
 */
void prober_free(struct prober *p);

/** prober_fd() - the fd to add to the daemon's epoll (EPOLLIN): readable when work is due. */
int prober_fd(const struct prober *p);

/**
 * prober_start() - start one probe of @t; @cb(@ctx, result) follows from a later prober_run(),
 * never from inside prober_start(). Local failures (no fd left, no route) are outcomes too: a
 * failed probe with a detail such as "socket: Too many open files". *@out (when @out is not
 * NULL) is the handle for prober_cancel(), valid until @cb is called.
 * Returns 0, -EINVAL for a bad target, or -ENOMEM.
 */
int prober_start(struct prober *p, const struct probe_target *t, probe_cb cb, void *ctx,
		 struct probe **out);
/** prober_cancel() - stop a running probe: its socket is closed and @cb is never called. */
void prober_cancel(struct probe *pr);

/**
 * prober_run() - handle the sockets that are ready and the timers that are due; never blocks.
 * Work left over (a bounded number of events per call keeps the daemon's other fds served)
 * keeps prober_fd() readable.
 */
void prober_run(struct prober *p);

/* 0 or -EINVAL: what prober_start() accepts (config validation can ask the same question). */
int probe_target_check(const struct probe_target *t);

/* Number of probes started and not yet finished or cancelled. */
unsigned int prober_inflight(const struct prober *p);

/**
 * prober_timer_arm() - arm (or move) @t to fire at @when_ns. Returns 0, or -ENOMEM when the heap
 * cannot grow (moving an armed timer never fails). Cancel is a no-op on an idle timer.
 */
int prober_timer_arm(struct prober *p, struct prober_timer *t, uint64_t when_ns);
void prober_timer_cancel(struct prober *p, struct prober_timer *t);
static inline bool prober_timer_armed(const struct prober_timer *t)
{
	return t->slot != 0;
}
/*
 * Fire the timers due at @now_ns, earliest first (prober_run() passes the clock; tests pass a
 * chosen time). At most as many timers fire as the heap held on entry, so a callback that re-arms
 * for the past cannot hold the loop; the rest fire on the next call (prober_run() leaves its fd
 * readable for them).
 */
void prober_expire(struct prober *p, uint64_t now_ns);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t prober_now_ns(void);

/**
 * agent_parse() - parse one agent line (without its newline; a trailing CR is ignored).
 *
 * Words in any order, separated by spaces, tabs or commas, case-insensitive: "N%" (0..256),
 * "up", "ready", "drain", "maint", "down", "fail", "stopped"; everything after the first '#' is
 * the reason. Several state words: the most restrictive wins (down > maint > drain > ready >
 * up), so "up drain" drains. A line with no word, or with an unknown word, is malformed.
 * Pure. Returns 0 or -EINVAL.
 */
int agent_parse(const char *line, struct agent_reply *out);
const char *agent_state_name(enum agent_state s);

/**
 * http_status_parse() - check the start of an HTTP reply (@len bytes of @buf) for a complete,
 * valid status line: "HTTP/" DIGIT "." DIGIT SP 3DIGIT [SP reason] CRLF (a bare LF is accepted,
 * as RFC 9112 allows). Returns 0 with *@status set, -EAGAIN when what is there is a valid
 * beginning without the line end, -EINVAL when it cannot become a valid status line.
 */
int http_status_parse(const char *buf, size_t len, int *status);

#endif /* XLBD_PROBE_H */
