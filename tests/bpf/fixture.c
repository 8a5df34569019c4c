// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The datapath fixture of the test_dp_* scenarios: a loaded balancer with VIPs of every mode and
 * family and their backends, what the tests know of them, and the checks of a frame's fate.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "fixture.h"

struct xlb *X;
struct xlb_config CFG;
struct vipinfo V[32];
struct xlb_backend B[BE_IDS];
const uint8_t NEXTHOP_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0xfe };
const uint8_t *SRC_MAC;
uint32_t RUN_IFINDEX;

/* ---------------------------------------------------------------- fixture setup */

static void addr_of(const char *s, __be32 a[4], __u8 *fam)
{
	memset(a, 0, 16);
	if (inet_pton(AF_INET, s, a) == 1) {
		*fam = XLB_AF_INET;
		return;
	}
	inet_pton(AF_INET6, s, a);
	*fam = XLB_AF_INET6;
}

static int add_backend(uint32_t id, uint32_t vip_id, const char *addr, int usable)
{
	struct xlb_backend be = {};

	addr_of(addr, be.addr, &be.family);
	be.flags = usable ? XLB_BE_F_USABLE : 0;
	be.vip_id = vip_id;
	memcpy(be.mac, "\x02\xbe\x00\x00\x00", 5);
	be.mac[4] = (uint8_t)(id >> 8);
	be.mac[5] = (uint8_t)id;
	B[id] = be;
	return xlb_backend__set(X, id, &be);
}

int set_table(uint32_t vip_id, const uint32_t *t, uint32_t m)
{
	V[vip_id].m = m;
	memcpy(V[vip_id].table, t, m * sizeof(*t));
	return xlb_vip__set_table(X, vip_id, t, m);
}

/* A table of @m slots cycling through the VIP's backends BE(vip_id, 0 .. @n - 1). */
static int fill_table(uint32_t vip_id, uint32_t n, uint32_t m)
{
	uint32_t t[M_BIG];

	for (uint32_t i = 0; i < m; i++)
		t[i] = BE(vip_id, (i * 7 + vip_id) % n);
	return set_table(vip_id, t, m);
}

/*
 * @n backends of VIP @vip_id, addressed 198.19.VIP.k+1 (IPv4), 2001:db8:1:VIP::k+1 (IPv6) or
 * the first @n4 in IPv4 and the rest in IPv6 (@fam 0).
 */
static int add_backends(uint32_t vip_id, int fam, uint32_t n, uint32_t n4)
{
	char a[64];
	int err = 0;

	for (uint32_t k = 0; k < n; k++) {
		if (fam == 4 || (!fam && k < n4))
			snprintf(a, sizeof(a), "198.19.%u.%u", vip_id, k + 1);
		else
			snprintf(a, sizeof(a), "2001:db8:1:%x::%x", vip_id, k + 1);
		err |= add_backend(BE(vip_id, k), vip_id, a, 1);
	}
	return err;
}

int add_vip(const char *addr, uint16_t port, uint8_t proto, uint32_t id, uint8_t mode,
		   uint32_t flags)
{
	struct xlb_vip_key k = { .port = htons(port), .proto = proto };
	struct xlb_vip v = { .id = id, .flags = flags, .mode = mode };

	addr_of(addr, k.addr, &k.family);
	V[id].mode = mode;
	V[id].flags = flags;
	return xlb_vip__set(X, &k, &v);
}

int fixture_setup(void)
{
	static const struct {
		const char *addr;
		uint32_t id;
		uint8_t mode;
		int be_family;	/* of its 4 backends; 0 = none */
		uint32_t flags;
	} vips[] = {
		{ "198.18.0.10", VIP_4IN4, XLB_MODE_IPIP, 4, 0 },
		{ "198.18.0.11", VIP_4IN6, XLB_MODE_IPIP, 6, 0 },
		{ "2001:db8::10", VIP_6IN6, XLB_MODE_IPIP, 6, 0 },
		{ "2001:db8::11", VIP_6IN4, XLB_MODE_IPIP, 4, 0 },
		{ "198.18.0.12", VIP_GUE4, XLB_MODE_GUE, 4, 0 },
		{ "2001:db8::12", VIP_GUE6, XLB_MODE_GUE, 6, 0 },
		{ "198.18.0.13", VIP_L2_4, XLB_MODE_L2, 4, 0 },
		{ "2001:db8::13", VIP_L2_6, XLB_MODE_L2, 6, 0 },
		{ "198.18.0.30", VIP_SRC, XLB_MODE_IPIP, 4, XLB_VIP_F_HASH_SRC },
		{ "198.18.0.40", VIP_MISC, XLB_MODE_IPIP, 4, 0 },
		{ "198.18.0.60", VIP_EMPTY, XLB_MODE_IPIP, 0, 0 },
		{ "198.18.0.61", VIP_NOTABLE, XLB_MODE_IPIP, 0, 0 },
		{ "198.18.0.62", VIP_EMPTY_PASS, XLB_MODE_IPIP, 0, XLB_VIP_F_PASS_NO_BACKEND },
	};
	int err = 0;

	CFG = (struct xlb_config){ .gue_port = 6080, .hash_seed = 0x5eed, .encap_src4_bits = 8,
				   .mtu = 1500 };
	memcpy(CFG.nexthop_mac, NEXTHOP_MAC, 6);
	inet_pton(AF_INET, "198.18.200.0", &CFG.encap_src4);
	inet_pton(AF_INET6, "2001:db8:ffff::", CFG.encap_src6);
	err |= xlb__config_set(X, &CFG);

	for (size_t i = 0; i < sizeof(vips) / sizeof(vips[0]); i++) {
		err |= add_vip(vips[i].addr, 80, 6, vips[i].id, vips[i].mode, vips[i].flags);
		err |= add_vip(vips[i].addr, 53, 17, vips[i].id, vips[i].mode, vips[i].flags);
		if (vips[i].be_family) {
			err |= add_backends(vips[i].id, vips[i].be_family, 4, 0);
			err |= fill_table(vips[i].id, 4, M);
		}
	}
	/* all-ports VIPs */
	err |= add_vip("198.18.0.20", 0, 6, VIP_ALL4, XLB_MODE_IPIP, 0);
	err |= add_vip("198.18.0.20", 0, 17, VIP_ALL4, XLB_MODE_IPIP, 0);
	err |= add_vip("2001:db8::20", 0, 6, VIP_ALL6, XLB_MODE_IPIP, 0);
	err |= add_vip("2001:db8::20", 0, 17, VIP_ALL6, XLB_MODE_IPIP, 0);
	err |= add_backends(VIP_ALL4, 4, 4, 0);
	err |= add_backends(VIP_ALL6, 6, 4, 0);
	err |= fill_table(VIP_ALL4, 4, M);
	err |= fill_table(VIP_ALL6, 4, M);
	/* no usable backend at all */
	{
		uint32_t zeros[M] = { 0 };

		err |= set_table(VIP_EMPTY, zeros, M);
		err |= set_table(VIP_EMPTY_PASS, zeros, M);
	}
	/* random flows: 10 backends of both families, a bigger table */
	err |= add_vip("198.18.0.50", 80, 6, VIP_RAND, XLB_MODE_IPIP, 0);
	err |= add_vip("2001:db8::50", 80, 6, VIP_RAND6, XLB_MODE_IPIP, 0);
	err |= add_backends(VIP_RAND, 0, 10, 5);
	err |= add_backends(VIP_RAND6, 0, 10, 5);
	err |= fill_table(VIP_RAND, 10, M_BIG);
	err |= fill_table(VIP_RAND6, 10, M_BIG);
	return err;
}

int fixture_open(uint32_t flow_table_size)
{
	struct xlb_open_opts o = { .pin_dir = "",
				   .flow_table_size = flow_table_size ? flow_table_size : 65536 };

	X = xlb__open(&o);
	if (!X) {
		tap(0, "load the balancer (no pins)", strerror(errno));
		return -1;
	}
	return 0;
}

int fixture_load(uint32_t flow_table_size)
{
	if (fixture_open(flow_table_size))
		return -1;
	if (fixture_setup()) {
		tap(0, "set up config, backends, VIPs and tables", "a map update failed");
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- running */

int run_pkt(const struct pkt *in, struct run *r)
{
	struct xlb_reason_counters before[XLB_R__MAX], after[XLB_R__MAX];
	int err;

	memset(r, 0, sizeof(*r));
	if (xlb_stats__reasons(X, before))
		return -1;
	err = run_frame(xlb__prog_fd(X), in->b, in->len, RUN_IFINDEX, r->out, sizeof(r->out),
			&r->verdict, &r->out_len);
	if (err)
		return err;
	if (xlb_stats__reasons(X, after))
		return -1;
	for (int i = 0; i < XLB_R__MAX; i++) {
		r->d[i].packets = after[i].packets - before[i].packets;
		r->d[i].bytes = after[i].bytes - before[i].bytes;
	}
	return 0;
}

uint32_t verdict_of(int reason)
{
	if (reason == XLB_R_TX || reason == XLB_R_TX_ICMP_TOO_BIG)
		return XDP_TX;
	return reason < XLB_R_DROP_MALFORMED ? XDP_PASS : XDP_DROP;
}

/* The verdict and exactly one verdict reason (with the frame's bytes), plus @events. */
int check_reason(const struct pkt *in, const struct run *r, int reason, const int *events)
{
	if (r->verdict != verdict_of(reason))
		return fail("verdict %s, expected %s", verdict_name(r->verdict),
			    verdict_name(verdict_of(reason)));
	for (int i = 0; i < XLB_R_EV_FLOOD; i++) {
		uint64_t want = i == reason;

		if (r->d[i].packets != want)
			return fail("counter %s +%llu, expected +%llu", xlb_reason_name(i),
				    (unsigned long long)r->d[i].packets, (unsigned long long)want);
		if (want && r->d[i].bytes != in->len)
			return fail("counter %s bytes +%llu, expected +%u", xlb_reason_name(i),
				    (unsigned long long)r->d[i].bytes, in->len);
	}
	for (int i = XLB_R_EV_FLOOD; i < XLB_R__MAX; i++) {
		uint64_t want = 0;

		for (const int *e = events; e && *e; e++)
			want += *e == i;
		if (r->d[i].packets != want)
			return fail("event %s +%llu, expected +%llu", xlb_reason_name(i),
				    (unsigned long long)r->d[i].packets, (unsigned long long)want);
	}
	return 1;
}

int check_untouched(const struct pkt *in, const struct run *r)
{
	if (r->out_len != in->len)
		return fail("length %u, expected %u (untouched)", r->out_len, in->len);
	for (uint32_t i = 0; i < in->len; i++)
		if (r->out[i] != in->b[i])
			return fail("byte %u is 0x%02x, expected 0x%02x (untouched)", i, r->out[i],
				    in->b[i]);
	return 1;
}

/* The key the datapath builds for a spec (a later fragment carries no ports). */
void key_of(const struct pspec *s, struct xlb_flow_key *k)
{
	uint8_t src[16], dst[16];
	int fam = s->family == 4 ? XLB_AF_INET : XLB_AF_INET6, later = s->frag == 2;

	inet_pton(s->family == 4 ? AF_INET : AF_INET6, s->src, src);
	inet_pton(s->family == 4 ? AF_INET : AF_INET6, s->dst, dst);
	xlb_flow_key__init(k, fam, src, dst, later ? 0 : s->sport, later ? 0 : s->dport,
			   s->proto);
}

/* libxlb's prediction (xlb_lookup_table()) for flow @k of VIP @vip_id with table @t of @m slots. */
struct xlb_lookup lookup_in(const struct xlb_flow_key *k, uint32_t vip_id,
				   const uint32_t *t, uint32_t m)
{
	struct xlb_vip vip = { .id = vip_id, .flags = V[vip_id].flags, .mode = V[vip_id].mode };
	struct xlb_lookup l;

	xlb_lookup_table(k, &vip, CFG.hash_seed, t, m, &l);
	return l;
}

uint32_t hash_of(const struct xlb_flow_key *k, uint32_t vip_id)
{
	return lookup_in(k, vip_id, V[vip_id].table, V[vip_id].m).hash;
}

uint32_t outer_of(const struct xlb_flow_key *k)
{
	__u32 outer = 0;

	if (xlb_flow__outer(X, k, &outer))
		fprintf(stderr, "fixture: xlb_flow__outer: %s\n", strerror(errno));
	return outer;
}

/* The backend userspace predicts: the VIP's table (as the test wrote it) at hash % M. */
uint32_t predict(const struct xlb_flow_key *k, uint32_t vip_id)
{
	return lookup_in(k, vip_id, V[vip_id].table, V[vip_id].m).backend_id;
}

/*
 * check_forward() - the frame went to backend @be_id of a VIP in @mode: Ethernet rewritten,
 * outer header fields (checksum recomputed), and the inner packet byte-identical.
 */
int check_forward(const struct pkt *in, const struct run *r, uint8_t mode, uint32_t be_id,
			 uint32_t hash)
{
	const struct xlb_backend *be = &B[be_id];
	int out6 = be->family == XLB_AF_INET6, gue = mode == XLB_MODE_GUE;
	uint32_t hdr = mode == XLB_MODE_L2 ? 0 : (out6 ? 40 : 20) + (gue ? 8 : 0);
	uint32_t l2 = in->l3, ethertype = out6 ? 0x86dd : 0x0800;
	uint8_t inner = in->family == 4 ? 4 : 41, nh = gue ? 17 : inner;
	const uint8_t *o = r->out + l2;

	/* encapsulated: the IP packet alone, whatever followed it in the frame cut (L2 DSR: as is) */
	uint32_t want_len = mode == XLB_MODE_L2 ? in->len : in->l3 + in->l3len + hdr;

	if (r->verdict != XDP_TX)
		return fail("verdict %s, expected XDP_TX", verdict_name(r->verdict));
	if (r->out_len != want_len)
		return fail("frame length %u, expected %u", r->out_len, want_len);
	if (memcmp(r->out + 6, SRC_MAC ? SRC_MAC : in->b, 6))
		return fail("source MAC is not the %s", SRC_MAC ? "interface's" :
			    "original destination MAC");
	if (mode == XLB_MODE_L2) {
		if (memcmp(r->out, be->mac, 6))
			return fail("destination MAC is not backend %u's", be_id);
		for (uint32_t i = 12; i < in->len; i++)
			if (r->out[i] != in->b[i])
				return fail("byte %u differs after the MACs", i);
		return 1;
	}
	if (memcmp(r->out, NEXTHOP_MAC, 6))
		return fail("destination MAC is not the next hop");
	if (l2 == 18) {
		if (get16(r->out + 12) != 0x8100 || get16(r->out + 14) != get16(in->b + 14))
			return fail("VLAN tag not kept (tpid 0x%04x tci 0x%04x)", get16(r->out + 12),
				    get16(r->out + 14));
	}
	if (get16(r->out + l2 - 2) != ethertype)
		return fail("ethertype 0x%04x, expected 0x%04x", get16(r->out + l2 - 2), ethertype);
	if (!out6) {
		uint32_t mask = (1U << CFG.encap_src4_bits) - 1, src;

		if (o[0] != 0x45)
			return fail("outer version/IHL 0x%02x", o[0]);
		if (o[1] != in->tos)
			return fail("outer TOS 0x%02x, expected 0x%02x", o[1], in->tos);
		if (get16(o + 2) != in->l3len + hdr)
			return fail("outer tot_len %u, expected %u", get16(o + 2), in->l3len + hdr);
		if (get16(o + 6) != (in->df ? 0x4000 : 0))
			return fail("outer frag_off 0x%04x, expected DF %d", get16(o + 6), in->df);
		/* RFC 6864: an IPv4 inner packet's ID, else (IPv6 inner, DF: atomic) 0 */
		if (get16(o + 4) != (in->family == 4 ? get16(in->b + l2 + 4) : 0))
			return fail("outer IPv4 ID 0x%04x, expected 0x%04x", get16(o + 4),
				    in->family == 4 ? get16(in->b + l2 + 4) : 0);
		if (o[8] != 64)
			return fail("outer TTL %u", o[8]);
		if (o[9] != nh)
			return fail("outer protocol %u, expected %u", o[9], nh);
		if (csum_fin(csum_add(0, o, 20)) != 0)
			return fail("outer IPv4 checksum 0x%04x does not verify", get16(o + 10));
		memcpy(&src, o + 12, 4);
		src = ntohl(src);
		if (src != ((ntohl(CFG.encap_src4) & ~mask) | (hash & mask)))
			return fail("outer source 0x%08x, expected flow hash in the low bits", src);
		if (memcmp(o + 16, be->addr, 4))
			return fail("outer destination is not backend %u", be_id);
		o += 20;
	} else {
		uint32_t w = (uint32_t)get16(o) << 16 | get16(o + 2), h = htonl(hash);

		if (w >> 28 != 6)
			return fail("outer version %u", w >> 28);
		if (((w >> 20) & 0xff) != in->tos)
			return fail("outer traffic class 0x%02x, expected 0x%02x", (w >> 20) & 0xff,
				    in->tos);
		if ((w & 0xfffff) != (hash & 0xfffff))
			return fail("outer flow label 0x%05x, expected 0x%05x", w & 0xfffff,
				    hash & 0xfffff);
		if (get16(o + 4) != in->l3len + hdr - 40)
			return fail("outer payload_len %u, expected %u", get16(o + 4),
				    in->l3len + hdr - 40);
		if (o[6] != nh)
			return fail("outer next header %u, expected %u", o[6], nh);
		if (o[7] != 64)
			return fail("outer hop limit %u", o[7]);
		if (memcmp(o + 8, CFG.encap_src6, 12) || memcmp(o + 20, &h, 4))
			return fail("outer source is not encap_src6 with the flow hash");
		if (memcmp(o + 24, be->addr, 16))
			return fail("outer destination is not backend %u", be_id);
		o += 40;
	}
	if (gue) {
		if (get16(o) != (0xc000 | (hash & 0x3fff)))
			return fail("GUE source port %u", get16(o));
		if (get16(o + 2) != CFG.gue_port)
			return fail("GUE destination port %u", get16(o + 2));
		if (get16(o + 4) != in->l3len + 8)
			return fail("UDP length %u, expected %u", get16(o + 4), in->l3len + 8);
		if (get16(o + 6) != 0)
			return fail("UDP checksum 0x%04x, expected 0 by policy", get16(o + 6));
	}
	for (uint32_t i = l2; i < l2 + in->l3len; i++)
		if (r->out[i + hdr] != in->b[i])
			return fail("inner byte %u is 0x%02x, expected 0x%02x", i - l2,
				    r->out[i + hdr], in->b[i]);
	return 1;
}

/* Which backend did a forwarded frame go to (by outer destination or MAC)? 0 if none. */
uint32_t backend_of(const struct pkt *in, const struct run *r, uint8_t mode)
{
	const uint8_t *o = r->out + in->l3;

	if (r->verdict != XDP_TX)
		return 0;
	for (uint32_t id = 1; id < BE_IDS; id++) {
		const struct xlb_backend *be = &B[id];

		if (!be->family)
			continue;
		if (mode == XLB_MODE_L2) {
			if (!memcmp(r->out, be->mac, 6))
				return id;
		} else if (get16(r->out + in->l3 - 2) == 0x0800 && be->family == XLB_AF_INET) {
			if (!memcmp(o + 16, be->addr, 4))
				return id;
		} else if (get16(r->out + in->l3 - 2) == 0x86dd && be->family == XLB_AF_INET6) {
			if (!memcmp(o + 24, be->addr, 16))
				return id;
		}
	}
	return 0;
}

static void mangle(struct pkt *p, enum mangle m)
{
	uint8_t *ip = p->b + p->l3;

	switch (m) {
	case MG_NONE:
		break;
	case MG_IHL4:
		ip[0] = 0x44;
		break;
	case MG_TOTLEN_BIG:
		put16(ip + 2, (uint16_t)(p->l3len + 1));
		break;
	case MG_TOTLEN_SMALL:
		put16(ip + 2, 19);
		break;
	case MG_V6PLEN_BIG:
		put16(ip + 4, (uint16_t)(p->l3len - 40 + 1));
		break;
	case MG_VERSION:
		ip[0] = 0x55;
		break;
	case MG_FIT:
		p->l3len = p->len - p->l3;
		if (p->family == 4) {
			put16(ip + 2, (uint16_t)p->l3len);
			ip4_fix_csum(p);
		} else {
			put16(ip + 4, (uint16_t)(p->l3len - 40));
		}
		break;
	}
}

void run_case(const struct tcase *c)
{
	struct xlb_flow_key k;
	struct run r;
	struct pkt in;
	int ok;

	WHY[0] = 0;
	build_pkt(&in, &c->s);
	if (c->trunc)
		in.len = c->trunc;
	mangle(&in, c->mangle);
	if (run_pkt(&in, &r)) {
		tap(0, c->name, "BPF_PROG_TEST_RUN failed");
		return;
	}
	ok = check_reason(&in, &r, c->reason, NULL);
	if (ok && c->reason == XLB_R_TX) {
		uint32_t want;

		key_of(&c->s, &k);
		want = predict(&k, c->vip);
		ok = check_forward(&in, &r, V[c->vip].mode, want, outer_of(&k));
		if (ok && (c->s.frag == 1 || c->s.frag == 2)) {
			struct xlb_flow f;

			if (!xlb_flow__get(X, &k, &f))
				ok = fail("a fragment created a flow-table entry");
		} else if (ok && c->s.frag == 3) {
			struct xlb_flow f;

			if (xlb_flow__get(X, &k, &f))
				ok = fail("an atomic fragment was not recorded as its flow");
		}
	} else if (ok && verdict_of(c->reason) == XDP_PASS) {
		ok = check_untouched(&in, &r);
	}
	tap(ok, c->name, WHY);
}

int same_bucket(const char *src, const char *dst, uint16_t from, int n, uint16_t *ports)
{
	struct pspec s = { .family = strchr(dst, ':') ? 6 : 4, .src = src, .dst = dst, .proto = 6,
			   .dport = 80 };
	uint32_t b, tag, want = 0;
	struct xlb_flow_key k;
	int found = 0;

	for (uint32_t p = from; found < n && p < from + 4096U; p++) {
		s.sport = (uint16_t)p;
		key_of(&s, &k);
		if (xlb_flow__place(X, &k, &b, &tag))
			return -1;
		if (!found)
			want = b;
		if (b == want)
			ports[found++] = (uint16_t)p;
	}
	return found == n ? (int)want : -1;
}

int fixture_fresh(void)
{
	return fixture_load(0);
}

void run_cases(const struct tcase *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		run_case(&c[i]);
}

/* Send one TCP packet of client @src:@sport to @dst:80; returns the backend it went to. */
uint32_t send_flow(const char *src, const char *dst, uint16_t sport, uint32_t vip, struct run *r,
		   struct pkt *in)
{
	struct pspec s = { .family = strchr(dst, ':') ? 6 : 4, .src = src, .dst = dst, .proto = 6,
			   .sport = sport, .dport = 80, .payload = 10 };

	build_pkt(in, &s);
	if (run_pkt(in, r))
		return 0;
	return backend_of(in, r, V[vip].mode);
}
