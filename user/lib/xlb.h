/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* libxlb: load, attach, pin and adopt the xlb datapath, and program its maps. */
#ifndef XLB_H
#define XLB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "../../bpf/include/xlb_abi.h"
#include "addr.h"		/* xlb_addr_parse() and friends, for every user of libxlb */

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/*
 * Conventions: functions return 0 or a negative errno; functions returning a pointer return
 * NULL with errno set. Nothing here allocates ids: the caller (xlbd) owns vip and backend ids.
 */

enum xlb_attach_mode {
	XLB_ATTACH_NATIVE = 0,	/* driver mode (XDP_FLAGS_DRV_MODE) */
	XLB_ATTACH_GENERIC = 1,	/* skb mode (XDP_FLAGS_SKB_MODE) */
	XLB_ATTACH_NONE = 2,	/* load and pin only (tests through BPF_PROG_TEST_RUN) */
};

/* Where a BPF filesystem is mounted when the pin dir is not on one (as Cilium and iproute2 do). */
#define XLB_BPFFS_ROOT "/sys/fs/bpf"

/*
 * The largest sizes the maps indexed by vip id and by backend id may be given at load time
 * (xlb_open_opts.max_vips / max_backends); XLB_MAX_VIPS and XLB_MAX_BACKENDS are the defaults.
 * A flow-table way holds a vip id in 15 bits and a backend id in 16 (xlb_way_make()), so no
 * id may reach 1 << 15 or 1 << 16.
 */
#define XLB_MAX_VIPS_LIMIT 32768
#define XLB_MAX_BACKENDS_LIMIT 65536

struct xlb_open_opts {
	const char *pin_dir;	/* NULL = XLB_PIN_DIR; "" = do not pin (tests) */
	const char *bpffs_root;	/* NULL = XLB_BPFFS_ROOT; see xlb_bpffs_ensure() */
	__u32 flow_table_size;	/* 0 = XLB_FLOWS_DEFAULT; ignored when adopting */
	__u32 max_vips;		/* vip ids 0 .. max_vips-1; 0 = XLB_MAX_VIPS; ignored when adopting */
	__u32 max_backends;	/* backend ids 1 .. max_backends-1; 0 = XLB_MAX_BACKENDS; likewise */
	bool adopt;		/* reuse pinned maps/program when present and compatible */
};

struct xlb;

/**
 * xlb__open() - load the datapath, or adopt the one pinned under opts->pin_dir.
 *
 * With opts->adopt and a compatible pinned state (same XLB_ABI_VERSION), the pinned maps and
 * program are reused as they are: flows, tables and counters survive. A pinned state of
 * another version is logged, unpinned and replaced. Without a pinned state a fresh program is
 * loaded and its maps pinned. xlb__adopted() tells which happened.
 */
struct xlb *xlb__open(const struct xlb_open_opts *opts);
bool xlb__adopted(const struct xlb *x);
/*
 * The sizes of the id-indexed maps as loaded, or as pinned when adopting (a pinned state keeps
 * its sizes): vip ids are 0 .. xlb__max_vips()-1, backend ids 1 .. xlb__max_backends()-1.
 */
__u32 xlb__max_vips(const struct xlb *x);
__u32 xlb__max_backends(const struct xlb *x);

/**
 * xlb_bpffs_ensure() - make sure @dir (which need not exist yet) can hold BPF pins.
 * @root: where to mount a BPF filesystem when @dir is not on one (NULL = XLB_BPFFS_ROOT); @dir
 *	must then be @root or lie below it.
 * @mounted: set to true when this call mounted one (may be NULL).
 *
 * When the nearest existing directory at or above @dir is on a bpffs, nothing happens (a bpffs
 * that systemd or an earlier run mounted is never mounted twice). Otherwise a bpffs is mounted
 * at @root (created if missing) and one line is logged. xlb__open() calls it for its pin dir;
 * every program that pins goes through it. Returns 0 or -errno; on failure a message naming the
 * directory and the fix is logged.
 */
int xlb_bpffs_ensure(const char *dir, const char *root, bool *mounted);
/* mkdir -p with mode 0700; 0 or -errno. */
int xlb_mkdir_p(const char *dir);

/** xlb__close() - release handles; with @unpin also detach every interface and remove pins. */
void xlb__close(struct xlb *x, bool unpin);

/** xlb__attach() - attach to @ifname (libxdp, falling back to a plain attach); idempotent. */
int xlb__attach(struct xlb *x, const char *ifname, enum xlb_attach_mode mode);
int xlb__detach(struct xlb *x, const char *ifname);

/* File descriptors for tests and tools (BPF_PROG_TEST_RUN, bpftool). */
int xlb__prog_fd(const struct xlb *x);
int xlb__map_fd(const struct xlb *x, const char *name); /* "xlb_vips", "xlb_flows", ... */

/* Config map. */
int xlb__config_get(struct xlb *x, struct xlb_config *cfg);
int xlb__config_set(struct xlb *x, const struct xlb_config *cfg);

/* VIPs. @vip->id must be < xlb__max_vips() and owned by the caller. */
int xlb_vip__set(struct xlb *x, const struct xlb_vip_key *key, const struct xlb_vip *vip);
/*
 * Set @n VIPs at once: the address filter (xlb_vip_meta) is recomputed once for all of them
 * and announces them before they appear; the entries go in with one BPF_MAP_UPDATE_BATCH.
 * Every entry is checked first (-EINVAL before anything changes).
 */
int xlb_vip__set_batch(struct xlb *x, const struct xlb_vip_key *keys, const struct xlb_vip *vips,
		       size_t n);
/* Delete @n VIPs (absent ones are skipped), then recompute the address filter once. */
int xlb_vip__del_batch(struct xlb *x, const struct xlb_vip_key *keys, size_t n);
int xlb_vip__get(struct xlb *x, const struct xlb_vip_key *key, struct xlb_vip *vip);
int xlb_vip__del(struct xlb *x, const struct xlb_vip_key *key);
/* Iterate VIPs in the map: @cb returns non-zero to stop (that value is returned). */
int xlb_vip__foreach(struct xlb *x,
		     int (*cb)(const struct xlb_vip_key *key, const struct xlb_vip *vip, void *ctx),
		     void *ctx);

/* Backends. @id in 1 .. xlb__max_backends()-1. */
int xlb_backend__set(struct xlb *x, __u32 id, const struct xlb_backend *be);
/* Set @n backends with one BPF_MAP_UPDATE_BATCH; all are checked first (-EINVAL). */
int xlb_backend__set_batch(struct xlb *x, const __u32 *ids, const struct xlb_backend *bes,
			   size_t n);
int xlb_backend__get(struct xlb *x, __u32 id, struct xlb_backend *be);
int xlb_backend__clear(struct xlb *x, __u32 id);

/* One VIP's new Maglev table, for xlb_vip__set_tables(). */
struct xlb_table_update {
	__u32 vip_id;		/* < xlb__max_vips(); at most once per batch */
	__u32 m;		/* slots in @table: 1 .. XLB_MAGLEV_MAX */
	const __u32 *table;	/* @m backend ids (XLB_BACKEND_NONE where none is usable) */
	bool prebuilt;		/* @fd holds the table already (xlb_table__create()); @table unused */
	int fd;			/* with @prebuilt: swapped in as is, closed by the caller */
};

/*
 * xlb_table__create() - a new inner map holding the Maglev table @table of @m slots, ready for
 * xlb_vip__set_tables() (prebuilt). It touches no map of a handle, so that builder threads may
 * create tables side by side. Returns its fd or -errno.
 */
int xlb_table__create(const __u32 *table, __u32 m);

/**
 * xlb_vip__set_tables() - swap in the Maglev tables of @n VIPs, paying one RCU grace period per
 * chunk of up to 256 tables instead of one per VIP.
 * @u: the VIPs and their new tables; each VIP at most once.
 * @applied: if not NULL, set to how many tables were swapped in (also on failure).
 *
 * For each VIP a fresh inner map is created and filled, and then replaces the VIP's slot of
 * xlb_maglev in one pointer exchange: a packet sees the VIP's old table or its new one whole,
 * never a mix. The batch as a whole is not atomic: for a moment some VIPs of it run on their new
 * tables and others still on their old ones. Tables go in by chunks (BPF_MAP_UPDATE_BATCH), so
 * at most a chunk's new inner maps (256 tables, or fewer when they are large; one fd each) exist
 * beside the old ones at a time. The call returns once the programs that could still see an old
 * table have finished.
 *
 * The whole of @u is checked first: an entry with a vip id out of range, m = 0 or too big, no
 * table, or a vip id given twice fails the call with -EINVAL before anything changes. After
 * that, a failure (no memory for a table, a refused update) stops the batch: the first
 * *@applied entries of @u are in place, the others keep their old tables, and -errno is
 * returned.
 *
 * Return: 0 when all @n are in place, or -errno.
 */
int xlb_vip__set_tables(struct xlb *x, const struct xlb_table_update *u, size_t n,
			size_t *applied);

/**
 * xlb_vip__set_table() - swap in the Maglev table of VIP @vip_id atomically.
 * @table: @m backend ids (XLB_BACKEND_NONE where no backend is usable).
 *
 * xlb_vip__set_tables() with one entry: a packet sees the old table or the new one, never a mix.
 */
int xlb_vip__set_table(struct xlb *x, __u32 vip_id, const __u32 *table, __u32 m);
/* Read the current table of @vip_id into @table (capacity @cap); returns M or -errno. */
int xlb_vip__get_table(struct xlb *x, __u32 vip_id, __u32 *table, __u32 cap);
int xlb_vip__clear_table(struct xlb *x, __u32 vip_id);
/* Remove the tables of @n VIPs (those without one are skipped), paying one grace period. */
int xlb_vip__clear_tables(struct xlb *x, const __u32 *ids, size_t n);

/* Counters summed over CPUs. */
int xlb_stats__vip(struct xlb *x, __u32 vip_id, struct xlb_counters *out);
int xlb_stats__backend(struct xlb *x, __u32 id, struct xlb_counters *out);
/*
 * Counters of the @count ids from @lo on (@out[i] is id @lo + i), read with a few
 * BPF_MAP_LOOKUP_BATCH calls instead of one lookup per id.
 */
int xlb_stats__vip_range(struct xlb *x, __u32 lo, __u32 count, struct xlb_counters *out);
int xlb_stats__backend_range(struct xlb *x, __u32 lo, __u32 count, struct xlb_counters *out);
int xlb_stats__reasons(struct xlb *x, struct xlb_reason_counters out[XLB_R__MAX]);
/*
 * The counters of ids 0 .. @n-1 at once into @out[@n] (a batch lookup: one pass for thousands of
 * VIPs or backends, for the metrics). 0 or -errno.
 */
int xlb_stats__vips(struct xlb *x, __u32 n, struct xlb_counters *out);
int xlb_stats__backends(struct xlb *x, __u32 n, struct xlb_counters *out);
int xlb_stats__clear_vip(struct xlb *x, __u32 vip_id);
int xlb_stats__clear_backend(struct xlb *x, __u32 id);
const char *xlb_reason_name(unsigned int reason);

/* The packet-decision monitor (monitor.c): xlbd alone writes the switch and the filters. */
int xlb_monitor__set(struct xlb *x, const struct xlb_mon_cfg *cfg);
int xlb_monitor__get(struct xlb *x, struct xlb_mon_cfg *cfg);
/* Counters summed over CPUs (countdown left 0). */
int xlb_monitor__counters(struct xlb *x, struct xlb_mon_counters *out);
/* The ring buffer of struct xlb_mon_event, for ring_buffer__new(). */
int xlb_monitor__ring_fd(const struct xlb *x);
/* The reason named @name (xlb_reason_name()'s names), or -EINVAL. */
int xlb_reason_parse(const char *name);

/* A flow-table entry as libxlb reads it: its way (struct xlb_flow_bucket) decoded. */
struct xlb_flow {
	__u32 backend_id;
	__u32 vip_id;		/* the VIP it was recorded for */
	bool referenced;	/* it saw a packet after the one that recorded it */
	__u32 bucket;		/* where it is: xlb_flows[bucket].way[way] */
	__u32 way;
};

#define XLB_FLOW_ANY_VIP 0xffffffffU

/*
 * Flow table (flows.c). xlb_flow__get() reads the first way holding flow @k's tag (of any VIP),
 * xlb_flow__find() the one recorded for VIP @vip_id, the entry the datapath uses for that VIP
 * (XLB_FLOW_ANY_VIP: as __get); -ENOENT if none. xlb_flow__set() records @k for @backend_id of
 * @vip_id unreferenced (for tests and tools: in its way for that VIP, else the first empty way
 * of its bucket; -ENOSPC when the bucket is full). xlb_flow__place() gives @k's bucket and tag,
 * xlb_flow__outer() its outer hash (what the outer source of its encapsulated packets varies
 * with): xlb_flow_split() of xlb_flow_hash64() with the table's seed, as the datapath computes
 * them. xlb_flow__count() counts the ways holding a flow.
 */
int xlb_flow__get(struct xlb *x, const struct xlb_flow_key *k, struct xlb_flow *f);
int xlb_flow__find(struct xlb *x, const struct xlb_flow_key *k, __u32 vip_id, struct xlb_flow *f);
int xlb_flow__set(struct xlb *x, const struct xlb_flow_key *k, __u32 backend_id, __u32 vip_id);
int xlb_flow__place(struct xlb *x, const struct xlb_flow_key *k, __u32 *bucket, __u32 *tag);
int xlb_flow__outer(struct xlb *x, const struct xlb_flow_key *k, __u32 *outer);
int xlb_flow__count(struct xlb *x, __u64 *n);
__u32 xlb_flow__buckets(const struct xlb *x);	/* buckets of XLB_FLOW_WAYS flows */

/**
 * xlb_flow_key__init() - build a flow key from parsed addresses (host order ports).
 * Exactly the key the datapath builds for the same packet.
 */
void xlb_flow_key__init(struct xlb_flow_key *k, int family, const void *src, const void *dst,
			__u16 sport, __u16 dport, __u8 proto);

/* The datapath's choice of backend for one flow (xlb_lookup()). */
struct xlb_lookup {
	__u32 hash;		/* xlb_flow_hash() of the flow, as the VIP hashes it */
	__u32 m;		/* slots of the VIP's table, as the table holds it (slot 0) */
	__u32 slot;		/* hash % m: the Maglev slot, 0-based */
	__u32 backend_id;	/* the backend the packet goes to; XLB_BACKEND_NONE: none */
	bool flow_hit;		/* from the flow table (else from the Maglev slot) */
	int reason;		/* with no backend: XLB_R_DROP_NO_CONFIG (no table) or _NO_BACKEND */
};

/**
 * xlb_lookup() - the backend the datapath picks for flow @k of VIP @vip, read from @x's maps.
 * @vip: the VIP's entry in xlb_vips (its id and flags decide the hash and the flow table).
 *
 * The userspace mirror of pick_backend() in bpf/lib/flow.h: a flow-table entry on a backend
 * that xlb_flow_hit() accepts wins; otherwise the VIP's table at xlb_lookup_table()'s slot,
 * when that backend is usable. Nothing is written (a miss records no flow). Returns 0 with @r
 * filled, or -errno when a map cannot be read.
 */
int xlb_lookup(struct xlb *x, const struct xlb_flow_key *k, const struct xlb_vip *vip,
	       struct xlb_lookup *r);
/**
 * xlb_lookup_table() - the Maglev half of xlb_lookup() for a table in hand: the hash, the slot
 * hash % @m and the backend id @table holds there (@table NULL: the VIP has no table), whether
 * or not that backend is usable. @seed is xlb_config.hash_seed.
 */
void xlb_lookup_table(const struct xlb_flow_key *k, const struct xlb_vip *vip, __u32 seed,
		      const __u32 *table, __u32 m, struct xlb_lookup *r);
/* The flow-table hit rule: an entry on @be is kept for @vip while @be is usable and @vip's. */
bool xlb_flow_hit(const struct xlb_backend *be, const struct xlb_vip *vip);

/* Logging shared by libxlb, xlbd and xlb: level 0 warn, 1 info, 2 debug. */
enum xlb_log_level { XLB_LOG_WARN = 0, XLB_LOG_INFO = 1, XLB_LOG_DEBUG = 2 };
void xlb_set_log_level(int level);
void xlb_set_log_syslog(bool on);
void xlb_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define pr_warn(...) xlb_log(XLB_LOG_WARN, __VA_ARGS__)
#define pr_info(...) xlb_log(XLB_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) xlb_log(XLB_LOG_DEBUG, __VA_ARGS__)

#endif /* XLB_H */
