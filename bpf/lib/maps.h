/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The BPF maps of the xlb balancer; libxlb pins each one under /sys/fs/bpf/xlb/ by its name. */
#ifndef XLB_MAPS_H
#define XLB_MAPS_H

#include "xlb_abi.h"

/* Virtual services: {address, port, protocol, family} -> vip id, flags, mode. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XLB_MAX_VIPS);
	__type(key, struct xlb_vip_key);
	__type(value, struct xlb_vip);
} xlb_vips SEC(".maps");

/* One entry: which families/protocols have all-ports VIPs (the fallback lookup is skipped if none). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_vip_meta);
} xlb_vip_meta SEC(".maps");

/* Backends by id (0 = none): outer destination, family, usable flag, L2 MAC. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct xlb_backend);
} xlb_backends SEC(".maps");

/*
 * Template of one VIP's Maglev table. Slot 0 holds M, slots 1..M the backend ids, so that M
 * travels with the table and changes in the same atomic swap. BPF_F_INNER_MAP lets every VIP's
 * inner map have its own size (M + 1); BPF_F_MMAPABLE lets libxlb fill a new table with one
 * memcpy instead of a syscall (or a batch element) per slot. Inner maps must carry exactly the
 * template's flags.
 */
struct xlb_maglev_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u32);
};

/* vip id -> that VIP's Maglev table; a table change replaces one slot (old or new, no mix). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, XLB_MAX_VIPS);
	__type(key, __u32);
	__array(values, struct xlb_maglev_inner);
} xlb_maglev SEC(".maps");

/*
 * Established flows: a set-associative cache of XLB_FLOW_WAYS flows per 64-byte bucket (struct
 * xlb_flow_bucket), bucket and tag from xlb_flow_split(). max_entries (buckets) is set by libxlb
 * at load time (flow_table_size / 8, rounded up) and copied to xlb_vip_meta.flow_buckets.
 * BPF_F_MMAPABLE puts the values page aligned (every bucket one cache line) and lets libxlb
 * read and write ways in place. Replacement: pick_backend().
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_FLOWS_DEFAULT / XLB_FLOW_WAYS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct xlb_flow_bucket);
} xlb_flows SEC(".maps");

/* vip id -> the VIP holding it (struct xlb_vip_slot): a flow-table hit's VIP without xlb_vips. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct xlb_vip_slot);
} xlb_vip_ids SEC(".maps");

/*
 * Fragmented datagrams: {src, dst, proto, id} -> the backend its first fragment went to, so that
 * its later fragments (which carry no ports) follow it. Entries live XLB_FRAG_LIFETIME_NS; one
 * LRU list for all CPUs, since the fragments of one datagram arrive where RSS puts them.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XLB_FRAGS_MAX);
	__type(key, struct xlb_frag_key);
	__type(value, struct xlb_frag);
} xlb_frags SEC(".maps");

/* Per-VIP counters of packets that matched the VIP (forwarded or not) and new flows. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct xlb_counters);
} xlb_stats_vip SEC(".maps");

/* Per-backend counters of packets forwarded to it and flows newly assigned to it. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct xlb_counters);
} xlb_stats_backend SEC(".maps");

/* One counter per enum xlb_reason: every packet under exactly one verdict reason, plus events. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_R__MAX);
	__type(key, __u32);
	__type(value, struct xlb_reason_counters);
} xlb_stats_reason SEC(".maps");

/* The one tunables entry; read only once a packet matched a VIP. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_config);
} xlb_config SEC(".maps");

/* Per-CPU flood guard windows, struct xlb_flood_state (no locking: each CPU counts its own). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_flood_state);
} xlb_flood SEC(".maps");

/*
 * Per CPU: how many flow-table-first lookups in a row missed (balance(): the lookup order).
 * Not pinned: a hint, lost with the program at no cost.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} xlb_miss_run SEC(".maps");

/* ifindex % XLB_IFMAC_SLOTS -> that interface's own MAC, the source of every frame sent back. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_IFMAC_SLOTS);
	__type(key, __u32);
	__type(value, struct xlb_ifmac);
} xlb_ifmac SEC(".maps");

/* Token bucket of one CPU for generated too-big replies (credit in nanoseconds of refill). */
struct xlb_icmp_bucket {
	__u64 credit;		/* ns of refill banked, at most burst x (1 s / rate) */
	__u64 last;		/* bpf_ktime_get_ns() of the last refill */
};

/* Per-CPU too-big reply buckets (each CPU limits its own replies, no locking). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_icmp_bucket);
} xlb_icmp_bucket SEC(".maps");

#endif /* XLB_MAPS_H */
