// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlb beside Katran's XDP balancer in bench_datapath's harness (`make bench KATRAN=DIR`).
 *
 * The Makefile builds Katran's balancer from the user's own checkout with Katran's own
 * katran/lib/Makefile-bpf, once per variant: "default" as shipped, "norate" with its
 * new-connection rate limit (MAX_CONN_RATE) out of reach, so that it records every new flow,
 * and "noinsert" with MAX_CONN_RATE 0, so that it records at most the first new flow of each
 * second. This file loads the three with libbpf, the second and third on the first one's maps,
 * fills those maps as Katran's userspace (katran/lib/KatranLb.cpp) does, and then runs each
 * row's frame through bench_datapath's wrapper into the floor, xlb and Katran in turn, round
 * after round, checking verdicts, output frames and both sides' counters. Nothing of Katran is
 * compiled in: the layouts below are written from its map definitions, and the loaded maps'
 * key and value sizes are checked against them.
 *
 * One file past 600 lines by choice: Katran's map layouts, the filling of those maps and the
 * per-row checks of its counters all follow one reading of Katran's sources; kept together, a
 * change of Katran's layout is mended in one place.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../bench_util.h"
#include "katran.h"
#include "maglev.h"
#include "xlb.h"

#define NREALS 100		/* per VIP, on both sides */
#define CHECK_FLOWS 10000	/* the last flows of a row looked up in the flow tables */
#define KAT_RATE 125000		/* Katran's MAX_CONN_RATE as shipped (new flows/s per core) */

/* bench_datapath's frame template, as struct bench_frame of bpf/bench.bpf.c lays it out. */
struct kb_frame {
	__u32 vary_off, fix_off;
	__u8 bytes[128] __attribute__((aligned(8)));
};

/* Katran's map layouts (katran/lib/bpf/balancer_structs.h), in this file's own terms. */
struct kat_flow {		/* flow_key: LRU key */
	__be32 src[4], dst[4];	/* IPv4 in [0] */
	__be16 sport, dport;
	__u8 proto, pad[3];
};
struct kat_vip {		/* vip_definition: key of vip_map */
	__be32 addr[4];
	__be16 port;
	__u8 proto, pad;
};
struct kat_vip_meta {
	__u32 flags, vip_num;	/* vip_num: the VIP's ring is ch_rings[vip_num * ring ..] */
};
struct kat_real {		/* real_definition: value of reals */
	__be32 addr[4];
	__u8 flags, pad[3];	/* KAT_F_IPV6 */
};
struct kat_lru {		/* real_pos_lru: LRU value */
	__u32 pos, pad;
	__u64 atime;
};
struct kat_stats {
	__u64 v1, v2;
};
#define KAT_F_IPV6 1

/* Katran's global counters: stats[max_vips + index] (katran/lib/bpf/balancer_consts.h). */
enum {
	K_LRU = 0,	 /* v1: packets to a VIP; v2: flow-table misses */
	K_LRU_MISS = 1,	 /* v1: misses of TCP SYNs; v2: misses of other TCP packets */
	K_TOTAL = 16,	 /* every packet */
	K_TX = 17,
	K_DROP = 18,
	K_PASS = 19,
	K__N = 20,
};

enum { KV_DEFAULT, KV_NORATE, KV_NOINSERT, KV__N };
static const char *const kv_dir[KV__N] = { "default", "norate", "noinsert" };

struct kat {
	struct bpf_object *obj[KV__N];
	int prog[KV__N];
	int stats_fd, *lru_fd, ncpus;
	__u32 max_vips, ring, lru_size;
};

enum kind { PASS, HIT, NEW_REC, NEW_NOREC, NEW_SYN };

static const struct row {
	const char *name;
	enum kind kind;
	int family;
	const char *dst;
	__u32 flood_limit;	/* xlb's config */
	int variant;		/* Katran's build */
} rows[] = {
	{ "non-VIP IPv4 (pass)", PASS, 4, "198.18.0.99", 0, KV_DEFAULT },
	{ "established IPv4 (flow-table hit)", HIT, 4, "198.18.0.10", 0, KV_DEFAULT },
	{ "established IPv6 (flow-table hit)", HIT, 6, "2001:db8::10", 0, KV_DEFAULT },
	{ "new flow, recorded", NEW_REC, 4, "198.18.0.10", 0, KV_NORATE },
	{ "new flow, not recorded", NEW_NOREC, 4, "198.18.0.10", 1, KV_NOINSERT },
	{ "new flow at defaults (SYN)", NEW_SYN, 4, "198.18.0.10", XLB_FLOOD_LIMIT_DEFAULT,
	  KV_DEFAULT },
};

static const __u8 GW_MAC[6] = { 0x02, 0, 0, 0, 0, 0xfe };	/* xlb's nexthop, Katran's gateway */

static int fail(const char *what)
{
	fprintf(stderr, "bench_datapath: Katran: %s: %s\n", what, strerror(errno ? errno : EINVAL));
	return -1;
}

/* ---------------------------------------------------------------- loading and filling */

static int map_fd(struct bpf_object *o, const char *name, __u32 key, __u32 value)
{
	struct bpf_map *m = bpf_object__find_map_by_name(o, name);

	if (!m || (key && bpf_map__key_size(m) != key) ||
	    (value && bpf_map__value_size(m) != value)) {
		fprintf(stderr, "bench_datapath: Katran: map %s missing or of another layout\n", name);
		return -1;
	}
	return bpf_map__fd(m);
}

static struct bpf_object *kat_open(const char *dir, int v)
{
	struct bpf_object *o = NULL;
	char pat[PATH_MAX];
	glob_t g;

	snprintf(pat, sizeof(pat), "%s/%s/bpf/*.o", dir, kv_dir[v]);
	if (glob(pat, 0, NULL, &g) || g.gl_pathc != 1)
		fprintf(stderr, "bench_datapath: Katran: want one object in %s\n", pat);
	else if (!(o = bpf_object__open_file(g.gl_pathv[0], NULL)))
		fail(g.gl_pathv[0]);
	globfree(&g);
	return o;
}

/*
 * As KatranLb::initLrus() and attachLrus(): one LRU hash of lru_size / cores entries per
 * forwarding core (every CPU here), the first one the prototype of lru_mapping, each put in
 * lru_mapping[core] after the load. The other variants load on the first one's maps.
 */
static int kat_load(struct kat *k, const char *dir)
{
	struct bpf_program *p;
	struct bpf_map *m;

	for (int v = 0; v < KV__N; v++) {
		struct bpf_object *o = kat_open(dir, v);

		if (!(k->obj[v] = o))
			return -1;
		if (v == KV_DEFAULT) {
			m = bpf_object__find_map_by_name(o, "lru_mapping");
			if (!m)
				return fail("no lru_mapping");
			for (int c = 0; c < k->ncpus; c++) {
				char name[32]; /* cut to 15 by the kernel */

				snprintf(name, sizeof(name), "katran_lru%d", c);
				k->lru_fd[c] = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, name,
							      sizeof(struct kat_flow),
							      sizeof(struct kat_lru),
							      k->lru_size / k->ncpus, NULL);
				if (k->lru_fd[c] < 0)
					return fail("per-core LRU");
			}
			if (bpf_map__set_inner_map_fd(m, k->lru_fd[0]))
				return fail("lru_mapping prototype");
		} else {
			bpf_object__for_each_map(m, o) {
				struct bpf_map *base;

				if (bpf_map__is_internal(m))
					continue;
				base = bpf_object__find_map_by_name(k->obj[0], bpf_map__name(m));
				if (!base || bpf_map__reuse_fd(m, bpf_map__fd(base)))
					return fail(bpf_map__name(m));
			}
		}
		if (bpf_object__load(o))
			return fail(kv_dir[v]);
		p = bpf_object__next_program(o, NULL);
		if (!p || bpf_program__type(p) != BPF_PROG_TYPE_XDP)
			return fail("no XDP program");
		k->prog[v] = bpf_program__fd(p);
	}
	m = bpf_object__find_map_by_name(k->obj[0], "lru_mapping");
	for (int c = 0; c < k->ncpus; c++)
		if (bpf_map_update_elem(bpf_map__fd(m), &c, &k->lru_fd[c], BPF_ANY))
			return fail("lru_mapping");
	return 0;
}

/* Backend @i (0 ..) of the VIP of @family, on both sides: 198.18.1.1.., 2001:db8:1::1.. */
static void backend_addr(int family, int i, void *addr)
{
	char a[64];

	snprintf(a, sizeof(a), family == 4 ? "198.18.1.%d" : "2001:db8:1::%x", i + 1);
	inet_pton(family == 4 ? AF_INET : AF_INET6, a, addr);
}

/* The 100 backends of a VIP by Maglev over @ids (libxlb's builder; the same on both sides). */
static int ring_of(int family, const __u32 *ids, __u32 m, __u32 *table)
{
	struct xlb_maglev_backend b[NREALS] = {};

	for (int i = 0; i < NREALS; i++) {
		b[i].id = ids[i];
		b[i].family = family;
		b[i].weight = 1;
		backend_addr(family, i, b[i].addr);
	}
	return xlb_maglev_build(b, NREALS, m, table);
}

/*
 * As KatranLb: ctl_array[0] (kMacAddrPos) = the default gateway's MAC; each VIP (addVip, flags
 * 0) the next vip_num from 0; each real the next index from 1 in reals (IPv6 with F_IPV6);
 * the VIP's ring written at ch_rings[vip_num * ring + slot] with one batch (programHashRing).
 */
static int kat_fill(struct kat *k)
{
	struct bpf_object *o = k->obj[0];
	int vip_fd = map_fd(o, "vip_map", sizeof(struct kat_vip), sizeof(struct kat_vip_meta));
	int real_fd = map_fd(o, "reals", 0, sizeof(struct kat_real));
	int ring_fd = map_fd(o, "ch_rings", 4, 4), ctl_fd = map_fd(o, "ctl_array", 4, 8);
	__u32 *keys = calloc(k->ring, 4), *table = calloc(k->ring, 4), ids[NREALS], zero = 0;
	__u8 ctl[8] = {};
	int err = -1;

	if (vip_fd < 0 || real_fd < 0 || ring_fd < 0 || ctl_fd < 0 || !keys || !table)
		goto out;
	memcpy(ctl, GW_MAC, 6);
	if (bpf_map_update_elem(ctl_fd, &zero, ctl, BPF_ANY)) {
		fail("ctl_array");
		goto out;
	}
	for (__u32 vn = 0; vn < 2; vn++) {
		int family = vn ? 6 : 4;
		struct kat_vip key = { .port = htons(80), .proto = 6 };
		struct kat_vip_meta meta = { .flags = 0, .vip_num = vn };
		LIBBPF_OPTS(bpf_map_batch_opts, bo);
		__u32 n = k->ring;

		inet_pton(vn ? AF_INET6 : AF_INET, vn ? "2001:db8::10" : "198.18.0.10", key.addr);
		if (bpf_map_update_elem(vip_fd, &key, &meta, BPF_NOEXIST)) {
			fail("vip_map");
			goto out;
		}
		for (__u32 i = 0; i < NREALS; i++) {
			struct kat_real r = { .flags = vn ? KAT_F_IPV6 : 0 };

			ids[i] = 1 + vn * NREALS + i;
			backend_addr(family, i, r.addr);
			if (bpf_map_update_elem(real_fd, &ids[i], &r, BPF_ANY)) {
				fail("reals");
				goto out;
			}
		}
		if (ring_of(family, ids, k->ring, table)) {
			fail("Maglev ring");
			goto out;
		}
		for (__u32 i = 0; i < k->ring; i++)
			keys[i] = vn * k->ring + i;
		if (bpf_map_update_batch(ring_fd, keys, table, &n, &bo)) {
			fail("ch_rings");
			goto out;
		}
	}
	err = 0;
out:
	free(keys);
	free(table);
	return err;
}

/* xlb's VIPs 1 and 2 get 100 backends each (ids 1.., 1001..) and their Maglev tables. */
static int xlb_fill(struct xlb *x)
{
	static __u32 table[XLB_MAGLEV_DEFAULT];
	__u32 ids[NREALS];

	for (int vn = 0; vn < 2; vn++) {
		for (int i = 0; i < NREALS; i++) {
			struct xlb_backend b = { .family = vn ? XLB_AF_INET6 : XLB_AF_INET,
						 .flags = XLB_BE_F_USABLE, .vip_id = 1 + vn };

			ids[i] = 1 + vn * 1000 + i;
			backend_addr(vn ? 6 : 4, i, b.addr);
			if (xlb_backend__set(x, ids[i], &b))
				return fail("xlb backend");
		}
		if (ring_of(vn ? 6 : 4, ids, XLB_MAGLEV_DEFAULT, table) ||
		    xlb_vip__set_table(x, 1 + vn, table, XLB_MAGLEV_DEFAULT))
			return fail("xlb table");
	}
	return 0;
}

/* ---------------------------------------------------------------- running */

static int set_flood_limit(struct xlb *x, __u32 limit)
{
	struct xlb_config cfg;

	if (xlb__config_get(x, &cfg))
		return -1;
	cfg.flood_limit = limit;
	return xlb__config_set(x, &cfg);
}

/* One BPF_PROG_TEST_RUN of @n packets through the wrapper into @prog; ns per packet or -1. */
static double run(const struct katran_env *e, int prog, __u32 n, __u32 verdict, __u8 *out,
		  __u32 *out_len)
{
	__u8 in[256];
	__u32 zero = 0;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = e->frame_len,
		    .data_out = out, .data_size_out = 512, .repeat = n);

	memset(in, 0, sizeof(in));	/* the wrapper writes the template's bytes */
	if (bpf_map_update_elem(e->jmp_fd, &zero, &prog, BPF_ANY) ||
	    bpf_prog_test_run_opts(e->wrapper_fd, &o))
		return fail("test run");
	if (o.retval != verdict) {
		fprintf(stderr, "bench_datapath: Katran row: verdict %u, expected %u\n", o.retval,
			verdict);
		return -1;
	}
	*out_len = o.data_size_out;
	return o.duration;
}

/*
 * The source of a row's frames; new flows overwrite its last word with the wrapper's counter,
 * which never comes near these addresses' last words (0xc8....., read as a host number).
 */
static const char *row_src(const struct row *r)
{
	return r->family == 4 ? "198.18.5.200" : "2001:db8:5::c8";
}

/* The frame of @r: ACK (or SYN) from row_src(), port 40000 to port 80. */
static void row_frame(const struct katran_env *e, const struct row *r, struct kb_frame *f)
{
	__u32 off = e->frame(f->bytes, r->family, row_src(r), r->dst, 40000);

	f->vary_off = r->kind >= NEW_REC ? off : 0;
	f->fix_off = f->vary_off && r->family == 4 ? 18 : 0;	/* the IPv4 ID */
	if (r->kind == NEW_SYN)
		f->bytes[14 + (r->family == 4 ? 20 : 40) + 13] = 0x02;
}

/*
 * Fill both flow tables to capacity the way traffic does: new flows from every CPU in turn
 * (Katran has one LRU per CPU; xlb's buckets are shared), xlb recording all (flood_limit 0),
 * Katran's "norate" build. Katran's per-CPU LRUs take 9/8 of their size; xlb's 8-way buckets
 * fill unevenly (a bucket is full when 8 of the flows hashed to it arrived), so xlb gets twice
 * its size in new flows, which leaves ~99.7% of its ways holding a flow. Then count what the
 * tables hold.
 */
static int prefill(const struct katran_env *e, struct kat *k, __u32 xlb_size)
{
	static const struct row fill = { "prefill", NEW_REC, 4, "198.18.0.10", 0, KV_NORATE };
	const struct row *r = &fill;
	struct kb_frame f = {};
	cpu_set_t was, one;
	__u8 out[512];
	__u32 len, zero = 0, key[16], next[16];
	__u64 n;
	int err = 0;

	row_frame(e, r, &f);
	if (sched_getaffinity(0, sizeof(was), &was) || set_flood_limit(e->x, 0) ||
	    bpf_map_update_elem(e->frame_fd, &zero, &f, BPF_ANY))
		return fail("prefill");
	for (int c = 0; c < k->ncpus && !err; c++) {
		CPU_ZERO(&one);
		CPU_SET(c, &one);
		if (sched_setaffinity(0, sizeof(one), &one))
			continue; /* an offline CPU */
		err = run(e, e->xlb_fd, xlb_size / k->ncpus * 2, XDP_TX, out, &len) < 0 ||
		      run(e, k->prog[KV_NORATE], k->lru_size / k->ncpus * 9 / 8, XDP_TX, out,
			  &len) < 0;
	}
	sched_setaffinity(0, sizeof(was), &was);
	if (err || xlb_flow__count(e->x, &n))
		return -1;
	printf("flow tables filled by new flows from each CPU: xlb %llu of %u entries (%.1f%%); "
	       "Katran", (unsigned long long)n, xlb_size, 100.0 * (double)n / xlb_size);
	for (int c = 0; c < k->ncpus; c++) {
		__u32 cnt = 0;
		void *prev = NULL;

		while (!bpf_map_get_next_key(k->lru_fd[c], prev, next)) {
			memcpy(key, next, sizeof(struct kat_flow));
			prev = key;
			cnt++;
		}
		printf("%s %u", c ? "," : "", cnt);
	}
	printf(" of %u per core\n", k->lru_size / k->ncpus);
	return 0;
}

struct snap {
	struct xlb_reason_counters rs[XLB_R__MAX];
	struct xlb_counters vip;
	struct kat_stats ks[K__N];
};

static int snap(const struct katran_env *e, struct kat *k, const struct row *r, struct snap *s)
{
	struct kat_stats *pc = calloc(k->ncpus, sizeof(*pc));

	memset(s, 0, sizeof(*s));
	if (!pc || xlb_stats__reasons(e->x, s->rs) ||
	    xlb_stats__vip(e->x, r->family == 4 ? 1 : 2, &s->vip)) {
		free(pc);
		return fail("counters");
	}
	for (__u32 i = 0; i < K__N; i++) {
		__u32 key = k->max_vips + i;

		if (bpf_map_lookup_elem(k->stats_fd, &key, pc)) {
			free(pc);
			return fail("Katran stats");
		}
		for (int c = 0; c < k->ncpus; c++) {
			s->ks[i].v1 += pc[c].v1;
			s->ks[i].v2 += pc[c].v2;
		}
	}
	free(pc);
	return 0;
}

/* How many of the @n flows whose last source word ended at @last each table holds. */
static __u32 held(const struct katran_env *e, struct kat *k, const struct row *r, int katran,
		  __u32 last, __u32 n, int cpu)
{
	__u32 cnt = 0;

	for (__u32 i = 0; i < n; i++) {
		struct kat_flow kf = { .sport = htons(40000), .dport = htons(80), .proto = 6 };
		struct xlb_flow_key xk = { .sport = htons(40000), .dport = htons(80), .proto = 6,
					   .family = r->family == 4 ? XLB_AF_INET : XLB_AF_INET6 };
		struct kat_lru kv;
		struct xlb_flow xv;

		inet_pton(r->family == 4 ? AF_INET : AF_INET6, row_src(r), kf.src);
		inet_pton(r->family == 4 ? AF_INET : AF_INET6, r->dst, kf.dst);
		if (r->kind >= NEW_REC)
			kf.src[r->family == 4 ? 0 : 3] = last - i;
		memcpy(xk.src, kf.src, 16);
		memcpy(xk.dst, kf.dst, 16);
		if (katran)
			cnt += !bpf_map_lookup_elem(k->lru_fd[cpu], &kf, &kv);
		else
			cnt += !xlb_flow__get(e->x, &xk, &xv);
	}
	return cnt;
}

/* NULL if @o is @r's frame as expected: unchanged (pass) or IPIP/6in6 to one of the 100. */
static const char *check_frame(const struct row *r, const struct kb_frame *f, const __u8 *o,
			       __u32 len)
{
	__u8 a[16];
	int outer = r->family == 4 ? 20 : 40;

	if (r->kind == PASS)
		return len == sizeof(f->bytes) && !memcmp(o, f->bytes, len) ? NULL
									   : "frame changed";
	if (len != sizeof(f->bytes) + outer || memcmp(o, GW_MAC, 6) || memcmp(o + 6, f->bytes, 6))
		return "not an encapsulated frame to the gateway MAC";
	if (r->family == 4) {
		inet_pton(AF_INET, "198.18.1.0", a);
		if (o[12] != 0x08 || o[13] || o[14] != 0x45 || o[23] != 4 || memcmp(o + 30, a, 3) ||
		    o[33] < 1 || o[33] > NREALS)
			return "not IPIP to a backend";
		return memcmp(o + 14 + outer + 16, f->bytes + 30, 4) ? "inner frame changed" : NULL;
	}
	inet_pton(AF_INET6, "2001:db8:1::", a);
	if (o[12] != 0x86 || o[13] != 0xdd || o[20] != 41 || memcmp(o + 38, a, 15) || o[53] < 1 ||
	    o[53] > NREALS)
		return "not 6in6 to a backend";
	return memcmp(o + 14 + outer + 24, f->bytes + 38, 16) ? "inner frame changed" : NULL;
}

#define D(a, b, field) ((a).field - (b).field)

/*
 * Does each side's counters say it took @r's branch for every one of the @n packets? Prints
 * what was checked; returns 0 or -1.
 */
static int check_row(const struct katran_env *e, struct kat *k, const struct row *r,
		     const struct snap *s0, const struct snap *s1, __u64 n, const __u32 *last,
		     double secs, int cpu, FILE *notes)
{
	__u64 tx = D(s1->rs[XLB_R_TX], s0->rs[XLB_R_TX], packets);
	__u64 pass = D(s1->rs[XLB_R_PASS_NOT_VIP], s0->rs[XLB_R_PASS_NOT_VIP], packets);
	__u64 flood = D(s1->rs[XLB_R_EV_FLOOD], s0->rs[XLB_R_EV_FLOOD], packets);
	__u64 nf = D(s1->vip, s0->vip, new_flows);
	__u64 ktot = D(s1->ks[K_TOTAL], s0->ks[K_TOTAL], v1);
	__u64 ktx = D(s1->ks[K_TX], s0->ks[K_TX], v1), kpass = D(s1->ks[K_PASS], s0->ks[K_PASS], v1);
	__u64 kvip = D(s1->ks[K_LRU], s0->ks[K_LRU], v1), kmiss = D(s1->ks[K_LRU], s0->ks[K_LRU], v2);
	__u64 ksyn = D(s1->ks[K_LRU_MISS], s0->ks[K_LRU_MISS], v1);
	__u64 kack = D(s1->ks[K_LRU_MISS], s0->ks[K_LRU_MISS], v2);
	__u32 want = r->kind >= NEW_REC ? CHECK_FLOWS : 1;
	__u32 xh = held(e, k, r, 0, last[1], want, cpu), kh = held(e, k, r, 1, last[2], want, cpu);
	/* a flood guard or rate limit of 1 (or 0) per second records about one flow a second */
	__u32 few = 2 + (__u32)secs;
	bool ok = ktot == n;

	switch (r->kind) {
	case PASS:
		ok = ok && pass == n && kpass == n && kvip == 0;
		break;
	case HIT:
		ok = ok && tx == n && nf == 0 && ktx == n && kvip == n && kmiss == 0 && xh == 1 &&
		     kh == 1;
		break;
	case NEW_REC:
		/*
		 * xlb's buckets evict any unreferenced way of a full bucket, not the oldest, so
		 * some of the last flows went again (expected: ~0.5% of 10,000 in a full table)
		 */
		ok = ok && tx == n && nf == n && flood == 0 && ktx == n && kmiss == n && kack == n &&
		     ksyn == 0 && xh >= want - want / 50 && kh == want;
		break;
	case NEW_NOREC:
		ok = ok && tx == n && nf == n && flood + few >= n && ktx == n && kmiss == n &&
		     kack == n && ksyn == 0 && xh <= few && kh <= few;
		break;
	case NEW_SYN:	/* both record what their limits let through */
		ok = ok && tx == n && nf == n && ktx == n && kmiss == n && ksyn == n && kack == 0;
		break;
	}
	fprintf(notes, "  %s: xlb tx %llu, pass %llu, new flows %llu, flood guard %llu, %u of the last "
	       "%u flows held; Katran tx %llu, pass %llu, VIP packets %llu, misses %llu (SYN %llu, "
	       "other %llu), %u of the last %u held\n",
	       r->name, (unsigned long long)tx, (unsigned long long)pass, (unsigned long long)nf,
	       (unsigned long long)flood, xh, want, (unsigned long long)ktx,
	       (unsigned long long)kpass, (unsigned long long)kvip, (unsigned long long)kmiss,
	       (unsigned long long)ksyn, (unsigned long long)kack, kh, want);
	if (r->kind == NEW_SYN) {
		/* how many of the last round's new flows each side's rate limit let it record */
		__u32 got = held(e, k, r, 1, last[2], e->repeat, cpu);
		__u32 xgot = held(e, k, r, 0, last[1], e->repeat, cpu);

		fprintf(notes, "    recorded of the last round's %u SYNs: xlb %u (flood_limit %u/s "
			"per CPU), Katran %u (limit %u/s per core)\n",
		       e->repeat, xgot, r->flood_limit, got, KAT_RATE);
	}
	if (!ok)
		fprintf(stderr, "bench_datapath: Katran row \"%s\": a side took another branch "
				"(counters above; %llu packets per side)\n",
			r->name, (unsigned long long)n);
	return ok ? 0 : -1;
}

static void spread(double *v, int n, double *med, double *lo, double *hi)
{
	qsort(v, n, sizeof(*v), cmp_double);
	*med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	*lo = v[0];
	*hi = v[n - 1];
}

/* Floor, xlb and Katran, round after round (the order rotated each round); one table row. */
static int measure_row(const struct katran_env *e, struct kat *k, const struct row *r, int cpu,
		       FILE *notes)
{
	int fds[3] = { e->floor_fd, e->xlb_fd, k->prog[r->variant] };
	__u32 verdict = r->kind == PASS ? XDP_PASS : XDP_TX, len[3], last[3] = {}, zero = 0;
	double t[3][64], net[3][64], m[3][3], secs;
	struct kb_frame f = {};
	struct snap s0, s1;
	__u8 out[3][512];
	int nr = e->rounds < 64 ? e->rounds : 64;

	row_frame(e, r, &f);
	if (set_flood_limit(e->x, r->flood_limit) ||
	    bpf_map_update_elem(e->frame_fd, &zero, &f, BPF_ANY))
		return fail("row setup");
	/*
	 * warm-up (caches); an established flow is recorded first by the "norate" build, which
	 * shares the maps: the default build's rate limit may still be spent by the flows before
	 */
	if (r->kind == HIT && run(e, k->prog[KV_NORATE], 1, verdict, out[2], &len[2]) < 0)
		return -1;
	for (int w = 1; w < 3; w++)
		if (run(e, fds[w], e->repeat / 10 + 1, verdict, out[w], &len[w]) < 0)
			return -1;
	if (snap(e, k, r, &s0))
		return -1;
	secs = now_us();
	for (int i = 0; i < nr; i++)
		for (int j = 0; j < 3; j++) {
			int w = (i + j) % 3;

			t[w][i] = run(e, fds[w], e->repeat, w ? verdict : XDP_TX, out[w], &len[w]);
			if (t[w][i] < 0)
				return -1;
			last[w] = *e->seq;
		}
	secs = (now_us() - secs) / 1e6;
	if (snap(e, k, r, &s1))
		return -1;
	for (int w = 1; w < 3; w++) {
		const char *bad = check_frame(r, &f, out[w], len[w]);

		if (bad) {
			fprintf(stderr, "bench_datapath: Katran row \"%s\": %s: %s (%u bytes:", r->name,
				w == 1 ? "xlb" : "Katran", bad, len[w]);
			for (__u32 b = 0; b < len[w] && b < 64; b++)
				fprintf(stderr, " %02x", out[w][b]);
			fprintf(stderr, ")\n");
			return -1;
		}
	}
	for (int i = 0; i < nr; i++) {
		net[0][i] = t[1][i] - t[0][i];
		net[1][i] = t[2][i] - t[0][i];
		net[2][i] = net[0][i] / net[1][i];
	}
	spread(t[0], nr, &m[0][0], &m[0][1], &m[0][2]);
	printf("| %s | %.1f [%.1f, %.1f]", r->name, m[0][0], m[0][1], m[0][2]);
	for (int w = 0; w < 3; w++) {
		spread(net[w], nr, &m[w][0], &m[w][1], &m[w][2]);
		printf(w < 2 ? " | %.1f [%.1f, %.1f]" : " | %.2f [%.2f, %.2f] |\n", m[w][0],
		       m[w][1], m[w][2]);
	}
	fflush(stdout);
	return check_row(e, k, r, &s0, &s1, (__u64)nr * e->repeat, last, secs, cpu, notes);
}

int katran_bench(const struct katran_env *e, const char *dir)
{
	struct kat k = { .ncpus = libbpf_num_possible_cpus() };
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info), zero = 0;
	struct kb_frame probe = {};
	char commit[128] = "unknown", path[PATH_MAX];
	int rc = -1, cpu = sched_getcpu();
	char *nbuf = NULL;
	size_t nlen = 0;
	FILE *cf, *notes = open_memstream(&nbuf, &nlen);

	if (k.ncpus <= 0 || !notes || !(k.lru_fd = calloc(k.ncpus, sizeof(int)))) {
		if (notes)
			fclose(notes);
		free(nbuf);
		return fail("CPUs");
	}
	for (int c = 0; c < k.ncpus; c++)
		k.lru_fd[c] = -1;
	/* the wrapper's template must be the layout written here */
	if (e->frame_len != sizeof(probe.bytes) ||
	    bpf_map_lookup_elem(e->frame_fd, &zero, &probe) ||
	    bpf_obj_get_info_by_fd(e->frame_fd, &info, &ilen) || info.value_size != sizeof(probe)) {
		fail("bench_frame layout");
		goto out;
	}
	/* Katran's LruSize: as many flows as xlb's flow table holds */
	k.lru_size = xlb_flow__buckets(e->x) * XLB_FLOW_WAYS;
	snprintf(path, sizeof(path), "%s/commit", dir);
	if ((cf = fopen(path, "r"))) {
		if (!fgets(commit, sizeof(commit), cf))
			strcpy(commit, "unknown");
		commit[strcspn(commit, "\n")] = 0;
		fclose(cf);
	}
	if (kat_load(&k, dir))
		goto out;
	k.stats_fd = map_fd(k.obj[0], "stats", 4, sizeof(struct kat_stats));
	{
		struct bpf_map *vm = bpf_object__find_map_by_name(k.obj[0], "vip_map");
		struct bpf_map *rm = bpf_object__find_map_by_name(k.obj[0], "ch_rings");

		if (k.stats_fd < 0 || !vm || !rm)
			goto out;
		k.max_vips = bpf_map__max_entries(vm);
		k.ring = bpf_map__max_entries(rm) / k.max_vips;
	}
	if (k.ring != XLB_MAGLEV_DEFAULT) {
		fprintf(stderr, "bench_datapath: Katran: ring of %u slots (built with RING_SIZE?); "
				"this comparison wants %u\n", k.ring, XLB_MAGLEV_DEFAULT);
		goto out;
	}
	if (kat_fill(&k) || xlb_fill(e->x))
		goto out;

	printf("\nxlb beside Katran (%s/*/bpf/*.o: Katran %s, built by its katran/lib/Makefile-bpf)\n"
	       "same wrapper, frames and floor; %d rounds x %u packets, the floor, xlb and Katran "
	       "in turn (order rotated each round);\n2 VIPs x %d backends, Maglev rings of %u; "
	       "flow tables of %u flows (Katran: %u per core, %d cores);\nnet = ns/packet minus the "
	       "floor of the same round; median [min, max] over the rounds\n\n",
	       dir, commit, e->rounds, e->repeat, NREALS, k.ring, k.lru_size,
	       k.lru_size / k.ncpus, k.ncpus);
	if (prefill(e, &k, k.lru_size))
		goto out;
	printf("\n| path | floor ns | xlb net ns | Katran net ns | xlb / Katran |\n"
	       "|---|--:|--:|--:|--:|\n");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (e->only && !strstr(rows[i].name, e->only))
			continue;
		if (measure_row(e, &k, &rows[i], cpu, notes))
			goto out;
	}
	rc = 0;
out:
	fclose(notes);
	printf("\nwhat each side's counters and flow table showed (%d rounds x %u packets per "
	       "side and row):\n%s", e->rounds, e->repeat, nbuf ? nbuf : "");
	free(nbuf);
	for (int v = 0; v < KV__N; v++)
		bpf_object__close(k.obj[v]);
	for (int c = 0; c < k.ncpus; c++)
		if (k.lru_fd[c] >= 0)
			close(k.lru_fd[c]);
	free(k.lru_fd);
	return rc;
}
