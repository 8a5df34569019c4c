// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What etcd holds, applied to this host (shared.c reads it): the revision of each key last
 * applied, the other hosts' reports, and the VIPs: the changes of a watch committed at once,
 * or the whole prefix read on a sync replacing the shared VIPs.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_file.h"
#include "shared_int.h"

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

void sh_kr_clear(struct shared *sh)
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

/* ------------------------------------------------------------------ other hosts' reports */

static void host_free(struct host *h)
{
	free(h->name);
	json_decref(h->digests);
	json_decref(h->down);
}

void sh_hosts_clear(struct shared *sh)
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
void sh_apply_full(struct shared *sh, json_t *kvs, long long rev)
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
	sh_kr_clear(sh);
	sh_hosts_clear(sh);
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
