// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Datapath scenarios of the flow-table-first path: an established flow is balanced from its
 * way (struct xlb_flow_bucket) and the VIP slot of the id it holds (xlb_vip_ids) without the VIP
 * lookup only while that slot is exactly the packet's port VIP, or its all-ports VIP with no port
 * VIP beside it (marked sole); every change of a VIP (removed,
 * its id reused, a port VIP beside an all-ports one, its mode), of a backend id's owner or of a
 * backend's state is decided exactly as the VIP-lookup-first path decides it. Frames go
 * through the loaded program (BPF_PROG_TEST_RUN); the backend is read from the frame that
 * comes out. Each scenario starts
 * from a freshly loaded balancer (fixture_open()) with the VIPs of setup() below, in a process
 * of its own (harness.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "fixture.h"

/*
 * Each scenario runs twice: with TCP ACKs (the flow table looked up first) and with SYNs (the
 * VIP looked up first, the flow entry after), on other ports each time (@SPORT).
 */
static int SYN;
static uint16_t SPORT;

/* One TAP line, "SYN: " before the name of a SYN scenario's; WHY is cleared after it. */
static void check(int ok, const char *name)
{
	char n[256];

	snprintf(n, sizeof(n), "%s%s", SYN ? "SYN: " : "", name);
	tap(ok, n, WHY);
	WHY[0] = 0;
}

/*
 * The VIP ids of this test (not the fixture's: its own world, set up by setup()), and their
 * backends: VIP v's k-th backend has id 1 + 8 v + k, address 198.19.v.k+1.
 */
enum { VA = 1, VB = 2, VALL = 3, VV6 = 4 };
#define FBE(v, k) (1 + (v) * 8 + (k))
#define NBE 4

static int backend(uint32_t id, uint32_t vip, int usable)
{
	struct xlb_backend b = { .family = XLB_AF_INET, .flags = usable ? XLB_BE_F_USABLE : 0,
				 .vip_id = vip };
	char a[32];

	if (vip == VV6) {
		b.family = XLB_AF_INET6;
		snprintf(a, sizeof(a), "2001:db8:1:%x::%x", vip, id);
		inet_pton(AF_INET6, a, b.addr);
	} else {
		snprintf(a, sizeof(a), "198.19.%u.%u", vip, id);
		inet_pton(AF_INET, a, b.addr);
	}
	return xlb_backend__set(X, id, &b);
}

static int table(uint32_t vip)
{
	uint32_t t[M];

	for (int i = 0; i < M; i++)
		t[i] = FBE(vip, i % NBE);
	return xlb_vip__set_table(X, vip, t, M);
}

static struct xlb_vip_key vkey(const char *addr, uint16_t port)
{
	struct xlb_vip_key k = { .port = htons(port), .proto = 6, .family = XLB_AF_INET };

	if (inet_pton(AF_INET, addr, k.addr) != 1) {
		k.family = XLB_AF_INET6;
		inet_pton(AF_INET6, addr, k.addr);
	}
	return k;
}

static int vip(const char *addr, uint16_t port, uint32_t id, uint8_t mode, uint32_t flags)
{
	struct xlb_vip_key k = vkey(addr, port);
	struct xlb_vip v = { .id = id, .mode = mode, .flags = flags };

	return xlb_vip__set(X, &k, &v);
}

static int vip_del(const char *addr, uint16_t port)
{
	struct xlb_vip_key k = vkey(addr, port);

	return xlb_vip__del(X, &k);
}

static int setup(void)
{
	int err = 0;

	CFG = (struct xlb_config){ .gue_port = 6080, .hash_seed = 0x5eed, .encap_src4_bits = 8,
				   .mtu = 1500 };
	memcpy(CFG.nexthop_mac, "\x02\x00\x00\x00\x00\xfe", 6);
	inet_pton(AF_INET, "198.18.200.0", &CFG.encap_src4);
	inet_pton(AF_INET6, "2001:db8:ffff::", CFG.encap_src6);
	err |= xlb__config_set(X, &CFG);
	for (uint32_t v = VA; v <= VV6; v++) {
		for (uint32_t k = 0; k < NBE; k++)
			err |= backend(FBE(v, k), v, 1);
		err |= table(v);
	}
	err |= vip("198.18.0.10", 80, VA, XLB_MODE_IPIP, 0);
	err |= vip("198.18.0.11", 80, VB, XLB_MODE_IPIP, 0);
	err |= vip("198.18.0.20", 0, VALL, XLB_MODE_IPIP, 0);
	err |= vip("2001:db8::10", 80, VV6, XLB_MODE_IPIP, 0);
	return err;
}

/* ---------------------------------------------------------------- one packet */

struct out {
	uint32_t verdict;
	uint32_t backend;	/* the backend the frame was sent to, 0 = none */
	uint8_t outer_proto;	/* 4 (IPIP), 41 (IPv6 in IP), 17 (GUE) */
	uint8_t b[512];
	uint32_t len;
	struct xlb_reason_counters d[XLB_R__MAX];
};

static uint32_t backend_at(const uint8_t *addr, int family)
{
	struct xlb_backend b;

	for (uint32_t id = 1; id < 64; id++)
		if (!xlb_backend__get(X, id, &b) && b.family == family &&
		    !memcmp(b.addr, addr, family == XLB_AF_INET ? 4 : 16))
			return id;
	return 0;
}

/* A TCP ACK from @client:@sport to @dst:@dport through the balancer. */
static int send_pkt(const char *client, const char *dst, uint16_t sport, uint16_t dport,
		struct out *o, struct pkt *in)
{
	struct xlb_reason_counters r0[XLB_R__MAX], r1[XLB_R__MAX];
	struct pspec s = { .family = strchr(dst, ':') ? 6 : 4, .src = client, .dst = dst,
			   .proto = 6, .sport = sport, .dport = dport, .df = 1, .payload = 40 };
	LIBBPF_OPTS(bpf_test_run_opts, t, .repeat = 1);

	s.sport += SPORT;
	build_pkt(in, &s);
	/* pktbuild's TCP header is a SYN; ACK it (the balancer checks no TCP checksum) */
	in->b[in->l3 + (s.family == 4 ? 20 : 40) + 13] = SYN ? 0x02 : 0x10;
	memset(o, 0, sizeof(*o));
	t.data_in = in->b;
	t.data_size_in = in->len;
	t.data_out = o->b;
	t.data_size_out = sizeof(o->b);
	if (xlb_stats__reasons(X, r0) || bpf_prog_test_run_opts(xlb__prog_fd(X), &t) ||
	    xlb_stats__reasons(X, r1))
		return fail("test run: %s", strerror(errno));
	o->verdict = t.retval;
	o->len = t.data_size_out;
	for (int i = 0; i < XLB_R__MAX; i++)
		o->d[i].packets = r1[i].packets - r0[i].packets;
	if (o->verdict == XDP_TX && o->len >= 14 + 40) {
		const uint8_t *l3 = o->b + 14;

		if (o->b[12] == 0x08 && o->b[13] == 0x00) {
			o->outer_proto = l3[9];
			o->backend = backend_at(l3 + 16, XLB_AF_INET);
		} else if (o->b[12] == 0x86 && o->b[13] == 0xdd) {
			o->outer_proto = l3[6];
			o->backend = backend_at(l3 + 24, XLB_AF_INET6);
		}
	}
	return 1;
}

static struct xlb_flow_key fkey(const char *client, const char *dst, uint16_t sport,
				uint16_t dport)
{
	struct xlb_flow_key k;
	uint8_t a[16], d[16];
	int fam = strchr(dst, ':') ? XLB_AF_INET6 : XLB_AF_INET;

	inet_pton(fam == XLB_AF_INET ? AF_INET : AF_INET6, client, a);
	inet_pton(fam == XLB_AF_INET ? AF_INET : AF_INET6, dst, d);
	xlb_flow_key__init(&k, fam, a, d, sport + SPORT, dport, 6);
	return k;
}

/* The VIP slot of @id (xlb_vip_ids). */
static struct xlb_vip_slot slot_of(uint32_t id)
{
	struct xlb_vip_slot sl = {};

	bpf_map_lookup_elem(xlb__map_fd(X, "xlb_vip_ids"), &id, &sl);
	return sl;
}

/* The flow entry of @k for VIP @vip_id must hold backend @be. */
static int entry_is(const struct xlb_flow_key *k, uint32_t be, uint32_t vip_id)
{
	struct xlb_flow f;

	if (xlb_flow__find(X, k, vip_id, &f))
		return fail("no flow entry for VIP %u", vip_id);
	if (f.backend_id != be)
		return fail("flow entry of VIP %u on backend %u, expected %u", vip_id, f.backend_id,
			    be);
	return 1;
}

static int events(const struct out *o, uint64_t rehash, uint64_t tx)
{
	if (o->d[XLB_R_EV_REHASH].packets != rehash)
		return fail("rehash +%llu, expected +%llu",
			    (unsigned long long)o->d[XLB_R_EV_REHASH].packets,
			    (unsigned long long)rehash);
	if (o->d[XLB_R_TX].packets != tx)
		return fail("tx +%llu, expected +%llu", (unsigned long long)o->d[XLB_R_TX].packets,
			    (unsigned long long)tx);
	return 1;
}

/* ---------------------------------------------------------------- scenarios */

/*
 * The VIP slots follow xlb_vips: written on an add, rewritten on a change, cleared on a delete
 * and when the key moves to another id, kept when the id went to another key meanwhile.
 */
static void test_vip_slots(void)
{
	struct xlb_vip_key k11 = vkey("198.18.0.11", 80), k12 = vkey("198.18.0.12", 80);
	struct xlb_vip_key k13 = vkey("198.18.0.13", 80);
	struct xlb_vip_slot sl = slot_of(VB);
	int ok;

	ok = (sl.vip.id == VB && !memcmp(&sl.key, &k11, sizeof(k11))) ||
	     fail("slot %u does not hold its VIP", VB);
	ok = ok && vip("198.18.0.12", 80, 7, XLB_MODE_GUE, 0) == 0;
	sl = slot_of(7);
	if (ok && (memcmp(&sl.key, &k12, sizeof(k12)) || sl.vip.mode != XLB_MODE_GUE))
		ok = fail("added VIP: slot 7 family %u mode %u", sl.key.family, sl.vip.mode);
	ok = ok && vip("198.18.0.12", 80, 7, XLB_MODE_IPIP, XLB_VIP_F_HASH_SRC) == 0;
	sl = slot_of(7);
	if (ok && (sl.vip.mode != XLB_MODE_IPIP || sl.vip.flags != XLB_VIP_F_HASH_SRC))
		ok = fail("changed VIP: slot 7 mode %u flags %u", sl.vip.mode, sl.vip.flags);
	/* the key takes id 8: slot 7 cleared after, slot 8 written */
	ok = ok && vip("198.18.0.12", 80, 8, XLB_MODE_IPIP, 0) == 0;
	sl = slot_of(8);
	if (ok && (slot_of(7).key.family || memcmp(&sl.key, &k12, sizeof(k12))))
		ok = fail("id 7 -> 8: slot 7 family %u, slot 8 family %u", slot_of(7).key.family,
			  sl.key.family);
	/* id 8 given to another key, then the first one deleted: slot 8 stays the other's */
	ok = ok && vip("198.18.0.13", 80, 8, XLB_MODE_IPIP, 0) == 0;
	ok = ok && xlb_vip__del(X, &k12) == 0;
	sl = slot_of(8);
	if (ok && memcmp(&sl.key, &k13, sizeof(k13)))
		ok = fail("slot 8 lost the VIP that holds id 8");
	ok = ok && xlb_vip__del(X, &k13) == 0;
	if (ok && slot_of(8).key.family)
		ok = fail("deleted VIP: slot 8 not cleared");
	check(ok, "VIP slots: written on add and change, cleared on delete and id change, kept "
		  "for the id's new owner");
}

/* A recorded flow: its entry carries its VIP; the next packets follow it. */
static void test_hit(void)
{
	struct xlb_flow_key k = fkey("198.18.5.1", "198.18.0.10", 1000, 80);
	struct out o;
	struct pkt in;
	uint32_t b0;
	int ok;

	ok = send_pkt("198.18.5.1", "198.18.0.10", 1000, 80, &o, &in);
	b0 = o.backend;
	ok = ok && (o.verdict == XDP_TX || fail("verdict %u", o.verdict));
	ok = ok && entry_is(&k, b0, VA);
	for (int i = 0; ok && i < 3; i++) {
		ok = send_pkt("198.18.5.1", "198.18.0.10", 1000, 80, &o, &in);
		if (ok && o.backend != b0)
			ok = fail("packet %d went to %u, the flow's backend is %u", i, o.backend,
				  b0);
		ok = ok && events(&o, 0, 1);
	}
	check(ok,
	      "established flow: entry holds backend and VIP id; packets follow it");

	/* IPv6 the same */
	k = fkey("2001:db8:5::1", "2001:db8::10", 1000, 80);
	ok = send_pkt("2001:db8:5::1", "2001:db8::10", 1000, 80, &o, &in);
	b0 = o.backend;
	ok = ok && (o.verdict == XDP_TX || fail("verdict %u", o.verdict));
	ok = ok && entry_is(&k, b0, VV6);
	ok = ok && send_pkt("2001:db8:5::1", "2001:db8::10", 1000, 80, &o, &in);
	if (ok && o.backend != b0)
		ok = fail("went to %u, the flow's backend is %u", o.backend, b0);
	check(ok, "established IPv6 flow: entry holds its VIP; packets follow it");
}

/* The VIP removed while its flow entry stays: the host's packet; re-added: the flow resumes. */
static void test_vip_removed(void)
{
	const char *c = "198.18.5.2", *d = "198.18.0.10";
	struct xlb_flow_key k = fkey(c, d, 1001, 80);
	struct out o;
	struct pkt in;
	uint32_t b0;
	int ok;

	ok = send_pkt(c, d, 1001, 80, &o, &in);
	b0 = o.backend;
	ok = ok && vip_del(d, 80) == 0;
	ok = ok && send_pkt(c, d, 1001, 80, &o, &in);
	if (ok && (o.verdict != XDP_PASS || o.d[XLB_R_PASS_NOT_VIP].packets != 1))
		ok = fail("verdict %u, pass_not_vip +%llu: the removed VIP still forwarded",
			  o.verdict, (unsigned long long)o.d[XLB_R_PASS_NOT_VIP].packets);
	if (ok && (o.len != in.len || memcmp(o.b, in.b, in.len)))
		ok = fail("the frame was changed");
	check(ok, "VIP removed, flow entry present: XDP_PASS untouched, pass_not_vip");

	/*
	 * its id reused by a VIP of another port on the same address (so the address filter
	 * lets the packet through): the flow's way names that VIP's slot, which is not its VIP
	 */
	ok = vip(d, 81, VA, XLB_MODE_IPIP, 0) == 0;
	ok = ok && send_pkt(c, d, 1001, 80, &o, &in);
	if (ok && (o.verdict != XDP_PASS || o.d[XLB_R_PASS_NOT_VIP].packets != 1))
		ok = fail("verdict %u, pass_not_vip +%llu: followed the id to another VIP",
			  o.verdict, (unsigned long long)o.d[XLB_R_PASS_NOT_VIP].packets);
	ok = ok && vip_del(d, 81) == 0;
	check(ok, "VIP removed, its id reused by a VIP of another port: the flow's packet is the "
		  "host's");

	ok = vip(d, 80, VA, XLB_MODE_IPIP, 0) == 0;
	ok = ok && send_pkt(c, d, 1001, 80, &o, &in);
	if (ok && o.backend != b0)
		ok = fail("went to %u, the flow's backend is %u", o.backend, b0);
	ok = ok && events(&o, 0, 1) && entry_is(&k, b0, VA);
	check(ok, "VIP re-added with its id: the flow keeps its backend");

	/* re-added under another id: the old id's way is not this VIP's: a new flow of VB */
	ok = vip_del(d, 80) == 0 && vip(d, 80, VB, XLB_MODE_IPIP, 0) == 0;
	ok = ok && send_pkt(c, d, 1001, 80, &o, &in);
	if (ok && (o.backend < FBE(VB, 0) || o.backend >= FBE(VB, NBE)))
		ok = fail("went to backend %u, not one of VIP %u's", o.backend, VB);
	ok = ok && events(&o, 0, 1) && entry_is(&k, o.backend, VB) && entry_is(&k, b0, VA);
	check(ok, "VIP re-added under another id: a new flow in that VIP's table, the old way "
		  "kept (not a victim)");
	vip_del(d, 80);
	vip(d, 80, VA, XLB_MODE_IPIP, 0);
}

/* The VIP's mode changes: the next packet of an established flow leaves in the new mode. */
static void test_mode_change(void)
{
	const char *c = "198.18.5.3", *d = "198.18.0.10";
	struct xlb_flow_key k = fkey(c, d, 1002, 80);
	struct out o;
	struct pkt in;
	uint32_t b0;
	int ok;

	ok = send_pkt(c, d, 1002, 80, &o, &in);
	b0 = o.backend;
	if (ok && o.outer_proto != 4)
		ok = fail("outer protocol %u, expected 4 (IPIP)", o.outer_proto);
	ok = ok && vip(d, 80, VA, XLB_MODE_GUE, 0) == 0;
	ok = ok && send_pkt(c, d, 1002, 80, &o, &in);
	if (ok && (o.outer_proto != 17 || o.backend != b0))
		ok = fail("outer protocol %u to backend %u, expected 17 (GUE) to %u",
			  o.outer_proto, o.backend, b0);
	ok = ok && entry_is(&k, b0, VA);
	ok = ok && send_pkt(c, d, 1002, 80, &o, &in);
	if (ok && (o.outer_proto != 17 || o.backend != b0))
		ok = fail("second packet: outer protocol %u to backend %u", o.outer_proto,
			  o.backend);
	check(ok, "VIP mode IPIP -> GUE: the established flow leaves in GUE at once, same backend");

	ok = vip(d, 80, VA, XLB_MODE_IPIP, 0) == 0;
	ok = ok && send_pkt(c, d, 1002, 80, &o, &in);
	if (ok && (o.outer_proto != 4 || o.backend != b0))
		ok = fail("outer protocol %u to backend %u, expected 4 to %u", o.outer_proto,
			  o.backend, b0);
	check(ok, "VIP mode GUE -> IPIP: back to IPIP at once");
}

/* Backend failed, drained, or its id freed and reused by another VIP, with no VIP change. */
static void test_backend_changes(void)
{
	const char *c = "198.18.5.4", *d = "198.18.0.10";
	struct xlb_flow_key k = fkey(c, d, 1003, 80);
	uint32_t b0, t[M];
	struct out o;
	struct pkt in;
	int ok;

	ok = send_pkt(c, d, 1003, 80, &o, &in);
	b0 = o.backend;
	/* drained: out of the table, still usable: the flow stays */
	for (int i = 0; i < M; i++)
		t[i] = b0 == FBE(VA, 0) ? FBE(VA, 1) : FBE(VA, 0);
	ok = ok && xlb_vip__set_table(X, VA, t, M) == 0;
	ok = ok && send_pkt(c, d, 1003, 80, &o, &in);
	if (ok && o.backend != b0)
		ok = fail("drained: went to %u, the flow's backend is %u", o.backend, b0);
	ok = ok && events(&o, 0, 1);
	check(ok, "backend drained (out of the table, usable): the flow stays on it");

	/* failed: re-hash into the table */
	ok = backend(b0, VA, 0) == 0;
	ok = ok && send_pkt(c, d, 1003, 80, &o, &in);
	if (ok && o.backend != t[0])
		ok = fail("failed: went to %u, expected the table's %u", o.backend, t[0]);
	ok = ok && events(&o, 1, 1) && entry_is(&k, t[0], VA);
	check(ok, "backend failed: the flow re-hashes (rehash +1) and is re-recorded");
	backend(b0, VA, 1);

	/* the flow's backend id freed and given to VIP B: not followed */
	b0 = t[0];
	ok = backend(b0, VB, 1) == 0;
	for (int i = 0; i < M; i++)
		t[i] = FBE(VA, 2);
	ok = ok && xlb_vip__set_table(X, VA, t, M) == 0;
	ok = ok && send_pkt(c, d, 1003, 80, &o, &in);
	if (ok && o.backend != FBE(VA, 2))
		ok = fail("went to %u (now VIP %u's), expected %u", o.backend, VB, FBE(VA, 2));
	ok = ok && events(&o, 1, 1) && entry_is(&k, FBE(VA, 2), VA);
	check(ok, "backend id reused by another VIP: the flow re-hashes, never follows the id");
	backend(b0, VA, 1);
	table(VA);
}

/*
 * A port VIP added on the address of an all-ports VIP: a flow recorded under the all-ports VIP
 * goes to the new VIP at once (as the VIP lookup finds it first), and back when it is removed.
 */
static void test_all_ports_shadowed(void)
{
	const char *c = "198.18.5.5", *d = "198.18.0.20";
	struct xlb_flow_key k = fkey(c, d, 1004, 8080);
	struct out o;
	struct pkt in;
	uint32_t b0;
	int ok;

	ok = send_pkt(c, d, 1004, 8080, &o, &in);
	b0 = o.backend;
	if (ok && (b0 < FBE(VALL, 0) || b0 >= FBE(VALL, NBE)))
		ok = fail("went to %u, not one of the all-ports VIP's", b0);
	ok = ok && entry_is(&k, b0, VALL);
	ok = ok && vip(d, 8080, VB, XLB_MODE_IPIP, 0) == 0;
	ok = ok && send_pkt(c, d, 1004, 8080, &o, &in);
	if (ok && (o.backend < FBE(VB, 0) || o.backend >= FBE(VB, NBE)))
		ok = fail("went to %u, not one of the port VIP's", o.backend);
	ok = ok && events(&o, 0, 1) && entry_is(&k, o.backend, VB);
	ok = ok && send_pkt(c, d, 1004, 8080, &o, &in);
	if (ok && (o.backend < FBE(VB, 0) || o.backend >= FBE(VB, NBE)))
		ok = fail("second packet went to %u, not one of the port VIP's", o.backend);
	check(ok, "port VIP added over an all-ports VIP: its flows move to it at once");

	ok = vip_del(d, 8080) == 0;
	ok = ok && send_pkt(c, d, 1004, 8080, &o, &in);
	if (ok && o.backend != b0)
		ok = fail("went to %u, the flow's all-ports backend is %u", o.backend, b0);
	ok = ok && events(&o, 0, 1) && entry_is(&k, b0, VALL);
	check(ok, "port VIP removed: its flows return to the all-ports VIP's entry");
}

static bool sole(uint32_t id)
{
	return slot_of(id).vip.flags & XLB_SLOT_F_SOLE;
}

/*
 * xlb_vips[@addr:@port] rewritten behind libxlb's back, its slot left as it was: a packet that
 * leaves in @mode was decided by the VIP lookup, in the slot's mode by the flow table alone.
 */
static int vips_poke(const char *addr, uint16_t port, uint32_t id, uint8_t mode)
{
	struct xlb_vip_key k = vkey(addr, port);
	struct xlb_vip v = { .id = id, .mode = mode };

	if (bpf_map_update_elem(xlb__map_fd(X, "xlb_vips"), &k, &v, BPF_EXIST))
		return fail("xlb_vips: %s", strerror(errno));
	return 1;
}

/* The packet left for @be in @proto (4 IPIP, 17 GUE): who decided is in @who. */
static int went(const struct out *o, uint32_t be, uint8_t proto, const char *who)
{
	if (o->backend != be || o->outer_proto != proto)
		return fail("%s: outer protocol %u to %u, expected %u to %u", who, o->outer_proto,
			    o->backend, proto, be);
	return 1;
}

/*
 * An all-ports VIP with no port VIP beside it: its slot is marked sole and its established
 * flows take the flow table alone (a SYN looks the VIP up first); a port VIP beside it clears
 * the mark first and takes that port's flows, as find_vip() decides; removed, the mark returns.
 */
static void test_all_ports_sole(void)
{
	const char *c = "198.18.5.7", *d = "198.18.0.20";
	struct xlb_flow_key k = fkey(c, d, 1006, 8080);
	uint32_t b0, b1;
	struct out o;
	struct pkt in;
	int ok;

	ok = sole(VALL) || fail("the all-ports VIP's slot is not marked sole");
	ok = ok && (!sole(VA) || fail("a port VIP's slot is marked sole"));
	ok = ok && send_pkt(c, d, 1006, 8080, &o, &in);
	b0 = o.backend;
	ok = ok && send_pkt(c, d, 1007, 9090, &o, &in);
	b1 = o.backend;
	/* xlb_vips says GUE, the slot IPIP: IPIP is the flow table's decision */
	ok = ok && vips_poke(d, 0, VALL, XLB_MODE_GUE);
	ok = ok && send_pkt(c, d, 1006, 8080, &o, &in);
	ok = ok && went(&o, b0, SYN ? 17 : 4, SYN ? "VIP lookup first" : "flow table alone");
	ok = ok && vips_poke(d, 0, VALL, XLB_MODE_IPIP);
	check(ok, "all-ports VIP alone: slot marked sole, its established flow decided by the flow "
		  "table (no VIP lookup)");

	/* a port VIP beside it: unmarked, 8080 goes to it, 9090 stays, looked up (GUE seen) */
	ok = vip(d, 8080, VB, XLB_MODE_IPIP, 0) == 0;
	ok = ok && (!sole(VALL) || fail("still marked sole with a port VIP beside it"));
	ok = ok && send_pkt(c, d, 1006, 8080, &o, &in);
	if (ok && (o.backend < FBE(VB, 0) || o.backend >= FBE(VB, NBE)))
		ok = fail("8080 went to %u, not one of the port VIP's", o.backend);
	ok = ok && events(&o, 0, 1) && entry_is(&k, o.backend, VB);
	ok = ok && send_pkt(c, d, 1008, 8080, &o, &in);
	if (ok && (o.backend < FBE(VB, 0) || o.backend >= FBE(VB, NBE)))
		ok = fail("a new flow to 8080 went to %u, not one of the port VIP's", o.backend);
	ok = ok && vips_poke(d, 0, VALL, XLB_MODE_GUE);
	ok = ok && send_pkt(c, d, 1007, 9090, &o, &in);
	ok = ok && went(&o, b1, 17, "VIP looked up");
	ok = ok && vips_poke(d, 0, VALL, XLB_MODE_IPIP);
	check(ok, "port VIP beside an all-ports VIP: mark cleared, that port's flows go to it, "
		  "the others' VIP looked up");

	/* removed: marked again, the all-ports VIP's flows are the flow table's again */
	ok = vip_del(d, 8080) == 0;
	ok = ok && (sole(VALL) || fail("not marked sole again after the port VIP left"));
	ok = ok && vips_poke(d, 0, VALL, XLB_MODE_GUE);
	ok = ok && send_pkt(c, d, 1007, 9090, &o, &in);
	ok = ok && went(&o, b1, SYN ? 17 : 4, SYN ? "VIP lookup first" : "flow table alone");
	ok = ok && vips_poke(d, 0, VALL, XLB_MODE_IPIP);
	ok = ok && send_pkt(c, d, 1006, 8080, &o, &in);
	ok = ok && went(&o, b0, 4, "back to the all-ports entry");
	check(ok, "port VIP removed: all-ports VIP marked sole again, its flows trusted again");
}

/*
 * The mark under batches: an all-ports VIP added with a port VIP beside it in one batch (either
 * order) is written unmarked; a batch adding a port VIP beside a marked one clears it; deleting
 * one of two port VIPs keeps it clear, the last one sets it again; a batch that fails its checks
 * changes no mark.
 */
static void test_all_ports_batch(void)
{
	struct xlb_vip_key k[3] = { vkey("198.18.0.21", 0), vkey("198.18.0.21", 443),
				    vkey("198.18.0.21", 444) };
	struct xlb_vip_key r[2] = { k[1], k[0] };
	struct xlb_vip v[3] = { { .id = 5 }, { .id = 6 }, { .id = 7 } };
	struct xlb_vip rv[2] = { v[1], v[0] };
	struct xlb_vip bad[2] = { v[1], { .id = 5, .flags = XLB_SLOT_F_SOLE } };
	int ok;

	ok = xlb_vip__set_batch(X, k, v, 2) == 0;
	ok = ok && (!sole(5) || fail("all-ports and port VIP in one batch: marked sole"));
	ok = ok && xlb_vip__del_batch(X, k, 2) == 0;
	ok = ok && xlb_vip__set_batch(X, r, rv, 2) == 0;
	ok = ok && (!sole(5) || fail("port VIP first in the batch: marked sole"));
	ok = ok && xlb_vip__del_batch(X, &k[1], 1) == 0;
	ok = ok && (sole(5) || fail("the batch deleting its port VIP left it unmarked"));
	ok = ok && xlb_vip__set_batch(X, &k[1], &v[1], 2) == 0;
	ok = ok && (!sole(5) || fail("a batch adding port VIPs beside it left it marked"));
	ok = ok && xlb_vip__del_batch(X, &k[1], 1) == 0;
	ok = ok && (!sole(5) || fail("one of two port VIPs deleted: marked sole"));
	ok = ok && xlb_vip__del(X, &k[2]) == 0;
	ok = ok && (sole(5) || fail("the last port VIP deleted: not marked sole"));
	ok = ok && (xlb_vip__set_batch(X, k + 1, bad, 2) == -EINVAL ||
		    fail("a VIP with the slot's own mark was accepted"));
	ok = ok && (sole(5) || fail("a refused batch cleared the mark"));
	check(ok, "all-ports mark under batches: unmarked beside a port VIP of the same batch, "
		  "cleared by an add, set again when the last port VIP left");
}

/*
 * A batch leaves every slot as xlb_vips says: a key given twice (ids 8 then 9) takes the last
 * id, and the slot written for the first (8) must not keep naming it (its flows would take
 * VIP 8's table through that slot).
 */
static void test_batch_slots(void)
{
	struct xlb_vip_key k[2] = { vkey("198.18.0.22", 80), vkey("198.18.0.22", 80) };
	struct xlb_vip v[2] = { { .id = 8 }, { .id = 9 } };
	struct xlb_vip_slot s8, s9;
	int ok;

	ok = xlb_vip__set_batch(X, k, v, 2) == 0 || fail("batch: %s", strerror(errno));
	s8 = slot_of(8);
	s9 = slot_of(9);
	ok = ok && (!s8.key.family || fail("slot 8 still names the key, which took id 9"));
	ok = ok && ((s9.key.family && s9.vip.id == 9) || fail("slot 9 does not name the key"));
	ok = ok && xlb_vip__del(X, &k[0]) == 0;
	s9 = slot_of(9);
	ok = ok && (!s9.key.family || fail("slot 9 kept after the VIP was deleted"));
	check(ok, "a key twice in one batch: only the slot of the id it took names it; "
		  "none after its delete");
}

/* A packet to no VIP's address never reads the flow table, even with an entry for its key. */
static void test_not_vip(void)
{
	const char *c = "198.18.5.6", *d = "198.18.0.99";
	struct xlb_flow_key k = fkey(c, d, 1005, 80);
	struct out o;
	struct pkt in;
	int ok;

	/* a forged entry: only a lookup of the flow table could find it */
	ok = xlb_flow__set(X, &k, FBE(VA, 0), VA) == 0 || fail("flow entry: %s", strerror(errno));
	ok = ok && send_pkt(c, d, 1005, 80, &o, &in);
	if (ok && (o.verdict != XDP_PASS || o.d[XLB_R_PASS_NOT_VIP].packets != 1))
		ok = fail("verdict %u, pass_not_vip +%llu", o.verdict,
			  (unsigned long long)o.d[XLB_R_PASS_NOT_VIP].packets);
	check(ok, "no VIP's address: XDP_PASS by the address filter, the flow table not read");
}

/* This CPU's xlb_miss_run (the program's map of that name, not pinned); ~0U if unreadable. */
static uint32_t miss_run(void)
{
	uint32_t ids[64], zero = 0, n = 64, run = ~0U;
	struct bpf_prog_info info = { .nr_map_ids = n, .map_ids = (uintptr_t)ids };
	uint32_t len = sizeof(info);
	int cpu = sched_getcpu(), ncpus = libbpf_num_possible_cpus();

	if (cpu < 0 || ncpus <= cpu || bpf_obj_get_info_by_fd(xlb__prog_fd(X), &info, &len))
		return ~0U;
	for (uint32_t i = 0; i < info.nr_map_ids && i < n; i++) {
		struct bpf_map_info mi = {};
		uint32_t mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(ids[i]);
		uint64_t *v;

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &mi, &mlen) && !strcmp(mi.name, "xlb_miss_run")) {
			v = calloc(ncpus, sizeof(*v));	/* per-CPU values, 8 bytes apart */
			if (v && !bpf_map_lookup_elem(fd, &zero, v))
				memcpy(&run, &v[cpu], sizeof(run));
			free(v);
		}
		close(fd);
	}
	return run;
}

/*
 * After XLB_MISS_RUN_VIP_FIRST (8) flow-table misses in a row, a CPU looks the VIP up first (a
 * run of new flows, a failover): the same decisions, and a flow-table hit ends the run.
 */
static void test_miss_run(void)
{
	const char *d = "198.18.0.10";
	struct xlb_flow_key k;
	struct out o;
	struct pkt in;
	uint32_t b0, run;
	char c[32];
	int ok;

	ok = send_pkt("198.18.6.1", d, 2000, 80, &o, &in);
	b0 = o.backend;
	run = miss_run();
	if (ok && run != (SYN ? 0 : 1))
		ok = fail("miss run %u after one new flow, expected %u", run, SYN ? 0 : 1);
	ok = ok && send_pkt("198.18.6.1", d, 2000, 80, &o, &in);
	run = miss_run();
	if (ok && (o.backend != b0 || run != 0))
		ok = fail("went to %u (the flow's is %u), miss run %u, expected 0", o.backend, b0,
			  run);
	check(ok, "miss run: a new flow counts one miss (a SYN none), a hit ends the run");

	for (int i = 0; ok && i < 9; i++) {
		snprintf(c, sizeof(c), "198.18.6.%d", 10 + i);
		k = fkey(c, d, 2001, 80);
		ok = send_pkt(c, d, 2001, 80, &o, &in);
		ok = ok && (o.verdict == XDP_TX || fail("new flow %d: verdict %u", i, o.verdict));
		if (ok && (o.backend < FBE(VA, 0) || o.backend >= FBE(VA, NBE)))
			ok = fail("new flow %d went to %u, not one of VIP %u's", i, o.backend, VA);
		ok = ok && entry_is(&k, o.backend, VA);
	}
	run = miss_run();
	if (ok && run != (SYN ? 0 : 8))
		ok = fail("miss run %u after 9 new flows, expected %u", run, SYN ? 0 : 8);
	check(ok, "miss run: 9 new flows in a row, each recorded; the run stops at 8 (VIP first)");

	/* in the VIP-first order: a removed VIP is not followed, the flow resumes, a hit ends it */
	ok = vip_del(d, 80) == 0;
	ok = ok && send_pkt("198.18.6.1", d, 2000, 80, &o, &in);
	if (ok && (o.verdict != XDP_PASS || o.d[XLB_R_PASS_NOT_VIP].packets != 1))
		ok = fail("verdict %u, pass_not_vip +%llu: the removed VIP still forwarded",
			  o.verdict, (unsigned long long)o.d[XLB_R_PASS_NOT_VIP].packets);
	ok = ok && vip(d, 80, VA, XLB_MODE_IPIP, 0) == 0;
	ok = ok && send_pkt("198.18.6.1", d, 2000, 80, &o, &in);
	run = miss_run();
	if (ok && (o.backend != b0 || run != 0))
		ok = fail("went to %u (the flow's is %u), miss run %u, expected 0", o.backend, b0,
			  run);
	ok = ok && events(&o, 0, 1);
	k = fkey("198.18.6.1", d, 2000, 80);
	ok = ok && entry_is(&k, b0, VA);
	check(ok, "miss run: VIP removed and re-added meanwhile: decided as before, the hit ends "
		  "the run");
}

/* The object loads and takes the set-up every other scenario starts from. */
static void test_load(void)
{
	if (fixture_open(4096))
		return;		/* (its "not ok" line printed) */
	check(1, "load the balancer (no pins)");
	check(setup() == 0 || fail("a map update failed"), "set up config, backends, VIPs, tables");
}

/* A scenario's load: a fresh object, set up. 0, or -1 after a "not ok" line. */
static int load(void)
{
	if (fixture_open(4096))
		return -1;
	if (setup()) {
		tap(0, "set up config, backends, VIPs, tables", "a map update failed");
		return -1;
	}
	return 0;
}

/* NAME_ack(), NAME_syn(): test_NAME() with ACKs, then with SYNs on other ports. */
#define BOTH(name)								\
	static void name##_ack(void)						\
	{									\
		SYN = 0;							\
		SPORT = 0;							\
		test_##name();							\
	}									\
	static void name##_syn(void)						\
	{									\
		SYN = 1;							\
		SPORT = 10000;							\
		test_##name();							\
	}
BOTH(vip_slots)
BOTH(hit)
BOTH(vip_removed)
BOTH(mode_change)
BOTH(backend_changes)
BOTH(all_ports_shadowed)
BOTH(all_ports_sole)
BOTH(not_vip)
BOTH(miss_run)

#define WITH_ACK(name) { #name "_ack", load, name##_ack }
#define WITH_SYN(name) { #name "_syn", load, name##_syn }

static const struct scenario scenarios[] = {
	{ "load", NULL, test_load },
	WITH_ACK(vip_slots),
	WITH_ACK(hit),
	WITH_ACK(vip_removed),
	WITH_ACK(mode_change),
	WITH_ACK(backend_changes),
	WITH_ACK(all_ports_shadowed),
	WITH_ACK(all_ports_sole),
	{ "all_ports_batch", load, test_all_ports_batch },
	{ "batch_slots", load, test_batch_slots },
	WITH_ACK(not_vip),
	WITH_ACK(miss_run),
	WITH_SYN(vip_slots),
	WITH_SYN(hit),
	WITH_SYN(vip_removed),
	WITH_SYN(mode_change),
	WITH_SYN(backend_changes),
	WITH_SYN(all_ports_shadowed),
	WITH_SYN(all_ports_sole),
	WITH_SYN(not_vip),
	WITH_SYN(miss_run),
};

int main(int argc, char **argv)
{
	return harness_main(argc, argv, "datapath: the flow table first", scenarios,
			    ARRAY_SIZE(scenarios));
}
