/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Map keys and values of the counting sink, shared by sink.bpf.c and the sink tool. */
#ifndef XLB_SINK_H
#define XLB_SINK_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/*
 * Key of xlb_sink_outer (per outer destination) and xlb_sink_inner (per inner destination of
 * an IPIP / IPv6-in-IP / GUE packet). family 0 holds every non-IP frame under one key.
 */
struct xlb_sink_key {
	__be32 addr[4];	/* destination: IPv4 in addr[0], rest zero; IPv6 in all four */
	__u8 family;	/* 4, 6, or 0 for non-IP */
	__u8 proto;	/* IPv4 protocol / IPv6 next header (4, 41, 6, 17, 58 ...) */
	__u16 dport;	/* host order: UDP/TCP destination port, 0 for other protocols */
};

/* Per-CPU value of both maps. */
struct xlb_sink_counters {
	__u64 packets;
	__u64 bytes;	/* frame bytes, Ethernet header included */
};

#define XLB_SINK_MAX_KEYS 4096

#if !defined(__bpf__) && !defined(__BPF__)
_Static_assert(sizeof(struct xlb_sink_key) == 20, "xlb_sink_key layout");
#endif

#endif /* XLB_SINK_H */
