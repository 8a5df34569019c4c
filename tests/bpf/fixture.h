/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The datapath fixture of the test_dp_* scenarios: a loaded balancer with VIPs of every mode and
 * family and their backends, what the tests know of them, and the checks of a frame's fate.
 * Each scenario starts from an object of its own: fixture_fresh() is its load.
 */
#ifndef XLB_TEST_FIXTURE_H
#define XLB_TEST_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <linux/bpf.h>		/* XDP_PASS and the other verdicts */

#include "xlb.h"
#include "harness.h"
#include "pktbuild.h"

/* the fixture tables override the defaults of their spec macros (TCP()/UDP() payload sizes) */
#pragma GCC diagnostic ignored "-Woverride-init"

#define M 13		/* table size of the fixture VIPs */
#define M_BIG 251	/* table size of the random-flow VIP */

/* The loaded balancer of this scenario (fixture_load()) and the config written to it. */
extern struct xlb *X;
extern struct xlb_config CFG;

/* What the test knows about each VIP id. */
struct vipinfo {
	uint8_t mode;
	uint32_t flags;
	uint32_t m;
	uint32_t table[M_BIG];
};
extern struct vipinfo V[32];

/*
 * Backends belong to one VIP, as xlbd programs them: VIP @vip's k-th backend has id BE(vip, k)
 * and xlb_backend.vip_id == vip (a flow-table hit on another VIP's backend re-hashes).
 */
#define BE_PER_VIP 16
#define BE(vip, k) (1 + (vip) * BE_PER_VIP + (k))
#define BE_IDS (1 + 32 * BE_PER_VIP)
extern struct xlb_backend B[BE_IDS];

extern const uint8_t NEXTHOP_MAC[6];
/* The source MAC forwarded frames must carry; NULL = the frame's destination MAC (no xlb_ifmac). */
extern const uint8_t *SRC_MAC;
/* The ingress ifindex test runs pass in their xdp_md (0 = none, as without ctx_in). */
extern uint32_t RUN_IFINDEX;

/* The fixture VIPs (ids); their addresses and modes are in fixture_setup(). */
enum {
	VIP_4IN4, VIP_4IN6, VIP_6IN6, VIP_6IN4, VIP_GUE4, VIP_GUE6, VIP_L2_4, VIP_L2_6,
	VIP_ALL4, VIP_ALL6, VIP_SRC, VIP_MISC, VIP_RAND, VIP_EMPTY, VIP_NOTABLE, VIP_RAND6,
	VIP_EMPTY_PASS,
};

/*
 * fixture_open() - load a fresh balancer into X (no pins; a flow table of @flow_table_size
 * entries, 0 = 65536), nothing set up: for a test with a world of its own. 0, or -1 after a
 * "not ok" line.
 */
int fixture_open(uint32_t flow_table_size);

/*
 * fixture_load() - load a fresh balancer into X (no pins; a flow table of @flow_table_size
 * entries, 0 = 65536) and set up the fixture (fixture_setup()). 0, or -1 after a "not ok" line.
 */
int fixture_load(uint32_t flow_table_size);

/* fixture_load(0): the load of a scenario (struct scenario). */
int fixture_fresh(void);

/* fixture_setup() - config, VIPs, backends and Maglev tables of the fixture into X. 0 or not. */
int fixture_setup(void);

/* VIP @id at @addr:@port/@proto in @mode, as the test knows it. 0 or -errno. */
int add_vip(const char *addr, uint16_t port, uint8_t proto, uint32_t id, uint8_t mode,
	    uint32_t flags);

/* VIP @vip_id's Maglev table of @m slots, written and known. 0 or -errno. */
int set_table(uint32_t vip_id, const uint32_t *t, uint32_t m);

/* One frame through X and what came out. */
struct run {
	uint32_t verdict;
	uint8_t out[4096];
	uint32_t out_len;
	struct xlb_reason_counters d[XLB_R__MAX]; /* counter deltas of this packet */
};

/* run_pkt() - @in through X (on RUN_IFINDEX) into @r, with the reason counters' deltas. */
int run_pkt(const struct pkt *in, struct run *r);

/* The XDP verdict of verdict reason @reason. */
uint32_t verdict_of(int reason);

/* The verdict and exactly one verdict reason (with the frame's bytes), plus @events. */
int check_reason(const struct pkt *in, const struct run *r, int reason, const int *events);

/* The frame came out as it went in. */
int check_untouched(const struct pkt *in, const struct run *r);

/* The key the datapath builds for a spec (a later fragment carries no ports). */
void key_of(const struct pspec *s, struct xlb_flow_key *k);

/* libxlb's prediction (xlb_lookup_table()) for flow @k of VIP @vip_id with table @t of @m slots. */
struct xlb_lookup lookup_in(const struct xlb_flow_key *k, uint32_t vip_id, const uint32_t *t,
			    uint32_t m);

/* The flow hash of @k at VIP @vip_id. */
uint32_t hash_of(const struct xlb_flow_key *k, uint32_t vip_id);
/* the outer hash of flow @k (libxlb's xlb_flow__outer()): what check_forward() checks */
uint32_t outer_of(const struct xlb_flow_key *k);

/* The backend userspace predicts: the VIP's table (as the test wrote it) at hash % M. */
uint32_t predict(const struct xlb_flow_key *k, uint32_t vip_id);

/*
 * check_forward() - the frame went to backend @be_id of a VIP in @mode: Ethernet rewritten,
 * outer header fields (checksum recomputed), and the inner packet byte-identical.
 */
int check_forward(const struct pkt *in, const struct run *r, uint8_t mode, uint32_t be_id,
		  uint32_t hash);

/* Which backend did a forwarded frame go to (by outer destination or MAC)? 0 if none. */
uint32_t backend_of(const struct pkt *in, const struct run *r, uint8_t mode);

/* Send one TCP packet of client @src:@sport to @dst:80; returns the backend it went to. */
uint32_t send_flow(const char *src, const char *dst, uint16_t sport, uint32_t vip, struct run *r,
		   struct pkt *in);

/*
 * same_bucket() - @n source ports from @from up whose TCP flows of client @src to @dst:80 share
 * one bucket of X's flow table (that of the first port found, returned), into @ports; -1 if
 * 4096 ports hold none such.
 */
int same_bucket(const char *src, const char *dst, uint16_t from, int n, uint16_t *ports);

/* ---------------------------------------------------------------- fixture tables */

enum mangle {
	MG_NONE,
	MG_IHL4,	/* IPv4 IHL = 4 */
	MG_TOTLEN_BIG,	/* tot_len beyond the frame */
	MG_TOTLEN_SMALL,	/* tot_len below the header */
	MG_V6PLEN_BIG,	/* IPv6 payload_len beyond the frame */
	MG_VERSION,	/* IPv4 ethertype, version 5 */
	MG_FIT,		/* after truncation: IP length = what is left (a consistent short packet) */
};

/* One fixture: a frame, and the fate expected of it. */
struct tcase {
	const char *name;
	struct pspec s;
	int reason;		/* expected verdict reason */
	int vip;		/* VIP id for XLB_R_TX */
	uint32_t trunc;		/* cut the frame to this many bytes (0 = whole) */
	enum mangle mangle;
};

#define V4(...) { .family = 4, .src = "198.18.5.1", __VA_ARGS__ }
#define V6(...) { .family = 6, .src = "2001:db8:5::1", __VA_ARGS__ }
#define TCP(p) .proto = 6, .sport = 40000 + (p), .dport = 80, .payload = 40
#define UDP(p) .proto = 17, .sport = 40000 + (p), .dport = 53, .payload = 30

/* One fixture through X, checked: its verdict reason, its bytes, the backend of its flow. */
void run_case(const struct tcase *c);

/* The @n fixtures of @c (one TAP line each). */
void run_cases(const struct tcase *c, size_t n);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif /* XLB_TEST_FIXTURE_H */
