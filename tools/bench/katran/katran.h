/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* bench_datapath's side-by-side run of xlb and Katran's XDP balancer (`make bench KATRAN=DIR`). */
#ifndef XLB_BENCH_KATRAN_H
#define XLB_BENCH_KATRAN_H

#include <linux/types.h>

struct xlb;

/* What bench_datapath lends the comparison: its balancer, wrapper and floor. */
struct katran_env {
	struct xlb *x;		/* xlb, set up by bench_datapath (VIPs 198.18.0.10, 2001:db8::10) */
	int xlb_fd;		/* xlb's program */
	int wrapper_fd;		/* bench_wrapper of bpf/bench.bpf.c */
	int jmp_fd;		/* its bench_jmp (slot 0: the program measured) */
	int frame_fd;		/* its bench_frame */
	int floor_fd;		/* bench_trivial: the floor */
	volatile __u32 *seq;	/* its bench_seq: the last per-packet source address word */
	/* bench_datapath's frame builder (ACK, sport..80, frame_len bytes); returns the offset of
	 * the source address's last word */
	__u32 (*frame)(__u8 *b, int family, const char *src, const char *dst, __u16 sport);
	__u32 frame_len;
	__u32 repeat;		/* packets per run */
	int rounds;
	const char *only;	/* BENCH_ONLY: a substring of the rows to run, or NULL */
};

/*
 * katran_bench() - load the Katran objects built under @dir (one per variant, see
 * tools/bench/katran/katran.c), fill their maps as Katran's KatranLb does, and print the
 * side-by-side table; every row's verdicts, output frames and counters are checked on both
 * sides. Returns 0, or -1 after a message on stderr.
 */
int katran_bench(const struct katran_env *env, const char *dir);

#endif /* XLB_BENCH_KATRAN_H */
