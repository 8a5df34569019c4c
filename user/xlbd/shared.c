// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The VIPs shared through etcd: seeding, the whole prefix read, the watch, applying what changes,
 * the lease and this host's report. Over 600 lines: one state machine (connect, sync, watch,
 * lease, publish, fail, retry) whose parts share its timers and requests.
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

/* ------------------------------------------------------------------ key revisions */

static size_t key_hash(const char *s)
{
	size_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static struct keyrev *kr_slot(struct shared *sh, const char *key)
{
	size_t i;

	if (!sh->kr_cap)
		return NULL;
	for (i = key_hash(key) & (sh->kr_cap - 1); sh->kr[i].key; i = (i + 1) & (sh->kr_cap - 1))
		if (!strcmp(sh->kr[i].key, key))
			return &sh->kr[i];
	return &sh->kr[i];
}

long long sh_kr_get(struct shared *sh, const char *key)
{
	struct keyrev *k = kr_slot(sh, key);

	return k && k->key ? k->mod : 0;
}

static void kr_clear(struct shared *sh)
{
	for (size_t i = 0; i < sh->kr_cap; i++)
		free(sh->kr[i].key);
	free(sh->kr);
	sh->kr = NULL;
	sh->kr_n = sh->kr_cap = 0;
}

static int kr_set(struct shared *sh, const char *key, long long mod)
{
	struct keyrev *k;

	if ((sh->kr_n + 1) * 2 > sh->kr_cap) {
		struct keyrev *old = sh->kr;
		size_t ocap = sh->kr_cap, cap = ocap ? ocap * 2 : 64;

		sh->kr = calloc(cap, sizeof(*sh->kr));
		if (!sh->kr) {
			sh->kr = old;
			return -ENOMEM;
		}
		sh->kr_cap = cap;
		for (size_t i = 0; i < ocap; i++)
			if (old[i].key)
				*kr_slot(sh, old[i].key) = old[i];
		free(old);
	}
	k = kr_slot(sh, key);
	if (!k->key) {
		k->key = strdup(key);
		if (!k->key)
			return -ENOMEM;
		sh->kr_n++;
	}
	k->mod = mod;
	return 0;
}

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

static void host_free(struct host *h)
{
	free(h->name);
	json_decref(h->digests);
	json_decref(h->down);
}

/* The reports of the hosts changed: every VIP's weights may have (shared_backend_down()). */
void sh_all_dirty(struct shared *sh)
{
	for (size_t i = 0; sh->d->cfg && i < sh->d->cfg->nvips; i++)
		state_dirty(sh->d, &sh->d->cfg->vips[i]);
}

static void hosts_clear(struct shared *sh)
{
	for (size_t i = 0; i < sh->nhosts; i++)
		host_free(&sh->hosts[i]);
	free(sh->hosts);
	sh->hosts = NULL;
	sh->nhosts = 0;
}

/* hosts/NAME set to @value (JSON text) or deleted (NULL). */
static void host_update(struct shared *sh, const char *name, const char *value)
{
	json_t *j = value ? json_loads(value, 0, NULL) : NULL;
	size_t i;

	for (i = 0; i < sh->nhosts; i++)
		if (!strcmp(sh->hosts[i].name, name))
			break;
	if (i < sh->nhosts && !j) {
		host_free(&sh->hosts[i]);
		sh->hosts[i] = sh->hosts[--sh->nhosts];
		sh_all_dirty(sh);	/* a host fewer: the majority moves */
	}
	if (!json_is_object(j)) {
		json_decref(j);
		return;
	}
	if (i == sh->nhosts) {
		struct host *n = realloc(sh->hosts, (sh->nhosts + 1) * sizeof(*n));

		if (!n) {
			json_decref(j);
			return;
		}
		sh->hosts = n;
		memset(&n[i], 0, sizeof(n[i]));
		n[i].name = strdup(name);
		if (!n[i].name) {
			json_decref(j);
			return;
		}
		sh->nhosts++;
	}
	json_decref(sh->hosts[i].digests);
	sh->hosts[i].revision = etcd_int(json_object_get(j, "revision"), 0);
	sh->hosts[i].digests = json_incref(json_object_get(j, "digests"));
	{
		json_t *down = json_object(), *e;
		size_t k;

		json_array_foreach(json_object_get(j, "down"), k, e)
			if (json_is_string(e))
				json_object_set_new(down, json_string_value(e), json_true());
		if (!sh->hosts[i].down || !json_equal(down, sh->hosts[i].down) ||
		    i == sh->nhosts - 1)
			sh_all_dirty(sh);
		json_decref(sh->hosts[i].down);
		sh->hosts[i].down = down;
	}
	json_decref(j);
}

/* ------------------------------------------------------------------ applying etcd's VIPs */

/* A VIP from its key's name and its value: 0 or -EINVAL with @err. */
static int vip_from(const char *name, const char *value, struct xlb_cfg_vip *v, char *err,
		    size_t errlen)
{
	struct xlb_cfg_errors e = {};
	__be32 addr[4];
	__u8 fam, proto;
	uint16_t port;
	json_t *j;
	int ret;

	if (xlb_vip_name_parse(name, addr, &fam, &port, &proto)) {
		snprintf(err, errlen, "not a VIP name");
		return -EINVAL;
	}
	j = json_loads(value, 0, NULL);
	if (!j) {
		snprintf(err, errlen, "not JSON");
		return -EINVAL;
	}
	xlb_cfg_vip_init(v);
	ret = xlb_cfg_vip_from_json(j, "", v, &e);
	json_decref(j);
	if (ret) {
		xlb_cfg_errors_first(&e, err, errlen);
		xlb_cfg_errors_free(&e);
		return -EINVAL;
	}
	if (v->family != fam || v->port != port || v->proto != proto || memcmp(v->addr, addr, 16)) {
		xlb_cfg_vip_release(v);
		snprintf(err, errlen, "the value is another VIP than the key names");
		return -EINVAL;
	}
	return 0;
}

/* Room for one more VIP in @to. */
static int vips_grow(struct xlb_cfg *to)
{
	struct xlb_cfg_vip *n = realloc(to->vips, (to->nvips + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	to->vips = n;
	return 0;
}

/*
 * Changes of keys at revision @rev: @ev is [[key, value or null, mod_revision], ...]. The VIPs
 * go into one copy of the running config, committed once through the API's path (by ops: each
 * VIP validated by the file parser's per-object function, stamped). Keys this host has applied
 * at that revision or later are skipped (its own transactions come back through the watch).
 * Returns 0 or -errno with @err.
 */
int sh_apply_events(struct shared *sh, json_t *ev, long long rev, char *err, size_t errlen)
{
	struct xlbd *d = sh->d;
	size_t vpl = strlen(sh->pfx) + 5, hpl = strlen(sh->pfx) + 6, i, changed = 0;
	__u64 since = d->stamp_seq;
	struct xlb_cfg *to = NULL;
	json_t *e;
	int ret = 0;

	json_array_foreach(ev, i, e) {
		const char *key = json_string_value(json_array_get(e, 0));
		const char *value = json_string_value(json_array_get(e, 1));
		long long mod = etcd_int(json_array_get(e, 2), rev);
		struct xlb_cfg_vip v;
		char why[256];
		int k;

		if (!key || strncmp(key, sh->pfx, strlen(sh->pfx)))
			continue;
		if (!strncmp(key + strlen(sh->pfx), "hosts/", 6)) {
			host_update(sh, key + hpl, value);
			continue;
		}
		if (strncmp(key + strlen(sh->pfx), "vips/", 5) || mod <= sh_kr_get(sh, key))
			continue;
		kr_set(sh, key, mod);
		if (!to && !(to = xlb_cfg_dup(d->cfg))) {
			ret = -ENOMEM;
			break;
		}
		if (!value) {
			if (xlb_vip_name_parse(key + vpl, v.addr, &v.family, &v.port, &v.proto))
				continue;
			k = xlb_cfg_find_vip(to, v.family, v.addr, v.port, v.proto);
			if (k < 0)
				continue;
			xlb_cfg_vip_release(&to->vips[k]);
			memmove(&to->vips[k], &to->vips[k + 1],
				(to->nvips - k - 1) * sizeof(to->vips[0]));
			to->nvips--;
			changed++;
			continue;
		}
		if (vip_from(key + vpl, value, &v, why, sizeof(why))) {
			xlbd_event(d, XLB_LOG_WARN, "etcd: %s at revision %lld: %s; ignored", key,
				   mod, why);
			continue;
		}
		k = xlb_cfg_find_vip(to, v.family, v.addr, v.port, v.proto);
		if (k >= 0) {
			xlb_cfg_vip_release(&to->vips[k]);
		} else if (vips_grow(to)) {
			xlb_cfg_vip_release(&v);
			ret = -ENOMEM;
			break;
		} else {
			k = to->nvips++;
		}
		to->vips[k] = v;
		state_stamp(d, &to->vips[k]);
		changed++;
	}
	if (rev > sh->revision)
		sh->revision = rev;
	if (ret || !changed) {
		xlb_cfg_free(to);
		if (ret)
			snprintf(err, errlen, "out of memory");
		return ret;
	}
	ret = state_commit(d, to, true, since, err, errlen);
	if (ret) {
		snprintf(sh->apply_error, sizeof(sh->apply_error), "revision %lld: %.400s", rev, err);
		xlbd_event(d, XLB_LOG_WARN, "etcd: cannot apply revision %lld: %s", rev, err);
		return ret;
	}
	sh->applied++;
	sh->apply_error[0] = '\0';
	sh->publish_dirty = true;
	d->announce_dirty = true;
	xlbd_event(d, XLB_LOG_INFO, "etcd: revision %lld applied (%zu VIPs changed)", rev, changed);
	return 0;
}

/*
 * The whole shared state read (at connect): the VIPs become etcd's, through the validation
 * of a whole file; a VIP equal to the running one keeps its id and stamp.
 */
static void apply_full(struct shared *sh, json_t *kvs, long long rev)
{
	struct xlbd *d = sh->d;
	size_t vpl = strlen(sh->pfx) + 5, i, n = 0, changed = 0;
	struct xlb_cfg *to = xlb_cfg_dup(d->cfg);
	struct xlb_cfg_vip *nv = calloc(json_array_size(kvs) + 1, sizeof(*nv));
	bool *kept = to ? calloc(to->nvips + 1, sizeof(*kept)) : NULL;
	char err[512];
	json_t *kv;

	if (!to || !nv || !kept) {
		sh_fail(sh, "out of memory");
		goto out;
	}
	kr_clear(sh);
	hosts_clear(sh);
	json_array_foreach(kvs, i, kv) {
		char *key = etcd_unb64(json_string_value(json_object_get(kv, "key")) ?: "", NULL);
		char *value = etcd_unb64(json_string_value(json_object_get(kv, "value")) ?: "",
					 NULL);
		long long mod = etcd_int(json_object_get(kv, "mod_revision"), 0);
		struct xlb_cfg_vip v;
		int k;

		if (!key || !value || strncmp(key, sh->pfx, strlen(sh->pfx)))
			goto next;
		if (!strncmp(key + strlen(sh->pfx), "hosts/", 6)) {
			host_update(sh, key + strlen(sh->pfx) + 6, value);
			goto next;
		}
		if (strncmp(key + strlen(sh->pfx), "vips/", 5))
			goto next;
		kr_set(sh, key, mod);
		if (vip_from(key + vpl, value, &v, err, sizeof(err))) {
			xlbd_event(d, XLB_LOG_WARN, "etcd: %s at revision %lld: %s; ignored", key,
				   mod, err);
			goto next;
		}
		k = xlb_cfg_find_vip(to, v.family, v.addr, v.port, v.proto);
		if (k >= 0 && !kept[k]) {
			json_t *a = xlb_cfg_vip_to_json(&v, true);
			json_t *b = xlb_cfg_vip_to_json(&to->vips[k], true);

			if (json_equal(a, b)) {
				xlb_cfg_vip_release(&v);
				v = to->vips[k];	/* its id, stamp and backends' ids */
				kept[k] = true;
			}
			json_decref(a);
			json_decref(b);
		}
		if (!v.stamp) {
			state_stamp(d, &v);
			changed++;
		}
		nv[n++] = v;
next:
		free(key);
		free(value);
	}
	for (i = 0; i < to->nvips; i++) {
		if (!kept[i]) {
			xlb_cfg_vip_release(&to->vips[i]);
			changed++;
		}
	}
	free(to->vips);
	to->vips = nv;
	to->nvips = n;
	nv = NULL;
	if (rev > sh->revision || sh->state != SH_CONNECTED)
		sh->revision = rev;
	if (!changed) {
		xlb_cfg_free(to);
	} else if (state_commit(d, to, false, 0, err, sizeof(err))) {
		snprintf(sh->apply_error, sizeof(sh->apply_error), "revision %lld: %.400s", rev, err);
		xlbd_event(d, XLB_LOG_WARN, "etcd: cannot apply revision %lld: %s", rev, err);
	} else {
		sh->applied++;
		sh->apply_error[0] = '\0';
		d->announce_dirty = true;
		xlbd_event(d, XLB_LOG_INFO, "etcd: revision %lld applied (the cluster's %zu VIPs, "
			   "%zu changed here)", rev, n, changed);
	}
	to = NULL;
	sh->publish_dirty = true;
out:
	xlb_cfg_free(to);
	free(nv);
	free(kept);
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
	apply_full(sh, kvs, rev);
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
	kr_clear(sh);
	hosts_clear(sh);
	free(sh->published);
	free(sh);
	d->shared = NULL;
}
