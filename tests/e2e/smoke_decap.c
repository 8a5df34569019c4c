// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* smoke_decap: fixture cases of the backend decapsulation program through BPF_PROG_TEST_RUN. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <netinet/in.h>

#include "xlb.h"
#include "xlb_decap.h"
#include "decap.skel.h"

/*
 * Each case is an input frame, the outcome counter it must bump and, when the program strips
 * a header, the exact expected output: the original Ethernet addresses with the inner
 * Ethernet type, followed by the inner packet byte for byte. Every other frame must come out
 * unmodified. Prints one TAP line per case ("ok - name" / "not ok - name # why"); the shell
 * test numbers them.
 */

#define GUE_PORT 6080

struct frame {
	unsigned char b[512];
	size_t len;
};

static const unsigned char dmac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const unsigned char smac[6] = { 0x02, 0, 0, 0, 0, 0x02 };

static void put(struct frame *f, const void *p, size_t n)
{
	memcpy(f->b + f->len, p, n);
	f->len += n;
}

static void eth(struct frame *f, __u16 type)
{
	__be16 t = htons(type);

	f->len = 0;
	put(f, dmac, 6);
	put(f, smac, 6);
	put(f, &t, 2);
}

/* the Internet checksum of @n bytes, as a host-order value (store it with htons) */
static __u16 csum(const unsigned char *p, size_t n)
{
	__u32 s = 0;

	for (size_t i = 0; i < n; i += 2)
		s += (__u32)p[i] << 8 | (i + 1 < n ? p[i + 1] : 0);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s & 0xffff;
}

static __u8 next_tos;	/* TOS / traffic class of the next header built, then reset */

/* an IPv4 header of @payload bytes, @opt_words of NOP options */
static void ip4(struct frame *f, __u8 proto, const char *src, const char *dst, size_t payload,
		int opt_words, __u16 frag)
{
	unsigned char h[60];
	struct iphdr ip = {};
	size_t hl = 20 + 4 * opt_words;
	__be16 check;

	ip.version = 4;
	ip.ihl = hl / 4;
	ip.tos = next_tos;
	next_tos = 0;
	ip.tot_len = htons(hl + payload);
	ip.frag_off = htons(frag);
	ip.ttl = 64;
	ip.protocol = proto;
	inet_pton(AF_INET, src, &ip.saddr);
	inet_pton(AF_INET, dst, &ip.daddr);
	memcpy(h, &ip, sizeof(ip));
	memset(h + 20, 1, hl - 20);	/* NOP options */
	check = htons(csum(h, hl));
	memcpy(h + 10, &check, 2);
	put(f, h, hl);
}

static void ip6(struct frame *f, __u8 nexthdr, const char *src, const char *dst, size_t payload)
{
	struct ipv6hdr ip = {};

	ip.version = 6;
	ip.priority = next_tos >> 4;
	ip.flow_lbl[0] = (next_tos & 0xf) << 4;
	next_tos = 0;
	ip.payload_len = htons(payload);
	ip.nexthdr = nexthdr;
	ip.hop_limit = 64;
	inet_pton(AF_INET6, src, &ip.saddr);
	inet_pton(AF_INET6, dst, &ip.daddr);
	put(f, &ip, sizeof(ip));
}

static void udp(struct frame *f, __u16 dport, size_t payload)
{
	struct udphdr u = { .source = htons(40000), .dest = htons(dport),
			    .len = htons(sizeof(u) + payload) };

	put(f, &u, sizeof(u));
}

/* The inner packets: a TCP SYN-sized v4 packet and a v6 one, to the VIPs. */
static struct frame inner4, inner6;

static void make_inner(void)
{
	static const unsigned char l4[20] = { 0x30, 0x39, 0, 80, 1, 2, 3, 4, 0, 0, 0, 0, 0x50, 0x02,
					      0xfa, 0xf0, 0x12, 0x34, 0, 0 };

	inner4.len = 0;
	ip4(&inner4, IPPROTO_TCP, "198.18.0.1", "198.18.0.10", sizeof(l4), 0, 0);
	put(&inner4, l4, sizeof(l4));
	inner6.len = 0;
	ip6(&inner6, IPPROTO_TCP, "2001:db8::1", "2001:db8::10", sizeof(l4));
	put(&inner6, l4, sizeof(l4));
}

static int failures;
static struct decap_bpf *skel;

static void counters(__u64 out[XLB_DECAP__MAX])
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(skel->maps.xlb_decap_stats);
	struct xlb_decap_counters v[ncpu > 0 ? ncpu : 1];

	for (__u32 k = 0; k < XLB_DECAP__MAX; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, v))
			continue;
		for (int i = 0; i < ncpu; i++)
			out[k] += v[i].packets;
	}
}

/* run_case - @expect NULL: the frame must come out unmodified */
static void run_case(const char *name, const struct frame *in, enum xlb_decap_outcome outcome,
		     const struct frame *expect)
{
	static const char *const names[] = XLB_DECAP_NAMES;
	unsigned char out[sizeof(in->b) + 256];
	__u64 before[XLB_DECAP__MAX], after[XLB_DECAP__MAX];
	const struct frame *want = expect ? expect : in;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->b, .data_size_in = in->len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
	char why[200] = "";
	int err;

	counters(before);
	err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xlb_decap), &o);
	counters(after);
	if (err) {
		snprintf(why, sizeof(why), "test run: %s", strerror(errno));
	} else if (o.retval != XDP_PASS) {
		snprintf(why, sizeof(why), "verdict %u, want XDP_PASS", o.retval);
	} else if (o.data_size_out != want->len) {
		snprintf(why, sizeof(why), "output %u bytes, want %zu", o.data_size_out, want->len);
	} else if (memcmp(out, want->b, want->len)) {
		size_t i = 0;

		while (out[i] == want->b[i])
			i++;
		snprintf(why, sizeof(why), "byte %zu is 0x%02x, want 0x%02x", i, out[i], want->b[i]);
	} else {
		for (int k = 0; k < XLB_DECAP__MAX; k++) {
			__u64 d = after[k] - before[k];

			if (d != (k == (int)outcome)) {
				snprintf(why, sizeof(why), "counter %s went up by %llu", names[k],
					 (unsigned long long)d);
				break;
			}
		}
	}
	if (*why) {
		failures++;
		printf("not ok - decap fixture: %s # %s\n", name, why);
	} else {
		printf("ok - decap fixture: %s\n", name);
	}
}

/* expected output: the input's MAC addresses, @type, then @inner */
static void stripped(struct frame *f, __u16 type, const struct frame *inner)
{
	eth(f, type);
	put(f, inner->b, inner->len);
}

int main(void)
{
	struct frame in, want;
	int err;

	libbpf_set_print(NULL);
	skel = decap_bpf__open();
	if (!skel) {
		printf("not ok - decap fixture: open the object # %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->gue_port = GUE_PORT;
	err = decap_bpf__load(skel);
	if (err) {
		printf("not ok - decap fixture: load the object # %s\n", strerror(-err));
		decap_bpf__destroy(skel);
		return 1;
	}
	make_inner();

	eth(&in, ETH_P_IP);
	ip4(&in, IPPROTO_IPIP, "198.18.0.5", "198.18.1.1", inner4.len, 0, 0);
	put(&in, inner4.b, inner4.len);
	stripped(&want, ETH_P_IP, &inner4);
	run_case("IPv4 in IPv4 stripped", &in, XLB_DECAP_OK_4IN4, &want);

	eth(&in, ETH_P_IP);
	ip4(&in, IPPROTO_IPIP, "198.18.0.5", "198.18.1.1", inner4.len, 2, 0);
	put(&in, inner4.b, inner4.len);
	run_case("IPv4 in IPv4 with outer options stripped", &in, XLB_DECAP_OK_4IN4, &want);

	eth(&in, ETH_P_IP);
	ip4(&in, IPPROTO_IPV6, "198.18.0.5", "198.18.1.1", inner6.len, 0, 0);
	put(&in, inner6.b, inner6.len);
	stripped(&want, ETH_P_IPV6, &inner6);
	run_case("IPv6 in IPv4 stripped, Ethernet type IPv6", &in, XLB_DECAP_OK_6IN4, &want);

	eth(&in, ETH_P_IPV6);
	ip6(&in, IPPROTO_IPV6, "2001:db8::5", "2001:db8:1::1", inner6.len);
	put(&in, inner6.b, inner6.len);
	run_case("IPv6 in IPv6 stripped", &in, XLB_DECAP_OK_6IN6, &want);

	eth(&in, ETH_P_IPV6);
	ip6(&in, IPPROTO_IPIP, "2001:db8::5", "2001:db8:1::1", inner4.len);
	put(&in, inner4.b, inner4.len);
	stripped(&want, ETH_P_IP, &inner4);
	run_case("IPv4 in IPv6 stripped, Ethernet type IPv4", &in, XLB_DECAP_OK_4IN6, &want);

	eth(&in, ETH_P_IP);
	ip4(&in, IPPROTO_UDP, "198.18.0.5", "198.18.1.1", 8 + inner4.len, 0, 0);
	udp(&in, GUE_PORT, inner4.len);
	put(&in, inner4.b, inner4.len);
	run_case("GUE over IPv4 (inner IPv4) stripped", &in, XLB_DECAP_OK_GUE4, &want);

	eth(&in, ETH_P_IPV6);
	ip6(&in, IPPROTO_UDP, "2001:db8::5", "2001:db8:1::1", 8 + inner6.len);
	udp(&in, GUE_PORT, inner6.len);
	put(&in, inner6.b, inner6.len);
	stripped(&want, ETH_P_IPV6, &inner6);
	run_case("GUE over IPv6 (inner IPv6) stripped", &in, XLB_DECAP_OK_GUE6, &want);

	/* ECN (RFC 6040): outer CE is copied to an ECN-capable inner packet, not to others. */
	eth(&in, ETH_P_IP);
	next_tos = 0x03;	/* outer CE */
	ip4(&in, IPPROTO_IPIP, "198.18.0.5", "198.18.1.1", inner4.len, 0, 0);
	put(&in, inner4.b, inner4.len);
	{
		struct frame hdr = { .len = 0 };

		next_tos = 0x02;	/* the inner header with ECT(0) and its right checksum */
		ip4(&hdr, IPPROTO_TCP, "198.18.0.1", "198.18.0.10", 20, 0, 0);
		memcpy(in.b + 14 + 20, hdr.b, 20);
	}
	eth(&want, ETH_P_IP);
	next_tos = 0x03;		/* expected: CE, with a freshly computed checksum */
	ip4(&want, IPPROTO_TCP, "198.18.0.1", "198.18.0.10", 20, 0, 0);
	put(&want, inner4.b + 20, 20);
	run_case("outer CE copied to an ECT inner IPv4 header, checksum updated", &in,
		 XLB_DECAP_OK_4IN4, &want);

	eth(&in, ETH_P_IP);
	next_tos = 0x03;
	ip4(&in, IPPROTO_IPIP, "198.18.0.5", "198.18.1.1", inner4.len, 0, 0);
	put(&in, inner4.b, inner4.len);
	stripped(&want, ETH_P_IP, &inner4);
	run_case("outer CE not copied to a not-ECT inner header", &in, XLB_DECAP_OK_4IN4, &want);

	eth(&in, ETH_P_IPV6);
	next_tos = 0x03;
	ip6(&in, IPPROTO_IPV6, "2001:db8::5", "2001:db8:1::1", inner6.len);
	put(&in, inner6.b, inner6.len);
	in.b[14 + 40 + 1] |= 0x10;	/* inner traffic class ECT(1) */
	stripped(&want, ETH_P_IPV6, &inner6);
	want.b[14 + 1] |= 0x30;		/* becomes CE */
	run_case("outer CE copied to an ECT inner IPv6 header", &in, XLB_DECAP_OK_6IN6, &want);

	/* Everything below must pass unmodified. */
	eth(&in, ETH_P_IP);
	ip4(&in, IPPROTO_UDP, "198.18.0.5", "198.18.1.1", 8 + inner4.len, 0, 0);
	udp(&in, GUE_PORT + 1, inner4.len);
	put(&in, inner4.b, inner4.len);
	run_case("UDP to another port untouched", &in, XLB_DECAP_PASS_PLAIN, NULL);

	eth(&in, ETH_P_IP);
	ip4(&in, IPPROTO_TCP, "198.18.0.1", "198.18.1.1", 20, 0, 0);
	put(&in, inner4.b + 20, 20);
	run_case("plain TCP untouched", &in, XLB_DECAP_PASS_PLAIN, NULL);

	eth(&in, ETH_P_IP);
	ip4(&in, IPPROTO_IPIP, "198.18.0.5", "198.18.1.1", 10, 0, 0);
	put(&in, inner4.b, 10);
	run_case("IPIP with a truncated inner header untouched", &in, XLB_DECAP_PASS_MALFORMED,
		 NULL);

	eth(&in, ETH_P_IP);
	ip4(&in, IPPROTO_IPIP, "198.18.0.5", "198.18.1.1", inner6.len, 0, 0);
	put(&in, inner6.b, inner6.len);
	run_case("IPIP whose inner header is IPv6 untouched", &in, XLB_DECAP_PASS_MALFORMED, NULL);

	eth(&in, ETH_P_IP);
	ip4(&in, IPPROTO_UDP, "198.18.0.5", "198.18.1.1", 8 + 4, 0, 0);
	udp(&in, GUE_PORT, 4);
	put(&in, "\x45\0\0\0", 4);
	run_case("GUE with a truncated inner header untouched", &in, XLB_DECAP_PASS_MALFORMED,
		 NULL);

	eth(&in, ETH_P_IP);
	ip4(&in, IPPROTO_IPIP, "198.18.0.5", "198.18.1.1", inner4.len, 0, 0x2000);
	put(&in, inner4.b, inner4.len);
	run_case("outer IPv4 fragment untouched", &in, XLB_DECAP_PASS_FRAG, NULL);

	eth(&in, ETH_P_IP);
	ip4(&in, IPPROTO_IPIP, "198.18.0.5", "198.18.1.1", 0, 0, 0);
	in.len -= 4;
	run_case("truncated outer IPv4 header untouched", &in, XLB_DECAP_PASS_MALFORMED, NULL);

	eth(&in, ETH_P_ARP);
	put(&in, inner4.b, 28);
	run_case("ARP untouched", &in, XLB_DECAP_PASS_NOT_IP, NULL);

	decap_bpf__destroy(skel);
	return failures ? 1 : 0;
}
