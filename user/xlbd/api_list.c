// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlbd API: the views of every VIP and backend (vip_list, backend_list, stats), written as text.
 * The part of a view that follows from the configuration is dumped by jansson once and kept in
 * the runtime state of its id until its VIP's stamp changes; the runtime keys are written
 * afresh. A reply at 1,000 VIPs x 10 backends is then a concatenation, not a tree of 10,000
 * objects built and freed per request; its bytes are those of the tree (api_text.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

/* A key (already JSON, with its comma and colon) and an integer value. */
static void key_int(struct api_text *t, const char *key, size_t len, json_int_t v)
{
	api_text_put(t, key, len);
	api_text_int(t, v);
}
#define KEY_INT(t, lit, v) key_int(t, lit, sizeof(lit) - 1, v)

/* VIP @v's view up to its runtime keys: kept for its stamp, or made into *@tmp (to free). */
static const char *vip_view(struct xlbd *d, const struct xlb_cfg_vip *v, char **tmp)
{
	struct xlbd_vip_rt *rt = &d->vip_rt[v->id];
	json_t *o;
	char *s;

	*tmp = NULL;
	if (v->stamp && rt->view && rt->view_stamp == v->stamp)
		return rt->view;
	o = api_vip_conf_json(v);
	s = o ? api_json_open(o, NULL) : NULL;
	json_decref(o);
	if (!s || !v->stamp)
		return *tmp = s;
	free(rt->view);
	rt->view = s;
	rt->view_stamp = v->stamp;
	return s;
}

/*
 * Backend @b's view (of VIP @v) up to its runtime keys, as vip_view(); *@addr_len: the length of
 * its start {"address":...,"port":N, which the stats view shares.
 */
static const char *backend_view(struct xlbd *d, const struct xlb_cfg_vip *v,
				const struct xlb_cfg_backend *b, size_t *addr_len, char **tmp)
{
	struct xlbd_be_rt *rt = &d->be_rt[b->id];
	json_t *o, *ap;
	char *s, *as;
	size_t al = 0;

	*tmp = NULL;
	if (v->stamp && rt->view && rt->view_stamp == v->stamp) {
		*addr_len = rt->view_addr_len;
		return rt->view;
	}
	o = api_backend_conf_json(v, b);
	s = o ? api_json_open(o, NULL) : NULL;
	/* the first two keys alone: their length in the whole (the same bytes: compared) */
	ap = json_pack("{s:O, s:O}", "address", json_object_get(o, "address"), "port",
		       json_object_get(o, "port"));
	as = ap ? api_json_open(ap, &al) : NULL;
	json_decref(ap);
	json_decref(o);
	if (!as || !s || strncmp(s, as, al)) {
		free(as);
		free(s);
		return NULL;
	}
	free(as);
	*addr_len = al;
	if (!v->stamp)
		return *tmp = s;
	free(rt->view);
	rt->view = s;
	rt->view_addr_len = al;
	rt->view_stamp = v->stamp;
	return s;
}

int cmd_vip_list(struct xlbd *d, json_t *req, struct api_text *t, char *err, size_t errlen)
{
	static const char *const args[] = { NULL };
	size_t i;

	if (api_check_args(req, args, err, errlen))
		return -EINVAL;
	api_text_puts(t, ",\"vips\":[");
	for (i = 0; i < d->cfg->nvips && !t->oom; i++) {
		const struct xlb_cfg_vip *v = &d->cfg->vips[i];
		char *tmp;
		const char *view = vip_view(d, v, &tmp);

		if (!view)
			return api_error(err, errlen, "out of memory");
		if (i)
			api_text_put(t, ",", 1);
		api_text_puts(t, view);
		KEY_INT(t, ",\"backends\":", (json_int_t)v->nbackends);
		KEY_INT(t, ",\"usable\":", api_vip_usable(d, v));
		if (d->cfg->announce)
			api_text_printf(t, ",\"announced\":%s",
					announce_vip_announced(d, v) ? "true" : "false");
		api_text_put(t, "}", 1);
		free(tmp);
	}
	api_text_put(t, "]", 1);
	return 0;
}

/* One backend's view: the kept part, then its runtime keys. */
static int backend_text(struct xlbd *d, const struct xlb_cfg_vip *v,
			const struct xlb_cfg_backend *b, struct api_text *t)
{
	const struct xlbd_be_rt *rt = &d->be_rt[b->id];
	size_t al;
	char *tmp, *s;
	const char *view = backend_view(d, v, b, &al, &tmp);
	json_t *o;

	if (!view)
		return -ENOMEM;
	api_text_puts(t, view);
	free(tmp);
	if (!api_backend_plain(d, b)) {
		/* a check or an agent: the runtime keys with the last probe's, dumped by jansson */
		o = json_object();
		if (o)
			api_backend_rt_json(d, b, o);
		s = o ? api_json_open(o, NULL) : NULL;
		json_decref(o);
		if (!s)
			return -ENOMEM;
		api_text_put(t, ",", 1);
		api_text_puts(t, s + 1);
		api_text_put(t, "}", 1);
		free(s);
		return 0;
	}
	/* the plain keys, in the order api_backend_rt_json() sets them */
	api_text_puts(t, ",\"health\":");
	api_text_name(t, b->check.type == XLB_CHECK_NONE ? "up" : xlbd_health_name(rt->health));
	KEY_INT(t, ",\"effective_weight\":", rt->weight);
	api_text_puts(t, ",\"why\":");
	api_text_name(t, xlbd_why_name(rt->why));
	KEY_INT(t, ",\"id\":", b->id);
	KEY_INT(t, ",\"slots\":", rt->slots);
	api_text_put(t, "}", 1);
	return 0;
}

/* The VIP a view is limited to by the optional argument "vip" (its only one): index, -ENOENT. */
static int only_vip(struct xlbd *d, json_t *req, char *err, size_t errlen)
{
	static const char *const args[] = { "vip", NULL };
	int only;

	if (api_check_args(req, args, err, errlen))
		return -EINVAL;
	only = api_arg_vip(d, req, false, err, errlen);
	return only;
}

int cmd_backend_list(struct xlbd *d, json_t *req, struct api_text *t, char *err, size_t errlen)
{
	int only = only_vip(d, req, err, errlen);
	bool first = true;
	size_t i, j;

	if (only < 0 && only != -ENOENT)
		return only;
	api_text_puts(t, ",\"backends\":[");
	for (i = 0; i < d->cfg->nvips && !t->oom; i++) {
		const struct xlb_cfg_vip *v = &d->cfg->vips[i];

		if (only >= 0 && (size_t)only != i)
			continue;
		for (j = 0; j < v->nbackends; j++, first = false) {
			if (!first)
				api_text_put(t, ",", 1);
			if (backend_text(d, v, &v->backends[j], t))
				return api_error(err, errlen, "out of memory");
		}
	}
	api_text_put(t, "]", 1);
	return 0;
}

/*
 * The counter keys of a VIP's or a backend's stats, as json_integer() writes them (11,000
 * times in a stats reply at 1,000 VIPs x 10 backends: no printf).
 */
static void counters_text(struct api_text *t, const struct xlb_counters *c,
			  const struct xlbd_rate *rt)
{
	KEY_INT(t, ",\"packets\":", (json_int_t)c->packets);
	KEY_INT(t, ",\"bytes\":", (json_int_t)c->bytes);
	KEY_INT(t, ",\"new_flows\":", (json_int_t)c->new_flows);
	KEY_INT(t, ",\"pps\":", (json_int_t)rt->pps);
	KEY_INT(t, ",\"bps\":", (json_int_t)rt->bps);
}

int cmd_stats(struct xlbd *d, json_t *req, struct api_text *t, char *err, size_t errlen)
{
	int only = only_vip(d, req, err, errlen);
	struct xlb_reason_counters rc[XLB_R__MAX];
	struct state_counters sc;
	json_t *reasons;
	bool first = true;
	size_t i, j;

	if (only < 0 && only != -ENOENT)
		return only;
	if (state_counters_read(d, only >= 0 ? &d->cfg->vips[only] : NULL, &sc))
		return api_error(err, errlen, "cannot read the counters: %s", strerror(errno));
	api_text_puts(t, ",\"vips\":[");
	for (i = 0; i < d->cfg->nvips && !t->oom; i++) {
		const struct xlb_cfg_vip *v = &d->cfg->vips[i];
		char name[96];

		if (only >= 0 && (size_t)only != i)
			continue;
		api_text_puts(t, first ? "{\"vip\":" : ",{\"vip\":");
		first = false;
		api_text_string(t, xlb_vip_name(v, name, sizeof(name)));
		counters_text(t, state_counters_vip(&sc, v->id), &d->vip_rt[v->id].rate);
		api_text_puts(t, ",\"backends\":[");
		for (j = 0; j < v->nbackends; j++) {
			const struct xlb_cfg_backend *b = &v->backends[j];
			size_t al;
			char *tmp;
			const char *view = backend_view(d, v, b, &al, &tmp);

			if (!view) {
				state_counters_free(&sc);
				return api_error(err, errlen, "out of memory");
			}
			if (j)
				api_text_put(t, ",", 1);
			api_text_put(t, view, al);
			free(tmp);
			counters_text(t, state_counters_be(&sc, b->id), &d->be_rt[b->id].rate);
			api_text_put(t, "}", 1);
		}
		api_text_puts(t, "]}");
	}
	state_counters_free(&sc);
	api_text_put(t, "]", 1);
	memset(rc, 0, sizeof(rc));
	xlb_stats__reasons(d->x, rc);
	reasons = json_object();
	for (i = 0; i < XLB_R__MAX; i++)
		json_object_set_new(reasons, xlb_reason_name(i),
				    json_pack("{s:I, s:I}", "packets", (json_int_t)rc[i].packets,
					      "bytes", (json_int_t)rc[i].bytes));
	api_text_puts(t, ",\"reasons\":");
	api_text_json(t, reasons);
	json_decref(reasons);
	return 0;
}
