// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The log lines of a change an apply makes (state.c): VIPs and backends added, changed, removed. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "state_int.h"

/* The lines of VIP @v: added (@fv NULL) or changed from @fv, with its backends'. */
void state_log_vip(const struct xlb_cfg_vip *fv, const struct xlb_cfg_vip *v, bool adopting)
{
	char name[96], a[INET6_ADDRSTRLEN];
	struct xlb_vip nv, ov;

	xlb_vip_name(v, name, sizeof(name));
	if (!fv) {
		pr_info("vip %s added (id %u, mode %s, hash %s, M=%u, %zu backends)", name, v->id,
			xlb_cfg_mode_name(v->mode), xlb_cfg_hash_name(v->hash), v->table_size,
			v->nbackends);
	} else if (adopting) {
		return;
	} else {
		state_vip_value(v, &nv);
		state_vip_value(fv, &ov);
		if (memcmp(&nv, &ov, sizeof(nv)))
			pr_info("vip %s changed (mode %s, hash %s, M=%u)", name,
				xlb_cfg_mode_name(v->mode), xlb_cfg_hash_name(v->hash), v->table_size);
	}
	for (size_t j = 0; j < v->nbackends; j++) {
		const struct xlb_cfg_backend *b = &v->backends[j];
		int fj = fv ? xlb_cfg_find_backend(fv, b->family, b->addr, b->port) : -1;
		const struct xlb_cfg_backend *ob = fj >= 0 ? &fv->backends[fj] : NULL;

		xlb_addr_format(b->addr, b->family, a, sizeof(a));
		/* a new VIP's line gives its backend count: theirs only in debug */
		if (!ob)
			xlb_log(fv ? XLB_LOG_INFO : XLB_LOG_DEBUG,
				"vip %s: backend %s port %u added (id %u, weight %u, %s)", name, a,
				b->port, b->id, b->weight, xlb_cfg_state_name(b->state));
		else if (ob->weight != b->weight || ob->state != b->state)
			pr_info("vip %s: backend %s port %u: weight %u -> %u, %s -> %s", name, a,
				b->port, ob->weight, b->weight, xlb_cfg_state_name(ob->state),
				xlb_cfg_state_name(b->state));
	}
}

/* The backends VIP @fv had that @v (the same VIP, changed) no longer has. */
void state_log_backends_gone(const struct xlb_cfg_vip *fv, const struct xlb_cfg_vip *v)
{
	char name[96], a[INET6_ADDRSTRLEN];

	xlb_vip_name(fv, name, sizeof(name));
	for (size_t j = 0; j < fv->nbackends; j++) {
		const struct xlb_cfg_backend *b = &fv->backends[j];

		if (xlb_cfg_find_backend(v, b->family, b->addr, b->port) < 0)
			pr_info("vip %s: backend %s port %u removed (id %u)", name,
				xlb_addr_format(b->addr, b->family, a, sizeof(a)), b->port, b->id);
	}
}

/* One line per VIP and backend added, changed or removed; adopting: VIPs only (weights unknown). */
void state_log_removed(const struct xlb_cfg_vip *fv)
{
	char name[96];

	pr_info("vip %s removed (id %u, %zu backends)", xlb_vip_name(fv, name, sizeof(name)),
		fv->id, fv->nbackends);
}

void state_log_changes(const struct xlb_cfg *from, const struct xlb_cfg *to, bool adopting)
{
	struct vip_index fx = {}, tx = {};
	size_t i;

	if (vip_index_init(&fx, from) || vip_index_init(&tx, to)) {
		pr_warn("changes not logged: out of memory");
		goto out;
	}
	for (i = 0; i < to->nvips; i++) {
		int fi = vip_index_find(&fx, &to->vips[i]);

		state_log_vip(fi >= 0 ? &from->vips[fi] : NULL, &to->vips[i], adopting);
	}
	for (i = 0; from && i < from->nvips; i++) {
		const struct xlb_cfg_vip *fv = &from->vips[i];
		int ti = vip_index_find(&tx, fv);

		if (!fv->id_set)
			continue;
		if (ti < 0)
			state_log_removed(fv);
		else if (!adopting)
			state_log_backends_gone(fv, &to->vips[ti]);
	}
out:
	vip_index_free(&fx);
	vip_index_free(&tx);
}
