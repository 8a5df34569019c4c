/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xlb-gen internals: what a run sends (struct gen_spec) and the frame and interface helpers. */
#ifndef XLB_GEN_TOOL_H
#define XLB_GEN_TOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>

#include "xlb_gen.h"

enum gen_proto {
	GEN_UDP = 0,
	GEN_TCP_SYN,
	GEN_TCP_ACK,
};

/* The frames of a run, as the options gave them; gen_template() turns it into bytes. */
struct gen_spec {
	int family;		/* 4 or 6 */
	enum gen_proto proto;
	__u8 dst_mac[6], src_mac[6];
	__be32 src[4], dst[4];	/* IPv4 in [0] */
	__u32 naddrs;		/* source addresses from src: the last 32-bit word counts up */
	__u16 sport, dport;	/* host order; sport is the first of nports */
	__u32 nports;
	__u32 flows;
	bool random;
	__u32 size;		/* frame length, Ethernet header included, FCS excluded */
};

/* gen_hdr_len() - bytes of Ethernet, IP and L4 headers of @s: the smallest frame it allows. */
__u32 gen_hdr_len(const struct gen_spec *s);

/*
 * gen_template() - write the frame of flow 0 (@s->size bytes) into @frame, checksums included,
 * and fill @cfg with what varies per flow and the template's first XLB_GEN_TMPL_LEN bytes.
 */
void gen_template(const struct gen_spec *s, __u8 *frame, struct xlb_gen_cfg *cfg);

/* gen_frame() - turn @frame (a copy of the template) into the frame of sequence number @seq. */
void gen_frame(const struct xlb_gen_cfg *cfg, __u8 *frame, __u64 seq);

/* The interface's MAC address; 0 or -errno. */
int gen_if_mac(const char *ifname, __u8 mac[6]);
/* The first address of @family on @ifname (a global one for IPv6); 0 or -ENOENT. */
int gen_if_addr(const char *ifname, int family, __be32 addr[4]);
/*
 * gen_neigh_mac() - the MAC of the next hop towards @dst out of @ifindex, from the neighbour
 * table: the gateway of the route to @dst if it has one, else @dst itself. 0, -ENOENT when the
 * table holds no usable entry, or -errno.
 */
int gen_neigh_mac(int ifindex, int family, const __be32 dst[4], __u8 mac[6]);

#endif /* XLB_GEN_TOOL_H */
