// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Datapath mutation fuzzer: random frames through the loaded balancer, every output checked.
 *
 * One file past 600 lines by choice: the frame generator, the mutations and the oracle that
 * judges each output share one view of the configuration under test (the VIPs, backends and
 * MTU of the rotating configs); apart, each would need the others' tables.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "xlb.h"
#include "harness.h"
#include "pktbuild.h"

/*
 * Frames are built from a random spec (VIPs of every mode and family, non-VIP and group
 * destinations, TCP/UDP/ICMP errors/other protocols, VLAN, IPv4 options, IPv6 extension headers,
 * fragments of few IDs (so that later ones follow recorded first ones), padding and trailers,
 * sizes up to 3000 bytes), then 0-3 mutations (bit flips, bytes, lengths, truncation, trailers,
 * group MACs, source routes; the IPv4 and ICMP checksums repaired or not). Each goes through BPF_PROG_TEST_RUN and its output is checked by check_output(), which
 * shares no code with the datapath. Invariants:
 *
 * - the verdict is XDP_PASS, XDP_DROP or XDP_TX, never XDP_ABORTED;
 * - XDP_PASS: the frame is byte-identical;
 * - a frame not addressed to a VIP (not IP, or its destination address is no VIP's) comes out
 *   XDP_PASS, byte-identical; XDP_DROP is allowed only for frames the kernel refuses too
 *   (malformed(): bad version, IHL, lengths, truncated L4 or extension headers), the README's
 *   drop_malformed rule;
 * - XDP_TX is one of: (a) an encapsulation to a backend of the VIP's family set: next-hop MAC,
 *   own source MAC, VLAN kept, outer IPv4 checksum valid, outer lengths equal to the frame, GUE
 *   UDP length and port, outer ID and DF per RFC 6864, L3 size <= MTU, inner packet
 *   byte-identical to the input's IP packet and nothing after it; (b) L2 DSR: the frame as it
 *   came but for the MACs, destination a backend's; (c) an ICMP frag-needed / packet-too-big to
 *   the input's (non-bogus) source, from the VIP, checksums valid, MTU field within the MTU, the
 *   quote the input's first bytes, for an input that was too big;
 * - nothing sent for an input to a group MAC, with a bad IPv4 header checksum, source-routed,
 *   or an ICMP error that is not a valid PMTU error about the VIP it was sent to;
 * - at the end, the verdict reasons counted equal the frames run.
 *
 * --self-test corrupts real outputs class by class and shows check_output() catches each one.
 */

#define MAXF 3520		/* the largest frame XDP test runs accept on 4 KiB pages */
#define M 13

static struct xlb *X;

/* ---------------------------------------------------------------- what the checker knows */

struct fvip {
	const char *addr;
	uint8_t mode;
	int be_family;		/* 4 or 6 */
	uint16_t port;		/* 0 = all ports */
};

static const struct fvip VIPS[] = {
	{ "198.18.0.10", XLB_MODE_IPIP, 4, 80 },  { "198.18.0.11", XLB_MODE_IPIP, 6, 80 },
	{ "2001:db8::10", XLB_MODE_IPIP, 6, 80 }, { "2001:db8::11", XLB_MODE_IPIP, 4, 80 },
	{ "198.18.0.12", XLB_MODE_GUE, 4, 80 },   { "2001:db8::12", XLB_MODE_GUE, 6, 80 },
	{ "198.18.0.13", XLB_MODE_L2, 4, 80 },    { "2001:db8::13", XLB_MODE_L2, 6, 80 },
	{ "198.18.0.20", XLB_MODE_IPIP, 4, 0 },   { "2001:db8::20", XLB_MODE_GUE, 4, 0 },
};
#define NVIPS (sizeof(VIPS) / sizeof(VIPS[0]))
#define NBE 4

static const char *const OTHER_DST[] = { "198.18.0.99", "2001:db8::99", "255.255.255.255",
					 "224.0.0.1", "ff02::1", "198.18.0.14" };
static const char *const SRCS[] = { "198.18.5.1", "198.18.77.3", "0.0.0.0", "127.0.0.1",
				    "224.0.0.5", "255.255.255.255", "198.18.0.10" };
static const char *const SRCS6[] = { "2001:db8:5::1", "2001:db8:77::3", "::", "::1", "ff02::1",
				     "fe80::1", "2001:db8::10" };

static const uint8_t NEXTHOP[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0xfe };
static const uint8_t OWN[6] = { 0x02, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e };

static uint8_t vip_addr[NVIPS][16];
static int vip_fam[NVIPS];
static struct xlb_backend BE[NVIPS * NBE + 1];

/* One fuzzing configuration. */
struct fcfg {
	const char *name;
	uint32_t mtu, flags, icmp_rate, icmp_burst;
	uint32_t ifindex;	/* ingress ifindex of the runs (1 = lo, with an xlb_ifmac entry) */
};

static const struct fcfg CFGS[] = {
	{ "mtu 1500, drop too big", 1500, 0, 0, 0, 0 },
	{ "mtu 1400, icmp too big (default limit), own MAC", 1400, XLB_CFG_F_ICMP_TOO_BIG, 0, 0, 1 },
	{ "mtu 600, icmp too big unlimited, else pass", 600,
	  XLB_CFG_F_ICMP_TOO_BIG | XLB_CFG_F_PASS_TOO_BIG, 1000000000, 1000000, 0 },
	{ "mtu 1300, pass too big, own MAC", 1300, XLB_CFG_F_PASS_TOO_BIG, 0, 0, 1 },
};
#define NCFGS (sizeof(CFGS) / sizeof(CFGS[0]))

static struct xlb_config CFG;
static const struct fcfg *C;

/* ---------------------------------------------------------------- setup */

static int setup(void)
{
	int err = 0;

	memset(&CFG, 0, sizeof(CFG));
	CFG.gue_port = 6080;
	CFG.hash_seed = 0x5eed;
	CFG.encap_src4_bits = 8;
	memcpy(CFG.nexthop_mac, NEXTHOP, 6);
	inet_pton(AF_INET, "198.18.200.0", &CFG.encap_src4);
	inet_pton(AF_INET6, "2001:db8:ffff::", CFG.encap_src6);
	for (uint32_t v = 0; v < NVIPS; v++) {
		struct xlb_vip_key k = { .port = htons(VIPS[v].port) };
		struct xlb_vip val = { .id = v, .mode = VIPS[v].mode };
		uint32_t t[M];

		vip_fam[v] = strchr(VIPS[v].addr, ':') ? 6 : 4;
		inet_pton(vip_fam[v] == 4 ? AF_INET : AF_INET6, VIPS[v].addr, vip_addr[v]);
		memcpy(k.addr, vip_addr[v], 16);
		k.family = vip_fam[v] == 4 ? XLB_AF_INET : XLB_AF_INET6;
		for (int proto = 0; proto < 2; proto++) {
			k.proto = proto ? 17 : 6;
			err |= xlb_vip__set(X, &k, &val);
		}
		for (uint32_t b = 0; b < NBE; b++) {
			uint32_t id = 1 + v * NBE + b;
			struct xlb_backend *be = &BE[id];
			char a[64];

			memset(be, 0, sizeof(*be));
			be->family = VIPS[v].be_family == 4 ? XLB_AF_INET : XLB_AF_INET6;
			be->flags = XLB_BE_F_USABLE;
			be->vip_id = v;
			if (VIPS[v].be_family == 4)
				snprintf(a, sizeof(a), "198.19.%u.%u", v, b + 1);
			else
				snprintf(a, sizeof(a), "2001:db8:1:%x::%x", v, b + 1);
			inet_pton(VIPS[v].be_family == 4 ? AF_INET : AF_INET6, a, be->addr);
			memcpy(be->mac, "\x02\xbe\x00\x00", 4);
			be->mac[4] = (uint8_t)v;
			be->mac[5] = (uint8_t)b;
			err |= xlb_backend__set(X, id, be);
		}
		for (int i = 0; i < M; i++)
			t[i] = 1 + v * NBE + (uint32_t)(i * 7) % NBE;
		err |= xlb_vip__set_table(X, v, t, M);
	}
	return err;
}

static int use_config(const struct fcfg *c)
{
	struct xlb_ifmac m = { .ifindex = 1 }, none = {};
	__u32 slot = 1;
	int err;

	C = c;
	CFG.mtu = c->mtu;
	CFG.flags = c->flags;
	CFG.icmp_rate = c->icmp_rate;
	CFG.icmp_burst = c->icmp_burst;
	err = xlb__config_set(X, &CFG);
	err |= xlb__config_get(X, &CFG);
	memcpy(m.mac, OWN, 6);
	err |= bpf_map_update_elem(xlb__map_fd(X, "xlb_ifmac"), &slot, c->ifindex ? &m : &none,
				   BPF_ANY);
	err |= icmp_buckets_reset(X);
	return err;
}

/* ---------------------------------------------------------------- an independent view */

/* What check_output() reads from an input frame, by its own parsing. */
struct view {
	int ip;			/* 4, 6, or 0: not IP (or shorter than the fixed IP header) */
	uint32_t l2;		/* offset of the IP header */
	uint32_t l3len;		/* the IP packet's own length (valid when !malformed) */
	int malformed;		/* what the kernel would refuse as malformed */
	int to_vip;		/* destination address is some VIP's */
	int group_dst;		/* destination MAC is a group address */
	int csum_bad;		/* IPv4 header checksum wrong */
	int srcroute;		/* IPv4 LSRR/SSRR option or IPv6 routing header, segments left */
	int icmp_error;		/* ICMP type 3 / ICMPv6 type 2 (the PMTU candidates) */
	int icmp_ok;		/* ... and a valid PMTU error about the VIP it was sent to */
	int later_frag;
	uint8_t proto;
	const uint8_t *src, *dst;
};

static int is_vip_addr(int fam, const uint8_t *a)
{
	for (size_t v = 0; v < NVIPS; v++)
		if (vip_fam[v] == fam && !memcmp(vip_addr[v], a, fam == 4 ? 4 : 16))
			return 1;
	return 0;
}

static int bogus(int fam, const uint8_t *s, const uint8_t *vip)
{
	static const uint8_t zero[16], one[16] = { [15] = 1 };

	if (fam == 4)
		return s[0] == 0 || s[0] == 127 || s[0] >= 224 || !memcmp(s, vip, 4);
	return !memcmp(s, zero, 16) || !memcmp(s, one, 16) || s[0] == 0xff ||
	       (s[0] == 0xfe && (s[1] & 0xc0) == 0x80) || !memcmp(s, vip, 16);
}

static uint32_t ocsum(uint32_t sum, const uint8_t *p, size_t n)
{
	return csum_add(sum, p, n);
}

static int csum_ok(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

static void view_of(const uint8_t *b, uint32_t len, struct view *v)
{
	uint16_t et;
	const uint8_t *h;

	memset(v, 0, sizeof(*v));
	if (len < 14)
		return;
	v->group_dst = b[0] & 1;
	et = get16(b + 12);
	v->l2 = 14;
	if (et == 0x8100) {
		v->malformed = len < 18;	/* a truncated tag: the kernel drops it */
		if (len < 18)
			return;
		et = get16(b + 16);
		v->l2 = 18;
	}
	h = b + v->l2;
	if ((et == 0x0800 && len < v->l2 + 20) || (et == 0x86dd && len < v->l2 + 40)) {
		v->ip = et == 0x0800 ? 4 : 6;	/* too short for its IP header: the kernel drops it */
		v->malformed = 1;
		return;
	}
	if (et == 0x0800) {
		uint32_t hl = (h[0] & 15) * 4, tot = get16(h + 2), fo = get16(h + 6);

		v->ip = 4;
		v->src = h + 12;
		v->dst = h + 16;
		v->to_vip = is_vip_addr(4, h + 16);
		v->proto = h[9];
		if (h[0] >> 4 != 4 || hl < 20 || tot < hl || v->l2 + tot > len) {
			v->malformed = 1;
			return;
		}
		v->l3len = tot;
		v->csum_bad = !csum_ok(ocsum(0, h, hl));
		v->later_frag = (fo & 0x1fff) != 0;
		for (uint32_t i = 20; i < hl;) { /* options */
			uint8_t t = h[i];

			if (t == 0)
				break;
			if (t == 1) {
				i++;
				continue;
			}
			if (i + 1 >= hl || h[i + 1] < 2 || i + h[i + 1] > hl) {
				v->malformed = 1;
				return;
			}
			if (t == 0x83 || t == 0x89)
				v->srcroute = 1;
			i += h[i + 1];
		}
		if (!(fo & 0x3fff) || !(fo & 0x1fff)) { /* whole, or a first fragment */
			uint32_t need = v->proto == 6 ? 20 : v->proto == 17 ? 8 : 0;

			if (need && hl + need > tot && !(fo & 0x2000))
				v->malformed = 1;
			if (v->proto == 1 && hl + 8 <= tot && h[hl] == 3) {
				const uint8_t *q = h + hl + 8;
				uint32_t qhl = tot >= hl + 28 ? (q[0] & 15) * 4u : 0;

				v->icmp_error = 1;
				v->icmp_ok = h[hl + 1] == 4 && qhl >= 20 && !(fo & 0x3fff) &&
					     csum_ok(ocsum(0, h + hl, tot - hl)) &&
					     !memcmp(q + 12, h + 16, 4) &&
					     hl + 8 + qhl + 4 <= tot && (q[9] == 6 || q[9] == 17);
			}
		}
		return;
	}
	if (et == 0x86dd) {
		uint32_t plen = get16(h + 4), off = 40, nh = h[6];
		int first_frag = 0;

		v->ip = 6;
		v->src = h + 8;
		v->dst = h + 24;
		v->to_vip = is_vip_addr(6, h + 24);
		if (h[0] >> 4 != 6 || v->l2 + 40 + plen > len) {
			v->malformed = 1;
			return;
		}
		v->l3len = 40 + plen;
		for (int i = 0; i < 8 && (nh == 0 || nh == 43 || nh == 60 || nh == 44); i++) {
			if (off + 8 > v->l3len) {
				v->malformed = i < 3 || nh == 44;
				return;
			}
			if (nh == 44) {
				v->later_frag = (get16(h + off + 2) & 0xfff8) != 0;
				first_frag = !v->later_frag && (get16(h + off + 2) & 1);
				nh = h[off];
				off += 8;
				break;
			}
			if (nh == 43 && h[off + 3])
				v->srcroute = 1;
			if (off + (h[off + 1] + 1) * 8u > v->l3len) {
				v->malformed = i < 3;
				return;
			}
			nh = h[off];
			off += (h[off + 1] + 1) * 8u;
		}
		v->proto = (uint8_t)nh;
		/* (a first fragment's L4 header may be cut: balanced by addresses, as IPv4's) */
		if (!v->later_frag && !first_frag && (nh == 6 || nh == 17) &&
		    off + (nh == 6 ? 20u : 8u) > v->l3len)
			v->malformed = 1;
		if (nh == 58 && off + 8 <= v->l3len && h[off] == 2) {
			const uint8_t *q = h + off + 8;
			uint32_t sum = ocsum(0, h + 8, 32) + (v->l3len - off) + 58;

			v->icmp_error = 1;
			v->icmp_ok = h[off + 1] == 0 && off + 8 + 44 <= v->l3len && !v->later_frag &&
				     csum_ok(ocsum(sum, h + off, v->l3len - off)) &&
				     !memcmp(q + 8, h + 24, 16) && (q[6] == 6 || q[6] == 17);
		}
		return;
	}
}

/* ---------------------------------------------------------------- the checker */

static int is_backend(int fam, const uint8_t *a, uint8_t *mode)
{
	for (size_t id = 1; id <= NVIPS * NBE; id++)
		if (BE[id].family == (fam == 4 ? XLB_AF_INET : XLB_AF_INET6) &&
		    !memcmp(BE[id].addr, a, fam == 4 ? 4 : 16)) {
			*mode = VIPS[BE[id].vip_id].mode;
			return 1;
		}
	return 0;
}

static int is_backend_mac(const uint8_t *mac)
{
	for (size_t id = 1; id <= NVIPS * NBE; id++)
		if (!memcmp(BE[id].mac, mac, 6) && VIPS[BE[id].vip_id].mode == XLB_MODE_L2)
			return 1;
	return 0;
}

/* The source MAC a sent frame must carry. */
static const uint8_t *want_smac(const uint8_t *in)
{
	return C->ifindex ? OWN : in;
}

/* Is @adv the MTU minus one of the encapsulations (IPv4/IPv6 outer, with or without GUE)? */
static int encap_below(uint32_t adv, uint32_t mtu)
{
	return adv == mtu - 20 || adv == mtu - 28 || adv == mtu - 40 || adv == mtu - 48;
}

static int check_reply(const uint8_t *in, uint32_t in_len, const struct view *iv,
		       const uint8_t *out, uint32_t out_len, uint32_t mtu)
{
	uint32_t l2 = iv->l2, quote = iv->ip == 4 ? 128 : 256, hl = iv->ip == 4 ? 20 : 40;
	const uint8_t *ip = out + l2, *icmp = ip + hl;

	(void)in_len;
	if (out_len != l2 + hl + 8 + quote)
		return fail("reply: length %u, expected %u", out_len, l2 + hl + 8 + quote);
	if (memcmp(out, in + 6, 6))
		return fail("reply: destination MAC is not the client's");
	if (iv->later_frag || iv->icmp_error || iv->l3len < quote)
		return fail("reply: sent for a later fragment, an ICMP error or a short packet");
	if (bogus(iv->ip, iv->src, iv->dst) || (in[6] & 1))
		return fail("reply: sent to a bogus source");
	if (iv->ip == 4) {
		if (get16(out + l2 - 2) != 0x0800 || ip[0] != 0x45 || ip[9] != 1)
			return fail("reply: not an IPv4 ICMP packet");
		if (get16(ip + 2) != hl + 8 + quote || !csum_ok(ocsum(0, ip, 20)))
			return fail("reply: IPv4 length or header checksum wrong");
		if (memcmp(ip + 12, iv->dst, 4) || memcmp(ip + 16, iv->src, 4))
			return fail("reply: addresses are not VIP -> client");
		if (!(get16(in + l2 + 6) & 0x4000))
			return fail("reply: sent for IPv4 without DF");
		if (icmp[0] != 3 || icmp[1] != 4 || !encap_below(get16(icmp + 6), mtu))
			return fail("reply: ICMP type %u code %u mtu %u", icmp[0], icmp[1],
				   get16(icmp + 6));
		if (!csum_ok(ocsum(0, icmp, 8 + quote)))
			return fail("reply: ICMP checksum does not verify");
		if (iv->l3len <= get16(icmp + 6))
			return fail("reply: packet of %u bytes was not too big", iv->l3len);
	} else {
		uint32_t adv = (uint32_t)get16(icmp + 4) << 16 | get16(icmp + 6);

		if (get16(out + l2 - 2) != 0x86dd || ip[0] >> 4 != 6 || ip[6] != 58)
			return fail("reply: not an ICMPv6 packet");
		if (get16(ip + 4) != 8 + quote)
			return fail("reply: IPv6 payload length %u", get16(ip + 4));
		if (memcmp(ip + 8, iv->dst, 16) || memcmp(ip + 24, iv->src, 16))
			return fail("reply: addresses are not VIP -> client");
		if (icmp[0] != 2 || icmp[1] != 0 || !encap_below(adv, mtu))
			return fail("reply: ICMPv6 type %u code %u mtu %u", icmp[0], icmp[1], adv);
		if (!csum_ok(ocsum(ocsum(0, ip + 8, 32) + 8 + quote + 58, icmp, 8 + quote)))
			return fail("reply: ICMPv6 checksum does not verify");
		if (iv->l3len <= adv)
			return fail("reply: packet of %u bytes was not too big", iv->l3len);
	}
	if (memcmp(icmp + 8, in + l2, quote))
		return fail("reply: the quote is not the packet's first %u bytes", quote);
	return 1;
}

static int check_encap(const uint8_t *in, uint32_t in_len, const struct view *iv,
		       const uint8_t *out, uint32_t out_len, uint32_t mtu)
{
	uint32_t l2 = iv->l2, hdr, l3;
	uint16_t et = get16(out + l2 - 2);
	const uint8_t *o = out + l2;
	uint8_t mode = 0, nh;
	int gue;

	(void)in_len;
	if (l2 == 18 && (get16(out + 12) != 0x8100 || get16(out + 14) != get16(in + 14)))
		return fail("encap: VLAN tag not kept");
	if (et == 0x0800) {
		if (out_len < l2 + 20 || o[0] != 0x45)
			return fail("encap: outer IPv4 version/IHL 0x%02x", o[0]);
		if (!csum_ok(ocsum(0, o, 20)))
			return fail("encap: outer IPv4 checksum does not verify");
		l3 = get16(o + 2);
		if (l2 + l3 != out_len)
			return fail("encap: outer tot_len %u, frame holds %u", l3, out_len - l2);
		if (!is_backend(4, o + 16, &mode))
			return fail("encap: outer destination is no IPv4 backend");
		if ((get16(o + 6) & 0xbfff) != 0)
			return fail("encap: outer IPv4 fragmented (frag_off 0x%04x)", get16(o + 6));
		if (!!(get16(o + 6) & 0x4000) != (iv->ip == 6 || (get16(in + l2 + 6) & 0x4000)))
			return fail("encap: outer DF not the inner's");
		if (get16(o + 4) != (iv->ip == 4 ? get16(in + l2 + 4) : 0))
			return fail("encap: outer IPv4 ID 0x%04x, not the inner's", get16(o + 4));
		nh = o[9];
		hdr = 20;
	} else if (et == 0x86dd) {
		if (out_len < l2 + 40 || o[0] >> 4 != 6)
			return fail("encap: outer IPv6 version");
		l3 = 40 + get16(o + 4);
		if (l2 + l3 != out_len)
			return fail("encap: outer payload_len %u, frame holds %u", l3 - 40,
				   out_len - l2 - 40);
		if (!is_backend(6, o + 24, &mode))
			return fail("encap: outer destination is no IPv6 backend");
		nh = o[6];
		hdr = 40;
	} else {
		return fail("encap: ethertype 0x%04x", et);
	}
	if (l3 > mtu)
		return fail("encap: %u bytes of L3, MTU %u", l3, mtu);
	gue = mode == XLB_MODE_GUE;
	if (gue) {
		const uint8_t *u = o + hdr;

		if (nh != 17 || out_len < l2 + hdr + 8)
			return fail("encap: GUE without a UDP header (next header %u)", nh);
		if (get16(u + 2) != CFG.gue_port || get16(u + 4) != l3 - hdr)
			return fail("encap: GUE port %u, UDP length %u (expected %u)", get16(u + 2),
				   get16(u + 4), l3 - hdr);
		hdr += 8;
	} else if (nh != (iv->ip == 4 ? 4 : 41)) {
		return fail("encap: outer protocol %u for an IPv%d inner packet", nh, iv->ip);
	}
	if (l3 - hdr != iv->l3len)
		return fail("encap: inner of %u bytes, the IP packet has %u (a trailer sent?)",
			   l3 - hdr, iv->l3len);
	for (uint32_t i = 0; i < iv->l3len; i++)
		if (o[hdr + i] != in[l2 + i])
			return fail("encap: inner byte %u is 0x%02x, expected 0x%02x", i, o[hdr + i],
				   in[l2 + i]);
	return 1;
}

/*
 * check_output() - every invariant of one run. @mtu is the configured MTU (the self-test passes
 * a lower one to provoke that class). Returns 1, or 0 with WHY set.
 */
static int check_output(const uint8_t *in, uint32_t in_len, uint32_t verdict, const uint8_t *out,
			uint32_t out_len, uint32_t mtu)
{
	struct view iv;

	view_of(in, in_len, &iv);
	if (verdict != XDP_PASS && verdict != XDP_DROP && verdict != XDP_TX)
		return fail("verdict %u%s", verdict, verdict == XDP_ABORTED ? " (XDP_ABORTED)" : "");
	if (verdict == XDP_PASS) {
		if (out_len != in_len || memcmp(in, out, in_len))
			return fail("passed frame modified (%s)", iv.to_vip ? "VIP" : "not a VIP");
		return 1;
	}
	if (!iv.ip || !iv.to_vip) {
		if (verdict == XDP_DROP && iv.malformed)
			return 1;
		return fail("frame not for a VIP %s", verdict == XDP_TX ? "sent (XDP_TX)" :
			   "dropped though well formed");
	}
	if (verdict == XDP_DROP)
		return 1;
	/* XDP_TX */
	if (iv.malformed)
		return fail("malformed frame sent");
	if (iv.group_dst)
		return fail("frame to a group MAC sent");
	if (iv.ip == 4 && iv.csum_bad)
		return fail("frame with a bad IPv4 header checksum sent");
	if (iv.srcroute)
		return fail("source-routed frame sent");
	if (iv.icmp_error && !iv.icmp_ok && !(out_len >= 14 && memcmp(out, in + 6, 6) == 0))
		return fail("ICMP error routed that is not a valid PMTU error about its VIP");
	if (out_len < 14)
		return fail("sent frame of %u bytes", out_len);
	if (out[6] & 1)
		return fail("source MAC is a group address");
	if (memcmp(out + 6, want_smac(in), 6))
		return fail("source MAC is not the interface's (or the frame's destination)");
	if (!memcmp(out, NEXTHOP, 6))
		return check_encap(in, in_len, &iv, out, out_len, mtu);
	if (out_len == in_len && is_backend_mac(out)) {
		if (memcmp(out + 12, in + 12, in_len - 12))
			return fail("L2 DSR: frame changed beyond the MACs");
		return 1;
	}
	return check_reply(in, in_len, &iv, out, out_len, mtu);
}

/* ---------------------------------------------------------------- frames */

static uint64_t rng;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

static uint32_t below(uint32_t n)
{
	return n ? rnd() % n : 0;
}

static void fix_ip4_csum(uint8_t *b, uint32_t len)
{
	struct view v;

	view_of(b, len, &v);
	if (v.ip == 4 && len >= v.l2 + 20) {
		uint32_t hl = (b[v.l2] & 15) * 4;

		if (hl >= 20 && v.l2 + hl <= len) {
			b[v.l2 + 10] = b[v.l2 + 11] = 0;
			memcpy(b + v.l2 + 10, &(uint16_t){ csum_fin(csum_add(0, b + v.l2, hl)) }, 2);
		}
	}
}

/* A random frame of the corpus into @b; returns its length. */
static uint32_t gen_frame(uint8_t *b)
{
	static struct pkt p;
	int v6 = below(2), kind = below(10);
	struct pspec s = { .family = v6 ? 6 : 4 };
	const char *dst;
	uint32_t len;

	if (below(10) < 7) {
		size_t v = below(NVIPS);

		while ((vip_fam[v] == 6) != v6)
			v = below(NVIPS);
		dst = VIPS[v].addr;
	} else {
		dst = OTHER_DST[below(6)];
		v6 = strchr(dst, ':') != NULL;
		s.family = v6 ? 6 : 4;
	}
	s.dst = dst;
	s.src = v6 ? SRCS6[below(4) ? below(2) : below(7)] : SRCS[below(4) ? below(2) : below(7)];
	if (kind < 2) { /* an ICMP error quoting a flow of some VIP */
		size_t v = below(NVIPS);

		while ((vip_fam[v] == 6) != v6)
			v = below(NVIPS);
		build_icmp_too_big_to(&p, s.family, v6 ? "2001:db8:9::1" : "198.18.9.1",
				      below(4) ? VIPS[v].addr : dst, VIPS[v].addr, s.src,
				      below(2) ? 6 : 17, 80, (uint16_t)(1024 + below(60000)));
	} else {
		s.proto = kind < 6 ? 6 : kind < 9 ? 17 : (uint8_t)(below(2) ? 47 : v6 ? 58 : 1);
		s.sport = (uint16_t)(1024 + below(60000));
		s.dport = below(4) ? (s.proto == 17 ? 53 : 80) : (uint16_t)below(65536);
		if (s.proto == 17 && below(2))
			s.dport = 80;
		s.vlan = below(5) ? 0 : (uint16_t)(1 + below(4094));
		s.df = below(3) != 0;
		s.frag = below(8) ? 0 : (int)below(4);
		s.ipid = (uint32_t)below(4);	/* few IDs: later fragments often follow a first */
		s.opts = !v6 && !below(5) ? (int)(4 * (1 + below(10))) : 0;
		s.ext6 = v6 && !below(5) ? (int)below(5) : 0;
		s.tos = (uint8_t)below(256);
		switch (below(4)) {
		case 0: s.payload = (int)below(64); break;
		case 1: s.payload = (int)below(600); break;
		case 2: s.payload = 1300 + (int)below(300); break;
		default: s.payload = (int)below(1900); break;
		}
		s.pad = below(4) ? 0 : (int)below(100);
		if (14 + 4 + 40 + 48 + 8 + 20 + s.payload + s.pad > (int)sizeof(p.b))
			s.payload = 1500;
		build_pkt(&p, &s);
		if (s.opts && !below(3)) { /* a source route, record route or a timestamp */
			static const uint8_t o[3][8] = { "\x83\x07\x04\xc6\x12\x00\x01\x01",
							 "\x89\x07\x04\xc6\x12\x00\x01\x00",
							 "\x07\x07\x04\x00\x00\x00\x00\x01" };

			memcpy(p.b + p.l3 + 20, o[below(3)], s.opts < 8 ? 4 : 8);
			if (s.opts < 8)
				p.b[p.l3 + 21] = 4, p.b[p.l3 + 20] = below(2) ? 0x83 : 0x07;
			ip4_fix_csum(&p);
		}
		if (s.ext6 && !below(3)) { /* the first extension header becomes a routing header */
			p.b[p.l3 + 6] = 43;
			p.b[p.l3 + 40 + 3] = (uint8_t)below(3);
		}
	}
	len = p.len;
	memcpy(b, p.b, len);
	if (!below(8) && len < 1600) { /* a long trailer: frames up to 3000 bytes and more */
		uint32_t add = below(MAXF - len);

		for (uint32_t i = 0; i < add; i++)
			b[len + i] = (uint8_t)rnd();
		len += add;
	}
	if (!below(12))
		memcpy(b, below(2) ? "\xff\xff\xff\xff\xff\xff" : "\x01\x00\x5e\x00\x00\x01", 6);
	return len;
}

/* 0-3 mutations of a frame; the IPv4 header checksum is repaired half of the time. */
static uint32_t mutate(uint8_t *b, uint32_t len)
{
	int n = (int)below(4);

	for (int i = 0; i < n; i++) {
		uint32_t l3 = get16(b + 12) == 0x8100 ? 18 : 14;

		switch (below(8)) {
		case 0: /* a bit in the headers */
			b[below(len < 96 ? len : 96)] ^= (uint8_t)(1 << below(8));
			break;
		case 1: /* a byte anywhere */
			b[below(len)] = (uint8_t)rnd();
			break;
		case 2: /* an interesting byte in the headers */
		{
			static const uint8_t v[] = { 0, 1, 2, 3, 4, 5, 6, 17, 41, 43, 44, 58, 0x45,
						     0x46, 0x4f, 0x60, 0x7f, 0x80, 0xff };

			b[below(len < 80 ? len : 80)] = v[below(sizeof(v))];
			break;
		}
		case 3: /* a length field */
			if (len >= l3 + 6) {
				uint32_t at = l3 + (get16(b + l3 - 2) == 0x86dd ? 4 : 2);
				uint32_t now = get16(b + at);

				put16(b + at, (uint16_t)(below(2) ? now + below(9) - 4 : below(65536)));
			}
			break;
		case 4: /* truncate */
			if (len > 14)
				len = 14 + below(len - 14);
			break;
		case 5: /* a trailer */
		{
			uint32_t add = below(MAXF - len < 200 ? MAXF - len : 200);

			for (uint32_t k = 0; k < add; k++)
				b[len + k] = (uint8_t)rnd();
			len += add;
			break;
		}
		case 6: /* the destination becomes a VIP's address */
		{
			size_t v = below(NVIPS);

			if (get16(b + l3 - 2) == 0x0800 && vip_fam[v] == 4 && len >= l3 + 20)
				memcpy(b + l3 + 16, vip_addr[v], 4);
			else if (get16(b + l3 - 2) == 0x86dd && vip_fam[v] == 6 && len >= l3 + 40)
				memcpy(b + l3 + 24, vip_addr[v], 16);
			break;
		}
		default: /* a byte of the L4 header or the quote */
			if (len > l3 + 20)
				b[l3 + 20 + below(len - l3 - 20 < 64 ? len - l3 - 20 : 64)] =
					(uint8_t)rnd();
			break;
		}
	}
	if (n && below(2))
		fix_ip4_csum(b, len);
	return len;
}

/* ---------------------------------------------------------------- running */

struct result {
	uint32_t verdict, out_len;
	uint8_t out[MAXF + 512];
};

static int run(const uint8_t *b, uint32_t len, struct result *r)
{
	return run_frame(xlb__prog_fd(X), b, len, C->ifindex, r->out, sizeof(r->out), &r->verdict,
			 &r->out_len);
}

static void hexdump(const char *what, const uint8_t *b, uint32_t len)
{
	printf("# %s (%u bytes):", what, len);
	for (uint32_t i = 0; i < len && i < 96; i++)
		printf("%s%02x", i % 32 ? " " : "\n#   ", b[i]);
	printf("\n");
}

static uint64_t reasons_total(void)
{
	struct xlb_reason_counters rc[XLB_R__MAX];
	uint64_t n = 0;

	if (xlb_stats__reasons(X, rc))
		return 0;
	for (int i = 0; i < XLB_R_EV_FLOOD; i++)
		n += rc[i].packets;
	return n;
}

/* Run @frames frames of seed @seed under config @c; returns the violations found. */
static uint64_t fuzz(const struct fcfg *c, uint64_t seed, uint64_t frames, uint64_t *tx_out)
{
	static uint8_t b[MAXF];
	static struct result r;
	uint64_t viol = 0, tx = 0, before = reasons_total();

	if (use_config(c)) {
		printf("# cannot apply config %s\n", c->name);
		return 1;
	}
	rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	for (uint64_t i = 0; i < frames; i++) {
		uint32_t len = mutate(b, gen_frame(b));

		if (run(b, len, &r)) {
			printf("# frame %llu: test run failed: %s\n", (unsigned long long)i,
			       strerror(errno));
			viol++;
			continue;
		}
		tx += r.verdict == XDP_TX;
		if (!check_output(b, len, r.verdict, r.out, r.out_len, CFG.mtu)) {
			if (viol++ < 5) {
				printf("# violation, frame %llu of seed %llu: %s (verdict %u)\n",
				       (unsigned long long)i, (unsigned long long)seed, WHY,
				       r.verdict);
				hexdump("in", b, len);
				hexdump("out", r.out, r.out_len);
			}
		}
	}
	if (reasons_total() - before != frames) {
		printf("# %llu verdict reasons counted for %llu frames\n",
		       (unsigned long long)(reasons_total() - before), (unsigned long long)frames);
		viol++;
	}
	*tx_out = tx;
	return viol;
}

/* ---------------------------------------------------------------- self-test */

/* One real output of @s (or an ICMP error), which check_output() must accept. */
static int sample(const struct pspec *s, struct pkt *p, struct result *r)
{
	build_pkt(p, s);
	if (run(p->b, p->len, r))
		return fail("test run failed");
	if (!check_output(p->b, p->len, r->verdict, r->out, r->out_len, CFG.mtu))
		return 0;
	return 1;
}

static void refix_reply4(uint8_t *o, uint32_t l2)
{
	uint8_t *ip = o + l2, *icmp = ip + 20;

	ip[10] = ip[11] = 0;
	memcpy(ip + 10, &(uint16_t){ csum_fin(csum_add(0, ip, 20)) }, 2);
	icmp[2] = icmp[3] = 0;
	memcpy(icmp + 2, &(uint16_t){ csum_fin(csum_add(0, icmp, 8 + 128)) }, 2);
}

static void self_test(void)
{
	static struct pkt p;
	static struct result r, k;
	struct pspec tcp4 = { .family = 4, .src = "198.18.5.1", .dst = "198.18.0.10", .proto = 6,
			      .sport = 1234, .dport = 80, .payload = 100, .df = 1 };
	struct pspec gue6 = { .family = 6, .src = "2001:db8:5::1", .dst = "2001:db8::12",
			      .proto = 17, .sport = 1234, .dport = 80, .payload = 100 };
	struct pspec l2 = { .family = 4, .src = "198.18.5.1", .dst = "198.18.0.13", .proto = 6,
			    .sport = 1234, .dport = 80, .payload = 100 };
	struct pspec big = { .family = 4, .src = "198.18.5.1", .dst = "198.18.0.10", .proto = 6,
			     .sport = 1235, .dport = 80, .payload = 700, .df = 1 };
	struct pspec nonvip = { .family = 4, .src = "198.18.5.1", .dst = "198.18.0.99",
				.proto = 6, .sport = 1234, .dport = 80, .payload = 10 };
	int ok;

	use_config(&CFGS[2]);	/* mtu 600, ICMP replies */
#define CLASS(name, spec, corrupt, mtu_)                                                       \
	do {                                                                                   \
		WHY[0] = 0;                                                                    \
		ok = sample(&(spec), &p, &r);                                                  \
		if (!ok) {                                                                     \
			tap(0, "self-test: " name, WHY);                                       \
			break;                                                                 \
		}                                                                              \
		k = r;                                                                         \
		corrupt;                                                                       \
		ok = !check_output(p.b, p.len, k.verdict, k.out, k.out_len, (mtu_));           \
		tap(ok, "self-test: " name " is caught", ok ? NULL : "not caught");            \
		if (ok)                                                                        \
			printf("#   caught as: %s\n", WHY);                                        \
	} while (0)

	CLASS("non-VIP frame passed modified", nonvip, k.out[40] ^= 1, CFG.mtu);
	CLASS("non-VIP frame sent (XDP_TX)", nonvip, k.verdict = XDP_TX, CFG.mtu);
	CLASS("XDP_ABORTED", tcp4, k.verdict = XDP_ABORTED, CFG.mtu);
	CLASS("outer IPv4 checksum wrong", tcp4, k.out[14 + 10] ^= 0x10, CFG.mtu);
	CLASS("outer IPv4 length wrong", tcp4, k.out_len -= 2, CFG.mtu);
	CLASS("outer IPv6 payload length wrong", gue6, k.out[14 + 5] += 1, CFG.mtu);
	CLASS("GUE UDP length wrong", gue6, k.out[14 + 40 + 5] += 1, CFG.mtu);
	CLASS("inner byte changed", tcp4, k.out[k.out_len - 1] ^= 0x80, CFG.mtu);
	CLASS("trailer sent behind the inner packet",
	      tcp4, (k.out_len += 4, put16(k.out + 16, (uint16_t)(get16(k.out + 16) + 4)),
		     k.out[24] = k.out[25] = 0,
		     memcpy(k.out + 24, &(uint16_t){ csum_fin(csum_add(0, k.out + 14, 20)) }, 2)),
	      CFG.mtu);
	CLASS("L3 size above the MTU", tcp4, (void)0, get16(k.out + 16) - 1);
	CLASS("outer IPv4 ID not the inner's", tcp4,
	      (k.out[18] ^= 1, k.out[24] = k.out[25] = 0,
	       memcpy(k.out + 24, &(uint16_t){ csum_fin(csum_add(0, k.out + 14, 20)) }, 2)),
	      CFG.mtu);
	CLASS("group source MAC", tcp4, k.out[6] |= 1, CFG.mtu);
	CLASS("L2 DSR frame changed beyond the MACs", l2, k.out[30] ^= 4, CFG.mtu);
	CLASS("ICMP reply checksum wrong", big, k.out[14 + 20 + 2] ^= 1, CFG.mtu);
	CLASS("ICMP reply to a bogus source", big,
	      (memcpy(k.out + 14 + 16, "\x7f\x00\x00\x01", 4),
	       memcpy(p.b + 14 + 12, "\x7f\x00\x00\x01", 4), fix_ip4_csum(p.b, p.len),
	       refix_reply4(k.out, 14)),
	      CFG.mtu);
	CLASS("ICMP reply quote not the packet's", big,
	      (k.out[14 + 28 + 60] ^= 1, refix_reply4(k.out, 14)), CFG.mtu);
	CLASS("ICMP reply advertising more than the MTU", big,
	      (put16(k.out + 14 + 20 + 6, 1500), refix_reply4(k.out, 14)), CFG.mtu);
	/* inputs the datapath must not send, shown with a real output of a good twin */
	CLASS("frame to a group MAC sent", tcp4, p.b[0] = 0xff, CFG.mtu);
	CLASS("frame with a bad IPv4 checksum sent", tcp4, p.b[24] ^= 1, CFG.mtu);
#undef CLASS
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	struct xlb_open_opts opts = { .pin_dir = "", .flow_table_size = 65536 };
	uint64_t frames = 100000, seeds[16] = { 1 }, total = 0, viol_total = 0;
	int nseeds = 1, only_self = 0;
	struct timespec t0, t1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			frames = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
			char *s = argv[++i], *e;

			for (nseeds = 0; *s && nseeds < 16; s = *e ? e + 1 : e)
				seeds[nseeds++] = strtoull(s, &e, 0);
		} else if (!strcmp(argv[i], "--self-test")) {
			only_self = 1;
		} else {
			fprintf(stderr, "usage: %s [-n FRAMES] [-s SEED,SEED..] [--self-test]\n",
				argv[0]);
			return 2;
		}
	}
	if (!harness_start("datapath fuzzer"))
		return 0;

	X = xlb__open(&opts);
	tap(X != NULL, "load the balancer (no pins)", strerror(errno));
	if (!X)
		return 1;
	tap(setup() == 0, "set up VIPs, backends and tables", "a map update failed");
	self_test();
	if (!only_self) {
		/* the frames spread over every config and seed */
		uint64_t runs = (uint64_t)nseeds * NCFGS, per = (frames + runs - 1) / runs;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int s = 0; s < nseeds; s++) {
			for (size_t c = 0; c < NCFGS; c++) {
				uint64_t tx = 0, v = fuzz(&CFGS[c], seeds[s] * 131 + c, per, &tx);
				char name[192];

				total += per;
				viol_total += v;
				snprintf(name, sizeof(name),
					 "fuzz %s, seed %llu: %llu frames (%llu sent), %llu violations",
					 CFGS[c].name, (unsigned long long)seeds[s],
					 (unsigned long long)per, (unsigned long long)tx,
					 (unsigned long long)v);
				tap(v == 0, name, "see the violations above");
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("# %llu frames, %llu violations, %.1f s\n", (unsigned long long)total,
		       (unsigned long long)viol_total,
		       (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	}
	xlb__close(X, true);
	harness_plan();
	return harness_failed() ? 1 : 0;
}
