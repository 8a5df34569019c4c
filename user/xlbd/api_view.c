// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlbd API: the views of the running state (status, VIPs, backends, counters, events). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "health.h"


static unsigned int vip_usable(const struct xlbd *d, const struct xlb_cfg_vip *v)
{
	unsigned int n = 0;
	size_t i;

	for (i = 0; i < v->nbackends; i++)
		n += d->be_rt[v->backends[i].id].weight > 0;
	return n;
}

json_t *api_vip_json(const struct xlbd *d, const struct xlb_cfg_vip *v)
{
	json_t *o = xlb_cfg_vip_to_json(v, false);
	char name[96];

	json_object_set_new(o, "vip", json_string(xlb_vip_name(v, name, sizeof(name))));
	json_object_set_new(o, "id", json_integer(v->id));
	json_object_set_new(o, "backends", json_integer(v->nbackends));
	json_object_set_new(o, "usable", json_integer(vip_usable(d, v)));
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
json_t *api_backend_json(struct xlbd *d, const struct xlb_cfg_vip *v,
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

int cmd_status(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	static const char *const args[] = { NULL };
	json_t *ifs = json_array();
	size_t i, nbe = 0;
	__u64 flows = 0;

	(void)req;
	if (api_check_args(req, args, err, errlen)) {
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
	if (d->progress_what)
		json_object_set_new(r, "applying",
				    json_pack("{s:s, s:I, s:I, s:I}", "what", d->progress_what,
					      "done", (json_int_t)d->progress_done, "total",
					      (json_int_t)d->progress_total, "elapsed_ms",
					      (json_int_t)state_elapsed_ms(&d->progress_since)));
	return 0;
}

int cmd_vip_list(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	static const char *const args[] = { NULL };
	json_t *a;
	size_t i;

	if (api_check_args(req, args, err, errlen))
		return -EINVAL;
	a = json_array();
	for (i = 0; i < d->cfg->nvips; i++)
		json_array_append_new(a, api_vip_json(d, &d->cfg->vips[i]));
	json_object_set_new(r, "vips", a);
	return 0;
}

int cmd_backend_list(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	static const char *const args[] = { "vip", NULL };
	json_t *a;
	size_t i, j;
	int only;

	if (api_check_args(req, args, err, errlen))
		return -EINVAL;
	only = api_arg_vip(d, req, false, err, errlen);
	if (only < 0 && only != -ENOENT)
		return only;
	a = json_array();
	for (i = 0; i < d->cfg->nvips; i++) {
		const struct xlb_cfg_vip *v = &d->cfg->vips[i];

		if (only >= 0 && (size_t)only != i)
			continue;
		for (j = 0; j < v->nbackends; j++)
			json_array_append_new(a, api_backend_json(d, v, &v->backends[j]));
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

int cmd_stats(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	static const char *const args[] = { "vip", NULL };
	struct xlb_reason_counters rc[XLB_R__MAX];
	struct state_counters sc;
	json_t *vips, *reasons;
	size_t i, j;
	int only;

	if (api_check_args(req, args, err, errlen))
		return -EINVAL;
	only = api_arg_vip(d, req, false, err, errlen);
	if (only < 0 && only != -ENOENT)
		return only;
	if (state_counters_read(d, only >= 0 ? &d->cfg->vips[only] : NULL, &sc))
		return api_error(err, errlen, "cannot read the counters: %s", strerror(errno));
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


/* The event history after "since" (a sequence number; 0: all that is kept). */
int cmd_events(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	static const char *const args[] = { "since", NULL };
	const struct xlbd_event *ev;
	json_t *since = json_object_get(req, "since"), *a;
	json_int_t after = 0;

	if (api_check_args(req, args, err, errlen))
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
