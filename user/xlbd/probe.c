// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Single non-blocking probes (tcp, http, udp, agent) over one epoll fd, and the loop's timers. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#define NSEC_PER_SEC 1000000000ull
#define NSEC_PER_MSEC 1000000ull
#define RUN_EVENTS 256		/* epoll events fetched at a time */
#define RUN_BATCHES 8		/* fetches per prober_run() at most: the daemon's fds get a turn */

enum probe_phase { PH_CONNECT, PH_SEND, PH_READ, PH_DONE };

struct probe {
	struct prober *p;
	struct probe *prev, *next;	/* p->live while running; next links p->dead afterwards */
	struct prober_timer deadline;	/* the timeout, or "now" for a local failure */
	probe_cb cb;
	void *ctx;
	int fd;
	enum probe_type type;
	enum probe_phase phase;
	bool retired;			/* finished or cancelled; freed after prober_run() */
	bool connected;			/* stream: established (a plain close leaves TIME_WAIT) */
	uint16_t expect_lo, expect_hi;
	uint16_t http_status;
	uint64_t start_ns;
	char *sbuf;			/* sent once connected (http, agent), or the datagram */
	size_t slen, soff;
	void *expect;			/* udp: expected reply prefix */
	size_t expect_len;
	char *rbuf;			/* http, agent: what was read so far (NUL-terminated) */
	size_t rlen, rcap;
	char fail[PROBE_DETAIL_MAX];	/* a local failure, reported from the next prober_run() */
	struct agent_reply agent;
};

struct prober {
	int epfd, tfd;
	struct prober_timer **heap;	/* binary min-heap on when_ns */
	size_t n, cap;
	uint64_t tfd_when;		/* the expiry the timerfd holds; 0 when disarmed or fired */
	struct probe *live;		/* running probes */
	struct probe *dead;		/* retired in prober_run(): its batch may still name them */
	unsigned int inflight;
	int in_run;
};

uint64_t prober_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* ---------------------------------------------------------------- timers */

static void heap_set(struct prober *p, size_t i, struct prober_timer *t)
{
	p->heap[i] = t;
	t->slot = i + 1;
}

static void sift_up(struct prober *p, size_t i)
{
	struct prober_timer *t = p->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (p->heap[parent]->when_ns <= t->when_ns)
			break;
		heap_set(p, i, p->heap[parent]);
		i = parent;
	}
	heap_set(p, i, t);
}

static void sift_down(struct prober *p, size_t i)
{
	struct prober_timer *t = p->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= p->n)
			break;
		if (c + 1 < p->n && p->heap[c + 1]->when_ns < p->heap[c]->when_ns)
			c++;
		if (t->when_ns <= p->heap[c]->when_ns)
			break;
		heap_set(p, i, p->heap[c]);
		i = c;
	}
	heap_set(p, i, t);
}

static void heap_remove(struct prober *p, struct prober_timer *t)
{
	size_t i = t->slot - 1;
	struct prober_timer *last = p->heap[--p->n];

	t->slot = 0;
	if (i == p->n)
		return;
	heap_set(p, i, last);
	sift_down(p, i);
	if (last->slot == i + 1)
		sift_up(p, i);
}

/* Point the timerfd at the earliest timer; a syscall only when that changed. */
static void tfd_program(struct prober *p)
{
	uint64_t when = p->n ? p->heap[0]->when_ns : 0;
	struct itimerspec its = {};

	if (when == p->tfd_when)
		return;
	its.it_value.tv_sec = when / NSEC_PER_SEC;
	its.it_value.tv_nsec = when % NSEC_PER_SEC;
	if (!timerfd_settime(p->tfd, TFD_TIMER_ABSTIME, &its, NULL))
		p->tfd_when = when;
}

/* Room for one more timer, so that arming never fails (a probe without deadline would hang). */
static int heap_reserve(struct prober *p)
{
	struct prober_timer **h;
	size_t cap;

	if (p->n < p->cap)
		return 0;
	cap = p->cap ? p->cap * 2 : 64;
	h = realloc(p->heap, cap * sizeof(*h));
	if (!h)
		return -ENOMEM;
	p->heap = h;
	p->cap = cap;
	return 0;
}

int prober_timer_arm(struct prober *p, struct prober_timer *t, uint64_t when_ns)
{
	if (!t->slot && heap_reserve(p))
		return -ENOMEM;
	/* 0 would disarm the timerfd: the earliest expiry there is, is 1 */
	t->when_ns = when_ns ? when_ns : 1;
	if (t->slot) {
		sift_down(p, t->slot - 1);
		sift_up(p, t->slot - 1);
	} else {
		heap_set(p, p->n++, t);
		sift_up(p, p->n - 1);
	}
	/* inside prober_run() the timerfd is set once, at its end */
	if (!p->in_run && t->slot == 1)
		tfd_program(p);
	return 0;
}

void prober_timer_cancel(struct prober *p, struct prober_timer *t)
{
	/* the timerfd may still fire for it: prober_run() then finds nothing due and re-aims */
	if (t->slot)
		heap_remove(p, t);
}

void prober_expire(struct prober *p, uint64_t now_ns)
{
	size_t budget = p->n; /* a callback re-arming for the past cannot hold the loop */

	while (budget-- && p->n && p->heap[0]->when_ns <= now_ns) {
		struct prober_timer *t = p->heap[0];

		heap_remove(p, t);
		t->fn(t);
	}
}

/* ---------------------------------------------------------------- parsers */

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

/* ---------------------------------------------------------------- probes */

static bool str_ok(const char *s, size_t max, bool blank_ok)
{
	size_t n;

	for (n = 0; s[n]; n++) {
		unsigned char c = s[n];

		if (n >= max || c < 0x20 || c == 0x7f || (!blank_ok && c == ' '))
			return false;
	}
	return n > 0;
}

int probe_target_check(const struct probe_target *t)
{
	if (t->type < PROBE_TCP || t->type > PROBE_AGENT || !t->port || !t->timeout_ms)
		return -EINVAL;
	if (t->family != XLB_AF_INET && t->family != XLB_AF_INET6)
		return -EINVAL;
	switch (t->type) {
	case PROBE_HTTP:
		/* what goes into the request line and a header must not break them */
		if (t->http_path && (t->http_path[0] != '/' ||
				     !str_ok(t->http_path, PROBE_HTTP_PATH_MAX, false)))
			return -EINVAL;
		if (t->http_host && !str_ok(t->http_host, PROBE_HTTP_HOST_MAX, false))
			return -EINVAL;
		if ((t->expect_lo || t->expect_hi) &&
		    (t->expect_lo < 100 || t->expect_hi > 599 || t->expect_lo > t->expect_hi))
			return -EINVAL;
		break;
	case PROBE_UDP:
		if (t->udp_payload_len > PROBE_UDP_PAYLOAD_MAX ||
		    (t->udp_payload_len && !t->udp_payload))
			return -EINVAL;
		if (t->udp_expect_len > PROBE_UDP_EXPECT_MAX ||
		    (t->udp_expect_len && !t->udp_expect))
			return -EINVAL;
		break;
	case PROBE_AGENT:
		if (t->agent_send && strlen(t->agent_send) > PROBE_AGENT_SEND_MAX)
			return -EINVAL;
		break;
	default:
		break;
	}
	return 0;
}

static socklen_t sockaddr_fill(struct sockaddr_storage *ss, __u8 family, const __be32 addr[4],
			       uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == XLB_AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr, 4);
		return sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, addr, 16);
		return sizeof(*sin6);
	}
}

/* Short words for the errors an operator meets most, strerror() for the rest. */
static void errno_detail(char *buf, size_t len, const char *what, int err)
{
	switch (err) {
	case ECONNREFUSED:
		snprintf(buf, len, "connection refused");
		break;
	case ECONNRESET:
		snprintf(buf, len, "connection reset");
		break;
	case EHOSTUNREACH:
		snprintf(buf, len, "host unreachable");
		break;
	case ENETUNREACH:
		snprintf(buf, len, "network unreachable");
		break;
	default:
		snprintf(buf, len, "%s: %s", what, strerror(err));
		break;
	}
}

static int build_request(struct probe *pr, const struct probe_target *t)
{
	char host[INET6_ADDRSTRLEN + 8], addr[INET6_ADDRSTRLEN];
	const char *path = t->http_path ? t->http_path : "/";
	int n;

	if (!t->http_host) {
		inet_ntop(t->family == XLB_AF_INET ? AF_INET : AF_INET6, t->addr, addr,
			  sizeof(addr));
		snprintf(host, sizeof(host), t->family == XLB_AF_INET ? "%s" : "[%s]", addr);
		if (t->port != 80)
			snprintf(host + strlen(host), sizeof(host) - strlen(host), ":%u", t->port);
	}
	n = asprintf(&pr->sbuf,
		     "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: xlbd-probe\r\n"
		     "Connection: close\r\nAccept: */*\r\n\r\n",
		     path, t->http_host ? t->http_host : host);
	if (n < 0) {
		pr->sbuf = NULL;
		return -ENOMEM;
	}
	pr->slen = n;
	return 0;
}

/* Copy what the probe needs from @t: the target may be gone before the outcome. */
static int probe_prepare(struct probe *pr, const struct probe_target *t)
{
	switch (t->type) {
	case PROBE_HTTP:
		pr->expect_lo = t->expect_lo || t->expect_hi ? t->expect_lo : 200;
		pr->expect_hi = t->expect_lo || t->expect_hi ? t->expect_hi : 399;
		pr->rcap = PROBE_HTTP_READ_MAX;
		if (build_request(pr, t))
			return -ENOMEM;
		break;
	case PROBE_UDP:
		pr->slen = t->udp_payload_len;
		pr->sbuf = malloc(pr->slen + 1);
		if (!pr->sbuf)
			return -ENOMEM;
		if (pr->slen)
			memcpy(pr->sbuf, t->udp_payload, pr->slen);
		pr->expect_len = t->udp_expect_len;
		if (pr->expect_len) {
			pr->expect = malloc(pr->expect_len);
			if (!pr->expect)
				return -ENOMEM;
			memcpy(pr->expect, t->udp_expect, pr->expect_len);
		}
		break;
	case PROBE_AGENT:
		pr->rcap = PROBE_AGENT_LINE_MAX;
		if (t->agent_send && *t->agent_send) {
			pr->sbuf = strdup(t->agent_send);
			if (!pr->sbuf)
				return -ENOMEM;
			pr->slen = strlen(pr->sbuf);
		}
		break;
	default:
		break;
	}
	if (pr->rcap) {
		pr->rbuf = malloc(pr->rcap + 1);
		if (!pr->rbuf)
			return -ENOMEM;
	}
	return 0;
}

static void probe_free(struct probe *pr)
{
	free(pr->sbuf);
	free(pr->expect);
	free(pr->rbuf);
	free(pr);
}

static void probe_close(struct probe *pr)
{
	/*
	 * Reset instead of FIN: the prober closes first, and 25,000 probes a second would
	 * otherwise leave their sockets in TIME_WAIT for a minute each.
	 */
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (pr->fd < 0)
		return;
	if (pr->connected)
		setsockopt(pr->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(pr->fd); /* also removes it from the epoll set */
	pr->fd = -1;
}

/* Off the live list; freed now, or at the end of prober_run() if events of its batch name it. */
static void probe_retire(struct probe *pr)
{
	struct prober *p = pr->p;

	probe_close(pr);
	prober_timer_cancel(p, &pr->deadline);
	if (pr->prev)
		pr->prev->next = pr->next;
	else
		p->live = pr->next;
	if (pr->next)
		pr->next->prev = pr->prev;
	p->inflight--;
	pr->retired = true;
	pr->phase = PH_DONE;
	if (p->in_run) {
		pr->next = p->dead;
		p->dead = pr;
	} else {
		probe_free(pr);
	}
}

__attribute__((format(printf, 3, 4)))
static void probe_finish(struct probe *pr, bool ok, const char *fmt, ...)
{
	struct probe_result r = { .ok = ok, .http_status = pr->http_status };
	uint64_t now = prober_now_ns();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r.detail, sizeof(r.detail), fmt, ap);
	va_end(ap);
	r.latency_us = (now - pr->start_ns) / 1000;
	if (ok && pr->type == PROBE_AGENT)
		r.agent = pr->agent;
	/* retired before the callback: a prober_cancel() of it from there is then harmless */
	probe_retire(pr);
	pr->cb(pr->ctx, &r);
}

/* A local failure becomes an outcome on the next prober_run(), never inside prober_start(). */
static void probe_fail_later(struct probe *pr, const char *what, int err)
{
	errno_detail(pr->fail, sizeof(pr->fail), what, err);
	probe_close(pr);
	prober_timer_arm(pr->p, &pr->deadline, 1);
}

static void probe_deadline(struct prober_timer *t)
{
	struct probe *pr = container_of(t, struct probe, deadline);

	if (pr->fail[0])
		probe_finish(pr, false, "%s", pr->fail);
	else if (pr->phase == PH_CONNECT)
		probe_finish(pr, false, "timeout connecting");
	else
		probe_finish(pr, false, "timeout waiting for the reply");
}

static void probe_open(struct probe *pr, const struct probe_target *t)
{
	int af = t->family == XLB_AF_INET ? AF_INET : AF_INET6, one = 1;
	bool udp = t->type == PROBE_UDP;
	struct epoll_event ev = { .data.ptr = pr };
	struct sockaddr_storage ss;
	socklen_t sl;

	pr->fd = socket(af, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (pr->fd < 0)
		return probe_fail_later(pr, "socket", errno);
	if (t->has_source) {
		/* the port is chosen at connect(), per destination: no ephemeral port shortage */
		if (!udp)
			setsockopt(pr->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		sl = sockaddr_fill(&ss, t->family, t->source, 0);
		if (bind(pr->fd, (struct sockaddr *)&ss, sl))
			return probe_fail_later(pr, "bind", errno);
	}
	sl = sockaddr_fill(&ss, t->family, t->addr, t->port);
	if (connect(pr->fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS)
		return probe_fail_later(pr, "connect", errno);
	if (udp) {
		if (send(pr->fd, pr->sbuf, pr->slen, MSG_DONTWAIT) < 0)
			return probe_fail_later(pr, "send", errno);
		pr->phase = PH_READ;
		ev.events = EPOLLIN;
	} else {
		pr->phase = PH_CONNECT;
		ev.events = EPOLLOUT;
	}
	if (epoll_ctl(pr->p->epfd, EPOLL_CTL_ADD, pr->fd, &ev))
		return probe_fail_later(pr, "epoll", errno);
}

int prober_start(struct prober *p, const struct probe_target *t, probe_cb cb, void *ctx,
		 struct probe **out)
{
	struct probe *pr;
	int err;

	if (!cb)
		return -EINVAL;
	err = probe_target_check(t);
	if (err)
		return err;
	pr = calloc(1, sizeof(*pr));
	if (!pr)
		return -ENOMEM;
	pr->p = p;
	pr->cb = cb;
	pr->ctx = ctx;
	pr->fd = -1;
	pr->type = t->type;
	pr->deadline.fn = probe_deadline;
	pr->start_ns = prober_now_ns();
	err = probe_prepare(pr, t);
	/* armed before the socket exists: a local failure only moves it (no allocation) */
	if (!err)
		err = prober_timer_arm(p, &pr->deadline,
				       pr->start_ns + t->timeout_ms * NSEC_PER_MSEC);
	if (err) {
		probe_free(pr);
		return err;
	}
	pr->next = p->live;
	if (p->live)
		p->live->prev = pr;
	p->live = pr;
	p->inflight++;
	probe_open(pr, t);
	if (out)
		*out = pr;
	return 0;
}

void prober_cancel(struct probe *pr)
{
	if (pr && !pr->retired)
		probe_retire(pr);
}

static void probe_connected(struct probe *pr)
{
	pr->connected = true;
	if (pr->type == PROBE_TCP)
		return probe_finish(pr, true, "connected");
	pr->phase = PH_SEND; /* even with nothing to send: it moves the socket to EPOLLIN */
}

/* Send what is left; then wait for the reply. */
static void probe_send(struct probe *pr)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = pr };

	while (pr->soff < pr->slen) {
		ssize_t n = send(pr->fd, pr->sbuf + pr->soff, pr->slen - pr->soff,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			char buf[PROBE_DETAIL_MAX];

			if (errno == EAGAIN || errno == EINTR)
				return;
			errno_detail(buf, sizeof(buf), "send", errno);
			return probe_finish(pr, false, "%s", buf);
		}
		pr->soff += n;
	}
	pr->phase = PH_READ;
	if (epoll_ctl(pr->p->epfd, EPOLL_CTL_MOD, pr->fd, &ev))
		probe_finish(pr, false, "epoll: %s", strerror(errno));
}

static void probe_read_udp(struct probe *pr)
{
	char buf[PROBE_UDP_EXPECT_MAX];
	char detail[PROBE_DETAIL_MAX];
	ssize_t n;

	n = recv(pr->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		/* an ICMP port unreachable shows up here as ECONNREFUSED */
		errno_detail(detail, sizeof(detail), "recv", errno);
		return probe_finish(pr, false, "%s", detail);
	}
	if (pr->expect_len &&
	    ((size_t)n < pr->expect_len || memcmp(buf, pr->expect, pr->expect_len)))
		return probe_finish(pr, false, "reply mismatch (%zd bytes)", n);
	probe_finish(pr, true, "udp reply (%zd bytes)", n);
}

/* The agent's line is complete: at its newline, or at the end of the stream. */
static void probe_agent_line(struct probe *pr, size_t len)
{
	char shown[48];
	size_t i;

	pr->rbuf[len] = '\0';
	for (i = 0; i < len && i < sizeof(shown) - 1; i++)
		shown[i] = (unsigned char)pr->rbuf[i] < 0x20 ? ' ' : pr->rbuf[i];
	shown[i] = '\0';
	if (agent_parse(pr->rbuf, &pr->agent))
		return probe_finish(pr, false, "malformed agent reply \"%s\"", shown);
	probe_finish(pr, true, "agent \"%s\"", shown);
}

static void probe_read_stream(struct probe *pr)
{
	char detail[PROBE_DETAIL_MAX];
	bool eof = false;
	int status, err;
	char *nl;

	while (pr->rlen < pr->rcap) {
		ssize_t n = recv(pr->fd, pr->rbuf + pr->rlen, pr->rcap - pr->rlen, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			errno_detail(detail, sizeof(detail), "recv", errno);
			return probe_finish(pr, false, "%s", detail);
		}
		if (!n) {
			eof = true;
			break;
		}
		pr->rlen += n;
		if (pr->type == PROBE_AGENT && memchr(pr->rbuf + pr->rlen - n, '\n', n))
			break;
		if (pr->type == PROBE_HTTP &&
		    http_status_parse(pr->rbuf, pr->rlen, &status) != -EAGAIN)
			break;
	}
	if (pr->type == PROBE_AGENT) {
		nl = memchr(pr->rbuf, '\n', pr->rlen);
		if (nl)
			return probe_agent_line(pr, nl - pr->rbuf);
		if (pr->rlen >= pr->rcap)
			return probe_finish(pr, false, "agent reply longer than %u bytes",
					    PROBE_AGENT_LINE_MAX);
		if (eof && pr->rlen)
			return probe_agent_line(pr, pr->rlen);
	} else {
		err = http_status_parse(pr->rbuf, pr->rlen, &status);
		if (!err) {
			pr->http_status = status;
			/* the rest of the reply is not read: the status line was the question */
			return probe_finish(pr, status >= pr->expect_lo && status <= pr->expect_hi,
					    "http status %d", status);
		}
		if (err == -EINVAL)
			return probe_finish(pr, false, "malformed http status line");
		if (pr->rlen >= pr->rcap)
			return probe_finish(pr, false, "no http status line in the first %u bytes",
					    PROBE_HTTP_READ_MAX);
		if (eof && pr->rlen)
			return probe_finish(pr, false, "connection closed in the status line");
	}
	if (eof)
		probe_finish(pr, false, "connection closed without reply");
}

static void probe_event(struct probe *pr, uint32_t events)
{
	if (pr->phase == PH_CONNECT) {
		char detail[PROBE_DETAIL_MAX];
		socklen_t len = sizeof(int);
		int err = 0;

		if (getsockopt(pr->fd, SOL_SOCKET, SO_ERROR, &err, &len))
			err = errno;
		if (!err && (events & (EPOLLERR | EPOLLHUP)))
			err = ECONNRESET;
		if (err) {
			errno_detail(detail, sizeof(detail), "connect", err);
			return probe_finish(pr, false, "%s", detail);
		}
		if (!(events & EPOLLOUT))
			return;
		probe_connected(pr);
		if (pr->retired)
			return;
	}
	if (pr->phase == PH_SEND) {
		probe_send(pr);
		return; /* the reply comes with a later EPOLLIN */
	}
	if (pr->phase == PH_READ) {
		if (pr->type == PROBE_UDP)
			probe_read_udp(pr);
		else if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			probe_read_stream(pr);
	}
}

/* ---------------------------------------------------------------- the engine */

struct prober *prober_new(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL }; /* NULL: the timerfd */
	struct prober *p;
	int err;

	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	p->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (p->epfd < 0 || p->tfd < 0 || epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->tfd, &ev))
		goto err;
	return p;
err:
	err = errno;
	if (p->epfd >= 0)
		close(p->epfd);
	if (p->tfd >= 0)
		close(p->tfd);
	free(p);
	errno = err;
	return NULL;
}

int prober_fd(const struct prober *p)
{
	return p->epfd;
}

unsigned int prober_inflight(const struct prober *p)
{
	return p->inflight;
}

static void free_dead(struct prober *p)
{
	while (p->dead) {
		struct probe *pr = p->dead;

		p->dead = pr->next;
		probe_free(pr);
	}
}

void prober_run(struct prober *p)
{
	struct epoll_event evs[RUN_EVENTS];
	int b, i, n;

	p->in_run++;
	for (b = 0; b < RUN_BATCHES; b++) {
		n = epoll_wait(p->epfd, evs, RUN_EVENTS, 0);
		for (i = 0; i < n; i++) {
			struct probe *pr = evs[i].data.ptr;

			if (!pr) {
				uint64_t ticks;

				if (read(p->tfd, &ticks, sizeof(ticks)) == sizeof(ticks))
					p->tfd_when = 0; /* fired: the next tfd_program() sets it */
				continue;
			}
			/* retired by an earlier callback: kept in p->dead until the end */
			if (!pr->retired)
				probe_event(pr, evs[i].events);
		}
		if (n < RUN_EVENTS)
			break;
	}
	prober_expire(p, prober_now_ns());
	if (--p->in_run)
		return;
	free_dead(p);
	/* timers left due by the expiry budget: a past expiry keeps the fd readable */
	tfd_program(p);
}

void prober_free(struct prober *p)
{
	if (!p)
		return;
	while (p->live)
		probe_retire(p->live);
	free_dead(p);
	close(p->epfd);
	close(p->tfd);
	free(p->heap);
	free(p);
}
