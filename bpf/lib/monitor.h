/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The packet-decision monitor: filtered, sampled decision records into a ring buffer. */
#ifndef XLB_MONITOR_H
#define XLB_MONITOR_H

#include "maps.h"
#include "parse.h"

/*
 * The monitor's switch and filters, written by xlbd only (on while a monitor client runs).
 * With .on clear, the cost per packet is this inlined array read and one branch.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_mon_cfg);
} xlb_monitor SEC(".maps");

/* Decision records (struct xlb_mon_event) for xlbd, which forwards them to its monitor clients. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XLB_MON_RING_BYTES);
} xlb_mon_ring SEC(".maps");

/* Per-CPU: packets matched, events written, events lost to a full ring; the sampling count. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_mon_counters);
} xlb_mon_stats SEC(".maps");

static __always_inline bool mon_addr_eq(const __be32 *a, const __be32 *b)
{
	return !((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]));
}

/*
 * monitor_emit() - the part that runs only while a monitor is on: filters, sampling, the
 * record. Not inlined, so that the packet path carries none of it.
 */
static __noinline int monitor_emit(struct xdp_md *ctx, const struct xlb_pkt *p, __u32 reason,
				   __u32 bytes, const struct xlb_mon_cfg *cfg)
{
	struct xlb_mon_counters *st;
	struct xlb_mon_event *ev;
	__u32 zero = 0, *m;
	void *table;

	if (cfg->reasons && !(cfg->reasons & (1U << (reason & 31))))
		return 0;
	if (cfg->vip_id != XLB_MON_ANY_VIP && (!p->has_vip || p->vip_id != cfg->vip_id))
		return 0;
	if (cfg->family && (p->key.family != cfg->family ||
			    (!mon_addr_eq(p->key.src, cfg->addr) && !mon_addr_eq(p->key.dst, cfg->addr))))
		return 0;
	st = bpf_map_lookup_elem(&xlb_mon_stats, &zero);
	if (!st)
		return 0;
	st->matched++;
	if (cfg->sample > 1) {
		if (st->countdown > 1) {
			st->countdown--;
			return 0;
		}
		st->countdown = cfg->sample;
	}
	ev = bpf_ringbuf_reserve(&xlb_mon_ring, sizeof(*ev), 0);
	if (!ev) {
		st->lost++;
		return 0;
	}
	ev->ts_ns = bpf_ktime_get_ns();
	__builtin_memcpy(&ev->key, &p->key, sizeof(ev->key));
	ev->vip_id = p->vip_id;
	ev->backend_id = p->be_id;
	ev->slot = 0;
	ev->hash = p->hash;
	ev->len = bytes;
	ev->ifindex = ctx->ingress_ifindex;
	ev->reason = reason;
	ev->flags = (p->has_vip ? XLB_MON_F_VIP : 0) | (p->frag ? XLB_MON_F_FRAG : 0) |
		    (p->icmp ? XLB_MON_F_ICMP : 0);
	ev->cpu = bpf_get_smp_processor_id();
	if (p->flow_hit) {
		ev->flags |= XLB_MON_F_FLOW_HIT;
	} else if (p->be_id && p->has_vip) {
		/* the slot the Maglev pick used: M is slot 0 of the VIP's table */
		__u32 vip_id = p->vip_id;

		table = bpf_map_lookup_elem(&xlb_maglev, &vip_id);
		m = table ? bpf_map_lookup_elem(table, &zero) : NULL;
		if (m && *m) {
			ev->slot = p->hash % *m;
			ev->flags |= XLB_MON_F_MAGLEV;
		}
	}
	/*
	 * No wakeup per record (an interrupt each, more than the record costs): xlbd drains the
	 * ring on a short timer and is woken only once an eighth of the ring is waiting.
	 */
	bpf_ringbuf_submit(ev, bpf_ringbuf_query(&xlb_mon_ring, BPF_RB_AVAIL_DATA) >=
				       XLB_MON_RING_BYTES / 8 ? BPF_RB_FORCE_WAKEUP :
								BPF_RB_NO_WAKEUP);
	st->emitted++;
	return 0;
}

/*
 * monitor_on() - the monitor's configuration while one is on, else NULL; read once per packet,
 * before it is parsed. The entry point then calls monitor_emit() where the verdict is counted.
 */
static __always_inline const struct xlb_mon_cfg *monitor_on(void)
{
	__u32 zero = 0;
	const struct xlb_mon_cfg *cfg = bpf_map_lookup_elem(&xlb_monitor, &zero);

	return cfg && cfg->on ? cfg : NULL;
}

#endif /* XLB_MONITOR_H */
