// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Single non-blocking probes (tcp, http, udp, agent): their sockets, requests and replies. */
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
#include <unistd.h>

#include "probe_impl.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

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

void probe_free(struct probe *pr)
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
void probe_retire(struct probe *pr)
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

void probe_event(struct probe *pr, uint32_t events)
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
