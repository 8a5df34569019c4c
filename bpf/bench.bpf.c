// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Benchmark wrapper: restores the frame each BPF_PROG_TEST_RUN iteration, then tail-calls the target. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/*
 * BPF_PROG_TEST_RUN with repeat hands every iteration the frame the previous one left: an
 * encapsulating program would see its own output grow. bench_wrapper puts the data pointer and
 * the bytes back, optionally writes a fresh 32-bit value (a new 5-tuple per iteration), and
 * tail-calls bench_jmp[0]: the balancer, or bench_trivial for the floor measured the same way.
 */
#define BENCH_LEN 128	/* every benchmark frame is exactly this long */

/* The frame to restore and where to write the per-iteration value. */
struct bench_frame {
	__u32 vary_off;		/* offset of a 32-bit field to overwrite; 0 = none */
	__u32 fix_off;		/* offset of a 16-bit field (the IPv4 ID) rewritten so that
				 * the IPv4 header checksum still verifies; 0 = none */
	__u64 bytes[BENCH_LEN / 8];
};

/* The one frame template, written by tools/bench/bench_datapath. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_frame);
} bench_frame SEC(".maps");

/* Slot 0: the program under measurement. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_jmp SEC(".maps");

__u32 bench_seq;	/* per-iteration value for the new-flow path */

SEC("xdp")
int bench_wrapper(struct xdp_md *ctx)
{
	struct bench_frame *t;
	__u32 zero = 0, off;
	void *data, *end;
	int delta;

	t = bpf_map_lookup_elem(&bench_frame, &zero);
	if (!t)
		return XDP_ABORTED;
	delta = (int)(ctx->data_end - ctx->data) - BENCH_LEN;
	if (bpf_xdp_adjust_head(ctx, delta))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + BENCH_LEN > end)
		return XDP_ABORTED;
#pragma unroll
	for (int i = 0; i < BENCH_LEN / 8; i++)
		((__u64 *)data)[i] = t->bytes[i];
	off = t->vary_off;
	if (off && off <= BENCH_LEN - 4) {
		__u32 *v = data + off;

		if ((void *)(v + 1) > end)
			return XDP_ABORTED;
		*v = ++bench_seq;
		if (t->fix_off && t->fix_off <= BENCH_LEN - 2 && off <= BENCH_LEN - 4) {
			__u16 *fix = data + t->fix_off;
			__u32 was, now = *v, sum;

			if ((void *)(fix + 1) > end)
				return XDP_ABORTED;
			/* ones' complement: the field takes what the 32-bit write changed */
			was = *(__u32 *)((__u8 *)t->bytes + off);
			sum = (was & 0xffff) + (was >> 16) +
			      *(__u16 *)((__u8 *)t->bytes + t->fix_off) + (~now & 0xffff) +
			      (~now >> 16);
			sum = (sum & 0xffff) + (sum >> 16);
			sum = (sum & 0xffff) + (sum >> 16);
			*fix = (__u16)sum;
		}
	}
	bpf_tail_call(ctx, &bench_jmp, 0);
	return XDP_ABORTED;
}

/* The floor: a program that does nothing but return. */
SEC("xdp")
int bench_trivial(struct xdp_md *ctx)
{
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
