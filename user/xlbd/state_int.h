/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the files of xlbd's reconciliation have in common (state.c: the desired values, the
 * interfaces, the backend, VIP and removal passes, apply; state_tables.c: the Maglev tables
 * pass; state_log.c: the log lines of a change).
 */
#ifndef XLBD_STATE_INT_H
#define XLBD_STATE_INT_H

#include <stdbool.h>

#include "xlbd.h"

/* The VIP entry the datapath should hold for @v (state.c). */
void state_vip_value(const struct xlb_cfg_vip *v, struct xlb_vip *val);

/*
 * Tables of the VIPs of @cfg selected by @only (NULL: all), built and swapped in chunks; one
 * progress line per second of a long pass (state_tables.c). 0 or -errno.
 */
int state_tables_pass(struct xlbd *d, const struct xlb_cfg *cfg, const bool *only);

/* ---- state_log.c */

/* The lines of VIP @v: added (@fv NULL) or changed from @fv, with its backends'. */
void state_log_vip(const struct xlb_cfg_vip *fv, const struct xlb_cfg_vip *v, bool adopting);
/* The backends VIP @fv had that @v (the same VIP, changed) no longer has. */
void state_log_backends_gone(const struct xlb_cfg_vip *fv, const struct xlb_cfg_vip *v);
/* One line: VIP @fv (with an id) removed. */
void state_log_removed(const struct xlb_cfg_vip *fv);
/* One line per VIP and backend added, changed or removed; adopting: VIPs only (weights unknown). */
void state_log_changes(const struct xlb_cfg *from, const struct xlb_cfg *to, bool adopting);

#endif
