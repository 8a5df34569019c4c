// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlbd changes: commit through the API (validate, write, apply, rename or roll back), reload, rates. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlbd.h"

__u64 state_elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000ull + (now.tv_nsec - since->tv_nsec) / 1000000;
}

double state_elapsed_ms_f(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1e3 + (now.tv_nsec - since->tv_nsec) / 1e6;
}

int state_commit(struct xlbd *d, struct xlb_cfg *to, char *errbuf, size_t errlen)
{
	struct xlb_cfg_errors e = {};
	struct xlb_cfg *check;
	char *tmp;
	json_t *j;
	int err;

	/* the whole new configuration must pass the same validation as a file */
	j = xlb_cfg_to_json(to);
	check = xlb_cfg_from_json(j, &e);
	json_decref(j);
	if (!check) {
		xlb_cfg_errors_first(&e, errbuf, errlen);
		xlb_cfg_errors_free(&e);
		xlb_cfg_free(to);
		return -EINVAL;
	}
	xlb_cfg_free(check);

	/* written (not yet renamed) before the datapath changes: a full disk changes nothing */
	err = xlb_cfg_save_begin(to, d->config_path, &tmp);
	if (err) {
		snprintf(errbuf, errlen, "cannot write %s: %s (nothing changed)", d->config_path,
			 strerror(-err));
		pr_warn("%s", errbuf);
		xlb_cfg_free(to);
		return err;
	}
	err = state_apply(d, d->cfg, to);
	if (err) {
		xlb_cfg_save_abort(tmp);
		snprintf(errbuf, errlen, "datapath update failed: %s", strerror(-err));
		goto rollback;
	}
	err = xlb_cfg_save_finish(tmp, d->config_path);
	if (err) {
		snprintf(errbuf, errlen, "cannot write %s: %s (change rolled back)", d->config_path,
			 strerror(-err));
		pr_warn("%s", errbuf);
		goto rollback;
	}
	xlb_cfg_free(d->cfg);
	d->cfg = to;
	checks_sync(d);
	return 0;
rollback:
	if (state_apply(d, to, d->cfg))
		pr_warn("rollback incomplete: the datapath may differ from the running config");
	xlb_cfg_free(to);
	return err;
}

void state_reload(struct xlbd *d)
{
	struct xlb_cfg_errors e = {};
	struct xlb_cfg *to;
	char *line, *save = NULL;
	int err;

	pr_info("reload: reading %s", d->config_path);
	to = xlb_cfg_load(d->config_path, &e);
	if (!to) {
		for (line = strtok_r(e.text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			pr_warn("reload: %s", line);
		pr_warn("reload: %u errors, keeping the running configuration", e.count);
		xlb_cfg_errors_free(&e);
		return;
	}
	if (xlb_cfg_equal(d->cfg, to)) {
		pr_info("reload: no change");
		xlb_cfg_free(to);
		return;
	}
	err = state_apply(d, d->cfg, to);
	if (err) {
		pr_warn("reload: failed (%s), restoring the running configuration", strerror(-err));
		if (state_apply(d, to, d->cfg))
			pr_warn("rollback incomplete: the datapath may differ from the running config");
		xlb_cfg_free(to);
		return;
	}
	xlb_cfg_free(d->cfg);
	d->cfg = to;
	checks_sync(d);
	pr_info("reload: done (%zu VIPs)", to->nvips);
}

/* ------------------------------------------------------------------ rates */

static void sample_one(struct xlbd_rate *rt, const struct xlb_counters *c, double dt)
{
	if (rt->sampled && dt > 0 && c->packets >= rt->packets && c->bytes >= rt->bytes) {
		rt->pps = (__u64)((c->packets - rt->packets) / dt + 0.5);
		rt->bps = (__u64)((c->bytes - rt->bytes) * 8 / dt + 0.5);
	} else {
		rt->pps = rt->bps = 0;
	}
	rt->packets = c->packets;
	rt->bytes = c->bytes;
	rt->sampled = true;
}

void state_sample(struct xlbd *d)
{
	struct xlb_counters c;
	double dt = d->last_sample.tv_sec ? state_elapsed_ms_f(&d->last_sample) / 1e3 : 0;
	size_t i, j;

	clock_gettime(CLOCK_MONOTONIC, &d->last_sample);
	for (i = 0; i < d->cfg->nvips; i++) {
		struct xlb_cfg_vip *v = &d->cfg->vips[i];

		if (!xlb_stats__vip(d->x, v->id, &c))
			sample_one(&d->vip_rt[v->id].rate, &c, dt);
		for (j = 0; j < v->nbackends; j++)
			if (!xlb_stats__backend(d->x, v->backends[j].id, &c))
				sample_one(&d->be_rt[v->backends[j].id].rate, &c, dt);
	}
}
