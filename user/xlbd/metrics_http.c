// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlbd's metrics server: libmicrohttpd driven by the event loop (no thread), serving the body
 * of metrics_render() at /metrics; its listening socket, timer, reload and stop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <microhttpd.h>

#include "metrics_int.h"

#define METRICS_CONN_MAX 32		/* HTTP connections at once; more wait in the backlog */
#define METRICS_CONN_TIMEOUT_S 10	/* a client silent this long is dropped (stalled, slow) */
#define METRICS_TICK_MS 500		/* MHD_run() at least this often (see metrics_arm()) */
#define METRICS_CTYPE "text/plain; version=0.0.4; charset=utf-8"

static const char index_html[] =
	"<!DOCTYPE html>\n<html><head><title>xlbd</title></head><body>\n"
	"<h1>xlbd " XLB_VERSION "</h1>\n"
	"<p><a href=\"/metrics\">/metrics</a>: Prometheus text format 0.0.4</p>\n"
	"</body></html>\n";

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, const char *ctype,
			     char *body, size_t len, bool owned)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, owned ? MHD_RESPMEM_MUST_FREE :
								MHD_RESPMEM_PERSISTENT);
	if (!r) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct xlbd *d = cls;
	static char nf[] = "not found: try /metrics\n", na[] = "only GET and HEAD\n";
	static char oom[] = "out of memory\n";
	char *body;
	size_t len;

	(void)version, (void)upload, (void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		*upload_size = 0; /* a body is not read: the connection closes after the reply */
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", na, strlen(na), false);
	}
	if (!strcmp(url, "/"))
		return reply(conn, MHD_HTTP_OK, "text/html; charset=utf-8", (char *)index_html,
			     strlen(index_html), false);
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", nf, strlen(nf), false);
	if (metrics_render(d, &body, &len))
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", oom, strlen(oom),
			     false);
	return reply(conn, MHD_HTTP_OK, METRICS_CTYPE, body, len, true);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	pr_debug("metrics: %s", msg);
}

/*
 * Arm the timer for MHD's next deadline: 0 when it has work left (its epoll inside is
 * edge-triggered). At most METRICS_TICK_MS in any case: MHD takes its listening socket out of its
 * epoll at the connection limit and puts it back only from a later MHD_run(), which no event
 * would otherwise cause once the last connection has gone.
 */
static void metrics_arm(struct xlbd_metrics *m)
{
	MHD_UNSIGNED_LONG_LONG t;

	if (MHD_get_timeout(m->mhd, &t) != MHD_YES || t > METRICS_TICK_MS)
		t = METRICS_TICK_MS;
	prober_timer_arm(m->d->prober, &m->timer, prober_now_ns() + t * 1000000ull);
}

void metrics_run(struct xlbd *d)
{
	struct xlbd_metrics *m = d->metrics;

	if (!m)
		return;
	MHD_run(m->mhd);
	metrics_arm(m);
}

static void metrics_timer(struct prober_timer *t)
{
	struct xlbd_metrics *m = (struct xlbd_metrics *)((char *)t -
							  offsetof(struct xlbd_metrics, timer));

	metrics_run(m->d);
}

/* The listening socket, made here so that a taken or bad address is a clear error. */
static int listen_on(const struct xlb_cfg *cfg)
{
	struct sockaddr_storage ss = {};
	socklen_t sl;
	int fd, one = 1, err;

	if (cfg->metrics_family == XLB_AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, cfg->metrics_addr, 16);
		s6->sin6_port = htons(cfg->metrics_port);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = cfg->metrics_addr[0];
		s4->sin_port = htons(cfg->metrics_port);
		sl = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 64)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int metrics_start(struct xlbd *d)
{
	const struct xlb_cfg *cfg = d->cfg;
	const union MHD_DaemonInfo *info;
	struct xlbd_metrics *m;
	struct timespec now;
	int fd;

	if (!cfg->metrics_listen[0])
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	fd = listen_on(cfg);
	if (fd < 0) {
		pr_warn("metrics_listen %s: cannot listen: %s", cfg->metrics_listen, strerror(-fd));
		free(m);
		return fd;
	}
	m->d = d;
	m->epfd = -1;
	m->timer.fn = metrics_timer;
	snprintf(m->listen, sizeof(m->listen), "%s", cfg->metrics_listen);
	clock_gettime(CLOCK_REALTIME, &now);
	m->start_time = now.tv_sec + now.tv_nsec / 1e9 - state_elapsed_ms_f(&d->started) / 1e3;
	/* no thread of its own: MHD_run() from the daemon's loop when its epoll fd is readable */
	m->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
				  (cfg->metrics_family == XLB_AF_INET6 ? MHD_USE_IPv6 : 0),
				  0, NULL, NULL, on_request, d,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				  MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_CONN_MAX,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_CONN_TIMEOUT_S,
				  MHD_OPTION_END);
	info = m->mhd ? MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (!info) {
		pr_warn("metrics_listen %s: cannot start the HTTP server", cfg->metrics_listen);
		if (m->mhd)
			MHD_stop_daemon(m->mhd);
		else
			close(fd);
		free(m);
		return -EIO;
	}
	m->epfd = info->epoll_fd;
	d->metrics = m;
	metrics_arm(m);
	pr_info("metrics on http://%s/metrics", m->listen);
	return 0;
}

int metrics_fd(const struct xlbd *d)
{
	return d->metrics ? d->metrics->epfd : -1;
}

/* After a reload: the listener stays where it was until a restart. */
void metrics_reload(struct xlbd *d)
{
	const char *was = d->metrics ? d->metrics->listen : "";

	if (strcmp(was, d->cfg->metrics_listen))
		pr_warn("metrics_listen \"%s\" takes effect on restart (serving: \"%s\")",
			d->cfg->metrics_listen, was);
}

void metrics_stop(struct xlbd *d)
{
	struct xlbd_metrics *m = d->metrics;

	if (!m)
		return;
	prober_timer_cancel(d->prober, &m->timer);
	MHD_stop_daemon(m->mhd);
	free(m);
	d->metrics = NULL;
}
