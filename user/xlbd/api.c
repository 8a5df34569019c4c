// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlbd API server: non-blocking Unix socket clients, line framing, the commands of API.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "health.h"
#include "xlbd.h"

struct xlbd_client {
	int fd;
	char *in;		/* request bytes not yet framed */
	size_t in_len, in_cap;
	size_t in_scan;		/* in[0 .. in_scan) holds no newline (a long line is scanned once) */
	char *out;		/* reply bytes not yet sent */
	size_t out_len, out_off, out_cap;
	struct timespec last;	/* last activity (monotonic) */
	bool closing;		/* close once @out is sent */
	bool discard;		/* after "request too long": send the reply, then drain input */
	bool shut;		/* shutdown(SHUT_WR) done: waiting for the client's EOF */
	bool eof;		/* the client sent EOF: answer what is buffered, then close */
	uint32_t events;	/* epoll mask currently registered */
	struct xlbd_client *next;
};

/* Input buffers start small and grow, while a line is incomplete, up to one longest line. */
#define IN_START (64u << 10)
#define IN_CAP (XLBD_LINE_MAX + 1)

/* ------------------------------------------------------------------ socket */

int api_listen(struct xlbd *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)], *slash;
	mode_t old;
	int fd, err;

	if (strlen(d->socket_path) >= sizeof(sa.sun_path)) {
		pr_warn("socket path too long: %s", d->socket_path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, d->socket_path);
	strcpy(dir, d->socket_path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST) {
			err = -errno;
			pr_warn("cannot create %s: %s", dir, strerror(errno));
			return err;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A socket file nobody answers on is stale; one that answers belongs to a live xlbd. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN) {
		pr_warn("another xlbd is serving %s", d->socket_path);
		close(fd);
		return -EADDRINUSE;
	}
	close(fd);
	if (errno == ECONNREFUSED) {
		struct stat st;

		/* only ever remove a stale socket, never a file given by mistake */
		if (lstat(d->socket_path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			pr_warn("%s exists and is not a socket", d->socket_path);
			return -EEXIST;
		}
		unlink(d->socket_path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	old = umask(0177); /* the socket is created 0600 */
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (err || listen(fd, 128)) {
		err = -errno;
		pr_warn("cannot listen on %s: %s", d->socket_path, strerror(errno));
		close(fd);
		return err;
	}
	d->lfd = fd;
	d->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return 0;
}

static void client_update_events(struct xlbd *d, struct xlbd_client *c)
{
	uint32_t ev = 0;
	struct epoll_event e;

	if ((!c->closing && !c->eof && c->out_len - c->out_off < XLBD_OUT_HIGH) || c->shut)
		ev |= EPOLLIN;
	if (c->out_len > c->out_off)
		ev |= EPOLLOUT;
	if (ev == c->events)
		return;
	e.events = ev;
	e.data.ptr = c;
	epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &e);
	c->events = ev;
}

static void client_free(struct xlbd *d, struct xlbd_client *c)
{
	struct xlbd_client **pp;

	for (pp = &d->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
	d->nclients--;
}

void api_accept(struct xlbd *d)
{
	struct epoll_event e;
	struct xlbd_client *c;
	int fd;

	for (;;) {
		fd = accept4(d->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EMFILE || errno == ENFILE) && d->spare_fd >= 0) {
			/*
			 * Out of descriptors: a pending connection would keep the listening
			 * socket readable forever. Free the spare, accept and close, take it back.
			 */
			close(d->spare_fd);
			fd = accept(d->lfd, NULL, NULL);
			if (fd >= 0)
				close(fd);
			d->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return; /* EMFILE comes before EAGAIN: nothing was pending */
			pr_warn("out of file descriptors: refused a client (%u clients)",
				d->nclients);
			continue;
		}
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				pr_warn("accept: %s", strerror(errno));
			return;
		}
		if (d->nclients >= XLBD_MAX_CLIENTS) {
			pr_warn("too many clients (%u), refusing one", d->nclients);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (c)
			c->in = malloc(IN_START);
		if (c)
			c->in_cap = IN_START;
		if (!c || !c->in) {
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		clock_gettime(CLOCK_MONOTONIC, &c->last);
		c->events = EPOLLIN;
		e.events = EPOLLIN;
		e.data.ptr = c;
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &e)) {
			close(fd);
			free(c->in);
			free(c);
			continue;
		}
		c->next = d->clients;
		d->clients = c;
		d->nclients++;
		pr_debug("client %d connected (%u clients)", fd, d->nclients);
	}
}

/* Queue @len bytes of reply; false when the client's output limit would be exceeded. */
static bool client_queue(struct xlbd_client *c, const char *buf, size_t len)
{
	size_t need;
	char *n;

	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	need = c->out_len + len;
	if (need - c->out_off > XLBD_OUT_MAX)
		return false;
	if (need > c->out_cap) {
		if (c->out_off) {
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
			need = c->out_len + len;
		}
		if (need > c->out_cap) {
			size_t cap = c->out_cap ? c->out_cap : 4096;

			while (cap < need)
				cap *= 2;
			n = realloc(c->out, cap);
			if (!n)
				return false;
			c->out = n;
			c->out_cap = cap;
		}
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	return true;
}

static void client_reply(struct xlbd_client *c, json_t *reply)
{
	char *s = json_dumps(reply, JSON_COMPACT);
	static const char oom[] = "{\"ok\":false,\"error\":\"reply too large\"}\n";

	if (!s || !client_queue(c, s, strlen(s)) || !client_queue(c, "\n", 1)) {
		if (!client_queue(c, oom, sizeof(oom) - 1))
			c->closing = true;
	}
	free(s);
}

static void reply_error(struct xlbd_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void reply_error(struct xlbd_client *c, const char *fmt, ...)
{
	char msg[1024];
	json_t *r;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
	client_reply(c, r);
	json_decref(r);
}

/* ------------------------------------------------------------------ command helpers */

typedef int (*cmd_fn)(struct xlbd *d, json_t *req, json_t *reply, char *err, size_t errlen);

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

static int check_args(json_t *req, const char *const *allowed, char *err, size_t errlen)
{
	const char *k, *const *a;
	json_t *v;

	json_object_foreach(req, k, v) {
		if (!strcmp(k, "cmd"))
			continue;
		for (a = allowed; *a; a++)
			if (!strcmp(*a, k))
				break;
		if (!*a)
			return ERR("%s: unknown argument", k);
	}
	return 0;
}

/*
 * The VIP named by argument "vip": index in @cfg or an error. *@hint (may be NULL) is tried
 * first and set to the index found: the ops of a batch mostly name the VIP of the op before.
 */
static int find_vip_in(const struct xlb_cfg *cfg, json_t *req, bool required, int *hint,
		       char *err, size_t errlen)
{
	json_t *v = json_object_get(req, "vip");
	__be32 addr[4];
	uint16_t port;
	__u8 fam, proto;
	int i;

	if (!v) {
		if (required)
			return ERR("vip: missing");
		return -ENOENT;
	}
	if (!json_is_string(v) ||
	    xlb_vip_name_parse(json_string_value(v), addr, &fam, &port, &proto))
		return ERR("vip: not a VIP (ADDR:PORT/PROTO, [IPV6]:PORT/PROTO)");
	if (hint && *hint >= 0 && (size_t)*hint < cfg->nvips) {
		const struct xlb_cfg_vip *h = &cfg->vips[*hint];

		if (h->family == fam && h->port == port && h->proto == proto &&
		    !memcmp(h->addr, addr, 16))
			return *hint;
	}
	i = xlb_cfg_find_vip(cfg, fam, addr, port, proto);
	if (i < 0)
		return ERR("vip: no VIP %s", json_string_value(v));
	if (hint)
		*hint = i;
	return i;
}

static int arg_vip(struct xlbd *d, json_t *req, bool required, char *err, size_t errlen)
{
	return find_vip_in(d->cfg, req, required, NULL, err, errlen);
}

/* The backend named by "address" and optional "port" in VIP @v: index or an error. */
static int arg_backend(const struct xlb_cfg_vip *v, json_t *req, char *err, size_t errlen)
{
	json_t *a = json_object_get(req, "address"), *p = json_object_get(req, "port");
	__be32 addr[4];
	json_int_t port = 0;
	char vn[96];
	__u8 fam;
	int i;

	if (!a)
		return ERR("address: missing");
	if (!json_is_string(a) || xlb_addr_parse(json_string_value(a), addr, &fam))
		return ERR("address: not an IPv4 or IPv6 address");
	if (p) {
		char range[XLB_RANGE_TEXT_LEN];

		if (!json_is_integer(p) ||
		    !xlb_range_has(xlb_range(XLB_RANGE_PORT), json_integer_value(p)))
			return ERR("port: must be %s",
				   xlb_range_text(xlb_range(XLB_RANGE_PORT), range, sizeof(range)));
		port = json_integer_value(p);
	}
	i = xlb_cfg_find_backend(v, fam, addr, port);
	if (i < 0)
		return ERR("address: no backend %s port %u in %s", json_string_value(a),
			   (unsigned int)port, xlb_vip_name(v, vn, sizeof(vn)));
	return i;
}

/* Backends with an effective weight: those that take new flows now. */
static unsigned int vip_usable(const struct xlbd *d, const struct xlb_cfg_vip *v)
{
	unsigned int n = 0;
	size_t i;

	for (i = 0; i < v->nbackends; i++)
		n += d->be_rt[v->backends[i].id].weight > 0;
	return n;
}

static json_t *vip_json(const struct xlbd *d, const struct xlb_cfg_vip *v)
{
	json_t *o = xlb_cfg_vip_to_json(v, false);
	char name[96];

	json_object_set_new(o, "vip", json_string(xlb_vip_name(v, name, sizeof(name))));
	json_object_set_new(o, "id", json_integer(v->id));
	json_object_set_new(o, "backends", json_integer(v->nbackends));
	json_object_set_new(o, "usable", json_integer(vip_usable(d, v)));
	if (d->cfg->announce)
		json_object_set_new(o, "announced", json_boolean(announce_vip_announced(d, v)));
	return o;
}

/* The last outcome of a probe, for the views: ok, detail, latency, age. */
static json_t *last_json(const struct hc_last *l)
{
	if (!l->valid)
		return json_null();
	return json_pack("{s:b, s:s, s:f, s:I}", "ok", l->r.ok, "detail", l->r.detail,
			 "latency_ms", l->r.latency_us / 1000.0, "age_ms",
			 (json_int_t)((prober_now_ns() - l->when_ns) / 1000000));
}

/*
 * A backend as the API shows it: its configuration (the check in full, its VIP's defaults
 * resolved) and its runtime state: health, effective weight and why, slots, last probe, agent.
 */
static json_t *backend_json(struct xlbd *d, const struct xlb_cfg_vip *v,
			    const struct xlb_cfg_backend *b)
{
	const struct xlbd_be_rt *rt = &d->be_rt[b->id];
	const struct health_checker *hc = checks_of(d, b->id);
	json_t *o = xlb_cfg_backend_to_json(b);
	char name[96];

	json_object_set_new(o, "check", xlb_cfg_check_to_json(&b->check, false));
	json_object_set_new(o, "vip", json_string(xlb_vip_name(v, name, sizeof(name))));
	/* a backend without a check counts as up */
	json_object_set_new(o, "health",
			    json_string(b->check.type == XLB_CHECK_NONE ? "up" :
					xlbd_health_name(rt->health)));
	json_object_set_new(o, "effective_weight", json_integer(rt->weight));
	json_object_set_new(o, "why", json_string(xlbd_why_name(rt->why)));
	json_object_set_new(o, "id", json_integer(b->id));
	json_object_set_new(o, "slots", json_integer(rt->slots));
	if (hc && b->check.type != XLB_CHECK_NONE)
		json_object_set_new(o, "last_check", last_json(&hc->last));
	if (hc && b->check.agent_port) {
		json_t *a = json_pack("{s:s, s:o}", "state", agent_state_name(hc->agent.state),
				      "last", last_json(&hc->agent_last));

		json_object_set_new(a, "weight_pct", hc->agent.weight_pct >= 0 ?
							json_integer(hc->agent.weight_pct) :
							json_null());
		if (hc->agent.reason[0])
			json_object_set_new(a, "reason", json_string(hc->agent.reason));
		json_object_set_new(o, "agent", a);
	}
	return o;
}

/* ------------------------------------------------------------------ commands */

static int cmd_status(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	static const char *const args[] = { NULL };
	json_t *ifs = json_array();
	size_t i, nbe = 0;
	__u64 flows = 0;

	(void)req;
	if (check_args(req, args, err, errlen)) {
		json_decref(ifs);
		return -EINVAL;
	}
	for (i = 0; i < d->cfg->nifaces; i++)
		json_array_append_new(ifs, json_pack("{s:s, s:i, s:s}", "name",
						     d->cfg->ifaces[i].name, "ifindex",
						     (int)if_nametoindex(d->cfg->ifaces[i].name),
						     "mode",
						     xlb_name_of(&xlb_iface_mode_names,
								 d->cfg->ifaces[i].mode)));
	for (i = 0; i < d->cfg->nvips; i++)
		nbe += d->cfg->vips[i].nbackends;
	xlb_flow__count(d->x, &flows);
	json_object_set_new(r, "version", json_string(XLB_VERSION));
	json_object_set_new(r, "pid", json_integer(getpid()));
	json_object_set_new(r, "uptime_s", json_integer(state_elapsed_ms(&d->started) / 1000));
	json_object_set_new(r, "config", json_string(d->config_path));
	json_object_set_new(r, "adopted", json_boolean(d->adopted));
	json_object_set_new(r, "interfaces", ifs);
	json_object_set_new(r, "vips", json_integer(d->cfg->nvips));
	json_object_set_new(r, "backends", json_integer(nbe));
	json_object_set_new(r, "flows", json_integer(flows));
	if (d->cfg->announce)
		json_object_set_new(r, "announce", announce_status(d));
	if (d->progress_what)
		json_object_set_new(r, "applying",
				    json_pack("{s:s, s:I, s:I, s:I}", "what", d->progress_what,
					      "done", (json_int_t)d->progress_done, "total",
					      (json_int_t)d->progress_total, "elapsed_ms",
					      (json_int_t)state_elapsed_ms(&d->progress_since)));
	return 0;
}

static int cmd_vip_list(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	static const char *const args[] = { NULL };
	json_t *a;
	size_t i;

	if (check_args(req, args, err, errlen))
		return -EINVAL;
	a = json_array();
	for (i = 0; i < d->cfg->nvips; i++)
		json_array_append_new(a, vip_json(d, &d->cfg->vips[i]));
	json_object_set_new(r, "vips", a);
	return 0;
}

/*
 * Changes. Each is an op on a working copy @to of the configuration (validated against @to as
 * it stands, so that an op of a batch may name a VIP added by an earlier one); the command runs
 * one op and commits, a batch runs all its ops and commits once. @hint: see find_vip_in().
 */
typedef int (*op_fn)(struct xlbd *d, struct xlb_cfg *to, json_t *req, int *hint, char *err,
		     size_t errlen);

/* Make room for one more element of @size in *@arr of @n: capacity in powers of two. */
static int grow(void *arr, size_t n, size_t size)
{
	size_t cap = 1;
	void *p;

	while (cap < n + 1)
		cap *= 2;
	/* realloc to the size the block has already is free: appends cost O(1) amortized */
	p = realloc(*(void **)arr, cap * size);
	if (!p)
		return -ENOMEM;
	*(void **)arr = p;
	return 0;
}

static int op_vip_add(struct xlbd *d, struct xlb_cfg *to, json_t *req, int *hint, char *err,
		      size_t errlen)
{
	static const char *const args[] = { "vip", "mode", "table_size", "hash", "check",
					    "slow_start_ms", "drain_timeout_ms", "min_healthy_pct",
					    "no_backend", NULL };
	static const char *const copy[] = { "mode", "table_size", "hash", "check", "slow_start_ms",
					    "drain_timeout_ms", "min_healthy_pct", "no_backend" };
	struct xlb_cfg_errors e = {};
	struct xlb_cfg_vip v;
	json_t *obj, *name = json_object_get(req, "vip");
	char vn[96];
	size_t i;
	int ret;

	if (check_args(req, args, err, errlen))
		return -EINVAL;
	if (!name)
		return ERR("vip: missing");
	xlb_cfg_vip_init(&v);
	if (!json_is_string(name) || xlb_vip_name_parse(json_string_value(name), v.addr, &v.family,
							&v.port, &v.proto))
		return ERR("vip: not a VIP (ADDR:PORT/PROTO, [IPV6]:PORT/PROTO)");
	obj = json_object();
	json_object_set_new(obj, "address", json_string(xlb_addr_format(v.addr, v.family, vn,
									 sizeof(vn))));
	json_object_set_new(obj, "port", json_integer(v.port));
	json_object_set_new(obj, "proto", json_string(xlb_cfg_proto_name(v.proto)));
	for (i = 0; i < ARRAY_SIZE(copy); i++)
		if (json_object_get(req, copy[i]))
			json_object_set(obj, copy[i], json_object_get(req, copy[i]));
	ret = xlb_cfg_vip_from_json(obj, "", &v, &e);
	json_decref(obj);
	if (ret) {
		xlb_cfg_errors_first(&e, err, errlen);
		xlb_cfg_errors_free(&e);
		return -EINVAL;
	}
	if (xlb_cfg_find_vip(to, v.family, v.addr, v.port, v.proto) >= 0)
		return ERR("vip: %s exists already", xlb_vip_name(&v, vn, sizeof(vn)));
	if (to->nvips >= d->max_vips || to->nvips >= to->max_vips)
		return ERR("vip: at most %u VIPs (max_vips)",
			   d->max_vips < to->max_vips ? d->max_vips : to->max_vips);
	if (grow(&to->vips, to->nvips, sizeof(*to->vips)))
		return ERR("out of memory");
	*hint = to->nvips;
	to->vips[to->nvips++] = v;
	return 0;
}

static int op_vip_del(struct xlbd *d, struct xlb_cfg *to, json_t *req, int *hint, char *err,
		      size_t errlen)
{
	static const char *const args[] = { "vip", NULL };
	int i;

	(void)d;
	if (check_args(req, args, err, errlen))
		return -EINVAL;
	i = find_vip_in(to, req, true, hint, err, errlen);
	if (i < 0)
		return i;
	xlb_cfg_vip_release(&to->vips[i]);
	memmove(&to->vips[i], &to->vips[i + 1], (to->nvips - i - 1) * sizeof(to->vips[0]));
	to->nvips--;
	*hint = -1;
	return 0;
}

static int op_backend_add(struct xlbd *d, struct xlb_cfg *to, json_t *req, int *hint, char *err,
			  size_t errlen)
{
	static const char *const args[] = { "vip", "address", "port", "weight", "state",
					    "mac", "check", "backup", "slow_start_ms",
					    "drain_timeout_ms", NULL };
	struct xlb_cfg_errors e = {};
	struct xlb_cfg_backend b;
	struct xlb_cfg_vip *v;
	char a[INET6_ADDRSTRLEN], vn[96];
	json_t *obj;
	const char *k;
	json_t *val;
	int i, ret;

	(void)d;
	if (check_args(req, args, err, errlen))
		return -EINVAL;
	i = find_vip_in(to, req, true, hint, err, errlen);
	if (i < 0)
		return i;
	v = &to->vips[i];
	obj = json_object();
	json_object_foreach(req, k, val)
		if (strcmp(k, "cmd") && strcmp(k, "vip"))
			json_object_set(obj, k, val);
	ret = xlb_cfg_backend_from_json(obj, "", v, &b, &e);
	json_decref(obj);
	if (ret) {
		xlb_cfg_errors_first(&e, err, errlen);
		xlb_cfg_errors_free(&e);
		return -EINVAL;
	}
	if (xlb_cfg_find_backend(v, b.family, b.addr, b.port) >= 0)
		return ERR("address: backend %s port %u exists already in %s",
			   xlb_addr_format(b.addr, b.family, a, sizeof(a)), b.port,
			   xlb_vip_name(v, vn, sizeof(vn)));
	if (grow(&v->backends, v->nbackends, sizeof(*v->backends)))
		return ERR("out of memory");
	v->backends[v->nbackends++] = b;
	return 0;
}

static int op_backend_del(struct xlbd *d, struct xlb_cfg *to, json_t *req, int *hint, char *err,
			  size_t errlen)
{
	static const char *const args[] = { "vip", "address", "port", NULL };
	struct xlb_cfg_vip *v;
	int i, j;

	(void)d;
	if (check_args(req, args, err, errlen))
		return -EINVAL;
	i = find_vip_in(to, req, true, hint, err, errlen);
	if (i < 0)
		return i;
	v = &to->vips[i];
	j = arg_backend(v, req, err, errlen);
	if (j < 0)
		return j;
	memmove(&v->backends[j], &v->backends[j + 1],
		(v->nbackends - j - 1) * sizeof(v->backends[0]));
	v->nbackends--;
	return 0;
}

static int op_backend_set(struct xlbd *d, struct xlb_cfg *to, json_t *req, int *hint, char *err,
			  size_t errlen)
{
	static const char *const args[] = { "vip", "address", "port", "weight", "state", NULL };
	struct xlb_cfg_errors e = {};
	struct xlb_cfg_backend b;
	struct xlb_cfg_vip *v;
	json_t *obj;
	int i, j, ret;

	(void)d;
	if (check_args(req, args, err, errlen))
		return -EINVAL;
	i = find_vip_in(to, req, true, hint, err, errlen);
	if (i < 0)
		return i;
	v = &to->vips[i];
	j = arg_backend(v, req, err, errlen);
	if (j < 0)
		return j;
	if (!json_object_get(req, "weight") && !json_object_get(req, "state"))
		return ERR("weight or state: one of them is required");
	/* the backend as it is, with the new fields, through the same validation as a file */
	obj = xlb_cfg_backend_to_json(&v->backends[j]);
	if (json_object_get(req, "weight"))
		json_object_set(obj, "weight", json_object_get(req, "weight"));
	if (json_object_get(req, "state"))
		json_object_set(obj, "state", json_object_get(req, "state"));
	ret = xlb_cfg_backend_from_json(obj, "", v, &b, &e);
	json_decref(obj);
	if (ret) {
		xlb_cfg_errors_first(&e, err, errlen);
		xlb_cfg_errors_free(&e);
		return -EINVAL;
	}
	v->backends[j].weight = b.weight;
	v->backends[j].state = b.state;
	return 0;
}

/* vip_set: a VIP's settings that change in place; "announce" for now (announce.c). */
static int op_vip_set(struct xlbd *d, struct xlb_cfg *to, json_t *req, int *hint, char *err,
		      size_t errlen)
{
	static const char *const args[] = { "vip", "announce", NULL };
	json_t *a = json_object_get(req, "announce");
	int i;

	(void)d;
	if (check_args(req, args, err, errlen))
		return -EINVAL;
	i = find_vip_in(to, req, true, hint, err, errlen);
	if (i < 0)
		return i;
	if (!a)
		return ERR("announce: missing");
	if (!json_is_boolean(a))
		return ERR("announce: must be true or false");
	to->vips[i].no_announce = json_is_false(a);
	return 0;
}

static const struct {
	const char *name;
	op_fn fn;
} ops[] = {
	{ "vip_add", op_vip_add },	   { "vip_del", op_vip_del },
	{ "backend_add", op_backend_add }, { "backend_del", op_backend_del },
	{ "backend_set", op_backend_set }, { "vip_set", op_vip_set },
};

static op_fn op_of(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		if (!strcmp(ops[i].name, name))
			return ops[i].fn;
	return NULL;
}

/* One change: op on a copy of the running config, commit. */
static int change(struct xlbd *d, json_t *req, char *err, size_t errlen)
{
	struct xlb_cfg *to = xlb_cfg_dup(d->cfg);
	int hint = -1, ret;

	if (!to)
		return ERR("out of memory");
	ret = op_of(json_string_value(json_object_get(req, "cmd")))(d, to, req, &hint, err, errlen);
	if (ret) {
		xlb_cfg_free(to);
		return ret;
	}
	return state_commit(d, to, true, err, errlen);
}

/* The backend named by @req in VIP @req's "vip" of the running config, for a reply. */
static json_t *backend_reply(struct xlbd *d, json_t *req)
{
	char err[8];
	int i = arg_vip(d, req, true, err, sizeof(err)), j;

	j = i >= 0 ? arg_backend(&d->cfg->vips[i], req, err, sizeof(err)) : -1;
	return j >= 0 ? backend_json(d, &d->cfg->vips[i], &d->cfg->vips[i].backends[j]) :
			json_null();
}

static int cmd_vip_add(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	char e2[8];
	int ret = change(d, req, err, errlen), i;

	if (ret)
		return ret;
	i = arg_vip(d, req, true, e2, sizeof(e2));
	json_object_set_new(r, "vip", i >= 0 ? vip_json(d, &d->cfg->vips[i]) : json_null());
	return 0;
}

static int cmd_change(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	(void)r;
	return change(d, req, err, errlen);
}

static int cmd_backend_change(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	int ret = change(d, req, err, errlen);

	if (!ret)
		json_object_set_new(r, "backend", backend_reply(d, req));
	return ret;
}

/*
 * A batch: every op applied in order to one copy of the running config, then one commit (one
 * validation of the whole, one file write, one apply: each touched VIP rebuilt once). The
 * first op that fails names itself by index and nothing changes.
 */
static int cmd_batch(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	static const char *const args[] = { "ops", NULL };
	json_t *list = json_object_get(req, "ops"), *op;
	struct xlb_cfg *to;
	char why[768];
	int hint = -1, ret = 0;
	size_t i;

	if (check_args(req, args, err, errlen))
		return -EINVAL;
	if (!json_is_array(list))
		return ERR("ops: missing or not an array");
	to = xlb_cfg_dup(d->cfg);
	if (!to)
		return ERR("out of memory");
	json_array_foreach(list, i, op) {
		json_t *cmd = json_object_get(op, "cmd");
		op_fn fn;

		if (!json_is_object(op) || !json_is_string(cmd)) {
			ret = ERR("ops[%zu]: must be an object with a cmd", i);
			break;
		}
		fn = op_of(json_string_value(cmd));
		if (!fn) {
			ret = ERR("ops[%zu]: cmd: \"%.64s\" is not a change (vip_add, vip_del, "
				  "vip_set, backend_add, backend_del, backend_set)", i,
				  json_string_value(cmd));
			break;
		}
		why[0] = '\0';
		ret = fn(d, to, op, &hint, why, sizeof(why));
		if (ret) {
			ret = ERR("ops[%zu] (%s): %s", i, json_string_value(cmd),
				  why[0] ? why : strerror(-ret));
			break;
		}
	}
	if (ret) {
		xlb_cfg_free(to);
		return ret;
	}
	state_progress(d, "batch");
	ret = state_commit(d, to, true, err, errlen);
	state_progress(d, NULL);
	if (!ret)
		json_object_set_new(r, "ops", json_integer(json_array_size(list)));
	return ret;
}

static int cmd_backend_list(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	static const char *const args[] = { "vip", NULL };
	json_t *a;
	size_t i, j;
	int only;

	if (check_args(req, args, err, errlen))
		return -EINVAL;
	only = arg_vip(d, req, false, err, errlen);
	if (only < 0 && only != -ENOENT)
		return only;
	a = json_array();
	for (i = 0; i < d->cfg->nvips; i++) {
		const struct xlb_cfg_vip *v = &d->cfg->vips[i];

		if (only >= 0 && (size_t)only != i)
			continue;
		for (j = 0; j < v->nbackends; j++)
			json_array_append_new(a, backend_json(d, v, &v->backends[j]));
	}
	json_object_set_new(r, "backends", a);
	return 0;
}

static json_t *counters_json(json_t *o, const struct xlb_counters *c, const struct xlbd_rate *rt)
{
	json_object_set_new(o, "packets", json_integer(c->packets));
	json_object_set_new(o, "bytes", json_integer(c->bytes));
	json_object_set_new(o, "new_flows", json_integer(c->new_flows));
	json_object_set_new(o, "pps", json_integer(rt->pps));
	json_object_set_new(o, "bps", json_integer(rt->bps));
	return o;
}

static int cmd_stats(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	static const char *const args[] = { "vip", NULL };
	struct xlb_reason_counters rc[XLB_R__MAX];
	struct state_counters sc;
	json_t *vips, *reasons;
	size_t i, j;
	int only;

	if (check_args(req, args, err, errlen))
		return -EINVAL;
	only = arg_vip(d, req, false, err, errlen);
	if (only < 0 && only != -ENOENT)
		return only;
	if (state_counters_read(d, only >= 0 ? &d->cfg->vips[only] : NULL, &sc))
		return ERR("cannot read the counters: %s", strerror(errno));
	vips = json_array();
	for (i = 0; i < d->cfg->nvips; i++) {
		const struct xlb_cfg_vip *v = &d->cfg->vips[i];
		json_t *o, *bes;
		char name[96], a[INET6_ADDRSTRLEN];

		if (only >= 0 && (size_t)only != i)
			continue;
		bes = json_array();
		o = json_pack("{s:s}", "vip", xlb_vip_name(v, name, sizeof(name)));
		counters_json(o, state_counters_vip(&sc, v->id), &d->vip_rt[v->id].rate);
		for (j = 0; j < v->nbackends; j++) {
			const struct xlb_cfg_backend *b = &v->backends[j];
			json_t *bo = json_pack("{s:s, s:i}", "address",
					       xlb_addr_format(b->addr, b->family, a, sizeof(a)),
					       "port", (int)b->port);

			json_array_append_new(bes, counters_json(bo, state_counters_be(&sc, b->id),
								 &d->be_rt[b->id].rate));
		}
		json_object_set_new(o, "backends", bes);
		json_array_append_new(vips, o);
	}
	state_counters_free(&sc);
	json_object_set_new(r, "vips", vips);
	memset(rc, 0, sizeof(rc));
	xlb_stats__reasons(d->x, rc);
	reasons = json_object();
	for (i = 0; i < XLB_R__MAX; i++)
		json_object_set_new(reasons, xlb_reason_name(i),
				    json_pack("{s:I, s:I}", "packets", (json_int_t)rc[i].packets,
					      "bytes", (json_int_t)rc[i].bytes));
	json_object_set_new(r, "reasons", reasons);
	return 0;
}

static const struct xlb_cfg_backend *backend_by_id(const struct xlb_cfg_vip *v, __u32 id)
{
	size_t i;

	for (i = 0; i < v->nbackends; i++)
		if (v->backends[i].id == id)
			return &v->backends[i];
	return NULL;
}

/*
 * The VIP a packet to "vip" would match, resolved as the datapath does: the VIP itself, else
 * the all-ports VIP of that address and protocol, with the named port as the flow's
 * destination port (@dport).
 */
static int lookup_vip(struct xlbd *d, json_t *req, uint16_t *dport, char *err, size_t errlen)
{
	json_t *v = json_object_get(req, "vip");
	__be32 addr[4];
	__u8 fam, proto;
	int i;

	if (!v)
		return ERR("vip: missing");
	if (!json_is_string(v) ||
	    xlb_vip_name_parse(json_string_value(v), addr, &fam, dport, &proto))
		return ERR("vip: not a VIP (ADDR:PORT/PROTO, [IPV6]:PORT/PROTO)");
	i = xlb_cfg_find_vip(d->cfg, fam, addr, *dport, proto);
	if (i < 0)
		i = xlb_cfg_find_vip(d->cfg, fam, addr, 0, proto);
	if (i < 0)
		return ERR("vip: no VIP %s (nor an all-ports VIP on its address)",
			   json_string_value(v));
	return i;
}

static int cmd_lookup(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	static const char *const args[] = { "vip", "src", "proto", NULL };
	const struct xlb_cfg_backend *b = NULL;
	const struct xlb_cfg_vip *v;
	json_t *src = json_object_get(req, "src"), *p = json_object_get(req, "proto");
	struct xlb_flow_key k;
	struct xlb_backend be;
	struct xlb_flow f;
	__u32 *table = NULL, hash, slot, id = 0;
	__be32 saddr[4];
	const char *from = "maglev";
	char a[INET6_ADDRSTRLEN];
	uint16_t sport, dport;
	__u8 fam, proto;
	int i, n;

	if (check_args(req, args, err, errlen))
		return -EINVAL;
	i = lookup_vip(d, req, &dport, err, errlen);
	if (i < 0)
		return i;
	v = &d->cfg->vips[i];
	if (!src)
		return ERR("src: missing");
	if (!json_is_string(src) || xlb_addr_port_parse(json_string_value(src), saddr, &fam, &sport))
		return ERR("src: not ADDR:PORT or [IPV6]:PORT");
	if (fam != v->family)
		return ERR("src: must be %s like the VIP", v->family == XLB_AF_INET ? "IPv4" : "IPv6");
	proto = v->proto;
	if (p) {
		int v;

		if (!json_is_string(p) || xlb_name_parse(&xlb_proto_names, json_string_value(p), &v))
			return ERR("proto: must be tcp or udp");
		proto = v;
	}
	xlb_flow_key__init(&k, fam, saddr, v->addr, sport, dport, proto);
	hash = xlb_flow_hash(&k, v->hash == XLB_HASH_SRC, d->cfg->hash_seed);
	slot = hash % v->table_size;
	if (!xlb_flow__get(d->x, &k, &f) && f.backend_id &&
	    !xlb_backend__get(d->x, f.backend_id, &be) && (be.flags & XLB_BE_F_USABLE) &&
	    be.vip_id == v->id) {
		id = f.backend_id;
		from = "flow_table";
	} else {
		table = calloc(v->table_size, sizeof(*table));
		if (!table)
			return ERR("out of memory");
		n = xlb_vip__get_table(d->x, v->id, table, v->table_size);
		if (n < 0) {
			free(table);
			return ERR("cannot read the table of %s: %s", json_string_value(
					   json_object_get(req, "vip")), strerror(-n));
		}
		id = slot < (__u32)n ? table[slot] : 0;
		free(table);
	}
	b = id ? backend_by_id(v, id) : NULL;
	if (b)
		json_object_set_new(r, "backend",
				    json_pack("{s:s, s:i, s:i}", "address",
					      xlb_addr_format(b->addr, b->family, a, sizeof(a)),
					      "port", (int)b->port, "id", (int)id));
	else
		json_object_set_new(r, "backend", json_null());
	json_object_set_new(r, "source", json_string(from));
	json_object_set_new(r, "slot", json_integer(slot));
	json_object_set_new(r, "hash", json_integer(hash));
	return 0;
}

static int cmd_table(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	static const char *const args[] = { "vip", "full", NULL };
	const struct xlb_cfg_vip *v;
	json_t *full = json_object_get(req, "full"), *slots, *t = NULL;
	__u32 *table, *count, empty = 0;
	char a[INET6_ADDRSTRLEN];
	size_t j;
	int i, n;

	if (check_args(req, args, err, errlen))
		return -EINVAL;
	i = arg_vip(d, req, true, err, errlen);
	if (i < 0)
		return i;
	if (full && !json_is_boolean(full))
		return ERR("full: must be true or false");
	v = &d->cfg->vips[i];
	table = calloc(v->table_size, sizeof(*table));
	count = calloc(v->nbackends + 1, sizeof(*count));
	if (!table || !count) {
		free(table);
		free(count);
		return ERR("out of memory");
	}
	n = xlb_vip__get_table(d->x, v->id, table, v->table_size);
	if (n < 0) {
		free(table);
		free(count);
		return ERR("cannot read the table: %s", strerror(-n));
	}
	if (json_is_true(full))
		t = json_array();
	for (i = 0; i < n; i++) {
		bool found = false;

		if (t)
			json_array_append_new(t, json_integer(table[i]));
		for (j = 0; table[i] && j < v->nbackends; j++) {
			if (v->backends[j].id == table[i]) {
				count[j]++;
				found = true;
				break;
			}
		}
		if (!found)
			empty++;
	}
	slots = json_array();
	for (j = 0; j < v->nbackends; j++) {
		const struct xlb_cfg_backend *b = &v->backends[j];

		json_array_append_new(slots, json_pack("{s:s, s:i, s:i, s:i}", "address",
						       xlb_addr_format(b->addr, b->family, a,
								       sizeof(a)),
						       "port", (int)b->port, "id", (int)b->id,
						       "slots", (int)count[j]));
	}
	json_object_set_new(r, "table_size", json_integer(n));
	json_object_set_new(r, "slots", slots);
	json_object_set_new(r, "empty", json_integer(empty));
	if (t)
		json_object_set_new(r, "table", t);
	free(table);
	free(count);
	return 0;
}

/* The event history after "since" (a sequence number; 0: all that is kept). */
static int cmd_events(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	static const char *const args[] = { "since", NULL };
	const struct xlbd_event *ev;
	json_t *since = json_object_get(req, "since"), *a;
	json_int_t after = 0;

	if (check_args(req, args, err, errlen))
		return -EINVAL;
	if (since && (!json_is_integer(since) || json_integer_value(since) < 0)) {
		snprintf(err, errlen, "since: must be an integer >= 0");
		return -EINVAL;
	}
	if (since)
		after = json_integer_value(since);
	a = json_array();
	while ((ev = xlbd_event_after(d, after))) {
		json_array_append_new(a, json_pack("{s:I, s:I, s:i, s:s}", "seq", (json_int_t)ev->seq,
						   "time_ms", (json_int_t)ev->time_ms, "level",
						   ev->level, "text", ev->text));
		after = ev->seq;
	}
	json_object_set_new(r, "events", a);
	json_object_set_new(r, "last", json_integer(d->events_seq));
	return 0;
}

static const struct {
	const char *name;
	cmd_fn fn;
} commands[] = {
	{ "status", cmd_status },	       { "vip_add", cmd_vip_add },
	{ "vip_del", cmd_change },	       { "vip_list", cmd_vip_list },
	{ "backend_add", cmd_backend_change }, { "backend_del", cmd_change },
	{ "backend_set", cmd_backend_change }, { "backend_list", cmd_backend_list },
	{ "batch", cmd_batch },		       { "vip_set", cmd_vip_add },
	{ "stats", cmd_stats },		    { "lookup", cmd_lookup },
	{ "table", cmd_table },		    { "events", cmd_events },
};

static void handle_line(struct xlbd *d, struct xlbd_client *c, const char *line, size_t len)
{
	struct xlbd_client *busy;
	json_t *req, *cmd, *reply;
	json_error_t jerr;
	char err[1024] = "";
	const char *name;
	size_t i;
	int ret;

	if (len && line[len - 1] == '\r')
		len--;
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req) {
		reply_error(c, "malformed JSON: %s (column %d)", jerr.text, jerr.column);
		return;
	}
	if (!json_is_object(req)) {
		json_decref(req);
		reply_error(c, "request must be a JSON object");
		return;
	}
	cmd = json_object_get(req, "cmd");
	if (!cmd || !json_is_string(cmd)) {
		json_decref(req);
		reply_error(c, "cmd: missing or not a string");
		return;
	}
	name = json_string_value(cmd);
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			break;
	if (i == ARRAY_SIZE(commands)) {
		reply_error(c, "cmd: unknown command \"%.64s\"", name);
		json_decref(req);
		return;
	}
	reply = json_object();
	json_object_set_new(reply, "ok", json_true());
	busy = d->busy;	/* a status answered during a long apply: the applying client stays */
	d->busy = c;
	ret = commands[i].fn(d, req, reply, err, sizeof(err));
	d->busy = busy;
	if (ret) {
		json_decref(reply);
		reply_error(c, "%s", err[0] ? err : strerror(-ret));
	} else {
		client_reply(c, reply);
		json_decref(reply);
	}
	pr_debug("client %d: %s -> %s", c->fd, name, ret ? err : "ok");
	json_decref(req);
}

/* Frame and handle every complete line in the input buffer. */
static void client_process(struct xlbd *d, struct xlbd_client *c)
{
	size_t off = 0;
	char *nl;

	while (!c->closing && off < c->in_len && c->out_len - c->out_off < XLBD_OUT_HIGH) {
		size_t from = off ? off : c->in_scan;

		nl = memchr(c->in + from, '\n', c->in_len - from);
		if (!nl) {
			if (!off)
				c->in_scan = c->in_len;
			break;
		}
		if ((size_t)(nl - (c->in + off)) > XLBD_LINE_MAX) {
			reply_error(c, "request too long");
			c->closing = c->discard = true;
			break;
		}
		handle_line(d, c, c->in + off, nl - (c->in + off));
		off = nl - c->in + 1;
	}
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
		c->in_scan = 0;
	}
	if (!c->closing && c->in_len > XLBD_LINE_MAX && !memchr(c->in, '\n', c->in_len)) {
		reply_error(c, "request too long");
		c->closing = c->discard = true;
	}
}

/*
 * After EOF: once every complete line is answered (which may wait for the output to drain), a
 * last request without its newline (or a truncated one) still gets a reply; then close.
 */
static void client_eof(struct xlbd *d, struct xlbd_client *c)
{
	if (!c->eof || c->closing || c->out_len - c->out_off >= XLBD_OUT_HIGH ||
	    memchr(c->in, '\n', c->in_len))
		return;
	if (c->in_len)
		handle_line(d, c, c->in, c->in_len);
	c->in_len = c->in_scan = 0;
	c->closing = true;
}

static bool client_flush(struct xlbd_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return true;
			return false; /* EPIPE, ECONNRESET: the client is gone */
		}
		c->out_off += n;
	}
	return true;
}

/*
 * Read what the client sent into its buffer, grown for a line longer than the buffer (not to
 * hold many lines). Returns 1 at EOF or on a read error, else 0.
 */
static int client_read(struct xlbd_client *c)
{
	for (;;) {
		ssize_t n;

		if (c->in_len == c->in_cap) {
			size_t cap = c->in_cap * 2 < IN_CAP ? c->in_cap * 2 : IN_CAP;
			char *in;

			if (c->in_cap >= IN_CAP ||
			    memchr(c->in + c->in_scan, '\n', c->in_len - c->in_scan))
				return 0;
			in = realloc(c->in, cap);
			if (!in)
				return 0;
			c->in = in;
			c->in_cap = cap;
		}
		n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
		if (n > 0) {
			c->in_len += n;
			continue;
		}
		return n == 0 || (errno != EAGAIN && errno != EINTR);
	}
}

/* Is the line @line of @len a status request? */
static bool is_status(const char *line, size_t len)
{
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	bool yes = json_is_string(json_object_get(req, "cmd")) &&
		   !strcmp(json_string_value(json_object_get(req, "cmd")), "status");

	json_decref(req);
	return yes;
}

/*
 * Called between chunks of a long apply: accept clients, and answer the status requests at the
 * head of each client's input (a client's replies stay in order: the first other request stops
 * it). The client whose request is being applied is left alone; nothing is closed here.
 */
void api_progress(struct xlbd *d)
{
	struct epoll_event evs[64];
	int n, i;

	if (d->epfd < 0)
		return;
	n = epoll_wait(d->epfd, evs, 64, 0);
	for (i = 0; i < n; i++) {
		struct xlbd_client *c = evs[i].data.ptr;
		size_t off = 0;
		char *nl;

		if (evs[i].data.u64 == XLBD_EV_LISTEN) {
			api_accept(d);
			continue;
		}
		/* probes, timers, signals: level-triggered, handled once the apply is done */
		if (evs[i].data.u64 < XLBD_EV__MAX || c == d->busy || c->closing || c->eof || c->shut)
			continue;
		if (evs[i].events & EPOLLIN)
			client_read(c);
		while (off < c->in_len && (nl = memchr(c->in + off, '\n', c->in_len - off)) &&
		       is_status(c->in + off, nl - (c->in + off))) {
			handle_line(d, c, c->in + off, nl - (c->in + off));
			off = nl - c->in + 1;
		}
		if (off) {
			memmove(c->in, c->in + off, c->in_len - off);
			c->in_len -= off;
			c->in_scan = 0;
		}
		client_flush(c);
		client_update_events(d, c);
	}
}

void api_client_event(struct xlbd *d, struct xlbd_client *c, uint32_t events)
{
	clock_gettime(CLOCK_MONOTONIC, &c->last);
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && c->shut) {
		/*
		 * The rest of an oversized request is read and dropped: closing with unread input
		 * would reset the connection and could lose the error reply. The idle timeout
		 * bounds a client that keeps sending.
		 */
		char scratch[16384];
		ssize_t n;

		while ((n = read(c->fd, scratch, sizeof(scratch))) > 0)
			;
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			client_free(d, c);
		return;
	}
	if ((events & EPOLLIN) && !c->closing && !c->eof) {
		if (client_read(c))
			c->eof = true;
		client_process(d, c);
		client_eof(d, c);
	} else if (events & (EPOLLHUP | EPOLLERR)) {
		c->closing = true;
	}
	if (!client_flush(c)) {
		client_free(d, c);
		return;
	}
	/* output drained below the mark: resume framing what is already buffered */
	if (!c->closing && (c->in_len || c->eof) && c->out_len == c->out_off) {
		client_process(d, c);
		client_eof(d, c);
		if (!client_flush(c)) {
			client_free(d, c);
			return;
		}
	}
	if (c->closing && c->discard && c->out_off == c->out_len && !c->shut) {
		shutdown(c->fd, SHUT_WR);
		c->shut = true;
	} else if (c->closing && !c->shut && c->out_off == c->out_len) {
		pr_debug("client %d closed", c->fd);
		client_free(d, c);
		return;
	}
	client_update_events(d, c);
}

/* Once a second: drop clients idle for too long. */
void api_tick(struct xlbd *d)
{
	struct xlbd_client *c = d->clients, *next;

	for (; c; c = next) {
		next = c->next;
		if (state_elapsed_ms(&c->last) >= XLBD_IDLE_S * 1000ull) {
			pr_debug("client %d idle for %ds, closed", c->fd, XLBD_IDLE_S);
			client_free(d, c);
		}
	}
}

void api_close_all(struct xlbd *d)
{
	while (d->clients)
		client_free(d, d->clients);
	if (d->spare_fd >= 0) {
		close(d->spare_fd);
		d->spare_fd = -1;
	}
	if (d->lfd >= 0) {
		close(d->lfd);
		d->lfd = -1;
		unlink(d->socket_path);
	}
}
