// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlb-gen: the frame template, per-frame variation in userspace, and the interface look-ups. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "gen.h"

#define ETH_HLEN 14
#define IPV4_HLEN 20
#define IPV6_HLEN 40
#define UDP_HLEN 8
#define TCP_HLEN 20

static __u32 l3_len(const struct gen_spec *s)
{
	return s->family == 4 ? IPV4_HLEN : IPV6_HLEN;
}

__u32 gen_hdr_len(const struct gen_spec *s)
{
	return ETH_HLEN + l3_len(s) + (s->proto == GEN_UDP ? UDP_HLEN : TCP_HLEN);
}

/* One's complement sum of @len bytes in memory order (the byte order of the words is moot). */
static __u32 sum16(const void *p, size_t len, __u32 sum)
{
	const __u8 *b = p;
	__u16 w;

	for (; len >= 2; b += 2, len -= 2) {
		memcpy(&w, b, 2);
		sum += w;
	}
	if (len) {
		w = 0;
		memcpy(&w, b, 1);
		sum += w;
	}
	return sum;
}

static void put_be16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

void gen_template(const struct gen_spec *s, __u8 *f, struct xlb_gen_cfg *cfg)
{
	__u32 l3 = ETH_HLEN, l4 = ETH_HLEN + l3_len(s), l4len = s->size - l4, sum;
	__u8 proto = s->proto == GEN_UDP ? IPPROTO_UDP : IPPROTO_TCP;
	__u16 csum;

	memset(f, 0, s->size);
	memset(cfg, 0, sizeof(*cfg));
	memcpy(f, s->dst_mac, 6);
	memcpy(f + 6, s->src_mac, 6);
	/* A payload that is not all zeros, so that a checksum over it means something. */
	for (__u32 i = gen_hdr_len(s); i < s->size; i++)
		f[i] = (__u8)i;

	if (s->family == 4) {
		put_be16(f + 12, 0x0800);
		f[l3] = 0x45;
		put_be16(f + l3 + 2, s->size - ETH_HLEN);
		put_be16(f + l3 + 6, 0x4000);	/* DF, as a datagram that may not be fragmented */
		f[l3 + 8] = 64;
		f[l3 + 9] = proto;
		memcpy(f + l3 + 12, s->src, 4);
		memcpy(f + l3 + 16, s->dst, 4);
		csum = xlb_gen_csum_fold(sum16(f + l3, IPV4_HLEN, 0));
		memcpy(f + l3 + 10, &csum, 2);
		cfg->ip_csum_off = l3 + 10;
		cfg->ip_csum0 = csum;
		cfg->addr_off = l3 + 12;
		sum = sum16(f + l3 + 12, 8, 0);	/* pseudo header: addresses, protocol, length */
	} else {
		put_be16(f + 12, 0x86dd);
		f[l3] = 0x60;
		put_be16(f + l3 + 4, l4len);
		f[l3 + 6] = proto;
		f[l3 + 7] = 64;
		memcpy(f + l3 + 8, s->src, 16);
		memcpy(f + l3 + 24, s->dst, 16);
		cfg->addr_off = l3 + 8 + 12;	/* the last word of the source address */
		sum = sum16(f + l3 + 8, 32, 0);
	}
	sum += htons(proto) + htons(l4len);

	put_be16(f + l4, s->sport);
	put_be16(f + l4 + 2, s->dport);
	cfg->port_off = l4;
	if (s->proto == GEN_UDP) {
		put_be16(f + l4 + 4, l4len);
		cfg->l4_csum_off = l4 + 6;
		cfg->udp = 1;
	} else {
		f[l4 + 7] = 1;				/* sequence number 1 */
		if (s->proto == GEN_TCP_ACK)
			f[l4 + 11] = 1;			/* acknowledgment number 1 */
		f[l4 + 12] = (TCP_HLEN / 4) << 4;
		f[l4 + 13] = s->proto == GEN_TCP_SYN ? 0x02 : 0x10;
		put_be16(f + l4 + 14, 65535);		/* window */
		cfg->l4_csum_off = l4 + 16;
	}
	csum = xlb_gen_csum_fold(sum16(f + l4, l4len, sum));
	if (s->proto == GEN_UDP && !csum)
		csum = 0xffff;
	memcpy(f + cfg->l4_csum_off, &csum, 2);
	cfg->l4_csum0 = csum;

	cfg->flows = s->flows;
	cfg->nports = s->nports;
	cfg->naddrs = s->naddrs;
	cfg->port_base = s->sport;
	cfg->addr_base = ntohl(s->family == 4 ? s->src[0] : s->src[3]);
	cfg->random = s->random ? XLB_GEN_RANDOM : XLB_GEN_SEQ;
	memcpy(cfg->tmpl, f, s->size < XLB_GEN_TMPL_LEN ? s->size : XLB_GEN_TMPL_LEN);
}

void gen_frame(const struct xlb_gen_cfg *cfg, __u8 *f, __u64 seq)
{
	struct xlb_gen_flow fl;

	/* What the XDP program does, in the same order (bpf/xlb-gen.bpf.c). */
	xlb_gen_flow_of(cfg, seq, &fl);
	memcpy(f + cfg->addr_off, &fl.addr, 4);
	memcpy(f + cfg->port_off, &fl.port, 2);
	memcpy(f + cfg->l4_csum_off, &fl.l4_csum, 2);
	if (cfg->ip_csum_off)
		memcpy(f + cfg->ip_csum_off, &fl.ip_csum, 2);
}

int gen_if_mac(const char *ifname, __u8 mac[6])
{
	struct ifreq ifr = {};
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return err;
}

int gen_if_addr(const char *ifname, int family, __be32 addr[4])
{
	struct ifaddrs *ifa, *i;
	int err = -ENOENT;

	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i && err; i = i->ifa_next) {
		if (!i->ifa_addr || strcmp(i->ifa_name, ifname))
			continue;
		if (family == 4 && i->ifa_addr->sa_family == AF_INET) {
			memset(addr, 0, 16);
			addr[0] = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
			err = 0;
		} else if (family == 6 && i->ifa_addr->sa_family == AF_INET6) {
			struct in6_addr *a = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;

			if (IN6_IS_ADDR_LINKLOCAL(a))
				continue;
			memcpy(addr, a, 16);
			err = 0;
		}
	}
	freeifaddrs(ifa);
	return err;
}

/* A netlink request and room for its answers. */
struct nl_req {
	struct nlmsghdr nh;
	union {
		struct ndmsg nd;
		struct rtmsg rt;
	};
	char attrs[64];
};

static int nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* The gateway of the route to @dst out of @ifindex into @gw; 0, -ENOENT when on-link, or -errno */
static int route_gateway(int fd, int ifindex, int family, const __be32 dst[4], __be32 gw[4])
{
	int alen = family == 4 ? 4 : 16, err = -ENOENT, len;
	struct nl_req req = {};
	struct rtattr *rta;
	char buf[8192];

	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = 1;
	req.rt.rtm_family = family == 4 ? AF_INET : AF_INET6;
	req.rt.rtm_dst_len = alen * 8;
	rta = (struct rtattr *)req.attrs;
	rta->rta_type = RTA_DST;
	rta->rta_len = RTA_LENGTH(alen);
	memcpy(RTA_DATA(rta), dst, alen);
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.rt)) + RTA_ALIGN(rta->rta_len);
	rta = (struct rtattr *)((char *)&req + req.nh.nlmsg_len);
	rta->rta_type = RTA_OIF;
	rta->rta_len = RTA_LENGTH(4);
	memcpy(RTA_DATA(rta), &ifindex, 4);
	req.nh.nlmsg_len += RTA_ALIGN(rta->rta_len);
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0)
		return -errno;
	len = recv(fd, buf, sizeof(buf), 0);
	if (len < 0)
		return -errno;
	for (struct nlmsghdr *nh = (void *)buf; NLMSG_OK(nh, (unsigned int)len);
	     nh = NLMSG_NEXT(nh, len)) {
		struct rtmsg *rt = NLMSG_DATA(nh);
		int alen2 = RTM_PAYLOAD(nh);

		if (nh->nlmsg_type == NLMSG_ERROR)
			return ((struct nlmsgerr *)NLMSG_DATA(nh))->error ?: -ENOENT;
		if (nh->nlmsg_type != RTM_NEWROUTE)
			continue;
		for (rta = RTM_RTA(rt); RTA_OK(rta, alen2); rta = RTA_NEXT(rta, alen2)) {
			if (rta->rta_type == RTA_GATEWAY &&
			    RTA_PAYLOAD(rta) == (unsigned int)alen) {
				memset(gw, 0, 16);
				memcpy(gw, RTA_DATA(rta), alen);
				err = 0;
			}
		}
	}
	return err;
}

/* The neighbour table entry of @addr on @ifindex, if it holds a usable MAC */
static int neigh_find(int fd, int ifindex, int family, const __be32 addr[4], __u8 mac[6])
{
	int alen = family == 4 ? 4 : 16, err = -ENOENT, len;
	__u16 usable = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT |
		       NUD_NOARP;
	struct nl_req req = {};
	bool done = false;
	char buf[16384];

	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.nd));
	req.nh.nlmsg_type = RTM_GETNEIGH;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = 2;
	req.nd.ndm_family = family == 4 ? AF_INET : AF_INET6;
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0)
		return -errno;
	while (!done) {
		len = recv(fd, buf, sizeof(buf), 0);
		if (len < 0)
			return -errno;
		for (struct nlmsghdr *nh = (void *)buf; NLMSG_OK(nh, (unsigned int)len);
		     nh = NLMSG_NEXT(nh, len)) {
			struct ndmsg *nd = NLMSG_DATA(nh);
			int alen2 = NLMSG_PAYLOAD(nh, sizeof(*nd));
			const void *lladdr = NULL, *dst = NULL;

			if (nh->nlmsg_type == NLMSG_DONE || nh->nlmsg_type == NLMSG_ERROR) {
				done = true;
				break;
			}
			if (nh->nlmsg_type != RTM_NEWNEIGH || nd->ndm_ifindex != ifindex ||
			    !(nd->ndm_state & usable))
				continue;
			for (struct rtattr *rta = (void *)((char *)nd + NLMSG_ALIGN(sizeof(*nd)));
			     RTA_OK(rta, alen2); rta = RTA_NEXT(rta, alen2)) {
				if (rta->rta_type == NDA_DST &&
				    RTA_PAYLOAD(rta) == (unsigned int)alen)
					dst = RTA_DATA(rta);
				else if (rta->rta_type == NDA_LLADDR && RTA_PAYLOAD(rta) == 6)
					lladdr = RTA_DATA(rta);
			}
			if (dst && lladdr && !memcmp(dst, addr, alen)) {
				memcpy(mac, lladdr, 6);
				err = 0;
			}
		}
	}
	return err;
}

int gen_neigh_mac(int ifindex, int family, const __be32 dst[4], __u8 mac[6])
{
	__be32 hop[4];
	int fd, err;

	fd = nl_open();
	if (fd < 0)
		return fd;
	memcpy(hop, dst, sizeof(hop));
	err = route_gateway(fd, ifindex, family, dst, hop);
	if (err && err != -ENOENT && err != -ENETUNREACH && err != -EHOSTUNREACH)
		goto out;
	err = neigh_find(fd, ifindex, family, hop, mac);
out:
	close(fd);
	return err;
}
