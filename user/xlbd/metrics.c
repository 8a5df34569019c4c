// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlbd metrics: Prometheus text exposition over HTTP, libmicrohttpd driven by the event loop. */
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
#include <bpf/bpf.h>
#include <microhttpd.h>

#include "health.h"
#include "shared.h"
#include "xlbd.h"

#define METRICS_CONN_MAX 32		/* HTTP connections at once; more wait in the backlog */
#define METRICS_CONN_TIMEOUT_S 10	/* a client silent this long is dropped (stalled, slow) */
#define METRICS_TICK_MS 500		/* MHD_run() at least this often (see metrics_arm()) */
#define METRICS_CTYPE "text/plain; version=0.0.4; charset=utf-8"

/* Upper bounds (seconds) of the histogram buckets; +Inf is implied. */
static const double probe_bounds[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
				       0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };
static const double rebuild_bounds[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
					 0.025, 0.05, 0.1, 0.25, 0.5, 1 };
#define NBOUNDS_MAX 16

struct hist {
	__u64 bucket[NBOUNDS_MAX + 1];	/* not cumulative; [nbounds] is above the last bound */
	__u64 count;
	double sum;
};

/* Probe kinds of the latency histogram: the check types, and the agent. */
enum { PK_AGENT = 0, PK_TCP = XLB_CHECK_TCP, PK_HTTP = XLB_CHECK_HTTP, PK_UDP = XLB_CHECK_UDP,
       PK__MAX };
static const char *const pk_names[PK__MAX] = { "agent", "tcp", "http", "udp" };

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

static void hist_add(struct hist *h, const double *bounds, size_t n, double v)
{
	size_t i;

	for (i = 0; i < n && v > bounds[i]; i++)
		;
	h->bucket[i]++;
	h->count++;
	h->sum += v;
}

void metrics_probe(struct xlbd *d, const __u32 *ids, size_t n, enum xlb_cfg_check_type type,
		   bool agent, const struct probe_result *r)
{
	struct xlbd_metrics *m = d->metrics;
	unsigned int k = agent ? PK_AGENT : (unsigned int)type;

	/* each backend behind a shared checker counts its probes: they are its health */
	for (size_t i = 0; !agent && i < n; i++) {
		if (ids[i] >= d->max_backends)
			continue;
		d->be_rt[ids[i]].probes++;
		d->be_rt[ids[i]].probe_failures += !r->ok;
	}
	if (m && k < PK__MAX)
		hist_add(&m->probe[k][r->ok], probe_bounds, ARRAY_SIZE(probe_bounds),
			 r->latency_us / 1e6);
}

void metrics_rebuild(struct xlbd *d, __u32 vip_id, double ms)
{
	if (vip_id < d->max_vips)
		d->vip_rt[vip_id].rebuilds++;
	if (d->metrics)
		hist_add(&d->metrics->rebuild, rebuild_bounds, ARRAY_SIZE(rebuild_bounds), ms / 1e3);
}

/* ------------------------------------------------------------------ the body */

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static bool buf_room(struct buf *b, size_t n)
{
	char *p;
	size_t cap;

	if (b->oom)
		return false;
	if (b->len + n <= b->cap)
		return true;
	for (cap = b->cap ? b->cap : 65536; cap < b->len + n; cap *= 2)
		;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void buf_put(struct buf *b, const char *s, size_t n)
{
	if (!buf_room(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void buf_str(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !buf_room(b, n + 1))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
}

/* " 1234\n": the samples of 10,000 backends are mostly this, so no printf for them. */
static void buf_u64_nl(struct buf *b, __u64 v)
{
	char t[24];
	int i = sizeof(t);

	t[--i] = '\n';
	do {
		t[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	t[--i] = ' ';
	buf_put(b, t + i, sizeof(t) - i);
}

/* A label value, escaped as the text format wants: backslash, double quote, newline. */
static void buf_label_value(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_put(b, "\\\\", 2);
		else if (*s == '"')
			buf_put(b, "\\\"", 2);
		else if (*s == '\n')
			buf_put(b, "\\n", 2);
		else
			buf_put(b, s, 1);
	}
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample: name, the prepared label set ("{...}" or ""), the value. */
static void sample(struct buf *b, const char *name, const char *labels, size_t llen, __u64 v)
{
	buf_str(b, name);
	buf_put(b, labels, llen);
	buf_u64_nl(b, v);
}

static void histogram(struct buf *b, const char *name, const char *labels, const struct hist *h,
		      const double *bounds, size_t n)
{
	__u64 cum = 0;
	size_t i;

	for (i = 0; i <= n; i++) {
		cum += h->bucket[i];
		if (i < n)
			buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels,
				   *labels ? "," : "", bounds[i], (unsigned long long)cum);
		else
			buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels,
				   *labels ? "," : "", (unsigned long long)cum);
	}
	buf_printf(b, "%s_sum%s%s%s %.9g\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
		   h->sum);
	buf_printf(b, "%s_count%s%s%s %llu\n", name, *labels ? "{" : "", labels,
		   *labels ? "}" : "", (unsigned long long)h->count);
}

/* A backend's name as the CLI shows it: ADDR:PORT, or the bare address when it has no port. */
static const char *be_label(const struct xlb_cfg_backend *b, char *buf, size_t len)
{
	if (!b->port)
		return xlb_addr_format(b->addr, b->family, buf, len);
	return xlb_hostport_format(b->addr, b->family, b->port, buf, len);
}

/* The label sets of every VIP and backend, built once per scrape and used by every family. */
struct labels {
	struct buf text;
	size_t *vip_off, *be_off;	/* [nvips + 1], [nbackends + 1]: offsets in text */
};

static int labels_build(const struct xlb_cfg *cfg, size_t nbe, struct labels *l)
{
	char vn[96], bn[64];
	size_t i, j, k = 0;

	memset(l, 0, sizeof(*l));
	l->vip_off = calloc(cfg->nvips + 1, sizeof(size_t));
	l->be_off = calloc(nbe + 1, sizeof(size_t));
	if (!l->vip_off || !l->be_off)
		return -ENOMEM;
	for (i = 0; i < cfg->nvips; i++) {
		l->vip_off[i] = l->text.len;
		buf_str(&l->text, "{vip=\"");
		buf_label_value(&l->text, xlb_vip_name(&cfg->vips[i], vn, sizeof(vn)));
		buf_str(&l->text, "\"}");
	}
	l->vip_off[i] = l->text.len;
	for (i = 0; i < cfg->nvips; i++) {
		for (j = 0; j < cfg->vips[i].nbackends; j++) {
			l->be_off[k++] = l->text.len;
			buf_str(&l->text, "{vip=\"");
			buf_label_value(&l->text, xlb_vip_name(&cfg->vips[i], vn, sizeof(vn)));
			buf_str(&l->text, "\",backend=\"");
			buf_label_value(&l->text,
					be_label(&cfg->vips[i].backends[j], bn, sizeof(bn)));
			buf_str(&l->text, "\"}");
		}
	}
	l->be_off[k] = l->text.len;
	return l->text.oom ? -ENOMEM : 0;
}

static void labels_free(struct labels *l)
{
	free(l->text.p);
	free(l->vip_off);
	free(l->be_off);
}

/* The value of one per-VIP or per-backend family. */
typedef __u64 (*vip_val)(const struct xlbd *d, const struct xlb_cfg_vip *v,
			 const struct xlb_counters *c);
typedef __u64 (*be_val)(const struct xlbd *d, const struct xlb_cfg_backend *b,
			const struct xlb_counters *c);

static __u64 v_packets(const struct xlbd *d, const struct xlb_cfg_vip *v, const struct xlb_counters *c)
{
	(void)d, (void)v;
	return c->packets;
}

static __u64 v_bytes(const struct xlbd *d, const struct xlb_cfg_vip *v, const struct xlb_counters *c)
{
	(void)d, (void)v;
	return c->bytes;
}

static __u64 v_flows(const struct xlbd *d, const struct xlb_cfg_vip *v, const struct xlb_counters *c)
{
	(void)d, (void)v;
	return c->new_flows;
}

static __u64 v_nbe(const struct xlbd *d, const struct xlb_cfg_vip *v, const struct xlb_counters *c)
{
	(void)d, (void)c;
	return v->nbackends;
}

static __u64 v_usable(const struct xlbd *d, const struct xlb_cfg_vip *v, const struct xlb_counters *c)
{
	__u64 n = 0;

	(void)c;
	for (size_t i = 0; i < v->nbackends; i++)
		n += d->be_rt[v->backends[i].id].weight > 0;
	return n;
}

static __u64 v_m(const struct xlbd *d, const struct xlb_cfg_vip *v, const struct xlb_counters *c)
{
	(void)d, (void)c;
	return v->table_size;
}

static __u64 v_rebuilds(const struct xlbd *d, const struct xlb_cfg_vip *v,
			const struct xlb_counters *c)
{
	(void)c;
	return d->vip_rt[v->id].rebuilds;
}

static __u64 b_packets(const struct xlbd *d, const struct xlb_cfg_backend *b,
		       const struct xlb_counters *c)
{
	(void)d, (void)b;
	return c->packets;
}

static __u64 b_bytes(const struct xlbd *d, const struct xlb_cfg_backend *b,
		     const struct xlb_counters *c)
{
	(void)d, (void)b;
	return c->bytes;
}

static __u64 b_flows(const struct xlbd *d, const struct xlb_cfg_backend *b,
		     const struct xlb_counters *c)
{
	(void)d, (void)b;
	return c->new_flows;
}

static __u64 b_weight(const struct xlbd *d, const struct xlb_cfg_backend *b,
		      const struct xlb_counters *c)
{
	(void)c;
	return d->be_rt[b->id].weight;
}

static __u64 b_slots(const struct xlbd *d, const struct xlb_cfg_backend *b,
		     const struct xlb_counters *c)
{
	(void)c;
	return d->be_rt[b->id].slots;
}

static __u64 b_probes(const struct xlbd *d, const struct xlb_cfg_backend *b,
		      const struct xlb_counters *c)
{
	(void)c;
	return d->be_rt[b->id].probes;
}

static __u64 b_failures(const struct xlbd *d, const struct xlb_cfg_backend *b,
			const struct xlb_counters *c)
{
	(void)c;
	return d->be_rt[b->id].probe_failures;
}

static const struct {
	const char *name, *type, *help;
	vip_val fn;
} vip_families[] = {
	{ "xlb_vip_packets_total", "counter", "Packets that matched the VIP.", v_packets },
	{ "xlb_vip_bytes_total", "counter", "Bytes of the packets that matched the VIP.", v_bytes },
	{ "xlb_vip_new_flows_total", "counter", "Flows the VIP balanced for the first time.",
	  v_flows },
	{ "xlb_vip_backends", "gauge", "Backends configured in the VIP.", v_nbe },
	{ "xlb_vip_usable_backends", "gauge",
	  "Backends of the VIP with an effective weight (taking new flows).", v_usable },
	{ "xlb_vip_table_slots", "gauge", "Size M of the VIP's Maglev table.", v_m },
	{ "xlb_table_rebuilds_total", "counter",
	  "Maglev table rebuilds of the VIP swapped into the datapath.", v_rebuilds },
};

static const struct {
	const char *name, *type, *help;
	be_val fn;
	bool checked;	/* only backends with a health check */
} be_families[] = {
	{ "xlb_backend_packets_total", "counter", "Packets forwarded to the backend.", b_packets },
	{ "xlb_backend_bytes_total", "counter", "Bytes forwarded to the backend (as received).",
	  b_bytes },
	{ "xlb_backend_new_flows_total", "counter", "Flows newly assigned to the backend.",
	  b_flows },
	{ "xlb_backend_weight", "gauge",
	  "Effective weight of the backend (0: takes no new flows; see xlb backend list).",
	  b_weight },
	{ "xlb_backend_slots", "gauge", "Maglev table slots the backend owns.", b_slots },
	{ "xlb_probes_total", "counter", "Health probes of the backend that finished.", b_probes,
	  true },
	{ "xlb_probe_failures_total", "counter", "Health probes of the backend that failed.",
	  b_failures, true },
};

/* -1 unknown (not yet decided), 0 down, 1 up (or no check: counts as up) */
static int be_up(const struct xlbd *d, const struct xlb_cfg_backend *b)
{
	enum xlbd_health h = d->be_rt[b->id].health;

	if (b->check.type == XLB_CHECK_NONE || h == XLBD_HEALTH_UP)
		return 1;
	return h == XLBD_HEALTH_DOWN ? 0 : -1;
}

/*
 * metrics_render() - the /metrics body into *@out (malloc'ed, not NUL-terminated) and its
 * length. Counters of all VIPs and backends come from two batch lookups. Returns 0 or -ENOMEM.
 */
int metrics_render(struct xlbd *d, char **out, size_t *len)
{
	struct xlbd_metrics *m = d->metrics;
	const struct xlb_cfg *cfg = d->cfg;
	struct xlb_reason_counters rc[XLB_R__MAX];
	struct xlb_counters *vc = NULL, *bc = NULL, zero = {};
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info), maxid = 0;
	struct labels l = {};
	struct buf b = {};
	struct timespec t0;
	size_t i, j, k, nbe = 0;
	__u64 flows = 0;
	char lb[160];
	int err = -ENOMEM, fd;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < cfg->nvips; i++) {
		nbe += cfg->vips[i].nbackends;
		for (j = 0; j < cfg->vips[i].nbackends; j++)
			if (cfg->vips[i].backends[j].id > maxid)
				maxid = cfg->vips[i].backends[j].id;
	}
	vc = calloc(d->max_vips, sizeof(*vc));
	bc = calloc(maxid + 1, sizeof(*bc));
	if (!vc || !bc || labels_build(cfg, nbe, &l))
		goto out;
	/* a counter that cannot be read shows as 0 (a VIP being removed, say) */
	if (xlb_stats__vips(d->x, d->max_vips, vc))
		memset(vc, 0, d->max_vips * sizeof(*vc));
	if (xlb_stats__backends(d->x, maxid + 1, bc))
		memset(bc, 0, (maxid + 1) * sizeof(*bc));
	memset(rc, 0, sizeof(rc));
	xlb_stats__reasons(d->x, rc);

	family(&b, "xlb_build_info", "gauge", "Version of the running xlbd (always 1).");
	buf_printf(&b, "xlb_build_info{version=\"");
	buf_label_value(&b, XLB_VERSION);
	buf_str(&b, "\"} 1\n");
	family(&b, "xlb_start_time_seconds", "gauge", "When xlbd started, in seconds since the epoch.");
	buf_printf(&b, "xlb_start_time_seconds %.3f\n", m ? m->start_time : 0);

	family(&b, "xlb_flow_table_entries", "gauge", "Flows in the datapath's flow table.");
	xlb_flow__count(d->x, &flows);
	sample(&b, "xlb_flow_table_entries", "", 0, flows);
	fd = xlb__map_fd(d->x, "xlb_flows");
	if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &ilen)) {
		family(&b, "xlb_flow_table_size", "gauge", "Capacity of the flow table (entries).");
		sample(&b, "xlb_flow_table_size", "", 0, info.max_entries);
	}

	family(&b, "xlb_reason_packets_total", "counter",
	       "Packets by datapath verdict reason (pass, drop, tx) and event.");
	for (i = 0; i < XLB_R__MAX; i++) {
		int n = snprintf(lb, sizeof(lb), "{reason=\"%s\"}", xlb_reason_name(i));

		sample(&b, "xlb_reason_packets_total", lb, n, rc[i].packets);
	}
	family(&b, "xlb_reason_bytes_total", "counter", "Bytes by datapath verdict reason and event.");
	for (i = 0; i < XLB_R__MAX; i++) {
		int n = snprintf(lb, sizeof(lb), "{reason=\"%s\"}", xlb_reason_name(i));

		sample(&b, "xlb_reason_bytes_total", lb, n, rc[i].bytes);
	}

	for (k = 0; k < ARRAY_SIZE(vip_families); k++) {
		family(&b, vip_families[k].name, vip_families[k].type, vip_families[k].help);
		for (i = 0; i < cfg->nvips; i++) {
			const struct xlb_cfg_vip *v = &cfg->vips[i];

			sample(&b, vip_families[k].name, l.text.p + l.vip_off[i],
			       l.vip_off[i + 1] - l.vip_off[i],
			       vip_families[k].fn(d, v, v->id < d->max_vips ? &vc[v->id] : &zero));
		}
	}

	family(&b, "xlb_backend_up", "gauge",
	       "Health of the backend: 1 up (or no check), 0 down, -1 not yet known.");
	for (i = 0, k = 0; i < cfg->nvips; i++) {
		for (j = 0; j < cfg->vips[i].nbackends; j++, k++) {
			int up = be_up(d, &cfg->vips[i].backends[j]);

			buf_str(&b, "xlb_backend_up");
			buf_put(&b, l.text.p + l.be_off[k], l.be_off[k + 1] - l.be_off[k]);
			buf_str(&b, up > 0 ? " 1\n" : up ? " -1\n" : " 0\n");
		}
	}
	for (size_t f = 0; f < ARRAY_SIZE(be_families); f++) {
		family(&b, be_families[f].name, be_families[f].type, be_families[f].help);
		for (i = 0, k = 0; i < cfg->nvips; i++) {
			for (j = 0; j < cfg->vips[i].nbackends; j++, k++) {
				const struct xlb_cfg_backend *be = &cfg->vips[i].backends[j];

				if (be_families[f].checked && be->check.type == XLB_CHECK_NONE)
					continue;
				sample(&b, be_families[f].name, l.text.p + l.be_off[k],
				       l.be_off[k + 1] - l.be_off[k],
				       be_families[f].fn(d, be, be->id <= maxid ? &bc[be->id] : &zero));
			}
		}
	}

	if (m) {
		family(&b, "xlb_probe_duration_seconds", "histogram",
		       "Time from a probe's start to its outcome, by check type and result.");
		for (k = 0; k < PK__MAX; k++) {
			for (i = 0; i < 2; i++) {
				snprintf(lb, sizeof(lb), "check=\"%s\",result=\"%s\"", pk_names[k],
					 i ? "ok" : "failed");
				histogram(&b, "xlb_probe_duration_seconds", lb, &m->probe[k][i],
					  probe_bounds, ARRAY_SIZE(probe_bounds));
			}
		}
		family(&b, "xlb_table_rebuild_duration_seconds", "histogram",
		       "Time to build a VIP's Maglev table and swap it into the datapath.");
		histogram(&b, "xlb_table_rebuild_duration_seconds", "", &m->rebuild, rebuild_bounds,
			  ARRAY_SIZE(rebuild_bounds));
		family(&b, "xlb_metrics_render_seconds", "gauge",
		       "Time the previous /metrics body took to build.");
		buf_printf(&b, "xlb_metrics_render_seconds %.6f\n", m->last_render_s);
	}
	{
		char *etcd = shared_metrics_text(d);	/* the shared view (shared.c) */

		if (etcd)
			buf_str(&b, etcd);
		else
			b.oom = true;
		free(etcd);
	}
	if (b.oom)
		goto out;
	if (m) {
		m->last_render_s = state_elapsed_ms_f(&t0) / 1e3;
		m->scrapes++;
	}
	*out = b.p;
	*len = b.len;
	b.p = NULL;
	err = 0;
out:
	free(b.p);
	free(vc);
	free(bc);
	labels_free(&l);
	return err;
}

/* ------------------------------------------------------------------ HTTP */

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
