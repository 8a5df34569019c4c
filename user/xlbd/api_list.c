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

/*
 * "fields": the keys of each row a client wants (the CLI's text tables: a third of the bytes of
 * backend_list). A brief row has the full row's keys that are named, in the full row's order,
 * with the same values; "check.type" and "check.path" name keys of the row's check object.
 */
static const char *const be_fields[] = {
	"address", "port", "weight", "state", "mac", "backup", "slow_start_ms",
	"drain_timeout_ms", "check", "vip", "health", "effective_weight", "why", "id", "slots",
	"last_check", "agent", "check.type", "check.path", NULL
};
static const char *const vip_fields[] = {
	"address", "port", "proto", "mode", "table_size", "hash", "slow_start_ms",
	"drain_timeout_ms", "min_healthy_pct", "no_backend", "announce", "check", "vip", "id",
	"backends", "usable", "announced", "check.type", "check.path", NULL
};

static int field_index(const char *const *known, const char *name)
{
	int i;

	for (i = 0; known[i]; i++)
		if (!strcmp(known[i], name))
			return i;
	return -1;
}

/* The mask of "fields" (0: absent, the full rows); -EINVAL with the error. */
static int parse_fields(json_t *req, const char *const *known, uint32_t *mask, char *err,
			size_t errlen)
{
	json_t *f = json_object_get(req, "fields"), *e;
	size_t i;

	*mask = 0;
	if (!f)
		return 0;
	if (!json_is_array(f) || !json_array_size(f))
		return api_error(err, errlen, "fields: must be a non-empty array of key names");
	json_array_foreach(f, i, e) {
		int k = json_is_string(e) ? field_index(known, json_string_value(e)) : -1;

		if (k < 0) {
			char list[512] = "";
			size_t j, at = 0;

			for (j = 0; known[j] && at < sizeof(list); j++)
				at += snprintf(list + at, sizeof(list) - at, "%s%s", j ? ", " : "",
					       known[j]);
			if (!json_is_string(e))
				return api_error(err, errlen, "fields[%zu]: must be a key name (one of %s)",
						 i, list);
			return api_error(err, errlen, "fields: unknown field \"%s\" (one of %s)",
					 json_string_value(e), list);
		}
		*mask |= 1u << k;
	}
	return 0;
}

static bool has(const char *const *known, uint32_t mask, const char *name)
{
	int k = field_index(known, name);

	return k >= 0 && (mask & (1u << k));
}

/* The keys of @o named by @mask, in @o's order (a new object). */
static json_t *pick(json_t *o, const char *const *known, uint32_t mask)
{
	json_t *r = json_object(), *v;
	const char *k;

	json_object_foreach(o, k, v) {
		if (has(known, mask, k)) {
			json_object_set(r, k, v);
		} else if (!strcmp(k, "check") && json_is_object(v)) {
			json_t *c = json_object();
			const char *ck;
			json_t *cv;
			char name[64];

			json_object_foreach(v, ck, cv) {
				snprintf(name, sizeof(name), "check.%s", ck);
				if (has(known, mask, name))
					json_object_set(c, ck, cv);
			}
			if (json_object_size(c))
				json_object_set(r, k, c);
			json_decref(c);
		}
	}
	return r;
}

/* A brief row's part that follows from the configuration, kept per id as the full one is. */
struct brief {
	char *s;
	__u64 stamp;
	uint32_t mask;
};
static struct brief *be_brief, *vip_brief;	/* [max_backends], [max_vips], made on first use */

/* @o (taken) picked by @mask and dumped open, kept in *@b for @stamp; NULL when out of memory. */
static const char *brief_of(struct brief *b, __u64 stamp, uint32_t mask, json_t *o,
			    const char *const *known, char **tmp)
{
	json_t *p = o ? pick(o, known, mask) : NULL;
	char *s = p ? api_json_open(p, NULL) : NULL;

	json_decref(p);
	json_decref(o);
	*tmp = NULL;
	if (!s || !stamp || !b)
		return *tmp = s;
	free(b->s);
	b->s = s;
	b->stamp = stamp;
	b->mask = mask;
	return s;
}

static struct brief *brief_slot(struct brief **arr, size_t n, size_t id)
{
	if (!*arr)
		*arr = calloc(n, sizeof(**arr));
	return *arr && id < n ? &(*arr)[id] : NULL;
}

static bool brief_kept(const struct brief *b, __u64 stamp, uint32_t mask)
{
	return b && stamp && b->s && b->stamp == stamp && b->mask == mask;
}

/* Appends runtime key ,"key":... when named; the comma left out after an empty opening. */
static void rt_key(struct api_text *t, bool *empty, const char *const *known, uint32_t mask,
		   const char *key)
{
	if (mask && !has(known, mask, key))
		return;
	api_text_puts(t, *empty ? "\"" : ",\"");
	api_text_puts(t, key);
	api_text_puts(t, "\":");
	*empty = false;
}

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
	static const char *const args[] = { "fields", NULL };
	uint32_t mask;
	size_t i;

	if (api_check_args(req, args, err, errlen) ||
	    parse_fields(req, vip_fields, &mask, err, errlen))
		return -EINVAL;
	api_text_puts(t, ",\"vips\":[");
	for (i = 0; i < d->cfg->nvips && !t->oom; i++) {
		const struct xlb_cfg_vip *v = &d->cfg->vips[i];
		struct brief *b = mask ? brief_slot(&vip_brief, d->max_vips, v->id) : NULL;
		char *tmp = NULL;
		const char *view;
		bool empty;

		if (!mask)
			view = vip_view(d, v, &tmp);
		else if (brief_kept(b, v->stamp, mask))
			view = b->s;
		else
			view = brief_of(b, v->stamp, mask, api_vip_conf_json(v), vip_fields, &tmp);
		if (!view)
			return api_error(err, errlen, "out of memory");
		if (i)
			api_text_put(t, ",", 1);
		api_text_puts(t, view);
		empty = !view[1];
		rt_key(t, &empty, vip_fields, mask, "backends");
		if (!mask || has(vip_fields, mask, "backends"))
			api_text_int(t, (json_int_t)v->nbackends);
		rt_key(t, &empty, vip_fields, mask, "usable");
		if (!mask || has(vip_fields, mask, "usable"))
			api_text_int(t, api_vip_usable(d, v));
		if (d->cfg->announce) {
			rt_key(t, &empty, vip_fields, mask, "announced");
			if (!mask || has(vip_fields, mask, "announced"))
				api_text_puts(t, announce_vip_announced(d, v) ? "true" : "false");
		}
		api_text_put(t, "}", 1);
		free(tmp);
	}
	api_text_put(t, "]", 1);
	return 0;
}

/*
 * "rows" (stats, backend_list): "objects" (absent: the default) or "arrays", each row an array
 * of its values in the order of the reply's "columns" (the CLI's text tables: a third of the
 * bytes of stats, half of backend_list's with fields; jansson's parse of them is most of the
 * CLI's time). *@arrays: which; -EINVAL with the error.
 */
static int parse_rows(json_t *req, bool *arrays, char *err, size_t errlen)
{
	json_t *r = json_object_get(req, "rows");
	const char *s = json_string_value(r);

	*arrays = false;
	if (!r || (s && !strcmp(s, "objects")))
		return 0;
	if (s && !strcmp(s, "arrays")) {
		*arrays = true;
		return 0;
	}
	return api_error(err, errlen, "rows: must be \"objects\" or \"arrays\"");
}

/*
 * The columns of backend_list's array rows: the full row's keys, with its check's named keys
 * after "check"; those up to "vip" follow from the configuration (kept per id), the rest are
 * runtime. A row lacking a key (mac, last_check, agent) has null for it.
 */
static const char *const be_columns[] = {
	"address", "port", "weight", "state", "mac", "backup", "slow_start_ms",
	"drain_timeout_ms", "check", "check.type", "check.path", "vip", "health",
	"effective_weight", "why", "id", "slots", "last_check", "agent", NULL
};
#define BE_CONF_COLUMNS 12
#define ROWS_ARRAYS (1u << 31)	/* in a kept brief's mask: the array form */

/* Whether column @name is in the rows of @mask (0: every key of the full row). */
static bool be_column(uint32_t mask, const char *name)
{
	return mask ? has(be_fields, mask, name) : strncmp(name, "check.", 6) != 0;
}

/* The value of column @name in row object @o (check.X: X of its check), NULL when absent. */
static json_t *column_of(json_t *o, const char *name)
{
	if (!strncmp(name, "check.", 6))
		return json_object_get(json_object_get(o, "check"), name + 6);
	return json_object_get(o, name);
}

/* The values of @o's columns [@from, @to) of @mask appended to array @a (null when absent). */
static void column_values(json_t *a, json_t *o, uint32_t mask, size_t from, size_t to)
{
	size_t i;

	for (i = from; i < to && be_columns[i]; i++) {
		json_t *v = column_of(o, be_columns[i]);

		if (be_column(mask, be_columns[i]))
			json_array_append(a, v ? v : json_null());
	}
}

/* One backend as an array row: the kept part (its configuration's values), then its runtime. */
static int backend_array_text(struct xlbd *d, const struct xlb_cfg_vip *v,
			      const struct xlb_cfg_backend *b, uint32_t mask, struct api_text *t)
{
	const struct xlbd_be_rt *rt = &d->be_rt[b->id];
	struct brief *br = brief_slot(&be_brief, d->max_backends, b->id);
	json_t *o, *a;
	char *s = NULL, *tmp = NULL;
	const char *view;
	size_t i, n;
	bool empty;

	if (brief_kept(br, v->stamp, mask | ROWS_ARRAYS)) {
		view = br->s;
	} else {
		o = api_backend_conf_json(v, b);
		a = o ? json_array() : NULL;
		if (a)
			column_values(a, o, mask, 0, BE_CONF_COLUMNS);
		s = a ? json_dumps(a, JSON_COMPACT) : NULL;
		json_decref(a);
		json_decref(o);
		if (!s)
			return -ENOMEM;
		s[strlen(s) - 1] = '\0';	/* open: "[" and the values */
		if (v->stamp && br) {
			free(br->s);
			br->s = s;
			br->stamp = v->stamp;
			br->mask = mask | ROWS_ARRAYS;
		} else {
			tmp = s;
		}
		view = s;
	}
	api_text_puts(t, view);
	empty = !view[1];
	free(tmp);
	if (api_backend_plain(d, b)) {
		/* the plain runtime values, as api_backend_rt_json() has them; no probe, no agent */
		for (i = BE_CONF_COLUMNS; be_columns[i]; i++) {
			const char *c = be_columns[i];

			if (!be_column(mask, c))
				continue;
			if (!empty)
				api_text_put(t, ",", 1);
			empty = false;
			if (!strcmp(c, "health"))
				api_text_name(t, b->check.type == XLB_CHECK_NONE ? "up" :
						 xlbd_health_name(rt->health));
			else if (!strcmp(c, "effective_weight"))
				api_text_int(t, rt->weight);
			else if (!strcmp(c, "why"))
				api_text_name(t, xlbd_why_name(rt->why));
			else if (!strcmp(c, "id"))
				api_text_int(t, b->id);
			else if (!strcmp(c, "slots"))
				api_text_int(t, rt->slots);
			else
				api_text_put(t, "null", 4);
		}
		api_text_put(t, "]", 1);
		return 0;
	}
	/* a check or an agent: the runtime values with the last probe's, dumped by jansson */
	o = json_object();
	a = json_array();
	if (!o || !a) {
		json_decref(o);
		json_decref(a);
		return -ENOMEM;
	}
	api_backend_rt_json(d, b, o);
	column_values(a, o, mask, BE_CONF_COLUMNS, SIZE_MAX);
	n = json_array_size(a);
	for (i = 0; i < n && !t->oom; i++) {
		if (i || !empty)
			api_text_put(t, ",", 1);
		api_text_json(t, json_array_get(a, i));
	}
	json_decref(a);
	json_decref(o);
	api_text_put(t, "]", 1);
	return 0;
}

/* One backend's view: the kept part, then its runtime keys (those of @mask, 0: all). */
static int backend_text(struct xlbd *d, const struct xlb_cfg_vip *v,
			const struct xlb_cfg_backend *b, uint32_t mask, struct api_text *t)
{
	const struct xlbd_be_rt *rt = &d->be_rt[b->id];
	struct brief *br = mask ? brief_slot(&be_brief, d->max_backends, b->id) : NULL;
	size_t al;
	char *tmp = NULL, *s;
	const char *view;
	json_t *o;
	bool empty;

	if (!mask)
		view = backend_view(d, v, b, &al, &tmp);
	else if (brief_kept(br, v->stamp, mask))
		view = br->s;
	else
		view = brief_of(br, v->stamp, mask, api_backend_conf_json(v, b), be_fields, &tmp);
	if (!view)
		return -ENOMEM;
	api_text_puts(t, view);
	empty = !view[1];
	free(tmp);
	if (!api_backend_plain(d, b)) {
		/* a check or an agent: the runtime keys with the last probe's, dumped by jansson */
		o = json_object();
		if (o)
			api_backend_rt_json(d, b, o);
		if (o && mask) {
			json_t *p = pick(o, be_fields, mask);

			json_decref(o);
			o = p;
		}
		s = o ? api_json_open(o, NULL) : NULL;
		json_decref(o);
		if (!s)
			return -ENOMEM;
		if (s[1] && !empty)
			api_text_put(t, ",", 1);
		api_text_puts(t, s + 1);
		api_text_put(t, "}", 1);
		free(s);
		return 0;
	}
	/* the plain keys, in the order api_backend_rt_json() sets them */
	rt_key(t, &empty, be_fields, mask, "health");
	if (!mask || has(be_fields, mask, "health"))
		api_text_name(t, b->check.type == XLB_CHECK_NONE ? "up" :
				 xlbd_health_name(rt->health));
	rt_key(t, &empty, be_fields, mask, "effective_weight");
	if (!mask || has(be_fields, mask, "effective_weight"))
		api_text_int(t, rt->weight);
	rt_key(t, &empty, be_fields, mask, "why");
	if (!mask || has(be_fields, mask, "why"))
		api_text_name(t, xlbd_why_name(rt->why));
	rt_key(t, &empty, be_fields, mask, "id");
	if (!mask || has(be_fields, mask, "id"))
		api_text_int(t, b->id);
	rt_key(t, &empty, be_fields, mask, "slots");
	if (!mask || has(be_fields, mask, "slots"))
		api_text_int(t, rt->slots);
	api_text_put(t, "}", 1);
	return 0;
}

/* The VIP a view is limited to by its optional argument "vip" (@args: those it takes): its
 * index, -ENOENT when absent. */
static int only_vip(struct xlbd *d, json_t *req, const char *const *args, char *err,
		    size_t errlen)
{
	if (api_check_args(req, args, err, errlen))
		return -EINVAL;
	return api_arg_vip(d, req, false, err, errlen);
}

int cmd_backend_list(struct xlbd *d, json_t *req, struct api_text *t, char *err, size_t errlen)
{
	static const char *const args[] = { "vip", "fields", "rows", NULL };
	int only = only_vip(d, req, args, err, errlen);
	bool first = true, arrays;
	uint32_t mask;
	size_t i, j;

	if (only < 0 && only != -ENOENT)
		return only;
	if (parse_fields(req, be_fields, &mask, err, errlen) ||
	    parse_rows(req, &arrays, err, errlen))
		return -EINVAL;
	if (arrays) {
		api_text_puts(t, ",\"columns\":[");
		for (i = 0, first = true; be_columns[i]; i++) {
			if (!be_column(mask, be_columns[i]))
				continue;
			api_text_puts(t, first ? "\"" : ",\"");
			api_text_puts(t, be_columns[i]);
			api_text_put(t, "\"", 1);
			first = false;
		}
		api_text_put(t, "]", 1);
		first = true;
	}
	api_text_puts(t, ",\"backends\":[");
	for (i = 0; i < d->cfg->nvips && !t->oom; i++) {
		const struct xlb_cfg_vip *v = &d->cfg->vips[i];

		if (only >= 0 && (size_t)only != i)
			continue;
		for (j = 0; j < v->nbackends; j++, first = false) {
			if (!first)
				api_text_put(t, ",", 1);
			if ((arrays ? backend_array_text : backend_text)(d, v, &v->backends[j],
									 mask, t))
				return api_error(err, errlen, "out of memory");
		}
	}
	api_text_put(t, "]", 1);
	return 0;
}

/*
 * The counter keys of a VIP's or a backend's stats, as json_integer() writes them (11,000
 * times in a stats reply at 1,000 VIPs x 10 backends: no printf); @arrays: the values alone.
 */
static void counters_text(struct api_text *t, const struct xlb_counters *c,
			  const struct xlbd_rate *rt, bool arrays)
{
	const json_int_t v[] = { (json_int_t)c->packets, (json_int_t)c->bytes,
				 (json_int_t)c->new_flows, (json_int_t)rt->pps,
				 (json_int_t)rt->bps };
	static const char *const keys[] = { ",\"packets\":", ",\"bytes\":", ",\"new_flows\":",
					    ",\"pps\":", ",\"bps\":" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		if (arrays)
			api_text_put(t, ",", 1);
		else
			api_text_puts(t, keys[i]);
		api_text_int(t, v[i]);
	}
}

/*
 * A backend's address and port in a stats row: the start of its kept view @view (of @al bytes,
 * {"address":"...","port":N), as keys or, for @arrays, as the values "...",N.
 */
static void address_text(struct api_text *t, const char *view, size_t al, bool arrays)
{
	static const char akey[] = "{\"address\":", pkey[] = ",\"port\":";
	const char *p = view + al;

	if (!arrays) {
		api_text_put(t, view, al);
		return;
	}
	while (p > view && *(p - 1) >= '0' && *(p - 1) <= '9')
		p--;
	api_text_put(t, "[", 1);
	api_text_put(t, view + sizeof(akey) - 1, p - (sizeof(pkey) - 1) - (view + sizeof(akey) - 1));
	api_text_put(t, ",", 1);
	api_text_put(t, p, view + al - p);
}

int cmd_stats(struct xlbd *d, json_t *req, struct api_text *t, char *err, size_t errlen)
{
	static const char *const args[] = { "vip", "rows", NULL };
	int only = only_vip(d, req, args, err, errlen);
	struct xlb_reason_counters rc[XLB_R__MAX];
	struct state_counters sc;
	json_t *reasons;
	bool first = true, arrays;
	size_t i, j;

	if (only < 0 && only != -ENOENT)
		return only;
	if (parse_rows(req, &arrays, err, errlen))
		return -EINVAL;
	if (state_counters_read(d, only >= 0 ? &d->cfg->vips[only] : NULL, &sc))
		return api_error(err, errlen, "cannot read the counters: %s", strerror(errno));
	if (arrays)
		api_text_puts(t, ",\"columns\":{\"vips\":[\"vip\",\"packets\",\"bytes\","
			      "\"new_flows\",\"pps\",\"bps\",\"backends\"],\"backends\":[\"address\","
			      "\"port\",\"packets\",\"bytes\",\"new_flows\",\"pps\",\"bps\"]}");
	api_text_puts(t, ",\"vips\":[");
	for (i = 0; i < d->cfg->nvips && !t->oom; i++) {
		const struct xlb_cfg_vip *v = &d->cfg->vips[i];
		char name[96];

		if (only >= 0 && (size_t)only != i)
			continue;
		if (!first)
			api_text_put(t, ",", 1);
		api_text_puts(t, arrays ? "[" : "{\"vip\":");
		first = false;
		api_text_string(t, xlb_vip_name(v, name, sizeof(name)));
		counters_text(t, state_counters_vip(&sc, v->id), &d->vip_rt[v->id].rate, arrays);
		api_text_puts(t, arrays ? ",[" : ",\"backends\":[");
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
			address_text(t, view, al, arrays);
			free(tmp);
			counters_text(t, state_counters_be(&sc, b->id), &d->be_rt[b->id].rate,
				      arrays);
			api_text_put(t, arrays ? "]" : "}", 1);
		}
		api_text_puts(t, arrays ? "]]" : "]}");
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
