/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Small packet builders for the datapath fixtures: Ethernet/802.1Q, IPv4/IPv6, TCP/UDP, ICMP. */
#ifndef XLB_TEST_PKTBUILD_H
#define XLB_TEST_PKTBUILD_H

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

static const uint8_t LB_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t CLIENT_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };

/* What a fixture sends. */
struct pspec {
	int family;		/* 4 or 6; 0 = ARP */
	const char *src, *dst;
	uint8_t proto;		/* 6 TCP, 17 UDP, 132 SCTP ... */
	uint16_t sport, dport;
	uint16_t vlan;		/* 802.1Q TCI; 0 = untagged */
	int opts;		/* IPv4 option bytes (multiple of 4, <= 40) */
	uint8_t tos;
	int df;
	int frag;		/* 0 none, 1 first fragment (MF), 2 later fragment,
				 * 3 IPv6 atomic fragment (header with offset 0, no MF) */
	int payload;		/* payload bytes after the L4 header */
	int ext6;		/* IPv6: 8-byte extension headers (hop-by-hop, then dest opts) */
	int pad;		/* zero bytes after the IP packet (Ethernet padding) */
	uint32_t ipid;		/* IPv4 ID / IPv6 fragment identification; 0 = 0x1234 */
};

/* A built frame and what the checks need to know about it. */
struct pkt {
	uint8_t b[2048];
	uint32_t len;
	uint32_t l3;		/* offset of the IP header */
	uint32_t l3len;		/* IP total length */
	int family;
	uint8_t tos;
	int df;			/* 1 if an outer IPv4 header must carry DF */
};

static inline uint32_t csum_add(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static inline uint16_t csum_fin(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t l2_header(uint8_t *b, uint16_t vlan, uint16_t ethertype)
{
	memcpy(b, LB_MAC, 6);
	memcpy(b + 6, CLIENT_MAC, 6);
	if (vlan) {
		put16(b + 12, 0x8100);
		put16(b + 14, vlan);
		put16(b + 16, ethertype);
		return 18;
	}
	put16(b + 12, ethertype);
	return 14;
}

/* Writes an L3 header for @l4len bytes behind it; returns its length. */
static inline uint32_t l3_header(struct pkt *p, uint8_t *h, const struct pspec *s, uint8_t proto,
				 uint32_t l4len)
{
	if (s->family == 4) {
		uint32_t hl = 20 + s->opts;
		uint16_t fo = (s->df ? 0x4000 : 0) | (s->frag == 1 ? 0x2000 : 0) |
			      (s->frag == 2 ? 0x2000 | 185 : 0);

		h[0] = 0x40 | (uint8_t)(hl / 4);
		h[1] = s->tos;
		put16(h + 2, (uint16_t)(hl + l4len));
		put16(h + 4, s->ipid ? (uint16_t)s->ipid : 0x1234);
		put16(h + 6, fo);
		h[8] = 61;
		h[9] = proto;
		h[10] = h[11] = 0;
		inet_pton(AF_INET, s->src, h + 12);
		inet_pton(AF_INET, s->dst, h + 16);
		for (int i = 0; i < s->opts; i++)
			h[20 + i] = i + 1 < s->opts ? 1 : 0; /* NOPs, then end of options */
		memcpy(h + 10, &(uint16_t){ csum_fin(csum_add(0, h, hl)) }, 2);
		p->l3len = hl + l4len;
		p->df = s->df;
		return hl;
	}
	uint32_t hl = 40;
	uint8_t *nh = h + 6;

	h[0] = 0x60 | s->tos >> 4;
	h[1] = (uint8_t)(s->tos << 4) | 0x0a; /* flow label 0xa1234 */
	put16(h + 2, 0x1234);
	h[7] = 61;
	inet_pton(AF_INET6, s->src, h + 8);
	inet_pton(AF_INET6, s->dst, h + 24);
	for (int i = 0; i < s->ext6; i++) { /* PadN-filled options headers */
		*nh = i ? 60 : 0;
		nh = h + hl;
		memcpy(h + hl, "\x00\x00\x01\x04\x00\x00\x00\x00", 8);
		hl += 8;
	}
	if (s->frag) {
		*nh = 44;
		nh = h + hl;
		h[hl + 1] = 0;
		put16(h + hl + 2, s->frag == 2 ? (185 << 3) | 1 : s->frag == 3 ? 0 : 1);
		put16(h + hl + 4, s->ipid ? (uint16_t)(s->ipid >> 16) : 0);
		put16(h + hl + 6, s->ipid ? (uint16_t)s->ipid : 0x1234);
		hl += 8;
	}
	*nh = proto;
	put16(h + 4, (uint16_t)(hl - 40 + l4len));
	p->l3len = hl + l4len;
	p->df = 1;
	return hl;
}

/* L4 checksum over the pseudo header, for realistic frames (the balancer never checks it). */
static inline void l4_csum(const struct pspec *s, uint8_t *l3, uint8_t *l4, uint32_t l4len,
			   uint8_t proto, int off)
{
	uint32_t sum = 0;

	if (s->family == 4)
		sum = csum_add(sum, l3 + 12, 8);
	else
		sum = csum_add(sum, l3 + 8, 32);
	sum += proto + l4len;
	l4[off] = l4[off + 1] = 0;
	sum = csum_add(sum, l4, l4len);
	memcpy(l4 + off, &(uint16_t){ csum_fin(sum) }, 2);
}

/* Recompute the IPv4 header checksum of @p after its header was edited. */
static inline void ip4_fix_csum(struct pkt *p)
{
	uint8_t *h = p->b + p->l3;
	uint32_t hl = (h[0] & 15) * 4;

	h[10] = h[11] = 0;
	memcpy(h + 10, &(uint16_t){ csum_fin(csum_add(0, h, hl)) }, 2);
}

/* Build the frame described by @s into @p. */
static inline void build_pkt(struct pkt *p, const struct pspec *s)
{
	uint32_t off, l4len, hl;
	uint8_t *l4;

	memset(p, 0, sizeof(*p));
	p->family = s->family;
	p->tos = s->tos;
	if (!s->family) { /* ARP request */
		off = l2_header(p->b, s->vlan, 0x0806);
		memcpy(p->b + off, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
		memcpy(p->b + off + 8, CLIENT_MAC, 6);
		inet_pton(AF_INET, "198.18.0.2", p->b + off + 14);
		inet_pton(AF_INET, "198.18.0.1", p->b + off + 24);
		p->len = off + 28;
		p->l3 = off;
		return;
	}
	off = l2_header(p->b, s->vlan, s->family == 4 ? 0x0800 : 0x86dd);
	p->l3 = off;
	if (s->frag == 2 || (s->proto != 6 && s->proto != 17))
		l4len = s->payload;
	else
		l4len = (s->proto == 6 ? 20 : 8) + s->payload;
	hl = l3_header(p, p->b + off, s, s->proto, l4len);
	l4 = p->b + off + hl;
	if (s->frag != 2 && s->proto == 6) {
		put16(l4, s->sport);
		put16(l4 + 2, s->dport);
		memcpy(l4 + 4, "\x11\x22\x33\x44\x00\x00\x00\x00\x50\x02\xff\xff", 12);
		for (int i = 0; i < s->payload; i++)
			l4[20 + i] = (uint8_t)(i * 7 + 3);
		if (!s->frag || s->frag == 3)
			l4_csum(s, p->b + off, l4, l4len, 6, 16);
	} else if (s->frag != 2 && s->proto == 17) {
		put16(l4, s->sport);
		put16(l4 + 2, s->dport);
		put16(l4 + 4, (uint16_t)l4len);
		for (int i = 0; i < s->payload; i++)
			l4[8 + i] = (uint8_t)(i * 7 + 3);
		if (!s->frag || s->frag == 3)
			l4_csum(s, p->b + off, l4, l4len, 17, 6);
	} else {
		for (int i = 0; i < s->payload; i++)
			l4[i] = (uint8_t)(i * 5 + 1);
	}
	p->len = off + p->l3len + s->pad;
}

/*
 * build_icmp_too_big() - an ICMP frag-needed (v4) / ICMPv6 packet-too-big from @router to
 * @vip quoting a packet @vip:@vport -> @client:@cport of @proto (the backend's reply), with a
 * valid ICMP checksum.
 */
static inline void build_icmp_too_big_to(struct pkt *p, int family, const char *router,
					 const char *to, const char *vip, const char *client,
					 uint8_t proto, uint16_t vport, uint16_t cport);

static inline void build_icmp_too_big(struct pkt *p, int family, const char *router,
				      const char *vip, const char *client, uint8_t proto,
				      uint16_t vport, uint16_t cport)
{
	build_icmp_too_big_to(p, family, router, vip, vip, client, proto, vport, cport);
}

/* The same error sent to @to (the outer destination) instead of the quoted packet's source. */
static inline void build_icmp_too_big_to(struct pkt *p, int family, const char *router,
					 const char *to, const char *vip, const char *client,
					 uint8_t proto, uint16_t vport, uint16_t cport)
{
	struct pspec q = { .family = family, .src = vip, .dst = client, .proto = proto,
			   .sport = vport, .dport = cport, .payload = 32, .df = 1 };
	struct pspec o = { .family = family, .src = router, .dst = to, .df = 1 };
	struct pkt quoted;
	uint32_t off, hl, qlen, l4len;
	uint8_t *icmp;

	build_pkt(&quoted, &q);
	qlen = family == 4 ? 28 + 20 : 40 + 20 + 32; /* v4: header + 8 bytes; v6: as much as fits */
	if (qlen > quoted.l3len)
		qlen = quoted.l3len;
	memset(p, 0, sizeof(*p));
	p->family = family;
	off = l2_header(p->b, 0, family == 4 ? 0x0800 : 0x86dd);
	p->l3 = off;
	l4len = 8 + qlen;
	hl = l3_header(p, p->b + off, &o, family == 4 ? 1 : 58, l4len);
	icmp = p->b + off + hl;
	icmp[0] = family == 4 ? 3 : 2;
	icmp[1] = family == 4 ? 4 : 0;
	put16(icmp + 6, 1400); /* v4: next-hop MTU; v6: low half of the MTU word */
	memcpy(icmp + 8, quoted.b + quoted.l3, qlen);
	if (family == 4) {
		uint32_t sum = csum_add(0, icmp, l4len);

		memcpy(icmp + 2, &(uint16_t){ csum_fin(sum) }, 2);
	} else {
		l4_csum(&o, p->b + off, icmp, l4len, 58, 2);
	}
	p->len = off + p->l3len;
}

#endif /* XLB_TEST_PKTBUILD_H */
