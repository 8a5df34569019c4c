// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlbd changes: commit through the API (validate, write, apply, rename or roll back), reload, rates. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared.h"
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

/*
 * The file text of @to. A VIP's part is kept in its runtime state for its stamp: a change
 * serializes only the VIPs it touched (a new one, without an id yet, is made each time until
 * it has one), the rest is a concatenation.
 */
static char *config_text(struct xlbd *d, const struct xlb_cfg *to, size_t *len)
{
	const char **parts = calloc(to->nvips + 1, sizeof(*parts));
	char *text;

	if (!parts)
		return NULL;
	for (size_t i = 0; i < to->nvips; i++) {
		const struct xlb_cfg_vip *v = &to->vips[i];
		struct xlbd_vip_rt *rt;

		if (!v->stamp || !v->id_set || v->id >= d->max_vips)
			continue;
		rt = &d->vip_rt[v->id];
		if (!rt->file_text || rt->file_stamp != v->stamp) {
			free(rt->file_text);
			rt->file_text = xlb_cfg_vip_text(v);
			rt->file_stamp = v->stamp;
		}
		parts[i] = rt->file_text;
	}
	text = xlb_cfg_text(to, parts, len);
	free(parts);
	return text;
}

/* state_check(); by ops with @since: only the VIPs stamped after it changed (in place). */
static int check(const struct xlbd *d, const struct xlb_cfg *to, bool by_ops, bool only_since,
		 __u64 since, char *errbuf, size_t errlen)
{
	struct xlb_cfg_errors e = {};
	struct xlb_cfg *check;
	size_t nbe = 0;
	__u32 max_vips, max_be;
	json_t *j;

	/*
	 * The whole new configuration must pass the same validation as a file. Changes made by
	 * API ops already did, object by object: every VIP or backend an op adds or changes went
	 * through xlb_cfg_vip_from_json() / xlb_cfg_backend_from_json() against its VIP as it
	 * stands, which is what the file parser runs per object; a removal cannot make a valid
	 * configuration invalid; the top-level keys are the running config's, which passed. What
	 * the parser checks across objects is checked here (the counts, and the MTU and the
	 * encapsulation sources against the VIPs: xlb_cfg_check_vips()) and by the ops (a VIP or
	 * a backend given twice). So the JSON roundtrip, which grows with the configuration (about
	 * 0.1 s at 1,000 VIPs x 10 backends), is done only for a configuration made otherwise.
	 * The API fuzzer (tests/fuzz/fuzz_api.c) holds whatever ops produce to that claim.
	 */
	if (by_ops && (only_since ? xlb_cfg_check_vips_since(to, since, &e) :
				    xlb_cfg_check_vips(to, &e))) {
		xlb_cfg_errors_first(&e, errbuf, errlen);
		xlb_cfg_errors_free(&e);
		return -EINVAL;
	}
	if (!by_ops) {
		j = xlb_cfg_to_json(to);
		check = xlb_cfg_from_json(j, &e);
		json_decref(j);
		if (!check) {
			xlb_cfg_errors_first(&e, errbuf, errlen);
			xlb_cfg_errors_free(&e);
			return -EINVAL;
		}
		xlb_cfg_free(check);
	}
	/* the datapath's sizes count (an adopted one keeps its own), and the file's keys */
	for (size_t i = 0; i < to->nvips; i++)
		nbe += to->vips[i].nbackends;
	max_vips = d->max_vips < to->max_vips ? d->max_vips : to->max_vips;
	max_be = (d->max_backends < to->max_backends ? d->max_backends : to->max_backends) - 1;
	if (to->nvips > max_vips || nbe > max_be) {
		snprintf(errbuf, errlen, "vips: at most %u VIPs and %u backends in all (max_vips, "
			 "max_backends - 1), %zu and %zu given", max_vips, max_be, to->nvips, nbe);
		return -ENOSPC;
	}
	return 0;
}

int state_check(const struct xlbd *d, const struct xlb_cfg *to, bool by_ops, char *errbuf,
		size_t errlen)
{
	return check(d, to, by_ops, false, 0, errbuf, errlen);
}

/* The op took VIP @u->index out (vip_del). */
static bool undo_removed(const struct xlbd *d, const struct cfg_undo *u)
{
	return u->index >= 0 && d->cfg->nvips < u->nvips;
}

/* What a commit applies: the datapath from d->cfg to @to (by ops: only what they touched). */
struct commit_apply {
	struct xlb_cfg *to;
	bool by_ops;
	__u64 since;
	struct cfg_undo *u;	/* in place (@to is d->cfg): the op's VIP as it was */
};

static int commit_apply(struct xlbd *d, const struct commit_apply *c)
{
	if (!c->u)
		return c->by_ops ? state_apply_ops(d, d->cfg, c->to, c->since) :
				   state_apply(d, d->cfg, c->to);
	/* the former selves of the touched VIPs are all state_apply_touched() looks up */
	return undo_removed(d, c->u) ? state_apply_removed(d, &c->u->vip) :
				       state_apply_touched(d, &c->u->former, d->cfg, c->since);
}

/*
 * The file written (not yet renamed) before the datapath changes, so that a full disk changes
 * nothing; then the apply, then the rename. 0, or -errno with @errbuf set and *@applied
 * telling whether the datapath may hold part of the change (to roll back). t[0..2]: when the
 * file was written, applied, renamed (ms since @t0).
 */
static int save_apply(struct xlbd *d, const struct commit_apply *c, const struct timespec *t0,
		      double *t, bool *applied, char *errbuf, size_t errlen)
{
	char *tmp, *text;
	size_t len;
	int err;

	*applied = false;
	text = config_text(d, c->to, &len);
	err = text ? xlb_cfg_save_text_begin(text, len, d->config_path, &tmp) : -ENOMEM;
	free(text);
	t[0] = state_elapsed_ms_f(t0);
	if (err) {
		snprintf(errbuf, errlen, "cannot write %s: %s (nothing changed)", d->config_path,
			 strerror(-err));
		pr_warn("%s", errbuf);
		return err;
	}
	*applied = true;
	err = commit_apply(d, c);
	if (err) {
		xlb_cfg_save_abort(tmp);
		snprintf(errbuf, errlen, "datapath update failed: %s", strerror(-err));
		return err;
	}
	t[1] = state_elapsed_ms_f(t0);
	err = xlb_cfg_save_finish(tmp, d->config_path);
	if (err) {
		snprintf(errbuf, errlen, "cannot write %s: %s (change rolled back)", d->config_path,
			 strerror(-err));
		pr_warn("%s", errbuf);
		return err;
	}
	t[2] = state_elapsed_ms_f(t0);
	return 0;
}

static void commit_log(const char *how, double t_check, const double *t,
		       const struct timespec *t0, size_t nvips)
{
	pr_debug("commit%s: checked in %.2f ms, written in %.2f, applied in %.2f, renamed and "
		 "synced in %.2f, checks synced in %.2f (%zu VIPs)", how, t_check, t[0] - t_check,
		 t[1] - t[0], t[2] - t[1], state_elapsed_ms_f(t0) - t[2], nvips);
}

int state_commit(struct xlbd *d, struct xlb_cfg *to, bool by_ops, __u64 since, char *errbuf,
		 size_t errlen)
{
	struct commit_apply c = { .to = to, .by_ops = by_ops, .since = since };
	double t_check, t[3];
	struct timespec t0;
	bool applied = false;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = state_check(d, to, by_ops, errbuf, errlen);
	t_check = state_elapsed_ms_f(&t0);
	if (!err)
		err = save_apply(d, &c, &t0, t, &applied, errbuf, errlen);
	if (err) {
		if (applied) {
			if (state_apply(d, to, d->cfg))
				pr_warn("rollback incomplete: the datapath may differ from the running "
					"config");
			checks_sync(d);	/* a removal applied dropped its backends' checkers */
		}
		xlb_cfg_free(to);
		return err;
	}
	xlb_cfg_free(d->cfg);
	d->cfg = to;
	if (by_ops)
		checks_sync_since(d, since);
	else
		checks_sync(d);
	commit_log("", t_check, t, &t0, to->nvips);
	return 0;
}

void state_undo_begin(struct xlbd *d, struct cfg_undo *u, int index)
{
	memset(u, 0, sizeof(*u));
	u->former = *d->cfg;
	u->former.vips = &u->vip;
	u->former.nvips = index >= 0;
	u->index = index;
	u->nvips = d->cfg->nvips;
	if (index >= 0)
		xlb_cfg_vip_share(&u->vip, &d->cfg->vips[index]);
}

/* The op's change is kept: drop the former VIP. */
static void undo_end(struct cfg_undo *u)
{
	if (u->index >= 0)
		xlb_cfg_vip_release(&u->vip);
	u->index = -1;
}

void state_undo_restore(struct xlbd *d, struct cfg_undo *u)
{
	struct xlb_cfg_vip *vips = d->cfg->vips;

	while (d->cfg->nvips > u->nvips)
		xlb_cfg_vip_release(&vips[--d->cfg->nvips]);
	if (undo_removed(d, u)) {
		/* back in its place (the array kept its room: it only shrank) */
		memmove(&vips[u->index + 1], &vips[u->index],
			(d->cfg->nvips - u->index) * sizeof(*vips));
		vips[u->index] = u->vip;	/* the reference of its backends moves back */
		d->cfg->nvips++;
		u->index = -1;
	}
	if (u->index >= 0 && (size_t)u->index < d->cfg->nvips) {
		xlb_cfg_vip_release(&d->cfg->vips[u->index]);
		d->cfg->vips[u->index] = u->vip;	/* its backends reference moves back */
		u->index = -1;
	}
	undo_end(u);
}

int state_commit_in_place(struct xlbd *d, struct cfg_undo *u, __u64 since, char *errbuf,
			  size_t errlen)
{
	struct commit_apply c = { .to = d->cfg, .by_ops = true, .since = since, .u = u };
	double t_check, t[3];
	struct xlb_cfg *now;
	struct timespec t0;
	bool applied = false;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = check(d, d->cfg, true, true, since, errbuf, errlen);
	t_check = state_elapsed_ms_f(&t0);
	if (!err)
		err = save_apply(d, &c, &t0, t, &applied, errbuf, errlen);
	if (err && !applied) {
		state_undo_restore(d, u);
		return err;
	}
	if (err) {
		/* the datapath may hold some of the change: from there back to the config as it was */
		now = xlb_cfg_dup(d->cfg);
		state_undo_restore(d, u);
		if (!now || state_apply(d, now, d->cfg))
			pr_warn("rollback incomplete: the datapath may differ from the running config");
		checks_sync(d);	/* a removal applied dropped its backends' checkers */
		xlb_cfg_free(now);
		return err;
	}
	undo_end(u);
	checks_sync_since(d, since);
	commit_log(" in place", t_check, t, &t0, d->cfg->nvips);
	return 0;
}

void state_progress(struct xlbd *d, const char *what)
{
	d->progress_what = what;
	d->progress_done = d->progress_total = 0;
	clock_gettime(CLOCK_MONOTONIC, &d->progress_since);
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
	if (shared_reload(d, to)) {
		pr_warn("reload: out of memory, keeping the running configuration");
		xlb_cfg_free(to);
		return;
	}
	if (xlb_cfg_equal(d->cfg, to)) {
		pr_info("reload: no change");
		xlb_cfg_free(to);
		return;
	}
	state_progress(d, "reload");
	err = state_apply(d, d->cfg, to);
	state_progress(d, NULL);
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

/* Read ids @lo .. @hi of one kind into *@out (a range, or id by id when sparse). */
static int read_range(struct xlbd *d, bool vip, __u32 lo, __u32 hi, size_t count,
		      struct xlb_counters **out)
{
	__u32 n = hi - lo + 1;

	*out = calloc(n, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	/* a range read costs its span: worth it unless the ids are sparse */
	if (n <= 4 * count + 1024)
		return vip ? xlb_stats__vip_range(d->x, lo, n, *out) :
			     xlb_stats__backend_range(d->x, lo, n, *out);
	return 1;
}

int state_counters_read(struct xlbd *d, const struct xlb_cfg_vip *only, struct state_counters *sc)
{
	__u32 vlo = UINT32_MAX, vhi = 0, blo = UINT32_MAX, bhi = 0;
	size_t i, j, nv = 0, nb = 0;
	int err = 0, rv = 0, rb = 0;

	memset(sc, 0, sizeof(*sc));
	for (i = 0; i < d->cfg->nvips; i++) {
		const struct xlb_cfg_vip *v = &d->cfg->vips[i];

		if (only && only != v)
			continue;
		vlo = v->id < vlo ? v->id : vlo;
		vhi = v->id > vhi ? v->id : vhi;
		nv++;
		for (j = 0; j < v->nbackends; j++, nb++) {
			blo = v->backends[j].id < blo ? v->backends[j].id : blo;
			bhi = v->backends[j].id > bhi ? v->backends[j].id : bhi;
		}
	}
	if (nv && (rv = read_range(d, true, vlo, vhi, nv, &sc->vip)) < 0)
		err = rv;
	if (!err && nb && (rb = read_range(d, false, blo, bhi, nb, &sc->be)) < 0)
		err = rb;
	if (err) {
		state_counters_free(sc);
		return err;
	}
	sc->vlo = vlo, sc->vn = nv ? vhi - vlo + 1 : 0;
	sc->blo = blo, sc->bn = nb ? bhi - blo + 1 : 0;
	/* sparse ids: one lookup per id, as before */
	for (i = 0; (rv || rb) && i < d->cfg->nvips; i++) {
		const struct xlb_cfg_vip *v = &d->cfg->vips[i];

		if (only && only != v)
			continue;
		if (rv)
			xlb_stats__vip(d->x, v->id, &sc->vip[v->id - vlo]);
		for (j = 0; rb && j < v->nbackends; j++)
			xlb_stats__backend(d->x, v->backends[j].id,
					   &sc->be[v->backends[j].id - blo]);
	}
	return 0;
}

const struct xlb_counters *state_counters_vip(const struct state_counters *sc, __u32 id)
{
	static const struct xlb_counters zero;

	return sc->vip && id >= sc->vlo && id - sc->vlo < sc->vn ? &sc->vip[id - sc->vlo] : &zero;
}

const struct xlb_counters *state_counters_be(const struct state_counters *sc, __u32 id)
{
	static const struct xlb_counters zero;

	return sc->be && id >= sc->blo && id - sc->blo < sc->bn ? &sc->be[id - sc->blo] : &zero;
}

void state_counters_free(struct state_counters *sc)
{
	free(sc->vip);
	free(sc->be);
	sc->vip = sc->be = NULL;
}

void state_sample(struct xlbd *d)
{
	double dt = d->last_sample.tv_sec ? state_elapsed_ms_f(&d->last_sample) / 1e3 : 0;
	struct state_counters sc;
	size_t i, j;

	clock_gettime(CLOCK_MONOTONIC, &d->last_sample);
	if (state_counters_read(d, NULL, &sc))
		return;
	for (i = 0; i < d->cfg->nvips; i++) {
		struct xlb_cfg_vip *v = &d->cfg->vips[i];

		sample_one(&d->vip_rt[v->id].rate, state_counters_vip(&sc, v->id), dt);
		for (j = 0; j < v->nbackends; j++)
			sample_one(&d->be_rt[v->backends[j].id].rate,
				   state_counters_be(&sc, v->backends[j].id), dt);
	}
	state_counters_free(&sc);
}
