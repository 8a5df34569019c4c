// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlbd's etcd v3 client: libcurl's multi interface on the gateway's JSON, driven by the loop. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <curl/curl.h>

#include "etcd.h"
#include "xlb.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

struct etcd_req {
	struct etcd *e;
	CURL *h;
	struct curl_slist *hdr;
	char *body;		/* response bytes not yet handled */
	size_t len, cap;
	bool stream;
	bool too_big;		/* a response over RESP_MAX: dropped */
	etcd_done_fn done;
	etcd_msg_fn msg;
	void *ctx;
	struct etcd_req *next;
};

struct etcd {
	CURLM *m;
	int epfd;
	struct prober *p;
	struct prober_timer timer;	/* curl's timeout */
	char endpoints[XLB_ETCD_ENDPOINTS_MAX][128];
	size_t nendpoints, cur;
	long timeout_ms, connect_ms;
	char ca_file[256], cert_file[256], key_file[256];	/* TLS ("" = none given) */
	struct etcd_req *reqs;
};

/* etcd's default limit of a request is 1.5 MiB; a range of many VIPs may answer more */
#define RESP_MAX (256u << 20)

/* ------------------------------------------------------------------ base64 */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *etcd_b64(const void *src, size_t len)
{
	const unsigned char *s = src;
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		*o++ = b64[s[i] >> 2];
		*o++ = b64[(s[i] & 3) << 4 | s[i + 1] >> 4];
		*o++ = b64[(s[i + 1] & 15) << 2 | s[i + 2] >> 6];
		*o++ = b64[s[i + 2] & 63];
	}
	if (i < len) {
		*o++ = b64[s[i] >> 2];
		if (i + 1 < len) {
			*o++ = b64[(s[i] & 3) << 4 | s[i + 1] >> 4];
			*o++ = b64[(s[i + 1] & 15) << 2];
		} else {
			*o++ = b64[(s[i] & 3) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

char *etcd_unb64(const char *s, size_t *len)
{
	size_t n = strlen(s), i, k = 0;
	unsigned int acc = 0, bits = 0;
	char *out = malloc(n / 4 * 3 + 4);

	if (!out)
		return NULL;
	for (i = 0; i < n && s[i] != '='; i++) {
		const char *c = strchr(b64, s[i]);

		if (!c || !s[i]) {
			free(out);
			errno = EINVAL;
			return NULL;
		}
		acc = acc << 6 | (unsigned int)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[k++] = (char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	out[k] = '\0';
	if (len)
		*len = k;
	return out;
}

long long etcd_int(const json_t *v, long long def)
{
	char *end;
	long long x;

	if (json_is_integer(v))
		return json_integer_value(v);
	if (!json_is_string(v))
		return def;
	errno = 0;
	x = strtoll(json_string_value(v), &end, 10);
	return errno || *end || end == json_string_value(v) ? def : x;
}

/* ------------------------------------------------------------------ the multi handle */

static void req_free(struct etcd *e, struct etcd_req *r)
{
	struct etcd_req **pp;

	for (pp = &e->reqs; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	curl_multi_remove_handle(e->m, r->h);
	curl_easy_cleanup(r->h);
	curl_slist_free_all(r->hdr);
	free(r->body);
	free(r);
}

static size_t on_data(char *ptr, size_t size, size_t n, void *arg)
{
	struct etcd_req *r = arg;
	size_t add = size * n;

	if (r->len + add + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		char *p;

		while (cap < r->len + add + 1)
			cap *= 2;
		if (cap > RESP_MAX) {
			r->too_big = true;
			return 0;	/* the transfer fails: CURLE_WRITE_ERROR */
		}
		p = realloc(r->body, cap);
		if (!p)
			return 0;
		r->body = p;
		r->cap = cap;
	}
	memcpy(r->body + r->len, ptr, add);
	r->len += add;
	r->body[r->len] = '\0';
	return add;
}

static int on_socket(CURL *h, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct etcd *e = arg;
	struct epoll_event ev = { .data.fd = s };

	(void)h;
	(void)sockp;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(e->epfd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	if (epoll_ctl(e->epfd, EPOLL_CTL_MOD, s, &ev) && errno == ENOENT)
		epoll_ctl(e->epfd, EPOLL_CTL_ADD, s, &ev);
	return 0;
}

static int on_timer(CURLM *m, long ms, void *arg)
{
	struct etcd *e = arg;

	(void)m;
	if (ms < 0)
		prober_timer_cancel(e->p, &e->timer);
	else
		prober_timer_arm(e->p, &e->timer, prober_now_ns() + (uint64_t)ms * 1000000ull);
	return 0;
}

/* The messages of a stream received so far: one JSON object per line. */
static void stream_lines(struct etcd_req *r)
{
	size_t off = 0;
	char *nl;

	while (r->msg && off < r->len && (nl = memchr(r->body + off, '\n', r->len - off))) {
		json_t *j = json_loadb(r->body + off, nl - (r->body + off), 0, NULL);

		off = nl - r->body + 1;
		if (json_is_object(j))
			r->msg(r->ctx, j);
		json_decref(j);
	}
	if (off) {
		memmove(r->body, r->body + off, r->len - off);
		r->len -= off;
		if (r->body)
			r->body[r->len] = '\0';
	}
}

/* The gateway's error object ({"error": ..., "message": ...}), or the body's start. */
static void error_text(const struct etcd_req *r, long status, char *why, size_t len)
{
	json_t *j = r->len ? json_loads(r->body, 0, NULL) : NULL;
	const char *m = json_string_value(json_object_get(j, "message"));

	if (!m)
		m = json_string_value(json_object_get(j, "error"));
	snprintf(why, len, "HTTP %ld from %s%s%.200s", status, r->e->endpoints[r->e->cur],
		 m ? ": " : "", m ? m : "");
	json_decref(j);
}

static void finished(struct etcd *e, CURL *h, CURLcode rc)
{
	struct etcd_req *r = NULL;
	char why[512] = "";
	json_t *j = NULL;
	long status = 0;
	int err = 0;

	curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&r);
	if (!r)
		return;
	if (r->stream)
		stream_lines(r);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK) {
		err = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT :
		      rc == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : -EIO;
		snprintf(why, sizeof(why), "%s: %s", e->endpoints[e->cur],
			 r->too_big ? "response too large" : curl_easy_strerror(rc));
	} else if (status != 200) {
		err = -EPROTO;
		error_text(r, status, why, sizeof(why));
	} else if (!r->stream) {
		j = json_loadb(r->body ? r->body : "", r->len, 0, NULL);
		if (!json_is_object(j)) {
			err = -EPROTO;
			snprintf(why, sizeof(why), "%s: not a JSON object in the response",
				 e->endpoints[e->cur]);
		}
	} else {
		err = -EIO;
		snprintf(why, sizeof(why), "%s: the stream ended", e->endpoints[e->cur]);
	}
	if (r->done)
		r->done(r->ctx, err, err ? NULL : j, why);
	json_decref(j);
	req_free(e, r);
}

/* Curl's work after socket_action: finished transfers, then the stream messages received. */
static void after_action(struct etcd *e)
{
	struct etcd_req *r, *next;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(e->m, &left)))
		if (msg->msg == CURLMSG_DONE)
			finished(e, msg->easy_handle, msg->data.result);
	for (r = e->reqs; r; r = next) {
		next = r->next;	/* a message handler cancels nothing (shared.c defers it) */
		if (r->stream && r->len)
			stream_lines(r);
	}
}

static void etcd_timer(struct prober_timer *t)
{
	struct etcd *e = container_of(t, struct etcd, timer);
	int running;

	curl_multi_socket_action(e->m, CURL_SOCKET_TIMEOUT, 0, &running);
	after_action(e);
}

void etcd_run(struct etcd *e)
{
	struct epoll_event evs[32];
	int n, i, running;

	n = epoll_wait(e->epfd, evs, 32, 0);
	for (i = 0; i < n; i++) {
		int f = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
			(evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
			(evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);

		curl_multi_socket_action(e->m, evs[i].data.fd, f, &running);
	}
	after_action(e);
}

int etcd_fd(const struct etcd *e)
{
	return e->epfd;
}

const char *etcd_endpoint(const struct etcd *e)
{
	return e->endpoints[e->cur];
}

void etcd_next_endpoint(struct etcd *e)
{
	e->cur = (e->cur + 1) % e->nendpoints;
}

static struct etcd_req *start(struct etcd *e, const char *path, json_t *body, bool stream,
			      etcd_msg_fn msg, etcd_done_fn done, void *ctx)
{
	char url[256], *s = json_dumps(body, JSON_COMPACT);
	struct etcd_req *r = calloc(1, sizeof(*r));

	json_decref(body);
	if (!r || !s)
		goto err;
	r->e = e;
	r->stream = stream;
	r->msg = msg;
	r->done = done;
	r->ctx = ctx;
	r->h = curl_easy_init();
	r->hdr = curl_slist_append(NULL, "Content-Type: application/json");
	if (!r->h || !r->hdr)
		goto err;
	snprintf(url, sizeof(url), "%s%s", e->endpoints[e->cur], path);
	curl_easy_setopt(r->h, CURLOPT_URL, url);
	curl_easy_setopt(r->h, CURLOPT_COPYPOSTFIELDS, s);
	curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, r->hdr);
	curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(r->h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->h, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->h, CURLOPT_CONNECTTIMEOUT_MS, e->connect_ms);
	if (e->ca_file[0]) {	/* that CA alone: not also the system's (libcurl's CA path) */
		curl_easy_setopt(r->h, CURLOPT_CAINFO, e->ca_file);
		curl_easy_setopt(r->h, CURLOPT_CAPATH, NULL);
	}
	if (e->cert_file[0]) {
		curl_easy_setopt(r->h, CURLOPT_SSLCERT, e->cert_file);
		curl_easy_setopt(r->h, CURLOPT_SSLKEY, e->key_file);
	}
	/* a stream lives as long as etcd does: a silent peer is found by TCP keepalive */
	curl_easy_setopt(r->h, CURLOPT_TIMEOUT_MS, stream ? 0L : e->timeout_ms);
	curl_easy_setopt(r->h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(r->h, CURLOPT_TCP_KEEPIDLE, 2L);
	curl_easy_setopt(r->h, CURLOPT_TCP_KEEPINTVL, 1L);
	if (curl_multi_add_handle(e->m, r->h) != CURLM_OK)
		goto err;
	free(s);
	r->next = e->reqs;
	e->reqs = r;
	return r;
err:
	if (r) {
		if (r->h)
			curl_easy_cleanup(r->h);
		curl_slist_free_all(r->hdr);
		free(r);
	}
	free(s);
	errno = ENOMEM;
	return NULL;
}

struct etcd_req *etcd_call(struct etcd *e, const char *path, json_t *body, etcd_done_fn done,
			   void *ctx)
{
	return start(e, path, body, false, NULL, done, ctx);
}

struct etcd_req *etcd_stream(struct etcd *e, const char *path, json_t *body, etcd_msg_fn msg,
			     etcd_done_fn done, void *ctx)
{
	return start(e, path, body, true, msg, done, ctx);
}

void etcd_cancel(struct etcd *e, struct etcd_req *r)
{
	if (r)
		req_free(e, r);
}

struct etcd *etcd_new(struct prober *p, const struct xlb_cfg_etcd *cfg)
{
	static bool global;
	struct etcd *e;

	if (!global && curl_global_init(CURL_GLOBAL_DEFAULT)) {
		errno = ENOMEM;
		return NULL;
	}
	global = true;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->p = p;
	e->timer.fn = etcd_timer;
	e->nendpoints = cfg->nendpoints;
	memcpy(e->endpoints, cfg->endpoints, sizeof(e->endpoints));
	e->timeout_ms = cfg->timeout_ms;
	e->connect_ms = cfg->connect_timeout_ms;
	memcpy(e->ca_file, cfg->ca_file, sizeof(e->ca_file));
	memcpy(e->cert_file, cfg->cert_file, sizeof(e->cert_file));
	memcpy(e->key_file, cfg->key_file, sizeof(e->key_file));
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	e->m = curl_multi_init();
	if (e->epfd < 0 || !e->m) {
		etcd_free(e);
		errno = ENOMEM;
		return NULL;
	}
	curl_multi_setopt(e->m, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(e->m, CURLMOPT_SOCKETDATA, e);
	curl_multi_setopt(e->m, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(e->m, CURLMOPT_TIMERDATA, e);
	return e;
}

void etcd_free(struct etcd *e)
{
	if (!e)
		return;
	while (e->reqs)
		req_free(e, e->reqs);
	prober_timer_cancel(e->p, &e->timer);
	if (e->m)
		curl_multi_cleanup(e->m);
	if (e->epfd >= 0)
		close(e->epfd);
	free(e);
}
