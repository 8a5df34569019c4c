// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The VIPs shared through etcd: one state machine (connect, seed, sync, watch, lease, publish,
 * fail, retry) whose parts share its timers and requests. What it reads is applied by
 * shared_apply.c.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_file.h"
#include "shared_int.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static void sync_start(struct shared *sh);
static void lease_start(struct shared *sh);

/* ------------------------------------------------------------------ helpers */

void sh_vip_key(const struct shared *sh, const struct xlb_cfg_vip *v, char *buf, size_t len)
{
	char n[96];

	snprintf(buf, len, "%svips/%s", sh->pfx, xlb_vip_name(v, n, sizeof(n)));
}

json_t *sh_b64_json(const char *s)
{
	char *b = etcd_b64(s, strlen(s));
	json_t *j = json_string(b ? b : "");

	free(b);
	return j;
}

static void set_state(struct shared *sh, enum sh_state st)
{
	if (sh->state != st) {
		sh->since_ms = xlbd_now_ms();
		sh_all_dirty(sh);	/* the verdicts are the cluster's only while connected */
	}
	sh->state = st;
}

/*
 * Something failed: etcd is unreachable (or answered nonsense). Forwarding goes on with what
 * was applied; a timer syncs again (the next endpoint) after retry_ms.
 */
void sh_fail(struct shared *sh, const char *why)
{
	if (sh->state != SH_UNREACHABLE) {
		sh->unreachable++;
		xlbd_event(sh->d, XLB_LOG_WARN, "etcd unreachable (%s): forwarding with revision "
			   "%lld, the last applied", why, sh->revision);
	}
	snprintf(sh->why, sizeof(sh->why), "%s", why);
	set_state(sh, SH_UNREACHABLE);
	etcd_next_endpoint(sh->e);
	prober_timer_arm(sh->d->prober, &sh->retry,
			 prober_now_ns() + sh->conf.retry_ms * 1000000ull);
}

/* Sync again at once (the watch was cancelled or compacted): from a timer, never a callback. */
static void resync(struct shared *sh)
{
	prober_timer_arm(sh->d->prober, &sh->retry, prober_now_ns());
}

/* The reports of the hosts changed: every VIP's weights may have (shared_backend_down()). */
void sh_all_dirty(struct shared *sh)
{
	for (size_t i = 0; sh->d->cfg && i < sh->d->cfg->nvips; i++)
		state_dirty(sh->d, &sh->d->cfg->vips[i]);
}

/* ------------------------------------------------------------------ sync and watch */

static void on_watch_msg(void *ctx, json_t *msg)
{
	struct shared *sh = ctx;
	json_t *res = json_object_get(msg, "result"), *evs, *ev, *list;
	long long rev;
	char err[512];
	size_t i;

	if (!res) {
		xlbd_event(sh->d, XLB_LOG_WARN, "etcd: watch error: %.200s",
			   json_string_value(json_object_get(json_object_get(msg, "error"),
							     "message")) ?: "?");
		resync(sh);
		return;
	}
	if (json_is_true(json_object_get(res, "canceled")) ||
	    etcd_int(json_object_get(res, "compact_revision"), 0) > 0) {
		xlbd_event(sh->d, XLB_LOG_WARN, "etcd: watch cancelled (compacted?): reading the "
			   "whole prefix again");
		resync(sh);
		return;
	}
	rev = etcd_int(json_object_get(json_object_get(res, "header"), "revision"), 0);
	evs = json_object_get(res, "events");
	list = json_array();
	json_array_foreach(evs, i, ev) {
		json_t *kv = json_object_get(ev, "kv");
		const char *type = json_string_value(json_object_get(ev, "type"));
		char *key = etcd_unb64(json_string_value(json_object_get(kv, "key")) ?: "", NULL);
		char *value = NULL;
		long long mod = etcd_int(json_object_get(kv, "mod_revision"), rev);

		/* PUT is the enum's 0: the gateway leaves it out */
		if (!type || strcmp(type, "DELETE"))
			value = etcd_unb64(json_string_value(json_object_get(kv, "value")) ?: "",
					   NULL);
		if (key)
			json_array_append_new(list, json_pack("[s, s?, I]", key, value,
							      (json_int_t)mod));
		if (mod > rev)
			rev = mod;
		free(key);
		free(value);
	}
	sh_apply_events(sh, list, rev, err, sizeof(err));
	json_decref(list);
}

static void on_watch_end(void *ctx, int err, json_t *reply, const char *why)
{
	struct shared *sh = ctx;

	(void)err;
	(void)reply;
	sh->watch = NULL;
	sh_fail(sh, why);
}

static void watch_start(struct shared *sh)
{
	json_t *b = json_pack("{s:{s:o, s:o, s:I}}", "create_request", "key", sh_b64_json(sh->pfx),
			      "range_end", sh_b64_json(sh->pfx_end), "start_revision",
			      (json_int_t)sh->revision + 1);

	sh->watch = etcd_stream(sh->e, "/v3/watch", b, on_watch_msg, on_watch_end, sh);
	if (!sh->watch)
		sh_fail(sh, "cannot start the watch");
}

static void on_seed(void *ctx, int err, json_t *reply, const char *why)
{
	struct shared *sh = ctx;

	sh->range = NULL;
	if (err) {
		sh_fail(sh, why);
		return;
	}
	if (json_is_true(json_object_get(reply, "succeeded")))
		xlbd_event(sh->d, XLB_LOG_INFO, "etcd: %scluster %s seeded with this host's %zu "
			   "VIPs", sh->pfx, sh->conf.cluster, sh->d->cfg->nvips);
	sync_start(sh);	/* read what is there now, seeded by this host or another */
}

/* An empty prefix: this host's VIPs and the "seeded" mark, in one transaction. */
static void seed(struct shared *sh)
{
	json_t *ops = json_array(), *b;
	char key[512];

	snprintf(key, sizeof(key), "%sseeded", sh->pfx);
	json_array_append_new(ops, json_pack("{s:{s:o, s:o}}", "request_put", "key", sh_b64_json(key),
					     "value", sh_b64_json(sh->host)));
	for (size_t i = 0; i < sh->d->cfg->nvips; i++) {
		json_t *v = xlb_cfg_vip_to_json(&sh->d->cfg->vips[i], true);
		char *text = json_dumps(v, JSON_COMPACT);

		sh_vip_key(sh, &sh->d->cfg->vips[i], key, sizeof(key));
		json_array_append_new(ops, json_pack("{s:{s:o, s:o}}", "request_put", "key",
						     sh_b64_json(key), "value",
						     sh_b64_json(text ? text : "")));
		free(text);
		json_decref(v);
	}
	snprintf(key, sizeof(key), "%sseeded", sh->pfx);
	b = json_pack("{s:[{s:o, s:s, s:s, s:s}], s:o}", "compare", "key", sh_b64_json(key),
		      "target", "CREATE", "result", "EQUAL", "create_revision", "0", "success", ops);
	sh->range = etcd_call(sh->e, "/v3/kv/txn", b, on_seed, sh);
	if (!sh->range)
		sh_fail(sh, "cannot send the seeding transaction");
}

static void on_range(void *ctx, int err, json_t *reply, const char *why)
{
	struct shared *sh = ctx;
	json_t *kvs = json_object_get(reply, "kvs"), *kv;
	long long rev = etcd_int(json_object_get(json_object_get(reply, "header"), "revision"), 0);
	bool seeded = false;
	char key[512];
	size_t i;

	sh->range = NULL;
	if (err) {
		sh_fail(sh, why);
		return;
	}
	snprintf(key, sizeof(key), "%sseeded", sh->pfx);
	json_array_foreach(kvs, i, kv) {
		char *k = etcd_unb64(json_string_value(json_object_get(kv, "key")) ?: "", NULL);

		seeded |= k && !strcmp(k, key);
		free(k);
	}
	if (!seeded) {
		seed(sh);
		return;
	}
	sh_apply_full(sh, kvs, rev);
	if (sh->state != SH_CONNECTED)
		xlbd_event(sh->d, XLB_LOG_INFO, "etcd: connected to %s, revision %lld",
			   etcd_endpoint(sh->e), rev);
	set_state(sh, SH_CONNECTED);
	sh->why[0] = '\0';
	watch_start(sh);
	if (!sh->lease_id && !sh->lease)
		lease_start(sh);
}

/* (Re)connect: read the whole prefix, then watch from the revision read. */
static void sync_start(struct shared *sh)
{
	json_t *b = json_pack("{s:o, s:o}", "key", sh_b64_json(sh->pfx), "range_end",
			      sh_b64_json(sh->pfx_end));

	sh->range = etcd_call(sh->e, "/v3/kv/range", b, on_range, sh);
	if (!sh->range)
		sh_fail(sh, "cannot send a request");
}

static void retry_timer(struct prober_timer *t)
{
	struct shared *sh = container_of(t, struct shared, retry);

	etcd_cancel(sh->e, sh->range);
	etcd_cancel(sh->e, sh->watch);
	etcd_cancel(sh->e, sh->ka);
	etcd_cancel(sh->e, sh->pub);
	etcd_cancel(sh->e, sh->lease);
	sh->range = sh->watch = sh->ka = sh->pub = sh->lease = NULL;
	if (sh->state != SH_CONNECTED)
		set_state(sh, sh->state == SH_UNREACHABLE ? SH_UNREACHABLE : SH_CONNECTING);
	sh->lease_id = 0;	/* a new lease: the old one may have expired meanwhile */
	sync_start(sh);
}

/* ------------------------------------------------------------------ lease and publication */

static void on_ka(void *ctx, int err, json_t *reply, const char *why)
{
	struct shared *sh = ctx;
	json_t *res = json_object_get(reply, "result");

	sh->ka = NULL;
	if (err) {
		sh_fail(sh, why);
		return;
	}
	if (etcd_int(json_object_get(res ? res : reply, "TTL"), 0) <= 0) {
		sh->lease_id = 0;	/* expired: a new one, and publish again */
		lease_start(sh);
		return;
	}
	prober_timer_arm(sh->d->prober, &sh->ka_timer,
			 prober_now_ns() + sh->conf.lease_ttl_s * 1000000000ull / 3);
}

static void ka_timer(struct prober_timer *t)
{
	struct shared *sh = container_of(t, struct shared, ka_timer);

	if (!sh->lease_id || sh->ka || sh->state != SH_CONNECTED)
		return;
	sh->ka = etcd_call(sh->e, "/v3/lease/keepalive",
			   json_pack("{s:I}", "ID", (json_int_t)sh->lease_id), on_ka, sh);
}

static void on_lease(void *ctx, int err, json_t *reply, const char *why)
{
	struct shared *sh = ctx;

	sh->lease = NULL;
	if (err) {
		sh_fail(sh, why);
		return;
	}
	sh->lease_id = etcd_int(json_object_get(reply, "ID"), 0);
	free(sh->published);
	sh->published = NULL;
	sh->publish_dirty = true;
	prober_timer_arm(sh->d->prober, &sh->ka_timer,
			 prober_now_ns() + sh->conf.lease_ttl_s * 1000000000ull / 3);
}

static void lease_start(struct shared *sh)
{
	sh->lease = etcd_call(sh->e, "/v3/lease/grant",
			      json_pack("{s:I}", "TTL", (json_int_t)sh->conf.lease_ttl_s),
			      on_lease, sh);
	if (!sh->lease)
		sh_fail(sh, "cannot send a request");
}

static void on_pub(void *ctx, int err, json_t *reply, const char *why)
{
	struct shared *sh = ctx;

	(void)reply;
	sh->pub = NULL;
	if (err) {
		free(sh->published);
		sh->published = NULL;
		sh_fail(sh, why);
	}
}

void shared_sync(struct xlbd *d)
{
	struct shared *sh = d->shared;
	char key[512], *text;
	json_t *v, *b;

	if (sh && sh->events_seen != d->events_seq) {
		sh->events_seen = d->events_seq;	/* a verdict may have changed: report */
		sh->publish_dirty = true;
	}
	if (!sh || sh->state != SH_CONNECTED || !sh->lease_id || sh->pub || !sh->publish_dirty)
		return;
	sh->publish_dirty = false;
	v = json_pack("{s:I, s:o, s:o}", "revision", (json_int_t)sh->revision, "digests",
		      sh_digests_object(d), "down", sh_down_list(d));
	text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(v);
	if (!text || (sh->published && !strcmp(text, sh->published))) {
		free(text);
		return;
	}
	snprintf(key, sizeof(key), "%shosts/%s", sh->pfx, sh->host);
	b = json_pack("{s:o, s:o, s:I}", "key", sh_b64_json(key), "value", sh_b64_json(text), "lease",
		      (json_int_t)sh->lease_id);
	free(sh->published);
	sh->published = text;
	sh->pub = etcd_call(sh->e, "/v3/kv/put", b, on_pub, sh);
}

int shared_reload(struct xlbd *d, struct xlb_cfg *to)
{
	struct xlb_cfg *cur;

	if (!d->shared)
		return 0;
	cur = xlb_cfg_dup(d->cfg);
	if (!cur)
		return -ENOMEM;
	for (size_t i = 0; i < to->nvips; i++)
		xlb_cfg_vip_release(&to->vips[i]);
	free(to->vips);
	to->vips = cur->vips;
	to->nvips = cur->nvips;
	cur->vips = NULL;
	cur->nvips = 0;
	xlb_cfg_free(cur);
	to->etcd = d->shared->conf;
	pr_info("reload: the VIPs are the cluster's (etcd): only the file's other keys apply; a "
		"changed etcd section takes effect at the next start");
	return 0;
}

/* ------------------------------------------------------------------ life */

bool shared_on(const struct xlbd *d)
{
	return d->shared != NULL;
}

int shared_fd(const struct xlbd *d)
{
	return d->shared ? etcd_fd(d->shared->e) : -1;
}

void shared_run(struct xlbd *d)
{
	if (d->shared)
		etcd_run(d->shared->e);
}

int shared_start(struct xlbd *d)
{
	const struct xlb_cfg_etcd *c = &d->cfg->etcd;
	struct shared *sh;
	size_t n;

	if (!c->on)
		return 0;
	sh = calloc(1, sizeof(*sh));
	if (!sh)
		return -ENOMEM;
	sh->d = d;
	sh->conf = *c;
	sh->e = etcd_new(d->prober, &sh->conf);
	if (!sh->e) {
		free(sh);
		pr_warn("etcd client: %s", strerror(errno));
		return -ENOMEM;
	}
	snprintf(sh->host, sizeof(sh->host), "%s", c->host);
	if (!sh->host[0] && gethostname(sh->host, sizeof(sh->host) - 1))
		strcpy(sh->host, "xlbd");
	snprintf(sh->pfx, sizeof(sh->pfx), "%s/%s/", c->prefix, c->cluster);
	n = strlen(sh->pfx);
	memcpy(sh->pfx_end, sh->pfx, n + 1);
	sh->pfx_end[n - 1]++;	/* "/" + 1: the end of the prefix's range */
	sh->retry.fn = retry_timer;
	sh->ka_timer.fn = ka_timer;
	sh->since_ms = xlbd_now_ms();
	d->shared = sh;
	pr_info("etcd: sharing the VIPs of cluster %s under %s through %s (host %s)", c->cluster,
		c->prefix, c->endpoints[0], sh->host);
	sync_start(sh);
	return 0;
}

void shared_stop(struct xlbd *d)
{
	struct shared *sh = d->shared;

	shared_digests_free();
	if (!sh)
		return;
	while (sh->txns) {
		struct txn *t = sh->txns;

		sh->txns = t->next;
		sh_txn_free(t);
	}
	prober_timer_cancel(d->prober, &sh->retry);
	prober_timer_cancel(d->prober, &sh->ka_timer);
	etcd_free(sh->e);
	sh_kr_clear(sh);
	sh_hosts_clear(sh);
	free(sh->published);
	free(sh);
	d->shared = NULL;
}
