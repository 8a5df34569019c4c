// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Nanoseconds per packet of each balancer path, beside a trivial XDP program, via BPF_PROG_TEST_RUN. */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.skel.h"
#include "katran/katran.h"
#include "xlb.h"

#define BENCH_LEN 128		/* as in bpf/bench.bpf.c */
#define NBACKENDS 16
#define ROUNDS 7

/* Keep in step with struct bench_frame in bpf/bench.bpf.c. */
struct bench_frame {
	__u32 vary_off;
	__u32 fix_off;
	__u8 bytes[BENCH_LEN] __attribute__((aligned(8)));
};

static const __u8 LB_MAC[6] = { 0x02, 0, 0, 0, 0, 0x01 }, CL_MAC[6] = { 0x02, 0, 0, 0, 0, 0x02 };

/* A TCP frame of exactly BENCH_LEN bytes; returns the offset of its source address's last word. */
static __u32 frame(__u8 *b, int family, const char *src, const char *dst, __u16 sport)
{
	__u32 l3 = 14, l4;

	memset(b, 0, BENCH_LEN);
	memcpy(b, LB_MAC, 6);
	memcpy(b + 6, CL_MAC, 6);
	if (family == 4) {
		b[12] = 0x08;
		b[14] = 0x45;
		b[16] = 0;
		b[17] = BENCH_LEN - 14;
		b[20] = 0x40; /* DF */
		b[22] = 64;
		b[23] = 6;
		inet_pton(AF_INET, src, b + 26);
		inet_pton(AF_INET, dst, b + 30);
		{	/* a valid header checksum: the balancer drops a VIP's packet without one */
			__u32 sum = 0;

			for (int i = 14; i < 34; i += 2)
				sum += (__u32)b[i] << 8 | b[i + 1];
			sum = (sum & 0xffff) + (sum >> 16);
			sum = (sum & 0xffff) + (sum >> 16);
			b[24] = (__u8)(~sum >> 8);
			b[25] = (__u8)~sum;
		}
		l4 = l3 + 20;
	} else {
		b[12] = 0x86;
		b[13] = 0xdd;
		b[14] = 0x60;
		b[19] = BENCH_LEN - 14 - 40;
		b[20] = 6;
		b[21] = 64;
		inet_pton(AF_INET6, src, b + 22);
		inet_pton(AF_INET6, dst, b + 38);
		l4 = l3 + 40;
	}
	b[l4] = sport >> 8;
	b[l4 + 1] = sport & 0xff;
	b[l4 + 3] = 80;
	b[l4 + 12] = 0x50;
	b[l4 + 13] = 0x10; /* ACK */
	return family == 4 ? 26 : 22 + 12;
}

struct ctx {
	struct bench *sk;
	int wrapper_fd, jmp_fd, frame_fd;
	__u32 repeat;
};

/*
 * Average ns per iteration of the wrapper tail-calling @target on @f (best of ROUNDS); -1 if a
 * run failed or ended with another verdict than @verdict (the path was not the one measured).
 */
static double measure(struct ctx *c, int target, const struct bench_frame *f, __u32 verdict)
{
	double best = 1e18;
	__u32 zero = 0;
	__u8 out[BENCH_LEN + 128];

	if (bpf_map_update_elem(c->jmp_fd, &zero, &target, BPF_ANY) ||
	    bpf_map_update_elem(c->frame_fd, &zero, f, BPF_ANY))
		return -1;
	for (int r = 0; r < ROUNDS; r++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->bytes, .data_size_in = BENCH_LEN,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = c->repeat);

		if (bpf_prog_test_run_opts(c->wrapper_fd, &o))
			return -1;
		if (o.retval != verdict) {
			fprintf(stderr, "bench_datapath: verdict %u, expected %u\n", o.retval,
				verdict);
			return -1;
		}
		if (o.duration < best)
			best = o.duration;
	}
	return best;
}

static int setup(struct xlb *x)
{
	struct xlb_config cfg = { .gue_port = 6080, .hash_seed = 0x5eed, .encap_src4_bits = 8 };
	static __u32 t4[XLB_MAGLEV_DEFAULT], t6[XLB_MAGLEV_DEFAULT], tl2[XLB_MAGLEV_DEFAULT];
	struct xlb_vip_key k4 = { .port = htons(80), .proto = 6, .family = XLB_AF_INET };
	struct xlb_vip_key k6 = { .port = htons(80), .proto = 6, .family = XLB_AF_INET6 };
	struct xlb_vip v4 = { .id = 1, .table_size = XLB_MAGLEV_DEFAULT, .mode = XLB_MODE_IPIP };
	struct xlb_vip v6 = { .id = 2, .table_size = XLB_MAGLEV_DEFAULT, .mode = XLB_MODE_IPIP };
	int err = 0;

	memcpy(cfg.nexthop_mac, "\x02\x00\x00\x00\x00\xfe", 6);
	inet_pton(AF_INET, "198.18.200.0", &cfg.encap_src4);
	inet_pton(AF_INET6, "2001:db8:ffff::", cfg.encap_src6);
	err |= xlb__config_set(x, &cfg);
	/* backends belong to one VIP each (ids 1.., 101.., 201..), as xlbd programs them */
	for (__u32 i = 1; i <= NBACKENDS; i++) {
		struct xlb_backend b4 = { .family = XLB_AF_INET, .flags = XLB_BE_F_USABLE,
					  .vip_id = 1 };
		struct xlb_backend b6 = { .family = XLB_AF_INET6, .flags = XLB_BE_F_USABLE,
					  .vip_id = 2 };
		char a[64];

		snprintf(a, sizeof(a), "198.18.1.%u", i);
		inet_pton(AF_INET, a, b4.addr);
		snprintf(a, sizeof(a), "2001:db8:1::%u", i);
		inet_pton(AF_INET6, a, b6.addr);
		err |= xlb_backend__set(x, i, &b4);
		err |= xlb_backend__set(x, 100 + i, &b6);
		b4.vip_id = 3;
		err |= xlb_backend__set(x, 200 + i, &b4);
	}
	for (__u32 i = 0; i < XLB_MAGLEV_DEFAULT; i++) {
		t4[i] = 1 + i % NBACKENDS;
		t6[i] = 101 + i % NBACKENDS;
		tl2[i] = 201 + i % NBACKENDS;
	}
	inet_pton(AF_INET, "198.18.0.10", k4.addr);
	inet_pton(AF_INET6, "2001:db8::10", k6.addr);
	err |= xlb_vip__set(x, &k4, &v4);
	err |= xlb_vip__set(x, &k6, &v6);
	err |= xlb_vip__set_table(x, 1, t4, XLB_MAGLEV_DEFAULT);
	/* an L2 DSR VIP: its frames keep their size, so the program can run without the wrapper */
	inet_pton(AF_INET, "198.18.0.11", k4.addr);
	v4.id = 3;
	v4.mode = XLB_MODE_L2;
	err |= xlb_vip__set(x, &k4, &v4);
	err |= xlb_vip__set_table(x, 3, tl2, XLB_MAGLEV_DEFAULT);
	err |= xlb_vip__set_table(x, 2, t6, XLB_MAGLEV_DEFAULT);
	return err;
}

int main(int argc, char **argv)
{
	struct xlb_open_opts opts = { .pin_dir = "" };
	struct bench_frame f = {}, triv_f;
	struct ctx c = { .repeat = 1000000 };
	int xlb_fd, triv_fd, rc = 1;
	struct xlb *x = NULL;
	cpu_set_t cpus;
	struct {
		const char *name;
		int family;
		const char *src, *dst;
		int vary;
		__u32 flood_limit;
	} paths[] = {
		{ "non-VIP pass v4", 4, "198.18.5.1", "198.18.0.99", 0 },
		{ "non-VIP pass v6", 6, "2001:db8:5::1", "2001:db8::99", 0 },
		{ "established v4 (flow hit)", 4, "198.18.5.1", "198.18.0.10", 0 },
		{ "established v6 (flow hit)", 6, "2001:db8:5::1", "2001:db8::10", 0 },
		{ "new flow v4 (miss+maglev+insert)", 4, "198.18.5.1", "198.18.0.10", 1 },
		{ "new flow v6 (miss+maglev+insert)", 6, "2001:db8:5::1", "2001:db8::10", 1 },
		{ "new flow v4, flood guard (no ins.)", 4, "198.18.6.1", "198.18.0.10", 1, 1 },
	};

	if (argc > 1)
		c.repeat = (__u32)strtoul(argv[1], NULL, 0);
	if (geteuid() != 0) {
		fprintf(stderr, "bench_datapath: needs root (BPF_PROG_TEST_RUN)\n");
		return 0;
	}
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);

	x = xlb__open(&opts);
	if (!x || setup(x)) {
		fprintf(stderr, "bench_datapath: cannot load/configure the balancer: %s\n",
			strerror(errno));
		goto out;
	}
	c.sk = bench__open_and_load();
	if (!c.sk) {
		fprintf(stderr, "bench_datapath: cannot load the wrapper: %s\n", strerror(errno));
		goto out;
	}
	c.wrapper_fd = bpf_program__fd(c.sk->progs.bench_wrapper);
	c.jmp_fd = bpf_map__fd(c.sk->maps.bench_jmp);
	c.frame_fd = bpf_map__fd(c.sk->maps.bench_frame);
	xlb_fd = xlb__prog_fd(x);
	triv_fd = bpf_program__fd(c.sk->progs.bench_trivial);

	printf("xlb datapath, BPF_PROG_TEST_RUN, %u iterations x best of %d, %d-byte frames,\n"
	       "each path and the floor (wrapper restoring the frame + tail call to a trivial "
	       "program) measured back to back\n\n",
	       c.repeat, ROUNDS, BENCH_LEN);
	printf("%-34s %9s %9s %7s %9s\n", "path", "ns/pkt", "floor ns", "ratio", "net ns");
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		__u32 off = frame(f.bytes, paths[i].family, paths[i].src, paths[i].dst, 40000);
		const char *only = getenv("BENCH_ONLY");
		double floor, ns;

		if (only && !strstr(paths[i].name, only))
			continue;
		f.vary_off = paths[i].vary ? off : 0;
		f.fix_off = paths[i].vary && paths[i].family == 4 ? 18 : 0; /* the IPv4 ID */
		{
			struct xlb_config cfg;

			if (xlb__config_get(x, &cfg))
				goto out;
			cfg.flood_limit = paths[i].flood_limit;
			if (xlb__config_set(x, &cfg))
				goto out;
		}
		triv_f = f;
		floor = measure(&c, triv_fd, &triv_f, XDP_TX);
		/* established paths: the first round records the flow */
		ns = measure(&c, xlb_fd, &f, strstr(paths[i].name, "non-VIP") ? XDP_PASS : XDP_TX);
		if (floor < 0 || ns < 0) {
			fprintf(stderr, "bench_datapath: test run failed for %s\n", paths[i].name);
			goto out;
		}
		printf("%-34s %9.1f %9.1f %6.2fx %9.1f\n", paths[i].name, ns, floor, ns / floor,
		       ns - floor);
	}
	/*
	 * For reference, programs alone (no wrapper) on frames they do not resize: the trivial
	 * program, a non-VIP frame, and an established flow of an L2 DSR VIP.
	 */
	printf("\nwithout the wrapper (frames that keep their size):\n");
	{
		struct {
			const char *name;
			int fd;
			const char *dst;
		} raw[] = {
			{ "trivial XDP program", triv_fd, "198.18.0.99" },
			{ "non-VIP pass v4", xlb_fd, "198.18.0.99" },
			{ "established v4, L2 DSR", xlb_fd, "198.18.0.11" },
		};

		for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f.bytes, .data_size_in = BENCH_LEN,
				    .repeat = c.repeat);
			double best = 1e18;

			frame(f.bytes, 4, "198.18.5.1", raw[i].dst, 40000);
			for (int r = 0; r < ROUNDS; r++)
				if (!bpf_prog_test_run_opts(raw[i].fd, &o) && o.duration < best)
					best = o.duration;
			printf("%-34s %9.1f\n", raw[i].name, best);
		}
	}
	{
		struct xlb_reason_counters rs[XLB_R__MAX];

		if (!xlb_stats__reasons(x, rs))
			printf("\n(counters: tx %llu, pass_not_vip %llu, flood_guard %llu, other drops "
			       "%llu)\n",
			       (unsigned long long)rs[XLB_R_TX].packets,
			       (unsigned long long)rs[XLB_R_PASS_NOT_VIP].packets,
			       (unsigned long long)rs[XLB_R_EV_FLOOD].packets,
			       (unsigned long long)(rs[XLB_R_DROP_MALFORMED].packets +
						    rs[XLB_R_DROP_NO_BACKEND].packets +
						    rs[XLB_R_DROP_ENCAP].packets +
						    rs[XLB_R_DROP_IP_CSUM].packets));
	}
	/* make bench KATRAN=DIR: Katran's balancer beside xlb (tools/bench/katran/) */
	if (getenv("BENCH_KATRAN") && *getenv("BENCH_KATRAN")) {
		struct katran_env env = {
			.x = x, .xlb_fd = xlb_fd, .wrapper_fd = c.wrapper_fd, .jmp_fd = c.jmp_fd,
			.frame_fd = c.frame_fd, .floor_fd = triv_fd, .seq = &c.sk->bss->bench_seq,
			.frame = frame, .frame_len = BENCH_LEN, .repeat = c.repeat, .rounds = ROUNDS,
			.only = getenv("BENCH_ONLY"),
		};

		if (katran_bench(&env, getenv("BENCH_KATRAN")))
			goto out;
	}
	rc = 0;
out:
	bench__destroy(c.sk);
	xlb__close(x, true);
	return rc;
}
