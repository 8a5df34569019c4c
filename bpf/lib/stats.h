/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-CPU counters: one verdict reason per packet, events, per-VIP and per-backend totals. */
#ifndef XLB_STATS_H
#define XLB_STATS_H

#include "maps.h"

/* Count a packet (or an event) of @bytes under @reason; per-CPU, so no atomics. */
static __always_inline void stats_reason(__u32 reason, __u64 bytes)
{
	struct xlb_reason_counters *c = bpf_map_lookup_elem(&xlb_stats_reason, &reason);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

static __always_inline void stats_add(void *map, __u32 id, __u64 bytes, __u32 new_flow)
{
	struct xlb_counters *c = bpf_map_lookup_elem(map, &id);

	if (c) {
		c->packets++;
		c->bytes += bytes;
		if (new_flow)	/* (no store for the established packets) */
			c->new_flows++;
	}
}

#endif /* XLB_STATS_H */
