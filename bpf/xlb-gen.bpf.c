// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlb-gen's XDP program: makes each live frame the next one of its flow sequence, then XDP_TX. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "xlb_gen.h"

/*
 * BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES runs this program on frames built from one
 * template and transmits what it returns XDP_TX for out of the interface given as ingress: the
 * kernel builds no packet and userspace touches none. Each frame gets the template's headers
 * back (see xlb_gen.h: recycled pages keep what a receiver wrote into them), then the source
 * address word, the source port and both checksums of its flow, all computed by the function
 * the AF_PACKET engine runs too.
 *
 * The kernel runs the program once per iteration of the call, and each iteration has a frame;
 * frames the program drops are not sent. That is how a thread stops at its count and how it
 * keeps a rate: an iteration that comes before the next frame is due drops its frame, so the
 * thread polls the clock inside the kernel (one CPU busy, as any polling generator) and the
 * frames leave evenly spaced, not in bursts.
 */

/*
 * What varies, and the template; written by xlb-gen before load. Not const: the compiler must
 * not fold the zero initialiser into the code.
 */
struct xlb_gen_cfg gen_cfg;

/* The sequence of each CPU's frames (see struct xlb_gen_state). */
struct xlb_gen_state gen_state[XLB_GEN_MAX_CPUS];

/* put16 - write @v at byte @off of the frame if both bytes are inside it; 0 or -1 */
static __always_inline int put16(void *data, void *end, __u32 off, __u16 v)
{
	__u16 *w;

	if (off > XLB_GEN_TMPL_LEN - 2)
		return -1;
	w = data + off;
	if ((void *)(w + 1) > end)
		return -1;
	*w = v;
	return 0;
}

SEC("xdp")
int xlb_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 cpu = bpf_get_smp_processor_id();
	struct xlb_gen_flow fl;
	struct xlb_gen_state *st;
	__u16 aw[2];
	__u64 *d64 = data;
	__u16 *d16 = data;

	if (cpu >= XLB_GEN_MAX_CPUS || data + XLB_GEN_MIN_LEN > end)
		return XDP_ABORTED;
	st = &gen_state[cpu];
	if (st->limit && st->sent >= st->limit)
		return XDP_DROP;
	if (st->gap_ns) {
		__u64 now = bpf_ktime_get_ns();

		if (!st->due)
			st->due = now;
		if (now < st->due)
			return XDP_DROP;
		st->due += st->gap_ns;
	}

#pragma unroll
	for (int i = 0; i < XLB_GEN_MIN_LEN / 8; i++)
		d64[i] = ((__u64 *)gen_cfg.tmpl)[i];
#pragma unroll
	for (int i = XLB_GEN_MIN_LEN / 2; i < XLB_GEN_TMPL_LEN / 2; i++) {
		if ((void *)(d16 + i + 1) > end)
			break;
		d16[i] = gen_cfg.tmpl[i];
	}

	xlb_gen_flow_of(&gen_cfg, st->seq, &fl);
	st->seq += st->stride;
	st->sent++;
	__builtin_memcpy(aw, &fl.addr, sizeof(aw));	/* the address word's bytes in order */

	if (put16(data, end, gen_cfg.addr_off, aw[0]) ||
	    put16(data, end, gen_cfg.addr_off + 2, aw[1]) ||
	    put16(data, end, gen_cfg.port_off, fl.port) ||
	    put16(data, end, gen_cfg.l4_csum_off, fl.l4_csum))
		return XDP_ABORTED;
	if (gen_cfg.ip_csum_off && put16(data, end, gen_cfg.ip_csum_off, fl.ip_csum))
		return XDP_ABORTED;
	return XDP_TX;
}

/*
 * Sends nothing: xlb-gen runs it once in live-frames mode to learn whether the kernel allows
 * that mode before it chooses an engine.
 */
SEC("xdp")
int xlb_gen_probe(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
