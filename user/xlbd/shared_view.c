// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The shared view as shown: table digests, the hosts' health votes, status and metrics. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_file.h"
#include "shared_int.h"

const char *const shared_state_names[] = { "connecting", "connected", "unreachable" };

static __u64 *idh;	/* digest scratch: a hash per backend id */
static size_t idh_n;

void shared_digests_free(void)
{
	free(idh);
	idh = NULL;
	idh_n = 0;
}

/* A backend's name in the health reports: its VIP's and its own identity. */
static void be_key(const struct xlb_cfg_vip *v, const struct xlb_cfg_backend *b, char *buf,
		   size_t len)
{
	char n[96], a[64];

	snprintf(buf, len, "%s|%s|%u", xlb_vip_name(v, n, sizeof(n)),
		 xlb_addr_format(b->addr, b->family, a, sizeof(a)), b->port);
}

bool shared_backend_down(const struct xlbd *d, const struct xlb_cfg_vip *v,
			 const struct xlb_cfg_backend *b, bool local)
{
	const struct shared *sh = d->shared;
	size_t live = 1, votes = local, i;
	char key[192];

	if (!sh || sh->state != SH_CONNECTED)
		return local;
	be_key(v, b, key, sizeof(key));
	for (i = 0; i < sh->nhosts; i++) {
		if (!strcmp(sh->hosts[i].name, sh->host))
			continue;
		live++;
		votes += json_object_get(sh->hosts[i].down, key) != NULL;
	}
	return votes * 2 > live;
}

/* The backends this host sees failing, for its report. */
json_t *sh_down_list(struct xlbd *d)
{
	json_t *a = json_array();
	char key[192];

	for (size_t i = 0; i < d->cfg->nvips; i++) {
		const struct xlb_cfg_vip *v = &d->cfg->vips[i];

		for (size_t j = 0; j < v->nbackends; j++) {
			const struct xlb_cfg_backend *b = &v->backends[j];

			if (b->check.type == XLB_CHECK_NONE || !b->id ||
			    d->be_rt[b->id].health != XLBD_HEALTH_DOWN)
				continue;
			be_key(v, b, key, sizeof(key));
			json_array_append_new(a, json_string(key));
		}
	}
	return a;
}

/* The digest of VIP @v as shown: its table's, with the hash seed (flows map by both). */
static bool vip_digest(const struct xlbd *d, const struct xlb_cfg_vip *v, char *buf, size_t len)
{
	__u64 h;

	if (!v->id_set || v->id >= d->max_vips || !d->vip_rt[v->id].digest)
		return false;
	h = d->vip_rt[v->id].digest ^ ((__u64)d->cfg->hash_seed * 0x9e3779b97f4a7c15ull);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	snprintf(buf, len, "%016llx", (unsigned long long)h);
	return true;
}

/*
 * What this host publishes per VIP: its digest and the revision of the VIP's key it applied
 * (hosts compare digests only at the same one: the global revision moves with every write).
 */
json_t *sh_digests_object(struct xlbd *d)
{
	json_t *o = json_object();
	char n[96], h[24], key[512];

	for (size_t i = 0; i < d->cfg->nvips; i++) {
		if (!vip_digest(d, &d->cfg->vips[i], h, sizeof(h)))
			continue;
		sh_vip_key(d->shared, &d->cfg->vips[i], key, sizeof(key));
		json_object_set_new(o, xlb_vip_name(&d->cfg->vips[i], n, sizeof(n)),
				    json_pack("{s:s, s:I}", "digest", h, "mod",
					      (json_int_t)sh_kr_get(d->shared, key)));
	}
	return o;
}

/* ------------------------------------------------------------------ digests */

void shared_table_done(struct xlbd *d, const struct xlb_cfg_vip *v, const __u32 *table,
		       const struct xlb_maglev_backend *in, size_t n)
{
	__u64 h = 0xcbf29ce484222325ull ^ v->table_size;
	__u32 m = v->table_size, s;
	size_t i;

	if (idh_n < d->max_backends) {
		__u64 *p = realloc(idh, d->max_backends * sizeof(*p));

		if (!p) {
			d->vip_rt[v->id].digest = 0;
			return;
		}
		idh = p;
		idh_n = d->max_backends;
	}
	/* a backend counts by its identity: ids differ between hosts, addresses do not */
	idh[0] = 0x9e3779b97f4a7c15ull;
	for (i = 0; i < n; i++) {
		__u64 x = 0xcbf29ce484222325ull;
		const __u8 *a = in[i].addr;

		for (int k = 0; k < 16; k++)
			x = (x ^ a[k]) * 0x100000001b3ull;
		x = (x ^ in[i].family) * 0x100000001b3ull;
		x = (x ^ in[i].port) * 0x100000001b3ull;
		if (in[i].id < idh_n)
			idh[in[i].id] = x | 1;
	}
	for (s = 0; s < m; s++)
		h = (h ^ (table[s] < idh_n ? idh[table[s]] : 0)) * 0x100000001b3ull;
	d->vip_rt[v->id].digest = h ? h : 1;
	if (d->shared)
		d->shared->publish_dirty = true;
}

/*
 * Host @i's digest of VIP @name if it applied the same revision of the VIP's key (@mod) as this
 * host; this host's own (@own) for i == nhosts; else NULL.
 */
static const char *host_digest(const struct shared *sh, size_t i, const char *name,
			       long long mod, const char *own)
{
	json_t *e;

	if (i == sh->nhosts)
		return own;
	if (!strcmp(sh->hosts[i].name, sh->host))
		return NULL;
	e = json_object_get(sh->hosts[i].digests, name);
	if (etcd_int(json_object_get(e, "mod"), -1) != mod)
		return NULL;
	return json_string_value(json_object_get(e, "digest"));
}

/* The digest most live hosts at this host's revision of VIP @name publish (@own on a tie). */
static const char *cluster_digest(struct shared *sh, const struct xlb_cfg_vip *v,
				  const char *name, const char *own, size_t *hosts)
{
	const char *best = own;
	size_t best_n = 0, i, j;
	char key[512];
	long long mod;

	sh_vip_key(sh, v, key, sizeof(key));
	mod = sh_kr_get(sh, key);
	*hosts = 0;
	for (i = 0; i <= sh->nhosts; i++) {
		const char *c = host_digest(sh, i, name, mod, own);
		size_t cnt = 0;

		if (!c)
			continue;
		(*hosts)++;
		for (j = 0; j <= sh->nhosts; j++) {
			const char *o = host_digest(sh, j, name, mod, own);

			cnt += o && !strcmp(o, c);
		}
		/* a tie keeps this host's own */
		if (cnt > best_n || (cnt == best_n && c == own)) {
			best = c;
			best_n = cnt;
		}
	}
	return best;
}

json_t *shared_digests_json(struct xlbd *d)
{
	json_t *a = json_array();
	char n[96], h[24];

	for (size_t i = 0; i < d->cfg->nvips; i++) {
		const struct xlb_cfg_vip *v = &d->cfg->vips[i];
		json_t *o;

		if (!vip_digest(d, v, h, sizeof(h)))
			continue;
		xlb_vip_name(v, n, sizeof(n));
		o = json_pack("{s:s, s:s}", "vip", n, "digest", h);
		if (d->shared && d->shared->state == SH_CONNECTED) {
			size_t hosts;
			const char *c = cluster_digest(d->shared, v, n, h, &hosts);

			json_object_set_new(o, "cluster", json_string(c));
			json_object_set_new(o, "hosts", json_integer(hosts));
			json_object_set_new(o, "differs", json_boolean(strcmp(c, h)));
		}
		json_array_append_new(a, o);
	}
	return a;
}

json_t *shared_status_json(struct xlbd *d)
{
	struct shared *sh = d->shared;
	json_t *o, *hosts, *differ;
	char h[24], n[96];
	size_t i;

	if (!sh)
		return NULL;
	hosts = json_array();
	for (i = 0; i < sh->nhosts; i++)
		json_array_append_new(hosts, json_pack("{s:s, s:I}", "name", sh->hosts[i].name,
						       "revision",
						       (json_int_t)sh->hosts[i].revision));
	/* the VIPs whose digest differs from the cluster's */
	differ = json_array();
	for (i = 0; sh->state == SH_CONNECTED && i < d->cfg->nvips; i++) {
		size_t k;

		if (!vip_digest(d, &d->cfg->vips[i], h, sizeof(h)))
			continue;
		xlb_vip_name(&d->cfg->vips[i], n, sizeof(n));
		if (strcmp(cluster_digest(sh, &d->cfg->vips[i], n, h, &k), h))
			json_array_append_new(differ, json_string(n));
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:o, s:I}", "state",
		      shared_state_names[sh->state], "endpoint", etcd_endpoint(sh->e), "cluster",
		      sh->conf.cluster, "host", sh->host, "revision", (json_int_t)sh->revision,
		      "for_s", (json_int_t)((xlbd_now_ms() - sh->since_ms) / 1000), "hosts", hosts,
		      "digests_differ", differ, "conflicts", (json_int_t)sh->conflicts);
	if (sh->why[0] && sh->state != SH_CONNECTED)
		json_object_set_new(o, "error", json_string(sh->why));
	if (sh->apply_error[0])
		json_object_set_new(o, "apply_error", json_string(sh->apply_error));
	return o;
}

char *shared_metrics_text(struct xlbd *d)
{
	struct shared *sh = d->shared;
	char *s = NULL;
	json_t *st;
	size_t differ;

	if (!sh)
		return strdup("");
	st = shared_status_json(d);
	differ = json_array_size(json_object_get(st, "digests_differ"));
	json_decref(st);
	if (asprintf(&s,
		     "# HELP xlb_etcd_up 1 while xlbd is connected to etcd and watches the shared "
		     "configuration, 0 while it forwards with the last one applied.\n"
		     "# TYPE xlb_etcd_up gauge\nxlb_etcd_up %d\n"
		     "# HELP xlb_etcd_revision The etcd revision of the configuration applied.\n"
		     "# TYPE xlb_etcd_revision gauge\nxlb_etcd_revision %lld\n"
		     "# HELP xlb_etcd_applied_total Changes from etcd applied here.\n"
		     "# TYPE xlb_etcd_applied_total counter\nxlb_etcd_applied_total %llu\n"
		     "# HELP xlb_etcd_conflicts_total API changes refused: the shared "
		     "configuration changed since it was read.\n"
		     "# TYPE xlb_etcd_conflicts_total counter\nxlb_etcd_conflicts_total %llu\n"
		     "# HELP xlb_etcd_unreachable_total Times etcd became unreachable.\n"
		     "# TYPE xlb_etcd_unreachable_total counter\nxlb_etcd_unreachable_total %llu\n"
		     "# HELP xlb_etcd_digests_differ VIPs whose table digest differs from the "
		     "cluster's.\n"
		     "# TYPE xlb_etcd_digests_differ gauge\nxlb_etcd_digests_differ %zu\n",
		     sh->state == SH_CONNECTED, sh->revision, (unsigned long long)sh->applied,
		     (unsigned long long)sh->conflicts, (unsigned long long)sh->unreachable,
		     differ) < 0)
		return NULL;
	return s;
}

