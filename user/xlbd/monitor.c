// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlbd monitor: owns the datapath's monitor switch, reads its ring, streams decisions to clients. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <bpf/libbpf.h>
#include <jansson.h>

#include "xlbd.h"

/*
 * A monitor client is an API connection that sent {"cmd": "monitor", ...}: after the reply, the
 * daemon writes one JSON line per decision to it until it goes away. api.c keeps serving the
 * connection as any other (it reads and answers whatever else comes); this file holds its own
 * descriptor of the same socket for writing events and for noticing the peer's close, so that a
 * client that dies (SIGKILL included) unsubscribes at once.
 */
#define MON_MAX_CLIENTS 16
#define MON_OUT_MAX (4u << 20)	/* unsent event bytes a client may hold; beyond: counted lost */
#define MON_DRAIN_MS 20		/* the ring is read this often while a client is there (the
				 * datapath wakes xlbd only when the ring fills up, see monitor.h) */

struct mon_sub {
	int fd;			/* our descriptor of the client's socket */
	ino_t ino;		/* the socket's inode: one subscription per connection */
	__u32 reasons;		/* bit r: reason r wanted; 0 = every reason */
	bool has_vip;
	struct xlb_vip_key vip;	/* the VIP asked for (its id may change with the config) */
	__u8 family;		/* address filter, 0 = none */
	__be32 addr[4];
	__u32 sample;		/* 1 in @sample of the matching packets */
	__u64 seen;		/* matching events received, for the share of the sampling done here */
	__u64 lost;		/* events not sent since the last notice (output full, ring full) */
	char *out;
	size_t len, off, cap;
	struct mon_sub *next;
};

struct xlbd_monitor {
	int epfd;		/* the ring's epoll fd, the drain timer and every client's socket */
	int tfd;		/* the drain timer, armed while a client is there */
	struct ring_buffer *rb;
	struct mon_sub *subs;
	unsigned int nsubs;
	struct xlb_mon_cfg prog;	/* what xlb_monitor holds */
	__u64 ring_lost;	/* xlb_mon_stats lost, as last seen */
	__s64 mono_to_real;	/* CLOCK_REALTIME - CLOCK_MONOTONIC, ns, at the last read */
};

static __u32 gcd(__u32 a, __u32 b)
{
	while (b) {
		__u32 t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* The id VIP @key has in the running config, or XLB_MON_ANY_VIP when it has none. */
static __u32 vip_id_of(const struct xlbd *d, const struct xlb_vip_key *key)
{
	int i = xlb_cfg_find_vip(d->cfg, key->family, key->addr, ntohs(key->port), key->proto);

	return i >= 0 && d->cfg->vips[i].id_set ? d->cfg->vips[i].id : XLB_MON_ANY_VIP;
}

/*
 * The datapath's filter: what every client asks for at least (their union), sampled at the
 * greatest common divisor of their rates; each client's own filter and rate are then applied
 * here. With one client the datapath filters exactly.
 */
static void sync_prog(struct xlbd *d)
{
	struct xlbd_monitor *m = d->monitor;
	struct xlb_mon_cfg want = { .vip_id = XLB_MON_ANY_VIP };
	struct mon_sub *s;
	bool first = true;
	int err;

	for (s = m->subs; s; s = s->next) {
		__u32 id = s->has_vip ? vip_id_of(d, &s->vip) : XLB_MON_ANY_VIP;

		if (first) {
			want.on = 1;
			want.reasons = s->reasons;
			want.vip_id = id;
			want.family = s->family;
			memcpy(want.addr, s->addr, sizeof(want.addr));
			want.sample = s->sample;
			first = false;
			continue;
		}
		want.reasons = want.reasons && s->reasons ? want.reasons | s->reasons : 0;
		if (want.vip_id != id)
			want.vip_id = XLB_MON_ANY_VIP;
		if (want.family != s->family || memcmp(want.addr, s->addr, sizeof(want.addr))) {
			want.family = 0;
			memset(want.addr, 0, sizeof(want.addr));
		}
		want.sample = gcd(want.sample, s->sample);
	}
	if (!memcmp(&want, &m->prog, sizeof(want)))
		return;
	err = xlb_monitor__set(d->x, &want);
	if (err) {
		pr_warn("monitor: cannot write xlb_monitor: %s", strerror(-err));
		return;
	}
	if (want.on != m->prog.on) {
		struct itimerspec its = { .it_interval = { 0, MON_DRAIN_MS * 1000000L },
					  .it_value = { 0, MON_DRAIN_MS * 1000000L } };

		if (!want.on)
			its = (struct itimerspec){};
		timerfd_settime(m->tfd, 0, &its, NULL);
		pr_info("monitor: %s (%u client%s)", want.on ? "on" : "off", m->nsubs,
			m->nsubs == 1 ? "" : "s");
	}
	m->prog = want;
}

static void sub_free(struct xlbd *d, struct mon_sub *s)
{
	struct xlbd_monitor *m = d->monitor;
	struct mon_sub **pp;

	for (pp = &m->subs; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	free(s->out);
	free(s);
	m->nsubs--;
	pr_debug("monitor: a client left (%u left)", m->nsubs);
}

static void sub_watch(struct xlbd_monitor *m, struct mon_sub *s)
{
	struct epoll_event e = { .events = EPOLLRDHUP | (s->len > s->off ? EPOLLOUT : 0),
				 .data.ptr = s };

	epoll_ctl(m->epfd, EPOLL_CTL_MOD, s->fd, &e);
}

/* Send what is queued; false when the client is gone. */
static bool sub_flush(struct xlbd_monitor *m, struct mon_sub *s)
{
	bool had = s->len > s->off;

	while (s->off < s->len) {
		ssize_t n = send(s->fd, s->out + s->off, s->len - s->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return false;
		s->off += n;
	}
	if (s->off == s->len)
		s->off = s->len = 0;
	if (had != (s->len > s->off))
		sub_watch(m, s);
	return true;
}

static void sub_queue(struct xlbd_monitor *m, struct mon_sub *s, const char *line, size_t n)
{
	if (s->len - s->off + n > MON_OUT_MAX) {
		s->lost++;
		return;
	}
	if (s->off && s->len + n > s->cap) {
		memmove(s->out, s->out + s->off, s->len - s->off);
		s->len -= s->off;
		s->off = 0;
	}
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 16384;
		char *p;

		while (cap < s->len + n)
			cap *= 2;
		p = realloc(s->out, cap);
		if (!p) {
			s->lost++;
			return;
		}
		s->out = p;
		s->cap = cap;
	}
	memcpy(s->out + s->len, line, n);
	s->len += n;
	(void)m;
}

static bool sub_matches(const struct xlbd *d, const struct mon_sub *s,
			const struct xlb_mon_event *ev)
{
	if (s->reasons && !(s->reasons & (1u << (ev->reason & 31))))
		return false;
	if (s->has_vip) {
		if (!(ev->flags & XLB_MON_F_VIP) || ev->vip_id >= d->max_vips ||
		    !d->vip_rt[ev->vip_id].programmed ||
		    memcmp(&d->vip_rt[ev->vip_id].key, &s->vip, sizeof(s->vip)))
			return false;
	}
	if (s->family && (ev->key.family != s->family ||
			  (memcmp(ev->key.src, s->addr, 16) && memcmp(ev->key.dst, s->addr, 16))))
		return false;
	return true;
}

static const char *proto_name(__u8 proto, char *buf, size_t len)
{
	switch (proto) {
	case 6: return "tcp";
	case 17: return "udp";
	case 1: return "icmp";
	case 58: return "icmpv6";
	}
	snprintf(buf, len, "%u", proto);
	return buf;
}

/* One event as the API streams it (API.md, "monitor"). */
static json_t *event_json(const struct xlbd *d, const struct xlb_mon_event *ev)
{
	const struct xlbd_monitor *m = d->monitor;
	char a[INET6_ADDRSTRLEN], b[64];
	json_t *o = json_object();

	json_object_set_new(o, "time_ns", json_integer((json_int_t)ev->ts_ns + m->mono_to_real));
	json_object_set_new(o, "reason", json_string(xlb_reason_name(ev->reason)));
	if (ev->key.family == XLB_AF_INET || ev->key.family == XLB_AF_INET6) {
		json_object_set_new(o, "src", json_string(xlb_addr_format(ev->key.src,
							ev->key.family, a, sizeof(a))));
		json_object_set_new(o, "dst", json_string(xlb_addr_format(ev->key.dst,
							ev->key.family, a, sizeof(a))));
		json_object_set_new(o, "proto", json_string(proto_name(ev->key.proto, b,
								       sizeof(b))));
		if (ev->key.proto == 6 || ev->key.proto == 17) {
			json_object_set_new(o, "sport", json_integer(ntohs(ev->key.sport)));
			json_object_set_new(o, "dport", json_integer(ntohs(ev->key.dport)));
		}
	}
	if ((ev->flags & XLB_MON_F_VIP) && ev->vip_id < d->max_vips &&
	    d->vip_rt[ev->vip_id].programmed) {
		const struct xlb_vip_key *k = &d->vip_rt[ev->vip_id].key;

		json_object_set_new(o, "vip", json_string(xlb_vip_format(k->addr, k->family,
							ntohs(k->port), k->proto, b, sizeof(b))));
	}
	if (ev->flags & XLB_MON_F_VIP)
		json_object_set_new(o, "hash", json_integer(ev->hash));
	if (ev->backend_id && ev->backend_id < d->max_backends &&
	    d->be_rt[ev->backend_id].programmed) {
		const struct xlb_backend *be = &d->be_rt[ev->backend_id].prog;

		json_object_set_new(o, "backend",
				    json_pack("{s:s, s:i, s:i}", "address",
					      xlb_addr_format(be->addr, be->family, a, sizeof(a)),
					      "port", (int)ntohs(be->port), "id",
					      (int)ev->backend_id));
	} else if (ev->backend_id) {
		json_object_set_new(o, "backend", json_pack("{s:i}", "id", (int)ev->backend_id));
	}
	if (ev->flags & XLB_MON_F_FLOW_HIT)
		json_object_set_new(o, "source", json_string("flow_table"));
	else if (ev->flags & XLB_MON_F_MAGLEV)
		json_object_set_new(o, "source", json_string("maglev"));
	if (ev->flags & XLB_MON_F_MAGLEV)
		json_object_set_new(o, "slot", json_integer(ev->slot));
	if (ev->flags & XLB_MON_F_FRAG)
		json_object_set_new(o, "fragment", json_true());
	if (ev->flags & XLB_MON_F_ICMP)
		json_object_set_new(o, "icmp_error", json_true());
	json_object_set_new(o, "len", json_integer(ev->len));
	json_object_set_new(o, "ifindex", json_integer(ev->ifindex));
	json_object_set_new(o, "cpu", json_integer(ev->cpu));
	return o;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct xlbd *d = ctx;
	struct xlbd_monitor *m = d->monitor;
	const struct xlb_mon_event *ev = data;
	char *line = NULL;
	size_t n = 0;

	if (size < sizeof(*ev))
		return 0;
	for (struct mon_sub *s = m->subs; s; s = s->next) {
		__u32 every = m->prog.sample > 1 ? s->sample / m->prog.sample : s->sample;

		if (!sub_matches(d, s, ev))
			continue;
		if (every > 1 && s->seen++ % every)
			continue;
		if (!line) {
			json_t *o = json_pack("{s:o}", "event", event_json(d, ev));

			line = json_dumps(o, JSON_COMPACT);
			json_decref(o);
			if (!line)
				return 0;
			n = strlen(line);
			line[n++] = '\n';	/* json_dumps' NUL: the line is sent by length */
		}
		sub_queue(m, s, line, n);
	}
	free(line);
	return 0;
}

static void clock_offset(struct xlbd_monitor *m)
{
	struct timespec r, mo;

	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &mo);
	m->mono_to_real = (r.tv_sec - mo.tv_sec) * 1000000000LL + (r.tv_nsec - mo.tv_nsec);
}

int monitor_start(struct xlbd *d)
{
	struct xlb_mon_cfg was = {}, off = { .vip_id = XLB_MON_ANY_VIP };
	struct epoll_event e = { .events = EPOLLIN };
	struct xlb_mon_counters c;
	struct xlbd_monitor *m;
	int err;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	d->monitor = m;
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	m->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m->epfd < 0 || m->tfd < 0) {
		err = -errno;
		goto fail;
	}
	/* a switch left on by an xlbd that died with clients attached: nobody reads the ring */
	if (!xlb_monitor__get(d->x, &was) && was.on)
		pr_info("monitor: cleared the switch an earlier xlbd left on");
	err = xlb_monitor__set(d->x, &off);
	if (err)
		goto fail;
	m->prog = off;
	m->rb = ring_buffer__new(xlb_monitor__ring_fd(d->x), on_event, d, NULL);
	if (!m->rb) {
		err = -errno;
		goto fail;
	}
	ring_buffer__consume(m->rb);	/* records an earlier xlbd left: nobody asked for them */
	if (!xlb_monitor__counters(d->x, &c))	/* the pinned counters run on across daemons */
		m->ring_lost = c.lost;
	e.data.ptr = NULL;
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(m->rb), &e) ||
	    epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->tfd, &e)) {
		err = -errno;
		goto fail;
	}
	return 0;
fail:
	pr_warn("monitor: cannot start: %s", strerror(-err));
	monitor_stop(d);
	return err;
}

void monitor_stop(struct xlbd *d)
{
	struct xlbd_monitor *m = d->monitor;
	struct xlb_mon_cfg off = { .vip_id = XLB_MON_ANY_VIP };

	if (!m)
		return;
	while (m->subs)
		sub_free(d, m->subs);
	if (m->prog.on)
		xlb_monitor__set(d->x, &off);
	ring_buffer__free(m->rb);
	if (m->epfd >= 0)
		close(m->epfd);
	if (m->tfd >= 0)
		close(m->tfd);
	free(m);
	d->monitor = NULL;
}

int monitor_fd(const struct xlbd *d)
{
	return d->monitor ? d->monitor->epfd : -1;
}

void monitor_run(struct xlbd *d)
{
	struct xlbd_monitor *m = d->monitor;
	struct epoll_event evs[32];
	bool left = false;
	__u64 ticks;
	int n;

	if (!m)
		return;
	n = epoll_wait(m->epfd, evs, 32, 0);
	if (read(m->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		pr_debug("monitor: timerfd: %s", strerror(errno));
	clock_offset(m);
	ring_buffer__consume(m->rb);
	for (int i = 0; i < n; i++) {
		struct mon_sub *s = evs[i].data.ptr;

		if (!s)
			continue;
		if (evs[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
			sub_free(d, s);
			left = true;
		}
	}
	for (struct mon_sub *s = m->subs, *next; s; s = next) {
		next = s->next;
		if (!sub_flush(m, s)) {
			sub_free(d, s);
			left = true;
		}
	}
	if (left)
		sync_prog(d);
}

/* Once a second: VIP ids may have changed; say how many events were lost. */
void monitor_tick(struct xlbd *d)
{
	struct xlbd_monitor *m = d->monitor;
	struct xlb_mon_counters c;
	__u64 ring = 0;

	if (!m || !m->subs)
		return;
	sync_prog(d);
	if (!xlb_monitor__counters(d->x, &c)) {
		ring = c.lost > m->ring_lost ? c.lost - m->ring_lost : 0;
		m->ring_lost = c.lost;
	}
	for (struct mon_sub *s = m->subs; s; s = s->next) {
		char line[64];
		__u64 lost = s->lost + ring;
		int len;

		if (!lost)
			continue;
		len = snprintf(line, sizeof(line), "{\"lost\":%llu}\n", (unsigned long long)lost);
		s->lost = 0;
		sub_queue(m, s, line, len);
	}
	monitor_run(d);
}

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

/* {"cmd": "monitor", "reasons": [...], "vip": "...", "address": "...", "sample": N} */
int cmd_monitor(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	struct xlbd_monitor *m = d->monitor;
	const struct xlb_range *rs = xlb_range(XLB_RANGE_MON_SAMPLE);
	json_t *reasons = json_object_get(req, "reasons"), *vip = json_object_get(req, "vip");
	json_t *addr = json_object_get(req, "address"), *sample = json_object_get(req, "sample");
	struct epoll_event e = { .events = EPOLLRDHUP };
	struct mon_sub s = { .sample = 1 }, *n;
	const char *k;
	struct stat st;
	json_t *v;
	size_t i;
	int fd;

	json_object_foreach(req, k, v) {
		if (strcmp(k, "cmd") && strcmp(k, "reasons") && strcmp(k, "vip") &&
		    strcmp(k, "address") && strcmp(k, "sample"))
			return ERR("%s: unknown argument", k);
	}
	if (!m)
		return ERR("the monitor is not available");
	if (reasons && !json_is_array(reasons))
		return ERR("reasons: must be an array of reason names");
	json_array_foreach(reasons, i, v) {
		int rr = json_is_string(v) ? xlb_reason_parse(json_string_value(v)) : -EINVAL;

		/* events (flood_guard, rehash, ...) are counted beside a verdict, never as one */
		if (rr < 0 || rr >= XLB_R_EV_FLOOD)
			return ERR("reasons[%zu]: not a verdict reason (tx, pass_not_vip, "
				   "drop_malformed, ...; see xlb stats)", i);
		s.reasons |= 1u << rr;
	}
	if (vip) {
		uint16_t port;
		int vi;

		if (!json_is_string(vip) ||
		    xlb_vip_name_parse(json_string_value(vip), s.vip.addr, &s.vip.family, &port,
				       &s.vip.proto))
			return ERR("vip: not a VIP (ADDR:PORT/PROTO, [IPV6]:PORT/PROTO)");
		vi = xlb_cfg_find_vip(d->cfg, s.vip.family, s.vip.addr, port, s.vip.proto);
		if (vi < 0)
			return ERR("vip: no VIP %s", json_string_value(vip));
		s.vip.port = htons(port);
		s.has_vip = true;
	}
	if (addr && (!json_is_string(addr) ||
		     xlb_addr_parse(json_string_value(addr), s.addr, &s.family)))
		return ERR("address: not an IPv4 or IPv6 address");
	if (sample && (!json_is_integer(sample) || !xlb_range_has(rs, json_integer_value(sample))))
		return ERR("sample: must be %u..%u", rs->min, rs->max);
	if (sample)
		s.sample = json_integer_value(sample);
	if (m->nsubs >= MON_MAX_CLIENTS)
		return ERR("monitor: %d clients already", MON_MAX_CLIENTS);
	fd = d->busy ? api_client_fd(d->busy) : -1;
	if (fd < 0 || fstat(fd, &st))
		return ERR("monitor: no connection to stream to");
	for (n = m->subs; n; n = n->next)
		if (n->ino == st.st_ino)
			return ERR("monitor: this connection streams already");
	n = malloc(sizeof(*n));
	if (!n)
		return -ENOMEM;
	*n = s;
	n->ino = st.st_ino;
	n->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	e.data.ptr = n;
	if (n->fd < 0 || epoll_ctl(m->epfd, EPOLL_CTL_ADD, n->fd, &e)) {
		snprintf(err, errlen, "monitor: %s", strerror(errno));
		if (n->fd >= 0)
			close(n->fd);
		free(n);
		return -EIO;
	}
	n->next = m->subs;
	m->subs = n;
	m->nsubs++;
	sync_prog(d);
	json_object_set_new(r, "sample", json_integer(n->sample));
	json_object_set_new(r, "clients", json_integer(m->nsubs));
	pr_debug("monitor: a client joined (%u)", m->nsubs);
	return 0;
}
