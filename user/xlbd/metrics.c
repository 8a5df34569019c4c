// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlbd metrics: what the daemon counts (probe and rebuild histograms) and the metric families of
 * the /metrics body, built from the datapath's counters and the daemon's state. The text format
 * is written by metrics_text.c, served over HTTP by metrics_http.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "health.h"
#include "shared.h"
#include "metrics_int.h"

/* Upper bounds (seconds) of the histogram buckets; +Inf is implied. */
static const double probe_bounds[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
				       0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };
static const double rebuild_bounds[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
					 0.025, 0.05, 0.1, 0.25, 0.5, 1 };

static const char *const pk_names[PK__MAX] = { "agent", "tcp", "http", "udp" };

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

static const char *be_label(const struct xlb_cfg_backend *b, char *buf, size_t len)
{
	if (!b->port)
		return xlb_addr_format(b->addr, b->family, buf, len);
	return xlb_hostport_format(b->addr, b->family, b->port, buf, len);
}

/* The label sets of every VIP and backend, built once per scrape and used by every family. */
struct labels {
	struct mx_buf text;
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
		mx_str(&l->text, "{vip=\"");
		mx_label_value(&l->text, xlb_vip_name(&cfg->vips[i], vn, sizeof(vn)));
		mx_str(&l->text, "\"}");
	}
	l->vip_off[i] = l->text.len;
	for (i = 0; i < cfg->nvips; i++) {
		for (j = 0; j < cfg->vips[i].nbackends; j++) {
			l->be_off[k++] = l->text.len;
			mx_str(&l->text, "{vip=\"");
			mx_label_value(&l->text, xlb_vip_name(&cfg->vips[i], vn, sizeof(vn)));
			mx_str(&l->text, "\",backend=\"");
			mx_label_value(&l->text,
				       be_label(&cfg->vips[i].backends[j], bn, sizeof(bn)));
			mx_str(&l->text, "\"}");
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
	__u32 maxid = 0;
	struct labels l = {};
	struct mx_buf b = {};
	struct timespec t0;
	size_t i, j, k, nbe = 0;
	__u64 flows = 0;
	char lb[160];
	int err = -ENOMEM;

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

	mx_family(&b, "xlb_build_info", "gauge", "Version of the running xlbd (always 1).");
	mx_printf(&b, "xlb_build_info{version=\"");
	mx_label_value(&b, XLB_VERSION);
	mx_str(&b, "\"} 1\n");
	mx_family(&b, "xlb_start_time_seconds", "gauge",
		  "When xlbd started, in seconds since the epoch.");
	mx_printf(&b, "xlb_start_time_seconds %.3f\n", m ? m->start_time : 0);

	mx_family(&b, "xlb_flow_table_entries", "gauge", "Flows in the datapath's flow table.");
	xlb_flow__count(d->x, &flows);
	mx_sample(&b, "xlb_flow_table_entries", "", 0, flows);
	mx_family(&b, "xlb_flow_table_size", "gauge",
		  "Capacity of the flow table (flows: buckets of 8 ways).");
	mx_sample(&b, "xlb_flow_table_size", "", 0, (__u64)xlb_flow__buckets(d->x) * XLB_FLOW_WAYS);

	mx_family(&b, "xlb_reason_packets_total", "counter",
		  "Packets by datapath verdict reason (pass, drop, tx) and event.");
	for (i = 0; i < XLB_R__MAX; i++) {
		int n = snprintf(lb, sizeof(lb), "{reason=\"%s\"}", xlb_reason_name(i));

		mx_sample(&b, "xlb_reason_packets_total", lb, n, rc[i].packets);
	}
	mx_family(&b, "xlb_reason_bytes_total", "counter",
		  "Bytes by datapath verdict reason and event.");
	for (i = 0; i < XLB_R__MAX; i++) {
		int n = snprintf(lb, sizeof(lb), "{reason=\"%s\"}", xlb_reason_name(i));

		mx_sample(&b, "xlb_reason_bytes_total", lb, n, rc[i].bytes);
	}

	for (k = 0; k < ARRAY_SIZE(vip_families); k++) {
		mx_family(&b, vip_families[k].name, vip_families[k].type, vip_families[k].help);
		for (i = 0; i < cfg->nvips; i++) {
			const struct xlb_cfg_vip *v = &cfg->vips[i];

			mx_sample(&b, vip_families[k].name, l.text.p + l.vip_off[i],
				  l.vip_off[i + 1] - l.vip_off[i],
				  vip_families[k].fn(d, v,
						     v->id < d->max_vips ? &vc[v->id] : &zero));
		}
	}

	mx_family(&b, "xlb_backend_up", "gauge",
		  "Health of the backend: 1 up (or no check), 0 down, -1 not yet known.");
	for (i = 0, k = 0; i < cfg->nvips; i++) {
		for (j = 0; j < cfg->vips[i].nbackends; j++, k++) {
			int up = be_up(d, &cfg->vips[i].backends[j]);

			mx_str(&b, "xlb_backend_up");
			mx_put(&b, l.text.p + l.be_off[k], l.be_off[k + 1] - l.be_off[k]);
			mx_str(&b, up > 0 ? " 1\n" : up ? " -1\n" : " 0\n");
		}
	}
	for (size_t f = 0; f < ARRAY_SIZE(be_families); f++) {
		mx_family(&b, be_families[f].name, be_families[f].type, be_families[f].help);
		for (i = 0, k = 0; i < cfg->nvips; i++) {
			for (j = 0; j < cfg->vips[i].nbackends; j++, k++) {
				const struct xlb_cfg_backend *be = &cfg->vips[i].backends[j];

				if (be_families[f].checked && be->check.type == XLB_CHECK_NONE)
					continue;
				mx_sample(&b, be_families[f].name, l.text.p + l.be_off[k],
					  l.be_off[k + 1] - l.be_off[k],
					  be_families[f].fn(d, be,
							    be->id <= maxid ? &bc[be->id] : &zero));
			}
		}
	}

	if (m) {
		mx_family(&b, "xlb_probe_duration_seconds", "histogram",
			  "Time from a probe's start to its outcome, by check type and result.");
		for (k = 0; k < PK__MAX; k++) {
			for (i = 0; i < 2; i++) {
				snprintf(lb, sizeof(lb), "check=\"%s\",result=\"%s\"", pk_names[k],
					 i ? "ok" : "failed");
				mx_histogram(&b, "xlb_probe_duration_seconds", lb, &m->probe[k][i],
					     probe_bounds, ARRAY_SIZE(probe_bounds));
			}
		}
		mx_family(&b, "xlb_table_rebuild_duration_seconds", "histogram",
			  "Time to build a VIP's Maglev table and swap it into the datapath.");
		mx_histogram(&b, "xlb_table_rebuild_duration_seconds", "", &m->rebuild,
			     rebuild_bounds, ARRAY_SIZE(rebuild_bounds));
		mx_family(&b, "xlb_metrics_render_seconds", "gauge",
			  "Time the previous /metrics body took to build.");
		mx_printf(&b, "xlb_metrics_render_seconds %.6f\n", m->last_render_s);
	}
	{
		char *etcd = shared_metrics_text(d);	/* the shared view (shared.c) */

		if (etcd)
			mx_str(&b, etcd);
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
