// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlbd API: the views of one VIP or backend, the status, the event history. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "health.h"
#include "shared.h"

/* Backends with an effective weight: those that take new flows now. */
unsigned int api_vip_usable(const struct xlbd *d, const struct xlb_cfg_vip *v)
{
	unsigned int n = 0;
	size_t i;

	for (i = 0; i < v->nbackends; i++)
		n += d->be_rt[v->backends[i].id].weight > 0;
	return n;
}

/* A VIP's view up to its runtime keys: its configuration, name and id. */
json_t *api_vip_conf_json(const struct xlb_cfg_vip *v)
{
	json_t *o = xlb_cfg_vip_to_json(v, false);
	char name[96];

	json_object_set_new(o, "vip", json_string(xlb_vip_name(v, name, sizeof(name))));
	json_object_set_new(o, "id", json_integer(v->id));
	return o;
}

json_t *api_vip_json(const struct xlbd *d, const struct xlb_cfg_vip *v)
{
	json_t *o = api_vip_conf_json(v);

	json_object_set_new(o, "backends", json_integer(v->nbackends));
	json_object_set_new(o, "usable", json_integer(api_vip_usable(d, v)));
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

/* A backend's view up to its runtime keys: its configuration (the check in full), its VIP. */
json_t *api_backend_conf_json(const struct xlb_cfg_vip *v, const struct xlb_cfg_backend *b)
{
	json_t *o = xlb_cfg_backend_to_json(b);
	char name[96];

	json_object_set_new(o, "check", xlb_cfg_check_to_json(&b->check, false));
	json_object_set_new(o, "vip", json_string(xlb_vip_name(v, name, sizeof(name))));
	return o;
}

bool api_backend_plain(const struct xlbd *d, const struct xlb_cfg_backend *b)
{
	return !checks_of(d, b->id) || (b->check.type == XLB_CHECK_NONE && !b->check.agent_port);
}

void api_backend_rt_json(struct xlbd *d, const struct xlb_cfg_backend *b, json_t *o)
{
	const struct xlbd_be_rt *rt = &d->be_rt[b->id];
	const struct health_checker *hc = checks_of(d, b->id);

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
}

/*
 * A backend as the API shows it: its configuration (the check in full, its VIP's defaults
 * resolved) and its runtime state: health, effective weight and why, slots, last probe, agent.
 */
json_t *api_backend_json(struct xlbd *d, const struct xlb_cfg_vip *v,
			 const struct xlb_cfg_backend *b)
{
	json_t *o = api_backend_conf_json(v, b);

	api_backend_rt_json(d, b, o);
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
	if (d->cfg->announce)
		json_object_set_new(r, "announce", announce_status(d));
	if (d->shared)
		json_object_set_new(r, "etcd", shared_status_json(d));
	json_object_set_new(r, "digests", shared_digests_json(d));
	if (d->progress_what)
		json_object_set_new(r, "applying",
				    json_pack("{s:s, s:I, s:I, s:I}", "what", d->progress_what,
					      "done", (json_int_t)d->progress_done, "total",
					      (json_int_t)d->progress_total, "elapsed_ms",
					      (json_int_t)state_elapsed_ms(&d->progress_since)));
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
