/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Structs, enums, constants and the flow hash shared by the XDP datapath and userspace. */
#ifndef XLB_ABI_H
#define XLB_ABI_H

/*
 * This header is compiled twice: by clang for the BPF target (after vmlinux.h, which provides
 * the __u8.. __u64 and __be16/__be32 types) and by gcc for userspace (where <linux/types.h>
 * provides them). Everything here is fixed-width, explicitly padded and size-asserted so that
 * both sides agree on every byte.
 */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* Bumped whenever a map layout below changes, or where an entry is placed (xlb_flow_hash64()):
 * a pinned state with another version is stale. */
#define XLB_ABI_VERSION 8

#define XLB_MAX_VIPS 1024	/* vip ids 0 .. XLB_MAX_VIPS-1 */
#define XLB_MAX_BACKENDS 65536	/* backend ids 1 .. XLB_MAX_BACKENDS-1; id 0 means "none" */
#define XLB_BACKEND_NONE 0	/* a Maglev slot holding this id has no usable backend */
#define XLB_MAGLEV_MAX 655373	/* largest allowed Maglev table size (prime) */
#define XLB_MAGLEV_DEFAULT 65537
#define XLB_FLOWS_DEFAULT 1048576 /* default flow table size, in flows (8 per bucket) */
#define XLB_FLOW_WAYS 8		/* flows (ways) per bucket of xlb_flows: one cache line */
#define XLB_GUE_PORT_DEFAULT 6080 /* default outer UDP destination port of GUE */
#define XLB_FLOOD_LIMIT_DEFAULT 125000 /* xlbd's flood_limit unless configured (0 = off) */
#define XLB_ICMP_RATE_DEFAULT 100 /* generated too-big replies per second and CPU (icmp_rate 0) */
#define XLB_ICMP_BURST_DEFAULT 50 /* and the depth of that token bucket (icmp_burst 0) */
#define XLB_IFMAC_SLOTS 256	/* entries of xlb_ifmac: slot = ifindex % XLB_IFMAC_SLOTS */
#define XLB_FRAGS_MAX 16384	/* entries of xlb_frags: datagrams whose first fragment was sent */
#define XLB_FRAG_LIFETIME_NS 1000000000ULL /* how long later fragments follow a first one */

/* Default pin directory of every xlb map and link. */
#define XLB_PIN_DIR "/sys/fs/bpf/xlb"

/* Address families as stored in keys (not AF_* so that BPF needs no libc header). */
enum xlb_family {
	XLB_AF_INET = 4,
	XLB_AF_INET6 = 6,
};

/* Forwarding modes of a VIP. */
enum xlb_mode {
	XLB_MODE_IPIP = 0,	/* IP in IP: IPv4 in IPv4, IPv6 in IPv6, or across families */
	XLB_MODE_GUE = 1,	/* outer IP + UDP (GUE variant 1: the inner IP packet follows UDP) */
	XLB_MODE_L2 = 2,	/* L2 direct server return: destination MAC rewrite only */
	XLB_MODE__MAX,
};

/*
 * Bytes that @mode puts in front of the inner IP packet when the outer header is of @family
 * (the backend's): what the MTU must leave room for, and what a too-big reply subtracts.
 */
static __always_inline __u32 xlb_encap_len(__u8 family, __u8 mode)
{
	if (mode == XLB_MODE_L2)
		return 0;
	return (family == XLB_AF_INET6 ? 40 : 20) + (mode == XLB_MODE_GUE ? 8 : 0);
}

/* VIP flags (struct xlb_vip.flags). */
enum xlb_vip_flags {
	XLB_VIP_F_HASH_SRC = 1 << 0, /* hash on the source address only (sticky clients) */
	/* 1 << 1: unused (was a never-set "no flow table" flag) */
	XLB_VIP_F_PASS_NO_BACKEND = 1 << 2, /* no usable backend: XDP_PASS (to the host), not drop */
	/*
	 * Only in a VIP slot (xlb_vip_ids), set by libxlb, never in xlb_vips: an all-ports VIP with
	 * no port VIP of its {addr, proto, family} in xlb_vips, so that it is what the VIP lookup
	 * of any port of that address returns (struct xlb_vip_slot).
	 */
	XLB_SLOT_F_SOLE = 1U << 31,
};

/* Backend flags (struct xlb_backend.flags). */
enum xlb_backend_flags {
	XLB_BE_F_USABLE = 1 << 0, /* may receive packets; clear = failed, its flows re-hash */
};

/* Config flags (struct xlb_config.flags). */
enum xlb_config_flags {
	XLB_CFG_F_PASS_TOO_BIG = 1 << 0, /* XDP_PASS (not drop) packets too big after encap */
	/*
	 * Answer a packet too big after encap with ICMP "fragmentation needed" (IPv4 with DF) or
	 * ICMPv6 "packet too big" to the client, from the VIP, advertising config.mtu minus the
	 * encapsulation; packets that cannot be answered fall back to the pass/drop policy.
	 */
	XLB_CFG_F_ICMP_TOO_BIG = 1 << 1,
};

/*
 * Reason codes: one per outcome of a packet. Datapath steps return 0 to go on or the reason
 * (>= 1) that ends the packet; a packet no step stopped is forwarded, XLB_R_TX (0). The entry
 * point counts every packet under exactly one reason in xlb_stats_reason, plus event counters
 * (flood guard) that do not decide the verdict. Verdict reasons come before XLB_R_EV_FLOOD.
 * The names in XLB_REASON_NAMES are the labels `xlb stats` and the metrics print.
 */
enum xlb_reason {
	XLB_R_TX = 0,		/* forwarded to a backend (XDP_TX): no step stopped it */
	XLB_R_TX_ICMP_TOO_BIG,	/* too big after encap, ICMP(v6) too-big sent to the client (XDP_TX) */
	XLB_R_PASS_NOT_IP,	/* not IPv4/IPv6 (ARP, LLDP, ...): XDP_PASS untouched */
	XLB_R_PASS_NOT_VIP,	/* IP but no VIP matches: XDP_PASS untouched */
	XLB_R_PASS_L4,		/* IP but not TCP/UDP/ICMP (no VIP lookup): XDP_PASS untouched */
	XLB_R_PASS_FRAG,	/* a fragment no VIP takes (a later one without a record where
				 * no all-ports VIP is): XDP_PASS untouched */
	XLB_R_PASS_ICMP,	/* ICMP not quoting a VIP flow: XDP_PASS untouched */
	XLB_R_PASS_TOO_BIG,	/* too big after encap, policy pass: XDP_PASS untouched */
	XLB_R_PASS_GROUP_MAC,	/* for a VIP, to a broadcast/multicast MAC: XDP_PASS untouched */
	XLB_R_PASS_SRC_ROUTE,	/* for a VIP, source-routed (IPv4 LSRR/SSRR, IPv6 routing
				 * header with segments left): XDP_PASS untouched */
	XLB_R_PASS_NO_BACKEND,	/* VIP has no usable backend, its policy pass: XDP_PASS untouched */
	XLB_R_DROP_MALFORMED,	/* truncated header, bad IHL, bad lengths */
	XLB_R_DROP_NO_BACKEND,	/* VIP has no usable backend (empty table) */
	XLB_R_DROP_TOO_BIG,	/* too big after encap, policy drop */
	XLB_R_DROP_ENCAP,	/* bpf_xdp_adjust_head failed */
	XLB_R_DROP_NO_CONFIG,	/* config map or VIP table missing (control plane not ready) */
	XLB_R_DROP_IP_CSUM,	/* to a VIP with a wrong IPv4 header checksum */
	XLB_R_DROP_FRAG_ORPHAN,	/* a later fragment for an all-ports VIP whose first fragment
				 * was not sent here within XLB_FRAG_LIFETIME_NS (or whose
				 * backend is no longer usable) */
	XLB_R_EV_FLOOD,		/* event: flood guard balanced a new flow without recording it */
	XLB_R_EV_REHASH,	/* event: flow-table hit on an unusable backend, re-hashed */
	XLB_R_EV_ICMP,		/* event: ICMP error routed to the owner of the quoted flow */
	XLB_R_EV_ICMP_LIMIT,	/* event: too-big reply refused by the rate limit */
	XLB_R_EV_ICMP_BOGUS,	/* event: too-big reply refused: bogus client address or MAC */
	XLB_R__MAX,
};

#define XLB_REASON_NAMES                                                                  \
	{                                                                                 \
		"tx", "tx_icmp_too_big", "pass_not_ip", "pass_not_vip", "pass_l4",         \
			"pass_frag", "pass_icmp", "pass_too_big", "pass_group_mac",                \
			"pass_source_route", "pass_no_backend", "drop_malformed", "drop_no_backend", "drop_too_big",  \
			"drop_encap", "drop_no_config", "drop_ip_csum", "drop_frag_orphan",        \
			"flood_guard", "rehash",                                                   \
			"icmp_routed", "icmp_too_big_limited", "icmp_too_big_refused",             \
	}

/* Key of xlb_vips: one virtual service. port 0 = all ports of that address and protocol. */
struct xlb_vip_key {
	__be32 addr[4];	/* IPv4 in addr[0], rest zero; IPv6 in all four */
	__be16 port;	/* network order; 0 for an all-ports VIP */
	__u8 proto;	/* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family;	/* enum xlb_family */
};

/* Value of xlb_vips. A VIP's table size M is in its table (xlb_maglev slot 0), nowhere else. */
struct xlb_vip {
	__u32 id;		/* index into xlb_maglev and xlb_stats_vip */
	__u32 flags;		/* enum xlb_vip_flags */
	__u8 mode;		/* enum xlb_mode */
	__u8 pad[3];
};

/* Value of xlb_backends[id]: where a backend is and whether it may take traffic. */
struct xlb_backend {
	__be32 addr[4];	/* outer destination: IPv4 in addr[0] or IPv6 */
	__u8 family;	/* enum xlb_family; may differ from the VIP's */
	__u8 flags;	/* enum xlb_backend_flags */
	__u8 mac[6];	/* destination MAC in L2 DSR mode */
	__u32 vip_id;	/* the VIP this backend serves (ids are per VIP and backend) */
	__be16 port;	/* the backend's port, network order, 0 = none; not used by the datapath
			 * (it never rewrites ports): identity for the control plane's adoption */
	__u16 pad;
};

/* Key of the flow table xlb_flows and input of the flow hash. */
struct xlb_flow_key {
	__be32 src[4];
	__be32 dst[4];
	__be16 sport;	/* 0 for ICMP and fragments */
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u8 pad[2];
};

/*
 * Value of xlb_flows[bucket]: XLB_FLOW_WAYS flows of a set-associative flow cache, one 64-byte
 * cache line (the map is BPF_F_MMAPABLE, so its values start page aligned). A flow lives in the
 * bucket its flow-table hash picks (xlb_flow_split()), in any way; each way is one 8-byte word,
 * read and written by the datapath with one aligned load or store (never torn, no locking):
 *
 *   bits  0-15  backend id (0: the way is empty)
 *   bits 16-30  vip id
 *   bit  31     referenced: the flow saw a packet after the one that recorded it
 *   bits 32-63  tag: the 32 bits of the flow-table hash not used for the bucket index
 *
 * The way holds no key: a tag match is the flow's entry but for a 2^-32 chance per way of
 * another flow of that bucket (see pick_backend() for why such a false hit stays within the
 * VIP it was recorded for).
 */
struct xlb_flow_bucket {
	__u64 way[XLB_FLOW_WAYS];
};

#define XLB_WAY_REF (1ULL << 31)	/* the referenced bit of a way */

/* The way word of a flow: @tag, recorded for backend @be_id of VIP @vip_id, unreferenced. */
static __always_inline __u64 xlb_way_make(__u32 tag, __u32 be_id, __u32 vip_id)
{
	return (__u64)tag << 32 | (vip_id & 0x7fff) << 16 | (be_id & 0xffff);
}

static __always_inline __u32 xlb_way_backend(__u64 w)
{
	return w & 0xffff;
}

static __always_inline __u32 xlb_way_vip(__u64 w)
{
	return (w >> 16) & 0x7fff;
}

static __always_inline __u32 xlb_way_tag(__u64 w)
{
	return w >> 32;
}

/*
 * Value of xlb_vip_ids[vip id]: the VIP that holds the id, written by libxlb before it appears
 * in xlb_vips and cleared after it is gone (rewritten when the VIP changes), so that a flow-table
 * hit finds its VIP by the id in its way without the hash lookup of xlb_vips. The slot of an
 * all-ports VIP carries XLB_SLOT_F_SOLE in vip.flags while no port VIP is beside it: cleared
 * before a port VIP of its {addr, proto, family} enters xlb_vips, set after the last one left.
 */
struct xlb_vip_slot {
	struct xlb_vip_key key;	/* family 0: no VIP holds the id */
	struct xlb_vip vip;
};

/*
 * Key of xlb_frags: one fragmented datagram, as the receiver reassembles it (RFC 791, RFC 8200
 * 4.5): source, destination, protocol and identification.
 */
struct xlb_frag_key {
	__be32 src[4];
	__be32 dst[4];
	__u32 id;	/* IPv4 identification (16 bits) or IPv6 fragment identification, as sent */
	__u8 proto;
	__u8 family;
	__u8 pad[2];
};

/* Value of xlb_frags: where the datagram's first fragment went; its later fragments follow. */
struct xlb_frag {
	__u32 backend_id;
	__u32 outer;	/* the first fragment's outer hash: every fragment gets its outer source */
	__u32 stamp;	/* bpf_ktime_get_coarse_ns() >> 20 when the first fragment was sent */
	__be16 vip_port; /* port of the VIP the first fragment matched (0: an all-ports VIP) */
	__u16 pad;
};

#define XLB_VIP_FILTER_BITS 4096	/* size of the VIP address filter in xlb_vip_meta */

/*
 * The one entry of xlb_vip_meta: a summary of xlb_vips that libxlb keeps up to date on every
 * xlb_vip__set/del (a bit is set before its VIP appears and cleared after it is gone), so that
 * a packet for no VIP usually costs one array read instead of one or two hash lookups.
 * VIPs must therefore be written through libxlb, not directly into xlb_vips.
 */
struct xlb_vip_meta {
	__u32 all_ports;	/* bit xlb_all_ports_bit(): some all-ports VIP of that family/proto */
	__u32 flow_buckets;	/* buckets of xlb_flows (its max_entries), set at creation */
	__u64 flow_seed;	/* seed of the flow-table hash (xlb_flow_hash64()): random at
				 * creation, kept on adoption and by every rewrite of this entry;
				 * unlike xlb_config.hash_seed it never changes on a reload */
	/* bit xlb_vip_filter_bit(addr) set: some VIP may have this address (false positives ok) */
	__u64 addr_filter[XLB_VIP_FILTER_BITS / 64];
};

/* The bit of xlb_vip_meta.addr_filter for a VIP address (IPv4 in addr[0], rest zero). */
static __always_inline __u32 xlb_vip_filter_bit(const __be32 *addr)
{
	__u32 w = addr[0] ^ addr[1] ^ addr[2] ^ addr[3];

	return (w * 0x9e3779b1U) >> 20; /* Fibonacci hashing to 12 bits */
}

/* Which bit of xlb_vip_meta.all_ports stands for all-ports VIPs of @family and @proto. */
static __always_inline __u32 xlb_all_ports_bit(__u8 family, __u8 proto)
{
	return 1U << ((family == XLB_AF_INET6) * 2 + (proto == 17));
}

/* Per-CPU counters of a VIP or backend (xlb_stats_vip, xlb_stats_backend). */
struct xlb_counters {
	__u64 packets;
	__u64 bytes;
	__u64 new_flows;
};

/* Per-CPU counters of a reason (xlb_stats_reason). */
struct xlb_reason_counters {
	__u64 packets;
	__u64 bytes;
};

/* Flood guard state of one CPU: the current one-second window and new flows counted in it. */
struct xlb_flood_state {
	__u64 window_start;	/* bpf_ktime_get_coarse_ns() at the window's start */
	__u64 count;		/* new flows seen in this window */
};

/* The one entry of xlb_config: tunables the control plane may change at any time. */
struct xlb_config {
	__u8 nexthop_mac[6];	/* destination MAC of every encapsulated frame */
	__u16 gue_port;		/* outer UDP destination port of GUE, host order */
	__u32 hash_seed;	/* seed of the flow hash; same seed on every LB host */
	__be32 encap_src4;	/* outer IPv4 source; low encap_src4_bits vary with the flow */
	__be32 encap_src6[4];	/* outer IPv6 source; low 32 bits vary with the flow */
	__u32 encap_src4_bits;	/* host bits of encap_src4 that take flow entropy, 0..16 */
	__u32 mtu;		/* largest frame payload (L3 bytes) that may leave; 0 = 1500 */
	__u32 flood_limit;	/* new flows per second per CPU recorded; above it hash only; 0 = off */
	__u32 flags;		/* enum xlb_config_flags */
	__u32 abi_version;	/* XLB_ABI_VERSION of the writer */
	__u32 icmp_rate;	/* too-big replies per second per CPU (token bucket refill);
				 * libxlb writes XLB_ICMP_RATE_DEFAULT for 0 (and so reads
				 * the datapath a 0) */
	__u32 icmp_burst;	/* depth of that bucket; 0 = XLB_ICMP_BURST_DEFAULT */
	__u32 pad;
};

/*
 * Value of xlb_ifmac[ifindex % XLB_IFMAC_SLOTS]: the MAC of an interface the balancer is
 * attached to, written by libxlb at attach, so that a frame sent back out (XDP_TX) carries the
 * interface's own MAC as its source. A slot holding another ifindex (or none) is a miss: the
 * frame's own destination MAC (never a group address there) is used instead.
 */
struct xlb_ifmac {
	__u32 ifindex;		/* 0 = free */
	__u8 mac[6];
	__u8 pad[2];
};

/*
 * The packet-decision monitor (xlb monitor). xlbd writes the one entry of xlb_monitor while at
 * least one monitor client runs and clears it when the last one goes (and at start); with .on
 * clear the datapath reads that word and does nothing more. Matching packets (every filter
 * set must match), 1 in .sample of them per CPU, are written to the ring buffer xlb_mon_ring as
 * struct xlb_mon_event. Added beside the maps above (none of them changed): a pinned state
 * without these maps is stale for this program and loaded afresh.
 */
#define XLB_MON_ANY_VIP 0xffffffffU	/* xlb_mon_cfg.vip_id: no VIP filter */
#define XLB_MON_RING_BYTES (1U << 20)	/* size of xlb_mon_ring: ~11,900 events */

/* The one entry of xlb_monitor. */
struct xlb_mon_cfg {
	__u32 on;		/* 0: no monitor runs, nothing is looked at */
	__u32 sample;		/* emit 1 in @sample matching packets of each CPU; 0, 1 = every one */
	__u32 reasons;		/* bit r set: packets of verdict reason r; 0 = every reason */
	__u32 vip_id;		/* only packets that matched this VIP; XLB_MON_ANY_VIP = any */
	__be32 addr[4];		/* with @family: only packets from or to this address (the flow's
				 * source or destination; for an ICMP error, its quoted flow's) */
	__u8 family;		/* enum xlb_family of @addr, 0 = any address */
	__u8 pad[7];
};

/* enum xlb_mon_event.flags */
enum xlb_mon_flags {
	XLB_MON_F_VIP = 1 << 0,		/* a VIP matched: vip_id is valid */
	XLB_MON_F_FLOW_HIT = 1 << 1,	/* the backend came from the flow table */
	XLB_MON_F_MAGLEV = 1 << 2,	/* the backend came from Maglev slot @slot */
	XLB_MON_F_FRAG = 1 << 3,	/* a fragment (hashed without ports) */
	XLB_MON_F_ICMP = 1 << 4,	/* an ICMP error routed by the flow it quotes (@key) */
};

/* One record of xlb_mon_ring: the decision taken for one packet. */
struct xlb_mon_event {
	__u64 ts_ns;		/* bpf_ktime_get_ns() */
	struct xlb_flow_key key; /* the flow as balanced (as far as it was parsed; ports 0 for a
				  * fragment; an ICMP error's quoted flow, reversed) */
	__u32 vip_id;		/* with XLB_MON_F_VIP */
	__u32 backend_id;	/* the chosen backend, 0 = none */
	__u32 slot;		/* with XLB_MON_F_MAGLEV: hash % M of the VIP's table */
	__u32 hash;		/* the flow hash (with a VIP) */
	__u32 len;		/* frame bytes as received */
	__u32 ifindex;		/* interface it came in on */
	__u16 reason;		/* enum xlb_reason: the verdict */
	__u16 flags;		/* enum xlb_mon_flags */
	__u32 cpu;
};

/* Per-CPU counters of the monitor (xlb_mon_stats). */
struct xlb_mon_counters {
	__u64 matched;		/* packets that passed the filters */
	__u64 emitted;		/* events written to the ring */
	__u64 lost;		/* events dropped: the ring was full */
	__u32 countdown;	/* sampling: matching packets to skip before the next event */
	__u32 pad;
};

#if !defined(__bpf__) && !defined(__BPF__)
_Static_assert(sizeof(struct xlb_vip_key) == 20, "xlb_vip_key layout");
_Static_assert(sizeof(struct xlb_vip) == 12, "xlb_vip layout");
_Static_assert(sizeof(struct xlb_backend) == 32, "xlb_backend layout");
_Static_assert(sizeof(struct xlb_flow_key) == 40, "xlb_flow_key layout");
_Static_assert(sizeof(struct xlb_flow_bucket) == 64, "xlb_flow_bucket is one cache line");
_Static_assert(sizeof(struct xlb_vip_slot) == 32, "xlb_vip_slot layout");
_Static_assert(XLB_MAX_BACKENDS <= 1 << 16, "a way's 16 bits hold every backend id");
_Static_assert(XLB_MAX_VIPS <= 1 << 15, "a way's 15 bits hold every vip id");
/* (and the limits libxlb accepts at load time: user/lib/flows.c asserts XLB_MAX_*_LIMIT) */
_Static_assert(sizeof(struct xlb_frag_key) == 40, "xlb_frag_key layout");
_Static_assert(sizeof(struct xlb_frag) == 16, "xlb_frag layout");
_Static_assert(sizeof(struct xlb_counters) == 24, "xlb_counters layout");
_Static_assert(sizeof(struct xlb_config) == 64, "xlb_config layout");
_Static_assert(sizeof(struct xlb_ifmac) == 12, "xlb_ifmac layout");
_Static_assert(sizeof(struct xlb_vip_meta) == 16 + XLB_VIP_FILTER_BITS / 8, "xlb_vip_meta layout");
_Static_assert(sizeof(struct xlb_mon_cfg) == 40, "xlb_mon_cfg layout");
_Static_assert(sizeof(struct xlb_mon_event) == 80, "xlb_mon_event layout");
_Static_assert(sizeof(struct xlb_mon_counters) == 32, "xlb_mon_counters layout");
_Static_assert(XLB_R__MAX <= 32, "xlb_mon_cfg.reasons has a bit per reason");
_Static_assert(XLB_VIP_FILTER_BITS == 1 << 12, "xlb_vip_filter_bit() yields 12 bits");
#endif

/*
 * The flow hash: Bob Jenkins' lookup3 final mix over 32-bit words. It is the same code on both
 * sides, so userspace computes exactly the slot the datapath picks. IPv4 keys hash three words
 * (src, dst, ports) and the protocol; IPv6 keys first fold each address to one word.
 */
static __always_inline __u32 xlb_rol32(__u32 w, unsigned int s)
{
	return (w << s) | (w >> (32 - s));
}

static __always_inline __u32 xlb_hash_3words(__u32 a, __u32 b, __u32 c, __u32 seed)
{
	a += 0xdeadbeef + seed;
	b += 0xdeadbeef + seed;
	c += 0xdeadbeef + seed;
	c ^= b; c -= xlb_rol32(b, 14);
	a ^= c; a -= xlb_rol32(c, 11);
	b ^= a; b -= xlb_rol32(a, 25);
	c ^= b; c -= xlb_rol32(b, 16);
	a ^= c; a -= xlb_rol32(c, 4);
	b ^= a; b -= xlb_rol32(a, 14);
	c ^= b; c -= xlb_rol32(b, 24);
	return c;
}

static __always_inline __u32 xlb_fold6(const __be32 *a)
{
	return xlb_hash_3words(a[0], a[1], a[2] ^ xlb_rol32(a[3], 16), 0x9e3779b9);
}

/*
 * xlb_flow_hash - the hash that picks a flow's Maglev slot (slot = hash % M).
 * @k: the flow; callers zero sport/dport for source-only hashing or fragments.
 * @src_only: hash the source address alone (sticky clients, XLB_VIP_F_HASH_SRC).
 * @seed: xlb_config.hash_seed.
 */
static __always_inline __u32 xlb_flow_hash(const struct xlb_flow_key *k, int src_only, __u32 seed)
{
	__u32 s, d, ports;

	if (k->family == XLB_AF_INET6) {
		s = xlb_fold6(k->src);
		d = src_only ? 0 : xlb_fold6(k->dst);
	} else {
		s = k->src[0];
		d = src_only ? 0 : k->dst[0];
	}
	ports = src_only ? 0 : ((__u32)k->sport << 16 | k->dport);
	return xlb_hash_3words(s, d, ports, seed ^ (src_only ? 0 : k->proto));
}

/*
 * The flow-table hash: where flow @k lives in xlb_flows. Not xlb_flow_hash() (the Maglev hash,
 * which folds IPv6 addresses by XOR, so that crafted keys collide for free, and whose seed may
 * change on a reload): a hash of the full key, every address word, the ports, protocol and
 * family, keyed with the table's own secret xlb_vip_meta.flow_seed (random at creation).
 *
 * Lanes start from the seed with distinct constants and absorb one 32-bit word of the key per
 * 64-bit multiply (then xor of the high half into the low): IPv4 two lanes (the source; the
 * destination and ports), IPv6 four (source words 0-1, 2-3; destination words 0-1, 2-3), the
 * second and fourth multiplied once more into the first and third, which then go on as IPv4's;
 * a final avalanche (MurmurHash3's fmix64 constants) spreads the joined lanes over all 64 bits.
 * Why 32-bit words: a multiply mod 2^64 is linear in its top input bit, so a key word that
 * reached bit 63 of the product's input would give a difference that a later word cancels
 * whatever the seed (a free collision); a 32-bit word only flips bits whose carries depend on
 * the seeded state. The lanes run in parallel: before the avalanche, the longest chain is 2
 * multiplies for IPv4, 4 for IPv6 (it was 5 with two lanes: 15 ns more per established IPv6
 * packet, README).
 * The bucket is the high half scaled to @nbuckets by multiply-shift (any size, no division),
 * the tag the low half.
 */
#define XLB_FLOW_MUL 0x9e3779b97f4a7c15ULL

static __always_inline __u64 xlb_flow_absorb(__u64 h, __u32 w)
{
	h = (h ^ w) * XLB_FLOW_MUL;
	return h ^ (h >> 32);
}

static __always_inline __u64 xlb_flow_hash64(const struct xlb_flow_key *k, __u64 seed)
{
	__u64 a = seed ^ ((__u64)k->proto << 40 | (__u64)k->family << 32);
	__u64 b = seed ^ 0x6a09e667f3bcc909ULL, h;

	a = xlb_flow_absorb(a, k->src[0]);
	b = xlb_flow_absorb(b, k->dst[0]);
	if (k->family == XLB_AF_INET6) {
		__u64 c = seed ^ 0xbb67ae8584caa73bULL, d = seed ^ 0x3c6ef372fe94f82bULL;

		c = xlb_flow_absorb(c, k->src[2]);
		d = xlb_flow_absorb(d, k->dst[2]);
		a = xlb_flow_absorb(a, k->src[1]);
		b = xlb_flow_absorb(b, k->dst[1]);
		c = xlb_flow_absorb(c, k->src[3]);
		d = xlb_flow_absorb(d, k->dst[3]);
		a ^= c * XLB_FLOW_MUL;
		b ^= d * XLB_FLOW_MUL;
	}
	b = xlb_flow_absorb(b, (__u32)k->sport << 16 | k->dport);
	h = a ^ (b << 32 | b >> 32);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

/*
 * xlb_flow_split() - flow-table hash @h into the flow's bucket in a table of @nbuckets (into
 * *@bucket) and its outer hash (into *@outer); returns its tag. The outer hash is what the
 * outer source address of the flow's encapsulated packets (and its IPv6 flow label, its GUE
 * source port) varies with, for RSS on the receiver: one hash per packet, the Maglev hash
 * (xlb_flow_hash()) only where a backend is picked. It is the high half (the tag is the low):
 * the outer fields take its low bits (the IPv6 outer source all 32), the bucket its top bits.
 */
static __always_inline __u32 xlb_flow_split(__u64 h, __u32 nbuckets, __u32 *bucket,
					    __u32 *outer)
{
	*bucket = ((h >> 32) * nbuckets) >> 32;
	*outer = h >> 32;
	return (__u32)h;
}

#endif /* XLB_ABI_H */
