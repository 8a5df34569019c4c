/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xlb-gen's frame template and flow arithmetic, shared by its XDP program and AF_PACKET engine. */
#ifndef XLB_GEN_H
#define XLB_GEN_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/*
 * Both engines start every frame from the same template and rewrite the same fields with the
 * functions below, so a frame depends only on the template and its sequence number: the live
 * frames engine and the AF_PACKET engine send byte-identical frames (a test compares them).
 *
 * The template's first XLB_GEN_TMPL_LEN bytes (Ethernet, IP and L4 headers, then payload) are
 * written back into every frame before it is varied, because live frames recycle pages whose
 * contents a receiver may have changed (an encapsulating balancer writes over the Ethernet
 * header of the frame it was handed); the kernel only resets the frame's pointers.
 */
#define XLB_GEN_TMPL_LEN 80	/* covers the longest headers: 14 + 40 + 20 (IPv6, TCP) */
#define XLB_GEN_MIN_LEN 64	/* smallest frame, Ethernet header included, FCS excluded */
#define XLB_GEN_MAX_LEN 1500	/* largest frame */

/* Flow order (struct xlb_gen_cfg.random). */
enum xlb_gen_order {
	XLB_GEN_SEQ = 0,	/* flow = sequence number mod flows */
	XLB_GEN_RANDOM = 1,	/* flow = mix(sequence number) mod flows: reproducible */
};

/*
 * What varies per frame and where it lives in the template; read-only data of the XDP program,
 * a plain struct in the AF_PACKET engine. Offsets count from the start of the frame; 16-bit
 * words are kept in memory order, as the one's complement sum needs no byte swapping.
 */
struct xlb_gen_cfg {
	__u32 flows;		/* distinct flows, >= 1 */
	__u32 pad;
	__u32 nports;		/* source ports in the range, >= 1; flow f uses port f % nports */
	__u32 naddrs;		/* source addresses, >= 1; flow f uses (f / nports) % naddrs */
	__u32 addr_base;	/* host order: first value of the varied address word */
	__u16 port_base;	/* host order: first source port */
	__u16 addr_off;		/* offset of the varied 32-bit source address word */
	__u16 port_off;		/* offset of the source port */
	__u16 ip_csum_off;	/* offset of the IPv4 header checksum; 0 for IPv6 */
	__u16 l4_csum_off;	/* offset of the TCP/UDP checksum */
	__u8 udp;		/* 1: a computed checksum of 0 is sent as 0xffff (RFC 768) */
	__u8 random;		/* enum xlb_gen_order */
	__u16 ip_csum0;		/* the template's IPv4 header checksum, memory order */
	__u16 l4_csum0;		/* the template's TCP/UDP checksum, memory order */
	__u32 pad2;
	/* the frame's first bytes, with the checksums of flow 0; aligned for 8-byte copies */
	__u16 tmpl[XLB_GEN_TMPL_LEN / 2] __attribute__((aligned(8)));
};

/*
 * Per CPU (one generator thread each), in the XDP program's .bss: set by the thread before its
 * BPF_PROG_TEST_RUN call, read by the main thread while the call runs (the progress lines).
 */
struct xlb_gen_state {
	__u64 seq;		/* sequence number of the CPU's next frame */
	__u64 stride;		/* step from one of its frames to the next: the number of threads */
	__u64 sent;		/* frames sent (XDP_TX) */
	__u64 limit;		/* frames to send; later ones are dropped unsent. 0 = no limit */
	__u64 gap_ns;		/* pacing: nanoseconds from one frame to the next; 0 = none */
	__u64 due;		/* bpf_ktime_get_ns() at which the next frame may leave; 0 = now */
} __attribute__((aligned(64)));	/* a cache line each: two threads never share one */

#define XLB_GEN_MAX_CPUS 256

/* One frame's varied values. */
struct xlb_gen_flow {
	__be32 addr;		/* the varied source address word */
	__be16 port;		/* source port */
	__u16 ip_csum;		/* memory order, as written into the frame */
	__u16 l4_csum;
};

/* Host to network order, for both compilers without libc or bpf_endian.h. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define xlb_gen_hton16(v) ((__u16)__builtin_bswap16(v))
#define xlb_gen_hton32(v) ((__u32)__builtin_bswap32(v))
#else
#define xlb_gen_hton16(v) ((__u16)(v))
#define xlb_gen_hton32(v) ((__u32)(v))
#endif

/* The splitmix64 finaliser: spreads consecutive sequence numbers over the flows. */
static __always_inline __u64 xlb_gen_mix(__u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* RFC 1624, eqn. 3: add the change of one 16-bit word from @old to @new to the sum ~HC. */
static __always_inline __u32 xlb_gen_csum_acc(__u32 sum, __u16 old, __u16 new)
{
	return sum + (__u16)~old + new;
}

static __always_inline __u16 xlb_gen_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/*
 * xlb_gen_flow_of() - the values of frame @seq. The template holds flow 0 (address addr_base,
 * port port_base) with its checksums; every other flow is that frame with the address word
 * and the port replaced and both checksums updated incrementally, never recomputed over the
 * frame. A random flow comes from the mixed sequence number by multiply-shift (no division),
 * so "random" is reproducible: the same run sends the same frames in the same order.
 */
static __always_inline void xlb_gen_flow_of(const struct xlb_gen_cfg *c, __u64 seq,
					    struct xlb_gen_flow *out)
{
	__u32 f, a, a0, p, p0, isum, lsum;
	__u16 ah, al, ah0, al0, pn, pn0;

	if (c->random)
		f = (__u32)(((xlb_gen_mix(seq) >> 32) * c->flows) >> 32);
	else
		f = (__u32)(seq % c->flows);
	p0 = c->port_base;
	p = p0 + f % c->nports;
	a0 = c->addr_base;
	a = a0 + (f / c->nports) % c->naddrs;

	/* memory-order 16-bit words of the network-order values */
	ah0 = xlb_gen_hton16(a0 >> 16);
	al0 = xlb_gen_hton16(a0 & 0xffff);
	ah = xlb_gen_hton16(a >> 16);
	al = xlb_gen_hton16(a & 0xffff);
	pn0 = xlb_gen_hton16(p0);
	pn = xlb_gen_hton16(p);

	out->addr = xlb_gen_hton32(a);
	out->port = pn;
	out->ip_csum = 0;
	if (c->ip_csum_off) {
		isum = (__u16)~c->ip_csum0;
		isum = xlb_gen_csum_acc(isum, ah0, ah);
		isum = xlb_gen_csum_acc(isum, al0, al);
		out->ip_csum = xlb_gen_csum_fold(isum);
	}
	lsum = (__u16)~c->l4_csum0;
	lsum = xlb_gen_csum_acc(lsum, ah0, ah);
	lsum = xlb_gen_csum_acc(lsum, al0, al);
	lsum = xlb_gen_csum_acc(lsum, pn0, pn);
	out->l4_csum = xlb_gen_csum_fold(lsum);
	if (c->udp && !out->l4_csum)
		out->l4_csum = 0xffff;
}

#if !defined(__bpf__) && !defined(__BPF__)
_Static_assert(sizeof(struct xlb_gen_cfg) == 40 + XLB_GEN_TMPL_LEN, "xlb_gen_cfg layout");
#endif

#endif /* XLB_GEN_H */
