// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Nanoseconds per packet of each balancer path, beside a trivial XDP program, via BPF_PROG_TEST_RUN. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
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

/*
 * A TCP frame of exactly BENCH_LEN bytes; returns the offset of its source address's last word.
 * IPv4 @frag 1: the first fragment of a datagram (MF), 2: a later one (offset 1480), else DF.
 */
static __u32 frame(__u8 *b, int family, const char *src, const char *dst, __u16 sport, int frag)
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
		if (frag) {
			b[18] = 0x42; /* the datagram's ID */
			b[19] = 0x42;
			b[20] = frag == 1 ? 0x20 : 0x20 | (1480 / 8) >> 8;
			b[21] = frag == 1 ? 0 : (1480 / 8) & 0xff;
		} else {
			b[20] = 0x40; /* DF */
		}
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
	struct bench_bpf *sk;
	int wrapper_fd, jmp_fd, frame_fd;
	__u32 repeat;
};

/* frame() of a whole packet (no fragment): the builder lent to the Katran comparison */
static __u32 frame_whole(__u8 *b, int family, const char *src, const char *dst, __u16 sport)
{
	return frame(b, family, src, dst, sport, 0);
}

/*
 * Average ns per iteration of the wrapper tail-calling @target on @f (best of ROUNDS), each
 * round after one run of @target on @prime (if not NULL: the state a path needs, such as the
 * record a later fragment follows); -1 if a run failed or ended with another verdict than
 * @verdict (the path was not the one measured).
 */
static double measure(struct ctx *c, int target, const struct bench_frame *f,
		      const __u8 *prime, __u32 repeat, __u32 verdict)
{
	double best = 1e18;
	__u32 zero = 0;
	__u8 out[BENCH_LEN + 128];

	if (bpf_map_update_elem(c->jmp_fd, &zero, &target, BPF_ANY) ||
	    bpf_map_update_elem(c->frame_fd, &zero, f, BPF_ANY))
		return -1;
	for (int r = 0; r < ROUNDS; r++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->bytes, .data_size_in = BENCH_LEN,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = repeat);
		LIBBPF_OPTS(bpf_test_run_opts, po, .data_in = prime, .data_size_in = BENCH_LEN,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

		if (prime && bpf_prog_test_run_opts(target, &po))
			return -1;
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
	static __u32 t4[XLB_MAGLEV_DEFAULT], t6[XLB_MAGLEV_DEFAULT], tl2[XLB_MAGLEV_DEFAULT],
		tall[XLB_MAGLEV_DEFAULT];
	struct xlb_vip_key k4 = { .port = htons(80), .proto = 6, .family = XLB_AF_INET };
	struct xlb_vip_key k6 = { .port = htons(80), .proto = 6, .family = XLB_AF_INET6 };
	struct xlb_vip v4 = { .id = 1, .mode = XLB_MODE_IPIP };
	struct xlb_vip v6 = { .id = 2, .mode = XLB_MODE_IPIP };
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
		b4.vip_id = 4;
		err |= xlb_backend__set(x, 300 + i, &b4);
	}
	for (__u32 i = 0; i < XLB_MAGLEV_DEFAULT; i++) {
		t4[i] = 1 + i % NBACKENDS;
		t6[i] = 101 + i % NBACKENDS;
		tl2[i] = 201 + i % NBACKENDS;
		tall[i] = 301 + i % NBACKENDS;
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
	/* an all-ports VIP (port 0) on an address of its own: no port VIP beside it */
	inet_pton(AF_INET, "198.18.0.12", k4.addr);
	k4.port = 0;
	v4.id = 4;
	v4.mode = XLB_MODE_IPIP;
	err |= xlb_vip__set(x, &k4, &v4);
	err |= xlb_vip__set_table(x, 4, tall, XLB_MAGLEV_DEFAULT);
	return err;
}

/*
 * The decision monitor (xlb monitor) on the established v4 path: off (the switch alone), on with
 * every packet written to the ring and drained by a reader on another CPU, on 1 in 1000, and on
 * with a filter no packet matches. Kept apart from the table of paths above.
 */
struct mon_reader {
	struct ring_buffer *rb;
	volatile int stop;
};

static int mon_drop(void *ctx, void *data, size_t len)
{
	(void)ctx, (void)data, (void)len;
	return 0;
}

static void *mon_read(void *arg)
{
	struct mon_reader *r = arg;

	while (!r->stop) {	/* as xlbd: woken when the ring fills up, else every 20 ms */
		ring_buffer__poll(r->rb, 20);
		ring_buffer__consume(r->rb);
	}
	return NULL;
}

static int bench_monitor(struct ctx *c, struct xlb *x, int xlb_fd, int triv_fd, const char *only)
{
	static const struct {
		const char *name;
		__u32 on, sample;
		bool miss;
	} rows[] = {
		{ "established v4, monitor off", 0, 0, false },
		{ "established v4, monitor 1/1 + reader", 1, 1, false },
		{ "established v4, monitor 1/1000", 1, 1000, false },
		{ "established v4, monitor, no match", 1, 1, true },
	};
	struct xlb_mon_cfg off = { .vip_id = XLB_MON_ANY_VIP };
	struct mon_reader r = { .rb = ring_buffer__new(xlb_monitor__ring_fd(x), mon_drop, NULL,
						       NULL) };
	struct bench_frame f = {}, triv_f;
	struct xlb_config cfg;
	int cpu = sched_getcpu(), err = -1;
	pthread_t th;
	cpu_set_t cpus;

	if (!r.rb || xlb__config_get(x, &cfg))
		return -1;
	cfg.flood_limit = 0;	/* the flow is recorded on its first packet */
	if (xlb__config_set(x, &cfg) || pthread_create(&th, NULL, mon_read, &r)) {
		ring_buffer__free(r.rb);
		return -1;
	}
	CPU_ZERO(&cpus);	/* the reader beside the measured CPU, as xlbd would be */
	CPU_SET(cpu > 0 ? 0 : 1, &cpus);
	pthread_setaffinity_np(th, sizeof(cpus), &cpus);
	frame(f.bytes, 4, "198.18.5.1", "198.18.0.10", 40000, 0);
	triv_f = f;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct xlb_mon_cfg m = { .on = rows[i].on, .sample = rows[i].sample,
					 .vip_id = XLB_MON_ANY_VIP };
		struct xlb_mon_counters c0, c1;
		double floor, ns;
		__u64 out;

		if (only && !strstr(rows[i].name, only))
			continue;
		if (rows[i].miss) {
			m.family = XLB_AF_INET;
			inet_pton(AF_INET, "198.18.99.99", m.addr);
		}
		if (xlb_monitor__set(x, &m) || xlb_monitor__counters(x, &c0))
			goto out;
		floor = measure(c, triv_fd, &triv_f, NULL, c->repeat, XDP_TX);
		ns = measure(c, xlb_fd, &f, NULL, c->repeat, XDP_TX);
		if (floor < 0 || ns < 0 || xlb_monitor__counters(x, &c1))
			goto out;
		printf("%-34s %9.1f %9.1f %6.2fx %9.1f\n", rows[i].name, ns, floor, ns / floor,
		       ns - floor);
		out = c1.emitted - c0.emitted + c1.lost - c0.lost;
		if (out)	/* indented: not a row for bench_json.py */
			printf("    %llu events, %.1f%% lost (ring full)\n",
			       (unsigned long long)out, 100.0 * (c1.lost - c0.lost) / out);
	}
	err = 0;
out:
	xlb_monitor__set(x, &off);
	r.stop = 1;
	pthread_join(th, NULL);
	ring_buffer__free(r.rb);
	return err;
}

/* BENCH_ROUNDS=N (1-64): the Katran table's rounds, for steadier medians; else ROUNDS */
static int bench_rounds(void)
{
	const char *v = getenv("BENCH_ROUNDS");
	int n = v ? atoi(v) : ROUNDS;

	return n < 1 ? 1 : n > 64 ? 64 : n;
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
		int frag;	/* 1: first fragment of an established flow, 2: a later one */
		int syn;	/* a TCP SYN (a connection's first packet), else an ACK */
	} paths[] = {
		{ "non-VIP pass v4", 4, "198.18.5.1", "198.18.0.99", 0 },
		{ "non-VIP pass v6", 6, "2001:db8:5::1", "2001:db8::99", 0 },
		{ "established v4 (flow hit)", 4, "198.18.5.1", "198.18.0.10", 0 },
		{ "established v6 (flow hit)", 6, "2001:db8:5::1", "2001:db8::10", 0 },
		{ "established IPv4, all-ports VIP", 4, "198.18.5.1", "198.18.0.12", 0 },
		{ "new flow v4 (miss+maglev+insert)", 4, "198.18.5.1", "198.18.0.10", 1 },
		{ "new flow v6 (miss+maglev+insert)", 6, "2001:db8:5::1", "2001:db8::10", 1 },
		{ "new flow v4 SYN (miss+maglev+insert)", 4, "198.18.7.1", "198.18.0.10", 1, 0, 0,
		  1 },
		{ "new flow v6 SYN (miss+maglev+insert)", 6, "2001:db8:7::1", "2001:db8::10", 1, 0,
		  0, 1 },
		{ "new flow v4, flood guard (no ins.)", 4, "198.18.6.1", "198.18.0.10", 1, 1 },
		{ "first fragment v4 (flow hit+record)", 4, "198.18.5.1", "198.18.0.10", 0, 0, 1 },
		{ "later fragment v4 (follows record)", 4, "198.18.5.1", "198.18.0.10", 0, 0, 2 },
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
	c.sk = bench_bpf__open_and_load();
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
		__u32 off = frame(f.bytes, paths[i].family, paths[i].src, paths[i].dst, 40000,
				  paths[i].frag);
		const char *only = getenv("BENCH_ONLY");
		/* a later fragment's round must end within the record's lifetime (1 s) */
		__u32 repeat = paths[i].frag == 2 ? c.repeat / 4 : c.repeat;
		__u8 prime[BENCH_LEN];
		double floor, ns;

		if (only && !strstr(paths[i].name, only))
			continue;
		if (paths[i].syn)
			f.bytes[14 + (paths[i].family == 4 ? 20 : 40) + 13] = 0x02;
		/* the flow a first fragment belongs to; the first fragment a later one follows */
		if (paths[i].frag)
			frame(prime, paths[i].family, paths[i].src, paths[i].dst, 40000,
			      paths[i].frag - 1);
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
		floor = measure(&c, triv_fd, &triv_f, NULL, repeat, XDP_TX);
		/* established paths: the first round records the flow */
		ns = measure(&c, xlb_fd, &f, paths[i].frag ? prime : NULL, repeat,
			     strstr(paths[i].name, "non-VIP") ? XDP_PASS : XDP_TX);
		if (floor < 0 || ns < 0) {
			fprintf(stderr, "bench_datapath: test run failed for %s\n", paths[i].name);
			goto out;
		}
		printf("%-34s %9.1f %9.1f %6.2fx %9.1f\n", paths[i].name, ns, floor, ns / floor,
		       ns - floor);
	}
	printf("\nthe decision monitor (xlb monitor), same frame as established v4:\n");
	if (bench_monitor(&c, x, xlb_fd, triv_fd, getenv("BENCH_ONLY"))) {
		fprintf(stderr, "bench_datapath: the monitor rows failed\n");
		goto out;
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

			frame(f.bytes, 4, "198.18.5.1", raw[i].dst, 40000, 0);
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
			.frame = frame_whole, .frame_len = BENCH_LEN, .repeat = c.repeat,
			/* BENCH_ROUNDS: more rounds for steadier medians on a noisy machine (<= 64) */
			.rounds = bench_rounds(),
			.only = getenv("BENCH_ONLY"),
		};

		if (katran_bench(&env, getenv("BENCH_KATRAN")))
			goto out;
	}
	rc = 0;
out:
	bench_bpf__destroy(c.sk);
	xlb__close(x, true);
	return rc;
}
